"""Timeline analytics and the graph explorer over one user's memory: the one home of their
logic (the Cypher is in :mod:`graph.cypher.analytics`). ``persona analytics`` and the
Streamlit pages call the same functions.

- activity by day, week or month; topics over time; what superseded what, and when;
  habits and goals over time; the Big-Five trajectory with the evidence turn of every
  snapshot, and drift (which trait moved most in a window, and which turns moved it);
- time as predicates on indexed properties: what was true *as of* a date, memories before /
  after / between times, the duration between two memories;
- networkx on the exported subgraph: central entities and topics (PageRank), topic
  communities (Louvain), co-occurrence of entities and topics in the same memory;
- a bounded explorer view ("showing N of M") and a node's details: properties, provenance,
  supersession chain, neighbours.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from itertools import combinations
from typing import Any

import networkx as nx

from graph.connection import Neo4jConnection
from graph.connection import run as cypher
from graph.cypher import analytics as A
from graph.rows import from_epoch, local_times, native
from schema.analytics import (
    ActivityRow,
    AsOf,
    Centrality,
    Community,
    CoOccurrence,
    Drift,
    DriftTurn,
    ExplorerEdge,
    ExplorerNode,
    ExplorerView,
    FactChange,
    NodeDetail,
    PersonalityPoint,
    ProcedureSpan,
    TimedMemory,
    TopicCount,
    Unit,
)
from schema.errors import ConfigError
from schema.nodes import NODE_MODELS, TRAITS, MemoryKind
from schema.retrieval import TimeWindow

__all__ = [
    "EXPLORER_LABELS",
    "Analytics",
]

#: labels the explorer can show (every node model)
EXPLORER_LABELS: tuple[str, ...] = tuple(m.label for m in NODE_MODELS)
_UNITS = ("day", "week", "month")


def _window(window: TimeWindow | None) -> dict[str, Any]:
    w = window or TimeWindow()
    return {"start": w.start, "end": w.end}


def _caption(label: str, props: dict[str, Any]) -> str:
    for key in ("text", "name", "key", "source_id"):
        if props.get(key):
            text = str(props[key])
            return text if len(text) <= 60 else text[:57] + "..."
    if label == "Day":
        return str(props.get("date"))
    if label == "PersonalitySnapshot":
        return f"Big Five #{props.get('step')}"
    return label


def _view_node(row: list[Any]) -> ExplorerNode:
    """One node of the explorer's view (see :func:`graph.cypher.analytics.explorer_view`):
    what its caption and place in time need; a click loads the rest."""
    nid, lbl, seconds, nanos, text, day, step, owner = row
    props = {"text": text, "date": day, "step": step}
    return ExplorerNode(
        id=nid,
        label=lbl,
        caption=_caption(lbl, props),
        t=from_epoch([seconds, nanos]) if seconds is not None else None,
        props={"user_id": owner},
    )


def _node(row: dict[str, Any]) -> ExplorerNode:
    props = {k: v for k, v in native(row["props"]).items() if v is not None}
    t = props.get("t") or props.get("start")
    return ExplorerNode(
        id=row["id"],
        label=row["label"],
        caption=_caption(row["label"], props),
        t=t if isinstance(t, datetime) else None,
        props=props,
    )


class Analytics:
    """Read-only analytics for one connection; every method takes the user explicitly."""

    def __init__(self, conn: Neo4jConnection) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ timeline
    def activity(
        self, user_id: str, unit: Unit = "week", window: TimeWindow | None = None
    ) -> list[ActivityRow]:
        """Turns, sessions, facts and events per day, week or month (local days)."""
        if unit not in _UNITS:
            raise ConfigError(f"unknown unit {unit!r}", hint=f"use one of {', '.join(_UNITS)}")
        w = window or TimeWindow()
        rows = self.conn.read(
            A.ACTIVITY(w.start is not None, w.end is not None),
            user_id=user_id,
            unit=unit,
            **_window(w),
        )
        out: dict[Any, ActivityRow] = {}
        for r in rows:
            period = native(r["period"])
            row = out.setdefault(period, ActivityRow(period=period))
            kind = r["kind"]
            if kind == MemoryKind.TURN.value:
                row.turns += r["n"]
                row.sessions += r["sessions"]
            elif kind == MemoryKind.FACT.value:
                row.facts += r["n"]
            elif kind == MemoryKind.EVENT.value:
                row.events += r["n"]
        return sorted(out.values(), key=lambda a: a.period)

    def topics_over_time(
        self, user_id: str, unit: Unit = "month", window: TimeWindow | None = None, top: int = 8
    ) -> list[TopicCount]:
        """How often the ``top`` topics come up per period."""
        w = window or TimeWindow()
        rows = self.conn.read(
            A.TOPICS(w.start is not None, w.end is not None),
            user_id=user_id,
            unit=unit,
            **_window(w),
        )
        totals: Counter[str] = Counter()
        for r in rows:
            totals[r["topic"]] += r["n"]
        keep = {t for t, _ in totals.most_common(top)}
        return [
            TopicCount(period=native(r["period"]), topic=r["topic"], count=r["n"])
            for r in rows
            if r["topic"] in keep
        ]

    def fact_changes(self, user_id: str, window: TimeWindow | None = None) -> list[FactChange]:
        """What superseded what (facts, habits and goals, profile entries), and when."""
        out = []
        for raw in self.conn.read(A.FACT_CHANGES, user_id=user_id, **_window(window)):
            # in the local time the replacing statement was said in, like every listing
            r = local_times(native(raw), ("at", "old_from"))
            held = None
            if r["old_from"] and r["at"]:
                held = round((r["at"] - r["old_from"]).total_seconds() / 86400, 1)
            out.append(
                FactChange(
                    at=r["at"],
                    label=r["label"],
                    slot=r["slot"],
                    old_id=r["old_id"],
                    old_text=r["old_text"] or "",
                    new_id=r["new_id"],
                    new_text=r["new_text"] or "",
                    held_days=held,
                )
            )
        return out

    def procedures(self, user_id: str) -> list[ProcedureSpan]:
        """Habits and goals with the time each held (start, end when replaced)."""
        return [
            ProcedureSpan(**native(r)) for r in self.conn.read(A.PROCEDURE_SPANS, user_id=user_id)
        ]

    def personality(self, user_id: str) -> list[PersonalityPoint]:
        """The Big-Five trajectory, each snapshot with the turn that moved it."""
        out = []
        for r in self.conn.read(A.SNAPSHOTS, user_id=user_id):
            s = native(r["s"])
            out.append(
                PersonalityPoint(
                    step=s["step"],
                    t=s["t"],
                    traits={t: float(s[t]) for t in TRAITS},
                    observed=[None if v == 0 else v for v in s.get("observed", [])],
                    weight=float(s.get("weight", 0.0)),
                    turn_id=s.get("turn_id"),
                    turn_text=r["turn_text"],
                )
            )
        return out

    def drift(self, user_id: str, window: TimeWindow | None = None, top: int = 3) -> Drift:
        """Which trait moved most inside the window, and the ``top`` turns that moved it."""
        w = window or TimeWindow()
        points = self.personality(user_id)
        prior = [p for p in points if w.start is not None and p.t < w.start]
        inside = [p for p in points if w.contains(p.t)]
        if not inside:
            return Drift(trait=None, delta=0.0, start=w.start, end=w.end, by_trait={})
        base = prior[-1] if prior else None
        first = base.traits if base else {t: 3.0 for t in TRAITS}
        last = inside[-1].traits
        by_trait = {t: round(last[t] - first[t], 4) for t in TRAITS}
        trait = max(by_trait, key=lambda t: abs(by_trait[t]))
        moves = []
        previous = first
        for p in inside:
            moves.append(
                DriftTurn(
                    step=p.step,
                    t=p.t,
                    turn_id=p.turn_id,
                    turn_text=p.turn_text,
                    delta=round(p.traits[trait] - previous[trait], 4),
                )
            )
            previous = p.traits
        moves.sort(key=lambda m: -abs(m.delta))
        return Drift(
            trait=trait,
            delta=by_trait[trait],
            start=w.start,
            end=w.end,
            by_trait=by_trait,
            turns=moves[:top],
        )

    # ------------------------------------------------------------------ time queries
    def as_of(self, user_id: str, at: datetime) -> AsOf:
        """What was true at ``at``: facts and habits/goals begun before it and not yet
        closed, and the profile entries valid then."""
        rows = [local_times(native(r)) for r in self.conn.read(A.ACTIVE_AT, user_id=user_id, at=at)]
        memories = [TimedMemory(**r) for r in rows]
        profile = {
            r["key"]: r["value"]
            for r in self.conn.read(A.PROFILE_AT, user_id=user_id, at=at)
            if r["value"] is not None
        }
        return AsOf(
            at=at,
            facts=[m for m in memories if m.kind == "fact"],
            procedures=[m for m in memories if m.kind == "procedure"],
            profile=profile,
        )

    def between(
        self,
        user_id: str,
        window: TimeWindow,
        kinds: list[MemoryKind] | None = None,
        limit: int = 200,
    ) -> list[TimedMemory]:
        """Memories before (end only), after (start only) or between two times."""
        return [
            TimedMemory(**local_times(native(r)))
            for r in self.conn.read(
                A.BETWEEN(window.start is not None, window.end is not None),
                user_id=user_id,
                kinds=[k.value for k in kinds or list(MemoryKind)],
                limit=limit,
                **_window(window),
            )
        ]

    def duration(self, user_id: str, a: str, b: str) -> dict[str, Any]:
        """The time between two memories of the user (Cypher's duration.between)."""
        rows = self.conn.read(A.DURATION, user_id=user_id, a=a, b=b)
        if not rows:
            raise ConfigError(
                f"no memories {a!r} and {b!r} for user {user_id!r}",
                hint="take the ids from `persona memories --user ...`",
            )
        r = native(rows[0])
        return {"from": r["a_t"], "to": r["b_t"], "days": r["days"], "iso": str(rows[0]["d"])}

    # ------------------------------------------------------------------ networkx
    def _topic_graph(self, user_id: str, window: TimeWindow | None) -> nx.Graph:
        """Memories linked to the topics and entities they are ABOUT / MENTION."""
        w = window or TimeWindow()
        query = A.TAG_LINKS(w.start is not None, w.end is not None)
        bipartite = nx.Graph()
        for r in self.conn.read(query, user_id=user_id, start=w.start, end=w.end):
            bipartite.add_node(r["memory"], label=r["memory_label"], name=r["memory"])
            bipartite.add_node(r["tag"], label=r["tag_label"], name=r["name"] or r["tag"])
            bipartite.add_edge(r["memory"], r["tag"])
        return bipartite

    def central(
        self, user_id: str, window: TimeWindow | None = None, top: int = 10
    ) -> list[Centrality]:
        """Entities and topics by PageRank over the memory-topic/entity graph."""
        g = self._topic_graph(user_id, window)
        if g.number_of_nodes() == 0:
            return []
        rank = nx.pagerank(g)
        tags = [n for n in g.nodes if g.nodes[n]["label"] in ("Topic", "Entity")]
        tags.sort(key=lambda n: -rank[n])
        return [
            Centrality(
                id=n,
                name=str(g.nodes[n]["name"]),
                label=g.nodes[n]["label"],
                score=round(rank[n], 6),
                degree=int(g.degree(n)),
            )
            for n in tags[:top]
        ]

    def cooccurrence(
        self, user_id: str, window: TimeWindow | None = None, top: int = 15
    ) -> list[CoOccurrence]:
        """Pairs of topics/entities that the same memories are about."""
        g = self._topic_graph(user_id, window)
        pairs: Counter[tuple[str, str]] = Counter()
        for n in g.nodes:
            if g.nodes[n]["label"] in ("Topic", "Entity"):
                continue
            tags = sorted({str(g.nodes[m]["name"]) for m in g.neighbors(n)})
            pairs.update(combinations(tags, 2))
        return [CoOccurrence(a=a, b=b, count=c) for (a, b), c in pairs.most_common(top)]

    def communities(
        self, user_id: str, window: TimeWindow | None = None, seed: int = 7
    ) -> list[Community]:
        """Topic communities: Louvain on the topic/entity co-occurrence graph."""
        g = self._topic_graph(user_id, window)
        co: nx.Graph = nx.Graph()
        weights: dict[tuple[str, str], int] = defaultdict(int)
        for n in g.nodes:
            if g.nodes[n]["label"] in ("Topic", "Entity"):
                continue
            tags = sorted({str(g.nodes[m]["name"]) for m in g.neighbors(n)})
            for a, b in combinations(tags, 2):
                weights[(a, b)] += 1
        for (a, b), w in weights.items():
            co.add_edge(a, b, weight=w)
        if co.number_of_nodes() == 0:
            return []
        groups = nx.community.louvain_communities(co, weight="weight", seed=seed)
        ordered = sorted(groups, key=lambda c: (-len(c), sorted(c)))
        return [Community(index=i, members=sorted(c), size=len(c)) for i, c in enumerate(ordered)]

    # ------------------------------------------------------------------ explorer
    def explore(
        self,
        user_id: str,
        *,
        labels: list[str] | None = None,
        window: TimeWindow | None = None,
        limit: int = 300,
    ) -> ExplorerView:
        """The newest ``limit`` nodes of the chosen labels and the edges among them, with the
        count of all that match (the view says "showing N of M")."""
        chosen = [x for x in (labels or EXPLORER_LABELS)]
        unknown = [x for x in chosen if x not in EXPLORER_LABELS]
        if unknown:
            raise ConfigError(
                f"unknown node type(s) {', '.join(map(repr, unknown))}",
                hint=f"use any of {', '.join(EXPLORER_LABELS)}",
            )
        if not 1 <= limit <= 5000:
            raise ConfigError(f"limit {limit} is out of range", hint="use 1..5000")
        w = window or TimeWindow()
        has = (w.start is not None, w.end is not None)
        params = {"user_id": user_id, "labels": chosen, **_window(w)}

        def work(tx: Any) -> ExplorerView:
            row = cypher(tx, A.explorer_view(chosen, *has), limit=limit, **params).single(
                strict=True
            )
            nodes = [_view_node(r) for r in row["nodes"]]
            shown = {n.id for n in nodes}
            edges = {  # by id: an edge is shown once
                e.id: e
                for e in (ExplorerEdge.between(s, rel, d) for rel, s, d in row["edges"])
                if e.target in shown
            }
            return ExplorerView(
                nodes=nodes,
                edges=list(edges.values()),
                total=int(row["total"]),
                shown=len(nodes),
                labels=dict(Counter(n.label for n in nodes)),
            )

        return self.conn.read_tx(work)

    def detail(self, user_id: str, node_id: str, node_label: str, limit: int = 25) -> NodeDetail:
        """One node: its properties, the turns it was derived from, its supersession chain
        (oldest first) and its neighbours (at most ``limit``)."""
        if node_label not in EXPLORER_LABELS:
            raise ConfigError(f"unknown node type {node_label!r}", hint="pick a node in the view")
        params = {"user_id": user_id, "id": node_id}

        def work(tx: Any) -> NodeDetail:
            rows = cypher(tx, A.node(node_label), **params).data()
            if not rows:
                raise ConfigError(
                    f"no {node_label} {node_id!r} for user {user_id!r}",
                    hint="it may have been forgotten; refresh the view",
                )
            chain = cypher(tx, A.supersession(node_label), **params).data()
            return NodeDetail(
                node=_node(rows[0]),
                provenance=[
                    _node(r) for r in cypher(tx, A.provenance(node_label), **params).data()
                ],
                supersession=[_node(r) for r in chain] if len(chain) > 1 else [],
                neighbours=[
                    (r["direction"], r["type"], _node(r))
                    for r in cypher(tx, A.neighbours(node_label), limit=limit, **params).data()
                ],
            )

        return self.conn.read_tx(work)

    def users(self) -> list[dict[str, Any]]:
        """The users of this server: id, name, number of sessions."""
        return [dict(r) for r in self.conn.read(A.USERS)]

    def labels(self, user_id: str) -> dict[str, int]:
        """How many nodes of each label the user has."""
        rows = self.conn.read(A.count_by_label(list(EXPLORER_LABELS)), user_id=user_id)
        return {r["label"]: int(r["n"]) for r in rows}
