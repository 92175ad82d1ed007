"""Crash safety: an ingest killed with SIGKILL part-way, then run again, leaves exactly the
graph that a clean ingest of the same conversation leaves (per-label node and relationship
counts, and a hash of the content), compared against a clean ingest under another user. The
same holds when it is the Neo4j server that is killed mid-ingest and started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from conftest import LOCOMO, count_user_nodes, fresh_user, graph_shape

from schema.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLE_ID = "conv-43"  # 680 turns: two write chunks of 512, so a kill can land between them


def _ingest_cmd(user: str) -> list[str]:
    return [
        sys.executable, "-c", "import cli; cli.main()", "ingest", str(LOCOMO),
        "--format", "locomo", "--sample", SAMPLE_ID, "--user", user,
    ]  # fmt: skip


def _kill_when_written(conn: Any, user: str, proc: subprocess.Popen[bytes], kill: Any) -> int:
    """Wait until the ingest's first chunk is committed, then ``kill``; the nodes seen then."""
    at_kill = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        at_kill = count_user_nodes(conn, user)
        if at_kill > 0:  # the first chunk is committed: the next ones are being written
            break
        time.sleep(0.05)
    kill()
    return at_kill


def test_an_ingest_killed_midway_then_rerun_equals_a_clean_ingest(
    settings: Settings, conn: Any, migrated: Any
) -> None:
    if not LOCOMO.is_file():
        pytest.fail(f"the LoCoMo development split is missing: {LOCOMO}")
    env = {**os.environ, "PERSONA_HOME": str(settings.home), "PERSONA_TIMEZONE": "UTC"}
    killed, clean = fresh_user("killed"), fresh_user("clean")
    proc = subprocess.Popen(
        _ingest_cmd(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    at_kill = _kill_when_written(conn, killed, proc, lambda: proc.send_signal(signal.SIGKILL))
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    subprocess.run(_ingest_cmd(killed), env=env, check=True, capture_output=True, timeout=600)
    subprocess.run(_ingest_cmd(clean), env=env, check=True, capture_output=True, timeout=600)
    after, reference = graph_shape(conn, killed), graph_shape(conn, clean)
    assert 0 < at_kill < sum(reference["labels"].values()), "killed part-way"
    assert after == reference


def test_the_server_killed_midway_then_restarted_loses_nothing(
    settings: Settings, tmp_path: Any
) -> None:
    """SIGKILL of Neo4j itself during an ingest (its own home, not the session's server): the
    ingest ends with the rollback message and the way back, `persona db start` recovers the
    store, and the ingest run again equals a clean ingest."""
    from graph.connection import connect
    from graph.local.server import LocalNeo4j

    if not LOCOMO.is_file():
        pytest.fail(f"the LoCoMo development split is missing: {LOCOMO}")
    own = settings.model_copy(update={"home": tmp_path / "home"})
    server = LocalNeo4j(own)
    server.start()
    env = {**os.environ, "PERSONA_HOME": str(own.home), "PERSONA_TIMEZONE": "UTC"}
    killed, clean = fresh_user("server-killed"), fresh_user("clean")
    try:
        conn = connect(own, start=False)
        pid = server.status().pid
        assert pid
        proc = subprocess.Popen(
            _ingest_cmd(killed), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        at_kill = _kill_when_written(conn, killed, proc, lambda: os.killpg(pid, signal.SIGKILL))
        conn.close()
        out, _ = proc.communicate(timeout=300)
        said = " ".join(out.decode().split())
        assert proc.returncode == 2, said  # the CLI's exit code for an error it explains
        assert "stopped answering" in said, said
        assert "rolled back" in said or "may or may not have landed" in said, said
        assert "persona db start" in said, said
        assert "Traceback" not in said and "defunct connection" not in said, said
        assert not server.status().running
        started = subprocess.run(
            [sys.executable, "-c", "import cli; cli.main()", "db", "start"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert started.returncode == 0, started.stdout + started.stderr
        for user in (killed, clean):
            subprocess.run(_ingest_cmd(user), env=env, check=True, capture_output=True, timeout=600)
        conn = connect(own, start=False)
        after, reference = graph_shape(conn, killed), graph_shape(conn, clean)
        conn.close()
        assert 0 < at_kill < sum(reference["labels"].values()), "killed part-way"
        assert after == reference
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        ("IncompleteCommit", "may or may not have landed"),
        ("ServiceUnavailable", "rolled back: nothing of it was written"),
    ],
)
def test_a_lost_commit_is_not_called_a_rollback(exc: str, said: str) -> None:
    """A connection lost while the commit was in flight leaves its outcome unknown: saying
    "nothing was written" would be false (the first run of the server-kill test showed it)."""
    import types

    import neo4j.exceptions

    from graph.connection import Neo4jConnection

    lost = Neo4jConnection._lost(
        types.SimpleNamespace(uri="bolt://127.0.0.1:1"),  # type: ignore[arg-type]
        getattr(neo4j.exceptions, exc)("gone"),
        "write",
    )
    assert said in lost.message and "persona db start" in (lost.hint or "")


def test_a_chat_that_loses_the_server_mid_answer_says_so_and_recovers(
    settings: Settings, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policy's first step kills Neo4j (its own home), so the retrieve that follows meets a
    dead server mid-answer: the chat says what happened and how it goes on, and the next
    question starts the server again, is answered and remembered."""
    from typer.testing import CliRunner

    import cli
    from agent.policies.scripted import ScriptedChatModel
    from graph.connection import connect
    from graph.local.server import LocalNeo4j

    own = settings.model_copy(update={"home": tmp_path / "home"})
    server = LocalNeo4j(own)
    server.start()
    pid = server.status().pid
    assert pid

    def kill_then_retrieve(_messages: Any) -> str:
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while server.status().running and time.monotonic() < deadline:
            time.sleep(0.1)
        return '<think>Look it up.</think><retrieve>{"keywords": ["Lisbon"]}</retrieve>'

    model = ScriptedChatModel(
        script=[kill_then_retrieve], default="<think>Known.</think><answer>In Lisbon.</answer>"
    )
    monkeypatch.setattr("pipelines.app.build_policy", lambda _s: model)
    user = fresh_user("chat-lost")
    first, second = "Where did I move last spring?", "Where do I live now?"
    previous = cli._State.settings
    cli._State.settings = own
    try:
        out = CliRunner().invoke(
            cli.app, ["chat", "--user", user], input=f"{first}\n{second}\n/quit\n"
        )
        said = " ".join(out.output.split())
        assert out.exit_code == 0, (said, out.exception)
        assert "stopped answering" in said and "ask again" in said, said
        assert "Traceback" not in said and "defunct connection" not in said, said
        assert said.index("stopped answering") < said.index("In Lisbon."), said
        assert server.status().running, "the next question started the server again"
        assert "starting Neo4j" in said, said  # and said so (it does not start silently)
        conn = connect(own, start=False)
        try:
            asked = conn.read(
                "MATCH (t:Turn {user_id: $u, role: 'user'}) RETURN t.text AS text", u=user
            )
        finally:
            conn.close()
        assert [r["text"] for r in asked] == [second]  # the lost answer left nothing half-done
    finally:
        cli._State.settings = previous
        server.stop()
