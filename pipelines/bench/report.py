"""docs/benchmarks/README.md: the latest table of every benchmark, the plots, the targets,
what changed since the previous run, and how to reproduce."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.bench.common import table

__all__ = ["key_figures", "write_readme"]

ORDER = ("locomo", "windows", "dating", "scale", "ingest", "agent", "writers", "hostile")


def _load(out_dir: Path, name: str) -> dict[str, Any] | None:
    path = out_dir / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def key_figures(name: str, data: dict[str, Any]) -> dict[str, float | None]:
    """The few numbers each benchmark is judged by (compared run to run)."""
    r = data["results"]
    if name == "locomo":
        pg, bm = r["methods"]["PersonaGraph"], r["methods"]["BM25"]
        return {
            "PersonaGraph r@10": pg["overall"]["r@10"],
            "BM25 r@10": bm["overall"]["r@10"],
            "PersonaGraph temporal r@10": pg["by_category"]["temporal"]["r@10"],
            "tokens@10 / full history (%)": round(
                100 * pg["tokens_at_10"] / r["full_history_tokens"], 2
            ),
        }
    if name == "windows":
        return {
            "in-window recall, with window": r["with window"]["recall"],
            "in-window recall, without": r["without window"]["recall"],
            "leakage with window (%)": r["with window"]["leakage"],
        }
    if name == "dating":
        return {"resolver date accuracy (%)": r["resolver"], "day said (%)": r["day_said"]}
    if name == "scale":
        out: dict[str, float | None] = {}
        for scenario, paths in r["scenarios"].items():
            # the path users get: 'auto' where the server has SEARCH (reports before it existed
            # named search or the pre-filter)
            best = next(p for p in ("auto", "search", "prefilter") if p in paths)
            out[f"{scenario}: {best} p95 ms"] = paths[best]["total"]["p95"]
            floor = paths["numpy"]["total"]["p95"] or 1e-9
            out[f"{scenario}: {best} vector p95 / numpy"] = round(
                paths[best]["vector"]["p95"] / floor, 1
            )
            out[f"{scenario}: {best} total p95 / numpy"] = round(
                paths[best]["total"]["p95"] / floor, 1
            )
        return out
    if name == "ingest":
        figures = {"end-to-end / embedding-only": r["median_ratio"]}
        if "median_ratio_same_texts" in r:
            figures["end-to-end / embedding what it embeds"] = r["median_ratio_same_texts"]
        return figures
    if name == "agent":
        return {f"{mode} p95 ms": v["latency"]["p95"] for mode, v in r["modes"].items()}
    if name == "writers":
        most = max(r["runs"], key=lambda run: run["clients"])
        k = most["clients"]
        return {
            f"{k} writers: lost": most["asks"]["lost"] + most["ingest"]["lost"],
            f"{k} writers: duplicated": most["asks"]["duplicated"] + most["ingest"]["duplicated"],
            f"{k} clients: ask p95 ms": most["asks"]["latency"]["p95"],
        }
    if name == "hostile":
        problems = r["problems"]
        return {
            "inputs": r["inputs"],
            "crashes": problems["crashes"],
            "items of another user": problems["items of the other user"],
        }
    return {}


def write_readme(out_dir: Path, *, command: str) -> Path:
    history_path = out_dir / "history.json"
    history: list[dict[str, Any]] = (
        json.loads(history_path.read_text()) if history_path.is_file() else []
    )
    current: dict[str, dict[str, float | None]] = {}
    sections: list[str] = []
    for name in ORDER:
        data = _load(out_dir, name)
        if data is None:
            continue
        current[name] = key_figures(name, data)
        md = (out_dir / f"{name}.md").read_text().splitlines()
        body = [line for line in md if not line.startswith("# ")]
        sections += [
            f"## {data['title']}",
            "",
            *body,
            f"Details: [{name}.md]({name}.md), raw: [{name}.json]({name}.json).",
            "",
        ]
    previous = history[-1]["figures"] if history else {}
    changes = []
    for name, figs in current.items():
        for key, value in figs.items():
            before = previous.get(name, {}).get(key)
            if before is not None and value is not None and before != value:
                changes.append([name, key, before, value, round(value - before, 2)])
    commit = None
    first = next(iter(_load(out_dir, n) for n in ORDER if _load(out_dir, n)), None)
    if first:
        commit = first["machine"].get("commit")
    history.append(
        {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit,
            "command": command,
            "figures": current,
        }
    )
    history_path.write_text(json.dumps(history[-50:], indent=1))
    lines = [
        "# PersonaGraph benchmarks",
        "",
        "Every number below was measured by the command shown, on the machine stated in each "
        "section, with the baselines in the same run. Reproduce everything with:",
        "",
        f"    {command}",
        "",
        "(`make bench` runs the quick versions: the LoCoMo dev split, one user with 1k / 10k / "
        "100k memories, 100 users x 100 sharing the database; `persona bench all --full` "
        "shares the database between 100 users x 10,000 = 1M memories.)",
        "",
        "## Key figures and targets",
        "",
        *table(
            ["benchmark", "figure", "value"],
            [[n, k, v] for n, figs in current.items() for k, v in figs.items()],
        ),
        "",
        "## What changed since the previous run",
        "",
    ]
    if changes:
        lines += table(["benchmark", "figure", "before", "now", "change"], changes)
    else:
        lines += ["(first run, or no change in the key figures)"]
    lines += ["", *sections]
    readme = out_dir / "README.md"
    readme.write_text("\n".join(lines) + "\n")
    return readme
