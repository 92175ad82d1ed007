"""Export one user's subgraph (or a time slice of it) to networkx.

Nodes are keyed by their stable ``id`` and carry ``labels`` plus their properties (without
embeddings); edges carry ``type`` and their properties. A time slice keeps the memories,
snapshots, sessions and days inside the window, and the topics, entities, calendar months and
years, profile and user that connect to them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import networkx as nx

from graph.connection import Neo4jConnection
from graph.cypher import read as R
from graph.rows import native
from schema.nodes import NODE_MODELS
from schema.retrieval import TimeWindow

__all__ = ["to_networkx"]

_CUT = {"Turn", "Event", "Fact", "Procedure", "PersonalitySnapshot", "Session", "Day"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_networkx(
    conn: Neo4jConnection, user_id: str, window: TimeWindow | None = None
) -> nx.MultiDiGraph:
    windowed = window is not None and not window.is_open
    params = {
        "user_id": user_id,
        "start": window.start if window else None,
        "end": window.end if window else None,
    }
    nodes: dict[str, tuple[str, list[str], dict[str, Any]]] = {}
    for model in NODE_MODELS:
        for row in conn.read(R.user_nodes(model.label, windowed=windowed), **params):
            props = {k: v for k, v in native(row["props"]).items() if v is not None}
            nodes[row["eid"]] = (props["id"], row["labels"], props)
    edges = conn.read(R.USER_EDGES, user_id=user_id, eids=list(nodes)) if nodes else []
    graph = nx.MultiDiGraph(user_id=user_id, window=window.describe() if window else "all time")
    keep = set(nodes)
    if windowed:
        # keep the cut nodes plus any uncut node adjacent to a kept cut node
        core = {eid for eid, (_, labels, _) in nodes.items() if _CUT & set(labels)}
        keep = set(core)
        for e in edges:
            for a, b in ((e["src"], e["dst"]), (e["dst"], e["src"])):
                if a in core and b in nodes:
                    keep.add(b)
        for e in edges:  # months -> years, entries -> profile -> user
            if e["src"] in keep and e["dst"] in nodes:
                keep.add(e["dst"])
    for eid in keep:
        node_id, labels, props = nodes[eid]
        graph.add_node(node_id, labels=labels, **{k: _plain(v) for k, v in props.items()})
    for e in edges:
        if e["src"] in keep and e["dst"] in keep:
            graph.add_edge(
                nodes[e["src"]][0],
                nodes[e["dst"]][0],
                key=e["type"],
                type=e["type"],
                **{k: _plain(v) for k, v in native(e["props"]).items()},
            )
    return graph
