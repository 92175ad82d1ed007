"""Agent overhead per turn: everything except the model.

A zero-latency scripted policy drives a two-step chain (one retrieve with a window, then an
answer) over a user holding the sample conversation. Reported: p50/p95 per turn without the
update stage (the reply path) and with it (turn storage, fact extraction, PEM; the reply is
already streamed before it runs).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from agent.graph import AgentContext, AgentState, build_agent
from agent.memory import heuristic_extractors
from agent.policies import ScriptedChatModel
from agent.update import UpdateStage
from pipelines.bench.common import Report, percentiles, table, timed
from pipelines.demo import sample_path
from pipelines.ingest import ingest_file
from schema.protocols import Embedder, MemoryStore
from schema.settings import Settings

__all__ = ["run_agent_overhead"]

_RETRIEVE = (
    '<think>Past event with a time.</think><retrieve>{"keywords": ["dentist"], '
    '"start": "2024-07-01", "end": "2024-08-01"}</retrieve>'
)
_ANSWER = "<think>Found it.</think><answer>You saw Dr. Nguyen.</answer>"


def run_agent_overhead(
    *,
    store: MemoryStore,
    embedder: Embedder,
    settings: Settings,
    out_dir: Path,
    turns: int = 40,
    user_id: str = "bench-agent",
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    report = Report(name="agent", title="Agent overhead per turn (zero-latency scripted policy)")
    say = progress or (lambda _t, _i, _n: None)
    store.delete_user(user_id)
    ingest_file(sample_path(), store=store, embedder=embedder, user=user_id)
    policy = ScriptedChatModel(
        default=lambda msgs: _RETRIEVE if len([m for m in msgs if m.type == "ai"]) == 0 else _ANSWER
    )
    agent = build_agent(InMemorySaver())
    stage = UpdateStage(store, heuristic_extractors(), gap_minutes=settings.session_gap_minutes)
    results: dict[str, Any] = {}
    with timed() as total:
        for label, update in (("reply path (no update stage)", False), ("with update stage", True)):
            latencies: list[float] = []
            for i in range(turns + 3):
                say(label, i, turns)
                now = datetime(2024, 9, 10, 9, tzinfo=UTC) + timedelta(minutes=i)
                ctx = AgentContext(
                    user_id=user_id,
                    store=store,
                    policy=policy,
                    settings=settings,
                    now=now,
                    update_stage=stage if update else None,
                    user_name="Sam",
                )
                config: RunnableConfig = {"configurable": {"thread_id": f"{user_id}:{label}:{i}"}}
                question: AgentState = {"question": "Which dentist did I see in July 2024?"}
                with timed() as t:
                    out: Any = agent.invoke(question, config, context=ctx)
                if i < 3:
                    continue  # warm-up: plan cache, model load
                assert out["answer"] == "You saw Dr. Nguyen."
                latencies.append(t.ms)
            results[label] = {"latency": percentiles(latencies)}
    report.elapsed_s = total.ms / 1000
    report.describe_server(store)
    report.settings = {
        "turns": turns,
        "chain": "retrieve (window) -> answer",
        "policy": "scripted, zero latency",
        "extractor": "heuristic",
    }
    report.results = {"modes": results}
    report.markdown = [
        "A two-step chain (retrieve with a window, then answer) with a zero-latency scripted "
        f"policy, {turns} turns after 3 warm-up turns, over a user holding the sample "
        "conversation.",
        "",
        *table(
            ["mode", "p50 ms", "p95 ms", "p99 ms"],
            [
                [m, r["latency"]["p50"], r["latency"]["p95"], r["latency"]["p99"]]
                for m, r in results.items()
            ],
        ),
        "",
        "Target: p95 <= 100 ms for the two-step chain (reply path).",
    ]
    report.write(out_dir)
    return report
