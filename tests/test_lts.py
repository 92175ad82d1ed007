"""The Neo4j 5.26 LTS line on Java 17, end to end: the project's launcher starts a second
server in a throw-away home, migrations are Cypher 5 and idempotent, every statement of the
query layer compiles, and the store writes and retrieves with the exact pre-filtered vector
scan (no SEARCH clause), time-bounded and scoped to one user."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schema.settings import LTS_NEO4J_VERSION, Settings

pytestmark = [pytest.mark.integration, pytest.mark.lts, pytest.mark.slow]

WINDOW_START = datetime(2024, 2, 1, tzinfo=UTC)
WINDOW_END = datetime(2024, 3, 1, tzinfo=UTC)


def _lts_jdk_home() -> Path:
    from graph.local.java import find_jdks, java_range

    low, high = java_range(LTS_NEO4J_VERSION)
    jdks = find_jdks()
    usable = sorted((j for j in jdks if low <= j.major <= high), key=lambda j: j.major)
    if not usable:
        found = ", ".join(f"Java {j.major} at {j.home}" for j in jdks) or "none"
        pytest.skip(
            f"no Java {low}-{high} JDK to run Neo4j {LTS_NEO4J_VERSION} (found: {found}); "
            f"install openjdk-{low}-jdk-headless to run the LTS tests"
        )
    return usable[0].home  # the oldest supported one: Java 17 where installed


@pytest.fixture(scope="module")
def lts_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        home=tmp_path_factory.mktemp("lts-home"),
        neo4j_uri=None,
        neo4j_version=LTS_NEO4J_VERSION,
        java_home=_lts_jdk_home(),
        neo4j_heap="768m",
        neo4j_pagecache="256m",
        timezone="UTC",
    )


@pytest.fixture(scope="module")
def lts_server(lts_settings: Settings) -> Iterator[Any]:
    from graph.local.server import LocalNeo4j

    server = LocalNeo4j(lts_settings)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        assert not server.status().running


@pytest.fixture(scope="module")
def lts_conn(lts_server: Any, lts_settings: Settings) -> Iterator[Any]:
    from graph.connection import connect

    connection = connect(lts_settings, start=False)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def lts_migrated(lts_conn: Any, embedder: Any) -> Any:
    from graph.migrate import migrate

    return migrate(lts_conn, dimension=embedder.dimension)


@pytest.fixture(scope="module")
def lts_store(lts_conn: Any, embedder: Any, lts_migrated: Any) -> Any:
    from graph.store import Neo4jMemoryStore

    return Neo4jMemoryStore(lts_conn, embedder)


# ------------------------------------------------------------------------- the server
def test_launcher_runs_the_lts_line_on_the_chosen_jdk(
    lts_server: Any, lts_settings: Settings
) -> None:
    from graph.local.maven import distribution_dir, entry_point

    status = lts_server.status()
    assert status.running and status.version == LTS_NEO4J_VERSION
    inst = lts_server.instance()
    assert Path(inst.java_home) == lts_settings.java_home.resolve()
    assert 17 <= inst.java_major <= 21
    lib = distribution_dir(lts_settings.cache_dir, LTS_NEO4J_VERSION) / "lib"
    main = entry_point(lib, LTS_NEO4J_VERSION)
    assert main == "org.neo4j.server.CommunityEntryPoint"
    conf = (lts_server.conf_dir / "neo4j.conf").read_text()
    assert "server.bolt.listen_address=127.0.0.1:" in conf
    assert "internal.server.bolt.thread_pool_shutdown_wait_time=1s" in conf  # declared by 5.26
    cmdline = Path(f"/proc/{status.pid}/cmdline")
    if cmdline.exists():
        args = cmdline.read_bytes().decode().split("\0")
        assert main in args
        assert args[0] == str(lts_settings.java_home.resolve() / "bin" / "java")


def test_connection_reports_the_lts_version_and_capabilities(lts_conn: Any) -> None:
    info = lts_conn.info
    assert info.version.startswith("5.26")
    assert info.edition == "community"
    caps = info.capabilities
    assert caps.vector_search_clause is False
    assert caps.cypher25 is False
    assert caps.vector_index_filters is False
    assert caps.best_vector_path == "prefilter"


# ------------------------------------------------------------------------- migrations
def test_migrate_is_cypher5_and_idempotent(lts_conn: Any, lts_migrated: Any, embedder: Any) -> None:
    from graph.migrate import existing_indexes, migrate
    from schema.model import FULLTEXT_INDEX, VECTOR_INDEX

    assert VECTOR_INDEX in lts_migrated.created
    assert FULLTEXT_INDEX in lts_migrated.created
    again = migrate(lts_conn, dimension=embedder.dimension)
    assert again.created == [] and again.rebuilt == []
    assert not again.changed
    vec = existing_indexes(lts_conn)[VECTOR_INDEX]
    assert vec["state"] == "ONLINE"
    assert list(vec["properties"]) == ["embedding"]  # no in-index filters before 2026.01
    config = vec["options"]["indexConfig"]
    assert config["vector.dimensions"] == embedder.dimension
    assert config["vector.quantization.enabled"] is False


def _statements() -> dict[str, str]:
    """Every Cypher statement the store can run (SEARCH-clause ones excluded: 2026.01+)."""
    from graph.cypher import read as R
    from graph.cypher import write as W

    out: dict[str, str] = {}
    for mod in (R, W):
        for name, value in vars(mod).items():
            if (
                name.isupper()
                and isinstance(value, str)
                and any(word in value for word in ("MATCH", "MERGE", "UNWIND"))
            ):
                out[f"{mod.__name__.rsplit('.', 1)[-1]}.{name}"] = value
    # the fullest variant of each builder (both window bounds); one label per builder
    out["prefilter"] = R.vector_prefilter(True, True)
    out["postfilter"] = R.vector_postfilter(True, True, search_clause=False)
    out["fulltext"] = R.fulltext_search(True, True)
    out["merge_memories"] = W.merge_memories("Fact")
    out["supersede"] = W.supersede("Fact")
    out["link_on_day"] = W.link_on_day("Turn")
    out["link_derived_from"] = W.link_derived_from("Event")
    out["merge_owned-profile"] = W.merge_owned(
        "ProfileEntry", "CoreProfile", "HAS_ENTRY", "profile_id"
    )
    out["merge_owned-user"] = W.merge_owned("PersonalitySnapshot", "User", "HAS_SNAPSHOT", "user")
    out["attach-session"] = W.attach("Session", "HAS_TURN", "Turn", "session_id")
    out["relink_chain-scoped"] = W.relink_chain("Turn", "index", "session_id")
    out["relink_chain"] = W.relink_chain("Day", "date")
    out["user_nodes-Turn"] = R.user_nodes("Turn", windowed=True)
    out["user_nodes-Day"] = R.user_nodes("Day", windowed=True)
    # the analytics and the explorer (graph/cypher/analytics.py says 5.26 runs them too)
    from graph.analytics import EXPLORER_LABELS
    from graph.cypher import analytics as A

    for name, value in vars(A).items():
        if name.isupper() and isinstance(value, str) and "MATCH" in value:
            out[f"analytics.{name}"] = value
        elif name.isupper() and callable(value):  # the windowed builders
            out[f"analytics.{name}"] = value(True, True)
    labels = list(EXPLORER_LABELS)
    out["analytics.explorer_view"] = A.explorer_view(labels, True, True)
    out["analytics.count_by_label"] = A.count_by_label(labels)
    for builder in (A.node, A.provenance, A.supersession, A.neighbours):
        out[f"analytics.{builder.__name__}"] = builder("Fact")
    return out


def test_every_statement_compiles_on_the_lts_line(lts_conn: Any, lts_migrated: Any) -> None:
    failures = []
    with lts_conn.driver.session(database=lts_conn.database) as session:
        for name, stmt in _statements().items():
            if stmt.lstrip().startswith("CYPHER 25"):
                continue  # the SEARCH path, never chosen on 5.26 (see the capabilities test)
            try:
                session.run("EXPLAIN " + stmt).consume()
            except Exception as exc:  # collect them all: one report names every broken one
                failures.append(f"{name}: {exc}")
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------------- the store
def _batch(user_id: str, embedder: Any, *, days: list[datetime]) -> Any:
    """Three sessions (one per day in ``days``), a dog in every one; facts with a
    supersession, a procedure, a profile entry, a personality snapshot, an event, a topic."""
    from schema.nodes import (
        Event,
        Fact,
        PersonalitySnapshot,
        Procedure,
        ProfileEntry,
        Session,
        Topic,
        Turn,
        User,
        make_id,
    )
    from schema.protocols import Link, Supersession, WriteBatch

    texts = [
        "I adopted a beagle puppy called Pepper today.",
        "Pepper the dog chewed my running shoes this morning.",
        "Took my dog Pepper to the vet for her vaccines.",
    ]
    sessions, turns = [], []
    for i, (day, text) in enumerate(zip(days, texts, strict=True)):
        sid = make_id("session", user_id, i)
        sessions.append(
            Session(
                id=sid,
                user_id=user_id,
                source_id=f"s{i}",
                index=i,
                start=day,
                end=day + timedelta(minutes=1),
            )
        )
        for j, (role, words) in enumerate([("user", text), ("assistant", "Tell me more!")]):
            turns.append(
                Turn(
                    id=make_id("turn", user_id, i, j),
                    user_id=user_id,
                    session_id=sid,
                    index=j,
                    role=role,
                    speaker="Sam" if role == "user" else "Assistant",
                    t=day + timedelta(minutes=j),
                    text=words,
                )
            )
    boston = Fact(
        id=make_id("fact", user_id, "boston"),
        user_id=user_id,
        t=days[0],
        valid_from=days[0],
        text="Sam lives in Boston.",
        slot="lives_in",
        turn_ids=[turns[0].id],
    )
    denver = Fact(
        id=make_id("fact", user_id, "denver"),
        user_id=user_id,
        t=days[2],
        valid_from=days[2],
        text="Sam moved to Denver.",
        slot="lives_in",
        turn_ids=[turns[4].id],
    )
    feb_turns = [t for t in turns if t.session_id == sessions[1].id]
    event = Event(
        id=make_id("event", user_id, 1),
        user_id=user_id,
        session_id=sessions[1].id,
        t=feb_turns[0].t,
        t_end=feb_turns[-1].t,
        text="Sam talked about Pepper the dog chewing shoes.",
        turn_ids=[t.id for t in feb_turns],
    )
    habit = Procedure(
        id=make_id("procedure", user_id, "walk"),
        user_id=user_id,
        t=days[0],
        type="habit",
        text="Sam walks the dog every morning.",
        schedule="every morning",
    )
    memories = [*turns, boston, denver, event, habit]
    vectors = embedder.embed([m.text for m in memories])
    for node, vec in zip(memories, vectors, strict=True):
        node.embedding = [float(x) for x in vec]
    dog = Topic(id=make_id("topic", user_id, "dog"), user_id=user_id, name="dog")
    return WriteBatch(
        user=User(id=user_id, user_id=user_id, name="Sam", created_at=days[0]),
        sessions=sessions,
        turns=turns,
        events=[event],
        facts=[boston, denver],
        procedures=[habit],
        profile_entries=[
            ProfileEntry(
                id=make_id("entry", user_id, "pet", 1),
                user_id=user_id,
                key="pet",
                value="Pepper (beagle)",
                version=1,
                op="add",
                valid_from=days[0],
                turn_ids=[turns[0].id],
            )
        ],
        snapshots=[
            PersonalitySnapshot(
                id=make_id("snapshot", user_id, 1),
                user_id=user_id,
                t=days[0],
                step=1,
                openness=3.5,
                conscientiousness=3.0,
                extraversion=3.0,
                agreeableness=4.0,
                neuroticism=2.5,
                weight=0.5,
                observed=[4, None, None, 5, 2],
                turn_id=turns[0].id,
            )
        ],
        supersessions=[Supersession(new_id=denver.id, old_id=boston.id, at=days[2])],
        topics=[dog],
        about=[Link(memory_id=t.id, node_id=dog.id) for t in turns if t.role == "user"],
    )


@pytest.fixture(scope="module")
def users(lts_store: Any, embedder: Any) -> dict[str, Any]:
    """Two users with the same kind of memories on overlapping days."""
    days_a = [datetime(2024, m, 10, 9, 0, tzinfo=UTC) for m in (1, 2, 3)]
    days_b = [datetime(2024, 2, d, 9, 0, tzinfo=UTC) for d in (5, 12, 19)]
    out = {}
    for key, days in (("a", days_a), ("b", days_b)):
        user_id = f"lts-{key}-{uuid.uuid4().hex[:8]}"
        batch = _batch(user_id, embedder, days=days)
        stats = lts_store.write(batch)
        assert stats.nodes_created > 0
        out[key] = (user_id, batch)
    return out


def test_store_uses_the_prefilter_path(lts_store: Any) -> None:
    from schema.retrieval import VectorPath

    assert lts_store.vector_path == VectorPath.PREFILTER
    assert lts_store.vector_path == "prefilter"


def test_rewriting_a_batch_changes_nothing(lts_store: Any, users: dict[str, Any]) -> None:
    _, batch = users["a"]
    stats = lts_store.write(batch)
    assert stats.nodes_created == 0
    assert stats.relationships_created == 0


def _all_memories(result: Any) -> list[Any]:
    out = []
    for item in result.items:
        out += [item, *item.turns, *item.related]
    return out


@pytest.mark.parametrize("path", [None, "postfilter"])
def test_time_bounded_retrieval_returns_only_that_users_window(
    lts_store: Any, users: dict[str, Any], path: str | None
) -> None:
    from schema.retrieval import Expansion, RetrievalRequest, TimeWindow, VectorPath

    user_a, batch_a = users["a"]
    _, batch_b = users["b"]
    window = TimeWindow(start=WINDOW_START, end=WINDOW_END)
    result = lts_store.retrieve(
        RetrievalRequest(
            user_id=user_a,
            query="my dog chewed my shoes",
            window=window,
            expand=list(Expansion),
            vector_path=VectorPath(path) if path else None,
        )
    )
    assert result.vector_path == (path or "prefilter")
    got = _all_memories(result)
    assert got, "the February memories of user A should be found"
    ids_a = {m.id for m in (*batch_a.turns, *batch_a.events, *batch_a.facts, *batch_a.procedures)}
    ids_b = {m.id for m in (*batch_b.turns, *batch_b.events, *batch_b.facts, *batch_b.procedures)}
    in_window = {
        m.id
        for m in (*batch_a.turns, *batch_a.events, *batch_a.facts, *batch_a.procedures)
        if WINDOW_START <= m.t < WINDOW_END
    }
    for memory in got:
        assert memory.id not in ids_b, f"user B's memory {memory.id} leaked into user A's"
        assert memory.id in ids_a
        if memory.why.true_in_window:  # a state said before the window, true during it
            assert memory.kind == "fact" and memory.t < WINDOW_END
            assert memory.valid_to is None or memory.valid_to > WINDOW_START
        else:
            assert WINDOW_START <= memory.t < WINDOW_END, f"{memory.id} at {memory.t}"
    top_ids = {i.id for i in result.items if not i.why.true_in_window}
    assert top_ids <= in_window
    said_only = lts_store.retrieve(result.request.model_copy(update={"states_in_window": False}))
    assert all(WINDOW_START <= m.t < WINDOW_END for m in _all_memories(said_only))
    chewed = next(t for t in batch_a.turns if "chewed" in t.text)
    assert chewed.id in top_ids
    event = batch_a.events[0]
    if event.id in top_ids:
        hit = next(i for i in result.items if i.id == event.id)
        assert {t.id for t in hit.turns} == set(event.turn_ids)


def test_histories_and_chains_read_back(
    lts_store: Any, lts_conn: Any, users: dict[str, Any]
) -> None:
    user_a, _ = users["a"]
    history = lts_store.fact_history(user_a, "lives_in")
    assert [f.text for f in history] == ["Sam lives in Boston.", "Sam moved to Denver."]
    assert history[0].status == "superseded" and history[0].valid_to is not None
    assert [f.text for f in lts_store.active_facts(user_a, "lives_in")] == ["Sam moved to Denver."]
    assert [p.text for p in lts_store.procedures(user_a)] == ["Sam walks the dog every morning."]
    assert [e.value for e in lts_store.profile(user_a)] == ["Pepper (beagle)"]
    [snapshot] = lts_store.personality_history(user_a)
    assert snapshot.observed == [4, None, None, 5, 2]
    assert [s.index for s in lts_store.sessions(user_a)] == [0, 1, 2]
    # NEXT chains: turns within each session, sessions, and days
    rows = lts_conn.read(
        "MATCH (a {user_id: $u})-[:NEXT]->(b) RETURN labels(a) AS l, count(*) AS n", u=user_a
    )
    counts = {next(x for x in r["l"] if x != "Memory"): r["n"] for r in rows}
    assert counts == {"Turn": 3, "Session": 2, "Day": 2}


def test_export_slices_one_user_on_the_lts_line(lts_conn: Any, users: dict[str, Any]) -> None:
    from graph.export import to_networkx
    from schema.retrieval import TimeWindow

    user_a, _ = users["a"]
    graph = to_networkx(lts_conn, user_a, TimeWindow(start=WINDOW_START, end=WINDOW_END))
    assert graph.number_of_nodes() > 0
    assert all(data.get("user_id") == user_a for _, data in graph.nodes(data=True))
