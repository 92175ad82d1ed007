"""Memory admin: list a user's memories, and forget one memory, a session, a time range or the
whole user, after a preview of everything that would be removed (derived memories included)
and an explicit confirmation; then a report of exactly what was removed."""

from __future__ import annotations

from datetime import date, datetime, time

import pandas as pd
import streamlit as st

from graph.forget import plan_forget
from pipelines.forget import forget
from schema.errors import PersonaError
from schema.forget import ForgetScope
from schema.nodes import MemoryKind
from schema.retrieval import TimeWindow
from schema.timeutil import format_time, get_tz
from ui import clients
from ui.render import md

c = clients.get()
if c is None:
    st.stop()
user = st.session_state.get("user")
st.title("Memory admin")
if not user:
    st.info("Pick a user in the sidebar.")
    st.stop()
tz = get_tz(c.app.settings.timezone)

kinds = st.multiselect(
    "types", [k.value for k in MemoryKind], default=[k.value for k in MemoryKind], key="kinds"
)
rows = c.app.store.list_memories(user, [MemoryKind(k) for k in kinds], TimeWindow(), 500)
st.caption(f"{len(rows)} memories (newest 500 at most)")
if rows:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "id": r.id,
                    "time": format_time(r.t),
                    "type": r.kind.value,
                    "session": r.session_id,
                    "text": r.text,
                }
                for r in rows
            ]
        ),
        hide_index=True,
    )

st.subheader("Forget")
what = st.radio(
    "what", ["one memory", "a session", "a time range", "the whole user"], horizontal=True
)


def _bound(d: date | None) -> datetime | None:
    return datetime.combine(d, time(0)).replace(tzinfo=tz) if d else None


scope: ForgetScope | None = None
try:
    if what == "one memory":
        mid = st.text_input("memory id (from the table above)")
        scope = ForgetScope(user_id=user, memory_id=mid.strip()) if mid.strip() else None
    elif what == "a session":
        sid = st.selectbox("session", [s.id for s in c.app.store.sessions(user)], index=None)
        scope = ForgetScope(user_id=user, session_id=sid) if sid else None
    elif what == "a time range":
        a, b = st.columns(2)
        start = a.date_input("from", value=None, key="forget_from")
        end = b.date_input("to (exclusive)", value=None, key="forget_to")
        if start or end:
            scope = ForgetScope(
                user_id=user,
                window=TimeWindow(start=_bound(start), end=_bound(end)),
            )
    else:
        scope = ForgetScope(user_id=user, everything=True)
except ValueError as exc:
    st.error(f"That scope is not valid: {md(exc)}")

if scope is not None and st.button("Preview what would be forgotten"):
    try:
        st.session_state["forget_plan"] = plan_forget(c.app.conn, scope)
    except PersonaError as exc:
        st.error(md(exc.message))
        st.session_state.pop("forget_plan", None)

plan = st.session_state.get("forget_plan")
if plan is not None and plan.scope == scope:
    if plan.empty:
        st.info("Nothing to forget in that scope.")
    else:
        st.warning(
            f"Forgetting {md(plan.scope.describe())} removes {len(plan.remove)} nodes: "
            + ", ".join(f"{n} {lbl}" for lbl, n in plan.counts().items())
        )
        st.dataframe(
            pd.DataFrame([i.model_dump() for i in plan.remove])[["label", "id", "text", "why"]],
            hide_index=True,
        )
        if plan.reactivate:
            st.caption(
                "current again (what they had replaced is forgotten): "
                + "; ".join(md(i.text) for i in plan.reactivate)
            )
        if plan.bridges:
            st.caption(
                "replaced directly by a later version (the one between is forgotten): "
                + "; ".join(f"{md(b.old.text)} -> {md(b.new_text)}" for b in plan.bridges)
            )
        sure = st.checkbox("I understand this cannot be undone")
        if st.button("Forget", type="primary", disabled=not sure):
            removed = forget(c.app, plan, saver=c.checkpointer)
            st.session_state.pop("forget_plan", None)
            st.success(
                "Forgot " + ", ".join(f"{n} {lbl}" for lbl, n in sorted(removed.items()))
                if removed
                else "Nothing was left to forget."
            )
