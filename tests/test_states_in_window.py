"""A window holds what was said in it AND the states true during it: where the user lived in
March is the move they mentioned in January (a fact on a slot, valid until a newer fact on
the slot replaced it). Ingested through the normal path into the real Neo4j."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import said_session

from pipelines.formats import LoadedConversation
from pipelines.ingest import ingest_conversation
from schema.nodes import MemoryKind
from schema.records import ConversationRecord
from schema.retrieval import RetrievalRequest, TimeWindow

pytestmark = pytest.mark.integration

MARCH = TimeWindow(start=datetime(2024, 3, 1, tzinfo=UTC), end=datetime(2024, 4, 1, tzinfo=UTC))
AUGUST = TimeWindow(start=datetime(2024, 8, 1, tzinfo=UTC), end=datetime(2024, 9, 1, tzinfo=UTC))


@pytest.fixture
def ana(store: Any, embedder: Any, user_id: str) -> str:
    record = ConversationRecord(
        sessions=[
            said_session("jan", datetime(2024, 1, 10, 9, tzinfo=UTC), "I just moved to Boston."),
            said_session(
                "mar",
                datetime(2024, 3, 12, 9, tzinfo=UTC),
                "I had a dentist appointment today, it went fine.",
                "The weather turned cold again.",
            ),
            said_session("jul", datetime(2024, 7, 2, 9, tzinfo=UTC), "I just moved to Denver."),
            said_session("aug", datetime(2024, 8, 20, 9, tzinfo=UTC), "I cooked pasta for lunch."),
        ]
    )
    conv = LoadedConversation(user_id, "Ana", record, "test", Path("."))
    ingest_conversation(conv, store=store, embedder=embedder)
    return user_id


def _ask(store: Any, uid: str, window: TimeWindow, **extra: Any) -> Any:
    return store.retrieve(
        RetrievalRequest(
            user_id=uid,
            query="Where did Ana live?",
            keywords=["live", "moved"],
            window=window,
            k=5,
            **extra,
        )
    )


def test_a_fact_said_before_the_window_but_true_during_it_is_in_it(store: Any, ana: str) -> None:
    facts = {i.text: i for i in _ask(store, ana, MARCH).items if i.kind == MemoryKind.FACT}
    boston = [f for text, f in facts.items() if "Boston" in text]
    assert boston, facts
    assert boston[0].why.true_in_window
    assert "true during it" in boston[0].why.describe()
    # Denver was said after March: it was not yet true then
    assert not any("Denver" in text for text in facts)


def test_a_replaced_state_leaves_the_window_after_its_end(store: Any, ana: str) -> None:
    items = _ask(store, ana, AUGUST).items
    texts = [i.text for i in items if i.kind == MemoryKind.FACT]
    assert any("Denver" in t for t in texts), texts
    assert not any("Boston" in t for t in texts), texts  # valid until July only


def test_turn_units_return_the_turn_the_true_fact_came_from(store: Any, ana: str) -> None:
    items = _ask(store, ana, MARCH, unit="turn").items
    outside = [i for i in items if not MARCH.contains(i.t)]
    assert [i.text for i in outside] == ["I just moved to Boston."]
    assert outside[0].why.true_in_window
    assert all(i.why.true_in_window is False for i in items if MARCH.contains(i.t))


def test_said_only_keeps_the_old_strict_window(store: Any, ana: str) -> None:
    for unit in ("memory", "turn"):
        items = _ask(store, ana, MARCH, unit=unit, states_in_window=False).items
        assert all(MARCH.contains(i.t) for i in items)
        assert not any("Boston" in i.text for i in items)


def test_a_window_with_an_end_alone_adds_nothing_said_after_it(store: Any, ana: str) -> None:
    before_july = TimeWindow(end=datetime(2024, 7, 1, tzinfo=UTC))
    items = _ask(store, ana, before_july).items
    assert all(before_july.contains(i.t) for i in items)
    assert any("Boston" in i.text for i in items)


def test_forgetting_the_middle_of_a_chain_hands_the_old_state_to_the_later_one(
    store: Any, conn: Any, embedder: Any, user_id: str
) -> None:
    """Hamburg -> Munich -> Vienna, Munich forgotten: Hamburg is replaced by Vienna (when
    Vienna replaced Munich), not current again beside it."""
    from graph.forget import apply_forget, plan_forget
    from schema.forget import ForgetScope

    record = ConversationRecord(
        sessions=[
            said_session("a", datetime(2023, 1, 10, 9, tzinfo=UTC), "I live in Hamburg now."),
            said_session("b", datetime(2023, 6, 10, 9, tzinfo=UTC), "I just moved to Munich."),
            said_session("c", datetime(2024, 1, 10, 9, tzinfo=UTC), "I just moved to Vienna."),
        ]
    )
    conv = LoadedConversation(user_id, "Ana", record, "test", Path("."))
    ingest_conversation(conv, store=store, embedder=embedder)
    (munich,) = store.session_turns(user_id, _sid(store, user_id, "b"))
    plan = plan_forget(conn, ForgetScope(user_id=user_id, memory_id=munich.id))
    assert not plan.reactivate
    (bridge,) = [b for b in plan.bridges if b.old.label == "Fact"]
    assert "Hamburg" in bridge.old.text and "Vienna" in bridge.new_text
    # the profile's location entry follows the same chain
    assert {b.old.label for b in plan.bridges} == {"Fact", "ProfileEntry"}
    assert all("Vienna" in b.new_text for b in plan.bridges)  # the profile's too
    apply_forget(conn, plan)
    rows = conn.read(
        "MATCH (f:Fact {user_id: $u}) WHERE f.slot IS NOT NULL "
        "OPTIONAL MATCH (n:Fact)-[s:SUPERSEDES]->(f) "
        "RETURN f.text AS text, f.status AS status, f.valid_to AS valid_to, n.text AS by",
        u=user_id,
    )
    by_text = {r["text"]: r for r in rows}
    hamburg = next(r for t, r in by_text.items() if "Hamburg" in t)
    assert hamburg["status"] == "superseded" and "Vienna" in hamburg["by"]
    assert hamburg["valid_to"].to_native() == datetime(2024, 1, 10, 9, tzinfo=UTC)
    assert not any("Munich" in t for t in by_text)
    # the windowed question follows the repaired chain
    in_march_2024 = TimeWindow(
        start=datetime(2024, 3, 1, tzinfo=UTC), end=datetime(2024, 4, 1, tzinfo=UTC)
    )
    texts = [i.text for i in _ask(store, user_id, in_march_2024).items]
    assert any("Vienna" in t for t in texts) and not any("Hamburg" in t for t in texts)


def _sid(store: Any, uid: str, source: str) -> str:
    return next(s.id for s in store.sessions(uid) if s.source_id == source)


def _history(store: Any, conn: Any, uid: str) -> list[tuple[str, str | None, str | None]]:
    """The lives_in chain as (place, valid_to ISO date, replaced by), in said order, and
    the profile's location versions the same way."""
    rows = conn.read(
        "MATCH (f:Fact|ProfileEntry {user_id: $u}) WHERE f.slot = 'ana:lives_in' OR "
        "f.key = 'location' OPTIONAL MATCH (n)-[:SUPERSEDES]->(f) "
        "RETURN labels(f)[0] AS label, coalesce(f.text, f.value) AS text, "
        "toString(date(f.valid_to)) AS until, coalesce(n.text, n.value) AS by "
        "ORDER BY label, coalesce(f.t, f.valid_from)",
        u=uid,
    )
    place = re.compile(r"Hamburg|Munich|Vienna")

    def name(text: str | None) -> str | None:
        found = place.search(text or "")
        return found.group(0) if found else None

    return [(f"{r['label']}:{name(r['text'])}", r["until"], name(r["by"])) for r in rows]


EXPECTED = [
    ("Fact:Hamburg", "2023-06-10", "Munich"),
    ("Fact:Munich", "2024-01-10", "Vienna"),
    ("Fact:Vienna", None, None),
    ("ProfileEntry:Hamburg", "2023-06-10", "Munich"),
    ("ProfileEntry:Munich", "2024-01-10", "Vienna"),
    ("ProfileEntry:Vienna", None, None),
]


def test_a_statement_ingested_late_takes_its_place_in_the_history(
    store: Any, conn: Any, embedder: Any, user_id: str
) -> None:
    """Munich said between Hamburg and Vienna but ingested after both (an older file read
    late; the same turn forgotten and ingested again): it replaces Hamburg when it was said
    and Vienna replaces it, for the facts and the profile alike; Vienna stays current."""
    from graph.forget import apply_forget, plan_forget
    from schema.forget import ForgetScope

    sessions = {
        "a": said_session("a", datetime(2023, 1, 10, 9, tzinfo=UTC), "I live in Hamburg now."),
        "b": said_session("b", datetime(2023, 6, 10, 9, tzinfo=UTC), "I just moved to Munich."),
        "c": said_session("c", datetime(2024, 1, 10, 9, tzinfo=UTC), "I just moved to Vienna."),
    }

    def ingest(*names: str) -> None:
        record = ConversationRecord(sessions=[sessions[n] for n in names])
        conv = LoadedConversation(user_id, "Ana", record, "test", Path("."))
        ingest_conversation(conv, store=store, embedder=embedder)

    ingest("a", "c")
    ingest("b")
    assert _history(store, conn, user_id) == EXPECTED
    (munich,) = store.session_turns(user_id, _sid(store, user_id, "b"))
    apply_forget(conn, plan_forget(conn, ForgetScope(user_id=user_id, memory_id=munich.id)))
    ingest("a", "b", "c")
    assert _history(store, conn, user_id) == EXPECTED
    ingest("a", "b", "c")  # and again: nothing changes
    assert _history(store, conn, user_id) == EXPECTED
