"""GRPO rewards: plain functions ``(completions, **columns) -> list[float | None]`` in trl's
style. Each rollout's ``trace`` (what the agent did: its retrieve calls with their windows, the
source ids they returned, the parse issues, the answer) comes from the rollout function; the
gold columns (``answer``, ``kind``, ``evidence``, ``evidence_at``, ``window_start``,
``window_end``) from the dataset. A reward that cannot be computed for a question abstains
with ``None`` (trl leaves it out of the sum); nothing ever scores a fixed 0.5.

- :func:`answer_reward`: correctness against gold: dates normalised to intervals for when-
  questions (0.7 date + 0.3 token F1), token F1 otherwise, abstention for the unanswerable;
- :func:`evidence_reward`: recall of the gold evidence in what the retrieve calls returned
  (credit for good retrieval steps, not only for the final answer);
- :func:`window_reward`: the window holds the evidence; an over-wide one earns less;
- :func:`format_reward`: well-formed outputs (1), tolerated slips (0.5), repairs (0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from agent.scoring import date_correct, date_span, is_abstention, token_f1

__all__ = [
    "REWARD_FUNCS",
    "answer_reward",
    "answer_score",
    "evidence_reward",
    "evidence_score",
    "format_reward",
    "format_score",
    "weighted_reward",
    "window_reward",
    "window_score",
]


def _dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# ------------------------------------------------------------------------------ scores
def answer_score(prediction: str, gold: str, kind: str) -> float:
    """One answer against its gold.

    >>> answer_score("That was not mentioned.", "That was not mentioned.", "unanswerable")
    1.0
    >>> answer_score("Lisbon", "That was not mentioned.", "unanswerable")
    0.0
    >>> answer_score("the week before 27 June 2023", "the week before 27 June 2023", "when")
    1.0
    >>> round(answer_score("27 June 2023", "the week before 27 June 2023", "when"), 2)
    0.22
    >>> answer_score("Copenhagen", "Copenhagen", "then")
    1.0
    """
    if kind == "unanswerable":
        return 1.0 if is_abstention(prediction) else 0.0
    if is_abstention(prediction):
        return 0.0
    f1 = token_f1(prediction, gold)
    if kind == "when" and date_span(gold) is not None:
        return 0.7 * float(bool(date_correct(prediction, gold))) + 0.3 * f1
    return f1


def evidence_score(retrieved: Sequence[Sequence[str]], evidence: Sequence[str]) -> float | None:
    """Recall of the gold evidence in everything the retrieve calls returned; None when there
    is no evidence to find (an unanswerable question).

    >>> evidence_score([["D1:2", "D3:4"], ["D5:1"]], ["D3:4", "D5:1"])
    1.0
    >>> evidence_score([["D1:2"]], ["D3:4", "D5:1"])
    0.0
    >>> evidence_score([], ["D3:4"]), evidence_score([["D1:1"]], []) is None
    (0.0, True)
    """
    if not evidence:
        return None
    seen = {s for step in retrieved for s in step}
    return sum(1 for e in evidence if e in seen) / len(evidence)


def window_score(
    windows: Sequence[tuple[datetime | None, datetime | None]],
    evidence_at: Sequence[datetime],
    gold: tuple[datetime | None, datetime | None] | None,
) -> float | None:
    """Does the last windowed retrieve hold the evidence, and how tightly?

    - the question names a time (``gold``): a window holding every evidence turn scores
      ``gold width / window width`` (capped at 1): an over-wide window earns less; a window
      missing the evidence scores 0; no window at all 0.2 (it holds the evidence, unbounded);
    - the question names no time: a window that holds the evidence scores 1, one that cuts it
      out 0; no window abstains (None), as does a question without evidence times.

    >>> from datetime import datetime as D, UTC
    >>> june = (D(2023, 6, 1, tzinfo=UTC), D(2023, 7, 1, tzinfo=UTC))
    >>> said = [D(2023, 6, 27, tzinfo=UTC)]
    >>> window_score([june], said, june)
    1.0
    >>> window_score([(D(2023, 1, 1, tzinfo=UTC), D(2024, 1, 1, tzinfo=UTC))], said, june) < 0.1
    True
    >>> window_score([(D(2023, 7, 1, tzinfo=UTC), None)], said, june)
    0.0
    >>> window_score([], said, june), window_score([], said, None) is None
    (0.2, True)
    """
    if not evidence_at:
        return None
    used = [(s, e) for s, e in windows if s is not None or e is not None]
    if not used:
        return 0.2 if gold else None
    start, end = used[-1]
    holds = all((start is None or t >= start) and (end is None or t < end) for t in evidence_at)
    if not holds:
        return 0.0
    if not gold or gold[0] is None or gold[1] is None:
        return 1.0
    if start is None or end is None:
        return 0.2
    return min(1.0, (gold[1] - gold[0]) / max(end - start, gold[1] - gold[0]))


def format_score(trace: dict[str, Any]) -> float:
    """1 when every output parsed cleanly, 0.5 with tolerated slips only, 0 when the agent
    had to repair, fall back or force an answer.

    >>> format_score({"kinds": ["think", "retrieve", "answer"], "issues": []})
    1.0
    >>> format_score({"kinds": ["think", "retrieve", "answer"], "issues": ["missing_think"]})
    0.5
    >>> format_score({"kinds": ["repair", "answer"], "issues": ["invalid_json"]})
    0.0
    """
    if trace.get("error") or any(k in ("repair", "fallback", "forced") for k in trace["kinds"]):
        return 0.0
    return 0.5 if trace.get("issues") else 1.0


# ------------------------------------------------------------------------------ trl rewards
def answer_reward(
    completions: list[Any],
    *,
    trace: list[dict[str, Any]],
    answer: list[str],
    kind: list[str],
    **_: Any,
) -> list[float | None]:
    """trl reward: :func:`answer_score` of each rollout's final answer."""
    return [
        answer_score(t.get("answer") or "", a, k)
        for t, a, k in zip(trace, answer, kind, strict=True)
    ]


def evidence_reward(
    completions: list[Any], *, trace: list[dict[str, Any]], evidence: list[list[str]], **_: Any
) -> list[float | None]:
    """trl reward: :func:`evidence_score` of each rollout's retrievals."""
    return [evidence_score(t["retrieved"], e) for t, e in zip(trace, evidence, strict=True)]


def window_reward(
    completions: list[Any],
    *,
    trace: list[dict[str, Any]],
    evidence_at: list[list[Any]],
    window_start: list[Any],
    window_end: list[Any],
    **_: Any,
) -> list[float | None]:
    """trl reward: :func:`window_score` of each rollout's windows."""
    out: list[float | None] = []
    for t, times, ws, we in zip(trace, evidence_at, window_start, window_end, strict=True):
        gold = (_dt(ws), _dt(we)) if ws or we else None
        windows = [(_dt(s), _dt(e)) for s, e in t["windows"]]
        out.append(window_score(windows, [d for d in map(_dt, times) if d], gold))
    return out


def format_reward(
    completions: list[Any], *, trace: list[dict[str, Any]], **_: Any
) -> list[float | None]:
    """trl reward: :func:`format_score` of each rollout."""
    return [format_score(t) for t in trace]


#: in the order of RewardWeights' fields
REWARD_FUNCS: tuple[Callable[..., list[float | None]], ...] = (
    answer_reward,
    evidence_reward,
    window_reward,
    format_reward,
)


def weighted_reward(
    row: Mapping[str, Any], trace: dict[str, Any], weights: Sequence[float]
) -> float:
    """The scalar GRPOTrainer gives one rollout: the weighted sum of :data:`REWARD_FUNCS` over
    its dataset ``row`` (the gold columns), a reward that does not apply (None) adding nothing,
    as trl's nansum does.

    >>> row = {"answer": "Paris", "kind": "single_hop", "evidence": [], "evidence_at": [],
    ...        "window_start": None, "window_end": None}
    >>> trace = {"answer": "Paris", "kinds": ["answer"], "issues": [], "retrieved": [],
    ...          "windows": []}
    >>> weighted_reward(row, trace, [1.0, 0.5, 0.25, 0.25])
    1.25
    """
    columns = {k: [v] for k, v in row.items() if k != "prompt"}
    total = 0.0
    for func, weight in zip(REWARD_FUNCS, weights, strict=True):
        value = func([None], trace=[trace], **columns)[0]
        if value is not None:
            total += weight * value
    return total
