"""The graph model derived from the node and edge models: labels, properties, edges, indexes.

This is what ``persona schema`` prints, what the query layer whitelists, and what the DDL in
``graph/`` is rendered from. Nothing here is written by hand twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args, get_origin

from pydantic.fields import FieldInfo

from schema.edges import EDGE_MODELS, EdgeModel, Rel
from schema.nodes import MEMORY_LABEL, NODE_MODELS, MemoryKind, MemoryNode, NodeModel

__all__ = [
    "ALLOWED_LABELS",
    "ALLOWED_RELS",
    "FULLTEXT_INDEX",
    "GRAPH_MODEL",
    "IMAGE_VECTOR_INDEX",
    "VECTOR_INDEX",
    "IndexSpec",
    "PropertySpec",
]

VECTOR_INDEX = "memory_embedding"
IMAGE_VECTOR_INDEX = "turn_image_embedding"
FULLTEXT_INDEX = "memory_text"
#: properties declared as in-index filters on the vector index (Neo4j 2026.01+)
VECTOR_FILTER_PROPERTIES: tuple[str, ...] = ("user_id", "t", "kind")


@dataclass(frozen=True)
class PropertySpec:
    name: str
    type: str
    required: bool
    description: str | None


@dataclass(frozen=True)
class NodeSpec:
    label: str
    extra_labels: tuple[str, ...]
    doc: str
    properties: tuple[PropertySpec, ...]


@dataclass(frozen=True)
class EdgeSpec:
    type: str
    doc: str
    pairs: tuple[tuple[str, str], ...]
    properties: tuple[PropertySpec, ...]


@dataclass(frozen=True)
class IndexSpec:
    """A declarative index or constraint; ``graph`` renders it into DDL."""

    name: str
    kind: Literal["unique", "range", "fulltext", "vector"]
    label: str
    properties: tuple[str, ...]
    filters: tuple[str, ...] = ()  # vector: properties filtered inside the index (2026.01+)
    analyzer: str | None = None  # fulltext: Lucene analyzer
    image: bool = False  # vector: over image embeddings (dimension from the CLIP model)


def _type_name(annotation: object) -> str:
    origin = get_origin(annotation)
    if origin is None:
        return getattr(annotation, "__name__", str(annotation))
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is list:
        return f"list[{', '.join(_type_name(a) for a in args)}]"
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(annotation))
    names = [_type_name(a) for a in args]
    return " | ".join(names) + (" | None" if type(None) in get_args(annotation) else "")


def _props(fields: dict[str, FieldInfo], skip: set[str]) -> tuple[PropertySpec, ...]:
    return tuple(
        PropertySpec(
            name=name,
            type=_type_name(info.annotation),
            required=info.is_required(),
            description=info.description,
        )
        for name, info in fields.items()
        if name not in skip
    )


def _node_spec(model: type[NodeModel]) -> NodeSpec:
    extra = (MEMORY_LABEL,) if issubclass(model, MemoryNode) else ()
    props = _props(model.model_fields, skip=set())
    if issubclass(model, MemoryNode):
        props += (
            PropertySpec("kind", "str", True, f"memory kind: {model.kind.value}"),
            PropertySpec("tenant", "str", True, "full-text tenant token derived from user_id"),
            PropertySpec(
                "t_month",
                "str",
                True,
                "full-text token of t's UTC month (narrows a windowed full-text search)",
            ),
            PropertySpec(
                "t_offset",
                "int",
                True,
                "UTC offset (s) t was recorded in; times are stored in UTC",
            ),
        )
    return NodeSpec(model.label, extra, model.doc, props)


def _edge_spec(model: type[EdgeModel]) -> EdgeSpec:
    return EdgeSpec(
        model.type.value,
        model.doc,
        model.pairs,
        _props(model.model_fields, skip={"start_id", "end_id"}),
    )


def _indexes() -> tuple[IndexSpec, ...]:
    specs: list[IndexSpec] = []
    for model in NODE_MODELS:
        specs.append(IndexSpec(f"{model.label.lower()}_id", "unique", model.label, ("id",)))
        specs.append(IndexSpec(f"{model.label.lower()}_user", "range", model.label, ("user_id",)))
    specs += [
        IndexSpec("memory_id", "unique", MEMORY_LABEL, ("id",)),
        IndexSpec("memory_user_t", "range", MEMORY_LABEL, ("user_id", "t")),
        IndexSpec("memory_user_kind", "range", MEMORY_LABEL, ("user_id", "kind")),
        IndexSpec("session_user_start", "range", "Session", ("user_id", "start")),
        IndexSpec("turn_user_session", "range", "Turn", ("user_id", "session_id", "index")),
        IndexSpec("fact_user_slot", "range", "Fact", ("user_id", "slot")),
        IndexSpec("day_user_date", "range", "Day", ("user_id", "date")),
        IndexSpec("snapshot_user_step", "range", "PersonalitySnapshot", ("user_id", "step")),
        IndexSpec("entry_user_key", "range", "ProfileEntry", ("user_id", "key")),
        IndexSpec("topic_user_name", "range", "Topic", ("user_id", "name")),
        IndexSpec("entity_user_name", "range", "Entity", ("user_id", "name")),
        IndexSpec(
            FULLTEXT_INDEX,
            "fulltext",
            MEMORY_LABEL,
            ("text", "speaker", "keywords", "image_caption", "tenant", "t_month"),
            analyzer="english",
        ),
        IndexSpec(
            VECTOR_INDEX,
            "vector",
            MEMORY_LABEL,
            ("embedding",),
            filters=VECTOR_FILTER_PROPERTIES,
        ),
        IndexSpec(
            IMAGE_VECTOR_INDEX,
            "vector",
            "Turn",
            ("image_embedding",),
            filters=("user_id", "t"),
            image=True,
        ),
    ]
    return tuple(specs)


@dataclass(frozen=True)
class GraphModel:
    nodes: tuple[NodeSpec, ...]
    edges: tuple[EdgeSpec, ...]
    indexes: tuple[IndexSpec, ...]
    memory_kinds: tuple[str, ...]

    def node(self, label: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.label == label:
                return spec
        raise KeyError(label)


GRAPH_MODEL = GraphModel(
    nodes=tuple(_node_spec(m) for m in NODE_MODELS),
    edges=tuple(_edge_spec(m) for m in EDGE_MODELS),
    indexes=_indexes(),
    memory_kinds=tuple(k.value for k in MemoryKind),
)

ALLOWED_LABELS: frozenset[str] = frozenset(
    {spec.label for spec in GRAPH_MODEL.nodes} | {MEMORY_LABEL}
)
ALLOWED_RELS: frozenset[str] = frozenset(r.value for r in Rel)
