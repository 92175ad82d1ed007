"""Timeline analytics and the explorer on the real Neo4j: a seeded user whose facts change,
whose habits are replaced, with personality snapshots; counts checked against what was
written, time predicates against hand-computed answers, isolation against a second user."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from agent_helpers import T0, seed_timeline

from graph.analytics import Analytics
from schema.errors import ConfigError
from schema.retrieval import TimeWindow

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seeded(session_store: Any) -> tuple[str, dict[str, str]]:
    from agent_helpers import new_user

    uid = new_user("ana")
    other = new_user("other")
    ids = seed_timeline(session_store, uid)
    seed_timeline(session_store, other)  # the same life, another user: must never show up
    return uid, ids


@pytest.fixture(scope="module")
def an(conn: Any) -> Analytics:
    return Analytics(conn)


def test_activity_by_week_counts_what_was_written(an: Analytics, seeded: Any) -> None:
    uid, _ = seeded
    weeks = an.activity(uid, "week")
    assert [w.period for w in weeks] == [date(2024, 3, 4), date(2024, 3, 11), date(2024, 3, 18)]
    assert [w.turns for w in weeks] == [2, 2, 2]
    assert [w.sessions for w in weeks] == [1, 1, 1]
    assert [w.facts for w in weeks] == [1, 1, 0]
    months = an.activity(uid, "month")
    assert len(months) == 1 and months[0].turns == 6
    window = TimeWindow(start=T0 + timedelta(days=6), end=T0 + timedelta(days=13))
    assert [w.turns for w in an.activity(uid, "day", window)] == [2]


def test_fact_changes_say_what_superseded_what_and_when(an: Analytics, seeded: Any) -> None:
    uid, ids = seeded
    changes = an.fact_changes(uid)
    assert [(c.old_id, c.new_id) for c in changes] == [
        (ids["lisbon"], ids["denver"]),
        (ids["run"], ids["swim"]),
    ]
    assert changes[0].slot == "lives_in" and changes[0].held_days == 7.0
    assert changes[1].label == "Procedure"


def test_as_of_a_date_gives_what_was_true_then(an: Analytics, seeded: Any) -> None:
    uid, ids = seeded
    then = an.as_of(uid, T0 + timedelta(days=3))
    assert [f.id for f in then.facts] == [ids["lisbon"]]
    assert [p.id for p in then.procedures] == [ids["run"]]
    now = an.as_of(uid, T0 + timedelta(weeks=3))
    assert [f.id for f in now.facts] == [ids["denver"]]
    assert [p.id for p in now.procedures] == [ids["swim"]]


def test_before_after_between_and_duration(an: Analytics, seeded: Any) -> None:
    uid, ids = seeded
    from schema.nodes import MemoryKind

    before = an.between(uid, TimeWindow(end=T0 + timedelta(days=1)), [MemoryKind.TURN])
    after = an.between(uid, TimeWindow(start=T0 + timedelta(weeks=2)), [MemoryKind.TURN])
    assert {m.text for m in before} == {"I live in Lisbon.", "I run on Thursdays."}
    assert len(after) == 2
    d = an.duration(uid, ids["I live in Lisbon."], ids["Denver is sunny."])
    assert d["days"] == 14
    with pytest.raises(ConfigError):
        an.duration(uid, ids["lisbon"], "no-such-memory")


def test_personality_trajectory_and_drift(an: Analytics, seeded: Any) -> None:
    uid, ids = seeded
    points = an.personality(uid)
    assert [p.step for p in points] == [1, 2]
    assert points[1].turn_text == "I moved to Denver today."
    drift = an.drift(uid, TimeWindow(start=T0 + timedelta(days=1)))
    assert drift.trait == "openness" and drift.delta == pytest.approx(0.8)
    assert drift.turns[0].turn_id == ids["I moved to Denver today."]


def test_networkx_centrality_cooccurrence_communities(an: Analytics, seeded: Any) -> None:
    uid, _ = seeded
    central = an.central(uid)
    assert central[0].name.lower() == "denver"
    pairs = an.cooccurrence(uid)
    assert pairs[0].count == 3 and {pairs[0].a, pairs[0].b} == {"Denver", "denver"}
    groups = an.communities(uid)
    assert groups and "Denver" in groups[0].members


def test_explorer_is_bounded_and_counts_everything(an: Analytics, seeded: Any) -> None:
    uid, _ = seeded
    full = an.explore(uid)
    assert full.total == full.shown and full.shown >= 20
    # keyed as the explorer page keys the edges of an expanded node, so none is drawn twice
    assert all(e.id == f"{e.source}-{e.type}-{e.target}" for e in full.edges)
    turns = [n for n in full.nodes if n.label == "Turn"]
    assert len(turns) == 6 and all(n.t is not None and n.t.utcoffset() is not None for n in turns)
    timed = [n.t for n in full.nodes if n.t]
    assert timed == sorted(timed, reverse=True)  # newest first
    days = [n for n in full.nodes if n.label == "Day"]
    assert days and all(n.caption[:2] == "20" for n in days)  # a Day is captioned by its date
    assert all(len(n.caption) <= 60 for n in full.nodes)
    assert any(e.type == "DERIVED_FROM" for e in full.edges)
    small = an.explore(uid, labels=["Turn", "Fact"], limit=3)
    assert small.total == 8 and small.shown == 3
    assert all(n.label in ("Turn", "Fact") for n in small.nodes)
    ids = {n.id for n in small.nodes}
    assert all(e.source in ids and e.target in ids for e in small.edges)
    with pytest.raises(ConfigError):
        an.explore(uid, labels=["Turn", "Nope"])


def test_explorer_captions_long_text_and_shows_an_empty_user(
    an: Analytics, session_store: Any
) -> None:
    from agent_helpers import Said, new_user, seed_sessions

    uid = new_user("long")
    long = "I finally booked the flight to Reykjavik for the northern lights in March " * 2
    seed_sessions(session_store, uid, [[Said(T0, long.strip())]])
    view = an.explore(uid, labels=["Turn"])
    assert [n.caption for n in view.nodes] == [long[:57] + "..."]
    assert view.nodes[0].t == T0
    empty = an.explore(new_user("nobody"))
    assert (empty.total, empty.shown, empty.nodes, empty.edges) == (0, 0, [], [])


def test_node_detail_provenance_chain_neighbours(an: Analytics, seeded: Any) -> None:
    uid, ids = seeded
    d = an.detail(uid, ids["denver"], "Fact")
    assert [p.id for p in d.provenance] == [ids["I moved to Denver today."]]
    assert [n.id for n in d.supersession] == [ids["lisbon"], ids["denver"]]
    assert any(t == "SUPERSEDES" for _, t, _n in d.neighbours)
    with pytest.raises(ConfigError):
        an.detail(uid, ids["denver"], "Turn")  # wrong label: not found, said clearly


def test_nothing_of_another_user_appears(an: Analytics, seeded: Any) -> None:
    uid, _ = seeded
    view = an.explore(uid)
    assert all(n.props.get("user_id") == uid for n in view.nodes)
    assert an.labels(uid)["Turn"] == 6


# ------------------------------------------------------------------------- query plans
def _analytics_statements() -> dict[str, str]:
    """Every analytics and explorer statement, the windowed builders with both bounds."""
    from graph.analytics import EXPLORER_LABELS
    from graph.cypher import analytics as A

    out: dict[str, str] = {}
    for name, value in vars(A).items():
        if name.isupper() and isinstance(value, str) and "MATCH" in value:
            out[name] = value
        elif name.isupper() and callable(value):
            out[name] = value(True, True)
    labels = list(EXPLORER_LABELS)
    out["explorer_view"] = A.explorer_view(labels, True, True)
    out["count_by_label"] = A.count_by_label(labels)
    for builder in (A.node, A.provenance, A.supersession, A.neighbours):
        out[builder.__name__] = builder("Fact")
    return out


def _operators(plan: dict[str, Any], depth: int = 0) -> list[tuple[int, str, str]]:
    """(depth, operator without its runtime suffix, details) of a plan tree, root first."""
    here = (depth, plan["operatorType"].split("@")[0], str(plan.get("args", {}).get("Details", "")))
    return [here, *(o for c in plan.get("children", []) for o in _operators(c, depth + 1))]


def _plans(conn: Any) -> dict[str, list[tuple[int, str, str]]]:
    with conn.driver.session(database=conn.database) as session:
        return {
            name: _operators(session.run("EXPLAIN " + stmt).consume().plan)
            for name, stmt in _analytics_statements().items()
        }


def test_no_analytics_query_scans_every_node_or_edge(conn: Any, seeded: Any) -> None:
    """The planner's own word: no statement reads the whole graph (every user's nodes or
    every user's relationships of a type) to find one user's memories."""
    plans = _plans(conn)
    assert {"FACT_CHANGES", "ACTIVITY", "BETWEEN", "DURATION", "explorer_view"} <= set(plans)
    whole = ("AllNodesScan", "RelationshipTypeScan", "AllRelationshipsScan")
    found = {
        name: [op for _, op, _ in ops if any(w in op for w in whole)] for name, ops in plans.items()
    }
    assert not {name: ops for name, ops in found.items() if ops}


def test_fact_changes_start_from_the_users_own_nodes_by_label(conn: Any, seeded: Any) -> None:
    """What superseded what starts from a user_id index seek (or a label scan filtered by the
    user) on each label a SUPERSEDES edge leaves, then expands the edge: it never starts from
    the edges themselves."""
    from graph.cypher.analytics import SUPERSEDING_LABELS

    ops = _plans(conn)["FACT_CHANGES"]
    leaves = [
        (i, op, details)
        for i, (depth, op, details) in enumerate(ops)
        if i + 1 == len(ops) or ops[i + 1][0] <= depth
    ]
    starts = []
    for i, op, details in leaves:
        if op == "Argument":
            continue  # the input of a subquery branch, not a read
        if op == "NodeIndexSeek":
            assert "(user_id" in details and "user_id = $user_id" in details, details
        else:
            assert op == "NodeByLabelScan", (op, details)
            parent = next(o for o in reversed(ops[:i]) if o[0] == ops[i][0] - 1)
            assert parent[1] == "Filter" and "user_id = $user_id" in parent[2], parent
        starts.append(details.split(":", 1)[1].split("(", 1)[0].strip("` "))
    assert sorted(starts) == sorted(SUPERSEDING_LABELS)
    assert any(op.startswith("Expand") and "SUPERSEDES" in d for _, op, d in ops)
