"""Candidate queries of hybrid retrieval, in one place: the vector signal (by the path chosen
for the server and the request), full-text (Lucene, user text reduced to escaped tokens) and
the optional image signal, each with the user, the window and the kinds as Cypher predicates.
Returns rankings (ids per signal, best first) and raw scores for :func:`graph.retrieval.rrf`
or :mod:`graph.evidence`."""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from neo4j import ManagedTransaction

from graph.connection import Capabilities
from graph.connection import run as cypher
from graph.cypher import read as R
from graph.retrieval import terms
from schema.nodes import MemoryKind
from schema.retrieval import RetrievalRequest, VectorPath, VectorScope

__all__ = [
    "Candidates",
    "DayCounts",
    "Recent",
    "VectorHits",
    "VectorPlanner",
    "by_words",
    "gather",
    "vector_hits",
    "vector_query",
    "wants_states",
]

#: how long a user's memory count is trusted (writes through the store forget it at once)
COUNT_TTL_S = 60.0


@dataclass
class Candidates:
    rankings: dict[str, list[str]] = field(default_factory=dict)
    scores: dict[tuple[str, str], float] = field(default_factory=dict)
    #: the vector path that ran (``auto`` resolved) and, for ``auto``, what it chose by
    vector_path: VectorPath = VectorPath.PREFILTER
    vector_scope: VectorScope | None = None
    #: id -> (kind, turn ids, text) of every hit: what evidence scoring reads
    hits: dict[str, tuple[str, list[str], str | None]] = field(default_factory=dict)
    #: facts said outside the window but true during it (graph.cypher.read.states_in_window)
    states: set[str] = field(default_factory=set)


class VectorPlanner:
    """Settles ``auto`` before the vector query wherever the user's history can decide it.

    The user's memories are counted up to ``exact_max + 1`` (from the (user_id, t) index: a
    bound from above on those with a vector, equal where every memory has one; cached per user
    for :data:`COUNT_TTL_S`; :meth:`forget` on writes). At most ``exact_max``: every window
    holds fewer, so the plain exact scan runs, with no overhead. Over it, with no window and
    every kind, the scope is the history: plain SEARCH.

    A window is bounded by the user's memories per UTC day (read once, for users with at
    most :data:`DAYS_MAX` memories, and cached like the count): the days it touches hold at
    most the scope (the kinds can only narrow it), the days it covers whole at least that
    many of every kind. At most ``exact_max`` on the days touched: the plain exact scan; over
    it on the days covered with every kind: plain SEARCH. Either way the choice is the one
    the counting query would have made (every stored memory has its vector), without its
    count (``persona bench scale``: that count cost ~0.5 ms over the plain scan for a
    1,000-memory user). Only a window whose
    bounds straddle the cutoff (or a larger user) is left to the one ``auto`` query, which
    counts the scope and picks inside the server."""

    def __init__(self, exact_max: int, days_max: int | None = None) -> None:
        self.exact_max = exact_max
        self.days_max = DAYS_MAX if days_max is None else days_max
        self._counts: Recent[int] = Recent(COUNT_TTL_S)
        self._days: Recent[DayCounts] = Recent(COUNT_TTL_S)
        #: users found over ``days_max``: their day counts are not read again for an hour,
        #: writes or not (a stale verdict only leaves a window to the counting query)
        self._large: Recent[bool] = Recent(3600.0)

    def forget(self, user_id: str) -> None:
        self._counts.drop(user_id)
        self._days.drop(user_id)

    def plan(
        self, tx: ManagedTransaction, request: RetrievalRequest
    ) -> tuple[VectorPath, VectorScope | None]:
        counted = self._user_count(tx, request.user_id)
        scope = VectorScope(counted=counted, cutoff=self.exact_max, basis="user")
        if counted <= self.exact_max:
            return VectorPath.PREFILTER, scope
        everything = set(request.kinds) >= set(MemoryKind)
        if request.window.start is None and request.window.end is None and everything:
            return VectorPath.SEARCH, scope
        days = self._user_days(tx, request.user_id)
        if days is not None:
            most, least = days.bounds(request.window.start, request.window.end)
            if most <= self.exact_max:
                return VectorPath.PREFILTER, VectorScope(
                    counted=most, cutoff=self.exact_max, basis="days"
                )
            if everything and least > self.exact_max:
                return VectorPath.SEARCH, VectorScope(
                    counted=self.exact_max + 1, cutoff=self.exact_max, basis="days"
                )
        return VectorPath.AUTO, None

    def _user_count(self, tx: ManagedTransaction, user_id: str) -> int:
        n = self._counts.get(user_id)
        if n is None:
            rows = cypher(tx, R.USER_VECTOR_COUNT, user_id=user_id, cap=self.exact_max + 1).data()
            n = int(rows[0]["n"]) if rows else 0
            self._counts.put(user_id, n)
        return n

    def _user_days(self, tx: ManagedTransaction, user_id: str) -> DayCounts | None:
        if self.days_max <= self.exact_max or self._large.get(user_id):
            return None
        days = self._days.get(user_id)
        if days is None:
            record = cypher(tx, R.USER_VECTOR_DAYS, user_id=user_id, cap=self.days_max + 1).single()
            pairs = [(day, int(n)) for day, n in (record["days"] if record else [])]
            if sum(n for _, n in pairs) > self.days_max:
                self._large.put(user_id, True)
                return None
            days = DayCounts(dict(pairs))
            self._days.put(user_id, days)
        return days


V = TypeVar("V")


class Recent(Generic[V]):
    """Per-user values kept ``ttl_s`` seconds, for the ``size`` users used last at most (a
    server would otherwise keep every user it ever planned for); safe across the store's
    vector workers. A dozen lines here rather than a dependency (cachetools) for one use.

    >>> r = Recent(60.0, size=2); r.put("a", 1); r.put("b", 2); r.get("a"); r.put("c", 3)
    1
    >>> r.get("b"), r.get("a"), r.get("c")  # b was used last longest ago
    (None, 1, 3)
    """

    def __init__(self, ttl_s: float, size: int = 4096) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[0] >= self.ttl_s:
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


#: the largest history the vector planner reads day counts for (one cached read of at most
#: this many memories per user; beyond it the ``auto`` query counts each window itself)
DAYS_MAX = 2000
_DAY_S = 86400


class DayCounts:
    """A user's memories per UTC day (epoch day -> count): bounds on how many
    lie in a half-open window ``[start, end)`` (either end open).

    >>> from datetime import datetime, UTC
    >>> d = DayCounts({19801: 5, 19802: 7, 19803: 2})  # 19802 is 20 March 2024
    >>> d.bounds(datetime(2024, 3, 20, tzinfo=UTC), datetime(2024, 3, 21, tzinfo=UTC))
    (7, 7)
    >>> d.bounds(datetime(2024, 3, 20, 12, tzinfo=UTC), None)  # half of the 20th, the 21st
    (9, 2)
    >>> d.bounds(None, datetime(2024, 3, 19, 6, tzinfo=UTC))  # the 19th's first six hours
    (5, 0)
    """

    def __init__(self, per_day: dict[int, int]) -> None:
        self.days = sorted(per_day)
        #: memories on the days before each: ``before[i]`` = sum of per_day[days[:i]]
        self.before = [0, *itertools.accumulate(per_day[d] for d in self.days)]

    def _on(self, first: int, last: int) -> int:
        """Memories on days ``first`` to ``last`` (inclusive)."""
        if last < first:
            return 0
        i = bisect.bisect_left(self.days, first)
        j = bisect.bisect_right(self.days, last)
        return self.before[j] - self.before[i]

    def bounds(self, start: datetime | None, end: datetime | None) -> tuple[int, int]:
        """(at most, at least): the memories on the days the window touches, and on the
        days it covers whole."""
        if not self.days:
            return 0, 0
        lo = start.timestamp() if start is not None else -math.inf
        hi = end.timestamp() if end is not None else math.inf
        low, high = self.days[0], self.days[-1]
        # touched: a day [d, d + 1) * DAY meets [lo, hi); covered: it lies inside
        touch_first = max(low, math.floor(lo / _DAY_S)) if start is not None else low
        touch_last = min(high, math.ceil(hi / _DAY_S) - 1) if end is not None else high
        cover_first = max(low, math.ceil(lo / _DAY_S)) if start is not None else low
        cover_last = min(high, math.floor(hi / _DAY_S) - 1) if end is not None else high
        return self._on(touch_first, touch_last), self._on(cover_first, cover_last)


def wants_states(request: RetrievalRequest) -> bool:
    """Whether facts true during the window (said before it) join the candidates: a window
    with a start, ``states_in_window`` on and facts among the kinds."""
    return (
        request.window.start is not None
        and request.states_in_window
        and MemoryKind.FACT in request.kinds
    )


def by_words(hits: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """The lexical side of the states true during a window, which full-text cannot give
    cheaply (Lucene's month clause narrows to the window, and without it a large history's
    every match would be read to find a few facts): the hits sharing a Snowball-stemmed word
    with the query, most shared words first, then by their vector score; ``score`` becomes
    the number of words shared.

    >>> hits = [{"id": "a", "score": 0.9, "text": "Ana lives in Lisbon"},
    ...         {"id": "b", "score": 0.8, "text": "Ana works at Acme"}]
    >>> [(h["id"], h["score"]) for h in by_words(hits, "Where did Ana work?")]
    [('b', 2), ('a', 1)]
    """
    stem = _stemmer().stemWord
    wanted = {stem(w) for w in terms(query)}
    scored = []
    for h in hits:
        shared = len(wanted & {stem(w) for w in terms(h["text"] or "")})
        if shared:
            scored.append(({**h, "score": shared}, h["score"]))
    scored.sort(key=lambda x: (-x[0]["score"], -x[1]))
    return [h for h, _ in scored]


@functools.cache
def _stemmer() -> Any:
    import Stemmer  # PyStemmer: the Snowball stemmer Lucene's english analyzer is close to

    return Stemmer.Stemmer("english")


#: the columns of :data:`graph.cypher.read.HIT`
HIT_COLUMNS = ("id", "score", "kind", "turn_ids", "text")


def _best_first(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best score first (a stable sort: ties keep the server's order)."""
    return sorted(hits, key=lambda h: -h["score"])


def _hits(tx: ManagedTransaction, query: str, **params: Any) -> list[dict[str, Any]]:
    """The one record of a :func:`graph.cypher.read.one_record` query, best score first."""
    return _best_first(list(cypher(tx, query, **params).single(strict=True)["hits"]))


def vector_query(caps: Capabilities, path: VectorPath, has_start: bool, has_end: bool) -> str:
    if path == VectorPath.AUTO:
        return R.vector_auto(has_start, has_end, kinds_in_index=caps.search_in_list)
    if path == VectorPath.SEARCH:
        return R.vector_search(has_start, has_end, kinds_in_index=caps.search_in_list)
    if path == VectorPath.POSTFILTER:
        return R.vector_postfilter(has_start, has_end, search_clause=caps.vector_search_clause)
    return R.vector_prefilter(has_start, has_end)


def _scope_params(request: RetrievalRequest) -> dict[str, Any]:
    """The parameters every candidate query filters by: user, window, kinds, and the depth
    (the request's, plus the excluded ids it will drop)."""
    return {
        "user_id": request.user_id,
        "start": request.window.start,
        "end": request.window.end,
        "kinds": [k.value for k in request.kinds],
        "depth": request.depth + len(set(request.exclude_ids)),
    }


@dataclass
class VectorHits:
    """The vector signal of one request: its hits, the path that ran (``auto`` resolved),
    the scope ``auto`` chose by, and the query's own time (the planner's count included)."""

    rows: list[dict[str, Any]]
    path: VectorPath
    scope: VectorScope | None
    ms: float
    #: facts said before the window but true during it (:func:`wants_states`), best first
    states: list[dict[str, Any]] = field(default_factory=list)


def vector_hits(
    tx: ManagedTransaction,
    request: RetrievalRequest,
    *,
    caps: Capabilities,
    path: VectorPath,
    vector: list[float],
    planner: VectorPlanner,
) -> VectorHits:
    """The vector query alone, in a transaction of its own (the store runs it on a worker as
    soon as the query embedding is ready, while full-text runs in the main transaction).

    ``path`` ``auto`` scores exactly when the user's memories in scope number at most the
    planner's cutoff and searches the index above that: settled by the planner from the
    user's count where it can be, else inside the one vector query."""
    t = time.perf_counter()
    params = _scope_params(request)
    has_start, has_end = params["start"] is not None, params["end"] is not None
    scope = None
    if path == VectorPath.AUTO:
        path, scope = planner.plan(tx, request)
    columns: tuple[str, ...] = HIT_COLUMNS
    if path == VectorPath.AUTO:
        columns += ("path", "scope")
    query = vector_query(caps, path, has_start, has_end)
    if wants_states(request):
        # the states true during the window, by the same vector, in the same statement
        query = R.with_states(query, columns, R.states_in_window(has_start, has_end), HIT_COLUMNS)
    else:
        query = R.one_record(query, columns)
    record = cypher(
        tx,
        query,
        vector=vector,
        fetch=max(params["depth"] * 20, 200),
        cutoff=planner.exact_max,
        **params,
    ).single(strict=True)
    rows = _best_first(record["hits"])
    true = _best_first(record.get("states") or [])  # a Record's ``in`` looks at its values
    if path == VectorPath.AUTO:
        # no rows means an empty scope (a non-empty one always yields rows on either path)
        first = rows[0] if rows else None
        path = VectorPath(first["path"]) if first else VectorPath.PREFILTER
        scope = VectorScope(counted=first["scope"] if first else 0, cutoff=planner.exact_max)
    return VectorHits(rows, path, scope, (time.perf_counter() - t) * 1000, true)


def gather(
    tx: ManagedTransaction,
    request: RetrievalRequest,
    *,
    vector: Callable[[], VectorHits] | None,
    fallback_path: VectorPath,
    lucene: str | None,
    image_vector: list[float] | None,
    image_min_score: float,
    timings: dict[str, float],
) -> Candidates:
    """Every signal's candidates for ``request`` (excluded ids removed), timed per signal.

    Full-text (and the entity signal) run here, in ``tx``; ``vector`` gives the vector
    signal, computed beside them (the query embedding, then :func:`vector_hits` on a worker).
    The vector query brings the states true during a window (:func:`wants_states`) with it.
    ``fallback_path`` is the path reported when no vector signal ran. ``embed_wait`` is the
    part of the wait for the vector signal that its embedding caused."""
    params = _scope_params(request)
    has_start, has_end = params["start"] is not None, params["end"] is not None
    exclude = set(request.exclude_ids)
    rows: dict[str, list[dict[str, Any]]] = {"vector": []}  # signal order: vector first
    t = time.perf_counter()
    if lucene and "fulltext" in request.signals:
        query = R.fulltext_search(has_start, has_end)
        rows["fulltext"] = _hits(tx, R.one_record(query), lucene=lucene, **params)
    else:
        rows["fulltext"] = []
    timings["fulltext"] = (time.perf_counter() - t) * 1000
    if "entity" in request.signals:
        t = time.perf_counter()
        said = " ".join([request.query, *request.keywords]).lower()
        padded = " " + re.sub(r"[^0-9a-z]+", " ", said).strip() + " "
        query = R.one_record(R.entity_mentions(has_start, has_end))
        rows["entity"] = _hits(tx, query, padded=padded, **params)
        timings["entity"] = (time.perf_counter() - t) * 1000
    resolved, scope = fallback_path, None
    true: list[dict[str, Any]] = []
    if vector is not None:
        waited = time.perf_counter()
        found = vector()
        wait = (time.perf_counter() - waited) * 1000
        timings["vector_wait"] = wait
        timings["embed_wait"] = min(wait, timings.get("embed", 0.0))
        timings["vector"] = found.ms
        rows["vector"], resolved, scope = found.rows, found.path, found.scope
        true = found.states
    # the states join the vector signal by their cosine, and make a ``state`` signal of their
    # own from the words they share with the query (full-text reads only the window's months)
    states: set[str] = set()
    if true:
        rows["vector"] = _best_first([*rows["vector"], *true])[: params["depth"]]
        worded = by_words(true, " ".join([request.query, *request.keywords]))
        if worded:
            rows["state"] = worded
        states = {h["id"] for h in true} & {h["id"] for h in [*rows["vector"], *worded]}
    if image_vector is not None:
        t = time.perf_counter()
        query = R.image_search(has_start, has_end, search_clause=resolved == VectorPath.SEARCH)
        found_images = cypher(
            tx, query, image_vector=image_vector, min_score=image_min_score, **params
        ).data()
        timings["image"] = (time.perf_counter() - t) * 1000
        if found_images:
            rows["image"] = found_images
    out = Candidates(
        vector_path=resolved,
        vector_scope=scope,
        states=states - exclude,
    )
    for signal, hits in rows.items():
        kept = [r for r in hits if r["id"] not in exclude]
        if signal == "image" and not kept:
            continue  # no image signal at all, rather than an empty one
        out.rankings[signal] = [r["id"] for r in kept]
        out.scores.update({(signal, r["id"]): r["score"] for r in kept})
        out.hits.update({r["id"]: (r["kind"], r["turn_ids"], r["text"]) for r in kept})
    return out
