"""The conformance suite of the store's roles (schema/protocols.py): writer, retriever,
reader, eraser. Every implementation listed in IMPLEMENTATIONS runs it; today that is the
Neo4j store, against the real test server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from agent_helpers import SAMPLE_QUESTION, ingest_sample
from conftest import count_user_nodes, fresh_user, raw_snapshot

from graph.store import Neo4jMemoryStore
from schema.nodes import MemoryKind
from schema.protocols import (
    MemoryEraser,
    MemoryListing,
    MemoryReader,
    MemoryRetriever,
    MemoryStore,
    MemoryWriter,
    ServerFacts,
)
from schema.retrieval import RetrievalRequest, TimeWindow

pytestmark = pytest.mark.integration

IMPLEMENTATIONS: dict[str, Callable[[Any, Any], MemoryStore]] = {
    "neo4j": Neo4jMemoryStore,
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS), scope="module")
def impl(request: pytest.FixtureRequest, conn: Any, embedder: Any, migrated: Any) -> MemoryStore:
    return IMPLEMENTATIONS[request.param](conn, embedder)


@pytest.fixture(scope="module")
def two_users(impl: MemoryStore, embedder: Any) -> tuple[str, str]:
    return ingest_sample(impl, embedder, fresh_user("role-a")), ingest_sample(
        impl, embedder, fresh_user("role-b")
    )


def test_every_role_is_implemented(impl: MemoryStore) -> None:
    for role in (MemoryWriter, MemoryRetriever, MemoryReader, MemoryEraser, MemoryStore):
        assert isinstance(impl, role), role.__name__


def test_writer_is_idempotent_and_knows_what_it_holds(
    impl: MemoryStore, conn: Any, embedder: Any, two_users: tuple[str, str]
) -> None:
    a, b = two_users
    before = raw_snapshot(conn, a)
    ingest_sample(impl, embedder, a)  # the same batches again
    assert raw_snapshot(conn, a) == before
    turns = [t.id for s in impl.sessions(a) for t in impl.session_turns(a, s.id)]
    assert impl.existing_ids(a, turns) == set(turns)
    assert impl.existing_ids(b, turns) == set()  # another user's ids are not theirs
    stored = impl.stored_turns(a, turns[:3])
    assert len(stored) == 3 and all(s.text and s.t.tzinfo for s in stored.values())
    assert impl.stored_turns(b, turns[:3]) == {}


def test_retriever_is_scoped_and_reports_its_server(
    impl: MemoryStore, two_users: tuple[str, str]
) -> None:
    a, b = two_users
    result = impl.retrieve(RetrievalRequest(user_id=a, query=SAMPLE_QUESTION, k=10))
    assert result.items
    b_ids = {t.id for s in impl.sessions(b) for t in impl.session_turns(b, s.id)}
    assert not {i.id for i in result.items} & b_ids
    facts = impl.server_facts()
    assert isinstance(facts, ServerFacts) and facts.version


def test_reader_returns_typed_models_without_internals(
    impl: MemoryStore, two_users: tuple[str, str]
) -> None:
    a, _ = two_users
    sessions = impl.sessions(a)
    assert sessions and impl.last_session(a) is not None
    rows = impl.list_memories(a, list(MemoryKind), TimeWindow(), 500)
    assert rows and all(isinstance(r, MemoryListing) for r in rows)
    assert not {"tenant", "t_offset", "embedding", "image_embedding"} & set(
        MemoryListing.model_fields
    )
    assert {r.kind for r in rows} >= {MemoryKind.TURN, MemoryKind.FACT}
    assert [r.t for r in rows] == sorted(r.t for r in rows)
    # each kind's own fields come through; times read back in the offset they were said in
    turn = next(r for r in rows if r.kind == MemoryKind.TURN)
    assert turn.speaker and turn.role and turn.session_id and turn.t.utcoffset() is not None
    fact = next(r for r in rows if r.kind == MemoryKind.FACT)
    assert fact.status in {"active", "superseded"} and fact.turn_ids and fact.valid_from
    ctx = impl.user_context(a)
    assert ctx.last_session is not None and ctx.last_session_turns
    assert all(f.user_id == a for f in impl.active_facts(a))


def test_eraser_leaves_nothing_of_the_user_and_everything_of_others(
    impl: MemoryStore, conn: Any, embedder: Any, two_users: tuple[str, str]
) -> None:
    _, b = two_users
    doomed = ingest_sample(impl, embedder, fresh_user("role-gone"))
    other = raw_snapshot(conn, b)
    impl.delete_user(doomed)
    assert count_user_nodes(conn, doomed) == 0
    assert raw_snapshot(conn, b) == other
