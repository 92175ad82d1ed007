"""A window holds what was said in it AND the states true during it: where the user lived in
March is the move they mentioned in January (a fact on a slot, valid until a newer fact on
the slot replaced it). Ingested through the normal path into the real Neo4j."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.formats import LoadedConversation
from pipelines.ingest import ingest_conversation
from schema.nodes import MemoryKind
from schema.records import ConversationRecord, SessionRecord, TurnRecord
from schema.retrieval import RetrievalRequest, TimeWindow

pytestmark = pytest.mark.integration

MARCH = TimeWindow(start=datetime(2024, 3, 1, tzinfo=UTC), end=datetime(2024, 4, 1, tzinfo=UTC))
AUGUST = TimeWindow(start=datetime(2024, 8, 1, tzinfo=UTC), end=datetime(2024, 9, 1, tzinfo=UTC))


def _session(sid: str, day: datetime, *texts: str) -> SessionRecord:
    return SessionRecord(
        id=sid,
        turns=[
            TurnRecord(
                role="user",
                speaker="Ana",
                text=text,
                timestamp=day + timedelta(minutes=i),
                id=f"{sid}-{i}",
            )
            for i, text in enumerate(texts)
        ],
    )


@pytest.fixture
def ana(store: Any, embedder: Any, user_id: str) -> str:
    record = ConversationRecord(
        sessions=[
            _session("jan", datetime(2024, 1, 10, 9, tzinfo=UTC), "I just moved to Boston."),
            _session(
                "mar",
                datetime(2024, 3, 12, 9, tzinfo=UTC),
                "I had a dentist appointment today, it went fine.",
                "The weather turned cold again.",
            ),
            _session("jul", datetime(2024, 7, 2, 9, tzinfo=UTC), "I just moved to Denver."),
            _session("aug", datetime(2024, 8, 20, 9, tzinfo=UTC), "I cooked pasta for lunch."),
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
