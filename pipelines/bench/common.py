"""Shared benchmark plumbing: machine facts, percentiles, reports, memory measurement."""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from schema.protocols import MemoryReader, MemoryRetriever

__all__ = [
    "Report",
    "context_units",
    "line_plot",
    "machine_facts",
    "peak_rss_mb",
    "percentiles",
    "source_maps",
    "table",
    "timed",
]


def machine_facts() -> dict[str, Any]:
    """What a reader needs to compare numbers: CPU, cores, memory, versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "os": platform.platform(),
        "commit": commit,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "n": 0}
    arr = np.asarray(values_ms, dtype=float)
    return {
        "p50": round(float(np.percentile(arr, 50)), 2),
        "p95": round(float(np.percentile(arr, 95)), 2),
        "p99": round(float(np.percentile(arr, 99)), 2),
        "n": len(arr),
    }


class timed:  # noqa: N801 - a context manager used like a function
    """``with timed() as t: ...`` then ``t.ms``."""

    def __enter__(self) -> timed:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms = (time.perf_counter() - self.start) * 1000


def command_line() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(("persona", "__main__.py")):
        argv[0] = "persona"
    return " ".join(shlex.quote(a) for a in argv)


@dataclass
class Report:
    """One benchmark's results; written as <name>.json and <name>.md in the output folder.

    ``elapsed_s``: the run's wall time. A runner that does not set it gets the time since
    ``started`` (by default when the report was made; a runner that makes its report at the
    end passes the time its run began), so no report says "took 0 s"."""

    name: str
    title: str
    command: str = field(default_factory=command_line)
    machine: dict[str, Any] = field(default_factory=machine_facts)
    settings: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    markdown: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)
    server: dict[str, str] = field(default_factory=dict)
    peak_rss_mb: float = 0.0  # measured when the report is written

    def describe_server(self, store: MemoryRetriever) -> None:
        """Record the server's version, memory settings and vector capabilities."""
        self.server = {k: str(v) for k, v in store.server_facts().model_dump().items()}

    def memory_line(self) -> str:
        s = self.server
        neo4j = (
            f"Neo4j {s.get('version', '?')} {s.get('edition', '')}, heap {s.get('heap', '?')}, "
            f"page cache {s.get('pagecache', '?')}"
            if s
            else "Neo4j settings not reported by this store"
        )
        return f"Memory: peak RSS of the benchmark process {self.peak_rss_mb:.0f} MB; {neo4j}."

    def header(self) -> list[str]:
        m = self.machine
        return [
            f"# {self.title}",
            "",
            f"Reproduce: `{self.command}`",
            "",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB RAM, "
            f"GPU: {m['gpu'] or 'none'}; Python {m['python']}, torch {m['torch']}; "
            f"commit {m['commit']}; {m['date']}; took {self.elapsed_s:.0f} s.",
            "",
            self.memory_line(),
            "",
        ]

    def write(self, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.peak_rss_mb = peak_rss_mb()
        if not self.elapsed_s:
            self.elapsed_s = round(time.perf_counter() - self.started, 1)
        data = {
            k: getattr(self, k)
            for k in (
                "name",
                "title",
                "command",
                "machine",
                "settings",
                "results",
                "plots",
                "elapsed_s",
                "server",
                "peak_rss_mb",
            )
        }
        (out_dir / f"{self.name}.json").write_text(json.dumps(data, indent=1, default=str))
        md = out_dir / f"{self.name}.md"
        md.write_text("\n".join(self.header() + self.markdown) + "\n")
        return md


def source_maps(store: MemoryReader, user_id: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(turn id -> source turn id, memory id -> provenance turn ids) for one user."""
    from schema.nodes import MemoryKind
    from schema.retrieval import TimeWindow

    rows = store.list_memories(user_id, list(MemoryKind), TimeWindow(), 10_000_000)
    turn_source = {r.id: r.source_id for r in rows if r.kind == MemoryKind.TURN and r.source_id}
    provenance = {r.id: list(r.turn_ids) for r in rows if r.kind != MemoryKind.TURN}
    return turn_source, provenance


def context_units(
    item: Any, turn_source: dict[str, str], provenance: dict[str, list[str]]
) -> list[str]:
    """The source turn ids a retrieved item puts in context: a turn itself, an event the
    turns it covers, a fact or procedure the turns it was extracted from."""
    from schema.nodes import MemoryKind

    if item.kind == MemoryKind.TURN:
        return [item.source_id] if item.source_id else []
    if item.kind == MemoryKind.EVENT and item.turns:
        return [t.source_id for t in item.turns if t.source_id]
    return [turn_source[t] for t in provenance.get(item.id, []) if t in turn_source]


def line_plot(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    out: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log_x: bool = False,
    log_y: bool = False,
    xticks: Sequence[float] | None = None,
) -> Path:
    """One line per series (name -> (xs, ys)), written as a PNG (headless matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (xs, ys) in series.items():
        ax.plot(list(xs), list(ys), marker="o", label=name)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    if xticks is not None:
        ax.set_xticks(list(xticks), [str(x) for x in xticks])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        out.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)
