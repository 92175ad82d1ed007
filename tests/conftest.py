"""Shared fixtures: ONE real Neo4j server per test session, started by the project's own
launcher in a throw-away home (the Neo4j jars come from the shared cache, resolved from Maven
Central on first use). Tests isolate themselves by user id, never by wiping the database."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schema.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LOCOMO = SHARED / "data" / "locomo" / "locomo10_dev.json"


def _java_or_skip(settings: Settings) -> None:
    from graph.local.java import find_jdks, java_range

    jdks = find_jdks(settings.java_home)
    low, high = java_range(settings.neo4j_version)
    if not any(low <= j.major <= high for j in jdks) and not any(17 <= j.major <= 21 for j in jdks):
        found = ", ".join(f"{j.major}@{j.home}" for j in jdks) or "none"
        pytest.skip(
            f"no usable Java for Neo4j (need {low}-{high}, or 17 for the LTS); found: {found}"
        )


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("persona-home")
    return Settings(
        home=home,
        neo4j_uri=None,
        neo4j_heap="768m",
        neo4j_pagecache="256m",
        timezone="UTC",
    )


@pytest.fixture(scope="session")
def neo4j_server(settings: Settings) -> Iterator[object]:
    from graph.local.server import LocalNeo4j

    _java_or_skip(settings)
    server = LocalNeo4j(settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def conn(neo4j_server: object, settings: Settings) -> Iterator[object]:
    from graph.connection import connect

    connection = connect(settings, start=False)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> object:
    """The configured default embedder: the suite runs the model users get."""
    from graph.embed import build_embedder

    return build_embedder(settings.embedder, cache_dir=settings.cache_dir)


@pytest.fixture(scope="session")
def migrated(conn: object, embedder: object) -> object:
    from graph.migrate import migrate

    return migrate(
        conn,
        dimension=embedder.dimension,  # type: ignore[attr-defined]
        embedder_name=embedder.name,  # type: ignore[attr-defined]
    )


@pytest.fixture
def store(conn: object, embedder: object, migrated: object) -> object:
    from graph.store import Neo4jMemoryStore

    return Neo4jMemoryStore(conn, embedder)  # type: ignore[arg-type]


@pytest.fixture
def user_id() -> str:
    """A fresh user per test: tests never see each other's data."""
    return f"u-{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------------------------
# Shared helpers for the foundation suite (added; the fixtures above are unchanged).
# --------------------------------------------------------------------------------------------

SAMPLE = ROOT / "pipelines" / "data" / "sample_conversation.json"


def fresh_user(prefix: str = "u") -> str:
    """A new user id (what the ``user_id`` fixture gives, for module-scoped fixtures)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def raw_snapshot(conn: object, user_id: str) -> dict[str, object]:
    """Everything stored for ``user_id``, read with plain Cypher (not through the code under
    test): every node (labels + all properties, embeddings included) and every relationship
    that starts at one of the user's nodes (type, end node, end node's owner, properties)."""
    nodes = conn.read(  # type: ignore[attr-defined]
        "MATCH (n) WHERE n.user_id = $u RETURN labels(n) AS labels, properties(n) AS props",
        u=user_id,
    )
    rels = conn.read(  # type: ignore[attr-defined]
        "MATCH (a)-[r]->(b) WHERE a.user_id = $u "
        "RETURN a.id AS src, type(r) AS type, b.id AS dst, b.user_id AS dst_user, "
        "properties(r) AS props",
        u=user_id,
    )
    return {
        "nodes": {
            row["props"]["id"]: (tuple(sorted(row["labels"])), row["props"]) for row in nodes
        },
        "rels": sorted(
            (r["src"], r["type"], r["dst"], r["dst_user"], repr(sorted(r["props"].items())))
            for r in rels
        ),
    }


def graph_shape(conn: Any, user_id: str) -> dict[str, Any]:
    """What must match between two users' graphs of one conversation: counts per label and
    relationship type, and a hash of every node's text-like content (ids embed the user)."""
    labels = conn.read(
        "MATCH (n) WHERE n.user_id = $u "
        "RETURN [x IN labels(n) WHERE x <> 'Memory'][0] AS l, count(*) AS n",
        u=user_id,
    )
    rels = conn.read(
        "MATCH (a)-[r]->(b) WHERE a.user_id = $u AND b.user_id = $u "
        "RETURN type(r) AS t, count(*) AS n",
        u=user_id,
    )
    texts = conn.read(
        "MATCH (n) WHERE n.user_id = $u "
        "RETURN coalesce(n.text, n.name, n.key, toString(n.date), '') AS x ORDER BY x",
        u=user_id,
    )
    digest = hashlib.sha256("\n".join(str(r["x"]) for r in texts).encode()).hexdigest()
    return {
        "labels": {r["l"]: r["n"] for r in labels},
        "rels": {r["t"]: r["n"] for r in rels},
        "content": digest,
    }


def count_user_nodes(conn: object, user_id: str) -> int:
    rows = conn.read(  # type: ignore[attr-defined]
        "MATCH (n) WHERE n.user_id = $u RETURN count(n) AS n", u=user_id
    )
    return int(rows[0]["n"])


@pytest.fixture(scope="session")
def session_store(conn: object, embedder: object, migrated: object) -> object:
    """One store for session/module-scoped fixtures (same as ``store``, longer-lived)."""
    from graph.store import Neo4jMemoryStore

    return Neo4jMemoryStore(conn, embedder)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sample_user(session_store: object, embedder: object) -> str:
    """A user holding the ingested sample conversation. Read-only for every test using it."""
    from pipelines.ingest import ingest_file

    uid = fresh_user("sample")
    ingest_file(SAMPLE, store=session_store, embedder=embedder, user=uid)  # type: ignore[arg-type]
    return uid


#: a memory only the second sample user has (isolation tests look for it from the first user)
SECRET = "My secret vault code is swordfish and I hide it under the porcelain elephant"


@pytest.fixture(scope="session")
def second_sample_user(session_store: object, embedder: object) -> str:
    """Another user with the SAME conversation as ``sample_user`` (overlapping texts, days,
    topics, entities) plus one secret turn (``SECRET``) only this user has. Read-only."""
    from pipelines.ingest import ingest_file
    from schema.nodes import Session, Turn, User, make_id
    from schema.protocols import WriteBatch

    uid = fresh_user("sample-b")
    ingest_file(SAMPLE, store=session_store, embedder=embedder, user=uid)  # type: ignore[arg-type]
    sid = make_id("session", uid, "secret")
    t = session_store.sessions(uid)[-1].end  # type: ignore[attr-defined]
    vec = embedder.embed([SECRET])[0]  # type: ignore[attr-defined]
    session_store.write(  # type: ignore[attr-defined]
        WriteBatch(
            user=User(id=uid, user_id=uid),
            sessions=[Session(id=sid, user_id=uid, source_id="secret", index=99, start=t, end=t)],
            turns=[
                Turn(
                    id=make_id("turn", uid, sid, 0),
                    user_id=uid,
                    session_id=sid,
                    index=0,
                    role="user",
                    speaker="B",
                    text=SECRET,
                    keywords=["swordfish", "vault", "elephant"],
                    t=t,
                    embedding=[float(x) for x in vec],
                )
            ],
        )
    )
    return uid


@pytest.fixture
def cli_settings(settings: Settings, neo4j_server: object, migrated: object) -> Iterator[Settings]:
    """The CLI in this process on the test server (settings injected as if read once). It
    depends on the server fixture, so the server is stopped at the end of the session even
    when only CLI tests run."""
    import cli

    previous = cli._State.settings
    cli._State.settings = settings
    try:
        yield settings
    finally:
        cli._State.settings = previous
