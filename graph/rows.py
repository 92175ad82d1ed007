"""Row mapping between Neo4j and the schema's models, both ways: the property maps that the
write queries take, and the typed models (and retrieval items) that reads return. Pure code:
no queries here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
from neo4j.time import Date as NeoDate
from neo4j.time import DateTime as NeoDateTime
from neo4j.vector import Vector

from graph.retrieval import month_token, tenant_token
from schema.nodes import (
    Event,
    MemoryKind,
    MemoryNode,
    NodeModel,
    PersonalitySnapshot,
    Turn,
    make_id,
)
from schema.protocols import MemoryListing, WriteStats
from schema.retrieval import RetrievedMemory, Why

__all__ = [
    "counters",
    "day_row",
    "from_epoch",
    "local_times",
    "memory_row",
    "model_props",
    "native",
    "snapshot_props",
    "to_listing",
    "to_memory",
    "to_snapshot",
    "to_turn",
]

_LOCAL_TIMES = ("t", "t_end", "valid_from", "valid_to")
#: stored for the database's own use (indexes, tenancy), never part of a read model
_INTERNAL = ("kind", "tenant", "t_offset", "t_month")


def local_times(row: dict[str, Any], keys: Sequence[str] = _LOCAL_TIMES) -> dict[str, Any]:
    """Times are stored in UTC (see graph.connection.utc_params); a memory keeps the UTC
    offset it was said in (``t_offset``, seconds) so it reads back in local time (``keys``:
    the row's times)."""
    offset = row.pop("t_offset", None)
    if offset is None:
        return row
    tz = timezone(timedelta(seconds=int(offset)))
    for key in keys:
        if isinstance(row.get(key), datetime):
            row[key] = row[key].astimezone(tz)
    return row


def from_epoch(pair: list[int] | None) -> datetime | None:
    """``[epoch seconds, nanosecond]`` (see graph.cypher.read.epoch) -> an aware UTC datetime.

    >>> from_epoch([1700000000, 123456789]).isoformat()
    '2023-11-14T22:13:20.123456+00:00'
    >>> from_epoch(None) is None
    True
    """
    if pair is None:
        return None
    seconds, nanos = pair
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanos // 1000)


def native(value: Any) -> Any:
    """neo4j.time values -> datetime/date, recursively."""
    if isinstance(value, NeoDateTime | NeoDate):
        return value.to_native()
    if isinstance(value, dict):
        return {k: native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [native(v) for v in value]
    return value


def counters(stats: WriteStats, summary: Any) -> WriteStats:
    c = summary.counters
    return stats + WriteStats(
        nodes_created=c.nodes_created,
        relationships_created=c.relationships_created,
        properties_set=c.properties_set,
    )


# ------------------------------------------------------------------------- to Neo4j
def day_row(user_id: str, t: datetime) -> dict[str, Any]:
    d = t.date()
    return {
        "day_id": make_id("day", user_id, d.isoformat()),
        "month_id": make_id("month", user_id, d.year, d.month),
        "year_id": make_id("year", user_id, d.year),
        "date": d,
        "year": d.year,
        "month": d.month,
    }


def memory_row(node: MemoryNode, user_id: str, packed: bool = False) -> dict[str, Any]:
    """One memory as the write query's row; ``packed``: the embedding as a float32 VECTOR
    parameter (see :func:`graph.cypher.write.merge_memories`), else a list of floats."""
    props = node.model_dump(exclude={"embedding", "image_embedding", "id", "user_id"})
    props["kind"] = node.kind.value
    props["tenant"] = tenant_token(user_id)
    props["t_month"] = month_token(node.t)
    offset = node.t.utcoffset()
    props["t_offset"] = int(offset.total_seconds()) if offset is not None else 0
    embedding: Any = node.embedding
    if packed and embedding is not None:
        embedding = Vector(np.asarray(embedding, dtype=np.float32))
    row: dict[str, Any] = {"id": node.id, "props": props, "embedding": embedding}
    if isinstance(node, Turn | Event):
        row["session_id"] = node.session_id
    return row


def snapshot_props(s: PersonalitySnapshot) -> dict[str, Any]:
    props = s.model_dump(exclude={"id", "user_id"})
    props["observed"] = [0 if v is None else int(v) for v in s.observed]  # 0 = no signal
    return props


# ----------------------------------------------------------------------- from Neo4j
def model_props(row: dict[str, Any], model: type[NodeModel]) -> dict[str, Any]:
    """A node's properties in local time, restricted to the model's fields."""
    fields = model.model_fields
    return {k: v for k, v in local_times(native(row)).items() if k in fields}


def to_turn(row: dict[str, Any]) -> Turn:
    props = {k: v for k, v in local_times(native(row)).items() if k not in _INTERNAL}
    return Turn.model_validate(props)


def to_listing(row: dict[str, Any]) -> MemoryListing:
    """A listed memory in local time, restricted to the listing's fields (so no internals)."""
    fields = MemoryListing.model_fields
    return MemoryListing.model_validate(
        {k: v for k, v in local_times(native(row)).items() if k in fields}
    )


def to_snapshot(row: dict[str, Any]) -> PersonalitySnapshot:
    props = model_props(row, PersonalitySnapshot)
    props["observed"] = [None if v == 0 else v for v in props.get("observed", [])]
    return PersonalitySnapshot.model_validate(props)


def to_memory(row: dict[str, Any], score: float = 0.0, why: Why | None = None) -> RetrievedMemory:
    row = local_times(dict(row))
    return RetrievedMemory(
        id=row["id"],
        kind=MemoryKind(row["kind"]),
        text=row.get("text") or "",
        t=row["t"],
        session_id=row.get("session_id"),
        speaker=row.get("speaker"),
        source_id=row.get("source_id"),
        caption=row.get("image_caption"),
        keywords=row.get("keywords") or [],
        status=row.get("status"),
        valid_to=row.get("valid_to"),
        score=score,
        why=why or Why(),
    )
