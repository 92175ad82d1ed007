"""Terminal rendering with rich: the graph model, retrieval results, progress bars."""

from __future__ import annotations

import json
from dataclasses import asdict
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.tree import Tree

from pipelines.ingest import Progress as ProgressProtocol
from pipelines.terminal import shown
from schema.model import GRAPH_MODEL
from schema.retrieval import RetrievalResult, RetrievedMemory
from schema.timeutil import format_time

__all__ = ["RichProgress", "graph_model", "graph_model_json", "retrieval"]


def graph_model(console: Console) -> None:
    nodes = Table(title="Nodes (every node has id and user_id)", show_lines=False)
    nodes.add_column("label", style="bold cyan")
    nodes.add_column("properties")
    nodes.add_column("meaning", style="dim")
    for spec in GRAPH_MODEL.nodes:
        props = ", ".join(
            f"{p.name}{'' if p.required else '?'}: {p.type}"
            for p in spec.properties
            if p.name not in ("id", "user_id")
        )
        name = spec.label + "".join(f":{x}" for x in spec.extra_labels)
        nodes.add_row(name, shown(props), spec.doc)
    console.print(nodes)
    edges = Table(title="Relationships")
    edges.add_column("type", style="bold magenta")
    edges.add_column("from -> to")
    edges.add_column("meaning", style="dim")
    for e in GRAPH_MODEL.edges:
        pairs = ", ".join(f"{a}->{b}" for a, b in e.pairs)
        props = " {" + ", ".join(p.name for p in e.properties) + "}" if e.properties else ""
        edges.add_row(shown(e.type + props), pairs, e.doc)
    console.print(edges)
    idx = Table(title="Indexes and constraints")
    for col in ("name", "kind", "on"):
        idx.add_column(col)
    for ispec in GRAPH_MODEL.indexes:
        extra = f" WITH {list(ispec.filters)}" if ispec.filters else ""
        idx.add_row(
            ispec.name, ispec.kind, shown(f"{ispec.label}({', '.join(ispec.properties)}){extra}")
        )
    console.print(idx)


def graph_model_json() -> str:
    return json.dumps(
        {
            "nodes": [asdict(n) for n in GRAPH_MODEL.nodes],
            "edges": [asdict(e) for e in GRAPH_MODEL.edges],
            "indexes": [asdict(i) for i in GRAPH_MODEL.indexes],
        },
        default=str,
    )


def _item_line(item: RetrievedMemory) -> str:
    who = f"{item.speaker}: " if item.speaker else ""
    status = " [red](superseded)[/red]" if item.status == "superseded" else ""
    src = f" [dim]{shown(item.source_id)}[/dim]" if item.source_id else ""
    return (
        f"[cyan]{format_time(item.t)}[/cyan] [bold]{item.kind.value}[/bold]{status}{src} "
        f"{shown(who + item.text)}"
    )


def retrieval(console: Console, result: RetrievalResult) -> None:
    req = result.request
    query = req.query if len(req.query) <= 300 else f"{req.query[:300]}... ({len(req.query)} chars)"
    console.print(
        f"[bold]query[/bold] {shown(repr(query))} keywords={shown(str(req.keywords))} "
        f"kinds={[k.value for k in req.kinds]} k={req.k}"
    )
    console.print(
        f"[bold]window[/bold] {result.window.describe_zoned()}  "
        f"[bold]vector path[/bold] {result.vector_path.value}  "
        f"[dim]({result.timings_ms.get('total', 0):.0f} ms)[/dim]"
    )
    if not result.items:
        console.print("[yellow]no memories matched[/yellow]")
        return
    tree = Tree("results")
    for n, item in enumerate(result.items, 1):
        branch = tree.add(f"{n}. {_item_line(item)}")
        branch.add(f"[dim]why: {shown(item.why.describe())}[/dim]")
        for t in item.turns:
            branch.add(f"[dim]covers[/dim] {_item_line(t)}")
        for r in item.related:
            branch.add(f"[dim]{relation(r)}[/dim] {_item_line(r)}")
    console.print(tree)


#: how an edge reads from its target's side ("Boston ... superseded by Denver")
_INVERSE = {"SUPERSEDES": "superseded by"}


def relation(related: RetrievedMemory) -> str:
    """The edge that brought ``related`` beside a result, read from that result: a newer fact
    that SUPERSEDES the result is shown as "superseded by" it, never as "SUPERSEDES".

    >>> from datetime import UTC, datetime
    >>> from schema.nodes import MemoryKind
    >>> from schema.retrieval import Why
    >>> newer = RetrievedMemory(id="f2", kind=MemoryKind.FACT, text="Sam moved to Denver",
    ...     t=datetime(2024, 7, 2, tzinfo=UTC), score=0.0,
    ...     why=Why(path=["Fact f2", "SUPERSEDES", "Fact f1"]))
    >>> relation(newer)
    'superseded by'
    """
    path = related.why.path
    if len(path) < 2:
        return "related"
    if path[0].endswith(f" {related.id}"):  # the edge runs from the related memory
        return _INVERSE.get(path[1], f"{path[1]} (from)")
    return path[1]


class RichProgress(ProgressProtocol):
    """The ingest progress protocol as rich progress bars."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = Progress(
            TextColumn("{task.description:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self.bar.__enter__()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.bar.__exit__(et, ev, tb)

    def start(self, task: str, total: int) -> None:
        if task in self.tasks:
            self.bar.reset(self.tasks[task], total=total)
        else:
            self.tasks[task] = self.bar.add_task(task, total=total)

    def advance(self, task: str, n: int = 1) -> None:
        if task in self.tasks:
            self.bar.advance(self.tasks[task], n)

    def note(self, message: str) -> None:
        self.bar.console.print(f"[dim]· {shown(message)}[/dim]")
