"""Export to networkx: the whole user is exactly the user's subgraph; a time slice holds only
memories inside the window; no node of another user ever appears."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import networkx as nx
import pytest
from conftest import fresh_user, raw_snapshot

from graph.export import to_networkx
from schema.model import ALLOWED_RELS
from schema.retrieval import TimeWindow

pytestmark = pytest.mark.integration

MEMORY_LABELS = {"Turn", "Event", "Fact", "Procedure"}
SPRING = TimeWindow(start=datetime(2024, 3, 1, tzinfo=UTC), end=datetime(2024, 6, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def neighbour(second_sample_user: str) -> str:
    """Another user with the same conversation: same texts, days, topics and entities."""
    return second_sample_user


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_whole_user_export_is_the_users_subgraph(
    conn: Any, sample_user: str, neighbour: str
) -> None:
    g = to_networkx(conn, sample_user)
    snap = raw_snapshot(conn, sample_user)
    assert isinstance(g, nx.MultiDiGraph)
    assert set(g.nodes) == set(snap["nodes"])
    for node_id, data in g.nodes(data=True):
        labels, props = snap["nodes"][node_id]
        assert sorted(data["labels"]) == list(labels)
        assert data["user_id"] == sample_user
        assert "embedding" not in data and "image_embedding" not in data
        assert data["id"] == props["id"]
    edges = sorted((u, t, v) for u, v, t in g.edges(keys=True))
    expected = sorted((src, typ, dst) for src, typ, dst, _owner, _p in snap["rels"])
    assert edges == expected
    assert {t for _, _, t in g.edges(keys=True)} <= ALLOWED_RELS
    assert g.graph["user_id"] == sample_user
    other = set(raw_snapshot(conn, neighbour)["nodes"])
    assert other and not (set(g.nodes) & other)


def test_time_slice_holds_only_memories_in_the_window(
    conn: Any, sample_user: str, neighbour: str
) -> None:
    whole = to_networkx(conn, sample_user)
    g = to_networkx(conn, sample_user, SPRING)
    assert g.graph["window"] == SPRING.describe()
    memories = [(n, d) for n, d in g.nodes(data=True) if MEMORY_LABELS & set(d["labels"])]
    assert memories, "the sample has memories in spring"
    for node_id, data in memories:
        t = _when(data["t"])
        assert SPRING.start <= t < SPRING.end, (node_id, data["t"])  # type: ignore[operator]
    # ... and every memory of the whole graph inside the window is in the slice
    inside = {
        n
        for n, d in whole.nodes(data=True)
        if MEMORY_LABELS & set(d["labels"]) and SPRING.contains(_when(d["t"]))
    }
    assert inside == {n for n, _ in memories}
    for _, data in g.nodes(data=True):
        assert data["user_id"] == sample_user
        if "Session" in data["labels"]:
            assert SPRING.contains(_when(data["start"]))
    # the slice is a subgraph of the whole export
    assert set(g.nodes) <= set(whole.nodes)
    for u, v, k in g.edges(keys=True):
        assert whole.has_edge(u, v, key=k)
    other = set(raw_snapshot(conn, neighbour)["nodes"])
    assert not (set(g.nodes) & other)


def test_time_slice_keeps_the_context_of_its_memories(conn: Any, sample_user: str) -> None:
    g = to_networkx(conn, sample_user, SPRING)
    labels = {n: set(d["labels"]) for n, d in g.nodes(data=True)}
    turns = [n for n, lbl in labels.items() if "Turn" in lbl]
    assert turns
    for turn in turns:
        kinds = {(k, "Day" in labels[v]) for _, v, k in g.out_edges(turn, keys=True)}
        assert ("ON", True) in kinds, "each turn keeps its day"
        owners = [u for u, _, k in g.in_edges(turn, keys=True) if k == "HAS_TURN"]
        assert len(owners) == 1 and "Session" in labels[owners[0]]
    assert any("User" in lbl for lbl in labels.values())
    assert any("Year" in lbl for lbl in labels.values())


@pytest.mark.parametrize(
    "window",
    [
        TimeWindow(start=datetime(2024, 7, 1, tzinfo=UTC)),
        TimeWindow(end=datetime(2024, 2, 1, tzinfo=UTC)),
        TimeWindow(
            start=datetime(2024, 4, 16, 21, 11, tzinfo=timezone(timedelta(hours=-4))),
            end=datetime(2024, 4, 17, 12, 0, tzinfo=timezone(timedelta(hours=10))),
        ),
    ],
    ids=["open-end", "open-start", "minutes-across-zones"],
)
def test_slices_with_open_bounds_and_zones(conn: Any, sample_user: str, window: TimeWindow) -> None:
    g = to_networkx(conn, sample_user, window)
    mems = [d for _, d in g.nodes(data=True) if MEMORY_LABELS & set(d["labels"])]
    assert mems
    for d in mems:
        assert window.contains(_when(d["t"])), d["t"]


def test_unknown_user_exports_an_empty_graph(conn: Any, migrated: Any) -> None:
    g = to_networkx(conn, fresh_user("nobody"))
    assert g.number_of_nodes() == 0 and g.number_of_edges() == 0
