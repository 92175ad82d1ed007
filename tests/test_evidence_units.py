"""Evidence scoring for turn units as pure code (graph/evidence.py), without Neo4j, and the
owners of each label read from the graph model (graph/writes.py)."""

from __future__ import annotations

import pytest

from graph.evidence import (
    DATED_BOOST,
    EVIDENCE_RRF_K,
    NEIGHBOUR_SHARE,
    Provenance,
    boost_dated,
    rank,
    spread_to_neighbours,
    vote,
)
from graph.writes import owner_of
from schema.errors import ConfigError


def _scores(rankings: dict[str, list[str]]) -> dict[tuple[str, str], float]:
    return {(s, i): 1.0 for s, ids in rankings.items() for i in ids}


def test_a_memory_votes_for_the_turns_it_came_from() -> None:
    rankings = {"vector": ["fact-1", "turn-9"]}
    prov = {"fact-1": Provenance("fact", ("turn-1", "turn-2"), "i moved to lisbon")}
    total, signals = vote(rankings, _scores(rankings), prov)
    assert total["turn-1"] == total["turn-2"] == pytest.approx(1 / (EVIDENCE_RRF_K + 1))
    assert total["turn-9"] == pytest.approx(1 / (EVIDENCE_RRF_K + 2))  # unknown id: a turn itself
    assert signals["turn-1"][0].via == "fact fact-1"
    assert signals["turn-9"][0].via is None


def test_one_statement_votes_once_per_turn_and_signal() -> None:
    rankings = {"vector": ["fact-1", "habit-1"], "fulltext": ["habit-1"]}
    same = "i run on thursdays"
    prov = {
        "fact-1": Provenance("fact", ("turn-1",), same),
        "habit-1": Provenance("procedure", ("turn-1",), same),
    }
    total, signals = vote(rankings, _scores(rankings), prov)
    # vector: the fact counted, the habit restating it did not; fulltext: the habit counted
    assert total["turn-1"] == pytest.approx(2 / (EVIDENCE_RRF_K + 1))
    assert [s.name for s in signals["turn-1"]] == ["vector", "fulltext"]


def test_neighbours_get_a_share_of_the_vote_and_dated_turns_a_boost() -> None:
    total = {"a": 1.0, "b": 0.5}
    signals: dict = {"a": [], "b": []}
    spread_to_neighbours(total, signals, {"a": ["b", "c"], "b": ["a"]})
    assert total["c"] == pytest.approx(NEIGHBOUR_SHARE * 1.0)
    assert total["b"] == pytest.approx(0.5 + NEIGHBOUR_SHARE * 1.0)
    assert total["a"] == pytest.approx(1.0 + NEIGHBOUR_SHARE * 0.5)  # from b's own vote
    before = total["c"]
    boost_dated(total, signals, ["c"])
    assert total["c"] == pytest.approx(before * (1 + DATED_BOOST))
    assert signals["c"][-1].name == "dated"


def test_rank_orders_by_score_and_drops_the_excluded() -> None:
    assert rank({"x": 0.1, "y": 0.3, "z": 0.2}, exclude={"y"}) == ["z", "x"]


def test_owners_come_from_the_graph_model() -> None:
    assert owner_of("Event") == ("Session", "HAS_EVENT", "session_id")
    assert owner_of("ProfileEntry") == ("CoreProfile", "HAS_ENTRY", "profile_id")
    with pytest.raises(ConfigError, match="no owner"):
        owner_of("Day")
