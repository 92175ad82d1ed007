"""User isolation: two users with overlapping memories; every retrieval for one user returns
only that user's memories, whatever the query text, on both vector paths, in full-text and in
every expansion. Hostile query strings never raise."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SECRET
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema.nodes import MemoryKind, make_id
from schema.retrieval import Expansion, RetrievalRequest, TimeWindow, VectorPath

pytestmark = pytest.mark.integration

PATHS = [VectorPath.SEARCH, VectorPath.PREFILTER, VectorPath.AUTO]

ADVERSARIAL = [
    "*:*",
    "tenant:*",
    "user_id:B",
    '") OR (',
    "\\",
    "~",
    "AND OR NOT",
    "+tenant:* OR text:*",
    "text:(swordfish) OR keywords:(swordfish)",
    "swordfish~ elephant* vault?",
    "[* TO *] {a TO z} /.*/",
    "' OR 1=1 //",
    "}) MATCH (n) RETURN n //",
    "$user_id",
    "`Fact`) DETACH DELETE (n",
    "\x00\x01\x02 control characters",
    " ".join(f"swordfish{i}" for i in range(5000)),  # 5,000 terms
]


@pytest.fixture(scope="module")
def users(sample_user: str, second_sample_user: str) -> tuple[str, str]:
    """A = the shared sample user; B = another user with the SAME conversation (overlapping
    content) plus a secret only B has."""
    return sample_user, second_sample_user


def _owners(conn: Any, ids: list[str]) -> set[str | None]:
    """The owner of each memory id (None for an id that is not a stored memory)."""
    rows = conn.read(
        "UNWIND $ids AS i OPTIONAL MATCH (m:Memory {id: i}) RETURN DISTINCT m.user_id AS u",
        ids=ids,
    )
    return {r["u"] for r in rows}


def _retrieve_all_ways(store: Any, uid: str, query: str, keywords: list[str]) -> list[Any]:
    out = []
    for path in PATHS:
        out.append(
            store.retrieve(
                RetrievalRequest(
                    user_id=uid,
                    query=query,
                    keywords=keywords,
                    k=25,
                    expand=list(Expansion),
                    vector_path=path,
                )
            )
        )
    return out


def _assert_only(conn: Any, results: list[Any], uid: str) -> None:
    for result in results:
        ids = result.all_ids()
        if ids:
            assert _owners(conn, ids) == {uid}, result.request.query[:80]
        for item in result.items:
            for sub in (*item.turns, *item.related):
                assert sub.id in ids


def test_overlapping_content_stays_with_its_owner(
    conn: Any, session_store: Any, users: tuple[str, str]
) -> None:
    a, b = users
    for query in ("where does Sam live", "dentist cavities Dr. Patel", "Pepper the beagle"):
        for uid in (a, b):
            results = _retrieve_all_ways(session_store, uid, query, [])
            assert all(r.items for r in results), "both users have these memories"
            _assert_only(conn, results, uid)


def test_the_other_users_secret_is_unreachable(
    conn: Any, session_store: Any, users: tuple[str, str]
) -> None:
    a, b = users
    secret_id = make_id("turn", b, make_id("session", b, "secret"), 0)
    # B finds it (the data and the query are good) ...
    for result in _retrieve_all_ways(session_store, b, "swordfish vault code", ["swordfish"]):
        assert secret_id in result.all_ids()
        top = next(i for i in result.items if i.id == secret_id)
        assert {s.name for s in top.why.signals} == {"vector", "fulltext"}
    # ... A never does, whatever A asks
    for query in ("swordfish vault code", SECRET, "porcelain elephant"):
        results = _retrieve_all_ways(session_store, a, query, ["swordfish", "vault"])
        _assert_only(conn, results, a)
        assert all(secret_id not in r.all_ids() for r in results)


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_queries_never_raise_or_leak(
    conn: Any, session_store: Any, users: tuple[str, str], text: str
) -> None:
    a, _b = users
    _assert_only(conn, _retrieve_all_ways(session_store, a, text, []), a)
    _assert_only(conn, _retrieve_all_ways(session_store, a, "swordfish", [text]), a)


def test_postfilter_path_is_scoped_too(
    conn: Any, session_store: Any, users: tuple[str, str]
) -> None:
    a, _b = users
    result = session_store.retrieve(
        RetrievalRequest(
            user_id=a, query="swordfish vault", k=25, vector_path=VectorPath.POSTFILTER
        )
    )
    _assert_only(conn, [result], a)


def test_reads_are_scoped(conn: Any, session_store: Any, users: tuple[str, str]) -> None:
    a, b = users
    b_turns = [
        t.id for s in session_store.sessions(b) for t in session_store.session_turns(b, s.id)
    ]
    assert session_store.existing_ids(a, b_turns) == set()
    assert session_store.existing_ids(b, b_turns) == set(b_turns)
    for s in session_store.sessions(b):
        assert session_store.session_turns(a, s.id) == []
    assert {f.user_id for f in session_store.active_facts(a)} == {a}
    listed = session_store.list_memories(a, list(MemoryKind), TimeWindow(), limit=1000)
    assert _owners(conn, [m.id for m in listed]) == {a}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    query=st.text(min_size=1, max_size=200).filter(lambda s: s.strip()),
    keyword=st.text(max_size=40),
)
def test_random_text_never_raises_or_leaks(
    conn: Any, session_store: Any, users: tuple[str, str], query: str, keyword: str
) -> None:
    a, _b = users
    _assert_only(conn, _retrieve_all_ways(session_store, a, query, [keyword]), a)
