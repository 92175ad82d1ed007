"""``Neo4jMemoryStore``: the :class:`schema.protocols.MemoryStore` on Neo4j.

Writes: one :class:`WriteBatch` = one transaction (all or nothing), every statement an
idempotent UNWIND/MERGE. Reads: hybrid retrieval (vector + full-text, fused by rank) with the
time window and the user applied as Cypher predicates, then graph expansion.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from neo4j import ManagedTransaction
from neo4j.time import Date as NeoDate
from neo4j.time import DateTime as NeoDateTime

from graph.connection import Neo4jConnection
from graph.connection import run as cypher
from graph.cypher import read as R
from graph.cypher import write as W
from graph.retrieval import RRF_K, lucene_query, rrf, tenant_token
from schema.errors import ConfigError, StoreError
from schema.nodes import (
    Event,
    Fact,
    MemoryKind,
    MemoryNode,
    NodeModel,
    PersonalitySnapshot,
    Procedure,
    ProfileEntry,
    Session,
    Turn,
    make_id,
)
from schema.protocols import Embedder, ImageEmbedder, UserContext, WriteBatch, WriteStats
from schema.retrieval import (
    Expansion,
    RetrievalRequest,
    RetrievalResult,
    RetrievedMemory,
    Signal,
    TimeWindow,
    VectorPath,
    Why,
)

__all__ = ["NEIGHBOUR_SHARE", "Neo4jMemoryStore", "native"]

#: turn units: the share of a turn's score passed to each dialogue neighbour (NEXT)
NEIGHBOUR_SHARE = 0.2
#: turn units, time questions: extra score share of a turn that anchors a time
DATED_BOOST = 0.5

_OWNERS: dict[str, tuple[str, str, str]] = {
    # label: (owner label, HAS_* relationship, row field holding the owner id)
    "Turn": ("Session", "HAS_TURN", "session_id"),
    "Event": ("Session", "HAS_EVENT", "session_id"),
    "Fact": ("User", "HAS_FACT", "user"),
    "Procedure": ("User", "HAS_PROCEDURE", "user"),
}


_LOCAL_TIMES = ("t", "t_end", "valid_from", "valid_to")


def local_times(row: dict[str, Any]) -> dict[str, Any]:
    """Times are stored in UTC (see graph.connection.utc_params); a memory keeps the UTC
    offset it was said in (``t_offset``, seconds) so it reads back in local time."""
    offset = row.pop("t_offset", None)
    if offset is None:
        return row
    tz = timezone(timedelta(seconds=int(offset)))
    for key in _LOCAL_TIMES:
        if isinstance(row.get(key), datetime):
            row[key] = row[key].astimezone(tz)
    return row


def native(value: Any) -> Any:
    """neo4j.time values -> datetime/date, recursively."""
    if isinstance(value, NeoDateTime | NeoDate):
        return value.to_native()
    if isinstance(value, dict):
        return {k: native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [native(v) for v in value]
    return value


def _counters(stats: WriteStats, summary: Any) -> WriteStats:
    c = summary.counters
    return stats + WriteStats(
        nodes_created=c.nodes_created,
        relationships_created=c.relationships_created,
        properties_set=c.properties_set,
    )


def _day_row(user_id: str, t: datetime) -> dict[str, Any]:
    d = t.date()
    return {
        "day_id": make_id("day", user_id, d.isoformat()),
        "month_id": make_id("month", user_id, d.year, d.month),
        "year_id": make_id("year", user_id, d.year),
        "date": d,
        "year": d.year,
        "month": d.month,
    }


def _memory_row(node: MemoryNode, user_id: str) -> dict[str, Any]:
    props = node.model_dump(exclude={"embedding", "image_embedding", "id", "user_id"})
    props["kind"] = node.kind.value
    props["tenant"] = tenant_token(user_id)
    offset = node.t.utcoffset()
    props["t_offset"] = int(offset.total_seconds()) if offset is not None else 0
    row: dict[str, Any] = {"id": node.id, "props": props, "embedding": node.embedding}
    if isinstance(node, Turn | Event):
        row["session_id"] = node.session_id
    return row


def _snapshot_props(s: PersonalitySnapshot) -> dict[str, Any]:
    props = s.model_dump(exclude={"id", "user_id"})
    props["observed"] = [0 if v is None else int(v) for v in s.observed]  # 0 = no signal
    return props


class Neo4jMemoryStore:
    """Implements :class:`schema.protocols.MemoryStore`."""

    def __init__(
        self,
        conn: Neo4jConnection,
        embedder: Embedder,
        *,
        vector_path: VectorPath | None = None,
        image_embedder: ImageEmbedder | None = None,
        image_min_score: float = 0.6,
    ) -> None:
        self.conn = conn
        self.embedder = embedder
        self.image_embedder = image_embedder
        self.image_min_score = image_min_score
        best = VectorPath(conn.caps.best_vector_path)
        self.vector_path = vector_path or best
        if self.vector_path == VectorPath.SEARCH and not conn.caps.vector_search_clause:
            raise ConfigError(
                f"vector path 'search' needs Neo4j 2026.01+, the server is {conn.info.version}",
                hint="unset PERSONA_VECTOR_PATH to use the exact pre-filtered scan",
            )

    # ================================================================== writes
    def write(self, batch: WriteBatch) -> WriteStats:
        """Write the whole batch in ONE transaction; re-writing it changes nothing."""
        if batch.is_empty() and not batch.topics and not batch.entities:
            return WriteStats()
        user_id = batch.user.id
        self._check_owner(batch)
        self._fill_embeddings(batch)

        def work(tx: ManagedTransaction) -> WriteStats:
            stats = WriteStats()

            def run(query: str, **params: Any) -> None:
                nonlocal stats
                stats = _counters(stats, cypher(tx, query, user_id=user_id, **params).consume())

            run(W.MERGE_USER, created_at=batch.user.created_at, name=batch.user.name)
            if batch.sessions:
                run(
                    W.MERGE_SESSIONS,
                    rows=[
                        s.model_dump(include={"id", "source_id", "index", "start", "end"})
                        for s in batch.sessions
                    ],
                )
            days: dict[str, dict[str, Any]] = {}
            on_rows: dict[str, list[dict[str, str]]] = defaultdict(list)
            derived: dict[str, list[dict[str, Any]]] = defaultdict(list)
            memories: dict[str, list[MemoryNode]] = {
                "Turn": list(batch.turns),
                "Event": list(batch.events),
                "Fact": list(batch.facts),
                "Procedure": list(batch.procedures),
            }
            for lbl, nodes in memories.items():
                if not nodes:
                    continue
                rows = [_memory_row(n, user_id) for n in nodes]
                run(W.merge_memories(lbl), rows=rows)
                if lbl == "Turn" and any(t.image_embedding for t in batch.turns):
                    run(
                        W.SET_EMBEDDINGS,
                        property="image_embedding",
                        rows=[
                            {"id": t.id, "embedding": t.image_embedding}
                            for t in batch.turns
                            if t.image_embedding
                        ],
                    )
                owner, has, key = _OWNERS[lbl]
                run(
                    W.attach(owner, has, lbl, key),
                    rows=[{"id": r["id"], key: r.get(key)} for r in rows],
                )
                for n in nodes:
                    day = _day_row(user_id, n.t)
                    days[day["day_id"]] = day
                    on_rows[lbl].append({"id": n.id, "day_id": day["day_id"]})
                    turn_ids = getattr(n, "turn_ids", None)
                    if turn_ids:
                        derived[lbl].append({"id": n.id, "turn_ids": list(turn_ids)})
            if batch.snapshots:
                run(
                    W.merge_owned("PersonalitySnapshot", "User", "HAS_SNAPSHOT", "user"),
                    rows=[{"id": s.id, "props": _snapshot_props(s)} for s in batch.snapshots],
                )
                for s in batch.snapshots:
                    day = _day_row(user_id, s.t)
                    days[day["day_id"]] = day
                    on_rows["PersonalitySnapshot"].append({"id": s.id, "day_id": day["day_id"]})
                    if s.turn_id:
                        derived["PersonalitySnapshot"].append({"id": s.id, "turn_ids": [s.turn_id]})
            if batch.profile_entries:
                profile_id = make_id("profile", user_id)
                run(
                    W.merge_owned("CoreProfile", "User", "HAS_PROFILE", "user"),
                    rows=[{"id": profile_id, "props": {}}],
                )
                run(
                    W.merge_owned("ProfileEntry", "CoreProfile", "HAS_ENTRY", "profile_id"),
                    rows=[
                        {
                            "id": e.id,
                            "profile_id": profile_id,
                            "props": e.model_dump(exclude={"id", "user_id", "turn_ids"}),
                        }
                        for e in batch.profile_entries
                    ],
                )
                for e in batch.profile_entries:
                    if e.turn_ids:
                        derived["ProfileEntry"].append({"id": e.id, "turn_ids": e.turn_ids})
            if days:
                run(W.MERGE_TIME_TREE, days=list(days.values()))
                for lbl, rows in on_rows.items():
                    run(W.link_on_day(lbl), rows=rows)
            for lbl, rows in derived.items():
                run(W.link_derived_from(lbl), rows=rows)
            if batch.topics:
                run(W.MERGE_TOPICS, rows=[{"id": t.id, "name": t.name} for t in batch.topics])
            if batch.entities:
                run(W.MERGE_ENTITIES, rows=[{"id": e.id, "name": e.name} for e in batch.entities])
            if batch.about:
                run(W.LINK_ABOUT, rows=[link.model_dump() for link in batch.about])
            if batch.mentions:
                run(W.LINK_MENTIONS, rows=[link.model_dump() for link in batch.mentions])
            by_label = self._supersession_labels(tx, user_id, batch)
            for lbl, rows in by_label.items():
                run(W.supersede(lbl), rows=rows)
            # temporal chains
            if batch.turns:
                run(
                    W.relink_chain("Turn", "index", "session_id"),
                    scopes=sorted({t.session_id for t in batch.turns}),
                )
            if batch.sessions:
                run(W.relink_chain("Session", "start"))
            if batch.events:
                run(W.relink_chain("Event", "t"))
            if days:
                run(W.relink_chain("Day", "date"))
            if batch.snapshots:
                run(W.relink_chain("PersonalitySnapshot", "step"))
            if batch.consolidated_sessions:
                run(
                    W.CONSOLIDATE_SESSIONS,
                    ids=batch.consolidated_sessions,
                    at=batch.consolidated_at,  # None: each session's own end
                )
            return stats

        return self.conn.write_tx(work)

    def _fill_embeddings(self, batch: WriteBatch) -> None:
        """Embed memories that arrive without a vector (turns with their caption; an event as
        the normalised mean of its turns when they are in the batch, else its summary)."""
        turn_vecs = {t.id: t.embedding for t in batch.turns}
        todo: list[tuple[MemoryNode, str]] = []
        for t in batch.turns:
            if t.embedding is None:
                todo.append((t, t.embedding_text()))
        for node in (*batch.facts, *batch.procedures):
            if node.embedding is None:
                todo.append((node, node.text))
        if todo:
            vecs = self.embedder.embed([text for _, text in todo])
            for (node, _), vec in zip(todo, vecs, strict=True):
                node.embedding = vec.tolist()
                if isinstance(node, Turn):
                    turn_vecs[node.id] = node.embedding
        if self.image_embedder is not None:
            pending = [
                t
                for t in batch.turns
                if t.image_embedding is None and t.image_path and Path(t.image_path).is_file()
            ]
            if pending:
                images = [Path(t.image_path).read_bytes() for t in pending if t.image_path]
                for t, vec in zip(pending, self.image_embedder.embed_images(images), strict=True):
                    t.image_embedding = vec.tolist()
        events = [e for e in batch.events if e.embedding is None]
        missing = [e for e in events if any(turn_vecs.get(i) is None for i in e.turn_ids)]
        summary_vecs: Any = self.embedder.embed([e.text for e in missing]) if missing else []
        by_id = {e.id: v for e, v in zip(missing, summary_vecs, strict=True)}
        for e in events:
            if e.id in by_id:
                e.embedding = by_id[e.id].tolist()
                continue
            mean = np.asarray([turn_vecs[i] for i in e.turn_ids], dtype=np.float32).mean(axis=0)
            e.embedding = (mean / (float(np.linalg.norm(mean)) or 1.0)).tolist()

    @staticmethod
    def _check_owner(batch: WriteBatch) -> None:
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

    @staticmethod
    def _supersession_labels(
        tx: ManagedTransaction, user_id: str, batch: WriteBatch
    ) -> dict[str, list[dict[str, Any]]]:
        if not batch.supersessions:
            return {}
        known: dict[str, str] = {}
        for lbl, nodes in (
            ("Fact", batch.facts),
            ("Procedure", batch.procedures),
            ("ProfileEntry", batch.profile_entries),
        ):
            known.update({n.id: lbl for n in nodes})

        def resolve(memory_id: str) -> str:
            if memory_id in known:
                return known[memory_id]
            rows = cypher(tx, R.VERSIONED_LABELS, id=memory_id, user_id=user_id).data()
            labels = rows[0]["labels"] if rows else []
            found = next((x for x in ("Fact", "Procedure", "ProfileEntry") if x in labels), None)
            if found is None:  # raised inside the transaction: the whole batch rolls back
                raise ConfigError(f"supersession names unknown memory {memory_id!r}")
            known[memory_id] = found
            return found

        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in batch.supersessions:
            new_label, old_label = resolve(s.new_id), resolve(s.old_id)
            if new_label != old_label:
                raise ConfigError(
                    f"supersession {s.new_id!r} -> {s.old_id!r} joins a {new_label} to a "
                    f"{old_label}; only memories of one kind supersede each other"
                )
            out[new_label].append(s.model_dump())
        return out

    def set_embeddings(
        self,
        user_id: str,
        rows: Sequence[tuple[str, Sequence[float]]],
        prop: str = "embedding",
    ) -> None:
        if prop not in ("embedding", "image_embedding"):
            raise ConfigError(f"not an embedding property: {prop!r}")
        self.conn.write(
            W.SET_EMBEDDINGS,
            user_id=user_id,
            property=prop,
            rows=[{"id": i, "embedding": list(map(float, v))} for i, v in rows],
        )

    # ================================================================== retrieval
    def retrieve(self, request: RetrievalRequest) -> RetrievalResult:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        path = request.vector_path or self.vector_path
        if path == VectorPath.SEARCH and not self.conn.caps.vector_search_clause:
            path = VectorPath.PREFILTER
        window = request.window
        text = " ".join([request.query, *request.keywords]).strip()
        vector = (
            self.embedder.embed([text])[0].tolist()
            if "vector" in request.signals
            else [0.0] * self.embedder.dimension
        )
        timings["embed"] = (time.perf_counter() - t0) * 1000
        exclude = set(request.exclude_ids)
        depth = request.depth + len(exclude)
        params: dict[str, Any] = {
            "user_id": request.user_id,
            "start": window.start,
            "end": window.end,
            "kinds": [k.value for k in request.kinds],
            "depth": depth,
            "vector": vector,
        }
        has_start, has_end = window.start is not None, window.end is not None
        lucene = lucene_query(request.user_id, request.query, request.keywords)
        image_vector = None
        if (
            self.image_embedder is not None
            and MemoryKind.TURN in request.kinds
            and "image" in request.signals
        ):
            image_vector = self.image_embedder.embed_texts([text])[0].tolist()

        def work(tx: ManagedTransaction) -> RetrievalResult:
            t1 = time.perf_counter()
            vec_rows = (
                cypher(
                    tx,
                    self._vector_query(path, has_start, has_end),
                    fetch=max(depth * 20, 200),
                    **params,
                ).data()
                if "vector" in request.signals
                else []
            )
            timings["vector"] = (time.perf_counter() - t1) * 1000
            t2 = time.perf_counter()
            ft_rows = (
                cypher(tx, R.fulltext_search(has_start, has_end), lucene=lucene, **params).data()
                if lucene and "fulltext" in request.signals
                else []
            )
            timings["fulltext"] = (time.perf_counter() - t2) * 1000
            img_rows: list[dict[str, Any]] = []
            if image_vector is not None:
                t4 = time.perf_counter()
                img_rows = cypher(
                    tx,
                    R.image_search(has_start, has_end, search_clause=path == VectorPath.SEARCH),
                    image_vector=image_vector,
                    min_score=self.image_min_score,
                    **params,
                ).data()
                timings["image"] = (time.perf_counter() - t4) * 1000
            vec_rows = [r for r in vec_rows if r["id"] not in exclude]
            ft_rows = [r for r in ft_rows if r["id"] not in exclude]
            img_rows = [r for r in img_rows if r["id"] not in exclude]
            scores = {("vector", r["id"]): r["score"] for r in vec_rows}
            scores.update({("fulltext", r["id"]): r["score"] for r in ft_rows})
            scores.update({("image", r["id"]): r["score"] for r in img_rows})
            rankings = {
                "vector": [r["id"] for r in vec_rows],
                "fulltext": [r["id"] for r in ft_rows],
            }
            if img_rows:
                rankings["image"] = [r["id"] for r in img_rows]
            t3 = time.perf_counter()
            if request.unit == "turn":
                items = self._evidence(tx, request, rankings, scores, path, exclude)
            else:
                fused = rrf(rankings)[: request.k]
                items = self._hydrate(tx, request, fused, scores, path, exclude)
            timings["hydrate"] = (time.perf_counter() - t3) * 1000
            return RetrievalResult(
                request=request, items=items, window=window, vector_path=path, timings_ms=timings
            )

        result = self.conn.read_tx(work)
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _vector_query(self, path: VectorPath, has_start: bool, has_end: bool) -> str:
        caps = self.conn.caps
        if path == VectorPath.SEARCH:
            return R.vector_search(has_start, has_end, kinds_in_index=caps.search_in_list)
        if path == VectorPath.POSTFILTER:
            return R.vector_postfilter(has_start, has_end, search_clause=caps.vector_search_clause)
        return R.vector_prefilter(has_start, has_end)

    def _hydrate(
        self,
        tx: ManagedTransaction,
        request: RetrievalRequest,
        fused: list[tuple[str, float, dict[str, int]]],
        scores: dict[tuple[str, str], float],
        path: VectorPath,
        exclude: set[str],
    ) -> list[RetrievedMemory]:
        ids = [doc for doc, _, _ in fused]
        rows = {
            r["m"]["id"]: native(r["m"])
            for r in cypher(tx, R.FETCH_MEMORIES, ids=ids, user_id=request.user_id).data()
        }
        window_text = request.window.describe()
        items: list[RetrievedMemory] = []
        for doc, fused_score, ranks in fused:
            row = rows.get(doc)
            if row is None:
                continue
            why = Why(
                signals=[
                    Signal(name=s, rank=r, score=float(scores[(s, doc)]))
                    for s, r in sorted(ranks.items(), key=lambda x: x[1])
                ],
                fused=fused_score,
                window=window_text,
                vector_path=path,
            )
            items.append(self._memory(row, fused_score, why))
        self._expand(tx, request, items, exclude)
        return items

    def _evidence(
        self,
        tx: ManagedTransaction,
        request: RetrievalRequest,
        rankings: dict[str, list[str]],
        scores: dict[tuple[str, str], float],
        path: VectorPath,
        exclude: set[str],
    ) -> list[RetrievedMemory]:
        """Turn units: every hit passes its reciprocal rank to the turns it stands for (a turn
        to itself, a fact or procedure to its source turns, an event to the turns it covers);
        then each turn passes a share to its dialogue neighbours (NEXT). Turns outside the
        window are dropped, so a window never leaks through provenance or neighbours."""
        uid = request.user_id
        candidates = list(dict.fromkeys(i for ids in rankings.values() for i in ids))
        info = {
            r["id"]: (r["kind"], r["turn_ids"], " ".join((r["text"] or "").lower().split()))
            for r in cypher(tx, R.MEMORY_PROVENANCE, ids=candidates, user_id=uid).data()
        }
        total: dict[str, float] = defaultdict(float)
        signals: dict[str, list[Signal]] = defaultdict(list)
        counted: set[tuple[str, str, str]] = set()  # (turn, signal, statement)
        for name, ids in rankings.items():
            for rank, mid in enumerate(ids, start=1):
                kind, turn_ids, statement = info.get(mid, ("turn", [], mid))
                targets = [mid] if kind == "turn" else list(turn_ids)
                for tid in targets:
                    # one statement is one piece of evidence: a habit restating a fact from
                    # the same sentence does not vote twice for its turn
                    if kind != "turn" and (tid, name, statement) in counted:
                        continue
                    counted.add((tid, name, statement))
                    total[tid] += 1.0 / (RRF_K + rank)
                    signals[tid].append(
                        Signal(
                            name=name,
                            rank=rank,
                            score=float(scores[(name, mid)]),
                            via=None if kind == "turn" else f"{kind} {mid}",
                        )
                    )
        base = dict(total)
        for row in cypher(tx, R.TURN_NEIGHBOURS, ids=list(base), user_id=uid).data():
            for n in row["neighbours"]:
                total[n] += NEIGHBOUR_SHARE * base[row["id"]]
                signals[n].append(
                    Signal(
                        name="neighbour",
                        rank=1,
                        score=NEIGHBOUR_SHARE * base[row["id"]],
                        via=f"turn {row['id']}",
                    )
                )
        if request.prefer_dated:
            for row in cypher(tx, R.DATED_TURNS, ids=list(total), user_id=uid).data():
                boost = DATED_BOOST * total[row["id"]]
                total[row["id"]] += boost
                signals[row["id"]].append(Signal(name="dated", rank=1, score=boost))
        ranked = [t for t in sorted(total, key=lambda t: -total[t]) if t not in exclude]
        window_text = request.window.describe()
        items: list[RetrievedMemory] = []
        for lo in range(0, len(ranked), 4 * request.k):
            page = ranked[lo : lo + 4 * request.k]
            rows = {
                r["m"]["id"]: native(r["m"])
                for r in cypher(tx, R.FETCH_MEMORIES, ids=page, user_id=uid).data()
            }
            for tid in page:
                hit = rows.get(tid)
                if hit is None or hit["kind"] != "turn" or not request.window.contains(hit["t"]):
                    continue
                why = Why(
                    signals=sorted(signals[tid], key=lambda s: (s.rank, s.name)),
                    fused=total[tid],
                    window=window_text,
                    vector_path=path,
                )
                items.append(self._memory(hit, total[tid], why))
                if len(items) == request.k:
                    return items
        return items

    @staticmethod
    def _memory(row: dict[str, Any], score: float = 0.0, why: Why | None = None) -> RetrievedMemory:
        row = local_times(dict(row))
        text = row.get("text") or ""
        return RetrievedMemory(
            id=row["id"],
            kind=MemoryKind(row["kind"]),
            text=text,
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

    def _expand(
        self,
        tx: ManagedTransaction,
        request: RetrievalRequest,
        items: list[RetrievedMemory],
        exclude: set[str],
    ) -> None:
        uid = request.user_id
        expand = set(request.expand)
        by_id = {i.id: i for i in items}
        events = [i.id for i in items if i.kind == MemoryKind.EVENT]
        if Expansion.EVENT_TURNS in expand and events:
            for row in cypher(tx, R.EVENT_TURNS, ids=events, user_id=uid).data():
                parent = by_id[row["event_id"]]
                turns = [native(t) for t in row["turns"]]
                parent.turns = [  # the window holds for expansions too
                    self._memory(
                        t,
                        0.0,
                        Why(
                            path=[f"Event {parent.id}", "DERIVED_FROM", f"Turn {t['id']}"],
                            window=parent.why.window,
                        ),
                    )
                    for t in turns
                    if t["id"] not in exclude and request.window.contains(t["t"])
                ]
        superseded = [i.id for i in items if i.kind == MemoryKind.FACT and i.status == "superseded"]
        if Expansion.SUPERSESSION in expand and superseded:
            for row in cypher(tx, R.SUPERSEDING, ids=superseded, user_id=uid).data():
                if row["m"] and row["m"]["id"] not in exclude and row["m"]["id"] not in by_id:
                    parent = by_id[row["fact_id"]]
                    parent.related.append(
                        self._memory(
                            native(row["m"]),
                            0.0,
                            Why(
                                path=[f"Fact {row['m']['id']}", "SUPERSEDES", f"Fact {parent.id}"],
                                window=parent.why.window,
                            ),
                        )
                    )
        for kind, query, rel_name in (
            (Expansion.SAME_DAY, R.SAME_DAY, "ON"),
            (Expansion.SAME_TOPIC, R.SAME_TOPIC, "ABOUT"),
        ):
            if kind not in expand or not items:
                continue
            taken = set(by_id) | exclude
            for row in cypher(
                tx,
                query,
                ids=list(by_id),
                user_id=uid,
                per_item=2,
                kinds=[k.value for k in request.kinds],
                exclude=sorted(taken),
            ).data():
                parent = by_id[row["memory_id"]]
                for raw in row["ms"]:
                    m = native(raw)
                    if m["id"] in taken or not request.window.contains(m["t"]):
                        continue
                    taken.add(m["id"])
                    parent.related.append(
                        self._memory(
                            m,
                            0.0,
                            Why(
                                path=[
                                    f"{parent.kind.label} {parent.id}",
                                    rel_name,
                                    str(row["via"]),
                                    rel_name,
                                    f"{m['kind'].capitalize()} {m['id']}",
                                ],
                                window=parent.why.window,
                            ),
                        )
                    )

    def delete_user(self, user_id: str) -> None:
        """Erase everything of one user (every label, in batches). Irreversible."""
        from schema.nodes import NODE_MODELS

        for model in NODE_MODELS:
            self.conn.run_autocommit(W.delete_user_nodes(model.label), user_id=user_id)

    def server_facts(self) -> dict[str, str]:
        """Version, edition and memory settings of the server (for benchmark reports).
        A user without the privilege to list settings gets 'unknown' for those."""
        info = self.conn.info
        facts = {"version": info.version, "edition": info.edition}
        try:
            rows = self.conn.read(R.SERVER_MEMORY_SETTINGS)
        except StoreError:
            rows = []
        names = {
            "server.memory.heap.max_size": "heap",
            "server.memory.heap.initial_size": "heap_initial",
            "server.memory.pagecache.size": "pagecache",
        }
        values = {names[r["name"]]: str(r["value"]) for r in rows if r["name"] in names}
        for key in names.values():
            facts[key] = values.get(key, "unknown")
        return facts

    # ================================================================== reads
    def existing_ids(self, user_id: str, ids: Sequence[str]) -> set[str]:
        """Which of these memory ids are already stored for the user."""
        rows = self.conn.read(R.EXISTING_IDS, user_id=user_id, ids=list(ids))
        return {r["id"] for r in rows}

    def turn_texts(self, user_id: str, ids: Sequence[str]) -> dict[str, str]:
        """The stored text of those of these turns that exist (re-ingest compares them)."""
        rows = self.conn.read(R.TURN_TEXTS, user_id=user_id, ids=list(ids))
        return {r["id"]: r["text"] for r in rows}

    def user_context(self, user_id: str, *, recent: int = 20) -> UserContext:
        def work(tx: ManagedTransaction) -> UserContext:
            out = UserContext()
            rows = cypher(tx, R.LAST_SESSION, user_id=user_id).data()
            if rows:
                out.last_session = Session.model_validate(native(rows[0]["s"]))
                out.last_session_turns = [
                    self._turn(r["m"])
                    for r in cypher(
                        tx,
                        R.LAST_SESSION_TURNS,
                        user_id=user_id,
                        session_id=out.last_session.id,
                        limit=recent,
                    ).data()
                ]
            out.profile = [
                e
                for e in (
                    ProfileEntry.model_validate(self._strip(r["e"], ProfileEntry))
                    for r in cypher(tx, R.PROFILE, user_id=user_id).data()
                )
                if e.valid_to is None
            ]
            out.procedures = [
                Procedure.model_validate(self._strip(r["m"], Procedure))
                for r in cypher(tx, R.PROCEDURES, user_id=user_id, active_only=True).data()
            ]
            snap = cypher(tx, R.LATEST_SNAPSHOT, user_id=user_id).data()
            if snap:
                out.personality = self._snapshot(snap[0]["s"])
            return out

        return self.conn.read_tx(work)

    def session_turns(
        self, user_id: str, session_id: str, *, with_embeddings: bool = False
    ) -> list[Turn]:
        rows = self.conn.read(
            R.SESSION_TURNS, user_id=user_id, session_id=session_id, with_embeddings=with_embeddings
        )
        return [self._turn(r["m"]) for r in rows]

    def recent_turns(self, user_id: str, since: datetime, limit: int = 20) -> list[Turn]:
        rows = self.conn.read(R.RECENT_TURNS, user_id=user_id, since=since, limit=limit)
        return [self._turn(r["m"]) for r in rows]

    @staticmethod
    def _turn(row: dict[str, Any]) -> Turn:
        props = {k: v for k, v in local_times(native(row)).items() if k not in ("kind", "tenant")}
        return Turn.model_validate(props)

    def sessions(self, user_id: str, *, unconsolidated_only: bool = False) -> list[Session]:
        rows = self.conn.read(R.SESSIONS, user_id=user_id, unconsolidated_only=unconsolidated_only)
        return [Session.model_validate(native(r["s"])) for r in rows]

    def last_session(self, user_id: str) -> Session | None:
        rows = self.conn.read(R.LAST_SESSION, user_id=user_id)
        return Session.model_validate(native(rows[0]["s"])) if rows else None

    def list_memories(
        self, user_id: str, kinds: Sequence[MemoryKind], window: TimeWindow, limit: int = 100
    ) -> list[dict[str, object]]:
        rows = self.conn.read(
            R.LIST_MEMORIES,
            user_id=user_id,
            kinds=[k.value for k in kinds],
            start=window.start,
            end=window.end,
            limit=limit,
        )
        return [local_times(native(r["m"])) for r in rows]

    @staticmethod
    def _strip(row: dict[str, Any], model: type[NodeModel]) -> dict[str, Any]:
        fields = model.model_fields
        return {k: v for k, v in local_times(native(row)).items() if k in fields}

    def active_facts(self, user_id: str, slot: str | None = None) -> list[Fact]:
        rows = self.conn.read(R.ACTIVE_FACTS, user_id=user_id, slot=slot)
        return [Fact.model_validate(self._strip(r["m"], Fact)) for r in rows]

    def fact_history(self, user_id: str, slot: str) -> list[Fact]:
        rows = self.conn.read(R.FACT_HISTORY, user_id=user_id, slot=slot)
        return [Fact.model_validate(self._strip(r["m"], Fact)) for r in rows]

    def procedures(self, user_id: str, *, active_only: bool = True) -> list[Procedure]:
        rows = self.conn.read(R.PROCEDURES, user_id=user_id, active_only=active_only)
        return [Procedure.model_validate(self._strip(r["m"], Procedure)) for r in rows]

    def profile(self, user_id: str) -> list[ProfileEntry]:
        rows = self.conn.read(R.PROFILE, user_id=user_id)
        return [ProfileEntry.model_validate(self._strip(r["e"], ProfileEntry)) for r in rows]

    def personality_history(self, user_id: str) -> list[PersonalitySnapshot]:
        rows = self.conn.read(R.PERSONALITY_HISTORY, user_id=user_id)
        return [self._snapshot(r["s"]) for r in rows]

    def _snapshot(self, row: dict[str, Any]) -> PersonalitySnapshot:
        props = self._strip(row, PersonalitySnapshot)
        props["observed"] = [None if v == 0 else v for v in props.get("observed", [])]
        return PersonalitySnapshot.model_validate(props)
