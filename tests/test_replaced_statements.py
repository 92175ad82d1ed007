"""What a person said and later took back: the slot a statement fills decides what replaces
it (a break-up or a wedding ends "I'm dating Tom"; a job offer is not the job; "Jonas moved
to Rome" replaces where Jonas lived, not where the user lives), a turn whose every fact was
replaced is retrieved as no longer true (and since when), and the offline policy answers a
question about now with what holds now. Ingested through the normal path into real Neo4j."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import ask_offline, said_session

from agent.extraction.facts import HeuristicFactExtractor, other_slot, slot_of
from agent.policies import OFFLINE_LABEL
from pipelines.formats import LoadedConversation
from pipelines.ingest import ingest_conversation
from schema.nodes import MemoryKind
from schema.records import ConversationRecord, SessionRecord, TurnRecord
from schema.retrieval import RetrievalRequest, TimeWindow
from schema.settings import Settings

ASKED = datetime(2024, 10, 1, 12, tzinfo=UTC)
JUNE_12 = datetime(2024, 6, 12, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sentence", "slot"),
    [
        ("I'm dating Tom, we met at a climbing gym.", "ana:relationship"),
        ("Tom and I broke up last week.", "ana:relationship"),
        ("We split up in May.", "ana:relationship"),
        ("I married Karl in a small ceremony.", "ana:relationship"),
        ("We finally got engaged!", "ana:relationship"),
        ("We split up the bill.", None),
        ("I got a job offer from BMW but I'm not sure.", None),
        ("My job interview went well.", None),
        ("I started a new job at Bosch this week.", "ana:job"),
        ("I broke up with Alex yesterday.", "ana:relationship"),
        ("I just moved to Denver.", "ana:lives_in"),
        # what only sounds like a slot: it must not replace the job, partner or home
        ("My job is so stressful lately.", None),
        ("I work at night most weeks.", None),
        ("I work for hours in the garden.", None),
        ("My brother and I split up after the concert to find parking.", None),
        ("We broke up a fight at the bar.", None),
        ("we separated at the airport", None),
        ("I'm dating myself by saying this.", None),
        ("My mom thinks I live in a dream world sometimes.", None),
        ("I live in the moment.", None),
        ("If I moved to Tokyo, I'd be happy.", None),
        ("I moved to the couch after dinner.", None),
        ("I hate Tom's jokes.", None),  # not an opinion of Tom
    ],
)
def test_the_slot_a_statement_fills(sentence: str, slot: str | None) -> None:
    assert slot_of(sentence, "Ana") == slot


@pytest.mark.parametrize(
    ("sentence", "slot"),
    [
        ("My friend Jonas moved to Paris for a design job.", "ana:jonas:lives_in"),
        ("Jonas moved to Rome, he says the food is better.", "ana:jonas:lives_in"),
        ("Then Mia started a new job at a bakery.", "ana:mia:job"),
        ("Mia got married last spring.", "ana:mia:relationship"),
        ("He moved to Rome.", None),
        ("Ana moved to Rome.", None),  # the speaker: first-person slots cover them
        ("Mia got a job offer in Oslo.", None),
        ("Nobody lives in the apartment upstairs anymore.", None),
        ("Tom got engaged to the idea of running a marathon.", None),
        ("Google moved to a new campus near my office.", None),
    ],
)
def test_the_slot_a_statement_fills_for_someone_the_speaker_names(
    sentence: str, slot: str | None
) -> None:
    assert other_slot(sentence, "Ana") == slot


@pytest.mark.parametrize(
    "sentence", ["I love sushi.", "We split up.", "I married Karl.", "I'm dating Tom."]
)
def test_a_short_statement_on_a_slot_is_a_fact(sentence: str) -> None:
    assert HeuristicFactExtractor._qualifies(sentence)


def _session(sid: str, day: datetime, *texts: str) -> SessionRecord:
    return said_session(sid, day, *texts, minutes=2)


@pytest.fixture
def ana(store: Any, embedder: Any, user_id: str) -> str:
    record = ConversationRecord(
        sessions=[
            _session(
                "jan",
                datetime(2024, 1, 10, 9, tzinfo=UTC),
                "I'm dating Tom, we met at a climbing gym.",
                "I love sushi, it's my comfort food.",
                "I work at Siemens as an engineer.",
                "I live in Munich with two cats.",
            ),
            _session(
                "mar",
                datetime(2024, 3, 5, 9, tzinfo=UTC),
                "Tom and I broke up last week.",
                "My friend Jonas moved to Paris for a design job.",
                "I got a job offer from BMW but I'm not sure.",
            ),
            _session(
                "jun",
                JUNE_12,
                "I hate sushi now after that food poisoning.",
                "I married Karl in a small ceremony yesterday.",
            ),
            _session(
                "sep",
                datetime(2024, 9, 1, 9, tzinfo=UTC),
                "Jonas moved to Rome, he says the food is better.",
                "I started a new job at Bosch this week.",
            ),
        ]
    )
    ingest_conversation(
        LoadedConversation(user_id, "Ana", record, "test", Path(".")),
        store=store,
        embedder=embedder,
    )
    return user_id


def _facts(store: Any, uid: str) -> dict[str, Any]:
    return {f.text: f for f in store.list_memories(uid, [MemoryKind.FACT], TimeWindow())}


def _one(facts: dict[str, Any], word: str) -> Any:
    (fact,) = [f for text, f in facts.items() if word in text]
    return fact


@pytest.mark.integration
def test_each_statement_is_replaced_by_the_next_on_its_own_slot(store: Any, ana: str) -> None:
    facts = _facts(store, ana)
    assert _one(facts, "dating Tom").status == "superseded"
    assert _one(facts, "broke up").status == "superseded"  # then she married Karl
    assert _one(facts, "married Karl").status == "active"
    # the offer did not replace the job she had; the new job did
    assert _one(facts, "BMW").status == "active" and not _one(facts, "BMW").slot
    siemens = _one(facts, "Siemens")
    assert siemens.status == "superseded"
    assert siemens.valid_to == datetime(2024, 9, 1, 9, 2, tzinfo=UTC)
    # Jonas moved, Ana did not: his home is his slot, and her profile keeps Munich
    assert _one(facts, "Paris").status == "superseded"
    assert _one(facts, "Rome").status == "active"
    assert _one(facts, "Munich").status == "active"
    location = [e for e in store.profile(ana) if e.key == "location" and e.valid_to is None]
    assert [e.value for e in location] == ["Ana lives in Munich with two cats."]


@pytest.mark.integration
def test_a_profile_value_holds_from_the_turn_that_said_it(store: Any, conn: Any, ana: str) -> None:
    """Siemens was said at 09:04 in a session that ended at 09:06: the occupation changed
    at 09:04 (it read 09:06, the session's end, in 'analytics changes' and as-of)."""
    entries = {e.value: e for e in store.profile(ana) if e.key == "occupation"}
    siemens = entries["Ana works at Siemens as an engineer."]
    assert siemens.valid_from == datetime(2024, 1, 10, 9, 4, tzinfo=UTC)
    assert siemens.valid_to == datetime(2024, 9, 1, 9, 2, tzinfo=UTC)  # Bosch, the 2nd turn
    rows = conn.read(
        "MATCH (e:ProfileEntry {user_id: $u})-[:DERIVED_FROM]->(t:Turn {user_id: $u}) "
        "WITH e, max(t.t) AS said RETURN e.value AS value, e.valid_from = said AS same",
        u=ana,
    )
    assert len(rows) >= 5  # the name, from the file, cites no turn
    assert [r["value"] for r in rows if not r["same"]] == []


@pytest.mark.integration
def test_a_turn_whose_facts_were_replaced_is_retrieved_as_no_longer_true(
    store: Any, ana: str
) -> None:
    result = store.retrieve(
        RetrievalRequest(
            user_id=ana, query="Do I love sushi?", keywords=["sushi"], k=5, unit="turn"
        )
    )
    turns = {i.text: i for i in result.items if i.kind == MemoryKind.TURN}
    love = turns["I love sushi, it's my comfort food."]
    hate = turns["I hate sushi now after that food poisoning."]
    assert love.status == "superseded" and love.valid_to == JUNE_12
    assert hate.status is None and hate.valid_to is None


@pytest.mark.integration
def test_the_offline_policy_answers_a_question_about_now_with_what_holds_now(
    store: Any, settings: Settings, ana: str
) -> None:
    def ask(question: str) -> str:
        state = ask_offline(store, settings, ana, question, ASKED)
        answer = str(state["answer"])
        assert answer.startswith(OFFLINE_LABEL)
        return answer

    sushi = ask("Do I love sushi now?")
    assert sushi.index("I hate sushi") < sushi.index("I love sushi")
    assert "(no longer true from 12 June 2024)" in sushi
    first, *_ = ask("Where do I work?").split("; and ")
    assert "Bosch" in first  # not the offer, not the job she left
    # in March 2024 the sushi was still loved: nothing replaced it before the window's end
    march = ask("Did I love sushi in March 2024?")
    assert "I love sushi" in march and "Nothing from that time" not in march


@pytest.mark.integration
def test_changes_and_as_of_read_in_the_time_the_statement_was_said(
    store: Any, conn: Any, embedder: Any, user_id: str
) -> None:
    """Kyoto replaced Osaka at 08:30 on 1 March in Japan, which is 29 February in UTC."""
    from graph.analytics import Analytics

    tokyo = timezone(timedelta(hours=9))
    record = ConversationRecord(
        sessions=[
            SessionRecord(
                id=sid,
                turns=[TurnRecord(role="user", speaker="Ana", text=text, timestamp=at, id=sid)],
            )
            for sid, text, at in (
                (
                    "osaka",
                    "I live in Osaka near the castle.",
                    datetime(2023, 5, 2, 20, tzinfo=tokyo),
                ),
                (
                    "kyoto",
                    "I just moved to Kyoto for work.",
                    datetime(2024, 3, 1, 8, 30, tzinfo=tokyo),
                ),
            )
        ]
    )
    ingest_conversation(
        LoadedConversation(user_id, "Ana", record, "test", Path(".")),
        store=store,
        embedder=embedder,
    )
    an = Analytics(conn)
    moved = [c for c in an.fact_changes(user_id) if c.label == "Fact"]
    assert [(c.at.isoformat(), "Kyoto" in c.new_text) for c in moved] == [
        ("2024-03-01T08:30:00+09:00", True)
    ]
    then = an.as_of(user_id, datetime(2024, 1, 1, tzinfo=UTC))
    assert [f.t.isoformat() for f in then.facts] == ["2023-05-02T20:00:00+09:00"]
    listed = an.between(user_id, TimeWindow(start=datetime(2024, 2, 1, tzinfo=UTC)))
    assert {m.t.utcoffset() for m in listed} == {timedelta(hours=9)}
