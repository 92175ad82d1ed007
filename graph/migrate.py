"""Migrations: constraints and indexes from the schema, applied idempotently.

``migrate`` creates whatever is missing (``IF NOT EXISTS``), checks that existing vector
indexes have the embedder's dimension (a mismatch is a :class:`DimensionMismatch` naming the
command that re-embeds), rebuilds a vector index whose filter properties or quantisation are
outdated (the embeddings stay on the nodes; only the index is rebuilt), and waits for the
indexes to come online.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graph.connection import Neo4jConnection
from graph.cypher import ddl
from schema.errors import DimensionMismatch, EmbedderMismatch
from schema.model import GRAPH_MODEL, IMAGE_VECTOR_INDEX, VECTOR_INDEX, IndexSpec

__all__ = [
    "LEGACY_EMBEDDER",
    "MigrationReport",
    "existing_indexes",
    "migrate",
    "stamp_embedder",
    "stored_embedder",
]

#: Databases embedded before the stamp existed were embedded with the only model there was.
LEGACY_EMBEDDER = "all-MiniLM-L6-v2"


@dataclass
class MigrationReport:
    created: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.rebuilt)


def existing_indexes(conn: Neo4jConnection) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in conn.read(ddl.SHOW_INDEXES)}


def _vector_dimension(row: dict[str, Any]) -> int | None:
    config = (row.get("options") or {}).get("indexConfig") or {}
    dim = config.get("vector.dimensions")
    return int(dim) if dim is not None else None


def _wanted_properties(spec: IndexSpec, conn: Neo4jConnection) -> list[str]:
    filters = spec.filters if conn.caps.vector_index_filters else ()
    return [*spec.properties, *filters]


def _outdated(row: dict[str, Any], spec: IndexSpec, conn: Neo4jConnection) -> str | None:
    """Why an existing vector index must be rebuilt (None = it is what we would create)."""
    wanted = _wanted_properties(spec, conn)
    if list(row["properties"]) != wanted:
        return f"with filter properties {wanted}"
    config = (row.get("options") or {}).get("indexConfig") or {}
    if conn.caps.vector_index_quantization and config.get("vector.quantization.enabled") is True:
        return "without quantisation"
    return None


def migrate(
    conn: Neo4jConnection,
    *,
    dimension: int,
    image_dimension: int | None = None,
    embedder_name: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Create/verify every constraint and index. Safe to run any number of times.

    With ``embedder_name``, also checks (and on first use records) which model embedded the
    memories: another model of the same dimension is an :class:`EmbedderMismatch`."""
    say = progress or (lambda _m: None)
    report = MigrationReport()
    before = existing_indexes(conn)
    for spec in GRAPH_MODEL.indexes:
        if spec.kind == "vector":
            dim = image_dimension if spec.image else dimension
            if dim is None:
                continue  # image index only when a CLIP model is configured
            row = before.get(spec.name)
            if row is not None:
                have = _vector_dimension(row)
                if have is not None and have != dim:
                    raise DimensionMismatch(
                        spec.name, have, dim, embedder_name or "configured embedder"
                    )
                why = _outdated(row, spec, conn)
                if why is not None:
                    say(f"rebuilding {spec.name} {why}")
                    conn.run_schema(ddl.drop_index(spec.name))
                    conn.run_schema(ddl.render(spec, conn.caps, dimension=dim))
                    report.rebuilt.append(spec.name)
                    continue
                report.unchanged.append(spec.name)
                continue
            conn.run_schema(ddl.render(spec, conn.caps, dimension=dim))
            report.created.append(spec.name)
            continue
        row = before.get(spec.name)
        if spec.kind == "fulltext" and (
            row is None or list(row["properties"]) != list(spec.properties)
        ):
            # before the index (re)builds, so it indexes every memory once, with its token
            conn.run_autocommit(ddl.BACKFILL_MONTH_TOKENS)
        if (
            row is not None
            and spec.kind == "fulltext"
            and list(row["properties"]) != list(spec.properties)
        ):
            say(f"rebuilding {spec.name} over {list(spec.properties)}")
            conn.run_schema(ddl.drop_index(spec.name))
            conn.run_schema(ddl.render(spec, conn.caps))
            report.rebuilt.append(spec.name)
            continue
        if row is not None:
            report.unchanged.append(spec.name)
            continue
        conn.run_schema(ddl.render(spec, conn.caps))
        report.created.append(spec.name)
    if embedder_name is not None:
        _check_embedder(conn, embedder_name, dimension)
    if report.changed:
        say(f"created {len(report.created)}, rebuilt {len(report.rebuilt)}; waiting for indexes")
    conn.run_schema("CALL db.awaitIndexes(300)")
    return report


def stored_embedder(conn: Neo4jConnection) -> str | None:
    """The model that embedded this database's memories: its stamp, :data:`LEGACY_EMBEDDER`
    for embeddings older than the stamp, None for a database without embeddings."""
    return _stamp(conn) or _legacy(conn)


def _stamp(conn: Neo4jConnection) -> str | None:
    rows = conn.read(ddl.READ_EMBEDDER_STAMP)
    return str(rows[0]["name"]) if rows and rows[0]["name"] else None


def _legacy(conn: Neo4jConnection) -> str | None:
    return LEGACY_EMBEDDER if conn.read(ddl.ANY_EMBEDDING) else None


def _check_embedder(conn: Neo4jConnection, name: str, dimension: int) -> None:
    stamp = _stamp(conn)
    stored = stamp or _legacy(conn)
    if stored is not None and stored != name:
        raise EmbedderMismatch(stored, name)
    if stamp is None:
        stamp_embedder(conn, name, dimension)


def stamp_embedder(conn: Neo4jConnection, name: str, dimension: int) -> None:
    """Record that the text embeddings now come from ``name`` (after a re-embed)."""
    conn.write(ddl.WRITE_EMBEDDER_STAMP, name=name, dimension=dimension)


def drop_vector_indexes(conn: Neo4jConnection) -> None:
    """Used by re-embedding: vector indexes cannot be altered, only dropped and recreated."""
    for name in (VECTOR_INDEX, IMAGE_VECTOR_INDEX):
        conn.run_schema(ddl.drop_index(name))
