"""What every command group shares: the consoles, the settings (read once), the clients built
from them, and the translation of user input (times, rows) at the edge."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from schema.settings import Settings

__all__ = [
    "app",
    "bench_app",
    "cell",
    "console",
    "err",
    "make_app",
    "note",
    "print_rows",
    "settings",
    "when",
]

app = typer.Typer(
    name="persona",
    help="PersonaGraph: long-term personal memory for agents, as a temporal graph in Neo4j.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class _State:
    settings: Settings | None = None


def settings() -> Settings:
    """The process's settings, read once from the environment."""
    if _State.settings is None:
        _State.settings = Settings()
    return _State.settings


def note(message: str) -> None:
    from rich.markup import escape

    err.print(f"[dim]· {escape(message)}[/dim]")


def make_app(s: Settings | None = None) -> Any:
    """Clients for these settings (the user's home unless told otherwise)."""
    from pipelines.app import App

    return App(s or settings(), note=note)


def bench_app() -> Any:
    """Benchmarks run against their own embedded server (<home>/bench), never the user's data;
    with NEO4J_URI they use that server, with bench- prefixed users only."""
    s = settings()
    if s.embedded:
        s = s.model_copy(update={"home": s.home / "bench"})
    return make_app(s)


def when(value: str | None, label: str) -> Any:
    if value is None:
        return None
    from agent.temporal import parse_time
    from schema.timeutil import get_tz

    parsed = parse_time(value, tz=get_tz(settings().timezone))
    if parsed is None:
        raise typer.BadParameter(f"cannot read {value!r} as a date/time", param_hint=label)
    return parsed


def print_rows(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        console.print("(no rows)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(cell(v) for v in row.values()))
    console.print(table)
    console.print(f"{len(rows)} row(s)")


def cell(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."
