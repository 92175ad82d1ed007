"""The opt-in entity signal: memories that MENTION an entity the query names, for that user
only, ranked by how many of the query's entities they mention, inside the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import fresh_user

from agent.extraction.linking import link_topics_and_entities
from schema.nodes import Session, Turn, User
from schema.protocols import WriteBatch
from schema.retrieval import RetrievalRequest, TimeWindow

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 10, tzinfo=UTC)
SAID = [
    "I met Oscar at the Harbor Hall yesterday.",
    "Yesterday Oscar and Bailey came over for dinner.",
    "The weather turned cold this week.",
    "We took Bailey to the beach.",
]


def _seed(store: Any, uid: str, said: list[str]) -> list[Turn]:
    session = Session(id=f"{uid}-s", user_id=uid, source_id="s", index=0, start=T0, end=T0)
    turns = [
        Turn(
            id=f"{uid}-t{i}",
            user_id=uid,
            session_id=session.id,
            index=i,
            role="user",
            speaker="Ana",
            text=text,
            t=T0 + timedelta(days=i),
        )
        for i, text in enumerate(said)
    ]
    links = link_topics_and_entities(uid, turns, speakers=["Ana"])
    store.write(
        WriteBatch(
            user=User(id=uid, user_id=uid),
            sessions=[session],
            turns=turns,
            entities=links.entities,
            mentions=links.mentions,
        )
    )
    return turns


def _entity_ranking(store: Any, uid: str, query: str, window: TimeWindow) -> list[str]:
    result = store.retrieve(
        RetrievalRequest(
            user_id=uid, query=query, k=10, signals=["entity"], window=window, expand=[]
        )
    )
    return [i.id for i in result.items]


def test_the_entity_signal_ranks_mentions_of_the_named_entities(store: Any) -> None:
    uid, other = fresh_user("ent"), fresh_user("ent-other")
    turns = _seed(store, uid, SAID)
    _seed(store, other, SAID)  # the same entities under another user
    ranked = _entity_ranking(store, uid, "What did Oscar and Bailey do?", TimeWindow())
    assert ranked[0] == turns[1].id  # mentions both entities the query names
    assert set(ranked) == {turns[0].id, turns[1].id, turns[3].id}
    assert all(i.startswith(uid) for i in ranked)
    late = TimeWindow(start=T0 + timedelta(days=2))
    assert _entity_ranking(store, uid, "Where is Bailey's favourite place?", late) == [turns[3].id]
    assert _entity_ranking(store, uid, "How was the weather?", TimeWindow()) == []
