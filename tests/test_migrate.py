"""Migrations against the real server: idempotent, match the schema, refuse a dimension change."""

from __future__ import annotations

from typing import Any

import pytest

from graph.cypher import ddl
from graph.migrate import existing_indexes, migrate
from schema.errors import DimensionMismatch, StoreError
from schema.model import GRAPH_MODEL, IMAGE_VECTOR_INDEX, VECTOR_INDEX

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
