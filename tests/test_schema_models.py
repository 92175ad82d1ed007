"""Schema units: the models reject bad data, ids are stable, the derived graph model is
complete, and the query layer's identifier whitelist refuses anything outside the schema."""

from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, ValidationError

import schema.edges
import schema.nodes
from graph.cypher import label, prop, rel
from schema.edges import EDGE_MODELS, EdgeModel, Rel
from schema.errors import UnsafeIdentifier
from schema.model import ALLOWED_LABELS, ALLOWED_RELS, GRAPH_MODEL
from schema.nodes import (
    MEMORY_LABEL,
    NODE_MODELS,
    TRAITS,
    MemoryKind,
    MemoryNode,
    NodeModel,
    PersonalitySnapshot,
    make_id,
)
from schema.protocols import Link, Supersession, WriteBatch
from schema.retrieval import RetrievalRequest, TimeWindow

AWARE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
NAIVE = datetime(2024, 3, 1, 12, 0)

# The labels and relationship types the project documents (README / issue), written out by
# hand so that a model silently dropped from NODE_MODELS or Rel is caught.
EXPECTED_LABELS = {
    "User",
    "Session",
    "Turn",
    "Event",
    "Fact",
    "Procedure",
    "CoreProfile",
    "ProfileEntry",
    "Year",
    "Month",
    "Day",
    "PersonalitySnapshot",
    "Topic",
    "Entity",
}
EXPECTED_RELS = {
    "NEXT",
    "ON",
    "PART_OF",
    "DERIVED_FROM",
    "SUPERSEDES",
    "ABOUT",
    "MENTIONS",
    "HAS_SESSION",
    "HAS_TURN",
    "HAS_EVENT",
    "HAS_FACT",
    "HAS_PROCEDURE",
    "HAS_PROFILE",
    "HAS_ENTRY",
    "HAS_SNAPSHOT",
}

_MEMORY_COMMON: dict[str, Any] = {"t": AWARE, "text": "something happened"}
VALID: dict[str, dict[str, Any]] = {
    "User": {"name": "Alice", "created_at": AWARE},
    "Session": {"source_id": "s1", "index": 0, "start": AWARE, "end": AWARE},
    "Turn": {
        **_MEMORY_COMMON,
        "session_id": "session-1",
        "index": 0,
        "role": "user",
        "speaker": "Alice",
    },
    "Event": {**_MEMORY_COMMON, "session_id": "session-1", "t_end": AWARE, "turn_ids": ["t1"]},
    "Fact": {**_MEMORY_COMMON, "valid_from": AWARE},
    "Procedure": {**_MEMORY_COMMON, "type": "habit"},
    "CoreProfile": {},
    "ProfileEntry": {"key": "k", "value": "v", "version": 1, "op": "add", "valid_from": AWARE},
    "Year": {"year": 2024},
    "Month": {"year": 2024, "month": 3},
    "Day": {"date": AWARE.date()},
    "PersonalitySnapshot": {
        "t": AWARE,
        "step": 1,
        **dict.fromkeys(TRAITS, 3.0),
        "weight": 0.5,
        "observed": [3, None, 4, None, 2],
    },
    "Topic": {"name": "running"},
    "Entity": {"name": "Boston"},
}


def _build(model: type[NodeModel], **overrides: Any) -> NodeModel:
    data = {"id": f"{model.label.lower()}-1", "user_id": "alice", **VALID[model.label]}
    data.update(overrides)
    return model(**data)


def _aware_fields(model: type[BaseModel]) -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        text = repr(info.annotation)
        if "AwareDatetime" in text or info.annotation is AwareDatetime:
            out.append(name)
    return out


# ----------------------------------------------------------------------------- node models
def test_every_node_model_has_a_valid_example() -> None:
    """Guards the table above: a new model must get an example (and so the checks below)."""
    assert {m.label for m in NODE_MODELS} == set(VALID)
    for model in NODE_MODELS:
        node = _build(model)
        assert node.user_id == "alice"


@pytest.mark.parametrize("model", NODE_MODELS, ids=lambda m: m.label)
def test_node_models_reject_unknown_fields(model: type[NodeModel]) -> None:
    with pytest.raises(ValidationError, match="extra"):
        _build(model, colour="red")


@pytest.mark.parametrize("model", NODE_MODELS, ids=lambda m: m.label)
def test_node_models_reject_naive_datetimes(model: type[NodeModel]) -> None:
    fields = _aware_fields(model)
    for name in fields:
        _build(model, **{name: AWARE})  # the aware value is fine
        with pytest.raises(ValidationError, match="timezone"):
            _build(model, **{name: NAIVE})


def test_aware_datetime_fields_are_found() -> None:
    """The naive-datetime check above really covers the time fields."""
    by_label = {m.label: set(_aware_fields(m)) for m in NODE_MODELS}
    assert by_label["Session"] == {"start", "end", "consolidated_at"}
    assert by_label["Fact"] == {"t", "valid_from", "valid_to"}
    assert by_label["Event"] == {"t", "t_end"}
    assert by_label["User"] == {"created_at"}


def test_memory_models_require_aware_anchor_time() -> None:
    # every memory kind has at least its anchor time `t` checked above; make that explicit
    memory_models = [m for m in NODE_MODELS if issubclass(m, MemoryNode)]
    assert {m.kind for m in memory_models} == set(MemoryKind)
    for model in memory_models:
        assert "t" in _aware_fields(model)


@given(value=st.floats(allow_nan=False, allow_infinity=False, min_value=-100, max_value=100))
def test_personality_traits_are_bounded_1_to_5(value: float) -> None:
    for trait in TRAITS:
        if 1.0 <= value <= 5.0:
            snap = _build(PersonalitySnapshot, **{trait: value})
            assert getattr(snap, trait) == value
        else:
            with pytest.raises(ValidationError):
                _build(PersonalitySnapshot, **{trait: value})


def test_personality_trait_bounds_are_inclusive() -> None:
    for trait in TRAITS:
        _build(PersonalitySnapshot, **{trait: 1.0})
        _build(PersonalitySnapshot, **{trait: 5.0})
        with pytest.raises(ValidationError):
            _build(PersonalitySnapshot, **{trait: 0.999})
        with pytest.raises(ValidationError):
            _build(PersonalitySnapshot, **{trait: 5.001})


@pytest.mark.parametrize(
    ("label", "field", "bad"),
    [
        ("Fact", "confidence", 1.5),
        ("Fact", "confidence", -0.1),
        ("Month", "month", 13),
        ("Month", "month", 0),
        ("Session", "index", -1),
        ("Turn", "index", -1),
        ("Turn", "role", "robot"),
        ("Event", "turn_ids", []),
        ("ProfileEntry", "version", 0),
        ("ProfileEntry", "op", "upsert"),
        ("PersonalitySnapshot", "step", 0),
        ("PersonalitySnapshot", "weight", 1.5),
        ("Procedure", "type", "hobby"),
    ],
)
def test_field_constraints(label: str, field: str, bad: object) -> None:
    model = next(m for m in NODE_MODELS if m.label == label)
    with pytest.raises(ValidationError):
        _build(model, **{field: bad})


def test_memory_kind_labels_match_node_labels() -> None:
    by_kind = {m.kind: m.label for m in NODE_MODELS if issubclass(m, MemoryNode)}
    for kind, lbl in by_kind.items():
        assert kind.label == lbl


# ----------------------------------------------------------------------------- edge models
@pytest.mark.parametrize("model", EDGE_MODELS, ids=lambda m: m.type.value)
def test_edge_models_reject_unknown_fields(model: type[EdgeModel]) -> None:
    extra: dict[str, Any] = {"at": AWARE} if model.type == Rel.SUPERSEDES else {}
    model(start_id="a", end_id="b", **extra)
    with pytest.raises(ValidationError):
        model(start_id="a", end_id="b", weight=1, **extra)


def test_supersedes_edge_requires_aware_time() -> None:
    sup = next(m for m in EDGE_MODELS if m.type == Rel.SUPERSEDES)
    with pytest.raises(ValidationError):
        sup(start_id="a", end_id="b", at=NAIVE)


# ----------------------------------------------------------------------------- records
def test_write_batch_and_parts_reject_bad_data() -> None:
    user = _build(next(m for m in NODE_MODELS if m.label == "User"))
    with pytest.raises(ValidationError):
        WriteBatch(user=user, colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Supersession(new_id="a", old_id="b", at=NAIVE)
    with pytest.raises(ValidationError):
        Link(memory_id="m", node_id="n", extra=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        WriteBatch(user=user, consolidated_at=NAIVE)
    assert WriteBatch(user=user).is_empty()


def test_retrieval_request_validation() -> None:
    RetrievalRequest(user_id="u", query="dentist")
    RetrievalRequest(user_id="u", keywords=["dentist"])
    with pytest.raises(ValidationError, match="query or at least one keyword"):
        RetrievalRequest(user_id="u", query="   ", keywords=["  "])
    with pytest.raises(ValidationError):
        RetrievalRequest(user_id="", query="x")
    with pytest.raises(ValidationError, match="memory kind"):
        RetrievalRequest(user_id="u", query="x", kinds=[])
    with pytest.raises(ValidationError):
        RetrievalRequest(user_id="u", query="x", k=0)
    with pytest.raises(ValidationError):
        RetrievalRequest(user_id="u", query="x", k=501)
    with pytest.raises(ValidationError):
        RetrievalRequest(user_id="u", query="x", tenant="other")  # type: ignore[call-arg]
    assert RetrievalRequest(user_id="u", query="x", k=3).depth == 20
    assert RetrievalRequest(user_id="u", query="x", k=30).depth == 120
    assert RetrievalRequest(user_id="u", query="x", candidates=7).depth == 7


# ----------------------------------------------------------------------------- time windows
def test_time_window_validation() -> None:
    with pytest.raises(ValidationError, match="not after start"):
        TimeWindow(start=AWARE, end=AWARE)
    with pytest.raises(ValidationError):
        TimeWindow(start=AWARE, end=AWARE - timedelta(seconds=1))
    with pytest.raises(ValidationError):
        TimeWindow(start=NAIVE)
    assert TimeWindow().is_open
    assert TimeWindow().describe() == "all time"


def test_time_window_of_reads_naive_bounds_in_the_given_zone() -> None:
    plus10 = timezone(timedelta(hours=10))
    w = TimeWindow.of(datetime(2024, 3, 1, 22, 0), datetime(2024, 3, 1, 23, 0), tz=plus10)
    assert w.start == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert w.end == datetime(2024, 3, 1, 13, 0, tzinfo=UTC)
    # aware bounds are kept as they are
    assert TimeWindow.of(AWARE, None, tz=plus10).start == AWARE
    assert TimeWindow.of(None, None).is_open


_instants = st.integers(min_value=0, max_value=10_000)
_offsets = st.integers(min_value=-12 * 60, max_value=14 * 60)


def _at(seconds: int, offset_minutes: int) -> datetime:
    base = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return base.astimezone(timezone(timedelta(minutes=offset_minutes)))


@given(
    start=st.none() | st.tuples(_instants, _offsets),
    end=st.none() | st.tuples(_instants, _offsets),
    point=st.tuples(_instants, _offsets),
)
def test_time_window_contains_is_half_open_on_instants(
    start: tuple[int, int] | None, end: tuple[int, int] | None, point: tuple[int, int]
) -> None:
    """Containment depends on instants only (never on the offsets they are written in)."""
    if start and end and end[0] <= start[0]:
        with pytest.raises(ValidationError):
            TimeWindow(start=_at(*start), end=_at(*end))
        return
    w = TimeWindow(start=_at(*start) if start else None, end=_at(*end) if end else None)
    expected = (start is None or point[0] >= start[0]) and (end is None or point[0] < end[0])
    assert w.contains(_at(*point)) is expected


# ----------------------------------------------------------------------------- make_id
def test_make_id_is_stable_and_distinguishes_keys() -> None:
    a = make_id("turn", "alice", "s1", 3)
    assert a == make_id("turn", "alice", "s1", 3)
    assert a.startswith("turn-")
    assert len(a) == len("turn-") + 20
    assert a != make_id("turn", "alice", "s1", 4)
    assert a != make_id("turn", "bob", "s1", 3)
    assert make_id("fact", "alice", "s1", 3) != a
    # the separator keeps ("ab", "c") and ("a", "bc") apart
    assert make_id("x", "ab", "c") != make_id("x", "a", "bc")


def test_make_id_is_stable_across_processes() -> None:
    """No dependence on Python's per-process hash seed."""
    code = "from schema.nodes import make_id; print(make_id('turn', 'alice', 's1', 3))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent),
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outs == {make_id("turn", "alice", "s1", 3)}


# ----------------------------------------------------------------------------- graph model
def _declared_node_models() -> set[str]:
    return {
        obj.label
        for obj in vars(schema.nodes).values()
        if inspect.isclass(obj) and issubclass(obj, NodeModel) and "label" in obj.__dict__
    }


def test_graph_model_lists_every_node_label() -> None:
    labels = {spec.label for spec in GRAPH_MODEL.nodes}
    assert labels == EXPECTED_LABELS
    assert labels == _declared_node_models()
    assert EXPECTED_LABELS | {MEMORY_LABEL} == ALLOWED_LABELS


def test_graph_model_lists_every_relationship_type() -> None:
    types = {spec.type for spec in GRAPH_MODEL.edges}
    assert types == EXPECTED_RELS
    assert {r.value for r in Rel} == EXPECTED_RELS
    assert ALLOWED_RELS == EXPECTED_RELS
    declared = {
        obj.type
        for obj in vars(schema.edges).values()
        if inspect.isclass(obj) and issubclass(obj, EdgeModel) and obj is not EdgeModel
    }
    assert {str(t) for t in declared} == EXPECTED_RELS


def test_graph_model_node_specs() -> None:
    for spec in GRAPH_MODEL.nodes:
        names = [p.name for p in spec.properties]
        assert len(names) == len(set(names)), spec.label
        assert {"id", "user_id"} <= set(names), spec.label
        model = next(m for m in NODE_MODELS if m.label == spec.label)
        assert set(model.model_fields) <= set(names)
        if issubclass(model, MemoryNode):
            assert spec.extra_labels == (MEMORY_LABEL,)
            assert {"kind", "tenant", "t", "text", "keywords", "embedding"} <= set(names)
        else:
            assert spec.extra_labels == ()
    assert GRAPH_MODEL.node("Fact").label == "Fact"
    with pytest.raises(KeyError):
        GRAPH_MODEL.node("Nope")


def test_graph_model_edges_connect_known_labels() -> None:
    for spec in GRAPH_MODEL.edges:
        assert spec.pairs, spec.type
        for a, b in spec.pairs:
            assert a in EXPECTED_LABELS and b in EXPECTED_LABELS, (spec.type, a, b)
    sup = next(e for e in GRAPH_MODEL.edges if e.type == "SUPERSEDES")
    assert {p.name for p in sup.properties} == {"at", "reason"}


def test_graph_model_indexes() -> None:
    names = [i.name for i in GRAPH_MODEL.indexes]
    assert len(names) == len(set(names))
    uniques = {
        i.label for i in GRAPH_MODEL.indexes if i.kind == "unique" and i.properties == ("id",)
    }
    # every label (and Memory across kinds) has a uniqueness constraint on id
    assert uniques == EXPECTED_LABELS | {MEMORY_LABEL}
    kinds = {i.kind for i in GRAPH_MODEL.indexes}
    assert kinds == {"unique", "range", "fulltext", "vector"}
    for spec in GRAPH_MODEL.indexes:
        assert spec.label in ALLOWED_LABELS
    assert set(GRAPH_MODEL.memory_kinds) == {k.value for k in MemoryKind}


# ----------------------------------------------------------------------------- whitelist
INJECTIONS = [
    "Fact`) DETACH DELETE (n",
    "Fact` {id: 1}) DETACH DELETE n //",
    "Fact:Memory",
    "`Fact`",
    "fact",
    "Fact ",
    "",
    "NEXT]->() DETACH DELETE n //",
    "id` = 1 OR true //",
    "user_id}) RETURN 1 //",
    "Memory\x00",
]


@pytest.mark.parametrize("name", INJECTIONS)
def test_whitelist_rejects_injection(name: str) -> None:
    with pytest.raises(UnsafeIdentifier):
        label(name)
    with pytest.raises(UnsafeIdentifier):
        rel(name)
    with pytest.raises(UnsafeIdentifier):
        prop(name)


def test_whitelist_accepts_schema_names_backquoted() -> None:
    for name in ALLOWED_LABELS:
        assert label(name) == f"`{name}`"
    for name in ALLOWED_RELS:
        assert rel(name) == f"`{name}`"
    for name in ("id", "user_id", "t", "text", "slot", "valid_to", "consolidated_at", "date"):
        assert prop(name) == f"`{name}`"
    # a relationship type is not a label and vice versa
    with pytest.raises(UnsafeIdentifier):
        label("NEXT")
    with pytest.raises(UnsafeIdentifier):
        rel("Fact")


@given(st.text(max_size=40))
def test_whitelist_rejects_any_name_outside_the_schema(name: str) -> None:
    if name in ALLOWED_LABELS:
        assert label(name) == f"`{name}`"
    else:
        with pytest.raises(UnsafeIdentifier):
            label(name)
    if name in ALLOWED_RELS:
        assert rel(name) == f"`{name}`"
    else:
        with pytest.raises(UnsafeIdentifier):
            rel(name)
    try:
        quoted = prop(name)
    except UnsafeIdentifier:
        return
    # whatever passes is a plain identifier: it cannot close the backquotes
    assert quoted == f"`{name}`" and "`" not in name and name.isidentifier()
