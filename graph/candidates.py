"""Candidate queries of hybrid retrieval, in one place: the vector signal (by the path chosen
for the server and the request), full-text (Lucene, user text reduced to escaped tokens) and
the optional image signal, each with the user, the window and the kinds as Cypher predicates.
Returns rankings (ids per signal, best first) and raw scores for :func:`graph.retrieval.rrf`
or :mod:`graph.evidence`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction

from graph.connection import Capabilities
from graph.connection import run as cypher
from graph.cypher import read as R
from schema.retrieval import RetrievalRequest, VectorPath

__all__ = ["Candidates", "gather", "vector_query"]


@dataclass
class Candidates:
    rankings: dict[str, list[str]] = field(default_factory=dict)
    scores: dict[tuple[str, str], float] = field(default_factory=dict)


def vector_query(caps: Capabilities, path: VectorPath, has_start: bool, has_end: bool) -> str:
    if path == VectorPath.SEARCH:
        return R.vector_search(has_start, has_end, kinds_in_index=caps.search_in_list)
    if path == VectorPath.POSTFILTER:
        return R.vector_postfilter(has_start, has_end, search_clause=caps.vector_search_clause)
    return R.vector_prefilter(has_start, has_end)


def gather(
    tx: ManagedTransaction,
    request: RetrievalRequest,
    *,
    caps: Capabilities,
    path: VectorPath,
    vector: list[float],
    lucene: str | None,
    image_vector: list[float] | None,
    image_min_score: float,
    timings: dict[str, float],
) -> Candidates:
    """Every signal's candidates for ``request`` (excluded ids removed), timed per signal."""
    window = request.window
    has_start, has_end = window.start is not None, window.end is not None
    exclude = set(request.exclude_ids)
    depth = request.depth + len(exclude)
    params: dict[str, Any] = {
        "user_id": request.user_id,
        "start": window.start,
        "end": window.end,
        "kinds": [k.value for k in request.kinds],
        "depth": depth,
        "vector": vector,
    }
    rows: dict[str, list[dict[str, Any]]] = {}
    t = time.perf_counter()
    if "vector" in request.signals:
        query = vector_query(caps, path, has_start, has_end)
        rows["vector"] = cypher(tx, query, fetch=max(depth * 20, 200), **params).data()
    else:
        rows["vector"] = []
    timings["vector"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    if lucene and "fulltext" in request.signals:
        query = R.fulltext_search(has_start, has_end)
        rows["fulltext"] = cypher(tx, query, lucene=lucene, **params).data()
    else:
        rows["fulltext"] = []
    timings["fulltext"] = (time.perf_counter() - t) * 1000
    if image_vector is not None:
        t = time.perf_counter()
        query = R.image_search(has_start, has_end, search_clause=path == VectorPath.SEARCH)
        found = cypher(
            tx, query, image_vector=image_vector, min_score=image_min_score, **params
        ).data()
        timings["image"] = (time.perf_counter() - t) * 1000
        if found:
            rows["image"] = found
    out = Candidates()
    for signal, hits in rows.items():
        kept = [r for r in hits if r["id"] not in exclude]
        if signal == "image" and not kept:
            continue  # no image signal at all, rather than an empty one
        out.rankings[signal] = [r["id"] for r in kept]
        out.scores.update({(signal, r["id"]): r["score"] for r in kept})
    return out
