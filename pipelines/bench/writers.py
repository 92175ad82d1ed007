"""Writes held under K concurrent clients of ONE user: nothing lost, nothing duplicated.

Each client is its own :class:`App` (its own driver, checkpoints and file lock, as a separate
`persona ask` process would be; one embedding model is shared to keep the process small), run
in a thread. Two workloads per K:

- asks: every client asks ``asks`` distinct questions through the real agent (offline policy)
  with the update stage on; afterwards every question must be stored exactly once and every
  (session, turn number) pair must be distinct;
- ingests: every client ingests the same sample file for the same user at once; afterwards the
  user's graph must equal one clean ingest under another user (node counts per label,
  relationship counts per type).

The per-user lock decides who writes; the report shows how long clients waited for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from pipelines.app import App
from pipelines.bench.common import Report, percentiles, table, timed
from pipelines.conversation import ask
from pipelines.demo import sample_path
from pipelines.ingest import ingest_file
from schema.settings import Settings

__all__ = ["run_writers"]


def _counts(app: App, user_id: str) -> Counter[str]:
    """Nodes per label and relationships per type of one user (plain Cypher)."""
    rows = app.conn.read(
        "MATCH (n) WHERE n.user_id = $u "
        "RETURN 'node ' + [x IN labels(n) WHERE x <> 'Memory'][0] AS k, count(*) AS n "
        "UNION ALL MATCH (a)-[r]->(b) WHERE a.user_id = $u AND b.user_id = $u "
        "RETURN 'rel ' + type(r) AS k, count(*) AS n",
        u=user_id,
    )
    return Counter({r["k"]: int(r["n"]) for r in rows})


def _asks(settings: Settings, embedder: Any, user_id: str, k: int, asks: int) -> dict[str, Any]:
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    quiet = Console(file=None, quiet=True)

    def client(c: int) -> list[float]:
        app = App(settings, embedder=embedder)
        took: list[float] = []
        try:
            for j in range(asks):
                with timed() as t:
                    ask(
                        app,
                        user_id,
                        f"Client {c} question {j}: what did I plan for the weekend?",
                        console=quiet,
                        now=start + timedelta(seconds=j),
                    )
                took.append(t.ms)
        finally:
            app.close()
        return took

    with timed() as wall, ThreadPoolExecutor(k) as pool:
        latencies = [ms for got in pool.map(client, range(k)) for ms in got]
    app = App(settings, embedder=embedder)
    try:
        turns = [
            t for s in app.store.sessions(user_id) for t in app.store.session_turns(user_id, s.id)
        ]
    finally:
        app.close()
    asked = Counter(t.text for t in turns if t.role == "user")
    expected = {
        f"Client {c} question {j}: what did I plan for the weekend?"
        for c in range(k)
        for j in range(asks)
    }
    places = Counter((t.session_id, t.index) for t in turns)
    return {
        "writes": k * asks,
        "lost": len(expected - set(asked)),
        "duplicated": sum(n - 1 for n in asked.values() if n > 1)
        + sum(n - 1 for n in places.values() if n > 1),
        "latency": percentiles(latencies),
        "exchanges_per_s": round(k * asks / (wall.ms / 1000), 2),
    }


def _ingests(settings: Settings, embedder: Any, user_id: str, k: int) -> dict[str, Any]:
    waits: list[str] = []

    def client(user: str) -> None:
        app = App(settings, note=waits.append, embedder=embedder)
        try:
            ingest_file(
                sample_path(),
                store=app.store,
                embedder=embedder,
                user=user,
                extractors=app.extractors,
                lock=app.user_lock,
            )
        finally:
            app.close()

    with timed() as wall, ThreadPoolExecutor(k) as pool:
        list(pool.map(client, [user_id] * k))
    reference = f"{user_id}-once"
    client(reference)
    app = App(settings, embedder=embedder)
    try:
        got, want = _counts(app, user_id), _counts(app, reference)
        app.store.delete_user(reference)
    finally:
        app.close()
    return {
        "writers": k,
        "duplicated": sum((got - want).values()),
        "lost": sum((want - got).values()),
        "nodes": sum(n for key, n in got.items() if key.startswith("node ")),
        "waited": sum("waiting for it" in w for w in waits),
        "seconds": round(wall.ms / 1000, 2),
    }


def run_writers(
    *,
    settings: Settings,
    embedder: Any,
    out_dir: Path,
    clients: Sequence[int] = (1, 2, 4, 8),
    asks: int = 5,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    report = Report(name="writers", title="Concurrent writers of one user: lost and duplicated")
    say = progress or (lambda _t, _i, _n: None)
    rows: list[dict[str, Any]] = []
    with timed() as total:
        # warm-up (plan caches, the model's first batches), not counted
        _asks(settings, embedder, "bench-writers-warmup", 1, 2)
        _ingests(settings, embedder, "bench-writers-warmup-ingest", 1)
        for i, k in enumerate(clients):
            say(f"{k} clients", i, len(clients))
            app = App(settings, embedder=embedder)
            try:
                if i == 0:
                    for uid in ("bench-writers-warmup", "bench-writers-warmup-ingest"):
                        app.store.delete_user(uid)
                for uid in (f"bench-writers-asks-{k}", f"bench-writers-ingest-{k}"):
                    app.store.delete_user(uid)
                report.describe_server(app.store)
            finally:
                app.close()
            rows.append(
                {
                    "clients": k,
                    "asks": _asks(settings, embedder, f"bench-writers-asks-{k}", k, asks),
                    "ingest": _ingests(settings, embedder, f"bench-writers-ingest-{k}", k),
                }
            )
    report.elapsed_s = total.ms / 1000
    report.settings = {"clients": list(clients), "asks_per_client": asks, "policy": "offline"}
    report.results = {"runs": rows}
    base = rows[0]["asks"]["exchanges_per_s"] if rows else 0.0
    report.markdown = [
        f"Each client is its own App in a thread (own driver, checkpoints and file lock, as a "
        f"separate process would be). Asks: {asks} distinct questions per client through the "
        "agent (offline policy, update stage on). Ingests: every client ingests the sample "
        "conversation for the same user at once, compared with one clean ingest.",
        "",
        "## Asks",
        "",
        *table(
            [
                "clients",
                "exchanges",
                "lost",
                "duplicated",
                "p50 ms",
                "p95 ms",
                "exchanges/s",
                "vs 1 client",
            ],
            [
                [
                    r["clients"],
                    r["asks"]["writes"],
                    r["asks"]["lost"],
                    r["asks"]["duplicated"],
                    r["asks"]["latency"]["p50"],
                    r["asks"]["latency"]["p95"],
                    r["asks"]["exchanges_per_s"],
                    round(r["asks"]["exchanges_per_s"] / base, 2) if base else "",
                ]
                for r in rows
            ],
        ),
        "",
        "## Ingests of one file at once",
        "",
        *table(
            ["writers", "nodes", "lost", "duplicated", "waited for the lock", "seconds"],
            [
                [
                    r["clients"],
                    r["ingest"]["nodes"],
                    r["ingest"]["lost"],
                    r["ingest"]["duplicated"],
                    r["ingest"]["waited"],
                    r["ingest"]["seconds"],
                ]
                for r in rows
            ],
        ),
        "",
        "Target: 0 lost and 0 duplicated under 8 concurrent writers.",
    ]
    report.write(out_dir)
    return report
