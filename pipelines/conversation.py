"""Running the agent for a person: one question, streamed step by step. :func:`stream` yields
each node's update as it happens (the Streamlit chat renders them); :func:`ask` prints them in
the terminal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Checkpointer
from rich.console import Console

from agent.graph import AgentState, build_agent
from agent.session import chat_session_id, resolve_session
from pipelines.app import App
from pipelines.terminal import plural, shown
from schema.timeutil import UTC, get_tz

__all__ = ["ask", "remembered", "stream", "thread_id"]


def thread_id(app: App, user_id: str, now: datetime) -> str:
    """Thread = user + session: the open session, or the one this message will start."""
    session, _ = resolve_session(app.store, user_id, now, app.settings.session_gap_minutes)
    return f"{user_id}:{session.id if session else chat_session_id(user_id, now)}"


def remembered(u: dict[str, Any]) -> str:
    """What the update stage stored, counted (the terminal and the chat page both say it).

    >>> remembered({"turn_ids": ["a", "b"], "facts": ["f"], "supersessions": 0})
    'remembered: 2 turns, 1 fact, 0 supersessions'
    """
    return (
        f"remembered: {plural(len(u.get('turn_ids', [])), 'turn')}, "
        f"{plural(len(u.get('facts', [])), 'fact')}, "
        f"{plural(u.get('supersessions', 0), 'supersession')}"
    )


def _render_update(console: Console, node: str, update: dict[str, Any]) -> None:
    for step in update.get("steps") or []:
        kind = step["kind"]
        if step.get("think"):
            console.print(f"[magenta]think[/magenta] {shown(step['think'])}")
        if step.get("issues"):
            console.print(f"[yellow]  output issues: {shown(', '.join(step['issues']))}[/yellow]")
        if kind in ("repair", "fallback", "forced", "grounded") and step.get("note"):
            console.print(f"[yellow]{kind}[/yellow] {shown(step['note'])}")
        if kind == "retrieve":
            req = step.get("request") or {}
            console.print(
                f"[cyan]retrieve[/cyan] keywords={shown(str(req.get('keywords')))} "
                f"types={shown(str(req.get('types') or 'all'))} "
                f"window {shown(str(step.get('window')))}"
                + (f" [dim]({shown(step['note'])})[/dim]" if step.get("note") else "")
            )
            for line in step.get("memories") or ["(nothing found)"]:
                console.print(f"   [dim]{shown(line)}[/dim]")
    if node == "answer" and update.get("answer"):
        console.print(f"[bold green]answer[/bold green] {shown(update['answer'])}")
    if node == "update" and update.get("update") and not update["update"].get("skipped"):
        u = update["update"]
        console.print(
            f"[dim]{remembered(u)}"
            + (f", personality step {u['personality_step']}" if u.get("personality_step") else "")
            + (
                f", closed sessions {shown(str(u['closed_sessions']))}"
                if u.get("closed_sessions")
                else ""
            )
            + f" ({u.get('elapsed_ms', 0):.0f} ms)[/dim]"
        )


def stream(
    app: App,
    user_id: str,
    question: str,
    *,
    now: datetime | None = None,
    mode: str = "reason",
    update: bool = True,
    user_name: str | None = None,
    checkpointer: Checkpointer = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Ask one question; yield ``(node, update)`` as each step finishes, then
    ``("final", state)``."""
    tz = get_tz(app.settings.timezone)
    when = now or datetime.now(UTC).astimezone(tz)
    agent = build_agent(checkpointer)
    config: RunnableConfig = {"configurable": {"thread_id": thread_id(app, user_id, when)}}
    inputs: AgentState = {"question": question, "asked_at": when.isoformat()}
    ctx = app.agent_context(user_id, now=when, mode=mode, update=update, user_name=user_name)
    final: dict[str, Any] = {}
    chunks: Any = agent.stream(inputs, config, context=ctx, stream_mode=["updates", "values"])
    for mode_name, chunk in chunks:
        if mode_name == "values":
            final = dict(chunk)
            continue
        for node, upd in chunk.items():
            if isinstance(upd, dict):
                yield node, upd
    yield "final", final


def ask(
    app: App,
    user_id: str,
    question: str,
    *,
    console: Console,
    now: datetime | None = None,
    mode: str = "reason",
    update: bool = True,
    user_name: str | None = None,
    checkpointer: Checkpointer = None,
) -> dict[str, Any]:
    """Ask one question; print each step as it happens; return the final state."""
    final: dict[str, Any] = {}
    for node, upd in stream(
        app,
        user_id,
        question,
        now=now,
        mode=mode,
        update=update,
        user_name=user_name,
        checkpointer=checkpointer,
    ):
        if node == "final":
            final = upd
        else:
            _render_update(console, node, upd)
    return final
