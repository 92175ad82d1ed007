"""Turn units (unit="turn"): raw turns as evidence, scored through provenance and dialogue
neighbours, with the window applied to every projected turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schema.nodes import Event, Fact, Session, Turn, User, make_id
from schema.protocols import WriteBatch
from schema.retrieval import RetrievalRequest, TimeWindow

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 6, 18, 0, tzinfo=UTC)


def _seed(store: Any, uid: str) -> dict[str, str]:
    """One session: a question, the answer holding the fact, small talk; a fact derived from
    the answer; an episode covering turns 0-3. Turn 3 happens a day later than turn 2."""
    sid = make_id("session", uid, "s1")
    texts = [
        ("Ben", "How was your week?"),
        ("Ana", "I adopted a beagle puppy, her name is Pepper."),
        ("Ben", "The weather was rainy all day."),
        ("Ana", "Pepper chewed my running shoes yesterday."),
    ]
    times = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), T0 + timedelta(days=1)]
    turns = [
        Turn(
            id=make_id("turn", uid, sid, i),
            user_id=uid,
            session_id=sid,
            index=i,
            role="user",
            speaker=s,
            text=t,
            t=times[i],
        )
        for i, (s, t) in enumerate(texts)
    ]
    fact = Fact(
        id=make_id("fact", uid, "pepper"),
        user_id=uid,
        t=times[1],
        text="Ana adopted a beagle puppy named Pepper.",
        keywords=["beagle", "pepper"],
        valid_from=times[1],
        turn_ids=[turns[1].id],
    )
    event = Event(
        id=make_id("event", uid, sid, 0, 3),
        user_id=uid,
        session_id=sid,
        t=times[0],
        t_end=times[3],
        text="Ana and Ben talked about Ana's new dog Pepper.",
        keywords=["dog", "pepper"],
        turn_ids=[t.id for t in turns],
    )
    store.write(
        WriteBatch(
            user=User(id=uid, user_id=uid),
            sessions=[
                Session(id=sid, user_id=uid, source_id="s1", index=0, start=times[0], end=times[3])
            ],
            turns=turns,
            facts=[fact],
            events=[event],
        )
    )
    return {
        "question": turns[0].id,
        "answer": turns[1].id,
        "rain": turns[2].id,
        "shoes": turns[3].id,
        "fact": fact.id,
        "event": event.id,
    }


def test_turn_units_return_only_turns_with_provenance_in_why(store: Any, user_id: str) -> None:
    ids = _seed(store, user_id)
    res = store.retrieve(
        RetrievalRequest(user_id=user_id, query="Ana adopted a beagle", k=4, unit="turn", expand=[])
    )
    assert {i.kind.value for i in res.items} == {"turn"}
    assert res.items[0].id == ids["answer"]
    vias = {s.via for s in res.items[0].why.signals}
    assert f"fact {ids['fact']}" in vias  # the fact passed its rank to its source turn
    assert f"event {ids['event']}" in vias
    question = next(i for i in res.items if i.id == ids["question"])
    assert any(
        s.name == "neighbour" and s.via == f"turn {ids['answer']}" for s in question.why.signals
    )


def test_window_filters_every_projected_turn(store: Any, user_id: str) -> None:
    ids = _seed(store, user_id)
    window = TimeWindow(start=T0 + timedelta(hours=12), end=T0 + timedelta(days=2))
    res = store.retrieve(
        RetrievalRequest(
            user_id=user_id, query="Pepper the beagle", k=10, unit="turn", window=window, expand=[]
        )
    )
    returned = {i.id for i in res.items}
    # the episode starts before the window and covers turns on both sides: only the turn
    # inside the window may come back, although the episode itself is not in the window
    assert returned <= {ids["shoes"]}
    assert all(window.contains(i.t) for i in res.items)


def test_time_questions_prefer_dated_turns(store: Any, user_id: str) -> None:
    ids = _seed(store, user_id)
    req = RetrievalRequest(
        user_id=user_id, query="When did Pepper chew Ana's shoes?", k=4, unit="turn", expand=[]
    )
    plain = store.retrieve(req)
    dated = store.retrieve(req.model_copy(update={"prefer_dated": True}))
    by_id = {i.id: i for i in dated.items}
    assert ids["shoes"] in by_id
    assert any(s.name == "dated" for s in by_id[ids["shoes"]].why.signals)
    if ids["answer"] in by_id:  # no time in its text: no boost
        assert not any(s.name == "dated" for s in by_id[ids["answer"]].why.signals)
    plain_score = next(i.score for i in plain.items if i.id == ids["shoes"])
    assert by_id[ids["shoes"]].score == pytest.approx(1.5 * plain_score)


def test_turns_derive_whether_they_anchor_a_time() -> None:
    base = {
        "id": "t",
        "user_id": "u",
        "session_id": "s",
        "index": 0,
        "role": "user",
        "speaker": "Ana",
        "t": T0,
    }
    assert Turn(**base, text="We moved last March.").dated
    assert not Turn(**base, text="We like jazz.").dated
    assert not Turn(**base, text="We like jazz.", dated=True).dated  # derived, not claimed
