"""Analytics and explorer latency: every analytics query on a LoCoMo conversation (p50/p95 of
repeated runs, after one warm-up), and the explorer's query for a user of at least 2,000
nodes (a long synthetic timeline). Targets: every analytics query p95 <= 100 ms; the
explorer's view <= 200 ms."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graph.analytics import Analytics
from graph.connection import Neo4jConnection
from pipelines.bench.common import Report, percentiles, table
from pipelines.formats import LoadedConversation, load
from pipelines.ingest import ingest_conversation
from pipelines.synth.personas import generate_conversation
from schema.nodes import MemoryKind
from schema.protocols import Embedder, MemoryStore
from schema.retrieval import TimeWindow

__all__ = ["run_analytics"]


def _time(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    fn()  # warm-up (plans cached, pages in memory)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return percentiles(samples)


def run_analytics(
    *,
    data: Path,
    store: MemoryStore,
    embedder: Embedder,
    conn: Neo4jConnection,
    out_dir: Path,
    sample: str = "conv-26",
    repeats: int = 30,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    say = progress or (lambda _t, _i, _n: None)
    started = time.perf_counter()
    rep = Report(name="analytics", title="Timeline analytics and explorer latency")
    rep.describe_server(store)
    an = Analytics(conn)
    user = f"bench-analytics-{sample}"
    conv = load(data, "locomo", sample=sample)[0]
    say("ingest", 1, 2)
    ingest_conversation(
        LoadedConversation(user, None, conv.record, conv.source, conv.base_dir),
        store=store,
        embedder=embedder,
    )
    turns = an.between(user, TimeWindow(), [MemoryKind.TURN], 5000)
    first, last = turns[0], turns[-1]
    mid = turns[len(turns) // 2].t
    window = TimeWindow(start=first.t, end=mid)
    queries: dict[str, Callable[[], Any]] = {
        "activity per day": lambda: an.activity(user, "day"),
        "activity per week": lambda: an.activity(user, "week"),
        "activity per month": lambda: an.activity(user, "month"),
        "topics over time": lambda: an.topics_over_time(user, "month"),
        "fact changes": lambda: an.fact_changes(user),
        "habits and goals": lambda: an.procedures(user),
        "Big-Five trajectory": lambda: an.personality(user),
        "drift in a window": lambda: an.drift(user, window),
        "as of a date": lambda: an.as_of(user, mid),
        "between two times": lambda: an.between(user, window, None, 200),
        "duration between two memories": lambda: an.duration(user, first.id, last.id),
        "central entities (PageRank)": lambda: an.central(user),
        "co-occurrence": lambda: an.cooccurrence(user),
        "topic communities (Louvain)": lambda: an.communities(user),
        "explorer view (300 nodes)": lambda: an.explore(user, limit=300),
        "node detail": lambda: an.detail(user, first.id, "Turn"),
    }
    rows = []
    results: dict[str, Any] = {"user": user, "nodes": sum(an.labels(user).values())}
    for i, (name, fn) in enumerate(queries.items()):
        say("analytics queries", i + 1, len(queries))
        p = _time(fn, repeats)
        results[name] = p
        rows.append([name, p["p50"], p["p95"], "met" if p["p95"] <= 100 else "NOT met"])
    # the explorer on a user of >= 2,000 nodes
    say("ingest a long timeline", 2, 2)
    big, months = "bench-analytics-long", 80  # 2,099 nodes: over the target's 2,000
    record = generate_conversation(4242, big, months=months).record
    store.delete_user(big)  # a benchmark user: rebuilt from its generator each run
    ingest_conversation(
        LoadedConversation(big, None, record, big, out_dir), store=store, embedder=embedder
    )
    nodes = sum(an.labels(big).values())
    view_all = _time(lambda: an.explore(big, limit=2000), repeats)
    view_300 = _time(lambda: an.explore(big, limit=300), repeats)
    results["explorer"] = {"nodes": nodes, "limit 2000": view_all, "limit 300": view_300}
    rep.results = results
    rep.settings = {"repeats": repeats, "sample": sample}
    rep.markdown = [
        f"LoCoMo {sample} as one user: {results['nodes']} nodes. Each query run {repeats} times "
        "after a warm-up; milliseconds.",
        "",
        *table(["query", "p50", "p95", "p95 <= 100 ms"], rows),
        "",
        f"Explorer on a synthetic {months}-month timeline of {nodes} nodes: "
        f"all nodes (limit 2000) p50 {view_all['p50']} / p95 {view_all['p95']} ms, "
        f"newest 300 p50 {view_300['p50']} / p95 {view_300['p95']} ms (target <= 200 ms: "
        f"{'met' if view_all['p95'] <= 200 else 'NOT met'}).",
    ]
    rep.elapsed_s = round(time.perf_counter() - started, 1)  # ingest and queries: the run
    rep.write(out_dir)
    return rep
