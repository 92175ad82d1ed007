"""Writes, one function per label (graphiti's shape): each takes the transaction, the user
and the rows of its label and runs idempotent UNWIND/MERGE statements (graph/cypher/write.py).
:func:`write_batch` runs them in order inside ONE transaction, so a batch is all or nothing;
vectors arrive already computed (graph/vectors.py). Which owner a label hangs from (and by
which HAS_* relationship) is read from the graph model in schema/edges.py, not restated."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from neo4j import ManagedTransaction

from graph.connection import run as cypher
from graph.cypher import read as R
from graph.cypher import write as W
from graph.rows import counters, day_row, memory_row, snapshot_props
from schema.edges import EDGE_MODELS
from schema.errors import ConfigError
from schema.nodes import MemoryNode, NodeModel, PersonalitySnapshot, ProfileEntry, Turn, make_id
from schema.protocols import WriteBatch, WriteStats

__all__ = ["check_owner", "owner_of", "write_batch"]

#: the row field holding the owner's id, by owner label ("user": the user itself)
_OWNER_KEY = {"User": "user", "Session": "session_id", "CoreProfile": "profile_id"}
_VERSIONED = ("Fact", "Procedure", "ProfileEntry")


def owner_of(node_label: str) -> tuple[str, str, str]:
    """(owner label, HAS_* relationship, row field of the owner id) from the graph model.

    >>> owner_of("Turn"), owner_of("Fact"), owner_of("PersonalitySnapshot")[1]
    (('Session', 'HAS_TURN', 'session_id'), ('User', 'HAS_FACT', 'user'), 'HAS_SNAPSHOT')
    """
    for edge in EDGE_MODELS:
        if not edge.type.value.startswith("HAS_"):
            continue
        for start, end in edge.pairs:
            if end == node_label:
                return start, edge.type.value, _OWNER_KEY[start]
    raise ConfigError(f"the graph model gives {node_label} no owner (a HAS_* edge)")


class _Tx:
    """One transaction's statements, with their counters summed."""

    def __init__(self, tx: ManagedTransaction, user_id: str, vector_values: bool = False) -> None:
        self.tx, self.user_id, self.stats = tx, user_id, WriteStats()
        self.vector_values = vector_values
        self.days: dict[str, dict[str, Any]] = {}
        self.on_day: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.derived: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def run(self, query: str, **params: Any) -> None:
        summary = cypher(self.tx, query, user_id=self.user_id, **params).consume()
        self.stats = counters(self.stats, summary)

    def dated(self, node_label: str, node_id: str, t: Any) -> None:
        day = day_row(self.user_id, t)
        self.days[day["day_id"]] = day
        self.on_day[node_label].append({"id": node_id, "day_id": day["day_id"]})

    def provenance(self, node_label: str, node_id: str, turn_ids: Sequence[str]) -> None:
        if turn_ids:
            self.derived[node_label].append({"id": node_id, "turn_ids": list(turn_ids)})


def write_user(w: _Tx, batch: WriteBatch) -> None:
    w.run(
        W.MERGE_USER,
        created_at=batch.user.created_at,
        name=batch.user.name,
        timezone=batch.user.timezone,
    )


def write_sessions(w: _Tx, batch: WriteBatch) -> None:
    if batch.sessions:
        fields = {"id", "source_id", "index", "start", "end"}
        w.run(W.MERGE_SESSIONS, rows=[s.model_dump(include=fields) for s in batch.sessions])


def write_memories(w: _Tx, node_label: str, nodes: Sequence[MemoryNode]) -> None:
    """Turns, events, facts or procedures: properties and vectors, the owner edge, the day
    and the provenance (DERIVED_FROM) to collect."""
    if not nodes:
        return
    rows = [memory_row(n, w.user_id, packed=w.vector_values) for n in nodes]
    w.run(W.merge_memories(node_label, w.vector_values), rows=rows)
    images = [
        {"id": n.id, "embedding": n.image_embedding}
        for n in nodes
        if isinstance(n, Turn) and n.image_embedding
    ]
    if images:
        w.run(W.SET_EMBEDDINGS, property="image_embedding", rows=images)
    owner, has, key = owner_of(node_label)
    w.run(
        W.attach(owner, has, node_label, key), rows=[{"id": r["id"], key: r.get(key)} for r in rows]
    )
    for n in nodes:
        w.dated(node_label, n.id, n.t)
        w.provenance(node_label, n.id, getattr(n, "turn_ids", None) or [])


def write_snapshots(w: _Tx, snapshots: Sequence[PersonalitySnapshot]) -> None:
    if not snapshots:
        return
    owner, has, key = owner_of("PersonalitySnapshot")
    w.run(
        W.merge_owned("PersonalitySnapshot", owner, has, key),
        rows=[{"id": s.id, "props": snapshot_props(s)} for s in snapshots],
    )
    for s in snapshots:
        w.dated("PersonalitySnapshot", s.id, s.t)
        w.provenance("PersonalitySnapshot", s.id, [s.turn_id] if s.turn_id else [])


def write_profile(w: _Tx, entries: Sequence[ProfileEntry]) -> None:
    if not entries:
        return
    profile_id = make_id("profile", w.user_id)
    owner, has, key = owner_of("CoreProfile")
    w.run(W.merge_owned("CoreProfile", owner, has, key), rows=[{"id": profile_id, "props": {}}])
    owner, has, key = owner_of("ProfileEntry")
    w.run(
        W.merge_owned("ProfileEntry", owner, has, key),
        rows=[
            {
                "id": e.id,
                key: profile_id,
                "props": e.model_dump(exclude={"id", "user_id", "turn_ids"}),
            }
            for e in entries
        ],
    )
    for e in entries:
        w.provenance("ProfileEntry", e.id, e.turn_ids)


def write_calendar_and_provenance(w: _Tx) -> None:
    if w.days:
        w.run(W.MERGE_TIME_TREE, days=list(w.days.values()))
        for lbl, rows in w.on_day.items():
            w.run(W.link_on_day(lbl), rows=rows)
    for lbl, rows in w.derived.items():
        w.run(W.link_derived_from(lbl), rows=rows)


def write_tags(w: _Tx, batch: WriteBatch) -> None:
    if batch.topics:
        w.run(W.MERGE_TOPICS, rows=[{"id": t.id, "name": t.name} for t in batch.topics])
    if batch.entities:
        w.run(W.MERGE_ENTITIES, rows=[{"id": e.id, "name": e.name} for e in batch.entities])
    if batch.about:
        w.run(W.LINK_ABOUT, rows=[link.model_dump() for link in batch.about])
    if batch.mentions:
        w.run(W.LINK_MENTIONS, rows=[link.model_dump() for link in batch.mentions])


def write_supersessions(w: _Tx, batch: WriteBatch) -> None:
    """SUPERSEDES edges, each between two memories of one versioned label; a memory named
    but stored nowhere raises inside the transaction, so the whole batch rolls back."""
    if not batch.supersessions:
        return
    known: dict[str, str] = {}
    versioned: tuple[Sequence[NodeModel], ...] = (
        batch.facts,
        batch.procedures,
        batch.profile_entries,
    )
    for lbl, nodes in zip(_VERSIONED, versioned, strict=True):
        known.update({n.id: lbl for n in nodes})

    def resolve(memory_id: str) -> str:
        if memory_id not in known:
            rows = cypher(w.tx, R.VERSIONED_LABELS, id=memory_id, user_id=w.user_id).data()
            labels = rows[0]["labels"] if rows else []
            found = next((x for x in _VERSIONED if x in labels), None)
            if found is None:
                raise ConfigError(f"supersession names unknown memory {memory_id!r}")
            known[memory_id] = found
        return known[memory_id]

    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in batch.supersessions:
        new_label, old_label = resolve(s.new_id), resolve(s.old_id)
        if new_label != old_label:
            raise ConfigError(
                f"supersession {s.new_id!r} -> {s.old_id!r} joins a {new_label} to a "
                f"{old_label}; only memories of one kind supersede each other"
            )
        by_label[new_label].append(s.model_dump())
    for lbl, rows in by_label.items():
        w.run(W.supersede(lbl), rows=rows)


def relink_chains(w: _Tx, batch: WriteBatch) -> None:
    """The temporal NEXT chains of every label the batch touched."""
    if batch.turns:
        w.run(
            W.relink_chain("Turn", "index", "session_id"),
            scopes=sorted({t.session_id for t in batch.turns}),
        )
    if batch.sessions:
        w.run(W.relink_chain("Session", "start"))
    if batch.events:
        w.run(W.relink_chain("Event", "t"))
    if w.days:
        w.run(W.relink_chain("Day", "date"))
    if batch.snapshots:
        w.run(W.relink_chain("PersonalitySnapshot", "step"))


def write_batch(
    tx: ManagedTransaction, batch: WriteBatch, *, vector_values: bool = False
) -> WriteStats:
    """Every statement of one batch, in dependency order, in the caller's transaction.
    ``vector_values``: the server takes VECTOR parameters (``Capabilities.vector_values``)."""
    w = _Tx(tx, batch.user.id, vector_values)
    write_user(w, batch)
    write_sessions(w, batch)
    for lbl, nodes in (
        ("Turn", batch.turns),
        ("Event", batch.events),
        ("Fact", batch.facts),
        ("Procedure", batch.procedures),
    ):
        write_memories(w, lbl, nodes)
    write_snapshots(w, batch.snapshots)
    write_profile(w, batch.profile_entries)
    write_calendar_and_provenance(w)
    write_tags(w, batch)
    write_supersessions(w, batch)
    relink_chains(w, batch)
    if batch.consolidated_sessions:
        w.run(
            W.CONSOLIDATE_SESSIONS,
            ids=batch.consolidated_sessions,
            at=batch.consolidated_at,  # None: each session's own end
        )
    return w.stats


def check_owner(batch: WriteBatch) -> None:
    """Every node of a batch belongs to the batch's user (checked before any write)."""
    uid = batch.user.id
    nodes: Iterable[NodeModel] = (
        *batch.sessions,
        *batch.turns,
        *batch.events,
        *batch.facts,
        *batch.procedures,
        *batch.profile_entries,
        *batch.snapshots,
        *batch.topics,
        *batch.entities,
    )
    for node in nodes:
        if node.user_id != uid:
            raise ConfigError(
                f"{node.label} {node.id} belongs to user {node.user_id!r}, "
                f"not to the batch's user {uid!r}"
            )
