"""The agent commands of ``persona`` through typer's CliRunner, against the test server:
``ask`` (window and answer shown), ``memories``, ``personality``, ``end-session``, and the
SQLite checkpointer keeping a conversation thread across App instances (restarts)."""

from __future__ import annotations

import re
import sqlite3
import sys
from datetime import datetime
from typing import Any

import pytest
from agent_helpers import SAMPLE_QUESTION, ingest_sample
from langgraph.checkpoint.sqlite import SqliteSaver
from typer.testing import CliRunner

import cli
from agent.graph import build_agent
from agent.session import chat_session_id
from schema.settings import Settings

pytestmark = pytest.mark.integration

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def sam(conn: Any, embedder: Any, migrated: Any) -> str:
    """The sample conversation for a fresh user. The tests below add chat sessions to it,
    each at its own time (days apart), so they do not depend on each other's order."""
    from graph.store import Neo4jMemoryStore

    return ingest_sample(Neo4jMemoryStore(conn, embedder), embedder)


def _invoke(*args: str) -> Any:
    result = runner.invoke(cli.app, list(args), env=WIDE)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_ask_shows_the_window_and_answers(cli_settings: Settings, sam: str) -> None:
    result = _invoke("ask", "--user", sam, SAMPLE_QUESTION, "--at", "2024-09-10T09:00:00-06:00")
    out = _flat(result.output)
    assert "retrieve keywords=" in out
    assert "window [2024-07-01 00:00 (Monday), 2024-08-01 00:00 (Thursday))" in out
    answer = out.split("answer", 1)[1]
    assert "Nguyen" in answer and "[offline policy]" in answer
    assert "remembered: 2 turns" in out  # the update stage ran
    assert re.search(r"\(\d+ memories via (prefilter|search)\)", out), out  # the vector path


def test_a_thread_survives_a_restart(cli_settings: Settings, sam: str) -> None:
    at = "2024-09-12T09:00:00-06:00"
    _invoke("ask", "--user", sam, SAMPLE_QUESTION, "--at", at)
    # a second process: a new App, a new SqliteSaver on the same file
    _invoke("ask", "--user", sam, "Where did I move to?", "--at", at)
    thread = f"{sam}:{chat_session_id(sam, datetime.fromisoformat(at))}"

    db = sqlite3.connect(cli_settings.checkpoint_path)
    try:
        threads = {r[0] for r in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    finally:
        db.close()
    assert thread in threads

    db = sqlite3.connect(cli_settings.checkpoint_path, check_same_thread=False)
    try:
        state = build_agent(SqliteSaver(db)).get_state({"configurable": {"thread_id": thread}})
    finally:
        db.close()
    assert state.values["turns_answered"] == 2  # both questions, across two App instances
    assert state.values["question"] == "Where did I move to?"
    assert state.values["answer"].startswith("[offline policy]")


def test_memories_lists_a_window_in_time_order(cli_settings: Settings, sam: str) -> None:
    result = _invoke(
        "memories", "--user", sam, "--type", "turn", "--from", "2024-07-01", "--to", "2024-08-01"
    )
    out = _flat(result.output)
    assert "Nguyen" in out
    assert "Patel" not in out  # March is outside the window
    count = int(re.search(r"(\d+) memories", out).group(1))  # type: ignore[union-attr]
    assert count >= 2
    facts = _flat(_invoke("memories", "--user", sam, "--type", "fact").output)
    assert "Denver" in facts and "superseded" in facts


def test_sessions_are_listed_in_the_local_time_they_were_held(
    cli_settings: Settings, sam: str
) -> None:
    # the sample's first session began at 19:05 in New York (-05:00), 00:05 UTC the next day
    out = _flat(_invoke("analytics", "sessions", "--user", sam).output)
    assert "2024-01-08 19:05" in out
    assert "2024-01-09 00:05" not in out


def test_search_keeps_a_state_said_before_the_window_unless_said_only(
    cli_settings: Settings, sam: str
) -> None:
    args = ("search", "where I live", "--user", sam, "--from", "May 2024", "--to", "May 2024")
    out = _flat(_invoke(*args, "--type", "fact").output)
    assert "lives in Boston" in out and "said before it, true during it" in out
    strict = _flat(_invoke(*args, "--type", "fact", "--said-only").output)
    assert "lives in Boston" not in strict and "true during it" not in strict


def test_personality_explains_the_model_free_mode(cli_settings: Settings, sam: str) -> None:
    out = _flat(_invoke("personality", "--user", sam).output)
    assert "no evidence yet" in out
    assert "No snapshots. The model-free extractor makes no personality claims" in out


def test_end_session_closes_the_open_session_once(cli_settings: Settings, sam: str) -> None:
    _invoke("ask", "--user", sam, "What is my dog called?", "--at", "2024-09-20T18:00:00-06:00")
    first = _flat(_invoke("end-session", "--user", sam).output)
    assert "closed session" in first
    assert "no open session" in _flat(_invoke("end-session", "--user", sam).output)


def test_times_without_an_offset_are_read_in_the_users_zone(
    cli_settings: Settings, sam: str
) -> None:
    """The sample's file says America/New_York: with PERSONA_TIMEZONE unset, --at and
    --from/--to without an offset are New York times (with it set, they are its zone)."""
    from datetime import timedelta

    from cli._shared import user_zone, when

    assert user_zone(sam) is None  # the test settings set the timezone (UTC) explicitly
    cli._State.settings = Settings(**cli_settings.model_dump(exclude={"timezone"}))
    try:
        zone = user_zone(sam)
        assert str(zone) == "America/New_York"
        assert when("2024-05-01T00:30", "AT", zone=zone).utcoffset() == timedelta(hours=-4)
        out = _flat(
            _invoke(
                "search", "--user", sam, "dentist", "--from", "2024-07-01", "--to", "2024-08-01"
            ).output
        )
        window = "[2024-07-01 00:00 (Monday), 2024-08-01 00:00 (Thursday))"
        assert f"{window} EDT" in out or f"{window} UTC-04:00" in out, out
    finally:
        cli._State.settings = cli_settings


def test_a_missing_model_folder_stops_the_question_and_stores_nothing(
    cli_settings: Settings,
    sam: str,
    conn: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PERSONA_POLICY=hf with PERSONA_MODEL naming no folder: the setting and the fix, exit
    code 2, and no exchange remembered (the model error used to be repaired as if the model
    had written garbage, answered from a fallback, and stored with exit code 0)."""
    broken = cli_settings.model_copy(update={"policy": "hf", "model": "/nonexistent/policy"})
    monkeypatch.setattr(cli._State, "settings", broken)
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(sys, "argv", ["persona", "ask", "--user", sam, SAMPLE_QUESTION])
    count = "MATCH (t:Turn {user_id: $u}) RETURN count(t) AS n"
    before = conn.read(count, u=sam)[0]["n"]
    with pytest.raises(SystemExit) as exc:
        cli.main()
    said = capsys.readouterr()
    assert exc.value.code == 2, said
    assert "PERSONA_MODEL '/nonexistent/policy': no such directory" in _flat(said.err)
    assert "smollm2-135m" in said.err  # the bundled model it could use instead
    assert "repair" not in said.out and "answer" not in said.out
    assert "Traceback" not in said.err
    assert conn.read(count, u=sam)[0]["n"] == before


def test_bench_local_policy_refuses_a_missing_model_before_anything_starts(
    cli_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli._State, "settings", cli_settings)
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(
        sys, "argv", ["persona", "bench", "local-policy", "--model", "/nonexistent/policy"]
    )
    with pytest.raises(SystemExit) as exc:
        cli.main()
    said = capsys.readouterr()
    assert exc.value.code == 2, said
    assert "--model '/nonexistent/policy': no such directory" in _flat(said.err)
    assert "Traceback" not in said.err and "ingest" not in said.err
