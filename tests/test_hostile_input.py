"""Hostile input as data, property-based: arbitrary unicode mixed with Rich markup, Lucene and
Cypher syntax goes through the CLI's output paths (search, memories, analytics, db shell) and
the read APIs, for two users whose memories overlap. Nothing crashes, the text comes back
as typed, and no item of the other user appears. ``PERSONA_HOSTILE_EXAMPLES`` sets how many
inputs (default 50: each example runs four CLI commands, about 2 s). The same strategy runs
10,000 times at the API level in `persona bench hostile` (docs/benchmarks/hostile.md).

A second property stores the generated text as turns through `persona ingest` (a native
file, JSON round trip) for two users at once, so both hold the same hostile turn and each a
line naming its own id, then reads it back through `memories`, `search` and `db shell` (a
parameter-free statement returning the stored text). ``PERSONA_HOSTILE_INGEST_EXAMPLES``
(default 12: two ingests and four commands each, about 4 s) sets how many."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_user
from hypothesis import HealthCheck, event, given, settings
from typer.testing import CliRunner

import cli
from pipelines.bench.hostile import hostile_text
from schema.nodes import MemoryKind
from schema.retrieval import Expansion, RetrievalRequest, TimeWindow
from schema.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = int(os.environ.get("PERSONA_HOSTILE_EXAMPLES", "50"))
INGEST_EXAMPLES = int(os.environ.get("PERSONA_HOSTILE_INGEST_EXAMPLES", "12"))
runner = CliRunner()
hostile = hostile_text()  # the strategy of `persona bench hostile` (10,000 inputs)


@pytest.fixture(scope="module")
def two_users(conn: Any, embedder: Any, migrated: Any) -> tuple[str, str, Any]:
    """Two users who said the same things, plus each one private line."""
    from datetime import UTC, datetime, timedelta

    from graph.store import Neo4jMemoryStore
    from schema.nodes import Session, Turn, User
    from schema.protocols import WriteBatch

    store = Neo4jMemoryStore(conn, embedder)
    lines = ["I moved to Lisbon [/b] in May.", "My sister *:* OR 1=1 likes ferrets.", "[bold]x[/]"]
    users = (fresh_user("hostile-a"), fresh_user("hostile-b"))
    t0 = datetime(2024, 5, 1, 10, tzinfo=UTC)
    for uid in users:
        session = Session(id=f"{uid}-s", user_id=uid, source_id="s", index=0, start=t0, end=t0)
        turns = [
            Turn(
                id=f"{uid}-t{i}",
                user_id=uid,
                session_id=session.id,
                index=i,
                role="user",
                speaker="me",
                text=text,
                t=t0 + timedelta(minutes=i),
            )
            for i, text in enumerate([*lines, f"only {uid} said this"])
        ]
        store.write(WriteBatch(user=User(id=uid, user_id=uid), sessions=[session], turns=turns))
    return users[0], users[1], store


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=hostile)
def test_hostile_text_is_data_everywhere(
    cli_settings: Settings, two_users: tuple[str, str, Any], text: str
) -> None:
    a, b, store = two_users
    query = text if text.strip() else "x"
    # read APIs: every unit and expansion, with the text as query and as keyword
    for unit in ("memory", "turn"):
        result = store.retrieve(
            RetrievalRequest(
                user_id=a,
                query=query,
                keywords=[text],
                k=10,
                unit=unit,
                expand=list(Expansion),
                window=TimeWindow(),
            )
        )
        ids = {i.id for i in result.items} | {
            r.id for i in result.items for r in (*i.turns, *i.related)
        }
        assert not any(i.startswith(b) for i in ids), "an item of the other user"
    assert all(m.id.startswith(a) for m in store.list_memories(a, list(MemoryKind), TimeWindow()))
    # the CLI's output paths: no crash, and user text shown as typed
    out = runner.invoke(cli.app, ["search", query, "--user", a], env={"COLUMNS": "400"})
    assert out.exit_code in (0, 2), (out.output, out.exception)  # 2: an empty query, said so
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert b not in out.output
    shown = runner.invoke(cli.app, ["memories", "--user", a, "-n", "10"], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, (shown.output, shown.exception)
    assert "[/b]" in shown.output and b not in shown.output
    user = runner.invoke(cli.app, ["analytics", "activity", "--user", text], env={"COLUMNS": "400"})
    assert user.exception is None or isinstance(user.exception, SystemExit), user.exception
    # the agent's output path (steps, memories, answer), leaving no trace (--no-update)
    asked = runner.invoke(
        cli.app, ["ask", query, "--user", a, "--no-update"], env={"COLUMNS": "400"}
    )
    assert asked.exception is None or isinstance(asked.exception, SystemExit), asked.exception
    assert asked.exit_code in (0, 1, 2), asked.output  # 1: no answer; 2: refused, said so
    assert b not in asked.output and "\x1b" not in asked.output


# ------------------------------------------------------------------ hostile text as turns
_SEQ = itertools.count()


@pytest.fixture(scope="module")
def ingest_users() -> tuple[str, str]:
    return fresh_user("hostile-ia"), fresh_user("hostile-ib")


@pytest.fixture(scope="module")
def ingest_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-ingest")


def _invoke(*args: str) -> Any:
    return runner.invoke(cli.app, list(args), env={"COLUMNS": "400"})


def _clean(result: Any, codes: tuple[int, ...] = (0,)) -> None:
    """No crash: the command ended with one of ``codes`` (2: a refusal that says why)."""
    assert result.exit_code in codes, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


@settings(
    max_examples=INGEST_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=hostile)
def test_hostile_text_ingested_as_turns_is_data_in_every_output(
    cli_settings: Settings, ingest_users: tuple[str, str], ingest_dir: Path, text: str
) -> None:
    a, b = ingest_users
    n = next(_SEQ)
    source = f"h{n}"
    for uid in (a, b):  # the same hostile turn for both, and one line naming the owner
        doc = {
            "format": "personagraph/v1",
            "user": {"id": uid, "name": "Robin"},
            "timezone": "UTC",
            "sessions": [
                {
                    "id": source,
                    "turns": [
                        {
                            "role": "user",
                            "text": text,
                            "timestamp": f"2024-06-01T{n // 60 % 24:02d}:{n % 60:02d}:00+00:00",
                        },
                        {
                            "role": "user",
                            "text": f"{text} was said by {uid}",
                            "timestamp": f"2024-06-01T{n // 60 % 24:02d}:{n % 60:02d}:30+00:00",
                        },
                    ],
                }
            ],
        }
        path = ingest_dir / f"{uid}-{n}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        stored = _invoke("ingest", str(path))
        _clean(stored, (0, 2))  # 2: a text the format refuses (e.g. blank), said so
        if stored.exit_code != 0:
            assert "error" in stored.output or stored.exception is not None
            event("refused by ingest")
            return
        if uid == b:
            assert a not in stored.output
    event("stored for both users")
    query = text if text.strip() else "x"
    for args in (
        ["memories", "--user", a, "--type", "turn", "-n", "20"],
        ["search", query, "--user", a],
        ["search", query, "--user", a, "--unit", "turn", "--expand", "same_day"],
    ):
        out = _invoke(*args)
        _clean(out, (0, 2) if args[0] == "search" else (0,))
        assert b not in out.output, ("an item of the other user", args)
    shell = _invoke(
        "db",
        "shell",
        f"MATCH (s:Session {{source_id: '{source}'}})-[:HAS_TURN]->(t:Turn) "
        f"WHERE s.user_id = '{a}' AND t.user_id = '{a}' RETURN t.index AS i, t.text AS text",
    )
    _clean(shell)
    assert "2 row(s)" in shell.output and b not in shell.output
