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
    expected = VectorPath(session_store.conn.caps.best_vector_path)
    result = session_store.retrieve(RetrievalRequest(user_id=sample_user, query=QUERIES[0]))
    assert result.vector_path == expected
    assert all(item.why.vector_path == expected for item in result.items)
