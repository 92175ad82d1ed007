"""Time windows on the real server: ``[start, end)`` on both vector paths and in full-text,
exact at the boundaries, open bounds, and the same instants written in other time zones.

Expected sets are computed here from the instants (epoch seconds), never with the window code.
Zones are fixed offsets here: named (ZoneInfo) zones crash the driver, see
test_named_timezones.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import fresh_user
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema.nodes import Fact, MemoryKind, Session, Turn, User, make_id
from schema.protocols import WriteBatch
from schema.retrieval import Expansion, RetrievalRequest, TimeWindow, VectorPath

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
HOUR = 3600
# seconds from T0 of each memory: either side of and exactly on the boundaries used below
OFFSETS = [-86_400, -3_600, -1, 0, 1, 1_800, 3_599, 3_600, 3_601, 86_400]
PATHS = [VectorPath.SEARCH, VectorPath.PREFILTER, VectorPath.AUTO]
MINUS5 = timezone(timedelta(hours=-5))
PLUS10 = timezone(timedelta(hours=10))
QUERY = "cat tuna"


@dataclass
class Data:
    user_id: str
    seconds: dict[str, int]  # memory id -> seconds from T0


def _write(store: Any, embedder: Any, uid: str, times: list[datetime]) -> dict[str, int]:
    sid = make_id("session", uid, "s")
    texts = [f"My cat Whiskers ate tuna at moment {i}" for i in range(len(times))]
    vecs = embedder.embed(texts)
    order = sorted(range(len(times)), key=lambda i: times[i])
    turns, facts = [], []
    for pos, i in enumerate(order):
        vec = [float(x) for x in vecs[i]]
        if i % 3 == 2:  # some of them are facts: windows apply to every memory kind
            facts.append(
                Fact(
                    id=make_id("fact", uid, i),
                    user_id=uid,
                    t=times[i],
                    text=texts[i],
                    valid_from=times[i],
                    embedding=vec,
                )
            )
        else:
            turns.append(
                Turn(
                    id=make_id("turn", uid, sid, pos),
                    user_id=uid,
                    session_id=sid,
                    index=pos,
                    role="user",
                    speaker="Kim",
                    text=texts[i],
                    t=times[i],
                    embedding=vec,
                )
            )
    start = min(times)
    store.write(
        WriteBatch(
            user=User(id=uid, user_id=uid),
            sessions=[
                Session(id=sid, user_id=uid, source_id="s", index=0, start=start, end=max(times))
            ],
            turns=turns,
            facts=facts,
        )
    )
    return {m.id: round((m.t - T0).total_seconds()) for m in (*turns, *facts)}


@pytest.fixture(scope="module")
def utc_data(session_store: Any, embedder: Any) -> Data:
    """Memories written in UTC, the same offset as the windows of the boundary tests."""
    uid = fresh_user("win")
    times = [T0 + timedelta(seconds=s) for s in OFFSETS]
    return Data(uid, _write(session_store, embedder, uid, times))


@pytest.fixture(scope="module")
def mixed_data(session_store: Any, embedder: Any) -> Data:
    """Memories exactly on the boundaries, written in three different UTC offsets."""
    uid = fresh_user("winmix")
    times = []
    for s in (-1, 0, 1800, 3600, 3601):
        for tz in (UTC, MINUS5, PLUS10):
            times.append((T0 + timedelta(seconds=s)).astimezone(tz))
    return Data(uid, _write(session_store, embedder, uid, times))


def _expected(data: Data, start: int | None, end: int | None) -> set[str]:
    return {
        mid
        for mid, s in data.seconds.items()
        if (start is None or s >= start) and (end is None or s < end)
    }


def _by_signal(store: Any, uid: str, window: TimeWindow, path: VectorPath) -> dict[str, set[str]]:
    result = store.retrieve(
        RetrievalRequest(
            user_id=uid, query=QUERY, window=window, k=100, expand=[], vector_path=path
        )
    )
    if path == VectorPath.AUTO:  # it names the path it resolved to, and why
        assert result.vector_scope is not None and result.vector_path != VectorPath.AUTO
    else:
        assert result.vector_path == path
    out: dict[str, set[str]] = {"all": set(), "vector": set(), "fulltext": set()}
    for item in result.items:
        out["all"].add(item.id)
        for sig in item.why.signals:
            out[sig.name].add(item.id)
        assert not item.related and not item.turns
    return out


def _check(store: Any, data: Data, window: TimeWindow, start: int | None, end: int | None) -> None:
    expected = _expected(data, start, end)
    for path in PATHS:
        got = _by_signal(store, data.user_id, window, path)
        # every memory matches the query, so each signal returns exactly the window's content
        assert got["all"] == expected, (path, window.describe())
        assert got["vector"] == expected, (path, "vector")
        assert got["fulltext"] == expected, (path, "fulltext")
    listed = store.list_memories(data.user_id, list(MemoryKind), window, limit=1000)
    assert {m.id for m in listed} == expected


def _w(start: int | None, end: int | None, tz: Any = UTC) -> TimeWindow:
    def at(s: int | None) -> datetime | None:
        return None if s is None else (T0 + timedelta(seconds=s)).astimezone(tz)

    return TimeWindow(start=at(start), end=at(end))


# ----------------------------------------------------------------------------- boundaries
def test_start_is_inclusive_end_is_exclusive(session_store: Any, utc_data: Data) -> None:
    window = _w(0, HOUR)
    expected = _expected(utc_data, 0, HOUR)
    at_start = next(m for m, s in utc_data.seconds.items() if s == 0)
    at_end = next(m for m, s in utc_data.seconds.items() if s == HOUR)
    assert at_start in expected and at_end not in expected
    _check(session_store, utc_data, window, 0, HOUR)


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, None), (None, HOUR), (None, None), (-1, 1), (1, 3_600), (3_599, 3_601)],
    ids=["open-end", "open-start", "all-time", "around-start", "inside", "around-end"],
)
def test_open_and_narrow_windows(
    session_store: Any, utc_data: Data, start: int | None, end: int | None
) -> None:
    _check(session_store, utc_data, _w(start, end), start, end)


def test_empty_window_returns_nothing(session_store: Any, utc_data: Data) -> None:
    window = _w(10, 20)
    assert _expected(utc_data, 10, 20) == set()
    _check(session_store, utc_data, window, 10, 20)


# ----------------------------------------------------------------------------- time zones
@pytest.mark.parametrize(
    "tz",
    [PLUS10, MINUS5, timezone(timedelta(hours=5, minutes=45))],
    ids=["+10", "-05", "+05:45"],
)
def test_same_instants_in_another_zone_give_the_same_items(
    session_store: Any, utc_data: Data, tz: Any
) -> None:
    # bounds between memories (half a second off), so no memory sits on a boundary
    start, end = T0 - timedelta(milliseconds=500), T0 + timedelta(seconds=HOUR, milliseconds=500)
    in_utc = TimeWindow(start=start, end=end)
    in_tz = TimeWindow(start=start.astimezone(tz), end=end.astimezone(tz))
    naive = TimeWindow.of(
        start.astimezone(tz).replace(tzinfo=None), end.astimezone(tz).replace(tzinfo=None), tz=tz
    )
    assert in_tz.start is not None and in_tz.start.utcoffset() != timedelta(0)
    expected = _expected(utc_data, 0, HOUR + 1)
    for path in PATHS:
        results = [
            _by_signal(session_store, utc_data.user_id, w, path)["all"]
            for w in (in_utc, in_tz, naive)
        ]
        assert results == [expected, expected, expected], path


def test_boundaries_hold_for_memories_in_other_offsets(
    session_store: Any, mixed_data: Data
) -> None:
    expected = _expected(mixed_data, 0, HOUR)
    assert len(expected) == 6  # three exactly at start (UTC, -05, +10), three inside
    failures = []
    for tz in (UTC, PLUS10, MINUS5):
        for path in PATHS:
            got = _by_signal(session_store, mixed_data.user_id, _w(0, HOUR, tz), path)["all"]
            if got != expected:
                failures.append((str(tz), path.value, len(got - expected), len(expected - got)))
    assert failures == []


# ----------------------------------------------------------------------------- expansions
def test_expansions_stay_inside_the_window(session_store: Any, utc_data: Data) -> None:
    """Neighbours on the same day exist outside the window; they are never brought in."""
    window = _w(0, HOUR)
    expected = _expected(utc_data, 0, HOUR)
    for path in PATHS:
        result = session_store.retrieve(
            RetrievalRequest(
                user_id=utc_data.user_id,
                query=QUERY,
                window=window,
                k=2,
                expand=[Expansion.SAME_DAY, Expansion.SAME_TOPIC],
                vector_path=path,
            )
        )
        related = {r.id for item in result.items for r in item.related}
        assert related, "same-day neighbours inside the window are found"
        assert set(result.all_ids()) <= expected


# ----------------------------------------------------------------------------- property
_bounds = st.none() | st.builds(
    lambda base, d: base + d, st.sampled_from(OFFSETS), st.sampled_from([-1, 0, 1])
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(start=_bounds, end=_bounds, path=st.sampled_from(PATHS))
def test_any_window_returns_exactly_the_memories_inside_it(
    session_store: Any, utc_data: Data, start: int | None, end: int | None, path: VectorPath
) -> None:
    if start is not None and end is not None and end <= start:
        return
    got = _by_signal(session_store, utc_data.user_id, _w(start, end), path)
    assert got["all"] == _expected(utc_data, start, end)


# ----------------------------------------------------------------------------- month edges
# A window of a few months also narrows full-text inside Lucene by month tokens (the UTC month
# of each memory): memories either side of a UTC month boundary, written in offsets whose
# local month differs from the UTC one, must come back exactly as the window says.
T1 = datetime(2024, 4, 1, tzinfo=UTC)
EDGE = round((T1 - T0).total_seconds())


@pytest.fixture(scope="module")
def month_edge_data(session_store: Any, embedder: Any) -> Data:
    uid = fresh_user("winmonth")
    times = [
        (T1 + timedelta(seconds=s)).astimezone(tz)
        for s in (-7_200, -1, 0, 1, 7_200)
        for tz in (UTC, MINUS5, PLUS10)
    ]
    return Data(uid, _write(session_store, embedder, uid, times))


@pytest.mark.parametrize("tz", [UTC, MINUS5, PLUS10], ids=["utc", "-05", "+10"])
@pytest.mark.parametrize(
    ("start", "end"),
    [
        (EDGE - 1, EDGE),  # the last second of March (UTC) only
        (EDGE, EDGE + 1),  # the first second of April only
        (EDGE - 7_200, EDGE + 7_201),  # across the boundary
        (EDGE - 40 * 31 * 86_400, EDGE + 1),  # wider than the narrowing's limit
    ],
    ids=["march-end", "april-start", "across", "wide"],
)
def test_windows_at_a_month_boundary(
    session_store: Any, month_edge_data: Data, start: int, end: int, tz: Any
) -> None:
    _check(session_store, month_edge_data, _w(start, end, tz), start, end)


def test_the_fact_that_replaced_one_comes_only_from_inside_the_window(
    session_store: Any, embedder: Any
) -> None:
    """A fact of March superseded in October: a March window returns it (no longer true)
    without its October successor, which an open window brings along."""
    from schema.protocols import Supersession

    uid = fresh_user("winsup")
    march, october = datetime(2024, 3, 10, tzinfo=UTC), datetime(2024, 10, 6, tzinfo=UTC)
    texts = ["Kim lives in Lisbon.", "Kim lives in Prague now."]
    vecs = embedder.embed(texts)
    old, new = (
        Fact(
            id=make_id("fact", uid, i),
            user_id=uid,
            t=t,
            text=text,
            valid_from=t,
            slot="lives_in",
            embedding=[float(x) for x in vec],
        )
        for i, (t, text, vec) in enumerate(zip((march, october), texts, vecs, strict=True))
    )
    session_store.write(
        WriteBatch(
            user=User(id=uid, user_id=uid),
            facts=[old, new],
            supersessions=[Supersession(new_id=new.id, old_id=old.id, at=october)],
        )
    )

    def related(window: TimeWindow) -> dict[str, set[str]]:
        result = session_store.retrieve(
            RetrievalRequest(
                user_id=uid,
                query="where does Kim live",
                window=window,
                expand=[Expansion.SUPERSESSION],
            )
        )
        return {i.id: {r.id for r in i.related} for i in result.items}

    in_march = related(
        TimeWindow(start=datetime(2024, 3, 1, tzinfo=UTC), end=datetime(2024, 4, 1, tzinfo=UTC))
    )
    assert in_march == {old.id: set()}
    assert related(TimeWindow()).get(old.id, set()) <= {new.id}
    assert new.id in related(TimeWindow()), "the open window finds the current fact itself"
