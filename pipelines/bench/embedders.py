"""Embedders side by side in one run: LoCoMo recall by category and ingest throughput.

Each model gets a database of its own (a database holds one model's vectors), built by the
caller; every model runs the same questions and the same turns, one after another, on the
same machine, so the ratios between them are what to read.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from graph.embed import model_slug
from pipelines.bench.common import Report, line_plot, table, timed
from pipelines.bench.ingest_speed import run_ingest_speed
from pipelines.bench.locomo import CATEGORIES, run_locomo
from schema.protocols import Embedder, MemoryStore

__all__ = ["run_embedders"]

#: ``open_model(name)`` yields the store and embedder of that model's own database.
OpenModel = Callable[[str], AbstractContextManager[tuple[MemoryStore, Embedder]]]


def run_embedders(
    *,
    models: list[str],
    open_model: OpenModel,
    data: Path,
    out_dir: Path,
    limit_conversations: int | None = None,
    ingest_repeats: int = 3,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    report = Report(name="embedders", title="Embedders side by side: recall and ingest speed")
    say = progress or (lambda _t, _i, _n: None)
    rows: dict[str, dict[str, Any]] = {}
    with timed() as total:
        for i, name in enumerate(models):
            say(f"model {name}", i, len(models))
            with open_model(name) as (store, embedder):
                detail = out_dir / "embedders" / model_slug(name)
                loc = run_locomo(
                    data=data,
                    store=store,
                    embedder=embedder,
                    out_dir=detail,
                    limit_conversations=limit_conversations,
                    progress=progress,
                )
                ing = run_ingest_speed(
                    data=data,
                    store=store,
                    embedder=embedder,
                    out_dir=detail,
                    repeats=ingest_repeats,
                    progress=progress,
                )
                report.describe_server(store)
            rows[name] = _row(loc.results, ing.results)
    report.elapsed_s = total.ms / 1000
    report.settings = {
        "data": str(data),
        "models": models,
        "questions": loc.settings["questions"],
        "conversations": loc.settings["conversations"],
        "ingest_turns": ing.settings["turns"],
        "ingest_repeats": ingest_repeats,
    }
    report.results = {"models": rows}
    report.markdown = _markdown(rows, report)
    plot = _plot(rows, out_dir / "embedders_recall.png")
    report.plots = [str(plot)]
    report.markdown += ["", f"![recall@10 by category]({plot.name})"]
    report.write(out_dir)
    return report


def _row(locomo: dict[str, Any], ingest: dict[str, Any]) -> dict[str, Any]:
    pg = locomo["methods"]["PersonaGraph"]
    dense = locomo["methods"]["Dense"]
    runs = ingest["runs"]
    mid = sorted(runs, key=lambda r: r["ratio"])[len(runs) // 2]
    return {
        "r@10": pg["overall"]["r@10"],
        "by_category": {c: pg["by_category"][c]["r@10"] for c in CATEGORIES.values()},
        "dense_r@10": dense["overall"]["r@10"],
        "tokens_at_10": pg["tokens_at_10"],
        "retrieval_p50_ms": pg["latency_ms_p50"],
        "embed_only_tps": mid["embedding_only_tps"],
        "end_to_end_tps": mid["end_to_end_tps"],
        "ingest_ratio": ingest["median_ratio"],
    }


def _markdown(rows: dict[str, dict[str, Any]], report: Report) -> list[str]:
    s = report.settings
    cats = list(CATEGORIES.values())
    lines = [
        f"{s['questions']} LoCoMo questions over {len(s['conversations'])} conversations "
        f"({', '.join(s['conversations'])}); ingest speed over {s['ingest_turns']} turns, "
        f"median of {s['ingest_repeats']} runs. Each model in a database of its own, one after "
        "another in this run.",
        "",
        "## Recall@10 (%): PersonaGraph's hybrid retrieval, and the model alone (dense)",
        "",
    ]
    lines += table(
        ["model", "overall", *cats, "dense alone", "tokens @10", "p50 ms"],
        [
            [
                name,
                r["r@10"],
                *[r["by_category"][c] for c in cats],
                r["dense_r@10"],
                r["tokens_at_10"],
                r["retrieval_p50_ms"],
            ]
            for name, r in rows.items()
        ],
    )
    base = next(iter(rows.values()))
    lines += ["", "## Ingest (turns/s)", ""]
    lines += table(
        ["model", "embedding only", "end to end", "ratio", f"end to end vs {next(iter(rows))}"],
        [
            [
                name,
                r["embed_only_tps"],
                r["end_to_end_tps"],
                r["ingest_ratio"],
                round(r["end_to_end_tps"] / base["end_to_end_tps"], 2),
            ]
            for name, r in rows.items()
        ],
    )
    return lines


def _plot(rows: dict[str, dict[str, Any]], out: Path) -> Path:
    cats = list(CATEGORIES.values())
    xs = list(range(len(cats)))
    series = {name: (xs, [float(r["by_category"][c]) for c in cats]) for name, r in rows.items()}
    return line_plot(
        series,
        out,
        title="LoCoMo dev: PersonaGraph recall@10 by category, per embedder",
        xlabel=" / ".join(f"{i}={c}" for i, c in enumerate(cats)),
        ylabel="recall@10 (%)",
        xticks=xs,
    )
