"""Trust, through the CLI on the test server: user text is shown as typed (never Rich markup),
option values that typer does not convert get an error listing the valid ones, an ingest file
cannot copy files from outside its folder, the home and the checkpoints are private, and
forgetting reaches the LangGraph checkpoints and the image files too."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import LOCOMO, fresh_user, graph_shape
from typer.testing import CliRunner

import cli
from schema.settings import Settings

pytestmark = pytest.mark.integration

runner = CliRunner()
WIDE = {"COLUMNS": "400"}
HOSTILE = "I said [/b] and [bold red]x[/] then [link=file:///etc/passwd]y[/link] :smile:"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"pixels" * 400).decode()


def _run(*args: str) -> Any:
    return runner.invoke(cli.app, list(args), env=WIDE)


def _ok(*args: str) -> Any:
    result = _run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _flat(text: str) -> str:
    """Output as one line: whitespace collapsed, the error panel's frame removed."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text))


def _said(result: Any) -> str:
    return _flat(
        result.output + (result.exception.message if hasattr(result.exception, "message") else "")
    )


def _conversation(tmp_path: Path, uid: str, turns: list[dict[str, Any]]) -> Path:
    doc = {
        "format": "personagraph/v1",
        "user": {"id": uid, "name": "Robin"},
        "timezone": "UTC",
        "sessions": [{"id": "s1", "turns": turns}],
    }
    path = tmp_path / f"{uid}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _turn(text: str, minute: int, **extra: Any) -> dict[str, Any]:
    return {
        "role": "user",
        "text": text,
        "timestamp": f"2024-05-01T10:{minute:02d}:00+00:00",
        **extra,
    }


def test_user_text_is_shown_as_typed_never_as_markup(
    cli_settings: Settings, tmp_path: Path
) -> None:
    uid = fresh_user("markup")
    path = _conversation(tmp_path, uid, [_turn(HOSTILE, 0), _turn("I moved to Lisbon.", 1)])
    _ok("ingest", str(path))
    out = _flat(_ok("memories", "--user", uid, "--type", "turn").output)
    assert "[/b]" in out and "[bold red]x[/]" in out and "[link=file:///etc/passwd]" in out
    search = _flat(_ok("search", "what did I say", "--user", uid).output)
    assert "[/b]" in search
    shell = _ok("db", "shell", "RETURN '[/oops]' AS `[bold]`")
    assert "[/oops]" in shell.output and "[bold]" in shell.output


def test_a_plot_with_nothing_to_draw_says_so(cli_settings: Settings, tmp_path: Path) -> None:
    """`--plot` used to write nothing without a word when there were no snapshots or rows."""
    uid = fresh_user("noplot")
    for args in (["personality", "--user", uid], ["analytics", "activity", "--user", uid]):
        out = tmp_path / f"{args[0]}.png"
        said = _flat(_ok(*args, "--plot", str(out)).output)
        assert f"no plot written to {out}" in said, said
        assert not out.exists()


def test_emoji_codes_tabs_and_escape_sequences_in_user_text_stay_inert(
    cli_settings: Settings, tmp_path: Path
) -> None:
    """Found by `persona bench hostile`: ``:smile:`` became an emoji, a tab emptied its table
    cell, and an ESC in a turn reached the terminal as a colour sequence."""
    uid = fresh_user("controls")
    said = "I said :smile: then\tEND and \x1b[31mred\x1b[0m ok \u202eevil"
    path = _conversation(tmp_path, uid, [_turn(said, 0), _turn("I moved to Lisbon.", 1)])
    _ok("ingest", str(path))
    for args in (["memories", "--user", uid, "--type", "turn"], ["search", "said", "--user", uid]):
        out = _ok(*args).output
        assert "\x1b" not in out and "\u202e" not in out, repr(out)
        flat = _flat(out)
        assert ":smile:" in flat and "END" in flat, flat
        assert "\\x1b[31mred\\x1b[0m ok \\u202eevil" in flat, flat


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["search", "x", "--user", "u", "--type", "Turns"], "turn, event, fact, procedure"),
        (["search", "x", "--user", "u", "--expand", "all"], "event_turns"),
        (["search", "x", "--user", "u", "--path", "vector"], "search, prefilter"),
        (["search", "x", "--user", "u", "--unit", "event"], "memory, turn"),
        (["search", "x", "--user", "u", "-n", "0"], "greater than or equal to 1"),
        (["search", "x", "--user", "u", "-n", "501"], "less than or equal to 500"),
        (["search", "  ", "--user", "u"], "query is empty"),
        (["ask", "  ", "--user", "u"], "question is empty"),
        (["ask", "", "--user", "u", "--no-update"], "question is empty"),
        (["search", "x", "--user", " "], "user id cannot be empty"),
        (["search", "x", "--user", "u", "--from", "2024-05-02", "--to", "2024-05-01"], "swap"),
        (
            ["search", "x", "--user", "u", "--from", "2024-05-01", "--to", "2024-05-01"],
            "same moment",
        ),
        (["memories", "--user", "u", "--type", "bogus"], "turn, event, fact, procedure"),
        (["export", "--user", "u", "--out", "/no/such/folder/x.json"], "does not exist"),
        (["export", "--user", "u", "--out", "x.txt"], ".graphml or .json"),
        (["search", "x", "--user", "u", "--from", "2024-13-01"], "not a valid date"),
        (["search", "x", "--user", "u", "--from", "03/04/2024"], "ambiguous"),
        (["ask", "hi", "--user", "u", "--at", "0001-01-01"], "between 1900 and 2200"),
        (["analytics", "activity", "--user", "u", "--unit", "fortnight"], "day, week or month"),
    ],
)
def test_bad_option_values_get_an_error_not_a_traceback(
    cli_settings: Settings, args: list[str], says: str
) -> None:
    result = _run(*args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert says in _flat(result.output)


def test_option_values_are_case_insensitive(cli_settings: Settings) -> None:
    _ok("search", "anything", "--user", fresh_user("case"), "--type", "Turn", "--path", "PREFILTER")


@pytest.mark.parametrize("bad", ["../../../../etc/passwd", "/etc/passwd", "a/../../x.png"])
def test_an_ingest_file_cannot_copy_files_from_outside_its_folder(
    cli_settings: Settings, tmp_path: Path, bad: str
) -> None:
    uid = fresh_user("escape")
    path = _conversation(tmp_path, uid, [_turn("look at this", 0, image={"path": bad})])
    result = _run("ingest", str(path))
    said = _said(result)  # a PersonaError: `persona` prints it as "error: ..." (exit 2)
    assert result.exit_code != 0 and ("must be relative" in said or "outside" in said)
    assert not any(cli_settings.image_dir.rglob("*passwd*"))


def test_a_symlink_that_leads_outside_is_refused(cli_settings: Settings, tmp_path: Path) -> None:
    uid = fresh_user("link")
    secret = tmp_path.parent / f"{uid}-secret.txt"
    secret.write_text("top secret")
    folder = tmp_path / "conv"
    folder.mkdir()
    (folder / "pic.png").symlink_to(secret)
    path = _conversation(folder, uid, [_turn("look at this", 0, image={"path": "pic.png"})])
    result = _run("ingest", str(path))
    assert result.exit_code != 0 and "outside" in _said(result)


def test_the_home_and_checkpoints_are_private(cli_settings: Settings, tmp_path: Path) -> None:
    """A home and a checkpoint file left readable by others (0755/0644, as an older version or
    a umask of 022 made them) are made private when the checkpoints are opened; so are the
    SQLite journal files beside them."""
    import os

    from langgraph.checkpoint.sqlite import SqliteSaver

    from pipelines.app import App

    s = cli_settings.model_copy(update={"home": tmp_path / "home"})
    s.home.mkdir(mode=0o755)
    os.chmod(s.home, 0o755)  # mkdir's mode is masked by the umask: set it as it is found
    s.checkpoint_path.touch()
    os.chmod(s.checkpoint_path, 0o644)
    assert stat.S_IMODE(s.home.stat().st_mode) == 0o755  # the test starts from a public home
    with App(s).checkpointer() as saver:
        assert isinstance(saver, SqliteSaver)
        saver.setup()  # WAL mode: the -wal and -shm files exist while it is open
        journals = [p for p in s.home.iterdir() if p.name.startswith(s.checkpoint_path.name)]
        assert len(journals) == 3, journals
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in journals}
    assert stat.S_IMODE(s.home.stat().st_mode) == 0o700
    assert modes == dict.fromkeys(modes, 0o600), modes


def _threads(settings: Settings, uid: str) -> set[str]:
    db = sqlite3.connect(settings.checkpoint_path)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        rows = (
            db.execute("SELECT DISTINCT thread_id FROM checkpoints").fetchall()
            if "checkpoints" in tables
            else []
        )
    finally:
        db.close()
    return {r[0] for r in rows if str(r[0]).startswith(f"{uid}:")}


def _blobs(settings: Settings, needle: str) -> int:
    """How many checkpoint rows still hold ``needle`` (LangGraph stores msgpack blobs)."""
    db = sqlite3.connect(settings.checkpoint_path)
    try:
        hits = 0
        for table in ("checkpoints", "writes"):
            cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            for col in cols:
                q = f"SELECT count(*) FROM {table} WHERE instr(CAST({col} AS BLOB), ?) > 0"
                hits += db.execute(q, (needle.encode(),)).fetchone()[0]
        return hits
    finally:
        db.close()


def test_forget_reaches_checkpoints_and_images(cli_settings: Settings, tmp_path: Path) -> None:
    uid = fresh_user("forget")
    turns = [
        _turn("My sister Quenby adopted a ferret named Zorblat.", 0, image={"base64": PNG}),
        _turn("Zorblat sleeps in a drawer.", 1),
    ]
    _ok("ingest", str(_conversation(tmp_path, uid, turns)))
    _ok("ask", "--user", uid, "What is the ferret called?", "--at", "2024-05-02T09:00:00+00:00")
    assert _threads(cli_settings, uid) and _blobs(cli_settings, "Zorblat") > 0
    images = list(cli_settings.image_dir.rglob("*"))
    digest = __import__("hashlib").sha256(base64.b64decode(PNG)).hexdigest()
    assert any(p.name == digest for p in images)

    dry = _ok("forget", "--user", uid, "--dry-run")
    assert "would remove" in dry.output and _threads(cli_settings, uid)
    out = _flat(_ok("forget", "--user", uid, "--yes").output)
    assert "conversation thread" in out
    assert not _threads(cli_settings, uid)
    assert _blobs(cli_settings, "Zorblat") == 0
    wal = cli_settings.checkpoint_path.with_name(cli_settings.checkpoint_path.name + "-wal")
    for path in (cli_settings.checkpoint_path, wal):  # no free page or WAL frame keeps it
        assert not path.exists() or b"Zorblat" not in path.read_bytes(), path
    assert not any(p.name == digest for p in cli_settings.image_dir.rglob("*"))
    assert "no memories matched" in _ok("search", "Zorblat ferret", "--user", uid).output


def test_forgetting_a_user_who_never_existed_says_so(cli_settings: Settings) -> None:
    result = _run("forget", "--user", fresh_user("ghost"), "--yes")
    assert result.exit_code == 1
    assert "nothing to forget" in result.output and "forgot" not in result.output


def test_ask_no_update_leaves_no_checkpoint(cli_settings: Settings) -> None:
    uid = fresh_user("quiet")
    _ok("ask", "--user", uid, "Where do I live?", "--no-update")
    assert not _threads(cli_settings, uid)


def test_parallel_asks_for_one_user_lose_no_exchange(
    cli_settings: Settings, embedder: Any, tmp_path: Path
) -> None:
    """Four clients (each its own App, as four `persona ask` processes would be) ask at once;
    every exchange is stored, with distinct turn numbers, in one session."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import datetime

    from rich.console import Console

    from pipelines.app import App
    from pipelines.conversation import ask

    uid = fresh_user("parallel")
    now = datetime.fromisoformat("2024-06-01T09:00:00+00:00")

    def one(i: int) -> dict[str, Any]:
        app = App(cli_settings)
        app.__dict__["embedder"] = embedder  # one model in memory for the four clients
        try:
            return ask(
                app,
                uid,
                f"Question {i}: where did I park?",
                console=Console(file=None, quiet=True),
                now=now,
            )
        finally:
            app.close()

    with ThreadPoolExecutor(4) as pool:
        states = list(pool.map(one, range(4)))
    assert all(s.get("answer") for s in states)
    app = App(cli_settings)
    try:
        sessions = app.store.sessions(uid)
        turns = [t for s in sessions for t in app.store.session_turns(uid, s.id)]
    finally:
        app.close()
    questions = sorted(t.text for t in turns if t.role == "user")
    assert questions == [f"Question {i}: where did I park?" for i in range(4)]
    assert len(turns) == 8 and len({(t.session_id, t.index) for t in turns}) == 8
    assert len(sessions) == 1


def test_two_ingests_of_one_file_for_one_user_at_once_equal_one(
    cli_settings: Settings, embedder: Any
) -> None:
    """Two ingests of the same file for one user at once (each its own App, as two `persona
    ingest` processes would be): both succeed, the second waits for the first and finds its
    sessions stored, and the graph equals one clean ingest under another user."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.app import App
    from pipelines.ingest import ingest_file

    uid, clean = fresh_user("twice"), fresh_user("once")
    waited: list[str] = []

    def one(user: str) -> Any:
        app = App(cli_settings, note=waited.append)
        app.__dict__["embedder"] = embedder
        try:
            return ingest_file(
                LOCOMO, store=app.store, embedder=embedder, user=user, fmt="locomo",
                sample="conv-30", extractors=app.extractors, lock=app.user_lock,
            )  # fmt: skip
        finally:
            app.close()

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(one, [uid, uid]))
    one(clean)
    assert sorted(r.sessions_written for r in reports)[0] == 0  # the second found them stored
    assert sum(r.sessions_written for r in reports) == max(r.sessions_written for r in reports)
    assert any("waiting for it" in m for m in waited), waited
    app = App(cli_settings)
    try:
        assert graph_shape(app.conn, uid) == graph_shape(app.conn, clean)
    finally:
        app.close()


def _turns_of(settings: Settings, uid: str) -> list[str]:
    from pipelines.app import App

    app = App(settings)
    try:
        return [t.text for s in app.store.sessions(uid) for t in app.store.session_turns(uid, s.id)]
    finally:
        app.close()


def test_reingesting_an_edited_file_says_so_and_replace_applies_it(
    cli_settings: Settings, tmp_path: Path
) -> None:
    uid = fresh_user("edited")
    path = _conversation(tmp_path, uid, [_turn("I live in Porto.", 0), _turn("I like figs.", 1)])
    _ok("ingest", str(path))
    path = _conversation(tmp_path, uid, [_turn("I live in Braga.", 0), _turn("I like figs.", 1)])
    result = _run("ingest", str(path))
    said = _said(result)
    assert result.exit_code != 0 and "read differently" in said and "Braga" in said
    assert "I live in Porto." in _turns_of(cli_settings, uid)  # nothing was written
    out = _flat(_ok("ingest", str(path), "--replace").output)
    assert "1 replaced" in out
    texts = _turns_of(cli_settings, uid)
    assert "I live in Braga." in texts and "I live in Porto." not in texts
    found = _ok("search", "Porto", "--user", uid).output.split("\n", 1)[1]  # past the query
    assert "Porto" not in found and "Braga" in found
    again = _flat(_ok("ingest", str(path)).output)  # unchanged now: nothing to do
    assert "0 replaced" in again and "0 turns" in again


def test_reingesting_a_file_with_corrected_times_says_so_and_replace_moves_them(
    cli_settings: Settings, tmp_path: Path
) -> None:
    """A session keeps its id when only its timestamps are corrected; the turns' ids stay, so
    a re-ingest that compared texts alone said '0 sessions written' and kept the old times."""
    uid = fresh_user("retimed")
    turns = [_turn("I live in Porto.", 0), _turn("I like figs.", 1)]
    _ok("ingest", str(_conversation(tmp_path, uid, turns)))
    moved = [{**t, "timestamp": t["timestamp"].replace("05-01", "05-02")} for t in turns]
    path = _conversation(tmp_path, uid, moved)
    result = _run("ingest", str(path))
    said = _said(result)
    assert result.exit_code != 0 and "read differently" in said and "said at" in said, said
    assert "1 replaced" in _flat(_ok("ingest", str(path), "--replace").output)
    listed = _flat(_ok("memories", "--user", uid, "--type", "turn").output)
    assert "2024-05-02 10:00" in listed and "2024-05-01" not in listed


def test_sessions_without_ids_that_start_together_stay_apart(
    cli_settings: Settings, tmp_path: Path
) -> None:
    uid = fresh_user("sametime")
    doc = {
        "format": "personagraph/v1",
        "user": {"id": uid},
        "timezone": "UTC",
        "sessions": [
            {"turns": [_turn("Morning chat about ferns.", 0), _turn("Ferns need shade.", 1)]},
            {"turns": [_turn("A second chat, same minute.", 0)]},
        ],
    }
    path = tmp_path / "same.json"
    path.write_text(json.dumps(doc))
    _ok("ingest", str(path))
    from pipelines.app import App

    app = App(cli_settings)
    try:
        sessions = app.store.sessions(uid)
        counts = sorted(len(app.store.session_turns(uid, s.id)) for s in sessions)
    finally:
        app.close()
    assert counts == [1, 2]
    assert "0 turns" in _flat(_ok("ingest", str(path)).output)  # idempotent still


def test_event_expansion_keeps_to_the_window(session_store: Any, sample_user: str) -> None:
    """An event found in a window brings only those of its turns that lie inside it."""
    from schema.nodes import MemoryKind
    from schema.retrieval import Expansion, RetrievalRequest, TimeWindow

    uid = sample_user
    everything = session_store.retrieve(
        RetrievalRequest(
            user_id=uid,
            query="chat",
            kinds=[MemoryKind.EVENT],
            k=20,
            expand=[Expansion.EVENT_TURNS],
        )
    )
    event = next(e for e in everything.items if len({t.t for t in e.turns}) >= 3)
    times = sorted(t.t for t in event.turns)
    window = TimeWindow(start=min(times[0], event.t), end=times[-1])  # cuts its last turn
    found = session_store.retrieve(
        RetrievalRequest(
            user_id=uid,
            query=event.text[:60],
            kinds=[MemoryKind.EVENT],
            k=20,
            window=window,
            expand=[Expansion.EVENT_TURNS],
        )
    )
    turns = [t for e in found.items for t in e.turns]
    assert turns, "the event is found in the window, with some of its turns"
    assert all(window.contains(t.t) for t in turns)
    assert not any(t.t == times[-1] for t in turns)


def test_a_bad_timezone_is_named_in_the_file_and_in_the_environment(
    cli_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = fresh_user("mars")
    path = _conversation(tmp_path, uid, [_turn("hi", 0)])
    doc = json.loads(path.read_text())
    doc["timezone"] = "Mars/Olympus"
    path.write_text(json.dumps(doc))
    result = _run("ingest", str(path))
    assert result.exit_code != 0 and "unknown timezone 'Mars/Olympus'" in _said(result)

    from schema.errors import ConfigError

    monkeypatch.setenv("PERSONA_TIMEZONE", "Mars/Olympus")
    monkeypatch.setattr(cli._State, "settings", None)
    result = _run("search", "x", "--user", "u")
    assert isinstance(result.exception, ConfigError)
    assert "timezone" in result.exception.message and "Mars/Olympus" in result.exception.message


def test_the_embed_bar_ends_at_the_number_of_turns(store: Any, embedder: Any) -> None:
    """Facts are embedded with the turns; the bar counts turns and never overshoots."""
    from pipelines.ingest import Progress, ingest_file

    class Counting(Progress):
        def __init__(self) -> None:
            self.total: dict[str, int] = {}
            self.done: dict[str, int] = {}

        def start(self, task: str, total: int) -> None:
            self.total[task], self.done[task] = total, 0

        def advance(self, task: str, n: int = 1) -> None:
            self.done[task] += n

    from conftest import SAMPLE

    bar = Counting()
    report = ingest_file(
        SAMPLE, store=store, embedder=embedder, user=fresh_user("bar"), progress=bar
    )
    assert report.facts > 0  # facts were embedded alongside
    assert bar.done["embed"] == bar.total["embed"] == report.turns_written


def test_mixed_naive_and_aware_times_and_a_stray_sample_are_refused(
    cli_settings: Settings, tmp_path: Path
) -> None:
    uid = fresh_user("mixed")
    turns = [
        _turn("first", 0),
        {"role": "user", "text": "second", "timestamp": "2024-05-01T10:01:00"},
    ]
    result = _run("ingest", str(_conversation(tmp_path, uid, turns)))
    assert result.exit_code != 0 and "an offset, or none" in _said(result)
    path = _conversation(tmp_path, uid, [_turn("fine", 0)])
    result = _run("ingest", str(path), "--sample", "conv-26")
    assert result.exit_code != 0 and "native file" in _said(result)
