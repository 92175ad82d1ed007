"""Policies side by side on the same questions: the agent's whole loop against the real graph,
scored with the training rewards and LoCoMo's answer metrics.

A policy is either a chat model run through the agent one question at a time (the offline
policy) or a transformers model run by :func:`training.rollout.run_agent_rollouts` with greedy
decoding, batched round by round. Measured per policy: well-formed outputs, answers that were
never empty, evidence recall of the policy's own retrievals (and of the question-as-keywords
baseline, once), window precision, policy calls per answer, date accuracy on when-questions,
LoCoMo answer F1 by category (1-4) and the adversarial abstention rate (5), the held-out
reward (the GRPO objective, normalised to 0-100), generation tokens/s and wall time.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from agent.graph import STOP, AgentContext, build_agent
from agent.scoring import date_correct, date_span, is_abstention, locomo_f1
from schema.datasets import GoldQuestion
from schema.protocols import MemoryStore
from schema.retrieval import RetrievalRequest
from schema.settings import Settings
from schema.timeutil import asks_when
from schema.training import RewardWeights
from training.rewards import answer_score, evidence_score, format_score, window_score
from training.rollout import Generation, agent_trace, hf_generate, run_agent_rollouts

__all__ = [
    "PolicyEval",
    "baseline_recall",
    "evaluate_model",
    "evaluate_policy",
    "heldout_reward",
    "mean_interval",
    "paired_reward",
    "rollout_cache_speed",
    "row_reward",
    "slip_counts",
]

_LOCOMO_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}


@dataclass
class PolicyEval:
    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    generated_tokens: int = 0
    generation_s: float = 0.0
    wall_s: float = 0.0

    def summary(self, weights: RewardWeights) -> dict[str, Any]:
        rows = self.rows
        n = len(rows) or 1
        outputs = [ok for r in rows for ok in r["outputs_ok"]]
        recall = [r["evidence"] for r in rows if r["evidence"] is not None]
        windows = [w for r in rows for w in r["window_holds"]]
        dates = [r["date_ok"] for r in rows if r["date_ok"] is not None]
        own_dates = [r.get("model_date_ok", r["date_ok"]) for r in rows if r["date_ok"] is not None]
        locomo: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            cat = r.get("locomo_category")
            if cat in _LOCOMO_NAMES:
                locomo[_LOCOMO_NAMES[cat]].append(r["f1"])
        adversarial = [r["abstained"] for r in rows if r.get("locomo_category") == 5]
        f1_all = [v for vs in locomo.values() for v in vs]
        pct = lambda xs: round(100 * sum(xs) / len(xs), 1) if xs else None  # noqa: E731
        return {
            "questions": len(rows),
            "well_formed_outputs": pct([float(x) for x in outputs]),
            "outputs": len(outputs),
            "malformed_by_slip": slip_counts(rows),
            "answered": pct([float(bool(r["answer"].strip())) for r in rows]),
            "evidence_recall": pct(recall),
            "window_precision": pct([float(x) for x in windows]),
            "windowed_retrieves": len(windows),
            "calls_per_answer": round(sum(r["calls"] for r in rows) / n, 2),
            "date_accuracy": pct([float(x) for x in dates]),
            "date_questions": len(dates),
            "date_accuracy_model": pct([float(x) for x in own_dates]),
            "grounded_answers": sum(
                r.get("model_answer", r["answer"]) != r["answer"] for r in rows
            ),
            "locomo_f1": {k: pct(v) for k, v in sorted(locomo.items())},
            "locomo_f1_1to4": pct(f1_all),
            "locomo_adversarial_abstained": pct([float(x) for x in adversarial]),
            "heldout_reward": heldout_reward(rows, weights),
            "generation_tokens_per_s": (
                round(self.generated_tokens / self.generation_s, 1) if self.generation_s else None
            ),
            "wall_s": round(self.wall_s, 1),
        }


def slip_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How often each parse slip (agent.parsing's failure modes) made a policy output
    malformed, most frequent first: the well-formed rate says how many, this says which.

    >>> slip_counts([{"slips": ["unclosed_tag"]}, {"slips": ["extra_text", "unclosed_tag"]}])
    {'unclosed_tag': 2, 'extra_text': 1}
    """
    counts = Counter(i for r in rows for i in r.get("slips", ()))
    return dict(counts.most_common())


def row_reward(row: dict[str, Any], weights: RewardWeights) -> float | None:
    """One question's weighted reward, normalised by the weights of the rewards that did not
    abstain: 0-1 (None when all abstained).

    >>> w = RewardWeights(answer=1.0, evidence=0.5, window=0.25, format=0.25)
    >>> row_reward({"rewards": {"answer": 1.0, "evidence": None, "window": None,
    ...                         "format": 0.0}}, w)
    0.8
    """
    w = {"answer": weights.answer, "evidence": weights.evidence}
    w |= {"window": weights.window, "format": weights.format}
    parts = {k: row["rewards"][k] for k in w if row["rewards"][k] is not None}
    total = sum(w[k] for k in parts)
    return sum(w[k] * v for k, v in parts.items()) / total if total else None


def heldout_reward(rows: Sequence[dict[str, Any]], weights: RewardWeights) -> float | None:
    """Mean over questions of :func:`row_reward`: 0-100."""
    scores = [x for x in (row_reward(r, weights) for r in rows) if x is not None]
    return round(100 * sum(scores) / len(scores), 1) if scores else None


def paired_reward(
    before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]], weights: RewardWeights
) -> dict[str, Any]:
    """Two policies on the same questions, question by question: on how many ``after`` earned
    more reward, less, or the same, the mean difference in points (0-100) and a 95% bootstrap
    interval of that mean (questions resampled, seeded). With a few dozen questions a mean
    moves with two or three answers; the counts show how many, the interval how far the mean
    could move with other questions of the same kind (two cpu-smollm2 runs, one GRPO step
    count: +3.5 and -2.4 on 40 held-out questions, each interval across zero).

    >>> w = RewardWeights(answer=1.0, evidence=0.5, window=0.25, format=0.25)
    >>> def rows(*right):
    ...     return [{"id": f"q{i}", "rewards": {"answer": a, "evidence": None, "window": None,
    ...              "format": 1.0}} for i, a in enumerate(right)]
    >>> out = paired_reward(rows(1.0, 0.0, 1.0, 0.0), rows(1.0, 1.0, 0.0, 1.0), w)
    >>> {k: out[k] for k in ("questions", "better", "worse", "same", "mean_difference")}
    {'questions': 4, 'better': 2, 'worse': 1, 'same': 1, 'mean_difference': 20.0}
    >>> lo, hi = out["interval_95"]; lo < 20.0 < hi
    True
    """
    out = {"questions": 0, "better": 0, "worse": 0, "same": 0}
    diffs = []
    after_by_id = {r["id"]: r for r in after}
    for r in before:
        other = after_by_id.get(r["id"])
        a = row_reward(r, weights)
        b = row_reward(other, weights) if other else None
        if a is None or b is None:
            continue
        out["questions"] += 1
        diffs.append(b - a)
        key = "better" if b - a > 1e-9 else "worse" if a - b > 1e-9 else "same"
        out[key] += 1
    mean = round(100 * sum(diffs) / len(diffs), 1) if diffs else None
    return {**out, "mean_difference": mean, "interval_95": mean_interval(diffs)}


def mean_interval(
    diffs: Sequence[float], *, resamples: int = 4000, seed: int = 0
) -> list[float] | None:
    """The 95% percentile-bootstrap interval of the mean of ``diffs`` (0-1 rewards), in points.

    >>> mean_interval([0.1] * 5)
    [10.0, 10.0]
    >>> mean_interval([]) is None
    True
    """
    import numpy as np

    if not diffs:
        return None
    values = np.asarray(diffs, dtype=float)
    draws = np.random.default_rng(seed).choice(values, size=(resamples, len(values)))
    lo, hi = np.percentile(draws.mean(axis=1), [2.5, 97.5])
    return [round(100 * float(lo), 1), round(100 * float(hi), 1)]


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _score(q: GoldQuestion, trace: dict[str, Any]) -> dict[str, Any]:
    answer = trace["answer"]
    windows = [(_dt(s), _dt(e)) for s, e in trace["windows"]]
    gold_window = (q.window_start, q.window_end) if q.window_start or q.window_end else None
    holds = []
    for s, e in windows:
        if (s or e) and q.evidence_at:
            holds.append(all((s is None or t >= s) and (e is None or t < e) for t in q.evidence_at))
    when = q.kind == "when" or (q.locomo_category == 2 and asks_when(q.question))
    dated = when and date_span(q.answer) is not None
    date_ok = date_correct(answer, q.answer) if dated else None
    model_answer = trace.get("model_answer", answer)
    policy_steps = [  # what the policy wrote (not retrieve results, not agent.grounding's dates)
        issues
        for kind, issues in zip(trace["kinds"], trace["step_issues"], strict=True)
        if kind not in ("retrieve", "grounded")
    ]
    return {
        "id": q.id,
        "kind": q.kind,
        "question": q.question,
        "gold": q.answer,
        "answer": answer,
        "locomo_category": q.locomo_category,
        "calls": trace["calls"],
        "outputs_ok": [not issues for issues in policy_steps],
        "slips": [i for issues in policy_steps for i in issues],
        "evidence": evidence_score(trace["retrieved"], q.evidence),
        "window_holds": holds,
        "date_ok": date_ok,
        "model_answer": model_answer,
        "model_date_ok": date_correct(model_answer, q.answer) if dated else None,
        "f1": locomo_f1(answer, q.answer, q.locomo_category or 4),
        "abstained": is_abstention(answer),
        "rewards": {
            # rewards judge the model (as in GRPO); the answer metrics above, what users get
            "answer": answer_score(model_answer, q.answer, q.kind),
            "evidence": evidence_score(trace["retrieved"], q.evidence),
            "window": window_score(windows, q.evidence_at, gold_window),
            "format": format_score(trace),
        },
        "error": trace.get("error"),
    }


def evaluate_policy(
    name: str,
    policy: BaseChatModel,
    questions: Sequence[GoldQuestion],
    *,
    store: MemoryStore,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
) -> PolicyEval:
    """Any chat model through the agent, one question at a time; ``progress(done, total)``
    after each."""
    agent = build_agent()
    result = PolicyEval(name)
    t0 = time.perf_counter()
    for q in questions:
        ctx = AgentContext(
            user_id=q.user_id,
            store=store,
            policy=policy,
            settings=settings,
            now=q.asked_at,
            user_name=q.user_name,
        )
        error = None
        state: dict[str, Any] = {}
        try:
            state = dict(
                agent.invoke(
                    {"question": q.question, "asked_at": q.asked_at.isoformat()}, context=ctx
                )
            )
        except Exception as exc:  # scored as a failure, the run goes on
            error = f"{type(exc).__name__}: {exc}"
        trace = agent_trace(state, error)
        result.rows.append(_score(q, trace))
        if progress:
            progress(len(result.rows), len(questions))
    result.wall_s = time.perf_counter() - t0
    return result


def _load_for_generation(model_dir: str) -> tuple[Any, Any]:
    """A saved policy in fp32, in eval mode, with its tokenizer (evaluation and benchmarks)."""
    import torch
    from transformers import AutoModelForCausalLM

    from training.base import load_tokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    return model, load_tokenizer(model_dir)


def evaluate_model(
    name: str,
    model_dir: str,
    questions: Sequence[GoldQuestion],
    *,
    store: MemoryStore,
    settings: Settings,
    max_new_tokens: int,
    batch: int = 8,
    bf16: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PolicyEval:
    """A transformers model through the agent's loop, greedy, ``batch`` questions at a time;
    ``progress(done, total)`` after each batch."""
    model, tokenizer = _load_for_generation(model_dir)
    inner = hf_generate(
        model, tokenizer, max_new_tokens=max_new_tokens, temperature=0.0, stop=STOP, bf16=bf16
    )
    result = PolicyEval(name)

    def timed(prompts: list[list[int]]) -> list[Generation]:
        t = time.perf_counter()
        out = inner(prompts)
        result.generation_s += time.perf_counter() - t
        result.generated_tokens += sum(len(g.ids) for g in out)
        return out

    t0 = time.perf_counter()
    for lo in range(0, len(questions), batch):
        chunk = list(questions[lo : lo + batch])
        outcomes = run_agent_rollouts(
            chunk, store=store, settings=settings, tokenizer=tokenizer, generate=timed
        )
        for o in outcomes:
            result.rows.append(_score(o.question, o.trace))
        if progress:
            progress(len(result.rows), len(questions))
    result.wall_s = time.perf_counter() - t0
    return result


def baseline_recall(
    questions: Sequence[GoldQuestion], *, store: MemoryStore, settings: Settings
) -> float | None:
    """Evidence recall when the question itself is the query (no window, the agent's k)."""
    scores = []
    for q in questions:
        if not q.evidence:
            continue
        res = store.retrieve(
            RetrievalRequest(
                user_id=q.user_id,
                query=q.question,
                k=settings.retrieve_k,
                unit=settings.retrieve_unit,
                prefer_dated=settings.retrieve_unit == "turn" and asks_when(q.question),
            )
        )
        got = [m.source_id for m in res.items if m.source_id]
        scores.append(evidence_score([got], q.evidence) or 0.0)
    return round(100 * sum(scores) / len(scores), 1) if scores else None


def rollout_cache_speed(
    model_dir: str,
    groups: Sequence[Sequence[GoldQuestion]],
    *,
    store: MemoryStore,
    settings: Settings,
    generations: int,
    max_new_tokens: int,
    temperature: float = 0.9,
    top_k: int = 40,
    seed: int = 7,
    bf16: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """GRPO-shaped rollouts (each question of a group ``generations`` times, sampled, through
    the agent's loop against the store) with the batched prompt cache of
    :func:`training.rollout.hf_generate` and without it, side by side on one loaded model:
    each group runs in both modes, the order alternating, each from the same seed. One row
    per group and mode: seconds generating, tokens generated, prompt tokens read."""
    import torch

    model, tokenizer = _load_for_generation(model_dir)
    modes = (True, False)
    rows: list[dict[str, Any]] = []
    for g, group in enumerate(groups):
        batch = [q for q in group for _ in range(generations)]
        for cached in modes if g % 2 == 0 else modes[::-1]:
            inner = hf_generate(
                model,
                tokenizer,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_k=top_k,
                stop=STOP,
                bf16=bf16,
                prefix_cache=cached,
            )
            row = {"group": g, "prefix_cache": cached, "generation_s": 0.0, "tokens": 0}
            row["prompt_tokens"] = 0

            def timed(
                prompts: list[list[int]],
                row: dict[str, Any] = row,
                inner: Callable[[list[list[int]]], list[Generation]] = inner,
            ) -> list[Generation]:
                t = time.perf_counter()
                out = inner(prompts)
                row["generation_s"] += time.perf_counter() - t
                row["tokens"] += sum(len(o.ids) for o in out)
                row["prompt_tokens"] += sum(len(p) for p in prompts)
                return out

            torch.manual_seed(seed + g)
            run_agent_rollouts(
                batch, store=store, settings=settings, tokenizer=tokenizer, generate=timed
            )
            rows.append(row)
            if progress:
                progress(len(rows), 2 * len(groups))
    return rows
