"""`persona analytics ...`: the timeline analytics of one user as tables in the terminal, and
as PNG plots with --plot. The same functions draw the Streamlit analytics page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from cli._shared import choices, console, err, make_app, user_cb, user_zone, when, window
from pipelines.terminal import shown

if TYPE_CHECKING:
    from graph.analytics import Analytics
    from schema.analytics import Unit
    from schema.retrieval import TimeWindow

__all__ = ["analytics_app"]

analytics_app = typer.Typer(
    help="Timeline analytics of one user: activity, topics, changes, habits, personality, "
    "time queries (as of / between / duration), central entities, communities.",
    no_args_is_help=True,
)

_USER = typer.Option("--user", "-u", help="user id", callback=user_cb)
_FROM = typer.Option("--from", help="window start (inclusive)")
_TO = typer.Option("--to", help="window end (exclusive)")
_PLOT = typer.Option("--plot", help="write a PNG plot here")
_UNITS = ("day", "week", "month")


def _an() -> Analytics:
    from graph.analytics import Analytics

    return Analytics(make_app().conn)


def _window(user: str, start: str | None, end: str | None) -> TimeWindow:
    return window(start, end, user_zone(user))


def _unit(value: str) -> Unit:
    if value in _UNITS:
        return cast("Unit", value)
    raise typer.BadParameter(f"{value!r}: use day, week or month", param_hint="--unit")


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=shown(title))
    for h in headers:  # ids are folded, never cut with "…": they are meant to be copied
        t.add_column(h, overflow="fold", no_wrap=h == "id")
    for r in rows:
        t.add_row(*(shown("" if v is None else str(v)) for v in r))
    console.print(t)
    if not rows:
        console.print("(nothing)")


def _bars(series: dict[str, list[float]], labels: list[str], out: Path, title: str) -> None:
    if not labels:
        err.print(f"no plot written to {shown(out)}: there is nothing to draw")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not out.parent.is_dir():
        raise typer.BadParameter(f"folder {out.parent} does not exist", param_hint="--plot")
    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = [0.0] * len(labels)
    for name, values in series.items():
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    console.print(f"wrote {out}")


@analytics_app.command("activity")
def activity_cmd(
    user: Annotated[str, _USER],
    unit: Annotated[str, typer.Option(help="day | week | month")] = "week",
    start: Annotated[str | None, _FROM] = None,
    end: Annotated[str | None, _TO] = None,
    plot: Annotated[Path | None, _PLOT] = None,
) -> None:
    """Turns, sessions, facts and episodes per day, week or month."""
    u = _unit(unit)  # checked before anything connects
    rows = _an().activity(user, u, _window(user, start, end))
    _table(
        f"{user}: activity per {unit}",
        ["period", "turns", "sessions", "facts", "events"],
        [[r.period, r.turns, r.sessions, r.facts, r.events] for r in rows],
    )
    if plot:
        _bars(
            {
                "turns": [r.turns for r in rows],
                "facts": [r.facts for r in rows],
                "events": [r.events for r in rows],
            },
            [str(r.period) for r in rows],
            plot,
            f"{user}: activity per {unit}",
        )


@analytics_app.command("topics")
def topics_cmd(
    user: Annotated[str, _USER],
    unit: Annotated[str, typer.Option(help="day | week | month")] = "month",
    start: Annotated[str | None, _FROM] = None,
    end: Annotated[str | None, _TO] = None,
    top: Annotated[int, typer.Option(min=1, max=50)] = 8,
) -> None:
    """How often the main topics come up, period by period."""
    u = _unit(unit)
    rows = _an().topics_over_time(user, u, _window(user, start, end), top=top)
    _table(
        f"{user}: topics per {unit}",
        ["period", "topic", "count"],
        [[r.period, r.topic, r.count] for r in rows],
    )


@analytics_app.command("changes")
def changes_cmd(
    user: Annotated[str, _USER],
    start: Annotated[str | None, _FROM] = None,
    end: Annotated[str | None, _TO] = None,
) -> None:
    """What superseded what (facts, habits and goals, profile entries), and when."""
    rows = _an().fact_changes(user, _window(user, start, end))
    _table(
        f"{user}: changes",
        ["when", "type", "before", "after", "held (days)"],
        [
            [r.at.strftime("%Y-%m-%d %H:%M"), r.label, r.old_text, r.new_text, r.held_days]
            for r in rows
        ],
    )


@analytics_app.command("habits")
def habits_cmd(user: Annotated[str, _USER]) -> None:
    """Habits and goals over time: when each began and when it was replaced."""
    rows = _an().procedures(user)
    _table(
        f"{user}: habits and goals",
        ["type", "what", "from", "until", "status"],
        [
            [
                r.type,
                r.text,
                r.start.strftime("%Y-%m-%d"),
                r.end.strftime("%Y-%m-%d") if r.end else "now",
                r.status,
            ]
            for r in rows
        ],
    )


@analytics_app.command("personality")
def personality_cmd(
    user: Annotated[str, _USER],
    start: Annotated[str | None, _FROM] = None,
    end: Annotated[str | None, _TO] = None,
) -> None:
    """The Big-Five trajectory with the evidence turn of every snapshot, and the drift in
    the window (which trait moved most, and which turns moved it)."""
    from schema.nodes import TRAITS

    an = _an()
    points = an.personality(user)
    _table(
        f"{user}: Big Five",
        ["step", "time", *[t[:5] for t in TRAITS], "evidence turn"],
        [
            [
                p.step,
                p.t.strftime("%Y-%m-%d %H:%M"),
                *[f"{p.traits[t]:.2f}" for t in TRAITS],
                p.turn_text,
            ]
            for p in points
        ],
    )
    drift = an.drift(user, _window(user, start, end))
    if drift.trait:
        console.print(f"moved most: {drift.trait} {drift.delta:+.2f}")
        for t in drift.turns:
            console.print(f"  {t.delta:+.2f} after: {shown(t.turn_text or str(t.turn_id))}")


@analytics_app.command("as-of")
def as_of_cmd(
    user: Annotated[str, _USER],
    at: Annotated[str, typer.Argument(help="a date or time: what was true then?")],
) -> None:
    """What was true at a date: facts, habits and goals, profile."""
    moment = when(at, "AT", zone=user_zone(user))
    state = _an().as_of(user, moment)
    _table(
        f"{user} as of {moment:%Y-%m-%d %H:%M}",
        ["kind", "since", "what"],
        [[m.kind, m.t.strftime("%Y-%m-%d"), m.text] for m in [*state.facts, *state.procedures]],
    )
    for k, v in state.profile.items():
        console.print(f"profile {shown(k)}: {shown(v)}")


@analytics_app.command("between")
def between_cmd(
    user: Annotated[str, _USER],
    start: Annotated[str | None, _FROM] = None,
    end: Annotated[str | None, _TO] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--type", help="turn|event|fact|procedure")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=5000)] = 50,
) -> None:
    """Memories before (--to only), after (--from only) or between two times."""
    from schema.nodes import MemoryKind

    if start is None and end is None:
        raise typer.BadParameter("give --from, --to or both", param_hint="--from/--to")
    kinds = choices(kind, MemoryKind, "--type") or list(MemoryKind)
    rows = _an().between(user, _window(user, start, end), kinds, limit)
    _table(
        f"{user}: memories",
        ["time", "type", "id", "text"],
        [[r.t.strftime("%Y-%m-%d %H:%M"), r.kind, r.id, r.text] for r in rows],
    )


@analytics_app.command("duration")
def duration_cmd(
    user: Annotated[str, _USER],
    first: Annotated[str, typer.Argument(help="memory id")],
    second: Annotated[str, typer.Argument(help="memory id")],
) -> None:
    """The time between two memories."""
    d = _an().duration(user, first, second)
    console.print(
        f"{d['days']} days ({d['iso']}) from {d['from']:%Y-%m-%d %H:%M} to {d['to']:%Y-%m-%d %H:%M}"
    )


@analytics_app.command("central")
def central_cmd(
    user: Annotated[str, _USER],
    start: Annotated[str | None, _FROM] = None,
    end: Annotated[str | None, _TO] = None,
    top: Annotated[int, typer.Option(min=1, max=100)] = 10,
    plot: Annotated[Path | None, _PLOT] = None,
) -> None:
    """Central entities and topics (PageRank over the memory-topic graph, networkx)."""
    rows = _an().central(user, _window(user, start, end), top=top)
    _table(
        f"{user}: central entities and topics",
        ["name", "type", "PageRank", "degree"],
        [[r.name, r.label, f"{r.score:.4f}", r.degree] for r in rows],
    )
    if plot:
        _bars(
            {"PageRank": [r.score for r in rows]}, [r.name for r in rows], plot, f"{user}: central"
        )


@analytics_app.command("communities")
def communities_cmd(
    user: Annotated[str, _USER],
    start: Annotated[str | None, _FROM] = None,
    end: Annotated[str | None, _TO] = None,
) -> None:
    """Topic communities (Louvain on co-occurrence) and the most frequent pairs."""
    an = _an()
    window = _window(user, start, end)
    for g in an.communities(user, window):
        console.print(f"[bold]{g.index}[/bold] ({g.size}) {shown(', '.join(g.members[:15]))}")
    pairs = an.cooccurrence(user, window)
    _table(f"{user}: co-occurrence", ["a", "b", "memories"], [[p.a, p.b, p.count] for p in pairs])


@analytics_app.command("sessions")
def sessions_cmd(user: Annotated[str, _USER]) -> None:
    """The user's sessions (ids for `persona forget --session`)."""
    rows = make_app().store.sessions(user)
    _table(
        f"{user}: sessions",
        ["id", "start", "end", "source"],
        [
            [
                s.id,
                s.start.strftime("%Y-%m-%d %H:%M"),
                s.end.strftime("%Y-%m-%d %H:%M"),
                s.source_id,
            ]
            for s in rows
        ],
    )


@analytics_app.command("users")
def users_cmd() -> None:
    """The users stored on this server: id, name and number of sessions (no memory content)."""
    rows = _an().users()
    _table(
        "users",
        ["id", "name", "sessions"],
        [[u["id"], u["name"] or "", u["sessions"]] for u in rows],
    )
