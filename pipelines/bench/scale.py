"""Speed and scale: retrieval latency by memory count and vector path, against a numpy floor.

For one user holding N memories (1k / 10k / 100k), and for one user among 100 sharing the
database, time-bounded hybrid retrieval (vector + full-text + hydration, k = 10, a random
90-day window) is timed on every vector path:

- ``search``: Cypher 25 SEARCH, user and window filtered inside the vector index;
- ``prefilter``: exact cosine over the user's memories in the window (range index);
- ``postfilter``: global ANN top-k, then the user/window filter (what peers do);
- ``auto``: the default: the exact scan when the user's memories in the window number at
  most the cutoff, SEARCH above it (the report says which it chose, how often);
- ``numpy``: an in-process exact scan of the same vectors with the same filter: the floor.

The recall of each approximate path's vector signal against exact search is reported too.
The paths take turns per query (in a rotating order), so caches and machine noise fall on all
of them alike; every single-user size spans the same two years, so a 90-day window holds
about an eighth of a user's memories (a 1k user's window is small, a 10k user's is not).
Texts are generated sentences embedded with the real model; beyond ``unique_texts`` the
vectors of earlier texts are reused with small noise (stated in the report).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from graph.candidates import DAYS_MAX
from pipelines.bench.common import Report, line_plot, percentiles, table, timed
from schema.nodes import Session, Turn, User, make_id
from schema.protocols import Embedder, MemoryStore, WriteBatch
from schema.retrieval import EXACT_MAX, RetrievalRequest, TimeWindow, VectorPath

__all__ = ["Corpus", "make_corpus", "run_scale"]

_SUBJECTS = [
    "I",
    "My sister",
    "My boss",
    "Ana",
    "The neighbour",
    "My friend Dev",
    "We",
    "My doctor",
    "The team",
    "Grandma",
]
_VERBS = [
    "visited",
    "talked about",
    "booked",
    "cancelled",
    "planned",
    "enjoyed",
    "fixed",
    "lost",
    "bought",
    "painted",
    "cooked",
    "read about",
    "watched",
    "forgot",
]
_OBJECTS = [
    "the dentist appointment",
    "a trip to Lisbon",
    "the new bike",
    "a birthday cake",
    "the garden fence",
    "a jazz concert",
    "the tax forms",
    "a pottery class",
    "the marathon training plan",
    "a board game night",
    "the kitchen sink",
    "a novel about whales",
    "the hiking boots",
    "a dinner at Luigi's",
    "the car engine",
    "a yoga retreat",
    "the piano lessons",
    "a camping weekend",
    "the job interview",
    "a museum visit",
]
_TAILS = [
    "yesterday",
    "last week",
    "this morning",
    "after work",
    "with the kids",
    "in the rain",
    "for the first time",
    "again",
    "on Saturday",
    "before lunch",
]


@dataclass
class Corpus:
    texts: list[str]
    vectors: np.ndarray  # (n, d) unit vectors
    times: list[datetime]


def make_corpus(
    n: int,
    embedder: Embedder,
    *,
    seed: int = 11,
    unique_texts: int = 20_000,
    start: datetime = datetime(2023, 1, 1, tzinfo=UTC),
    days: int = 730,
    progress: Callable[[int], None] | None = None,
) -> Corpus:
    rng = random.Random(seed)
    texts = [
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}."
        for _ in range(n)
    ]
    base = texts[:unique_texts]
    vecs = embedder.embed(base, progress=progress)
    if n > len(base):
        nrng = np.random.default_rng(seed)
        extra = vecs[nrng.integers(0, len(base), n - len(base))]
        extra = extra + nrng.normal(0, 0.02, extra.shape).astype(np.float32)
        extra /= np.linalg.norm(extra, axis=1, keepdims=True)
        vecs = np.concatenate([vecs, extra.astype(np.float32)])
    times = sorted(start + timedelta(minutes=rng.randint(0, days * 24 * 60)) for _ in range(n))
    return Corpus(texts, vecs.astype(np.float32), times)


def load_user(
    store: MemoryStore,
    user_id: str,
    corpus: Corpus,
    *,
    session_size: int = 50,
    batch_turns: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write the corpus as one user's turns, in sessions of ``session_size``."""
    user = User(id=user_id, user_id=user_id)
    n = len(corpus.texts)
    for lo in range(0, n, batch_turns):
        batch = WriteBatch(user=user)
        for s_lo in range(lo, min(lo + batch_turns, n), session_size):
            idx = range(s_lo, min(s_lo + session_size, n))
            sid = make_id("session", user_id, "bench", s_lo)
            batch.sessions.append(
                Session(
                    id=sid,
                    user_id=user_id,
                    source_id=f"bench-{s_lo}",
                    index=s_lo // session_size,
                    start=corpus.times[idx[0]],
                    end=corpus.times[idx[-1]],
                )
            )
            for j, i in enumerate(idx):
                batch.turns.append(
                    Turn(
                        id=make_id("turn", user_id, sid, j),
                        user_id=user_id,
                        session_id=sid,
                        index=j,
                        role="user",
                        speaker="user",
                        text=corpus.texts[i],
                        t=corpus.times[i],
                        embedding=corpus.vectors[i].tolist(),
                    )
                )
        store.write(batch)
        if progress:
            progress(len(batch.turns))


def _numpy_floor(
    corpus: Corpus, times_ns: np.ndarray, qv: np.ndarray, window: TimeWindow, k: int
) -> tuple[list[int], float]:
    with timed() as t:
        lo = np.int64(window.start.timestamp() * 1e9) if window.start else np.iinfo(np.int64).min
        hi = np.int64(window.end.timestamp() * 1e9) if window.end else np.iinfo(np.int64).max
        mask = (times_ns >= lo) & (times_ns < hi)
        idx = np.nonzero(mask)[0]
        scores = corpus.vectors[idx] @ qv
        top = idx[np.argsort(-scores)[:k]] if len(idx) else idx
    return top.tolist(), t.ms


def tie_recall(
    vectors: np.ndarray, qv: np.ndarray, exact: list[int], got: list[int | None]
) -> float:
    """Recall of ``got`` against the exact top ``exact``, where an item that ties the exact
    k-th score counts as found (the synthetic corpus repeats sentences, so equal vectors
    tie and either copy is a right answer).

    >>> v, q = np.asarray([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.asarray([1.0, 0.0])
    >>> tie_recall(v, q, [0], [1]), tie_recall(v, q, [0], [2])
    (1.0, 0.0)
    """
    if not exact:
        return 1.0
    kth = float(np.min(vectors[exact] @ qv))
    hits = {i for i in got if i is not None and float(vectors[i] @ qv) >= kth - 1e-5}
    return min(len(hits), len(exact)) / len(exact)


def _queries(
    corpus: Corpus, embedder: Embedder, n: int, seed: int
) -> list[tuple[str, Any, TimeWindow]]:
    rng = random.Random(seed)
    texts = [
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}" for _ in range(n)
    ]
    # one at a time, as the store embeds a query: an int8 ONNX model quantises activations
    # per batch, so a query's vector shifts slightly with its batch mates
    vecs = [embedder.embed_queries([text])[0] for text in texts]
    lo, hi = corpus.times[0], corpus.times[-1]
    out = []
    for text, v in zip(texts, vecs, strict=True):
        start = lo + (hi - lo) * rng.random() * 0.85
        out.append((text, v, TimeWindow(start=start, end=start + timedelta(days=90))))
    return out


def _turn_ids(user_id: str, n: int, session_size: int = 50) -> dict[str, int]:
    """Turn id -> corpus index, as load_user assigns them."""
    out = {}
    for s_lo in range(0, n, session_size):
        sid = make_id("session", user_id, "bench", s_lo)
        for j, i in enumerate(range(s_lo, min(s_lo + session_size, n))):
            out[make_id("turn", user_id, sid, j)] = i
    return out


def measure(
    store: MemoryStore,
    user_id: str,
    corpus: Corpus,
    embedder: Embedder,
    *,
    queries: int,
    k: int,
    seed: int,
    paths: list[VectorPath],
) -> dict[str, Any]:
    qs = _queries(corpus, embedder, queries, seed)
    times_ns = np.asarray([int(t.timestamp() * 1e9) for t in corpus.times], dtype=np.int64)
    index = _turn_ids(user_id, len(corpus.texts))
    out: dict[str, Any] = {}
    exact_top: list[list[int]] = []
    floor_ms = []
    for _, qv, window in qs:
        top, ms = _numpy_floor(corpus, times_ns, qv, window, k)
        exact_top.append(top)
        floor_ms.append(ms)
    out["numpy"] = {
        "total": percentiles(floor_ms),
        "vector": percentiles(floor_ms),
        "recall_vs_exact": 1.0,
    }
    # paths interleaved per query, in a seeded random order, so that none is favoured by warm
    # caches, by what else the machine did during its turn, or by the path before it (a
    # rotation always put 'auto' right after the heavy 'postfilter': +0.4 ms at p50 for a
    # small user, where alone the two paths measure the same)
    order = random.Random(seed)
    stats: dict[VectorPath, dict[str, Any]] = {
        p: {
            "totals": [],
            "with_embedding": [],
            "vector": [],
            "recalls": [],
            "chose": {},
            "stages": {},
        }
        for p in paths
    }
    for text, _, window in qs[:3]:  # warm-up (plan cache, page cache)
        for path in paths:
            store.retrieve(
                RetrievalRequest(
                    user_id=user_id, query=text, k=k, window=window, vector_path=path, expand=[]
                )
            )
    for (text, qv, window), exact in zip(qs, exact_top, strict=True):
        for path in order.sample(paths, len(paths)):
            st = stats[path]
            req = RetrievalRequest(
                user_id=user_id, query=text, k=k, window=window, vector_path=path, expand=[]
            )
            with timed() as t:
                res = store.retrieve(req)
            # less the part of the wait that the query embedding caused (computed beside
            # full-text, with the vector query after it)
            st["totals"].append(t.ms - res.timings_ms.get("embed_wait", 0.0))
            st["with_embedding"].append(t.ms)
            for stage, ms in res.timings_ms.items():
                st["stages"].setdefault(stage, []).append(ms)
            st["vector"].append(res.timings_ms.get("vector", 0.0))
            ran = res.vector_path.value
            st["chose"][ran] = st["chose"].get(ran, 0) + 1
            # the vector signal alone, to compare with exact search
            alone = store.retrieve(req.model_copy(update={"signals": ["vector"]}))
            got = [index.get(i.id) for i in alone.items]
            st["recalls"].append(tie_recall(corpus.vectors, qv, exact, got))
    if VectorPath.AUTO in stats and VectorPath.PREFILTER in stats:
        # the wall time a caller waits: the embedding is the same work on both paths, and
        # subtracting its share of the wait adds that estimate's noise to the difference
        out["auto_vs_prefilter"] = paired_difference(
            stats[VectorPath.AUTO]["with_embedding"],
            stats[VectorPath.PREFILTER]["with_embedding"],
            seed=seed,
        )
    for path, st in stats.items():
        out[path.value] = {
            "total": percentiles(st["totals"]),
            "with_embedding": percentiles(st["with_embedding"]),
            "vector": percentiles(st["vector"]),
            "recall_vs_exact": round(float(np.mean(st["recalls"])), 3),
            "chose": st["chose"],
            "stages_ms": {name: percentiles(v) for name, v in st["stages"].items()},
        }
    return out


def paired_difference(
    a_ms: Sequence[float], b_ms: Sequence[float], *, seed: int = 0, resamples: int = 2000
) -> dict[str, Any]:
    """Per-query difference a - b of two paths timed on the same queries side by side: its
    median, a bootstrap 95% interval of that median, and the share of queries where a was
    faster. A p95 of 200 queries moves by a few tenths of a millisecond from run to run; the
    paired median says whether one path is slower on the same work.

    >>> d = paired_difference([5.0, 6.0, 7.0, 8.0], [4.0, 5.0, 6.0, 7.0])
    >>> d["median_ms"], d["ci95_ms"], d["a_faster"]
    (1.0, [1.0, 1.0], 0.0)
    """
    diff = np.asarray(a_ms, dtype=float) - np.asarray(b_ms, dtype=float)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(diff, size=(resamples, len(diff)), replace=True), axis=1)
    lo, hi = np.percentile(medians, [2.5, 97.5])
    return {
        "median_ms": round(float(np.median(diff)), 2),
        "ci95_ms": [round(float(lo), 2), round(float(hi), 2)],
        "a_faster": round(float(np.mean(diff < 0)), 2),
        "n": len(diff),
    }


def run_scale(
    *,
    store: MemoryStore,
    embedder: Embedder,
    out_dir: Path,
    sizes: tuple[int, ...] = (1_000, 10_000),
    shared_users: int = 100,
    shared_per_user: int = 100,
    queries: int = 200,  # with 50, p95 is the 3rd-slowest query and p99 the slowest
    k: int = 10,
    prefix: str = "bench-scale-",
    exact_max: int = EXACT_MAX,  # the store's cutoff (reported; the store applies it)
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    report = Report(name="scale", title="Retrieval latency by memory count and vector path")
    say = progress or (lambda _t, _i, _n: None)
    facts = store.server_facts()
    paths = [VectorPath.AUTO, VectorPath.SEARCH] if facts.vector_search_clause else []
    paths += [VectorPath.PREFILTER, VectorPath.POSTFILTER]
    results: dict[str, Any] = {}
    with timed() as total:
        biggest = max(sizes)
        say("embedding corpus", 0, biggest)
        corpus = make_corpus(biggest, embedder)
        for n in sizes:
            # the corpus depends on its size: the id names it, so stored users are reused
            # only when they hold exactly this data
            # every size spans the same two years (a 90-day window holds about an eighth)
            user = f"{prefix}single-{n}-of-{biggest}-spread"
            step = biggest // n
            sub = Corpus(corpus.texts[:n], corpus.vectors[:n], corpus.times[::step][:n])
            if not store.existing_ids(
                user, [make_id("turn", user, make_id("session", user, "bench", 0), 0)]
            ):
                say(f"loading {n} memories", 0, n)
                load_user(store, user, sub)
            say(f"measuring {n}", 0, queries)
            results[f"1 user, {n:,} memories"] = measure(
                store, user, sub, embedder, queries=queries, k=k, seed=n, paths=paths
            )
        if shared_users:
            say(f"loading {shared_users} users", 0, shared_users)
            target = f"{prefix}shared-0-of-{biggest}-x{shared_per_user}"
            for u in range(shared_users):
                user = f"{prefix}shared-{u}-of-{biggest}-x{shared_per_user}"
                lo = (u * shared_per_user) % max(1, len(corpus.texts) - shared_per_user)
                sub = Corpus(
                    corpus.texts[lo : lo + shared_per_user],
                    corpus.vectors[lo : lo + shared_per_user],
                    sorted(corpus.times[lo : lo + shared_per_user]),
                )
                if not store.existing_ids(
                    user, [make_id("turn", user, make_id("session", user, "bench", 0), 0)]
                ):
                    load_user(store, user, sub)
                if u == 0:
                    target_corpus = sub
            say("measuring shared", 0, queries)
            results[f"{shared_users} users x {shared_per_user:,} memories (one measured)"] = (
                measure(
                    store,
                    target,
                    target_corpus,
                    embedder,
                    queries=queries,
                    k=k,
                    seed=1,
                    paths=paths,
                )
            )
    report.elapsed_s = total.ms / 1000
    report.describe_server(store)
    report.settings = {
        "sizes": list(sizes),
        "shared_users": shared_users,
        "shared_per_user": shared_per_user,
        "queries": queries,
        "k": k,
        "window_days": 90,
        "vector_exact_max": exact_max,
        "server": facts.version,
        "unique_texts": min(20_000, max(sizes)),
    }
    paired_stats = {
        scenario: r.pop("auto_vs_prefilter")
        for scenario, r in results.items()
        if "auto_vs_prefilter" in r
    }
    report.results = {"scenarios": results, "auto_vs_prefilter": paired_stats}
    rows = []
    for scenario, by_path in results.items():
        for path, r in by_path.items():
            floor = by_path["numpy"]["total"]["p95"] or 1e-9
            rows.append(
                [
                    scenario,
                    path,
                    r["total"]["p50"],
                    r["total"]["p95"],
                    r["total"]["p99"],
                    r.get("with_embedding", r["total"])["p95"],
                    r["vector"]["p50"],
                    r["vector"]["p95"],
                    round(r["vector"]["p95"] / floor, 1),
                    round(r["total"]["p95"] / floor, 1),
                    r["recall_vs_exact"],
                    _chose(path, r.get("chose", {})),
                ]
            )
    report.markdown = [
        "Time-bounded hybrid retrieval (vector + full-text + hydration, k = 10, a random 90-day "
        "window); query embedding excluded (it is the same for every path: the part of the "
        "wait for the vector signal that the embedding caused is subtracted; the vector query "
        "runs on a worker beside full-text, as the store always runs it). The numpy floor "
        "is an in-process exact scan of the same vectors with the same filter; 'vector' is the "
        "vector signal alone as the server computes it (over Bolt), the like-for-like "
        "comparison with the floor; 'total' adds full-text, fusion and hydration. 'with "
        "embedding' is the wall time a caller waits, the query embedding included. Recall is "
        "the vector signal's top-k against exact search.",
        "",
        *table(
            [
                "scenario",
                "path",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "p95 ms with embedding",
                "vector p50 ms",
                "vector p95 ms",
                "vector p95 / numpy",
                "total p95 / numpy",
                "recall vs exact",
                "ran",
            ],
            rows,
        ),
        "",
        f"'auto' (the default) scans exactly when the user's memories in the window number at "
        f"most {exact_max} (`vector_exact_max`), and searches the index above that; the "
        f"user's memories per day settle most windows before the query (a history of up to "
        f"{DAYS_MAX:,}), the query counts the rest itself; 'ran' says which path its queries "
        "took.",
    ]
    paired = [
        [
            scenario,
            d["median_ms"],
            "{} to {}".format(*d["ci95_ms"]),
            f"{100 * d['a_faster']:.0f}%",
        ]
        for scenario, d in paired_stats.items()
    ]
    if paired:
        report.markdown += [
            "",
            "'auto' against the exact pre-filter, paired per query (the wall time with the "
            "embedding, the same query and window timed side by side; bootstrap interval of "
            "the median):",
            "",
            *table(
                [
                    "scenario",
                    "median auto - prefilter ms",
                    "95% interval ms",
                    "queries where auto was faster",
                ],
                paired,
            ),
        ]
    report.plots = [str(_plot(results, out_dir / "scale_latency.png"))]
    report.markdown += ["", "![latency](scale_latency.png)"]
    report.write(out_dir)
    return report


def _chose(path: str, chose: dict[str, int]) -> str:
    """
    >>> _chose("auto", {"prefilter": 150, "search": 50})
    'prefilter 75%, search 25%'
    >>> _chose("search", {"search": 200})
    'search'
    """
    total = sum(chose.values()) or 1
    if path != "auto":
        return path
    return ", ".join(f"{p} {100 * n / total:.0f}%" for p, n in sorted(chose.items()))


def _plot(results: dict[str, Any], out: Path) -> Path:
    singles = sorted(
        (int(s.split()[2].replace(",", "")), r)
        for s, r in results.items()
        if s.startswith("1 user")
    )
    paths = list(singles[0][1]) if singles else []
    series = {
        p: ([n for n, _ in singles], [r[p]["total"]["p95"] for _, r in singles]) for p in paths
    }
    return line_plot(
        series,
        out,
        title="Time-bounded hybrid retrieval latency",
        xlabel="memories of the user",
        ylabel="p95 latency (ms)",
        log_x=True,
        log_y=True,
    )
