"""``persona`` CLI smoke tests through typer's CliRunner (and ``main`` for error translation).

The CLI reads its settings through ``cli._shared.settings()``; the fixture points it at the
test session's settings (the test server's home) and restores it afterwards."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from typer.testing import CliRunner

import cli
from schema.errors import IngestError
from schema.model import GRAPH_MODEL
from schema.settings import Settings

runner = CliRunner()
WIDE = {"COLUMNS": "400"}  # rich wraps at the terminal width; keep lines whole


def test_schema_prints_every_label_and_relationship(cli_settings: Settings) -> None:
    result = runner.invoke(cli.app, ["schema"], env=WIDE)
    assert result.exit_code == 0, result.output
    for spec in GRAPH_MODEL.nodes:
        assert spec.label in result.output, spec.label
    for edge in GRAPH_MODEL.edges:
        assert edge.type in result.output, edge.type
    for index in GRAPH_MODEL.indexes:
        assert index.name in result.output, index.name


def test_schema_json_is_the_graph_model(cli_settings: Settings) -> None:
    result = runner.invoke(cli.app, ["schema", "--json"], env=WIDE)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [n["label"] for n in data["nodes"]] == [n.label for n in GRAPH_MODEL.nodes]
    assert [e["type"] for e in data["edges"]] == [e.type for e in GRAPH_MODEL.edges]
    assert {i["name"] for i in data["indexes"]} == {i.name for i in GRAPH_MODEL.indexes}


def test_ingest_missing_file_fails_naming_the_file(cli_settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "conversation.json"
    result = runner.invoke(cli.app, ["ingest", str(missing), "--user", "x"], env=WIDE)
    assert result.exit_code != 0
    # the app raises; main() translates PersonaError (CliRunner surfaces the exception)
    assert isinstance(result.exception, IngestError)
    assert result.exception.file == str(missing)
    assert str(missing) in str(result.exception)
    assert "not found" in str(result.exception)


def test_main_translates_the_error_to_a_message_and_exit_code(
    cli_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "missing.json"
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(sys, "argv", ["persona", "ingest", str(missing), "--user", "x"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code not in (0, None)
    out = capsys.readouterr()
    assert "error:" in out.err
    assert str(missing) in out.err
    assert "Traceback" not in out.err


def test_ingest_rejects_an_unknown_format(cli_settings: Settings, tmp_path: Path) -> None:
    result = runner.invoke(
        cli.app, ["ingest", str(tmp_path / "x.json"), "--format", "yaml"], env=WIDE
    )
    assert result.exit_code != 0
    assert "native, locomo or auto" in result.output


def test_ingest_invalid_file_names_record_and_field(cli_settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"sessions": [{"turns": [{"role": "user", "text": "hi", "timestamp": "not a date"}]}]}
        )
    )
    result = runner.invoke(cli.app, ["ingest", str(bad), "--user", "x"], env=WIDE)
    assert result.exit_code != 0
    assert isinstance(result.exception, IngestError)
    assert result.exception.record == "sessions[0].turns[0]"
    assert result.exception.field == "timestamp"


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    commands = getattr(group, "commands", None)  # a group (typer vendors its own click)
    if isinstance(commands, dict):
        for name, sub in commands.items():
            found += _commands(sub, (*path, name))
    return found


def test_help_shows_flags_bare_and_values_with_their_type() -> None:
    import typer.main

    paths = _commands(typer.main.get_command(cli.app))
    assert len(paths) > 20  # every command group was walked
    for path in paths:
        result = runner.invoke(cli.app, [*path, "--help"], env=WIDE)
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, path
    shown = runner.invoke(cli.app, ["ask", "--help"], env=WIDE).output
    direct = next(line for line in shown.splitlines() if "--direct" in line)
    assert "non-reasoning mode" in direct and "<" not in direct
    assert "<str>" in next(line for line in shown.splitlines() if "--user" in line)


def _conversation(path: Path, texts: list[str]) -> Path:
    """A one-session native conversation: Sam says ``texts``, the assistant answers each."""
    turns = []
    for i, text in enumerate(texts):
        at = f"2024-05-0{i + 1}T09:00:00+02:00"
        turns.append({"role": "user", "text": text, "timestamp": at})
        turns.append({"role": "assistant", "text": "Noted.", "timestamp": at[:17] + "30+02:00"})
    path.write_text(
        json.dumps(
            {
                "format": "personagraph/v1",
                "user": {"id": "sam", "name": "Sam"},
                "timezone": "Europe/Paris",
                "sessions": [{"id": "s1", "turns": turns}],
            }
        )
    )
    return path


def _extraction_model(messages: Sequence[BaseMessage]) -> str:
    """The LLM extraction tasks answered by system prompt: a fact no heuristic would write,
    one episode over the session, an openness reading, no procedural change."""
    system, human = str(messages[0].content), str(messages[-1].content)
    if "long-term semantic memory" in system:
        fact = {"statement": "Sam keeps bees on the roof.", "slot": "hobby"}
        return json.dumps({"keep": True, "facts": [fact]})
    if "topic segments" in system:
        n = len(human.splitlines())
        return json.dumps(
            {"events": [{"summary": "Sam talks about bees.", "turns": list(range(n))}]}
        )
    if "Big Five" in system:
        return '{"openness": 5}'
    return '{"ops": []}'


def test_ingest_honours_the_extractor_and_pem_settings(
    cli_settings: Settings,
    session_store: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PERSONA_EXTRACTOR=llm and the pem_* settings, read from the environment by the CLI,
    reach the ingest: the model's fact is stored and every personality snapshot took the
    configured weight (the defaults would give no snapshot at all, and 0.5 for the first)."""
    from conftest import fresh_user

    from agent.policies import ScriptedChatModel

    model = ScriptedChatModel(default=_extraction_model)
    monkeypatch.setattr("pipelines.app.build_policy", lambda _s: model)
    for name in ("NEO4J_URI", "PERSONA_NEO4J_URI", "PERSONA_POLICY"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "PERSONA_HOME": str(cli_settings.home),
        "PERSONA_NEO4J_HEAP": cli_settings.neo4j_heap,
        "PERSONA_NEO4J_PAGECACHE": cli_settings.neo4j_pagecache,
        "PERSONA_TIMEZONE": "UTC",
        "PERSONA_EXTRACTOR": "llm",
        "PERSONA_PEM_FLOOR": "0.3",
        "PERSONA_PEM_CEILING": "0.3",
        "PERSONA_PEM_HORIZON": "7",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli._State, "settings", None)  # read once, from this environment
    uid = fresh_user("cli-llm")
    conv = _conversation(
        tmp_path / "bees.json", ["I spent the morning with my bees.", "The hive is busy today."]
    )
    result = runner.invoke(cli.app, ["ingest", str(conv), "--user", uid], env=WIDE)
    assert result.exit_code == 0, result.output
    assert (
        ": 1 session written (0 unchanged, 0 replaced), 4 turns (0 already stored), 1 fact, 1 event"
        in " ".join(result.output.split())
    )
    assert cli._State.settings is not None and cli._State.settings.extractor == "llm"
    assert model.calls, "the ingest never asked the model"

    facts = session_store.active_facts(uid)
    assert [(f.text, f.source) for f in facts] == [("Sam keeps bees on the roof.", "llm")]
    snapshots = session_store.personality_history(uid)
    assert len(snapshots) == 2  # one per user turn with a signal
    assert [s.weight for s in snapshots] == pytest.approx([0.3, 0.3])
    assert snapshots[-1].openness == pytest.approx(3.0 + 0.3 * 2 + 0.3 * 0.7 * 2)


def test_memories_lists_typed_rows_with_speaker_status_and_local_time(
    cli_settings: Settings, tmp_path: Path
) -> None:
    from conftest import fresh_user

    uid = fresh_user("cli-list")
    conv = _conversation(
        tmp_path / "garden.json", ["I planted tomatoes in my garden on the balcony."]
    )
    assert runner.invoke(cli.app, ["ingest", str(conv), "--user", uid], env=WIDE).exit_code == 0
    turns = runner.invoke(cli.app, ["memories", "--user", uid, "--type", "turn"], env=WIDE)
    assert turns.exit_code == 0, turns.output
    assert "Sam: I planted tomatoes in my garden on the balcony." in turns.output
    assert "2024-05-01 09:00 (Wednesday)" in turns.output  # said at 09:00 +02:00, shown so
    assert "2 memories" in turns.output
    facts = runner.invoke(cli.app, ["memories", "--user", uid, "--type", "fact"], env=WIDE)
    assert facts.exit_code == 0, facts.output
    assert "fact" in facts.output and "active" in facts.output and "tomatoes" in facts.output
    assert "Sam:" not in facts.output  # a fact has no speaker


def test_window_words_name_whole_periods(cli_settings: Settings, tmp_path: Path) -> None:
    """`--from 2024 --to 2024` is the whole of 2024 (it was 1 December 2024 onwards: dateparser
    fills a bare year with today's month), and the header says which zone the bounds are in."""
    from conftest import fresh_user

    uid = fresh_user("cli-periods")
    conv = _conversation(tmp_path / "garden.json", ["I planted tomatoes in my garden."])
    assert runner.invoke(cli.app, ["ingest", str(conv), "--user", uid], env=WIDE).exit_code == 0

    def listing(*window: str) -> str:
        out = runner.invoke(cli.app, ["memories", "--user", uid, *window], env=WIDE)
        assert out.exit_code == 0, out.output
        return out.output

    year = listing("--from", "2024", "--to", "2024")
    assert "[2024-01-01 00:00 (Monday), 2025-01-01 00:00 (Wednesday)) UTC" in year
    assert "tomatoes" in year
    assert "tomatoes" in listing("--from", "May 2024", "--to", "May 2024")
    assert "tomatoes" not in listing("--from", "June 2024")


def test_memories_say_when_the_list_is_cut_show_ids_and_name_an_unknown_user(
    cli_settings: Settings, tmp_path: Path
) -> None:
    from conftest import fresh_user

    uid = fresh_user("cli-ids")
    conv = _conversation(tmp_path / "garden.json", ["I planted tomatoes in my garden."])
    assert runner.invoke(cli.app, ["ingest", str(conv), "--user", uid], env=WIDE).exit_code == 0
    cut = runner.invoke(cli.app, ["memories", "--user", uid, "-n", "1", "--ids"], env=WIDE)
    assert cut.exit_code == 0, cut.output
    assert "the first 1 memories; more match" in cut.output
    first = runner.invoke(cli.app, ["memories", "--user", uid, "-n", "10"], env=WIDE)
    assert "more match" not in first.output
    listed_ids = [w for w in cut.output.split() if re.fullmatch(r"(turn|event|fact)-[0-9a-f]+", w)]
    assert len(listed_ids) == 1 and len(listed_ids[0]) > 10  # whole, ready to copy
    forget = runner.invoke(
        cli.app, ["forget", "--user", uid, "--memory", listed_ids[0], "--dry-run"], env=WIDE
    )
    assert forget.exit_code == 0, forget.output
    users = runner.invoke(cli.app, ["analytics", "users"], env=WIDE)
    assert users.exit_code == 0 and uid in users.output
    for args in (["memories"], ["search", "tomatoes"]):
        unknown = runner.invoke(cli.app, [*args, "--user", uid + "-typo"], env=WIDE)
        assert unknown.exit_code == 0, unknown.output
        assert f"user '{uid}-typo' has nothing stored" in " ".join(unknown.output.split())
