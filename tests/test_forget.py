"""Forgetting on the real Neo4j: a plan previews everything that goes (derived memories
included) and changes nothing; applying it removes exactly that, makes a superseded version
current again, leaves no node of the user without its source, never touches another user,
and re-applying removes nothing new."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from agent_helpers import T0, new_user, raw_counts, seed_timeline

from graph.forget import apply_forget, plan_forget
from schema.errors import ConfigError
from schema.forget import ForgetScope
from schema.retrieval import RetrievalRequest, TimeWindow

pytestmark = pytest.mark.integration


@pytest.fixture
def pair(session_store: Any) -> tuple[str, dict[str, str], str]:
    uid, other = new_user("fa"), new_user("fb")
    ids = seed_timeline(session_store, uid)
    seed_timeline(session_store, other)
    return uid, ids, other


def _orphans(conn: Any, uid: str) -> int:
    """Derived nodes whose provenance turns are gone (there must be none)."""
    return conn.read(
        "MATCH (n) WHERE n.user_id = $u AND (n:Fact OR n:Event OR n:Procedure) "
        "AND size(coalesce(n.turn_ids, [])) > 0 AND NOT (n)-[:DERIVED_FROM]->(:Turn) "
        "RETURN count(n) AS n",
        u=uid,
    )[0]["n"]


def test_a_plan_changes_nothing(conn: Any, pair: Any) -> None:
    uid, _, _ = pair
    before = raw_counts(conn, uid)
    plan = plan_forget(conn, ForgetScope(user_id=uid, everything=True))
    assert raw_counts(conn, uid) == before
    nodes = {k: v for k, v in before.items() if not k.startswith("-")}
    assert plan.counts() == dict(sorted(nodes.items()))


def test_forgetting_a_turn_takes_what_was_derived_from_it(
    conn: Any, pair: Any, session_store: Any
) -> None:
    uid, ids, other = pair
    other_before = raw_counts(conn, other)
    turn = ids["I moved to Denver today."]
    plan = plan_forget(conn, ForgetScope(user_id=uid, memory_id=turn))
    gone = {i.id for i in plan.remove}
    assert turn in gone
    assert ids["denver"] in gone  # the fact it gave
    assert any(i.label == "PersonalitySnapshot" for i in plan.remove)  # its evidence is gone
    assert [i.id for i in plan.reactivate] == [ids["lisbon"]]  # Lisbon holds again
    removed = apply_forget(conn, plan)
    assert removed["Turn"] == 1 and removed["Fact"] == 1
    facts = {f.id: f for f in session_store.active_facts(uid)}
    assert ids["lisbon"] in facts and facts[ids["lisbon"]].valid_to is None
    assert _orphans(conn, uid) == 0
    assert raw_counts(conn, other) == other_before  # another user's identical life: untouched
    hits = session_store.retrieve(RetrievalRequest(user_id=uid, query="moved to Denver today"))
    assert turn not in {m.id for m in hits.items}
    again = plan_forget(conn, ForgetScope(user_id=uid, memory_id=ids["I live in Lisbon."]))
    assert ids["lisbon"] in {i.id for i in again.remove}


def test_forgetting_a_session_and_a_time_range(conn: Any, pair: Any, session_store: Any) -> None:
    uid, ids, _ = pair
    sessions = session_store.sessions(uid)
    plan = plan_forget(conn, ForgetScope(user_id=uid, session_id=sessions[0].id))
    labels = plan.counts()
    assert labels["Turn"] == 2 and labels["Session"] == 1 and labels["Fact"] == 1
    apply_forget(conn, plan)
    assert [s.id for s in session_store.sessions(uid)] == [s.id for s in sessions[1:]]
    window = TimeWindow(start=T0 + timedelta(weeks=2), end=T0 + timedelta(weeks=3))
    plan = plan_forget(conn, ForgetScope(user_id=uid, window=window))
    assert plan.counts()["Turn"] == 2 and ids["swim"] in {i.id for i in plan.remove}
    apply_forget(conn, plan)
    assert _orphans(conn, uid) == 0
    assert apply_forget(conn, plan) == {}  # re-applying: nothing left to remove


def test_forgetting_the_whole_user(conn: Any, pair: Any) -> None:
    uid, _, other = pair
    other_before = raw_counts(conn, other)
    plan = plan_forget(conn, ForgetScope(user_id=uid, everything=True))
    apply_forget(conn, plan)
    assert raw_counts(conn, uid) == {}
    assert raw_counts(conn, other) == other_before


def test_bad_scopes_are_named(conn: Any, pair: Any) -> None:
    uid, _, _ = pair
    with pytest.raises(ValueError):
        ForgetScope(user_id=uid)  # nothing chosen
    with pytest.raises(ValueError):
        ForgetScope(user_id=uid, session_id="s", memory_id="m")  # two at once
    with pytest.raises(ConfigError) as exc:
        plan_forget(conn, ForgetScope(user_id=uid, memory_id="no-such"))
    assert "no memory 'no-such'" in exc.value.message
    with pytest.raises(ConfigError):
        plan_forget(conn, ForgetScope(user_id=uid, session_id="no-such"))
