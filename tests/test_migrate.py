"""Migrations against the real server: idempotent, match the schema, refuse a dimension change."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import fresh_user

from graph.cypher import ddl
from graph.migrate import existing_indexes, migrate
from schema.errors import DimensionMismatch, StoreError
from schema.model import FULLTEXT_INDEX, GRAPH_MODEL, IMAGE_VECTOR_INDEX, VECTOR_INDEX
from schema.nodes import Fact, User
from schema.protocols import WriteBatch
from schema.retrieval import RetrievalRequest, TimeWindow

pytestmark = pytest.mark.integration

_TYPES = {"unique": "RANGE", "range": "RANGE", "fulltext": "FULLTEXT", "vector": "VECTOR"}


def _indexes(conn: Any) -> dict[str, tuple[Any, ...]]:
    return {
        r["name"]: (
            r["type"],
            tuple(r["labelsOrTypes"] or ()),
            tuple(r["properties"] or ()),
            repr(sorted((r["options"] or {}).items())),
            r["state"],
        )
        for r in conn.read(ddl.SHOW_INDEXES)
    }


def _constraints(conn: Any) -> set[tuple[Any, ...]]:
    return {
        (r["name"], r["type"], tuple(r["labelsOrTypes"]), tuple(r["properties"]))
        for r in conn.read(ddl.SHOW_CONSTRAINTS)
    }


def test_schema_is_in_place_after_migration(conn: Any, migrated: Any, embedder: Any) -> None:
    live = existing_indexes(conn)
    constraints = {c[0]: c for c in _constraints(conn)}
    for spec in GRAPH_MODEL.indexes:
        if spec.kind == "vector" and spec.image:
            continue  # only with a CLIP model configured
        if spec.kind == "unique":
            _name, kind, labels, props = constraints[spec.name]
            assert kind.startswith("UNIQUE"), spec.name
            assert labels == (spec.label,) and props == spec.properties
        assert spec.name in live, spec.name
        row = live[spec.name]
        assert row["type"] == _TYPES[spec.kind], spec.name
        assert list(row["labelsOrTypes"]) == [spec.label]
        assert row["state"] == "ONLINE"
        if spec.kind == "vector":
            filters = spec.filters if conn.caps.vector_index_filters else ()
            assert list(row["properties"]) == [*spec.properties, *filters]
            config = row["options"]["indexConfig"]
            assert config["vector.dimensions"] == embedder.dimension
            assert config["vector.similarity_function"].lower() == "cosine"
        else:
            assert tuple(row["properties"]) == spec.properties, spec.name
    assert IMAGE_VECTOR_INDEX not in live


def test_migrating_again_creates_nothing(conn: Any, migrated: Any, embedder: Any) -> None:
    indexes, constraints = _indexes(conn), _constraints(conn)
    notes: list[str] = []
    report = migrate(conn, dimension=embedder.dimension, progress=notes.append)
    assert report.created == []
    assert report.rebuilt == []
    assert not report.changed
    expected = {s.name for s in GRAPH_MODEL.indexes if not (s.kind == "vector" and s.image)}
    assert set(report.unchanged) == expected
    assert notes == []
    assert _indexes(conn) == indexes
    assert _constraints(conn) == constraints


def test_a_different_dimension_is_refused_with_the_reembed_hint(
    conn: Any, migrated: Any, embedder: Any
) -> None:
    before = _indexes(conn)
    other = embedder.dimension + 128
    with pytest.raises(DimensionMismatch) as exc:
        migrate(conn, dimension=other, embedder_name="some-768d-model")
    err = exc.value
    assert isinstance(err, StoreError)
    assert err.index == VECTOR_INDEX
    assert err.existing == embedder.dimension
    assert err.configured == other
    assert err.hint is not None and "persona db reembed" in err.hint
    assert "some-768d-model" in err.message
    assert str(embedder.dimension) in err.message and str(other) in err.message
    # nothing was dropped or created on the way
    assert _indexes(conn) == before


def test_first_migration_report_created_the_schema(migrated: Any) -> None:
    """The session's migration either created the schema or found it (fresh home: created)."""
    names = set(migrated.created) | set(migrated.unchanged) | set(migrated.rebuilt)
    expected = {s.name for s in GRAPH_MODEL.indexes if not (s.kind == "vector" and s.image)}
    assert names == expected
    assert migrated.created, "the test server starts empty, so the first migration creates"


def test_an_index_without_month_tokens_is_rebuilt_and_old_memories_get_theirs(
    conn: Any, migrated: Any, embedder: Any, store: Any
) -> None:
    """A database from before the month token: its memories lack it and its full-text index
    does not cover it. Migrating backfills the token (the UTC month) and rebuilds the index,
    and a windowed full-text search then finds the old memory."""
    uid = fresh_user("backfill")
    t = datetime(2023, 5, 31, 21, 0, tzinfo=timezone(timedelta(hours=-5)))  # 1 June UTC
    text = "Adopted a greyhound called Biscuit"
    fact = Fact(
        id=f"{uid}-f",
        user_id=uid,
        t=t,
        text=text,
        valid_from=t,
        embedding=[float(x) for x in embedder.embed([text])[0]],
    )
    store.write(WriteBatch(user=User(id=uid, user_id=uid), facts=[fact]))
    spec = next(s for s in GRAPH_MODEL.indexes if s.name == FULLTEXT_INDEX)
    old = replace(spec, properties=tuple(p for p in spec.properties if p != "t_month"))
    conn.write("MATCH (m:Memory {user_id: $u}) REMOVE m.t_month", u=uid)
    conn.run_schema(ddl.drop_index(FULLTEXT_INDEX))
    conn.run_schema(ddl.render(old, conn.caps))
    conn.run_schema("CALL db.awaitIndexes(300)")
    notes: list[str] = []
    report = migrate(conn, dimension=embedder.dimension, progress=notes.append)
    assert report.rebuilt == [FULLTEXT_INDEX]
    assert any("rebuilding memory_text" in n for n in notes)
    rows = conn.read("MATCH (m:Memory {user_id: $u}) RETURN m.t_month AS month", u=uid)
    assert rows == [{"month": "m202306"}]
    june = TimeWindow(start=datetime(2023, 6, 1, tzinfo=UTC), end=datetime(2023, 7, 1, tzinfo=UTC))
    found = store.retrieve(
        RetrievalRequest(
            user_id=uid, query="greyhound", window=june, expand=[], signals=["fulltext"]
        )
    )
    assert [i.id for i in found.items] == [fact.id]
    may = TimeWindow(start=datetime(2023, 5, 1, tzinfo=UTC), end=datetime(2023, 6, 1, tzinfo=UTC))
    missed = store.retrieve(
        RetrievalRequest(
            user_id=uid, query="greyhound", window=may, expand=[], signals=["fulltext"]
        )
    )
    assert missed.items == []
    # and nothing more to do the next time
    assert not migrate(conn, dimension=embedder.dimension).changed
