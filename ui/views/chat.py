"""Chat: ask, and watch each step live: the thinking, every retrieve with its keywords and
window, the memories with time, type and why, the answer; then what the update stage stored.
An "asked at" time replays a past day; a button ends the session."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import streamlit as st

from agent.policies import describe_policy
from agent.policies.models import model_card
from pipelines.conversation import stream
from schema.errors import PersonaError
from schema.nodes import User
from schema.timeutil import get_tz
from ui import clients
from ui.render import md, show_steps
from ui.updates import show_update

c = clients.get()
if c is None:
    st.stop()
user = st.session_state.get("user")
st.title("Chat")
s = c.app.settings
policy = describe_policy(s)
card = model_card(s.model) if s.policy == "hf" else None
st.caption("answering: " + md(policy) + (f" · trained: {md(card.get('summary'))}" if card else ""))
if not user:
    st.info("Pick a user in the sidebar, or type a new user id to start one.")
    st.stop()
known = {u["id"]: u for u in c.analytics.users()}
if user not in known:
    st.warning(f"User {md(user)} has no memories yet: the first message starts their memory graph.")

tz = get_tz(s.timezone)
left, right = st.columns([3, 1])
with right:
    replay = st.toggle("Replay a past day", key="replay")
    asked_at: datetime | None = None
    if replay:
        day = st.date_input("asked on", key="asked_day")
        clock = st.time_input("at", value=time(12, 0), key="asked_time")
        asked_at = datetime.combine(day, clock).replace(tzinfo=tz)
        st.caption(f"questions are asked at {asked_at:%Y-%m-%d %H:%M} ({s.timezone})")
    if st.button("End session", help="close the open session: episodes, habits, profile"):
        sessions = c.app.store.sessions(user, unconsolidated_only=True)
        if not sessions:
            st.info("No open session.")
        for session in sessions:
            stats = c.app.update_stage.close_session(User(id=user, user_id=user), session)
            st.success(
                f"Closed session {md(session.id)}: {stats.nodes_created} nodes written "
                "(episodes, habits, profile)."
            )

history: list[dict[str, Any]] = st.session_state.setdefault(f"history:{user}", [])


with left:
    for h in history:
        with st.chat_message("user"):
            st.markdown(md(h["question"]))
        with st.chat_message("assistant"):
            box = st.expander("steps", expanded=False)
            for node, upd in h["updates"]:
                show_steps(node, upd, box)
            st.markdown(md(h["answer"]))
            show_update(h.get("update") or {})

    question = st.chat_input("Ask about the past, yours or anyone's you mentioned")
    if question:
        with st.chat_message("user"):
            st.markdown(md(question))
        with st.chat_message("assistant"):
            status = st.status("thinking ...", expanded=True)
            updates: list[tuple[str, dict[str, Any]]] = []
            final: dict[str, Any] = {}
            try:
                for node, upd in stream(
                    c.app,
                    user,
                    question,
                    now=asked_at,
                    checkpointer=c.checkpointer,
                ):
                    if node == "final":
                        final = upd
                        continue
                    updates.append((node, upd))
                    show_steps(node, upd, status)
                status.update(label="steps", state="complete", expanded=True)
            except PersonaError as exc:  # e.g. the model server does not answer
                status.update(label="failed", state="error")
                st.error(f"The answer failed: {md(exc.message)}")
                if exc.hint:
                    st.info(f"Fix: {md(exc.hint)}")
                st.stop()
            except Exception as exc:  # the server went away mid-answer: say so, keep going
                status.update(label="failed", state="error")
                st.error(f"The answer failed: {md(exc)}. Start Neo4j with `persona db start`.")
                st.stop()
            answer = final.get("answer") or ""
            st.markdown(md(answer))
            show_update(final.get("update") or {})
        history.append(
            {
                "question": question,
                "answer": answer,
                "updates": updates,
                "update": final.get("update"),
            }
        )
