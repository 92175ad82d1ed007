"""Shared fixtures: ONE real Neo4j server per test session, started by the project's own
launcher in a throw-away home (the Neo4j jars come from the shared cache, resolved from Maven
Central on first use). Tests isolate themselves by user id, never by wiping the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from schema.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LOCOMO = SHARED / "data" / "locomo" / "locomo10_dev.json"


def _java_or_skip(settings: Settings) -> None:
    from graph.local.java import find_jdks, java_range

    jdks = find_jdks(settings.java_home)
    low, high = java_range(settings.neo4j_version)
    if not any(low <= j.major <= high for j in jdks) and not any(
        17 <= j.major <= 21 for j in jdks
    ):
        found = ", ".join(f"{j.major}@{j.home}" for j in jdks) or "none"
        pytest.skip(f"no usable Java for Neo4j (need {low}-{high}, or 17 for the LTS); "
                    f"found: {found}")


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
def embedder() -> object:
    from graph.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def migrated(conn: object, embedder: object) -> object:
    from graph.migrate import migrate

    return migrate(conn, dimension=embedder.dimension)  # type: ignore[attr-defined]


@pytest.fixture
def store(conn: object, embedder: object, migrated: object) -> object:
    from graph.store import Neo4jMemoryStore

    return Neo4jMemoryStore(conn, embedder)  # type: ignore[arg-type]


@pytest.fixture
def user_id() -> str:
    """A fresh user per test: tests never see each other's data."""
    return f"u-{uuid.uuid4().hex[:10]}"
