"""``persona``: the command line. Settings are read here, once; errors are translated here."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schema.errors import PersonaError
from schema.settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="persona",
    help="PersonaGraph: long-term personal memory for agents, as a temporal graph in Neo4j.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(
    help="The Neo4j server: embedded (default) or external (NEO4J_URI).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
bench_app = typer.Typer(
    help="Benchmarks: JSON + Markdown + plots under docs/benchmarks/ (baselines in the same run).",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class _State:
    settings: Settings | None = None


def settings() -> Settings:
    if _State.settings is None:
        _State.settings = Settings()
    return _State.settings


def _note(message: str) -> None:
    err.print(f"[dim]· {message}[/dim]")


def _app() -> Any:
    from pipelines.app import App

    return App(settings(), note=_note)


def _when(value: str | None, label: str) -> Any:
    if value is None:
        return None
    from agent.temporal import parse_time
    from schema.timeutil import get_tz

    parsed = parse_time(value, tz=get_tz(settings().timezone))
    if parsed is None:
        raise typer.BadParameter(f"cannot read {value!r} as a date/time", param_hint=label)
    return parsed


# ------------------------------------------------------------------------------------- db
@db_app.command("start")
def db_start() -> None:
    """Start the embedded Neo4j (no-op if it is running)."""
    from graph.local.server import LocalNeo4j

    _require_embedded("start")
    status = LocalNeo4j(settings(), progress=_note).start()
    console.print(f"Neo4j running: pid {status.pid}, {status.bolt}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded Neo4j cleanly."""
    from graph.local.server import LocalNeo4j

    _require_embedded("stop")
    stopped = LocalNeo4j(settings(), progress=_note).stop()
    console.print("Neo4j stopped" if stopped else "Neo4j was not running")


@db_app.command("status")
def db_status() -> None:
    """Version, edition, Bolt address, data directory and capabilities."""
    from graph.connection import Neo4jConnection, connect
    from graph.local.server import LocalNeo4j

    s = settings()
    table = Table(show_header=False, box=None)
    if s.embedded:
        status = LocalNeo4j(s).status()
        table.add_row("mode", "embedded (started by PersonaGraph)")
        table.add_row("running", "yes" if status.running else "no")
        if status.stale_pid:
            table.add_row("note", "stale pid file (the recorded process is gone)")
        table.add_row("pid", str(status.pid or "-"))
        table.add_row("bolt", status.bolt or "-")
        table.add_row("data directory", str(status.data_dir))
        if not status.running:
            table.add_row("version", status.version or "-")
            console.print(table)
            raise typer.Exit(1)
    else:
        table.add_row("mode", "external")
    conn: Neo4jConnection = connect(s, start=False)
    try:
        info = conn.info
        table.add_row("version", info.version)
        table.add_row("edition", info.edition)
        table.add_row("address", info.address)
        table.add_row("database", info.database)
        caps = info.capabilities
        table.add_row(
            "vector path",
            caps.best_vector_path
            + (
                " (in-index filtered SEARCH)"
                if caps.vector_search_clause
                else " (exact pre-filtered scan)"
            ),
        )
        count = conn.read("MATCH (u:User) RETURN count(u) AS n")[0]["n"]
        table.add_row("users", str(count))
    finally:
        conn.close()
    console.print(table)


@db_app.command("logs")
def db_logs(lines: Annotated[int, typer.Option("-n", help="lines per log")] = 50) -> None:
    """Tail the embedded server's logs."""
    from graph.local.server import LocalNeo4j

    _require_embedded("logs")
    console.print(LocalNeo4j(settings()).logs(lines), markup=False)


@db_app.command("shell")
def db_shell(
    statement: Annotated[str, typer.Argument(help="one Cypher statement")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=json-value")
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="run in a write transaction")] = False,
) -> None:
    """Run one Cypher statement and print the result as a table."""
    from graph.connection import connect

    params: dict[str, Any] = {}
    for item in param or []:
        name, _, raw = item.partition("=")
        try:
            params[name] = json.loads(raw)
        except json.JSONDecodeError:
            params[name] = raw
    conn = connect(settings(), progress=_note)
    try:
        rows = (conn.write if write else conn.read)(statement, **params)
    finally:
        conn.close()
    _print_rows(rows)


def _print_rows(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("(no rows)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    console.print(table)
    console.print(f"{len(rows)} row(s)")


def _cell(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


@db_app.command("migrate")
def db_migrate() -> None:
    """Create constraints and indexes (idempotent); check vector dimensions."""
    from graph.migrate import migrate

    a = _app()
    report = migrate(
        a.conn, dimension=a.embedder.dimension, embedder_name=a.embedder.name, progress=_note
    )
    console.print(
        f"migrations: {len(report.created)} created, {len(report.rebuilt)} rebuilt, "
        f"{len(report.unchanged)} already in place"
    )


@db_app.command("reembed")
def db_reembed(yes: Annotated[bool, typer.Option("--yes", help="confirm")] = False) -> None:
    """Drop the vector indexes and re-embed every memory with the configured model."""
    from graph.maintenance import reembed

    if not yes:
        raise typer.BadParameter("re-embedding rewrites every embedding; pass --yes")
    a = _app()
    from rich.progress import Progress

    with Progress(console=err) as bar:
        task = bar.add_task("re-embedding", total=None)
        n = reembed(a.conn, a.embedder, progress=lambda _t, k: bar.advance(task, k))
    console.print(f"re-embedded {n} memories with {a.embedder.name} ({a.embedder.dimension}-d)")


def _require_embedded(what: str) -> None:
    if not settings().embedded:
        raise PersonaError(
            f"`persona db {what}` manages the embedded server, but NEO4J_URI points at "
            f"{settings().neo4j_uri}",
            hint="unset NEO4J_URI to use the embedded server",
        )


# ------------------------------------------------------------------------------- schema
@app.command("schema")
def schema_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the graph model: labels, properties, relationships, indexes."""
    from pipelines.render import graph_model, graph_model_json

    if as_json:
        console.print_json(graph_model_json())
    else:
        graph_model(console)


# ------------------------------------------------------------------------------- ingest
@app.command("ingest")
def ingest_cmd(
    file: Annotated[Path, typer.Argument(help="conversation file (JSON)")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="user id")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="native | locomo | auto")] = "auto",
    sample: Annotated[str | None, typer.Option(help="LoCoMo: only this sample id")] = None,
) -> None:
    """Ingest conversations: sessions, turns, time tree, facts, episodes (idempotent)."""
    from pipelines.formats import load
    from pipelines.ingest import ingest_file
    from pipelines.render import RichProgress

    if fmt not in ("native", "locomo", "auto"):
        raise typer.BadParameter("use native, locomo or auto", param_hint="--format")
    load(file, fmt, user=user, sample=sample)  # type: ignore[arg-type]  # validate before starting anything
    a = _app()
    with RichProgress(err) as progress:
        report = ingest_file(
            file,
            store=a.store,
            embedder=a.embedder,
            user=user,
            fmt=fmt,  # type: ignore[arg-type]
            sample=sample,
            timezone=settings().timezone,
            images=a.images,
            progress=progress,
        )
    console.print(
        f"ingested {', '.join(report.users)}: {report.sessions_written} sessions written "
        f"({report.sessions_skipped} unchanged), {report.turns_written} turns "
        f"({report.turns_skipped} already stored), {report.facts} facts, {report.events} events, "
        f"{report.supersessions} supersessions; {report.stats.nodes_created} nodes and "
        f"{report.stats.relationships_created} relationships created in {report.total_s:.1f}s"
    )


# ------------------------------------------------------------------------------- search
@app.command("search")
def search_cmd(
    query: Annotated[str, typer.Argument(help="what to look for")],
    user: Annotated[str, typer.Option("--user", "-u")],
    keyword: Annotated[list[str] | None, typer.Option("--keyword", "-k")] = None,
    start: Annotated[str | None, typer.Option("--from", help="window start (inclusive)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="window end (exclusive)")] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--type", help="turn|event|fact|procedure")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 8,
    path: Annotated[str | None, typer.Option(help="search | prefilter")] = None,
    expand: Annotated[
        list[str] | None, typer.Option(help="event_turns | supersession | same_day | same_topic")
    ] = None,
    unit: Annotated[str, typer.Option(help="memory | turn (raw turns as evidence)")] = "memory",
) -> None:
    """Time-bounded hybrid retrieval, with why each memory was returned."""
    from pipelines.render import retrieval
    from schema.nodes import MemoryKind
    from schema.retrieval import Expansion, RetrievalRequest, TimeWindow, VectorPath

    window = TimeWindow(start=_when(start, "--from"), end=_when(end, "--to"))
    req = RetrievalRequest(
        user_id=user,
        query=query,
        keywords=keyword or [],
        window=window,
        k=limit,
        **({"kinds": [MemoryKind(k) for k in kind]} if kind else {}),
        **({"expand": [Expansion(e) for e in expand]} if expand else {}),
        vector_path=VectorPath(path) if path else None,
        unit="turn" if unit == "turn" else "memory",
    )
    retrieval(console, _app().store.retrieve(req))


# ------------------------------------------------------------------------------- export
@app.command("export")
def export_cmd(
    user: Annotated[str, typer.Option("--user", "-u")],
    out: Annotated[Path, typer.Option("--out", "-o", help=".graphml or .json")],
    start: Annotated[str | None, typer.Option("--from")] = None,
    end: Annotated[str | None, typer.Option("--to")] = None,
) -> None:
    """Export a user's subgraph (or a time slice) via networkx to GraphML or node-link JSON."""
    import networkx as nx

    from graph.export import to_networkx
    from schema.retrieval import TimeWindow

    window = TimeWindow(start=_when(start, "--from"), end=_when(end, "--to"))
    g = to_networkx(_app().conn, user, window)
    if out.suffix == ".graphml":
        for _, data in g.nodes(data=True):
            for k, v in list(data.items()):
                if isinstance(v, list):
                    data[k] = json.dumps(v)
        nx.write_graphml(g, out)
    else:
        out.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1, default=str))
    console.print(f"wrote {g.number_of_nodes()} nodes and {g.number_of_edges()} edges to {out}")


# ------------------------------------------------------------------------------- agent
def _policy_banner() -> None:
    from agent.policies import describe_policy

    err.print(
        f"[dim]policy: {escape(describe_policy(settings()))}; "
        f"extractor: {settings().extractor}[/dim]"
    )


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="the question")],
    user: Annotated[str, typer.Option("--user", "-u")],
    at: Annotated[str | None, typer.Option("--at", help="when the question is asked")] = None,
    direct: Annotated[bool, typer.Option("--direct", help="non-reasoning mode")] = False,
    no_update: Annotated[bool, typer.Option("--no-update", help="do not remember it")] = False,
    name: Annotated[str | None, typer.Option("--name", help="the user's display name")] = None,
) -> None:
    """Ask one question; shows each step: thinking, retrievals with windows, memories, answer."""
    from pipelines.conversation import ask

    a = _app()
    _policy_banner()
    with a.checkpointer() as saver:
        state = ask(
            a,
            user,
            question,
            console=console,
            now=_when(at, "--at"),
            mode="direct" if direct else "reason",
            update=not no_update,
            user_name=name,
            checkpointer=saver,
        )
    if not state.get("answer"):
        raise typer.Exit(1)


@app.command("chat")
def chat_cmd(
    user: Annotated[str, typer.Option("--user", "-u")],
    name: Annotated[str | None, typer.Option("--name", help="the user's display name")] = None,
    direct: Annotated[bool, typer.Option("--direct", help="non-reasoning mode")] = False,
) -> None:
    """Chat in the terminal (/end closes the session, /quit leaves). Steps are shown live."""
    from pipelines.conversation import ask

    a = _app()
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
            ask(
                a,
                user,
                line,
                console=console,
                mode="direct" if direct else "reason",
                user_name=name,
                checkpointer=saver,
            )


def _end_session(a: Any, user: str, name: str | None) -> None:
    from schema.nodes import User

    open_sessions = a.store.sessions(user, unconsolidated_only=True)
    if not open_sessions:
        console.print("no open session")
        return
    for session in open_sessions:
        stats = a.update_stage.close_session(User(id=user, user_id=user, name=name), session)
        console.print(
            f"closed session {session.id} ({session.start:%Y-%m-%d %H:%M}): "
            f"{stats.nodes_created} nodes written (episodes, habits, profile)"
        )


@app.command("end-session")
def end_session_cmd(user: Annotated[str, typer.Option("--user", "-u")]) -> None:
    """Close the user's open session now: episodes, habits/goals and profile are updated."""
    _end_session(_app(), user, None)


@app.command("forget")
def forget_cmd(
    user: Annotated[str, typer.Option("--user", "-u")],
    yes: Annotated[bool, typer.Option("--yes", help="confirm")] = False,
) -> None:
    """Erase everything PersonaGraph holds about a user (every node of theirs). Irreversible."""
    if not yes:
        raise typer.BadParameter("this erases the user's whole memory; pass --yes")
    _app().store.delete_user(user)
    console.print(f"forgot {user}")


@app.command("memories")
def memories_cmd(
    user: Annotated[str, typer.Option("--user", "-u")],
    kind: Annotated[
        list[str] | None, typer.Option("--type", help="turn|event|fact|procedure")
    ] = None,
    start: Annotated[str | None, typer.Option("--from")] = None,
    end: Annotated[str | None, typer.Option("--to")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 50,
) -> None:
    """List a user's memories in time order (optionally by type and window)."""
    from schema.nodes import MemoryKind
    from schema.retrieval import TimeWindow
    from schema.timeutil import format_for_prompt

    kinds = [MemoryKind(k) for k in kind] if kind else list(MemoryKind)
    window = TimeWindow(start=_when(start, "--from"), end=_when(end, "--to"))
    rows = _app().store.list_memories(user, kinds, window, limit)
    table = Table("time", "type", "status", "text", title=f"{user}: {window.describe()}")
    for r in rows:
        who = f"{r.get('speaker')}: " if r.get("speaker") else ""
        table.add_row(
            format_for_prompt(r["t"]),
            str(r["kind"]),
            str(r.get("status") or ""),
            _cell(who + str(r.get("text"))),
        )
    console.print(table)
    console.print(f"{len(rows)} memories")


@app.command("personality")
def personality_cmd(
    user: Annotated[str, typer.Option("--user", "-u")],
    plot: Annotated[Path | None, typer.Option("--plot", help="write a PNG of the history")] = None,
) -> None:
    """The current Big-Five profile and its history (every update, with its evidence turn)."""
    from agent.personality import render_profile
    from schema.nodes import TRAITS
    from schema.timeutil import format_for_prompt

    history = _app().store.personality_history(user)
    console.print(render_profile(history))
    if not history:
        console.print(
            "[dim]No snapshots. The model-free extractor makes no personality claims; "
            "set PERSONA_EXTRACTOR=llm with a policy to infer traits.[/dim]"
        )
        return
    table = Table("step", "time", *[t[:5] for t in TRAITS], "weight", "observed", "evidence turn")
    for s in history:
        table.add_row(
            str(s.step),
            format_for_prompt(s.t),
            *[f"{getattr(s, t):.2f}" for t in TRAITS],
            f"{s.weight:.3f}",
            str(["-" if v is None else v for v in s.observed]),
            str(s.turn_id),
        )
    console.print(table)
    if plot:
        from pipelines.plots import personality_plot

        personality_plot(history, plot, title=f"Big Five of {user}")
        console.print(f"wrote {plot}")


# ------------------------------------------------------------------------------- bench
_DEFAULT_LOCOMO = (
    Path(__file__).resolve().parent.parent.parent / "shared/data/locomo/locomo10_dev.json"
)
_OUT = typer.Option("--out", help="report folder")
_DATA = typer.Option("--data", help="LoCoMo JSON (default: ../shared/data/locomo)")


def _bench_app() -> Any:
    """Benchmarks run against their own embedded server (<home>/bench), never the user's data;
    with NEO4J_URI they use that server, with bench- prefixed users only."""
    from pipelines.app import App

    s = settings()
    if s.embedded:
        s = s.model_copy(update={"home": s.home / "bench"})
    return App(s, note=_note)


def _bench(run: Callable[..., Any], **kwargs: Any) -> None:
    """Run one benchmark on the bench server with progress, then print its report."""
    a = _bench_app()
    rep = run(store=a.store, embedder=a.embedder, progress=_bench_progress(), **kwargs)
    console.print("\n".join(rep.markdown))


def _ints(csv: str) -> list[int]:
    return [int(x) for x in csv.split(",") if x.strip()]


def _bench_progress() -> Any:
    def say(task: str, i: int, n: int) -> None:
        err.print(f"[dim]· {task} {i}/{n}[/dim]")

    return say


def _data(path: Path | None) -> Path:
    data = path or Path(os.environ.get("PERSONA_LOCOMO", _DEFAULT_LOCOMO))
    if not data.is_file():
        raise typer.BadParameter(f"{data} not found", param_hint="--data")
    return data


@bench_app.command("locomo")
def bench_locomo(
    data: Annotated[Path | None, _DATA] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    conversations: Annotated[int | None, typer.Option(help="first N conversations")] = None,
    questions: Annotated[int | None, typer.Option(help="first N questions each")] = None,
) -> None:
    """LoCoMo recall@k (turn units) and at token budgets, vs BM25, dense, RRF, full history."""
    from pipelines.bench.locomo import run_locomo

    _bench(
        run_locomo,
        data=_data(data),
        out_dir=out,
        limit_conversations=conversations,
        limit_questions=questions,
    )


@bench_app.command("windows")
def bench_windows(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    months: Annotated[int, typer.Option(help="length of the synthetic timeline")] = 12,
    seeds: Annotated[
        str, typer.Option(help="comma-separated seeds, one synthetic timeline each")
    ] = "7,8,9,10,11",
) -> None:
    """Time-window value: in-window recall and leakage with and without the window."""
    from pipelines.bench.windows import run_windows

    _bench(
        run_windows,
        out_dir=out,
        months=months,
        seeds=_ints(seeds),
        user_id=f"bench-windows-{months}",
    )


@bench_app.command("scale")
def bench_scale(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    sizes: Annotated[
        str, typer.Option(help="memories per user, comma-separated")
    ] = "1000,10000,100000",
    users: Annotated[int, typer.Option(help="users sharing the database")] = 100,
    per_user: Annotated[int, typer.Option(help="memories of each shared user")] = 100,
    queries: Annotated[
        int, typer.Option(help="timed queries per scenario and path (p99 needs >= 100)")
    ] = 200,
    full: Annotated[bool, typer.Option("--scale", help="1M memories: 100 users x 10,000")] = False,
) -> None:
    """Retrieval latency p50/p95/p99 by memory count and path, against a numpy floor."""
    from pipelines.bench.scale import run_scale

    _bench(
        run_scale,
        out_dir=out,
        sizes=tuple(_ints(sizes)),
        shared_users=users,
        shared_per_user=10_000 if full else per_user,
        queries=queries,
    )


@bench_app.command("ingest")
def bench_ingest(
    data: Annotated[Path | None, _DATA] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    conversations: Annotated[int, typer.Option()] = 2,
    repeats: Annotated[int, typer.Option(help="side-by-side runs; the median is reported")] = 3,
) -> None:
    """Ingest throughput end to end vs embedding only (the ratio is the figure)."""
    from pipelines.bench.ingest_speed import run_ingest_speed

    _bench(
        run_ingest_speed,
        data=_data(data),
        out_dir=out,
        conversations=conversations,
        repeats=repeats,
    )


@bench_app.command("agent")
def bench_agent(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    turns: Annotated[int, typer.Option()] = 40,
) -> None:
    """Agent overhead per turn with a zero-latency scripted policy."""
    from pipelines.bench.agent_overhead import run_agent_overhead

    a = _bench_app()  # the bench server's settings, not the user's
    rep = run_agent_overhead(
        store=a.store,
        embedder=a.embedder,
        settings=a.settings,
        out_dir=out,
        turns=turns,
        progress=_bench_progress(),
    )
    console.print("\n".join(rep.markdown))


@bench_app.command("all")
def bench_all(
    data: Annotated[Path | None, _DATA] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    quick: Annotated[
        bool,
        typer.Option("--quick/--full", help="--full: 100 users x 10,000 share the database"),
    ] = True,
) -> None:
    """Every benchmark, then docs/benchmarks/README.md (--full: 1M memories shared)."""
    from pipelines.bench.agent_overhead import run_agent_overhead
    from pipelines.bench.common import command_line
    from pipelines.bench.ingest_speed import run_ingest_speed
    from pipelines.bench.locomo import run_locomo
    from pipelines.bench.report import write_readme
    from pipelines.bench.scale import run_scale
    from pipelines.bench.windows import run_windows

    a = _bench_app()
    say = _bench_progress()
    path = _data(data)
    run_locomo(data=path, store=a.store, embedder=a.embedder, out_dir=out, progress=say)
    run_windows(store=a.store, embedder=a.embedder, out_dir=out, progress=say)
    run_scale(
        store=a.store,
        embedder=a.embedder,
        out_dir=out,
        sizes=(1_000, 10_000, 100_000),
        shared_users=100,
        shared_per_user=100 if quick else 10_000,  # --full: 1M memories in all
        progress=say,
    )
    run_ingest_speed(data=path, store=a.store, embedder=a.embedder, out_dir=out, progress=say)
    run_agent_overhead(
        store=a.store, embedder=a.embedder, settings=a.settings, out_dir=out, progress=say
    )
    readme = write_readme(out, command=command_line())
    console.print(readme.read_text(), markup=False)


@bench_app.command("report")
def bench_report(out: Annotated[Path, _OUT] = Path("docs/benchmarks")) -> None:
    """Rebuild docs/benchmarks/README.md from the latest JSON reports."""
    from pipelines.bench.report import write_readme

    console.print(f"wrote {write_readme(out, command='persona bench all')}")


# ------------------------------------------------------------------------------- demo
@app.command("demo")
def demo_cmd() -> None:
    """Start Neo4j, migrate, ingest the sample conversation, show a time-bounded retrieval."""
    from pipelines.demo import run_demo

    run_demo(_app(), console)


def main() -> None:
    try:
        app()
    except PersonaError as exc:
        err.print(f"[bold red]error:[/bold red] {exc.message}", markup=True)
        if exc.hint:
            err.print(f"[yellow]hint:[/yellow] {exc.hint}")
        sys.exit(2)
