"""``persona`` CLI smoke tests through typer's CliRunner (and ``main`` for error translation).

The CLI reads its settings through ``cli._shared.settings()``; the fixture points it at the
test session's settings (the test server's home) and restores it afterwards."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
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
