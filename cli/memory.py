"""Memory commands: schema, ingest, search, export, memories, forget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli._shared import (
    app,
    cell,
    choice,
    choices,
    console,
    err,
    make_app,
    note,
    one_of,
    settings,
    text_arg,
    user_cb,
    user_id,
    user_zone,
    window,
)
from pipelines.terminal import plural, shown

if TYPE_CHECKING:
    from pipelines.app import App
    from pipelines.forget import ForgetPreview


@app.command("schema")
def schema_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the graph model: labels, properties, relationships, indexes."""
    from pipelines.render import graph_model, graph_model_json

    if as_json:
        console.print_json(graph_model_json())
    else:
        graph_model(console)


# ------------------------------------------------------------------------------- ingest
def _replace_session(a: App, uid: str, session_id: str) -> None:
    from graph.forget import plan_forget
    from pipelines.forget import forget
    from schema.forget import ForgetScope

    plan = plan_forget(a.conn, ForgetScope(user_id=uid, session_id=session_id))
    removed = forget(a, plan)
    note(f"replaced session {session_id}: forgot {sum(removed.values())} nodes and threads")


@app.command("ingest")
def ingest_cmd(
    file: Annotated[Path, typer.Argument(help="conversation file (JSON)")],
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="user id", callback=user_cb)
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="native | locomo | auto")] = "auto",
    sample: Annotated[str | None, typer.Option(help="LoCoMo: only this sample id")] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="a stored session whose text changed in the file: forget it (with what was "
            "derived from it) and ingest the new text",
        ),
    ] = False,
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
            extractors=a.extractors,  # PERSONA_EXTRACTOR and the pem_* settings apply here too
            schedule=a.pem_schedule,
            replace=(lambda uid, sid: _replace_session(a, uid, sid)) if replace else None,
            lock=a.user_lock,
        )
    console.print(
        f"ingested {shown(', '.join(report.users))}: "
        f"{plural(report.sessions_written, 'session')} written "
        f"({report.sessions_skipped} unchanged, {report.sessions_replaced} replaced), "
        f"{plural(report.turns_written, 'turn')} ({report.turns_skipped} already stored), "
        f"{plural(report.facts, 'fact')}, {plural(report.events, 'event')}, "
        f"{plural(report.supersessions, 'supersession')}; "
        f"{plural(report.stats.nodes_created, 'node')} and "
        f"{plural(report.stats.relationships_created, 'relationship')} created "
        f"in {report.total_s:.1f}s"
    )


# ------------------------------------------------------------------------------- search
@app.command("search")
def search_cmd(
    query: Annotated[str, typer.Argument(help="what to look for")],
    user: Annotated[str, typer.Option("--user", "-u", callback=user_cb)],
    keyword: Annotated[list[str] | None, typer.Option("--keyword", "-k")] = None,
    start: Annotated[str | None, typer.Option("--from", help="window start (inclusive)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="window end (exclusive)")] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--type", help="turn|event|fact|procedure")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500)] = 8,
    path: Annotated[
        str | None,
        typer.Option(help="auto | search | prefilter | postfilter (default: auto on 2026.x)"),
    ] = None,
    expand: Annotated[
        list[str] | None, typer.Option(help="event_turns | supersession | same_day | same_topic")
    ] = None,
    unit: Annotated[str, typer.Option(help="memory | turn (raw turns as evidence)")] = "memory",
    said_only: Annotated[
        bool,
        typer.Option(
            "--said-only",
            help="only what was said inside the window (by default a fact said before it but "
            "still true during it, such as where the user lived, counts too)",
        ),
    ] = False,
    no_rerank: Annotated[
        bool,
        typer.Option("--no-rerank", help="rank by fusion alone, even with PERSONA_RERANKER set"),
    ] = False,
) -> None:
    """Time-bounded hybrid retrieval, with why each memory was returned."""
    from pipelines.render import retrieval
    from schema.nodes import MemoryKind
    from schema.retrieval import Expansion, RetrievalRequest, VectorPath

    kinds = choices(kind, MemoryKind, "--type")
    expansions = choices(expand, Expansion, "--expand")
    req = RetrievalRequest(
        user_id=user_id(user),
        query=text_arg(query, "query"),
        keywords=keyword or [],
        window=window(start, end, user_zone(user_id(user))),
        k=limit,
        **({"kinds": kinds} if kinds else {}),
        **({"expand": expansions} if expansions else {}),
        vector_path=choice(path, VectorPath, "--path") if path else None,
        unit="turn" if one_of(unit, ("memory", "turn"), "--unit") == "turn" else "memory",
        states_in_window=not said_only,
        rerank=False if no_rerank else None,
    )
    a = make_app()
    result = a.store.retrieve(req)
    retrieval(console, result)
    if not result.items:
        _say_if_unknown(a, req.user_id)


# ------------------------------------------------------------------------------- export
@app.command("export")
def export_cmd(
    user: Annotated[str, typer.Option("--user", "-u", callback=user_cb)],
    out: Annotated[Path, typer.Option("--out", "-o", help=".graphml or .json")],
    start: Annotated[str | None, typer.Option("--from")] = None,
    end: Annotated[str | None, typer.Option("--to")] = None,
) -> None:
    """Export a user's subgraph (or a time slice) via networkx to GraphML or node-link JSON."""
    import networkx as nx

    from graph.export import to_networkx

    if out.suffix not in (".graphml", ".json"):
        raise typer.BadParameter(f"{out.name}: write .graphml or .json", param_hint="--out")
    if not out.parent.is_dir():
        raise typer.BadParameter(f"the folder {out.parent} does not exist", param_hint="--out")
    a, uid = make_app(), user_id(user)
    g = to_networkx(a.conn, uid, window(start, end, user_zone(uid)))
    if out.suffix == ".graphml":
        for _, data in g.nodes(data=True):
            for k, v in list(data.items()):
                if isinstance(v, list):
                    data[k] = json.dumps(v)
        nx.write_graphml(g, out)
    else:
        out.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1, default=str))
    console.print(
        shown(f"wrote {g.number_of_nodes()} nodes and {g.number_of_edges()} edges to {out}")
    )
    if not g.number_of_nodes():
        _say_if_unknown(a, uid)


def _say_if_unknown(a: App, uid: str) -> None:
    """After an empty result: say so when the user has nothing stored at all (a mistyped id
    reads as "nothing matched" otherwise)."""
    if not a.store.sessions(uid):
        console.print(
            shown(f"user {uid!r} has nothing stored")
            + " [dim](the stored users: persona analytics users)[/dim]"
        )


@app.command("forget")
def forget_cmd(
    user: Annotated[str, typer.Option("--user", "-u", callback=user_cb)],
    session: Annotated[str | None, typer.Option("--session", help="one session's id")] = None,
    start: Annotated[str | None, typer.Option("--from", help="time range start")] = None,
    end: Annotated[str | None, typer.Option("--to", help="time range end (exclusive)")] = None,
    memory: Annotated[str | None, typer.Option("--memory", help="one memory's id")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="list everything that would go; change nothing")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="confirm")] = False,
) -> None:
    """Forget a user, a session, a time range or one memory, with everything derived from it
    (image files no one else uses, conversation threads and the checkpoints quoting it; the
    personality series is recomputed from the evidence that stays). Shows what goes; acts
    only with --yes. --dry-run lists every item and changes nothing."""
    from graph.forget import plan_forget
    from pipelines.forget import forget, preview
    from schema.forget import ForgetScope

    user = user_id(user)
    span = window(start, end, user_zone(user)) if (start or end) else None
    everything = not (session or memory or span)
    try:
        scope = ForgetScope(
            user_id=user, session_id=session, memory_id=memory, window=span, everything=everything
        )
    except ValueError as exc:
        raise typer.BadParameter(
            "give one of --session, --memory or --from/--to (or none: the whole user)"
        ) from exc
    a = make_app()
    plan = plan_forget(a.conn, scope)
    if plan.empty:
        console.print(f"nothing to forget: {shown(scope.describe())} holds no memories")
        raise typer.Exit(1)
    with a.checkpointer() as saver:
        seen = preview(a, plan, saver=saver)
        _show_forget(seen, limit=None if dry_run else _SHOWN)
        if dry_run:
            return
        if not yes:
            raise typer.BadParameter("this cannot be undone: pass --yes to forget (or --dry-run)")
        removed = forget(a, plan, saver=saver, progress=note)
    console.print("forgot " + ", ".join(f"{n} {lbl}" for lbl, n in sorted(removed.items())))


#: nodes listed before a confirmation (--dry-run lists them all)
_SHOWN = 200


def _show_forget(seen: ForgetPreview, limit: int | None) -> None:
    """Everything a forget does: every node (up to ``limit``, then how many more), every
    image file, thread and checkpoint, the versions current again and the snapshots
    recomputed; the counts are always the full ones."""
    from schema.nodes import TRAITS

    plan = seen.plan
    table = Table("type", "id", "text", "why", title=shown(f"forget {plan.scope.describe()}"))
    for item in plan.remove[:limit]:
        table.add_row(cell(item.label), cell(item.id), cell(item.text), cell(item.why))
    console.print(table)
    if limit is not None and len(plan.remove) > limit:
        console.print(
            f"... and {len(plan.remove) - limit} more ({len(plan.remove)} in all; "
            "--dry-run lists every one)"
        )
    counts = ", ".join(f"{n} {lbl}" for lbl, n in plan.counts().items())
    console.print(f"would remove {len(plan.remove)} nodes: {counts}")
    console.print(f"would delete {len(seen.images)} image files (no other memory uses them)")
    for path in seen.images:
        console.print(f"  image {shown(path)}")
    threads = seen.threads
    console.print(f"would delete {len(threads.delete)} conversation threads")
    for tid in threads.delete:
        console.print(f"  thread {shown(tid)}")
    pruned = sum(len(c) for c in threads.prune.values())
    console.print(
        f"would delete {pruned} checkpoints quoting forgotten text from "
        f"{len(threads.prune)} threads that stay"
    )
    for tid, checkpoints in threads.prune.items():
        for ns, cid in checkpoints:
            console.print(f"  checkpoint {shown(cid)} of thread {shown(tid)}{shown(ns)}")
    for item in plan.reactivate:
        console.print(f"current again: {shown(item.text)}")
    for b in plan.bridges:
        console.print(
            f"now replaced directly by the later {shown(b.new_text)}: {shown(b.old.text)}"
        )
    if seen.personality:
        console.print(
            f"would recompute {len(seen.personality)} personality snapshots from the "
            "evidence that stays"
        )
    for now, after in seen.personality:
        change = ", ".join(
            f"{t} {getattr(now, t):.2f}->{getattr(after, t):.2f}"
            for t in TRAITS
            if getattr(now, t) != getattr(after, t)
        )
        console.print(f"  snapshot step {now.step}->{after.step}: {change or 'values unchanged'}")


@app.command("memories")
def memories_cmd(
    user: Annotated[str, typer.Option("--user", "-u", callback=user_cb)],
    kind: Annotated[
        list[str] | None, typer.Option("--type", help="turn|event|fact|procedure")
    ] = None,
    start: Annotated[str | None, typer.Option("--from")] = None,
    end: Annotated[str | None, typer.Option("--to")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000)] = 50,
    ids: Annotated[
        bool, typer.Option("--ids", help="an id column (for persona forget --memory)")
    ] = False,
) -> None:
    """List a user's memories in time order (optionally by type and window)."""
    from schema.nodes import MemoryKind
    from schema.timeutil import format_time

    kinds = choices(kind, MemoryKind, "--type") or list(MemoryKind)
    user = user_id(user)
    span = window(start, end, user_zone(user))
    a = make_app()
    rows = a.store.list_memories(user, kinds, span, limit + 1)  # one more: is there more?
    more, rows = len(rows) > limit, rows[:limit]
    table = Table("time", title=shown(f"{user}: {span.describe_zoned()}"))
    if ids:  # whole, never wrapped or cut: it is there to be copied
        table.add_column("id", no_wrap=True, min_width=max((len(r.id) for r in rows), default=2))
    for name in ("type", "status", "text"):
        table.add_column(name)
    for r in rows:
        who = f"{r.speaker}: " if r.speaker else ""
        cells = [format_time(r.t), *([cell(r.id)] if ids else []), r.kind.value, r.status or ""]
        table.add_row(*cells, cell(who + r.text))
    console.print(table)
    if more:
        console.print(
            f"the first {len(rows)} memories; more match (--limit/-n shows up to 10000, "
            "--from/--to and --type narrow)"
        )
    else:
        console.print(f"{len(rows)} memories")
        if not rows:
            _say_if_unknown(a, user)
