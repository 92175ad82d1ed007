"""From candidates to results, inside the retrieval's read transaction: memory units
(fused by rank, hydrated, then expanded along the graph: an event's turns, the fact that
superseded a fact, neighbours on the same day or topic) or turn units (evidence scored by
:mod:`graph.evidence`). The window holds for every item, expansions included: said inside it,
or (``states_in_window``) a fact true during it and, for turn units, the turn it came from."""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction

from graph.candidates import Candidates
from graph.connection import run as cypher
from graph.cypher import read as R
from graph.evidence import Provenance, boost_dated, rank, spread_to_neighbours, vote
from graph.retrieval import rrf
from graph.rows import from_epoch, native, to_memory
from schema.nodes import MemoryKind
from schema.retrieval import (
    Expansion,
    RetrievalRequest,
    RetrievedMemory,
    Signal,
    Why,
)

__all__ = ["evidence", "expand", "memories"]


def _fetch(tx: ManagedTransaction, user_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for m in cypher(tx, R.FETCH_MEMORIES, ids=ids, user_id=user_id).single(strict=True)["ms"]:
        m["t"], m["valid_to"] = from_epoch(m["t"]), from_epoch(m["valid_to"])
        out[m["id"]] = m
    return out


def memories(
    tx: ManagedTransaction, request: RetrievalRequest, found: Candidates
) -> list[RetrievedMemory]:
    """Memory units: the top k by reciprocal rank fusion, each with its ``why``, expanded."""
    fused = rrf(found.rankings)[: request.k]
    rows = _fetch(tx, request.user_id, [doc for doc, _, _ in fused])
    window_text = request.window.describe()
    items: list[RetrievedMemory] = []
    for doc, fused_score, ranks in fused:
        row = rows.get(doc)
        if row is None:
            continue
        why = Why(
            signals=[
                Signal(name=s, rank=r, score=float(found.scores[(s, doc)]))
                for s, r in sorted(ranks.items(), key=lambda x: x[1])
            ],
            fused=fused_score,
            window=window_text,
            vector_path=found.vector_path,
            vector_scope=found.vector_scope,
            true_in_window=doc in found.states,
        )
        items.append(to_memory(row, fused_score, why))
    expand(tx, request, items, set(request.exclude_ids))
    return items


def evidence(
    tx: ManagedTransaction, request: RetrievalRequest, found: Candidates
) -> list[RetrievedMemory]:
    """Turn units: provenance, neighbours and dated turns from the graph, scores from
    :mod:`graph.evidence`. Turns outside the window are dropped, so a window never leaks
    through provenance or neighbours; the one exception is the turn a fact true during the
    window came from (its evidence)."""
    uid = request.user_id
    candidates = list(dict.fromkeys(i for ids in found.rankings.values() for i in ids))
    hits = dict(found.hits)  # the candidate queries return what scoring needs
    missing = [i for i in candidates if i not in hits]
    if missing:
        for r in cypher(tx, R.MEMORY_PROVENANCE, ids=missing, user_id=uid).data():
            hits[r["id"]] = (r["kind"], r["turn_ids"], r["text"])
    provenance = {
        mid: Provenance(kind, tuple(turn_ids), " ".join((text or "").lower().split()))
        for mid, (kind, turn_ids, text) in hits.items()
    }
    total, signals = vote(found.rankings, found.scores, provenance)
    near = cypher(tx, R.TURN_NEIGHBOURS, ids=list(total), user_id=uid).single(strict=True)
    spread_to_neighbours(total, signals, dict(zip(near["ids"], near["neighbours"], strict=True)))
    if request.prefer_dated:
        # turns that anchor a time, neighbours included (the same query told both)
        boost_dated(total, signals, sorted(set(near["dated"])))
    ranked = rank(total, set(request.exclude_ids))
    # the turns a fact true during the window came from are its evidence, wherever they lie
    true_turns = {t for f in found.states if f in provenance for t in provenance[f].turn_ids}
    window_text = request.window.describe()
    items: list[RetrievedMemory] = []
    # the first page is k and a margin (a turn outside the window is rare: the candidates
    # are window-bounded), later pages are larger; each fetch is one round trip
    lo, size = 0, request.k + max(8, request.k // 4)
    while lo < len(ranked):
        page = ranked[lo : lo + size]
        lo, size = lo + size, 4 * request.k
        rows = _fetch(tx, uid, page)
        for tid in page:
            hit = rows.get(tid)
            if hit is None or hit["kind"] != "turn":
                continue
            said_inside = request.window.contains(hit["t"])
            if not said_inside and tid not in true_turns:
                continue
            why = Why(
                signals=[v.signal() for v in sorted(signals[tid], key=lambda v: (v.rank, v.name))],
                fused=total[tid],
                window=window_text,
                vector_path=found.vector_path,
                vector_scope=found.vector_scope,
                true_in_window=not said_inside,
            )
            items.append(to_memory(hit, total[tid], why))
            if len(items) == request.k:
                return items
    return items


def expand(
    tx: ManagedTransaction,
    request: RetrievalRequest,
    items: list[RetrievedMemory],
    exclude: set[str],
) -> None:
    """Graph expansion of memory units, in place (each expansion says its path in ``why``)."""
    uid = request.user_id
    wanted = set(request.expand)
    by_id = {i.id: i for i in items}
    events = [i.id for i in items if i.kind == MemoryKind.EVENT]
    if Expansion.EVENT_TURNS in wanted and events:
        for row in cypher(tx, R.EVENT_TURNS, ids=events, user_id=uid).data():
            parent = by_id[row["event_id"]]
            turns = [native(t) for t in row["turns"]]
            parent.turns = [
                to_memory(
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
    if Expansion.SUPERSESSION in wanted and superseded:
        for row in cypher(tx, R.SUPERSEDING, ids=superseded, user_id=uid).data():
            m = native(row["m"]) if row["m"] else None
            # like every expansion, the fact that replaced it only from inside the window (the
            # superseded fact still says it is no longer true)
            if (
                m
                and m["id"] not in exclude
                and m["id"] not in by_id
                and request.window.contains(m["t"])
            ):
                parent = by_id[row["fact_id"]]
                parent.related.append(
                    to_memory(
                        m,
                        0.0,
                        Why(
                            path=[f"Fact {m['id']}", "SUPERSEDES", f"Fact {parent.id}"],
                            window=parent.why.window,
                        ),
                    )
                )
    for kind, query, rel_name in (
        (Expansion.SAME_DAY, R.SAME_DAY, "ON"),
        (Expansion.SAME_TOPIC, R.SAME_TOPIC, "ABOUT"),
    ):
        if kind not in wanted or not items:
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
                    to_memory(
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
