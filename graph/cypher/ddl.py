"""DDL rendered from the schema's declarative index specs, for the server's capabilities."""

from __future__ import annotations

from graph.connection import Capabilities
from graph.cypher import label, prop
from schema.model import IndexSpec

__all__ = [
    "ANY_EMBEDDING",
    "BACKFILL_MONTH_TOKENS",
    "READ_EMBEDDER_STAMP",
    "SHOW_CONSTRAINTS",
    "SHOW_INDEXES",
    "WRITE_EMBEDDER_STAMP",
    "drop_index",
    "render",
]

# Which model made the text embeddings: one database-wide node (not user data), so a database
# embedded with one model is never searched with vectors from another of the same dimension.
READ_EMBEDDER_STAMP = (
    "MATCH (s:EmbedderStamp {key: 'text'}) RETURN s.name AS name, s.dimension AS dimension"
)
WRITE_EMBEDDER_STAMP = (
    "MERGE (s:EmbedderStamp {key: 'text'}) SET s.name = $name, s.dimension = $dimension"
)
ANY_EMBEDDING = "MATCH (n:Memory) WHERE n.embedding IS NOT NULL RETURN n.id AS id LIMIT 1"

# Memories written before the full-text index carried the month token get it (the same value
# graph.retrieval.month_token computes; t is stored in UTC), in batches of their own.
BACKFILL_MONTH_TOKENS = """
MATCH (m:Memory) WHERE m.t_month IS NULL AND m.t IS NOT NULL
CALL (m) { SET m.t_month = 'm' + toString(m.t.year * 100 + m.t.month) }
IN TRANSACTIONS OF 10000 ROWS
"""

SHOW_INDEXES = (
    "SHOW INDEXES YIELD name, type, labelsOrTypes, properties, options, state "
    "RETURN name, type, labelsOrTypes, properties, options, state"
)
SHOW_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties RETURN *"


def _name(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad index name {name!r}")
    return f"`{name}`"


def drop_index(name: str) -> str:
    return f"DROP INDEX {_name(name)} IF EXISTS"


def render(spec: IndexSpec, caps: Capabilities, *, dimension: int | None = None) -> str:
    """One idempotent DDL statement (``IF NOT EXISTS``) for ``spec``."""
    lbl = label(spec.label)
    props = [prop(p) for p in spec.properties]
    if spec.kind == "unique":
        cols = ", ".join(f"n.{p}" for p in props)
        target = cols if len(props) == 1 else f"({cols})"
        return (
            f"CREATE CONSTRAINT {_name(spec.name)} IF NOT EXISTS "
            f"FOR (n:{lbl}) REQUIRE {target} IS UNIQUE"
        )
    if spec.kind == "range":
        cols = ", ".join(f"n.{p}" for p in props)
        return f"CREATE INDEX {_name(spec.name)} IF NOT EXISTS FOR (n:{lbl}) ON ({cols})"
    if spec.kind == "fulltext":
        cols = ", ".join(f"n.{p}" for p in props)
        analyzer = spec.analyzer or "standard-no-stop-words"
        return (
            f"CREATE FULLTEXT INDEX {_name(spec.name)} IF NOT EXISTS FOR (n:{lbl}) "
            f"ON EACH [{cols}] OPTIONS {{indexConfig: {{`fulltext.analyzer`: '{analyzer}'}}}}"
        )
    if spec.kind == "vector":
        if dimension is None or not 1 <= dimension <= 4096:
            raise ValueError(f"vector index {spec.name} needs a dimension in 1..4096")
        filters = spec.filters
        with_clause = ""
        prefix = ""
        if caps.vector_index_filters and filters:
            # In-index filter properties are Cypher 25 syntax (2026.01+). The 5.26 LTS parser
            # rejects `WITH [...]` and the `CYPHER 25` prefix, so there the index holds the
            # vector alone and retrieval filters by the (user_id, t) range index instead.
            with_clause = " WITH [" + ", ".join(f"n.{prop(f)}" for f in filters) + "]"
            prefix = "CYPHER 25 "
        # Quantisation off: exact float vectors keep ANN recall close to exact search
        # (quantisation is on by default since 5.23 and costs recall; see docs/benchmarks).
        # Servers before 5.23 (vector-1.0) do not know the option.
        quant = ", `vector.quantization.enabled`: false" if caps.vector_index_quantization else ""
        return (
            f"{prefix}CREATE VECTOR INDEX {_name(spec.name)} IF NOT EXISTS FOR (n:{lbl}) "
            f"ON n.{props[0]}{with_clause} OPTIONS {{indexConfig: {{"
            f"`vector.dimensions`: {int(dimension)}, `vector.similarity_function`: 'cosine'"
            f"{quant}}}}}"
        )
    raise ValueError(f"unknown index kind {spec.kind!r}")
