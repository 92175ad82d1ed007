"""A question's "in March" is March where the user lives. A file's timezone is stored on
the user; the agent reads a question asked without an offset in it (unless PERSONA_TIMEZONE
is set, which a deployment may want to hold for everyone). Real Neo4j, normal ingest, offline
policy."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import ask_offline, retrieve_steps

from pipelines.formats import LoadedConversation
from pipelines.ingest import ingest_conversation
from schema.records import ConversationRecord, SessionRecord, TurnRecord
from schema.settings import Settings

pytestmark = pytest.mark.integration

#: 08:30 on 1 March in Tokyo is 23:30 on 29 February in UTC
ONSEN = "2024-03-01T08:30:00"


@pytest.fixture
def kenji(store: Any, embedder: Any, user_id: str) -> str:
    record = ConversationRecord(
        timezone="Asia/Tokyo",
        sessions=[
            SessionRecord(
                id="onsen",
                turns=[
                    TurnRecord(
                        role="user",
                        speaker="Kenji",
                        text="I went to the onsen in Hakone with my brother.",
                        timestamp=datetime.fromisoformat(ONSEN),  # naive: the file's zone
                    )
                ],
            )
        ],
    )
    ingest_conversation(
        LoadedConversation(user_id, "Kenji", record, "test", Path(".")),
        store=store,
        embedder=embedder,
    )
    return user_id


def _ask(store: Any, settings: Settings, uid: str) -> dict[str, Any]:
    # no offset: the user's zone decides
    return ask_offline(
        store, settings, uid, "Where did I go in March 2024?", datetime(2024, 4, 10, 12)
    )


def test_a_question_without_an_offset_is_read_in_the_users_zone(
    store: Any, settings: Settings, kenji: str
) -> None:
    assert store.user_context(kenji).timezone == "Asia/Tokyo"
    unset = Settings(**settings.model_dump(exclude={"timezone"}))
    state = _ask(store, unset, kenji)
    (step,) = retrieve_steps(state)
    assert step["request"]["start"].startswith("2024-03-01T00:00:00+09:00")
    assert step["memory_ids"], "the onsen, said on 1 March in Tokyo, is in March"
    assert "onsen" in state["answer"] and "Nothing from that time" not in state["answer"]


def test_persona_timezone_when_set_holds_for_everyone(
    store: Any, settings: Settings, kenji: str
) -> None:
    assert "timezone" in settings.model_fields_set and settings.timezone == "UTC"
    state = _ask(store, settings, kenji)
    first = retrieve_steps(state)[0]
    assert first["request"]["start"].startswith("2024-03-01T00:00:00+00:00")
    # 23:30 UTC on 29 February: not in a UTC March, so the search widens
    assert "Nothing from that time" in state["answer"]
