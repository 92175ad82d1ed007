"""The two vector paths agree: 'search' (Cypher 25 SEARCH, user/time/kind filtered inside the
HNSW index) and 'prefilter' (exact cosine over the user's memories in the window) return the
same top results on the ingested sample.

The index holds every test user's memories, so 'search' is approximate over a shared index;
on data this small HNSW is exact in practice, and this test demands identical top-5 lists and
scores. Memories with the same text (a fact and the procedure extracted from the same
sentence) have identical vectors, and the two paths may order such exact ties differently, so
each path's top 10 is put in a canonical order (score, then id) before the top 5 are compared.
(Should approximate search ever make a rare difference, the right relaxation is an overlap of
at least 0.8 per query, not a weaker isolation or window guarantee.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from agent_helpers import Said, seed_sessions

from schema.nodes import MemoryKind
from schema.retrieval import RetrievalRequest, TimeWindow, VectorPath

pytestmark = pytest.mark.integration

QUERIES = [
    "where does Sam live",
    "dentist appointment cavities",
    "dog Pepper beagle",
    "marathon finishing time",
    "sister Ana visit",
    "new job in Denver at a hospital",
    "running on Thursday mornings",
    "hiking a mountain summit",
    "night shifts as a nurse",
    "trail half marathon goal",
]
WINDOWS = {
    "all-time": TimeWindow(),
    "spring": TimeWindow(
        start=datetime(2024, 3, 1, tzinfo=UTC), end=datetime(2024, 6, 1, tzinfo=UTC)
    ),
    "since-july": TimeWindow(start=datetime(2024, 7, 1, tzinfo=UTC)),
}


def _vector_top(
    store: Any, uid: str, query: str, window: TimeWindow, path: VectorPath, kinds: list[MemoryKind]
) -> list[tuple[str, float]]:
    result = store.retrieve(
        RetrievalRequest(
            user_id=uid,
            query=query,
            window=window,
            kinds=kinds,
            k=20,
            candidates=10,  # each signal contributes its top 10, so all of them are in the result
            expand=[],
            vector_path=path,
        )
    )
    assert result.vector_path == path
    ranked = sorted(
        (sig.rank, item.id, sig.score)
        for item in result.items
        for sig in item.why.signals
        if sig.name == "vector"
    )
    for item in result.items:
        # said in the window, or a fact said before it and true during it (its own interval)
        if item.why.true_in_window:
            assert item.kind == MemoryKind.FACT and window.start is not None
            assert item.valid_to is None or item.valid_to > window.start
        else:
            assert window.contains(item.t)
        assert item.kind in kinds
    scores = [s for _, _, s in ranked]
    assert scores == sorted(scores, reverse=True), "ranks follow scores"
    canonical = sorted(((round(s, 4), i) for _, i, s in ranked), key=lambda x: (-x[0], x[1]))
    return [(i, s) for s, i in canonical[:5]]


@pytest.mark.parametrize("window_name", list(WINDOWS))
def test_search_and_prefilter_agree_on_the_top_five(
    session_store: Any, sample_user: str, window_name: str
) -> None:
    window = WINDOWS[window_name]
    kinds = list(MemoryKind)
    for query in QUERIES:
        search = _vector_top(session_store, sample_user, query, window, VectorPath.SEARCH, kinds)
        exact = _vector_top(session_store, sample_user, query, window, VectorPath.PREFILTER, kinds)
        assert len(exact) == 5, (query, "the sample has enough memories in each window")
        assert [i for i, _ in search] == [i for i, _ in exact], query
        for (_, s1), (_, s2) in zip(search, exact, strict=True):
            assert s1 == pytest.approx(s2, abs=1e-4), "same similarity scale on both paths"


def test_paths_agree_when_filtering_kinds(session_store: Any, sample_user: str) -> None:
    for kinds in ([MemoryKind.TURN], [MemoryKind.EVENT], [MemoryKind.TURN, MemoryKind.EVENT]):
        for query in QUERIES[:4]:
            search = _vector_top(
                session_store, sample_user, query, TimeWindow(), VectorPath.SEARCH, kinds
            )
            exact = _vector_top(
                session_store, sample_user, query, TimeWindow(), VectorPath.PREFILTER, kinds
            )
            assert search, (kinds, query)
            assert [i for i, _ in search] == [i for i, _ in exact], (kinds, query)


def test_vector_scores_are_ordered(session_store: Any, sample_user: str) -> None:
    for path in (VectorPath.SEARCH, VectorPath.PREFILTER):
        top = _vector_top(
            session_store, sample_user, QUERIES[0], TimeWindow(), path, list(MemoryKind)
        )
        scores = [s for _, s in top]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)


def test_default_path_is_the_best_available(session_store: Any, sample_user: str) -> None:
    best = VectorPath(session_store.conn.caps.best_vector_path)
    assert session_store.vector_path == best
    result = session_store.retrieve(RetrievalRequest(user_id=sample_user, query=QUERIES[0]))
    # auto names the path it ran (the sample user is small: the exact scan)
    expected = VectorPath.PREFILTER if best == VectorPath.AUTO else best
    assert result.vector_path == expected
    assert all(item.why.vector_path == expected for item in result.items)


def _scope_size(store: Any, uid: str, window: TimeWindow) -> int:
    rows = store.conn.read(
        "MATCH (m:Memory) WHERE m.user_id = $u AND m.embedding IS NOT NULL"
        " AND ($start IS NULL OR m.t >= $start) AND ($end IS NULL OR m.t < $end)"
        " RETURN count(m) AS n",
        u=uid,
        start=window.start,
        end=window.end,
    )
    return int(rows[0]["n"])


def _auto_store(store: Any, exact_max: int) -> Any:
    from graph.store import Neo4jMemoryStore

    if not store.conn.caps.vector_search_clause:
        pytest.skip("the auto path needs the SEARCH clause (Neo4j 2026.01+)")
    return Neo4jMemoryStore(
        store.conn, store.embedder, vector_path=VectorPath.AUTO, exact_max=exact_max
    )


def test_auto_scans_a_small_scope_and_searches_a_large_one(
    session_store: Any, sample_user: str
) -> None:
    n = _scope_size(session_store, sample_user, TimeWindow())
    assert n > 10
    for exact_max, path, counted in (
        (n, VectorPath.PREFILTER, n),  # exactly at the cutoff: still scanned
        (n - 1, VectorPath.SEARCH, n),  # one over: counted up to cutoff + 1
        (5, VectorPath.SEARCH, 6),  # the count stops at cutoff + 1
    ):
        store = _auto_store(session_store, exact_max)
        top = _vector_top(store, sample_user, QUERIES[1], TimeWindow(), path, list(MemoryKind))
        exact = _vector_top(
            session_store,
            sample_user,
            QUERIES[1],
            TimeWindow(),
            VectorPath.PREFILTER,
            list(MemoryKind),
        )
        assert [i for i, _ in top] == [i for i, _ in exact], exact_max
        result = store.retrieve(RetrievalRequest(user_id=sample_user, query=QUERIES[1]))
        assert result.vector_path == path
        assert result.vector_scope is not None
        assert (result.vector_scope.counted, result.vector_scope.cutoff) == (counted, exact_max)
        why = result.items[0].why
        assert why.vector_path == path and why.vector_scope == result.vector_scope
        assert f"vector {path.value} (auto:" in why.describe()
    # a path the request forces says so: no count chose it
    forced = session_store.retrieve(
        RetrievalRequest(user_id=sample_user, query=QUERIES[1], vector_path=VectorPath.PREFILTER)
    )
    assert forced.vector_scope is None
    assert "vector prefilter (forced: not chosen per query)" in forced.items[0].why.describe()


def test_auto_counts_the_window_not_the_whole_history(session_store: Any, sample_user: str) -> None:
    window = WINDOWS["spring"]
    inside = _scope_size(session_store, sample_user, window)
    total = _scope_size(session_store, sample_user, TimeWindow())
    assert 0 < inside < total
    store = _auto_store(session_store, inside)  # the whole history is over the cutoff
    result = store.retrieve(RetrievalRequest(user_id=sample_user, query=QUERIES[4], window=window))
    assert result.vector_path == VectorPath.PREFILTER
    assert result.vector_scope is not None and result.vector_scope.counted == inside
    assert all(window.contains(item.t) for item in result.items)


def test_auto_on_an_empty_scope_is_an_empty_exact_scan(
    session_store: Any, sample_user: str
) -> None:
    store = _auto_store(session_store, 10)
    window = TimeWindow(
        start=datetime(1990, 1, 1, tzinfo=UTC), end=datetime(1990, 2, 1, tzinfo=UTC)
    )
    result = store.retrieve(
        RetrievalRequest(user_id=sample_user, query=QUERIES[0], window=window, signals=["vector"])
    )
    assert result.items == []
    assert result.vector_path == VectorPath.PREFILTER
    assert result.vector_scope is not None and result.vector_scope.counted == 0


def test_auto_counts_a_kind_subset_in_the_query(session_store: Any, sample_user: str) -> None:
    store = _auto_store(session_store, 5)  # the history is over the cutoff
    result = store.retrieve(
        RetrievalRequest(user_id=sample_user, query=QUERIES[0], kinds=[MemoryKind.FACT])
    )
    facts = session_store.conn.read(
        "MATCH (m:Fact) WHERE m.user_id = $u AND m.embedding IS NOT NULL RETURN count(m) AS n",
        u=sample_user,
    )[0]["n"]
    assert result.vector_scope is not None and result.vector_scope.basis == "window"
    assert result.vector_scope.counted == min(facts, 6)
    assert result.vector_path == (VectorPath.PREFILTER if facts <= 5 else VectorPath.SEARCH)


def _write_tulips(store: Any, uid: str, times: list[datetime]) -> None:
    """One session of turns said at ``times`` (the same ids for the same positions)."""
    seed_sessions(
        store, uid, [[Said(t, f"I planted {i} tulips in the garden") for i, t in enumerate(times)]]
    )


def test_auto_recounts_a_user_after_a_write(session_store: Any) -> None:
    uid = "auto-recount"
    store = _auto_store(session_store, 4)
    session_store.delete_user(uid)
    t0 = datetime(2024, 5, 1, tzinfo=UTC)

    def ask() -> Any:
        return store.retrieve(RetrievalRequest(user_id=uid, query="tulips", expand=[]))

    try:
        _write_tulips(store, uid, [t0.replace(minute=i) for i in range(3)])
        first = ask()
        assert first.vector_path == VectorPath.PREFILTER
        assert first.vector_scope is not None and first.vector_scope.counted == 3
        # the same ids and four more: the store forgets the cached count
        _write_tulips(store, uid, [t0.replace(minute=i) for i in range(7)])
        second = ask()
        assert second.vector_path == VectorPath.SEARCH
        assert second.vector_scope is not None and second.vector_scope.counted == 5
        assert len(second.items) >= 7
    finally:
        session_store.delete_user(uid)


def test_auto_bounds_a_window_by_the_days_it_touches(session_store: Any) -> None:
    """Ten turns on 1 May 2024 (01:00 to 10:00), cutoff 6: the day counts settle a window
    that misses the day (exact scan) or covers it whole (SEARCH) with no count in the query;
    a window cutting the day is counted by the auto query, which scans its five turns. Each
    path returns what the exact scan of the same window returns."""
    uid = "auto-days"
    store = _auto_store(session_store, 6)
    session_store.delete_user(uid)
    day = datetime(2024, 5, 1, tzinfo=UTC)
    may2 = datetime(2024, 5, 2, tzinfo=UTC)
    try:
        _write_tulips(store, uid, [day.replace(hour=h) for h in range(1, 11)])
        for window, kinds, path, basis, counted in (
            (
                TimeWindow(start=datetime(2024, 4, 1, tzinfo=UTC), end=day),
                None,
                VectorPath.PREFILTER,
                "days",
                0,
            ),
            (TimeWindow(start=day, end=may2), None, VectorPath.SEARCH, "days", 7),
            # the kinds may narrow what a whole day holds: counted in the query
            (TimeWindow(start=day, end=may2), [MemoryKind.TURN], VectorPath.SEARCH, "window", 7),
            (
                TimeWindow(start=day.replace(hour=5, minute=30), end=may2),
                None,
                VectorPath.PREFILTER,
                "window",
                5,
            ),
        ):
            extra = {"kinds": kinds} if kinds else {}
            result = store.retrieve(
                RetrievalRequest(
                    user_id=uid, query="tulips", window=window, k=20, expand=[], **extra
                )
            )
            assert result.vector_path == path, window
            assert result.vector_scope is not None
            assert (result.vector_scope.basis, result.vector_scope.counted) == (basis, counted)
            exact = session_store.retrieve(
                RetrievalRequest(
                    user_id=uid,
                    query="tulips",
                    window=window,
                    k=20,
                    expand=[],
                    vector_path=VectorPath.PREFILTER,
                    **extra,
                )
            )
            assert {i.id for i in result.items} == {i.id for i in exact.items}, window
        # a user over the day-count limit: every window is left to the query's own count
        from graph.candidates import VectorPlanner

        store.planner = VectorPlanner(6, days_max=8)
        cut = store.retrieve(
            RetrievalRequest(user_id=uid, query="tulips", window=TimeWindow(start=day, end=may2))
        )
        assert cut.vector_path == VectorPath.SEARCH
        assert cut.vector_scope is not None and cut.vector_scope.basis == "window"
    finally:
        session_store.delete_user(uid)


def test_retrievals_at_once_return_what_each_returns_alone(
    session_store: Any, sample_user: str
) -> None:
    """The vector signal runs on a worker pool beside full-text: retrievals from several
    threads at once (a served graph) each get their own vector hits, as they would alone, and
    the timings say how long full-text waited for the vector signal and how much of that
    wait was the query embedding."""
    from concurrent.futures import ThreadPoolExecutor

    def ranked(query: str) -> list[tuple[str, float]]:
        result = session_store.retrieve(
            RetrievalRequest(user_id=sample_user, query=query, k=8, expand=[])
        )
        t = result.timings_ms
        assert {"embed", "vector", "vector_wait", "embed_wait", "fulltext"} <= set(t)
        assert 0.0 <= t["embed_wait"] <= min(t["embed"], t["vector_wait"]) + 1e-9
        return [(i.id, round(i.score, 6)) for i in result.items]

    alone = {q: ranked(q) for q in QUERIES}
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(ranked, QUERIES * 3))
    assert together == [alone[q] for q in QUERIES * 3]
    assert len({tuple(v) for v in alone.values()}) == len(QUERIES)  # the queries differ
