"""DDL rendering from the schema's index specs, for the current release (2026.x) and for the
5.26 LTS line, whose vector indexes take no filter properties and no ``CYPHER 25`` prefix."""

from __future__ import annotations

import re

import pytest

from graph.connection import Capabilities, capabilities_for
from graph.cypher import ddl
from schema.errors import UnsafeIdentifier
from schema.model import GRAPH_MODEL, IMAGE_VECTOR_INDEX, VECTOR_INDEX, IndexSpec
from schema.settings import DEFAULT_NEO4J_VERSION, LTS_NEO4J_VERSION

NEW = capabilities_for(DEFAULT_NEO4J_VERSION)
LTS = capabilities_for(LTS_NEO4J_VERSION)
CAPS = pytest.mark.parametrize("caps", [NEW, LTS], ids=["2026", "5.26"])


def _spec(name: str) -> IndexSpec:
    return next(i for i in GRAPH_MODEL.indexes if i.name == name)


# ----------------------------------------------------------------------------- capabilities
def test_capabilities_by_release() -> None:
    assert NEW.cypher25 and NEW.vector_search_clause and NEW.vector_index_filters
    assert NEW.search_in_list
    assert NEW.best_vector_path == "auto"
    assert not (LTS.cypher25 or LTS.vector_search_clause or LTS.vector_index_filters)
    assert not (LTS.search_in_list or LTS.fulltext_search_clause)
    assert LTS.best_vector_path == "prefilter"


@pytest.mark.parametrize(
    ("version", "search", "in_list", "fulltext_search", "cypher25"),
    [
        ("5.26.30", False, False, False, False),
        ("2025.05.0", False, False, False, False),
        ("2025.06.0", False, False, False, True),
        ("2025.12.1", False, False, False, True),
        ("2026.01.0", True, False, False, True),
        ("2026.05.3", True, False, False, True),
        ("2026.06.0", True, True, False, True),
        ("2026.08.1", True, True, False, True),
        ("2026.09.0", True, True, True, True),
    ],
)
def test_capability_thresholds(
    version: str, search: bool, in_list: bool, fulltext_search: bool, cypher25: bool
) -> None:
    caps = capabilities_for(version)
    assert caps.vector_search_clause is search
    assert caps.vector_index_filters is search
    assert caps.search_in_list is in_list
    assert caps.fulltext_search_clause is fulltext_search
    assert caps.cypher25 is cypher25


# ----------------------------------------------------------------------------- each kind
@CAPS
def test_unique_constraint(caps: Capabilities) -> None:
    out = ddl.render(_spec("turn_id"), caps)
    assert out == (
        "CREATE CONSTRAINT `turn_id` IF NOT EXISTS FOR (n:`Turn`) REQUIRE n.`id` IS UNIQUE"
    )


@CAPS
def test_composite_unique_constraint_is_parenthesised(caps: Capabilities) -> None:
    spec = IndexSpec("x_key", "unique", "Fact", ("user_id", "slot"))
    assert ddl.render(spec, caps).endswith("REQUIRE (n.`user_id`, n.`slot`) IS UNIQUE")


@CAPS
def test_range_index(caps: Capabilities) -> None:
    assert ddl.render(_spec("memory_user_t"), caps) == (
        "CREATE INDEX `memory_user_t` IF NOT EXISTS FOR (n:`Memory`) ON (n.`user_id`, n.`t`)"
    )
    assert ddl.render(_spec("fact_user"), caps) == (
        "CREATE INDEX `fact_user` IF NOT EXISTS FOR (n:`Fact`) ON (n.`user_id`)"
    )


@CAPS
def test_fulltext_index(caps: Capabilities) -> None:
    spec = _spec("memory_text")
    # the tenant token is what narrows Lucene to one user; text is what is searched
    assert {"text", "keywords", "tenant"} <= set(spec.properties)
    out = ddl.render(spec, caps)
    assert out.startswith("CREATE FULLTEXT INDEX `memory_text` IF NOT EXISTS FOR (n:`Memory`)")
    columns = ", ".join(f"n.`{p}`" for p in spec.properties)
    assert f"ON EACH [{columns}] OPTIONS" in out
    assert "`fulltext.analyzer`: 'english'" in out
    assert "CYPHER 25" not in out


def test_fulltext_default_analyzer() -> None:
    spec = IndexSpec("ft", "fulltext", "Fact", ("text",))
    assert "'standard-no-stop-words'" in ddl.render(spec, NEW)


def test_vector_index_2026_filters_inside_the_index() -> None:
    spec = _spec(VECTOR_INDEX)
    assert {"user_id", "t", "kind"} <= set(spec.filters)
    out = ddl.render(spec, NEW, dimension=384)
    assert out.startswith("CYPHER 25 CREATE VECTOR INDEX `memory_embedding` IF NOT EXISTS")
    filters = ", ".join(f"n.`{p}`" for p in spec.filters)
    assert f"FOR (n:`Memory`) ON n.`embedding` WITH [{filters}] OPTIONS" in out
    assert "`vector.dimensions`: 384" in out
    assert "`vector.similarity_function`: 'cosine'" in out
    assert "`vector.quantization.enabled`: false" in out
    assert out.count("{") == out.count("}")


def test_vector_index_5_26_has_no_filters_and_no_cypher25_prefix() -> None:
    out = ddl.render(_spec(VECTOR_INDEX), LTS, dimension=384)
    assert out.startswith("CREATE VECTOR INDEX `memory_embedding` IF NOT EXISTS")
    assert "CYPHER 25" not in out
    assert re.search(r"\bWITH\b", out) is None
    assert "ON n.`embedding` OPTIONS" in out
    assert "`vector.dimensions`: 384" in out
    assert out.count("{") == out.count("}")


@CAPS
def test_image_vector_index(caps: Capabilities) -> None:
    spec = _spec(IMAGE_VECTOR_INDEX)
    assert {"user_id", "t"} <= set(spec.filters)
    out = ddl.render(spec, caps, dimension=512)
    assert "FOR (n:`Turn`) ON n.`image_embedding`" in out
    assert "`vector.dimensions`: 512" in out
    if caps.vector_index_filters:
        assert "WITH [" + ", ".join(f"n.`{p}`" for p in spec.filters) + "] OPTIONS" in out
    else:
        assert " WITH " not in out and "CYPHER 25" not in out


@CAPS
@pytest.mark.parametrize("dimension", [None, 0, -3, 4097])
def test_vector_index_needs_a_sane_dimension(caps: Capabilities, dimension: int | None) -> None:
    with pytest.raises(ValueError, match="dimension"):
        ddl.render(_spec(VECTOR_INDEX), caps, dimension=dimension)


@CAPS
def test_every_spec_renders_idempotent_ddl(caps: Capabilities) -> None:
    for spec in GRAPH_MODEL.indexes:
        out = ddl.render(spec, caps, dimension=384)
        assert "IF NOT EXISTS" in out, spec.name
        assert f"`{spec.name}`" in out
        assert f"(n:`{spec.label}`)" in out
        if not caps.cypher25:
            assert "CYPHER 25" not in out


def test_unknown_kind_and_unsafe_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown index kind"):
        ddl.render(IndexSpec("x", "spatial", "Fact", ("id",)), NEW)  # type: ignore[arg-type]
    with pytest.raises(UnsafeIdentifier):
        ddl.render(IndexSpec("x", "range", "Fact`) DETACH DELETE (n", ("id",)), NEW)
    with pytest.raises(UnsafeIdentifier):
        ddl.render(IndexSpec("x", "range", "Fact", ("id` IS NULL //",)), NEW)
    with pytest.raises(ValueError, match="bad index name"):
        ddl.render(IndexSpec("x`; DROP", "range", "Fact", ("id",)), NEW)
    with pytest.raises(ValueError, match="bad index name"):
        ddl.drop_index("a b")
    assert ddl.drop_index("memory_embedding") == "DROP INDEX `memory_embedding` IF EXISTS"
