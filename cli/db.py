"""`persona db ...`: the Neo4j server, embedded (default) or external (NEO4J_URI)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cli._shared import console, err, make_app, note, print_rows, settings
from pipelines.terminal import plural, shown
from schema.errors import PersonaError
from schema.settings import Settings

db_app = typer.Typer(
    help="The Neo4j server: embedded (default) or external (NEO4J_URI).", no_args_is_help=True
)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded Neo4j (no-op if it is running)."""
    from graph.local.server import LocalNeo4j

    _require_embedded("start")
    status = LocalNeo4j(settings(), progress=note).start()
    console.print(f"Neo4j running: pid {status.pid}, {status.bolt}")


def _companions(s: Settings) -> list[tuple[str, Settings]]:
    """The other embedded servers of this home: training's store (<home>/train) and each
    benchmark store (<home>/bench/<model>), which `persona train` and `persona bench` start
    and leave running for their next command."""
    homes = [("training", s.home / "train")]
    bench = s.home / "bench"
    if bench.is_dir():
        homes += [(f"benchmark ({d.name})", d) for d in sorted(bench.iterdir()) if d.is_dir()]
    return [(label, s.model_copy(update={"home": home})) for label, home in homes]


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded Neo4j cleanly, and the training and benchmark servers of this home."""
    from graph.local.server import LocalNeo4j

    _require_embedded("stop")
    s = settings()
    stopped = LocalNeo4j(s, progress=note).stop()
    console.print("Neo4j stopped" if stopped else "Neo4j was not running")
    for label, other in _companions(s):
        if LocalNeo4j(other).status().running and LocalNeo4j(other, progress=note).stop():
            console.print(f"the {label} Neo4j stopped too ({shown(other.home)})")


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
        for label, other in _companions(s):
            side = LocalNeo4j(other).status()
            if side.running:
                table.add_row(
                    "also running",
                    f"the {label} Neo4j, pid {side.pid} ({other.home}; `persona db stop` stops it)",
                )
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
                f" (exact scan up to {s.vector_exact_max} memories in scope, in-index SEARCH above)"
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
    conn = connect(settings(), progress=note)
    try:
        rows = (conn.write if write else conn.read)(statement, **params)
    finally:
        conn.close()
    print_rows(rows)


@db_app.command("migrate")
def db_migrate() -> None:
    """Create constraints and indexes (idempotent); check vector dimensions."""
    from graph.migrate import migrate

    a = make_app()
    report = migrate(
        a.conn, dimension=a.embedder.dimension, embedder_name=a.embedder.name, progress=note
    )
    console.print(
        f"migrations: {len(report.created)} created, {len(report.rebuilt)} rebuilt, "
        f"{len(report.unchanged)} already in place"
    )


@db_app.command("reembed")
def db_reembed(yes: Annotated[bool, typer.Option("--yes", help="confirm")] = False) -> None:
    """Drop the vector indexes and re-embed every memory with the configured model
    (PERSONA_EMBEDDER, else the default: the model a database keeps otherwise is not used)."""
    from graph.maintenance import reembed

    if not yes:
        raise typer.BadParameter("re-embedding rewrites every embedding; pass --yes")
    s = settings()
    a = make_app(s.model_copy(update={"embedder": s.embedder}))
    from rich.progress import Progress

    with Progress(console=err) as bar:
        task = bar.add_task("re-embedding", total=None)
        n = reembed(a.conn, a.embedder, progress=lambda _t, k: bar.advance(task, k))
    console.print(
        f"re-embedded {plural(n, 'memory')} with {a.embedder.name} ({a.embedder.dimension}-d)"
    )


def _require_embedded(what: str) -> None:
    if not settings().embedded:
        raise PersonaError(
            f"`persona db {what}` manages the embedded server, but NEO4J_URI points at "
            f"{settings().neo4j_uri}",
            hint="unset NEO4J_URI to use the embedded server",
        )
