"""The update stage against the real store: exchanges, fact supersession, consolidation
exactly once, explicit procedural/profile operations, and PEM snapshots; with the model-free
extractors and with LLM extractors driven by a scripted model returning JSON."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from agent_helpers import answer, ingest_sample, llm_router, run_agent, scripted

from agent.memory import build_extractors, heuristic_extractors
from agent.session import resolve_session
from agent.update import UpdateStage
from schema.nodes import Session, User
from schema.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2024, 2, 5, 18, 0, tzinfo=UTC)  # a Monday evening


def _user(uid: str) -> User:
    return User(id=uid, user_id=uid, name="Ana")


def _say(stage: UpdateStage, uid: str, text: str, at: datetime, reply: str = "I see.") -> Any:
    """One exchange, in the session a message at ``at`` belongs to (as the agent does)."""
    session, _ = resolve_session(stage.store, uid, at, stage.gap.total_seconds() / 60)
    return stage.record_exchange(_user(uid), session, text, at, reply, at + timedelta(seconds=30))


def _rows(conn: Any, query: str, **params: Any) -> list[dict[str, Any]]:
    return conn.read(query, **params)


def _count(conn: Any, query: str, **params: Any) -> int:
    return int(conn.read(query, **params)[0]["n"])


def _user_nodes(conn: Any, uid: str) -> int:
    return _count(conn, "MATCH (n) WHERE n.user_id = $u RETURN count(n) AS n", u=uid)


def _user_rels(conn: Any, uid: str) -> int:
    return _count(conn, "MATCH (a)-[r]->() WHERE a.user_id = $u RETURN count(r) AS n", u=uid)


# ------------------------------------------------------------------------------ exchanges
def test_record_exchange_stores_both_turns_with_next_chain_and_provenance(
    store: Any, conn: Any, user_id: str
) -> None:
    stage = UpdateStage(store, heuristic_extractors())
    r1 = _say(stage, user_id, "I live in Boston and I work as a nurse.", T0, "Nice to meet you!")
    turns = store.session_turns(user_id, r1.session_id)
    assert [(t.role, t.index) for t in turns] == [("user", 0), ("assistant", 1)]
    assert turns[0].text == "I live in Boston and I work as a nurse."
    assert turns[1].text == "Nice to meet you!"
    assert [t.id for t in turns] == r1.turn_ids
    assert turns[0].speaker == "Ana" and turns[1].speaker == "assistant"
    assert turns[0].embedding is None  # not returned by default, but stored:
    assert (
        _count(
            conn,
            "MATCH (t:Turn {user_id: $u}) WHERE t.embedding IS NOT NULL RETURN count(t) AS n",
            u=user_id,
        )
        == 2
    )
    in_session = _rows(
        conn,
        "MATCH (s:Session {id: $s, user_id: $u})-[:HAS_TURN]->(t:Turn) RETURN t.id AS id",
        s=r1.session_id,
        u=user_id,
    )
    assert {r["id"] for r in in_session} == set(r1.turn_ids)

    # a second exchange continues the same session and the NEXT chain
    r2 = _say(stage, user_id, "I just moved to Denver.", T0 + timedelta(minutes=10))
    assert r2.session_id == r1.session_id
    turns = store.session_turns(user_id, r1.session_id)
    assert [t.index for t in turns] == [0, 1, 2, 3]
    chain = _rows(
        conn,
        "MATCH (a:Turn {user_id: $u})-[:NEXT]->(b:Turn) RETURN a.index AS a, b.index AS b "
        "ORDER BY a",
        u=user_id,
    )
    assert [(r["a"], r["b"]) for r in chain] == [(0, 1), (1, 2), (2, 3)]

    # provenance: every fact DERIVED_FROM the user turn it came from (never the reply)
    assert r1.facts and r2.facts
    derived = _rows(
        conn,
        "MATCH (f:Fact {user_id: $u})-[:DERIVED_FROM]->(t:Turn) RETURN f.id AS f, t.id AS t",
        u=user_id,
    )
    by_fact = {r["f"]: r["t"] for r in derived}
    assert set(by_fact) == set(r1.facts) | set(r2.facts)
    assert all(by_fact[f] == r1.turn_ids[0] for f in r1.facts)
    assert all(by_fact[f] == r2.turn_ids[0] for f in r2.facts)


def test_fact_update_supersedes_the_old_fact(store: Any, conn: Any, user_id: str) -> None:
    stage = UpdateStage(store, heuristic_extractors())
    r1 = _say(stage, user_id, "I live in Boston with my dog.", T0)
    later = T0 + timedelta(minutes=20)
    r2 = _say(stage, user_id, "I just moved to Denver for a new start.", later)
    assert r2.supersessions == 1

    history = store.fact_history(user_id, "ana:lives_in")
    assert len(history) == 2
    old, new = history
    assert old.id in r1.facts and new.id in r2.facts
    assert old.status == "superseded" and old.valid_to == later
    assert new.status == "active" and new.valid_to is None
    assert "Boston" in old.text and "Denver" in new.text
    assert new.supersedes == [old.id]
    edge = _rows(
        conn,
        "MATCH (n:Fact {user_id: $u})-[s:SUPERSEDES]->(o:Fact) "
        "RETURN n.id AS new, o.id AS old, s.at AS at",
        u=user_id,
    )
    assert [(e["new"], e["old"]) for e in edge] == [(new.id, old.id)]
    assert [f.id for f in store.active_facts(user_id, "ana:lives_in")] == [new.id]


def test_the_agent_update_node_records_the_exchange(
    store: Any, settings: Settings, user_id: str
) -> None:
    stage = UpdateStage(store, heuristic_extractors(), gap_minutes=settings.session_gap_minutes)
    thread = f"{user_id}:t"
    first = run_agent(
        store=store,
        policy=scripted(answer("Hello Ana!")),
        settings=settings,
        user_id=user_id,
        question="Hi, I live in Lisbon now.",
        now=T0,
        update_stage=stage,
        thread=thread,
    )
    assert len(first["update"]["turn_ids"]) == 2
    second = run_agent(
        store=store,
        policy=scripted(answer("Lisbon, as you said.")),
        settings=settings,
        user_id=user_id,
        question="Where do I live?",
        now=T0 + timedelta(minutes=5),
        update_stage=stage,
        thread=thread,
    )
    assert second["update"]["session_id"] == first["update"]["session_id"]
    turns = store.session_turns(user_id, first["update"]["session_id"])
    assert [t.text for t in turns] == [
        "Hi, I live in Lisbon now.",
        "Hello Ana!",
        "Where do I live?",
        "Lisbon, as you said.",
    ]


def test_the_offline_label_is_no_keyword_of_the_reply(store: Any, conn: Any, user_id: str) -> None:
    """Every offline answer starts with '[offline policy]': as keywords it made 'policy' a
    topic of every chat without a model."""
    stage = UpdateStage(store, heuristic_extractors())
    r = _say(stage, user_id, "Where do I swim?", T0, "[offline policy] Lisbon harbour pool.")
    reply = store.session_turns(user_id, r.session_id)[1]
    assert {"lisbon", "harbour"} <= {k.lower() for k in reply.keywords}
    assert not {"offline", "policy"} & {k.lower() for k in reply.keywords}


def test_the_agent_names_the_user_as_stored_when_the_caller_gives_no_name(
    store: Any, embedder: Any, settings: Settings
) -> None:
    """`persona ask -u sam` without --name: the ingested name ("Sam") is who the prompt says
    the user is and who said the new turn, so a fact from it reads "Sam ...", not "user ..."."""
    uid = ingest_sample(store, embedder)
    policy = scripted(answer("Noted."))
    stage = UpdateStage(store, heuristic_extractors(), gap_minutes=settings.session_gap_minutes)
    state = run_agent(
        store=store,
        policy=policy,
        settings=settings,
        user_id=uid,
        question="I adopted a grey cat called Miso last night.",
        now=datetime(2025, 1, 10, 9, tzinfo=UTC),
        update_stage=stage,
    )
    first_prompt = "\n".join(str(m.content) for m in policy.calls[0]["messages"])
    assert "User: Sam" in first_prompt
    turns = store.session_turns(uid, state["update"]["session_id"])
    assert [t.speaker for t in turns] == ["Sam", "assistant"]
    cat = [f.text for f in store.active_facts(uid) if "Miso" in f.text]
    assert cat == ["Sam adopted a grey cat called Miso last night."]


# ------------------------------------------------------------------------------ consolidation
def test_a_session_is_consolidated_exactly_once(store: Any, conn: Any, user_id: str) -> None:
    stage = UpdateStage(store, heuristic_extractors())
    _say(stage, user_id, "I go running along the river on Thursday mornings.", T0)
    _say(stage, user_id, "My goal this year is to run a marathon.", T0 + timedelta(minutes=2))
    (session,) = store.sessions(user_id)
    assert session.consolidated_at is None

    first = stage.close_session(_user(user_id), session)
    assert first.nodes_created > 0
    (closed,) = store.sessions(user_id)
    assert closed.consolidated_at is not None
    events = _count(conn, "MATCH (e:Event {user_id: $u}) RETURN count(e) AS n", u=user_id)
    procedures = store.procedures(user_id)
    assert events >= 1 and len(procedures) == 2
    nodes, rels = _user_nodes(conn, user_id), _user_rels(conn, user_id)

    second = stage.close_session(_user(user_id), closed)
    assert (second.nodes_created, second.relationships_created, second.properties_set) == (0, 0, 0)
    assert (_user_nodes(conn, user_id), _user_rels(conn, user_id)) == (nodes, rels)
    assert store.sessions(user_id)[0].consolidated_at == closed.consolidated_at


def test_closing_with_a_stale_session_object_writes_nothing_new(
    store: Any, conn: Any, user_id: str
) -> None:
    stage = UpdateStage(store, heuristic_extractors())
    _say(stage, user_id, "I go running along the river on Thursday mornings.", T0)
    (session,) = store.sessions(user_id)
    stage.close_session(_user(user_id), session)
    nodes, rels = _user_nodes(conn, user_id), _user_rels(conn, user_id)
    again = stage.close_session(_user(user_id), session)  # the same, now stale, object
    assert (again.nodes_created, again.relationships_created) == (0, 0)
    assert (_user_nodes(conn, user_id), _user_rels(conn, user_id)) == (nodes, rels)


def test_stale_sessions_are_closed_by_the_idle_gap(store: Any, conn: Any, user_id: str) -> None:
    stage = UpdateStage(store, heuristic_extractors(), gap_minutes=60)
    a = _say(stage, user_id, "I adopted a cat called Miso.", T0)
    a2 = _say(stage, user_id, "Miso sleeps all day.", T0 + timedelta(minutes=50))
    assert a2.session_id == a.session_id and a2.closed_sessions == []
    assert store.sessions(user_id, unconsolidated_only=True)[0].id == a.session_id

    # more than 60 minutes after the last turn: a new session, and the old one is closed
    b = _say(stage, user_id, "I started learning the cello.", T0 + timedelta(hours=3))
    assert b.session_id != a.session_id
    assert b.closed_sessions == [a.session_id]
    by_id = {s.id: s for s in store.sessions(user_id)}
    assert by_id[a.session_id].consolidated_at is not None
    assert by_id[b.session_id].consolidated_at is None
    events_a = _count(
        conn,
        "MATCH (:Session {id: $s, user_id: $u})-[:HAS_EVENT]->(e:Event) RETURN count(e) AS n",
        s=a.session_id,
        u=user_id,
    )
    assert events_a >= 1

    # the next gap closes only the session still open
    c = _say(stage, user_id, "The cello lesson went well.", T0 + timedelta(hours=6))
    assert c.closed_sessions == [b.session_id]
    assert (
        _count(
            conn,
            "MATCH (:Session {id: $s, user_id: $u})-[:HAS_EVENT]->(e:Event) RETURN count(e) AS n",
            s=a.session_id,
            u=user_id,
        )
        == events_a
    )
    assert [s.id for s in store.sessions(user_id, unconsolidated_only=True)] == [c.session_id]


def test_ingest_consolidates_every_session_including_the_last(
    store: Any, embedder: Any, conn: Any, user_id: str
) -> None:
    ingest_sample(store, embedder, user_id)
    sessions = store.sessions(user_id)
    assert len(sessions) >= 3
    last = max(sessions, key=lambda s: s.start)
    assert all(s.consolidated_at is not None for s in sessions)
    assert last.consolidated_at == last.end
    assert (
        _count(
            conn,
            "MATCH (:Session {id: $s, user_id: $u})-[:HAS_EVENT]->(e:Event) RETURN count(e) AS n",
            s=last.id,
            u=user_id,
        )
        >= 1
    )
    # the model-free ingest makes no personality claims
    assert store.personality_history(user_id) == []
    # re-ingesting consolidates nothing again
    nodes, rels = _user_nodes(conn, user_id), _user_rels(conn, user_id)
    ingest_sample(store, embedder, user_id)
    assert (_user_nodes(conn, user_id), _user_rels(conn, user_id)) == (nodes, rels)
    assert {s.id: s.consolidated_at for s in store.sessions(user_id)} == {
        s.id: s.consolidated_at for s in sessions
    }


# ------------------------------------------------------------------------------ procedural/profile
def test_profile_and_habits_change_through_explicit_ops(
    store: Any, conn: Any, user_id: str
) -> None:
    stage = UpdateStage(store, heuristic_extractors())
    _say(stage, user_id, "I live in Boston near the harbour.", T0)
    _say(stage, user_id, "I go swimming on Thursday mornings.", T0 + timedelta(minutes=1))
    stage.close_session(_user(user_id), store.sessions(user_id)[0])

    (loc1,) = [e for e in store.profile(user_id) if e.key == "location"]
    assert (loc1.version, loc1.op, loc1.valid_to) == (1, "add", None)
    assert "Boston" in (loc1.value or "") and loc1.reason
    (habit1,) = store.procedures(user_id)
    assert habit1.type == "habit" and "Thursday" in habit1.text
    assert habit1.trigger and "thursday" in habit1.trigger.lower()
    assert habit1.reason and "swimming" in habit1.reason

    day2 = T0 + timedelta(days=1)
    _say(stage, user_id, "I just moved to Denver for work.", day2)  # closes nothing new
    _say(stage, user_id, "I go swimming on Saturday mornings now.", day2 + timedelta(minutes=1))
    open_session = store.sessions(user_id, unconsolidated_only=True)
    assert len(open_session) == 1
    stage.close_session(_user(user_id), open_session[0])

    versions = sorted(
        (e for e in store.profile(user_id) if e.key == "location"), key=lambda e: e.version
    )
    assert [e.version for e in versions] == [1, 2]
    old, new = versions
    assert old.id == loc1.id and old.value == loc1.value  # the old version is kept as it was
    assert old.valid_to is not None
    assert new.op == "update" and "Denver" in (new.value or "") and new.reason
    assert _rows(
        conn,
        "MATCH (n:ProfileEntry {user_id: $u})-[:SUPERSEDES]->(o:ProfileEntry) "
        "RETURN n.id AS new, o.id AS old",
        u=user_id,
    ) == [{"new": new.id, "old": old.id}]

    everything = {p.id: p for p in store.procedures(user_id, active_only=False)}
    assert everything[habit1.id].status == "retired"
    assert everything[habit1.id].text == habit1.text  # not rewritten
    assert (everything[habit1.id].reason or "").startswith("updated:")
    (active,) = store.procedures(user_id)
    assert "Saturday" in active.text and active.reason
    assert _rows(
        conn,
        "MATCH (n:Procedure {user_id: $u})-[:SUPERSEDES]->(o:Procedure) "
        "RETURN n.id AS new, o.id AS old",
        u=user_id,
    ) == [{"new": active.id, "old": habit1.id}]


# ------------------------------------------------------------------------------ LLM extractors
def _facts_json(human: str) -> dict[str, Any]:
    message = human.split("Message from", 1)[1]
    if "Boston" in message:
        return {
            "keep": True,
            "reason": "where she lives",
            "facts": [
                {"statement": "Ana lives in Boston.", "slot": "lives_in", "keywords": ["Boston"]}
            ],
        }
    if "Denver" in message:
        old = re.findall(r"- \[(fact-[0-9a-f]+)\] Ana lives in Boston", human)
        return {
            "keep": True,
            "facts": [
                {
                    "statement": "Ana lives in Denver.",
                    "slot": "lives_in",
                    "keywords": ["Denver"],
                    "supersedes": old,
                }
            ],
        }
    return {"keep": False, "reason": "small talk", "facts": []}


def _ops_json(human: str) -> dict[str, Any]:
    if "Habits and goals:\n(none)" in human:
        return {
            "ops": [
                {
                    "op": "add",
                    "target": "profile",
                    "key": "occupation",
                    "value": "nurse",
                    "reason": "Ana said she works as a nurse",
                },
                {
                    "op": "add",
                    "target": "procedure",
                    "value": "Ana swims every Monday.",
                    "type": "habit",
                    "trigger": "every Monday",
                    "reason": "Ana said she swims every Monday",
                },
            ]
        }
    (pid,) = re.findall(r"- \[(procedure-[0-9a-f]+)\] \(habit\)", human)
    return {
        "ops": [
            {
                "op": "update",
                "target": "procedure",
                "id": pid,
                "value": "Ana swims every Tuesday.",
                "trigger": "every Tuesday",
                "reason": "the pool moved her lane to Tuesdays",
            },
            {
                "op": "update",
                "target": "profile",
                "key": "occupation",
                "value": "teacher",
                "reason": "Ana retrained as a teacher",
            },
        ]
    }


def _delete_ops_json(human: str) -> dict[str, Any]:
    if "Core profile:\n(empty)" in human:
        return {
            "ops": [
                {
                    "op": "add",
                    "target": "profile",
                    "key": "occupation",
                    "value": "nurse",
                    "reason": "Ana said she works as a nurse",
                }
            ]
        }
    return {
        "ops": [
            {"op": "delete", "target": "profile", "key": "occupation", "reason": "Ana quit her job"}
        ]
    }


def _personality_json(human: str) -> dict[str, Any]:
    return {"openness": 5, "neuroticism": 3}


def _llm_stage(store: Any) -> tuple[UpdateStage, Any]:
    model = scripted(
        default=llm_router(facts=_facts_json, personality=_personality_json, ops=_ops_json)
    )
    return UpdateStage(store, build_extractors("llm", model)), model


def test_llm_extractors_supersede_facts_and_apply_explicit_ops(
    store: Any, conn: Any, user_id: str
) -> None:
    stage, model = _llm_stage(store)
    r1 = _say(stage, user_id, "I live in Boston and I swim every Monday.", T0)
    stage.close_session(_user(user_id), store.sessions(user_id)[0])
    r2 = _say(stage, user_id, "Big news: I moved to Denver!", T0 + timedelta(days=2))
    assert r2.supersessions == 1
    stage.close_session(_user(user_id), store.sessions(user_id, unconsolidated_only=True)[0])

    history = store.fact_history(user_id, "ana:lives_in")
    assert [(f.text, f.status, f.source) for f in history] == [
        ("Ana lives in Boston.", "superseded", "llm"),
        ("Ana lives in Denver.", "active", "llm"),
    ]
    assert history[0].valid_to == T0 + timedelta(days=2)
    assert history[0].id in r1.facts and history[1].id in r2.facts

    occupation = sorted(
        (e for e in store.profile(user_id) if e.key == "occupation"), key=lambda e: e.version
    )
    assert [(e.version, e.op, e.value) for e in occupation] == [
        (1, "add", "nurse"),
        (2, "update", "teacher"),
    ]
    assert occupation[0].valid_to is not None and occupation[1].valid_to is None
    assert occupation[0].reason == "Ana said she works as a nurse"
    assert occupation[1].reason == "Ana retrained as a teacher"
    procs = {p.text: p for p in store.procedures(user_id, active_only=False)}
    assert procs["Ana swims every Monday."].status == "retired"
    assert procs["Ana swims every Tuesday."].status == "active"
    assert procs["Ana swims every Tuesday."].reason == "the pool moved her lane to Tuesdays"
    assert procs["Ana swims every Tuesday."].type == "habit"  # kept from the old version
    assert (
        _count(
            conn,
            "MATCH (:Procedure {user_id: $u, text: 'Ana swims every Tuesday.'})-[:SUPERSEDES]->"
            "(:Procedure {user_id: $u, text: 'Ana swims every Monday.'}) RETURN count(*) AS n",
            u=user_id,
        )
        == 1
    )
    # every extraction prompt went to the model; none failed over to the heuristics
    assert stage.extractors.facts.failures.count == 0  # type: ignore[attr-defined]
    assert stage.extractors.updater.failures.count == 0  # type: ignore[attr-defined]
    assert len(model.calls) >= 6


def test_llm_profile_delete_is_a_new_version_and_the_agent_still_runs(
    store: Any, settings: Settings, user_id: str
) -> None:
    model = scripted(default=llm_router(ops=_delete_ops_json))
    stage = UpdateStage(store, build_extractors("llm", model))
    _say(stage, user_id, "I work as a nurse at the clinic.", T0)
    stage.close_session(_user(user_id), store.sessions(user_id)[0])
    _say(stage, user_id, "I quit my job today.", T0 + timedelta(days=1))
    stage.close_session(_user(user_id), store.sessions(user_id, unconsolidated_only=True)[0])

    occupation = sorted(
        (e for e in store.profile(user_id) if e.key == "occupation"), key=lambda e: e.version
    )
    assert [(e.version, e.op, e.value) for e in occupation] == [
        (1, "add", "nurse"),
        (2, "delete", None),
    ]
    assert occupation[0].valid_to is not None
    assert occupation[1].reason == "Ana quit her job"
    state = run_agent(
        store=store,
        policy=scripted(answer("You told me you quit.")),
        settings=settings,
        user_id=user_id,
        question="What is my job?",
        now=T0 + timedelta(days=2),
    )
    assert state["answer"] == "You told me you quit."


def test_pem_snapshots_are_chained_and_derived_from_the_evidence_turn(
    store: Any, conn: Any, user_id: str
) -> None:
    stage, _ = _llm_stage(store)
    r1 = _say(stage, user_id, "I love trying strange new foods!", T0)
    r2 = _say(stage, user_id, "Yesterday I tried durian ice cream.", T0 + timedelta(minutes=5))
    assert r1.snapshot is not None and r2.snapshot is not None
    history = store.personality_history(user_id)
    assert [s.step for s in history] == [1, 2]
    s1, s2 = history
    w0 = 0.1 + 0.4 * (math.cos(0.0) + 1) / 2
    w1 = 0.1 + 0.4 * (math.cos(math.pi / 50) + 1) / 2
    assert s1.weight == pytest.approx(w0, abs=1e-9)
    assert s1.openness == pytest.approx(3.0 + w0 * 2.0, abs=1e-9)
    assert s1.neuroticism == pytest.approx(3.0, abs=1e-9)  # observed 3 from 3 stays 3
    assert (s1.conscientiousness, s1.extraversion, s1.agreeableness) == (3.0, 3.0, 3.0)
    assert s1.observed == [5, None, None, None, 3]
    assert s2.weight == pytest.approx(w1, abs=1e-9)
    assert s2.openness == pytest.approx((1 - w1) * s1.openness + w1 * 5, abs=1e-9)
    assert (s1.turn_id, s2.turn_id) == (r1.turn_ids[0], r2.turn_ids[0])
    assert _rows(
        conn,
        "MATCH (a:PersonalitySnapshot {user_id: $u})-[:NEXT]->(b:PersonalitySnapshot) "
        "RETURN a.step AS a, b.step AS b",
        u=user_id,
    ) == [{"a": 1, "b": 2}]
    derived = _rows(
        conn,
        "MATCH (s:PersonalitySnapshot {user_id: $u})-[:DERIVED_FROM]->(t:Turn) "
        "RETURN s.step AS step, t.id AS turn, t.role AS role ORDER BY step",
        u=user_id,
    )
    assert derived == [
        {"step": 1, "turn": r1.turn_ids[0], "role": "user"},
        {"step": 2, "turn": r2.turn_ids[0], "role": "user"},
    ]
    assert (
        _count(
            conn,
            "MATCH (:User {id: $u})-[:HAS_SNAPSHOT]->(s:PersonalitySnapshot) RETURN count(s) AS n",
            u=user_id,
        )
        == 2
    )


def test_model_free_mode_writes_no_personality_snapshot(
    store: Any, conn: Any, user_id: str
) -> None:
    stage = UpdateStage(store, heuristic_extractors())
    for i, text in enumerate(
        ["I'm so excited, I love meeting new people at parties!", "I always plan every detail."]
    ):
        report = _say(stage, user_id, text, T0 + timedelta(minutes=i))
        assert report.snapshot is None
    stage.close_session(_user(user_id), store.sessions(user_id)[0])
    assert store.personality_history(user_id) == []
    assert (
        _count(conn, "MATCH (s:PersonalitySnapshot {user_id: $u}) RETURN count(s) AS n", u=user_id)
        == 0
    )


def test_session_model_round_trip(store: Any, user_id: str) -> None:
    """The session the stage opens is the one resolve_session continues."""
    stage = UpdateStage(store, heuristic_extractors(), gap_minutes=30)
    r = _say(stage, user_id, "Testing the session.", T0)
    session, is_new = resolve_session(store, user_id, T0 + timedelta(minutes=10), 30)
    assert not is_new and isinstance(session, Session) and session.id == r.session_id
    _, is_new = resolve_session(store, user_id, T0 + timedelta(minutes=45), 30)
    assert is_new


def _location_ops_json(human: str) -> dict[str, Any]:
    if "Core profile:\n(empty)" not in human:
        return {"ops": []}
    return {
        "ops": [
            {
                "op": "add",
                "target": "profile",
                "key": key,
                "value": value,
                "reason": "she told me",  # an LLM's reason names no fact
                "evidence": [0],
            }
            for key, value in (("location", "Boston"), ("name", "Ana"))
        ]
    }


@pytest.mark.integration
def test_forgetting_a_fact_takes_the_llm_profile_entry_said_with_it(
    store: Any, conn: Any, user_id: str
) -> None:
    """The LLM updater's profile copy of a fact names no fact in its reason; it was said in
    the fact's turn and shares its words, so forgetting the fact takes it (not the name)."""
    from graph.forget import apply_forget, plan_forget
    from schema.forget import ForgetScope

    model = scripted(
        default=llm_router(facts=_facts_json, personality=_personality_json, ops=_location_ops_json)
    )
    stage = UpdateStage(store, build_extractors("llm", model))
    _say(stage, user_id, "I'm Ana and I live in Boston.", T0)
    stage.close_session(_user(user_id), store.sessions(user_id)[0])
    assert {(e.key, e.value) for e in store.profile(user_id)} == {
        ("location", "Boston"),
        ("name", "Ana"),
    }
    (fact,) = store.fact_history(user_id, "ana:lives_in")
    plan = plan_forget(conn, ForgetScope(user_id=user_id, memory_id=fact.id))
    assert [i.text for i in plan.remove if i.label == "ProfileEntry"] == ["location: Boston"]
    apply_forget(conn, plan)
    assert [(e.key, e.value) for e in store.profile(user_id)] == [("name", "Ana")]
