"""A local model's cost per question through the agent, with and without its prefix cache.

One LoCoMo conversation is ingested; a seeded sample of its category 1-4 questions, spread
over the categories, goes through the agent's own loop (think, retrieve against Neo4j,
answer) with the ``hf`` policy, greedy. Each question runs twice side by side, once with
:class:`HFChatModel`'s prefix cache and once without (the order alternates), on one loaded
model. Reported: the median seconds a question spends generating, their ratio, the prompt
tokens read and the share the cache served, and whether both runs wrote the same answer
(greedy decoding: they should).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.graph import AgentContext, build_agent
from agent.policies.hf import HFChatModel
from pipelines.bench.common import Report, table, timed
from pipelines.bench.locomo import CATEGORIES, QA, load_conversations
from pipelines.formats import load
from pipelines.ingest import ingest_conversation
from pipelines.synth.dataset import stratified_sample
from schema.protocols import Embedder, MemoryStore
from schema.settings import Settings

__all__ = ["run_local_policy"]

_MODES = ("prefix cache", "no cache")


def run_local_policy(
    *,
    store: MemoryStore,
    embedder: Embedder,
    settings: Settings,
    out_dir: Path,
    data: Path,
    model: str,
    questions: int = 8,
    seed: int = 7,
    user_prefix: str = "bench-local-policy-",
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    report = Report(name="local_policy", title="A local model through the agent: prefix cache")
    say = progress or (lambda _t, _i, _n: None)
    conv = load_conversations(data, 1, None, user_prefix)[0]
    answerable = [q for q in conv.qas if q.category in (1, 2, 3, 4)]
    asked = stratified_sample(answerable, questions, seed=seed, by=lambda q: q.category)
    source = {c.source: c for c in load(data, "locomo")}[conv.sample]
    source = type(source)(conv.user_id, None, source.record, source.source, source.base_dir)
    options: dict[str, Any] = {
        "model_path": model,
        "device": settings.device,
        "max_new_tokens": settings.max_tokens,
        "temperature": 0.0,
        "cache_dir": str(settings.cache_dir),
    }
    cached, fresh = HFChatModel(**options), HFChatModel(**options, prefix_cache=False)
    with timed() as total:
        say(f"ingest {conv.sample}", 0, 1)
        store.delete_user(conv.user_id)
        ingest_conversation(source, store=store, embedder=embedder)
        cached.load()
        fresh._model, fresh._tokenizer = cached._model, cached._tokenizer  # one loaded model
        policies = {_MODES[0]: cached, _MODES[1]: fresh}
        agent = build_agent(None)
        now = datetime.now(UTC).replace(microsecond=0)  # one time for every run: same prompts

        def run(mode: str, qa: QA, key: str) -> dict[str, Any]:
            policy = policies[mode]
            before = (policy.generation_s, policy.prompt_tokens, policy.cached_tokens)
            ctx = AgentContext(
                user_id=conv.user_id, store=store, policy=policy, settings=settings, now=now
            )
            config: RunnableConfig = {"configurable": {"thread_id": key}}
            out: Any = agent.invoke({"question": qa.question}, config, context=ctx)
            return {
                "generation_s": policy.generation_s - before[0],
                "prompt_tokens": policy.prompt_tokens - before[1],
                "cached_tokens": policy.cached_tokens - before[2],
                "calls": out.get("calls", 0),
                "answer": out.get("answer", ""),
            }

        for mode in _MODES:  # warm-up, untimed: first-call allocations, query plans
            run(mode, asked[0], f"warm:{mode}")
        rows: list[dict[str, Any]] = []
        for i, qa in enumerate(asked):
            say("questions", i, len(asked))
            order = _MODES if i % 2 == 0 else _MODES[::-1]
            runs = {mode: run(mode, qa, f"{i}:{mode}") for mode in order}
            rows.append({"question": qa.question, "category": CATEGORIES[qa.category], **runs})
    on = [r[_MODES[0]] for r in rows]
    off = [r[_MODES[1]] for r in rows]
    med_on = statistics.median(r["generation_s"] for r in on)
    med_off = statistics.median(r["generation_s"] for r in off)
    read = sum(r["prompt_tokens"] for r in on)
    read_off = sum(r["prompt_tokens"] for r in off)
    served = sum(r["cached_tokens"] for r in on)
    same = sum(a["answer"] == b["answer"] for a, b in zip(on, off, strict=True))
    summary = {
        "questions": len(rows),
        "median_generation_s": {_MODES[0]: round(med_on, 2), _MODES[1]: round(med_off, 2)},
        "speedup_of_medians": round(med_off / med_on, 2) if med_on else None,
        "median_per_question_ratio": round(
            statistics.median(
                b["generation_s"] / a["generation_s"]
                for a, b in zip(on, off, strict=True)
                if a["generation_s"] > 0
            ),
            2,
        ),
        "prompt_tokens": read,
        "served_from_cache_pct": round(100 * served / read, 1) if read else 0.0,
        "calls_per_question": round(statistics.mean(r["calls"] for r in on), 2),
        "same_answer": same,
    }
    report.elapsed_s = total.ms / 1000
    report.describe_server(store)
    report.settings = {
        "model": model,
        "conversation": conv.sample,
        "questions": len(rows),
        "seed": seed,
        "max_new_tokens": settings.max_tokens,
        "decoding": "greedy",
        "max_steps": settings.max_steps,
    }
    report.results = {"summary": summary, "questions": rows}
    report.markdown = [
        f"{len(rows)} questions of LoCoMo {conv.sample} (categories 1-4, seed {seed}) through the "
        f"agent with the hf policy `{model}` (greedy, up to {settings.max_tokens} new tokens a "
        "call), each run with and without the prefix cache side by side on one loaded model.",
        "",
        *table(
            ["mode", "median s generating / question", "prompt tokens", "from the cache %"],
            [
                [_MODES[0], med_on, read, summary["served_from_cache_pct"]],
                [_MODES[1], med_off, read_off, 0.0],
            ],
        ),
        "",
        f"Median per question, without the cache over with it: "
        f"**{summary['median_per_question_ratio']}x**; ratio of the medians "
        f"{summary['speedup_of_medians']}x. Model calls per question: "
        f"{summary['calls_per_question']}. Same answer with and without: {same} of {len(rows)}.",
    ]
    report.write(out_dir)
    return report
