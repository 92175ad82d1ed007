"""Agent commands: ask, chat, end-session, personality, demo."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli._shared import (
    app,
    cell,
    console,
    err,
    make_app,
    settings,
    show_error,
    text_arg,
    user_cb,
    user_zone,
    when,
)
from pipelines.terminal import plural, shown
from schema.errors import PersonaError

if TYPE_CHECKING:  # imported lazily at run time (start-up time of the CLI)
    from pipelines.app import App


def _policy_banner() -> None:
    from agent.policies import describe_policy

    err.print(
        f"[dim]policy: {shown(describe_policy(settings()))}; "
        f"extractor: {settings().extractor}[/dim]"
    )


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="the question")],
    user: Annotated[str, typer.Option("--user", "-u", callback=user_cb)],
    at: Annotated[str | None, typer.Option("--at", help="when the question is asked")] = None,
    direct: Annotated[bool, typer.Option("--direct", help="non-reasoning mode")] = False,
    no_update: Annotated[bool, typer.Option("--no-update", help="do not remember it")] = False,
    name: Annotated[str | None, typer.Option("--name", help="the user's display name")] = None,
) -> None:
    """Ask one question; shows each step: thinking, retrievals with windows, memories, answer."""
    from pipelines.conversation import ask

    question = text_arg(question, "question")  # checked before anything starts
    asked_at = when(at, "--at")
    a = make_app()
    zone = user_zone(user, a) if at else None
    if zone is not None:  # a time without an offset, read where the user lives
        asked_at = when(at, "--at", zone=zone)
    _policy_banner()
    with a.checkpointer() if not no_update else nullcontext() as saver:
        # --no-update leaves no trace: no memories and no checkpoint of the question
        state = ask(
            a,
            user,
            question,
            console=console,
            now=asked_at,
            mode="direct" if direct else "reason",
            update=not no_update,
            user_name=name,
            checkpointer=saver,
        )
    if not state.get("answer"):
        raise typer.Exit(1)


@app.command("chat")
def chat_cmd(
    user: Annotated[str, typer.Option("--user", "-u", callback=user_cb)],
    name: Annotated[str | None, typer.Option("--name", help="the user's display name")] = None,
    direct: Annotated[bool, typer.Option("--direct", help="non-reasoning mode")] = False,
) -> None:
    """Chat in the terminal (/end closes the session, /quit leaves). Steps are shown live."""
    from pipelines.conversation import ask

    a = make_app()
    _policy_banner()
    console.print("[dim]PersonaGraph chat. /end ends the session, /quit leaves.[/dim]")
    with a.checkpointer() as saver:
        while True:
            try:
                line = console.input("[bold]you> [/bold]").strip()
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            if line == "/end":
                _end_session(a, user, name)
                continue
            try:
                ask(
                    a,
                    user,
                    line,
                    console=console,
                    mode="direct" if direct else "reason",
                    user_name=name,
                    checkpointer=saver,
                )
            except PersonaError as exc:  # e.g. the server went away mid-answer: say so, go on
                show_error(exc)
                console.print(
                    "[dim]The chat goes on: ask again. The next question connects afresh"
                    + (" and starts the local Neo4j if it is down." if a.settings.embedded else ".")
                    + "[/dim]"
                )
                a.reconnect()


def _end_session(a: App, user: str, name: str | None) -> None:
    from schema.nodes import User

    open_sessions = a.store.sessions(user, unconsolidated_only=True)
    if not open_sessions:
        console.print("no open session")
        return
    for session in open_sessions:
        stats = a.update_stage.close_session(User(id=user, user_id=user, name=name), session)
        console.print(
            f"closed session {session.id} ({session.start:%Y-%m-%d %H:%M}): "
            f"{plural(stats.nodes_created, 'node')} written (episodes, habits, profile)"
        )


@app.command("end-session")
def end_session_cmd(user: Annotated[str, typer.Option("--user", "-u", callback=user_cb)]) -> None:
    """Close the user's open session now: episodes, habits/goals and profile are updated."""
    _end_session(make_app(), user, None)


@app.command("personality")
def personality_cmd(
    user: Annotated[str, typer.Option("--user", "-u", callback=user_cb)],
    plot: Annotated[Path | None, typer.Option("--plot", help="write a PNG of the history")] = None,
) -> None:
    """The current Big-Five profile and its history (every update, with its evidence turn)."""
    from agent.prompts._common import render_profile
    from schema.nodes import TRAITS
    from schema.timeutil import format_time

    history = make_app().store.personality_history(user)
    console.print(render_profile(history))
    if not history:
        console.print(
            "[dim]No snapshots. The model-free extractor makes no personality claims; "
            "set PERSONA_EXTRACTOR=llm with a policy to infer traits.[/dim]"
        )
        if plot:
            err.print(f"no plot written to {shown(plot)}: there are no snapshots to draw")
        return
    table = Table("step", "time", *[t[:5] for t in TRAITS], "weight", "observed", "evidence turn")
    for s in history:
        table.add_row(
            str(s.step),
            format_time(s.t),
            *[f"{getattr(s, t):.2f}" for t in TRAITS],
            f"{s.weight:.3f}",
            str(["-" if v is None else v for v in s.observed]),
            cell(s.turn_id),
        )
    console.print(table)
    if plot:
        from pipelines.plots import personality_plot

        personality_plot(history, plot, title=f"Big Five of {user}")
        console.print(f"wrote {plot}")


@app.command("demo")
def demo_cmd() -> None:
    """Start Neo4j, migrate, ingest the sample conversation, show a time-bounded retrieval."""
    from pipelines.demo import run_demo

    run_demo(make_app(), console)
