"""A short turn is embedded with the turn it answers, the same way on every path that embeds
turns: ingest, a store write without vectors (the chat's update stage writes one exchange at
a time) and re-embedding (tests/test_reembed.py). Real server, real embedder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from schema.nodes import (
    SHORT_TURN_WORDS,
    Session,
    Turn,
    User,
    make_id,
    previous_turns,
    turn_search_text,
)
from schema.protocols import WriteBatch

pytestmark = pytest.mark.integration

LINES = [
    ("Ana", "Did you finally get the tickets for the Lisbon jazz festival in July?"),
    ("Ben", "Yes, yesterday!"),
    ("Ana", "Amazing. Which nights are you going to, and is your sister coming along too?"),
    ("Ben", "Friday and Saturday, and she is flying in from Porto on Thursday night to join us."),
]


def test_only_short_turns_carry_the_turn_they_answer() -> None:
    short = turn_search_text("Ben", "Yes, yesterday!", previous=("Ana", "Got the tickets?"))
    assert short == "Ben: Yes, yesterday! (replying to Ana: Got the tickets?)"
    long_text = " ".join(["word"] * SHORT_TURN_WORDS)
    assert turn_search_text("Ben", long_text, previous=("Ana", "Hi?")) == f"Ben: {long_text}"
    assert turn_search_text("Ben", "Yes!") == "Ben: Yes!"  # the first turn of a session


def _turns(uid: str, sid: str, t0: datetime) -> list[Turn]:
    return [
        Turn(
            id=make_id("turn", uid, sid, i),
            user_id=uid,
            session_id=sid,
            index=i,
            role="user" if who == "Ana" else "other",
            speaker=who,
            text=text,
            t=t0 + timedelta(minutes=i),
        )
        for i, (who, text) in enumerate(LINES)
    ]


def test_previous_turns_stay_inside_a_session() -> None:
    t0 = datetime(2024, 5, 1, 9, tzinfo=UTC)
    a, b = _turns("u", "s1", t0), _turns("u", "s2", t0)
    before = previous_turns([*b[2:], *a])  # any order; b lacks its turns 0 and 1
    assert before[a[1].id] == ("Ana", LINES[0][1])
    assert a[0].id not in before and b[2].id not in before
    assert before[b[3].id] == ("Ana", LINES[2][1])


def test_a_turn_written_alone_is_embedded_as_ingest_embeds_it(
    conn: Any, store: Any, embedder: Any, user_id: str
) -> None:
    t0 = datetime(2024, 5, 1, 9, tzinfo=UTC)
    sid = make_id("session", user_id, "s")
    turns = _turns(user_id, sid, t0)
    user = User(id=user_id, user_id=user_id)
    session = Session(id=sid, user_id=user_id, source_id="s", index=0, start=t0, end=turns[-1].t)
    for turn in turns:  # one turn per write, as a chat stores its exchanges
        store.write(WriteBatch(user=user, sessions=[session], turns=[turn]))
    rows = conn.read("MATCH (m:Turn {user_id: $u}) RETURN m.id AS id, m.embedding AS e", u=user_id)
    stored = {r["id"]: np.asarray(r["e"], dtype=np.float32) for r in rows}
    texts = [t.embedding_text(previous_turns(turns).get(t.id)) for t in turns]
    assert "(replying to Ana:" in texts[1] and "replying" not in texts[3]
    expected = embedder.embed(texts)
    for turn, vec in zip(turns, expected, strict=True):
        assert np.allclose(stored[turn.id], vec, atol=1e-6), turn.text
    # and the short reply is found by what it answered, which its own words never say
    from schema.retrieval import RetrievalRequest

    hits = store.retrieve(
        RetrievalRequest(
            user_id=user_id, query="jazz festival tickets", k=4, expand=[], signals=["vector"]
        )
    )
    assert turns[1].id in [i.id for i in hits.items][:2]


def test_ingest_embeds_a_short_reply_with_the_turn_it_answers(
    conn: Any, store: Any, embedder: Any, user_id: str, tmp_path: Any
) -> None:
    import json

    from pipelines.ingest import ingest_file

    t0 = datetime(2024, 5, 1, 9, tzinfo=UTC)
    doc = {
        "format": "personagraph/v1",
        "user": {"id": user_id, "name": "Ana"},
        "sessions": [
            {
                "id": "s1",
                "turns": [
                    {
                        "role": "user" if who == "Ana" else "other",
                        "speaker": who,
                        "text": text,
                        "timestamp": (t0 + timedelta(minutes=i)).isoformat(),
                    }
                    for i, (who, text) in enumerate(LINES)
                ],
            }
        ],
    }
    path = tmp_path / "conv.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    ingest_file(path, store=store, embedder=embedder, user=user_id)
    rows = conn.read(
        "MATCH (m:Turn {user_id: $u}) RETURN m.index AS i, m.text AS text, m.embedding AS e "
        "ORDER BY m.index",
        u=user_id,
    )
    assert [r["text"] for r in rows] == [text for _, text in LINES]  # stored text: its own
    reply = f"Ben: {LINES[1][1]} (replying to Ana: {LINES[0][1]})"
    assert np.allclose(rows[1]["e"], embedder.embed([reply])[0], atol=1e-6)
    assert np.allclose(rows[3]["e"], embedder.embed([f"Ben: {LINES[3][1]}"])[0], atol=1e-6)
