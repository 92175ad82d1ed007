"""Memory commands: schema, ingest, search, export, memories, forget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli._shared import app, cell, console, err, make_app, note, settings, when


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
    a = make_app()
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

    window = TimeWindow(start=when(start, "--from"), end=when(end, "--to"))
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
    retrieval(console, make_app().store.retrieve(req))


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

    window = TimeWindow(start=when(start, "--from"), end=when(end, "--to"))
    g = to_networkx(make_app().conn, user, window)
    if out.suffix == ".graphml":
        for _, data in g.nodes(data=True):
            for k, v in list(data.items()):
                if isinstance(v, list):
                    data[k] = json.dumps(v)
        nx.write_graphml(g, out)
    else:
        out.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1, default=str))
    console.print(f"wrote {g.number_of_nodes()} nodes and {g.number_of_edges()} edges to {out}")


@app.command("forget")
def forget_cmd(
    user: Annotated[str, typer.Option("--user", "-u")],
    session: Annotated[str | None, typer.Option("--session", help="one session's id")] = None,
    start: Annotated[str | None, typer.Option("--from", help="time range start")] = None,
    end: Annotated[str | None, typer.Option("--to", help="time range end (exclusive)")] = None,
    memory: Annotated[str | None, typer.Option("--memory", help="one memory's id")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would go")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="confirm")] = False,
) -> None:
    """Forget a user, a session, a time range or one memory, with everything derived from it.
    Shows exactly what goes; acts only with --yes (--dry-run: never)."""
    from graph.forget import apply_forget, plan_forget
    from schema.forget import ForgetScope
    from schema.retrieval import TimeWindow

    window = None
    if start or end:
        try:
            window = TimeWindow(start=when(start, "--from"), end=when(end, "--to"))
        except ValueError as exc:
            raise typer.BadParameter(f"--from {start} is not before --to {end}") from exc
    everything = not (session or memory or window)
    try:
        scope = ForgetScope(
            user_id=user, session_id=session, memory_id=memory, window=window, everything=everything
        )
    except ValueError as exc:
        raise typer.BadParameter(
            "give one of --session, --memory or --from/--to (or none: the whole user)"
        ) from exc
    a = make_app()
    plan = plan_forget(a.conn, scope)
    if plan.empty:
        console.print(f"nothing to forget: {escape(scope.describe())} holds no memories")
        raise typer.Exit(1)
    table = Table("type", "id", "text", "why", title=escape(f"forget {scope.describe()}"))
    for item in plan.remove[:200]:
        table.add_row(
            escape(item.label), escape(item.id), escape(cell(item.text)), escape(item.why)
        )
    console.print(table)
    if len(plan.remove) > 200:
        console.print(f"... and {len(plan.remove) - 200} more")
    counts = ", ".join(f"{n} {lbl}" for lbl, n in plan.counts().items())
    console.print(f"would remove {len(plan.remove)} nodes: {counts}")
    for item in plan.reactivate:
        console.print(f"current again: {escape(item.text)}")
    if dry_run:
        return
    if not yes:
        raise typer.BadParameter("this cannot be undone: pass --yes to forget (or --dry-run)")
    removed = apply_forget(a.conn, plan, image_dir=a.settings.image_dir, progress=note)
    console.print("forgot " + ", ".join(f"{n} {lbl}" for lbl, n in sorted(removed.items())))


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
    window = TimeWindow(start=when(start, "--from"), end=when(end, "--to"))
    rows = make_app().store.list_memories(user, kinds, window, limit)
    table = Table("time", "type", "status", "text", title=f"{user}: {window.describe()}")
    for r in rows:
        who = f"{r.get('speaker')}: " if r.get("speaker") else ""
        table.add_row(
            format_for_prompt(r["t"]),
            str(r["kind"]),
            str(r.get("status") or ""),
            cell(who + str(r.get("text"))),
        )
    console.print(table)
    console.print(f"{len(rows)} memories")
