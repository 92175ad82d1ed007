"""What every command group shares: the consoles, the settings (read once), the clients built
from them, and the translation of user input (times, rows) at the edge."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import typer
from rich.text import Text

from pipelines.terminal import make_console, plain, shown
from schema.errors import PersonaError
from schema.settings import Settings

if TYPE_CHECKING:  # the CLI imports its clients lazily (start-up time)
    from pipelines.app import App
    from schema.retrieval import TimeWindow

__all__ = [
    "app",
    "bench_app",
    "cell",
    "choice",
    "choices",
    "console",
    "err",
    "make_app",
    "note",
    "one_of",
    "print_rows",
    "settings",
    "text_arg",
    "user_cb",
    "user_id",
    "when",
    "window",
]


def _flags_take_no_value() -> None:
    """Typer 0.29's rich help prints a type for every option, so flags read `--yes <bool>` and
    invite `--yes true`, which Click then refuses. Its plain help already leaves flags bare
    (`TyperOption.get_help_record`); make the rich panel do the same. The override is narrow:
    options that take a value keep their type."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_persona_flags_bare", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag and not self.count:
            return None
        return shown(self, ctx)

    display_type_rich._persona_flags_bare = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()

app = typer.Typer(
    name="persona",
    help="PersonaGraph: long-term personal memory for agents, as a temporal graph in Neo4j.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = make_console()
err = make_console(stderr=True)


class _State:
    settings: Settings | None = None


def settings() -> Settings:
    """The process's settings, read once from the environment."""
    if _State.settings is None:
        from pydantic import ValidationError

        from schema.errors import ConfigError

        try:
            _State.settings = Settings()
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(
                f"the environment's settings are not valid: {problems}",
                hint="fix or unset the PERSONA_*/NEO4J_* variable named (see README, Settings)",
            ) from exc
    return _State.settings


def show_error(exc: PersonaError) -> None:
    """An error the user can act on: what went wrong, then the fix (never a traceback)."""
    from pipelines.terminal import shown

    err.print(f"[bold red]error:[/bold red] {shown(exc.message)}")
    if exc.hint:
        err.print(f"[yellow]hint:[/yellow] {shown(exc.hint)}")


def note_line(message: str) -> str:
    """The markup of one progress or status note (the message inert)."""
    return f"[dim]· {shown(message)}[/dim]"


def note(message: str) -> None:
    err.print(note_line(message))


def make_app(s: Settings | None = None) -> App:
    """Clients for these settings (the user's home unless told otherwise)."""
    from pipelines.app import App

    return App(s or settings(), note=note)


def bench_app(embedder: str | None = None) -> App:
    """Benchmarks run against their own embedded server, never the user's data: one home per
    embedding model (<home>/bench/<model>), since a database holds one model's vectors. With
    NEO4J_URI they use that server, with bench- prefixed users only."""
    s = settings()
    if embedder is not None:
        s = s.model_copy(update={"embedder": embedder})
    if s.embedded:
        from graph.embed import model_slug

        s = s.model_copy(update={"home": s.home / "bench" / model_slug(s.embedder)})
    return make_app(s)


E = TypeVar("E", bound=StrEnum)


def choice(value: str, enum: type[E], flag: str) -> E:
    """``value`` as a member of ``enum`` (case-insensitive), or an error listing the valid ones."""
    wanted = value.strip().lower()
    for member in enum:
        if member.value.lower() == wanted:
            return member
    valid = ", ".join(m.value for m in enum)
    raise typer.BadParameter(f"{value!r} is not one of: {valid}", param_hint=flag)


def choices(values: list[str] | None, enum: type[E], flag: str) -> list[E] | None:
    return [choice(v, enum, flag) for v in values] if values else None


def one_of(value: str, valid: tuple[str, ...], flag: str) -> str:
    if value not in valid:
        raise typer.BadParameter(f"{value!r} is not one of: {', '.join(valid)}", param_hint=flag)
    return value


def user_id(value: str, flag: str = "--user") -> str:
    """A user id as the store keeps it: stripped, never empty."""
    uid = value.strip()
    if not uid:
        raise typer.BadParameter("a user id cannot be empty", param_hint=flag)
    return uid


def user_cb(value: str | None) -> str | None:
    """typer callback for every --user option."""
    return None if value is None else user_id(value)


def text_arg(value: str, what: str) -> str:
    if not value.strip():
        raise typer.BadParameter(f"the {what} is empty", param_hint=what)
    return value


def user_zone(user: str, a: App | None = None) -> tzinfo | None:
    """The zone a user's times without an offset are read in: PERSONA_TIMEZONE when it is
    set; else the zone of the user's conversations (stored at ingest), as the agent does;
    None: neither, the configured default."""
    if "timezone" in settings().model_fields_set:
        return None
    from graph.cypher.read import USER_NAME
    from schema.timeutil import get_tz

    rows = (a or make_app()).conn.read(USER_NAME, user_id=user)
    stored = rows[0]["timezone"] if rows else None
    return get_tz(stored) if stored else None


def window(start: str | None, end: str | None, zone: tzinfo | None = None) -> TimeWindow:
    """``--from``/``--to`` as a half-open TimeWindow (times without an offset read in
    ``zone``, else the configured timezone); a start not before its end is an error."""
    from schema.retrieval import TimeWindow

    a = when(start, "--from", bound="start", zone=zone)
    b = when(end, "--to", bound="end", zone=zone)
    if a is not None and b is not None and a == b:
        raise typer.BadParameter(
            f"the window [from, to) is empty: --from {start} begins at the same moment as "
            f"--to {end} ends"
        )
    if a is not None and b is not None and a > b:
        raise typer.BadParameter(
            f"--from {start} is not before --to {end} (the window is [from, to)): swap them"
        )
    return TimeWindow(start=a, end=b)


_ISO_LIKE = re.compile(r"^\s*\d{4}-\d{1,2}")
_SLASHED = re.compile(r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})\s*$")


Bound = Literal["start", "end"] | None


@overload
def when(
    value: str, label: str, *, bound: Bound = None, zone: tzinfo | None = None
) -> datetime: ...
@overload
def when(value: None, label: str, *, bound: Bound = None, zone: tzinfo | None = None) -> None: ...
@overload
def when(
    value: str | None, label: str, *, bound: Bound = None, zone: tzinfo | None = None
) -> datetime | None: ...
def when(
    value: str | None, label: str, *, bound: Bound = None, zone: tzinfo | None = None
) -> datetime | None:
    """A date/time option: ISO 8601 or words ("last March", "yesterday"). An ISO-looking
    value that is not a valid date (2024-13-01) and a day/month order that cannot be told
    (03/04/2024) are errors, never guesses; years outside 1900-2200 are refused.

    Words name a period; a window ``bound`` takes its start ("--from 2024": 1 January 2024)
    or its end ("--to 2024": up to 1 January 2025, so the named year, month or day is in);
    without a bound (a moment such as --at) they are a point in time. ISO values are exact."""
    if value is None:
        return None
    from agent.temporal import parse_time, window_from_text
    from schema.timeutil import get_tz

    bad = typer.BadParameter
    if not value.strip():
        raise bad("is empty", param_hint=label)
    slashed = _SLASHED.match(value)
    if slashed and int(slashed[1]) <= 12 and int(slashed[2]) <= 12 and slashed[1] != slashed[2]:
        raise bad(
            f"{value!r} is ambiguous (day/month or month/day?): write it as YYYY-MM-DD",
            param_hint=label,
        )
    iso = _ISO_LIKE.match(value)
    try:
        text = value.strip()
        text = f"{text}-01" if re.fullmatch(r"\d{4}-\d{2}", text) else text  # a month
        tz = zone or get_tz(settings().timezone)
        period = None
        if not iso and bound is not None and value.strip().lower() != "now":
            period = window_from_text(value, base=datetime.now(tz), tz=tz)
        parsed: datetime | None
        if iso:
            parsed = datetime.fromisoformat(text)
        elif period is not None:
            parsed = period.window.start if bound == "start" else period.window.end
        else:
            parsed = parse_time(value, tz=tz)
    except ValueError as exc:
        raise bad(f"{value!r} is not a valid date/time ({exc})", param_hint=label) from exc
    if parsed is None:
        raise bad(f"cannot read {value!r} as a date/time", param_hint=label)
    from schema.timeutil import YEARS

    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise bad(
            f"{value!r}: the year must be between {YEARS[0]} and {YEARS[1]}", param_hint=label
        )
    if iso:
        from schema.timeutil import ensure_aware

        parsed = ensure_aware(parsed, tz)
    return parsed


def print_rows(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        console.print("(no rows)")
        return
    table = Table()
    for key in rows[0]:
        table.add_column(Text(str(key)))  # column names may come from the user's Cypher
    for row in rows:
        table.add_row(*(cell(v) for v in row.values()))
    console.print(table)
    console.print(f"{len(rows)} row(s)")


def cell(value: Any) -> Text:
    """A table cell for a value that may come from a user, a model or the database: plain
    text, never read as Rich markup (``[/b]`` in a turn is shown as typed), controls inert."""
    return plain(value, limit=120)
