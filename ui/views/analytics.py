"""Timeline and analytics of one user: activity, topics over time, what changed, habits and
goals, the Big-Five trajectory with its evidence and drift, what was true as of a date, the
memories before / after / between the page's dates and the duration between two memories,
and the central entities and topic communities (networkx on the exported subgraph)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import cast

import pandas as pd
import streamlit as st

from schema.analytics import TimedMemory, Unit
from schema.errors import PersonaError
from schema.nodes import TRAITS, MemoryKind
from schema.retrieval import TimeWindow
from schema.timeutil import format_time, get_tz
from ui import clients
from ui.render import md

c = clients.get()
if c is None:
    st.stop()
user = st.session_state.get("user")
st.title("Timeline & analytics")
if not user:
    st.info("Pick a user in the sidebar.")
    st.stop()
an = c.analytics
tz = get_tz(c.app.settings.timezone)

cols = st.columns([1, 1, 1, 1])
unit = cols[0].selectbox("per", ["day", "week", "month"], index=1, key="unit", bind="query-params")
start = cols[1].date_input("from", value=None, key="from", bind="query-params")
end = cols[2].date_input("to", value=None, key="to", bind="query-params")
as_of = cols[3].date_input("as of", value=None, key="asof", bind="query-params")


def _bound(d: date | None) -> datetime | None:
    return datetime.combine(d, time(0)).replace(tzinfo=tz) if d else None


try:
    window = TimeWindow(start=_bound(start), end=_bound(end))
except ValueError:
    st.error(f"The window's start ({start}) is not before its end ({end}): swap or clear them.")
    st.stop()

per = cast(Unit, unit)
activity = an.activity(user, per, window)
if not activity:
    st.info(f"{md(user)} has no memories in this window.")
    st.stop()

moment = _bound(as_of)
if moment is not None:  # above the tabs: it answers for every section
    state = an.as_of(user, moment)
    with st.container(border=True):
        st.markdown(f"**True as of {as_of}**")
        st.markdown("**facts**: " + ("; ".join(md(f.text) for f in state.facts) or "none"))
        st.markdown(
            "**habits and goals**: " + ("; ".join(md(p.text) for p in state.procedures) or "none")
        )
        if state.profile:
            st.markdown(
                "**profile**: " + "; ".join(f"{md(k)}: {md(v)}" for k, v in state.profile.items())
            )

# One section at a time: a tab's content runs only while it is open (lazy tabs, kept in the
# URL with the filters), so the page draws one chart on arrival instead of four. The default
# tab is fixed: a default that changed with another widget would make the tabs a new widget
# and jump back to it.
TABS = ["Activity", "Topics", "What changed", "Big Five", "Before / after", "Entities"]
activity_tab, topics_tab, changes_tab, big5_tab, time_tab, entities_tab = st.tabs(
    TABS, key="tab", bind="query-params"
)

with activity_tab:
    if activity_tab.open:
        frame = pd.DataFrame([a.model_dump() for a in activity]).set_index("period")
        st.bar_chart(frame[["turns", "facts", "events"]])

with topics_tab:
    if topics_tab.open:
        topics = an.topics_over_time(user, per, window)
        if topics:
            tf = pd.DataFrame([t.model_dump() for t in topics])
            st.line_chart(
                tf.pivot_table(index="period", columns="topic", values="count", fill_value=0)
            )
        else:
            st.caption("no topics in this window")

with changes_tab:
    if changes_tab.open:
        left, right = st.columns(2)
        with left:
            st.subheader("What changed")
            changes = an.fact_changes(user, window)
            if changes:
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                "when": ch.at.strftime("%Y-%m-%d"),
                                "type": ch.label,
                                "before": ch.old_text,
                                "after": ch.new_text,
                                "held (days)": ch.held_days,
                            }
                            for ch in changes
                        ]
                    ),
                    hide_index=True,
                )
            else:
                st.caption("nothing was superseded in this window")
        with right:
            st.subheader("Habits and goals")
            spans = an.procedures(user)
            if spans:
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                "type": p.type,
                                "what": p.text,
                                "from": p.start.strftime("%Y-%m-%d"),
                                "until": p.end.strftime("%Y-%m-%d") if p.end else "now",
                            }
                            for p in spans
                        ]
                    ),
                    hide_index=True,
                )
            else:
                st.caption("no habits or goals recorded")

with big5_tab:
    if big5_tab.open:
        points = an.personality(user)
        if points:
            pf = pd.DataFrame([{"step": p.step, **p.traits} for p in points]).set_index("step")
            st.line_chart(pf[list(TRAITS)])
            drift = an.drift(user, window)
            if drift.trait:
                st.metric(f"moved most: {drift.trait}", f"{drift.delta:+.2f}")
                for turn in drift.turns:
                    st.markdown(f"- {turn.delta:+.2f} after: {md(turn.turn_text or turn.turn_id)}")
            with st.expander("evidence of every snapshot"):
                st.dataframe(
                    pd.DataFrame(
                        [
                            {"step": p.step, "when": p.t, "evidence turn": p.turn_text}
                            for p in points
                        ]
                    ),
                    hide_index=True,
                )
        else:
            st.caption(
                "no personality snapshots (the model-free extractor makes no personality claims)"
            )


def _label(m: TimedMemory) -> str:
    text = m.text if len(m.text) <= 70 else m.text[:69] + "…"
    return f"{format_time(m.t)} · {m.kind} · {text}"


with time_tab:
    if time_tab.open:
        st.subheader("Before / after / between")
        kinds = st.multiselect(
            "types",
            [k.value for k in MemoryKind],
            default=[k.value for k in MemoryKind],
            key="time_kinds",
        )
        chosen = [MemoryKind(k) for k in kinds]
        listed: list[TimedMemory] = []
        if window.start is None and window.end is None:
            st.caption(
                "Set **from** (what came after), **to** (what came before) or both (what "
                "came between) above."
            )
        elif chosen:
            listed = an.between(user, window, chosen, limit=200)
            if window.start is not None and window.end is not None:
                what = f"between {start} and {end}"
            else:
                what = f"after {start}" if window.start is not None else f"before {end}"
            st.caption(f"{len(listed)} memories {what} (200 at most)")
            if listed:
                st.dataframe(
                    pd.DataFrame(
                        [
                            {"time": format_time(m.t), "type": m.kind, "text": m.text, "id": m.id}
                            for m in listed
                        ]
                    ),
                    hide_index=True,
                )
        st.subheader("Duration between two memories")
        pool = listed or an.between(user, TimeWindow(), chosen or list(MemoryKind), limit=500)
        by_id = {m.id: m for m in pool}
        st.caption("pick two of the memories listed (narrow them with from / to and the types)")
        first, second = st.columns(2)
        a = first.selectbox(
            "first", list(by_id), index=None, key="dur_a", format_func=lambda i: _label(by_id[i])
        )
        b = second.selectbox(
            "second", list(by_id), index=None, key="dur_b", format_func=lambda i: _label(by_id[i])
        )
        if a and b:
            try:
                d = an.duration(user, a, b)
            except PersonaError as exc:
                st.error(md(exc.message))
            else:
                days = d["days"]
                st.metric("duration", f"{abs(days)} days" + (" earlier" if days < 0 else ""))
                st.caption(
                    f"from {format_time(d['from'])} to {format_time(d['to'])} "
                    f"(Cypher duration {md(d['iso'])})"
                )

with entities_tab:
    if entities_tab.open:
        central = an.central(user, window)
        if central:
            cf = pd.DataFrame([{"name": x.name, "PageRank": x.score} for x in central])
            st.bar_chart(cf.set_index("name"))
            groups = an.communities(user, window)
            st.markdown("**topic communities**")
            for g in groups[:6]:
                st.markdown(f"- {', '.join(md(m) for m in g.members[:12])}")
            pairs = an.cooccurrence(user, window)
            if pairs:
                st.dataframe(pd.DataFrame([p.model_dump() for p in pairs]), hide_index=True)
        else:
            st.caption("no topics or entities to rank")
