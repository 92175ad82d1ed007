"""Graph explorer: one user's memory as an interactive graph (st-link-analysis, Cytoscape.js
bundled in its wheel). Filter by node type and time range, search to focus a memory, click a
node for its properties, provenance, supersession chain and neighbours, expand on demand.
The view is bounded and says so ("showing N of M")."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import streamlit as st
from st_link_analysis import EdgeStyle, Event, NodeStyle, st_link_analysis

from graph.analytics import EXPLORER_LABELS
from schema.analytics import ExplorerEdge, ExplorerNode, ExplorerView
from schema.errors import PersonaError
from schema.retrieval import RetrievalRequest, TimeWindow
from schema.timeutil import get_tz
from ui import clients
from ui.render import md

COLORS = {
    "Turn": "#4C78A8",
    "Event": "#F58518",
    "Fact": "#54A24B",
    "Procedure": "#B279A2",
    "Session": "#9D755D",
    "Day": "#BAB0AC",
    "Month": "#BAB0AC",
    "Year": "#BAB0AC",
    "Topic": "#E45756",
    "Entity": "#72B7B2",
    "PersonalitySnapshot": "#EECA3B",
    "ProfileEntry": "#FF9DA6",
    "CoreProfile": "#FF9DA6",
    "User": "#000000",
}
DEFAULT_TYPES = ["Turn", "Event", "Fact", "Procedure", "Topic", "Entity"]

c = clients.get()
if c is None:
    st.stop()
user = st.session_state.get("user")
st.title("Graph explorer")
if not user:
    st.info("Pick a user in the sidebar.")
    st.stop()

with st.expander("filters", expanded=True):
    cols = st.columns([3, 1, 1, 1])
    types = cols[0].multiselect(
        "node types",
        list(EXPLORER_LABELS),
        default=DEFAULT_TYPES,
        key="types",
        bind="query-params",
    )
    start = cols[1].date_input("from", value=None, key="from", bind="query-params")
    end = cols[2].date_input("to", value=None, key="to", bind="query-params")
    limit = cols[3].number_input(
        "at most",
        min_value=10,
        max_value=2000,
        value=300,
        step=50,
        key="n",
        bind="query-params",
    )
    query = st.text_input("search to focus a memory", key="q", bind="query-params")

tz = get_tz(c.app.settings.timezone)


def _bound(d: date | None) -> datetime | None:
    return datetime.combine(d, time(0)).replace(tzinfo=tz) if d else None


try:
    window = TimeWindow(start=_bound(start), end=_bound(end))
except ValueError:
    st.error(f"The window's start ({start}) is not before its end ({end}): swap or clear them.")
    st.stop()
if not types:
    st.warning("Choose at least one node type.")
    st.stop()
try:
    view: ExplorerView = c.analytics.explore(user, labels=types, window=window, limit=int(limit))
except PersonaError as exc:
    st.error(md(exc.message))
    st.stop()

focus: tuple[str, str] | None = None  # (id, label)
if query and query.strip():
    hits = c.app.store.retrieve(RetrievalRequest(user_id=user, query=query, k=5, window=window))
    if hits.items:
        focus = (hits.items[0].id, hits.items[0].kind.label)
        st.caption(f"focus: {md(hits.items[0].text[:120])}")
    else:
        st.caption("nothing matches that search")

# nodes expanded on demand: id -> label (their neighbours join the view)
expanded: dict[str, str] = st.session_state.setdefault(f"expanded:{user}", {})
nodes: dict[str, ExplorerNode] = {n.id: n for n in view.nodes}
edges: dict[str, dict[str, Any]] = {e.id: e.model_dump() for e in view.edges}  # by id: once each
grow = dict(expanded)
if focus:
    grow[focus[0]] = focus[1]
for nid, lbl in grow.items():
    try:
        detail = c.analytics.detail(user, nid, lbl)
    except PersonaError:  # forgotten meanwhile
        continue
    nodes.setdefault(detail.node.id, detail.node)
    for direction, rel, n in detail.neighbours:
        nodes.setdefault(n.id, n)
        src, dst = (detail.node.id, n.id) if direction == "out" else (n.id, detail.node.id)
        edge = ExplorerEdge.between(src, rel, dst)
        edges[edge.id] = edge.model_dump()

if view.total == 0 and not nodes:
    st.info(f"{md(user)} has no memories of these types in this window.")
    st.stop()
shown = len(nodes)
st.caption(
    f"showing {shown} of {view.total} nodes"
    + (" (bounded: narrow the filters)" if view.total > view.shown else "")
)

elements = {
    "nodes": [
        {"data": {"id": n.id, "label": n.label, "caption": n.caption}} for n in nodes.values()
    ],
    "edges": [
        {"data": {"id": e["id"], "label": e["type"], "source": e["source"], "target": e["target"]}}
        for e in edges.values()
        if e["source"] in nodes and e["target"] in nodes
    ],
}
node_styles = [
    NodeStyle(lbl, COLORS.get(lbl, "#888888"), "caption")
    for lbl in sorted({n.label for n in nodes.values()})
]
edge_styles = [
    # labeled=None: st-link-analysis 0.4 warns about its deprecated `labeled` whenever it is
    # not None, and its own default is False
    EdgeStyle(t, caption="label", labeled=None, directed=True)
    for t in sorted({e["type"] for e in edges.values()})
]
event = st_link_analysis(
    elements,
    layout="cose",
    node_styles=node_styles,
    edge_styles=edge_styles,
    height=560,
    key="graph",
    events=[Event("clicked_node", "click tap", "node")],
)

selected = None
if isinstance(event, dict) and event.get("action") == "clicked_node":
    selected = (event.get("data") or {}).get("target_id")
selected = selected or (focus[0] if focus else None)
if selected and selected in nodes:
    node = nodes[selected]
    detail = c.analytics.detail(user, node.id, node.label)
    st.subheader(f"{node.label}: {md(node.caption)}")
    left, right = st.columns(2)
    with left:
        st.markdown("**properties**")
        st.json({k: str(v) for k, v in detail.node.props.items()}, expanded=False)
        if detail.provenance:
            st.markdown("**derived from**")
            for t in detail.provenance:
                st.markdown(
                    f"- `{t.t:%Y-%m-%d %H:%M}` {md(t.caption)}" if t.t else f"- {md(t.caption)}"
                )
        if detail.supersession:
            st.markdown("**versions (oldest first)**")
            for v in detail.supersession:
                st.markdown(f"- {md(v.caption)}" + (" ← this one" if v.id == node.id else ""))
    with right:
        st.markdown(f"**neighbours** ({len(detail.neighbours)})")
        for direction, rel, n in detail.neighbours:
            arrow = "→" if direction == "out" else "←"
            st.markdown(f"- {arrow} {rel} {n.label}: {md(n.caption)}")
        if st.button("expand this node", key=f"expand:{node.id}"):
            expanded[node.id] = node.label
            st.rerun()
if expanded and st.button("collapse expansions"):
    expanded.clear()
    st.rerun()
