"""Dating with the evidence in hand: how often the date resolver answers a LoCoMo
"When ...?" question right when the memories it reads are exactly the gold evidence turns.

This isolates the resolver (:func:`agent.temporal.relative_note`, through the offline
policy's :func:`agent.policies.offline.when_of`, which :mod:`agent.grounding` also uses) from
retrieval and from any model: a miss here is a date the turns say and the resolver did not
read, or a gold the turns cannot give. Beside it, in the same run, the baseline of dating
every answer to the day its best turn was said. No database and no model: it runs in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.policies.offline import best_memories, when_of
from agent.scoring import date_correct
from pipelines.bench.common import Report, table
from pipelines.bench.locomo import parse_evidence
from pipelines.formats import parse_locomo_datetime
from schema.nodes import MemoryKind
from schema.retrieval import RetrievedMemory
from schema.timeutil import UTC, asks_when, spoken_date

__all__ = ["run_dating"]


def _turns(conversation: dict[str, Any]) -> dict[str, RetrievedMemory]:
    """Every turn of one LoCoMo conversation as the memory a retrieval would return."""
    out: dict[str, RetrievedMemory] = {}
    for key, turns in conversation.items():
        if not key.startswith("session_") or not isinstance(turns, list):
            continue
        said = parse_locomo_datetime(str(conversation[f"{key}_date_time"])).replace(tzinfo=UTC)
        for t in turns:
            out[t["dia_id"]] = RetrievedMemory(
                id=t["dia_id"], kind=MemoryKind.TURN, speaker=t["speaker"], text=t["text"], t=said
            )
    return out


def run_dating(
    *,
    data: Path,
    out_dir: Path,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Date accuracy on every when-question of a LoCoMo file whose gold is a date."""
    report = Report(name="dating", title="Dating when-answers with the evidence in hand")
    samples = json.loads(Path(data).read_text())
    per_conv: dict[str, list[tuple[bool, bool]]] = {}
    misses: list[list[str]] = []
    for i, sample in enumerate(samples, 1):
        sid = str(sample["sample_id"])
        turns = _turns(sample["conversation"])
        for q in sample["qa"]:
            if q.get("category") != 2 or not asks_when(q["question"]):
                continue
            memories = [turns[e] for e in parse_evidence(q.get("evidence", [])) if e in turns]
            if not memories:
                continue
            best = (best_memories(q["question"], memories, n=1) or memories)[0]
            gold = str(q["answer"])
            resolved, said = when_of(best), spoken_date(best.t)
            ok, baseline = date_correct(resolved, gold), date_correct(said, gold)
            if ok is None or baseline is None:
                continue  # the gold is no date ("four years"): nothing to judge
            per_conv.setdefault(sid, []).append((ok, baseline))
            if not ok:
                misses.append([sid, q["question"], gold, resolved, best.text[:120]])
        if progress:
            progress("conversations", i, len(samples))

    def pct(rows: list[tuple[bool, bool]], col: int) -> float:
        return round(100 * sum(r[col] for r in rows) / len(rows), 1) if rows else 0.0

    every = [r for rows in per_conv.values() for r in rows]
    report.settings = {"data": str(data)}
    report.results = {
        "questions": len(every),
        "resolver": pct(every, 0),
        "day_said": pct(every, 1),
        "by_conversation": {
            sid: {"questions": len(rows), "resolver": pct(rows, 0), "day_said": pct(rows, 1)}
            for sid, rows in per_conv.items()
        },
        "misses": misses,
    }
    rows = [[sid, len(r), pct(r, 1), pct(r, 0)] for sid, r in per_conv.items()] + [
        ["all", len(every), pct(every, 1), pct(every, 0)]
    ]
    report.markdown = [
        f"{len(every)} LoCoMo when-questions (category 2) whose gold is a date, from {data.name}. "
        "Each is answered from its gold evidence turns alone: the best of them by the offline "
        "policy's ranking, dated by the resolver that the offline policy, `agent.grounding` and "
        "the prompts' time notes share. The baseline dates the answer to the day that turn was "
        "said. Scored by `agent.scoring.date_correct` (the policy benchmark's date accuracy).",
        "",
        *table(["conversation", "questions", "day said %", "resolver %"], rows),
        "",
        "Misses (the gold, what the resolver read, what it answered): a gold the turns cannot "
        "give (the evidence names no time) stays a miss for any resolver.",
        "",
        *table(
            ["conversation", "question", "gold", "resolver", "best evidence turn"],
            [[c, q, g, a, t.replace("|", "/")] for c, q, g, a, t in misses],
        ),
    ]
    report.write(out_dir)
    return report
