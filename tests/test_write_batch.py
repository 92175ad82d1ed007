"""One WriteBatch = one transaction: a batch whose last part fails leaves nothing behind, a
batch that is rejected up front writes nothing, and re-writing a batch changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import count_user_nodes, raw_snapshot

from graph.rows import native
from schema.errors import ConfigError, StoreError
from schema.nodes import Entity, Fact, Session, Topic, Turn, User, make_id
from schema.protocols import Link, Supersession, WriteBatch

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def _batch(uid: str, embedder: Any, *, n: int = 3, source: str = "s1", day: int = 0) -> WriteBatch:
    """A realistic batch: a session with turns (embedded), a fact with provenance, a topic
    and an entity with links."""
    sid = make_id("session", uid, source)
    start = T0 + timedelta(days=day)
    texts = [f"I planted {i + 1} tomato seedlings in the Lisbon garden" for i in range(n)]
    vectors = embedder.embed(texts)
    turns = [
        Turn(
            id=make_id("turn", uid, sid, i),
            user_id=uid,
            session_id=sid,
            index=i,
            role="user",
            speaker="Ana",
            text=text,
            t=start + timedelta(minutes=i),
            embedding=[float(x) for x in vec],
        )
        for i, (text, vec) in enumerate(zip(texts, vectors, strict=True))
    ]
    fact = Fact(
        id=make_id("fact", uid, sid, 0),
        user_id=uid,
        t=turns[0].t,
        text="Ana gardens in Lisbon.",
        keywords=["garden", "lisbon"],
        valid_from=turns[0].t,
        slot="ana:doing",
        turn_ids=[turns[0].id],
    )
    topic = Topic(id=make_id("topic", uid, "garden"), user_id=uid, name="garden")
    entity = Entity(id=make_id("entity", uid, "lisbon"), user_id=uid, name="Lisbon")
    return WriteBatch(
        user=User(id=uid, user_id=uid, name="Ana", created_at=T0),
        sessions=[
            Session(id=sid, user_id=uid, source_id=source, index=day, start=start, end=turns[-1].t)
        ],
        turns=turns,
        facts=[fact],
        topics=[topic],
        entities=[entity],
        about=[Link(memory_id=fact.id, node_id=topic.id)],
        mentions=[Link(memory_id=t.id, node_id=entity.id) for t in turns],
    )


def _ids_in_db(conn: Any, ids: list[str]) -> list[dict[str, Any]]:
    return conn.read(
        "UNWIND $ids AS i MATCH (n {id: i}) RETURN n.id AS id, n.user_id AS user_id", ids=ids
    )


def _batch_ids(batch: WriteBatch) -> list[str]:
    return [
        n.id
        for n in (
            *batch.sessions,
            *batch.turns,
            *batch.facts,
            *batch.events,
            *batch.topics,
            *batch.entities,
        )
    ]


# ----------------------------------------------------------------------------- happy path
def test_write_is_idempotent(conn: Any, store: Any, embedder: Any, user_id: str) -> None:
    batch = _batch(user_id, embedder)
    first = store.write(batch)
    assert first.nodes_created > 0 and first.relationships_created > 0
    snap = raw_snapshot(conn, user_id)
    again = store.write(_batch(user_id, embedder))
    assert again.nodes_created == 0
    assert again.relationships_created == 0
    assert raw_snapshot(conn, user_id) == snap


def test_consolidation_happens_once(conn: Any, store: Any, embedder: Any, user_id: str) -> None:
    batch = _batch(user_id, embedder)
    sid = batch.sessions[0].id
    batch.consolidated_sessions = [sid]
    batch.consolidated_at = T0 + timedelta(hours=1)
    store.write(batch)
    again = _batch(user_id, embedder)
    again.consolidated_sessions = [sid]
    again.consolidated_at = T0 + timedelta(days=30)
    store.write(again)
    (session,) = store.sessions(user_id)
    assert session.consolidated_at == T0 + timedelta(hours=1)
    assert store.sessions(user_id, unconsolidated_only=True) == []


# ----------------------------------------------------------------------------- rollback
def test_failing_last_part_rolls_back_everything(
    conn: Any, store: Any, embedder: Any, user_id: str
) -> None:
    """B's batch ends with an entity whose id already belongs to user A: the MERGE on
    (id, user_id=B) creates a second node with that id and the uniqueness constraint fails
    after sessions, turns, facts, the calendar and the links were already written."""
    victim = user_id + "-a"
    a_batch = _batch(victim, embedder)
    store.write(a_batch)
    a_before = raw_snapshot(conn, victim)

    b_batch = _batch(user_id, embedder)
    stolen = a_batch.entities[0].id
    b_batch.entities = [Entity(id=stolen, user_id=user_id, name="Lisbon")]
    b_batch.mentions = [Link(memory_id=t.id, node_id=stolen) for t in b_batch.turns]
    with pytest.raises(StoreError, match="rolled back"):
        store.write(b_batch)

    assert count_user_nodes(conn, user_id) == 0
    own = [i for i in _batch_ids(b_batch) if i != stolen]
    assert _ids_in_db(conn, own) == []
    assert raw_snapshot(conn, victim) == a_before  # the other user's node is untouched


def test_turn_id_collision_with_another_user_rolls_back(
    conn: Any, store: Any, embedder: Any, user_id: str
) -> None:
    victim = user_id + "-a"
    a_batch = _batch(victim, embedder)
    store.write(a_batch)
    b_batch = _batch(user_id, embedder, n=3)
    last = b_batch.turns[-1]
    b_batch.turns[-1] = last.model_copy(update={"id": a_batch.turns[0].id})
    with pytest.raises(StoreError):
        store.write(b_batch)
    assert count_user_nodes(conn, user_id) == 0
    row = native(
        conn.read(
            "MATCH (t:Turn {id: $i}) RETURN t.user_id AS u, t.text AS text", i=a_batch.turns[0].id
        )
    )
    assert row == [{"u": victim, "text": a_batch.turns[0].text}]


def test_failed_batch_leaves_existing_user_data_unchanged(
    conn: Any, store: Any, embedder: Any, user_id: str
) -> None:
    """The same user's second batch (a new session) fails at its end: the first session's
    graph, NEXT chains included, is exactly as before."""
    store.write(_batch(user_id, embedder, source="s1", day=0))
    before = raw_snapshot(conn, user_id)
    other = user_id + "-other"
    store.write(_batch(other, embedder))
    second = _batch(user_id, embedder, source="s2", day=1)
    clash = make_id("topic", other, "garden")  # another user's topic id
    second.topics = [Topic(id=clash, user_id=user_id, name="garden")]
    second.about = [Link(memory_id=second.facts[0].id, node_id=clash)]
    with pytest.raises(StoreError):
        store.write(second)
    assert raw_snapshot(conn, user_id) == before


def test_unknown_supersession_rolls_back(
    conn: Any, store: Any, embedder: Any, user_id: str
) -> None:
    batch = _batch(user_id, embedder)
    batch.supersessions = [Supersession(new_id="fact-does-not-exist", old_id="fact-neither", at=T0)]
    # the store looks the unknown id up inside the transaction and refuses it there
    with pytest.raises(ConfigError, match="unknown memory"):
        store.write(batch)
    assert count_user_nodes(conn, user_id) == 0


def test_supersession_of_a_missing_fact_is_refused(
    conn: Any, store: Any, embedder: Any, user_id: str
) -> None:
    batch = _batch(user_id, embedder)
    batch.supersessions = [Supersession(new_id=batch.facts[0].id, old_id="fact-missing", at=T0)]
    with pytest.raises((StoreError, ConfigError)):
        store.write(batch)
    assert count_user_nodes(conn, user_id) == 0


def test_nodes_of_another_user_are_rejected_up_front(
    conn: Any, store: Any, embedder: Any, user_id: str
) -> None:
    batch = _batch(user_id, embedder)
    intruder = _batch(user_id + "-x", embedder)
    batch.facts.append(intruder.facts[0])
    with pytest.raises(ConfigError, match="belongs to user"):
        store.write(batch)
    assert count_user_nodes(conn, user_id) == 0
    assert count_user_nodes(conn, user_id + "-x") == 0


def test_links_never_cross_users(conn: Any, store: Any, embedder: Any, user_id: str) -> None:
    """Provenance and links name other users' nodes: nothing is linked across users."""
    other = user_id + "-o"
    o_batch = _batch(other, embedder)
    store.write(o_batch)
    batch = _batch(user_id, embedder)
    batch.facts[0] = batch.facts[0].model_copy(
        update={"turn_ids": [batch.turns[0].id, o_batch.turns[1].id]}
    )
    batch.mentions.append(Link(memory_id=batch.turns[0].id, node_id=o_batch.entities[0].id))
    batch.about.append(Link(memory_id=batch.facts[0].id, node_id=o_batch.topics[0].id))
    store.write(batch)
    crossing = conn.read(
        "MATCH (a {user_id: $u})-[r]-(b) WHERE b.user_id <> $u RETURN count(r) AS n", u=user_id
    )
    assert crossing[0]["n"] == 0
    derived = conn.read(
        "MATCH (:Fact {id: $f})-[:DERIVED_FROM]->(t) RETURN collect(t.id) AS ids",
        f=batch.facts[0].id,
    )
    assert derived[0]["ids"] == [batch.turns[0].id]


def test_a_topics_name_does_not_depend_on_the_order_of_writes(
    conn: Any, store: Any, embedder: Any
) -> None:
    """Two batches naming one topic (one stem) differently: written in either order, the
    stored name is the preferred form, not whichever batch came first."""
    from conftest import fresh_user

    names = {}
    for order in (("taking", "takes"), ("takes", "taking")):
        uid = fresh_user("topic-order")
        for day, form in enumerate(order):
            batch = _batch(uid, embedder, n=1, source=f"s{day}", day=day)
            batch.topics = [Topic(id=make_id("topic", uid, "take"), user_id=uid, name=form)]
            batch.about = [Link(memory_id=batch.turns[0].id, node_id=batch.topics[0].id)]
            store.write(batch)
        rows = conn.read("MATCH (t:Topic {user_id: $u, id: $id}) RETURN t.name AS n",
                         u=uid, id=make_id("topic", uid, "take"))  # fmt: skip
        names[order] = [r["n"] for r in rows]
    assert names == {("taking", "takes"): ["takes"], ("takes", "taking"): ["takes"]}


@pytest.mark.parametrize("packed", [True, False], ids=["vector-param", "list-param"])
def test_embeddings_are_stored_the_same_whichever_way_they_cross_bolt(
    conn: Any, embedder: Any, user_id: str, packed: bool
) -> None:
    """2025.10+ servers take each embedding as a packed float32 VECTOR parameter, older ones
    as a list of floats; both store the same float[] (and the vector index finds it)."""
    from graph.writes import write_batch

    if packed and not conn.caps.vector_values:
        pytest.skip("the server predates VECTOR values")  # only on a pre-2025.10 server
    t = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    texts = ["I keep bees on the roof.", "My sister lives in Porto."]
    vecs = embedder.embed(texts)
    facts = [
        Fact(
            id=make_id("fact", user_id, i),
            user_id=user_id,
            t=t,
            text=text,
            valid_from=t,
            embedding=vec.tolist(),
        )
        for i, (text, vec) in enumerate(zip(texts, vecs, strict=True))
    ]
    batch = WriteBatch(user=User(id=user_id, user_id=user_id), facts=facts)
    conn.write_tx(lambda tx: write_batch(tx, batch, vector_values=packed))
    rows = conn.read(
        "MATCH (m:Fact {user_id: $u}) RETURN m.id AS id, m.embedding AS e, "
        "valueType(m.embedding) AS type ORDER BY m.id",
        u=user_id,
    )
    by_id = {r["id"]: r for r in rows}
    for fact, vec in zip(facts, vecs, strict=True):
        stored = by_id[fact.id]
        assert stored["type"].startswith("LIST<FLOAT")
        assert stored["e"] == [float(x) for x in vec]  # float32 values, exactly
    hits = conn.read(
        "CALL db.index.vector.queryNodes('memory_embedding', 50, $v) YIELD node, score "
        "WHERE node.user_id = $u RETURN node.id AS id ORDER BY score DESC",
        v=vecs[1].tolist(),
        u=user_id,
    )
    assert hits and hits[0]["id"] == facts[1].id
