"""Crash safety: an ingest killed with SIGKILL part-way, then run again, leaves exactly the
graph that a clean ingest of the same conversation leaves (per-label node and relationship
counts, and a hash of the content), compared against a clean ingest under another user."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from conftest import LOCOMO, count_user_nodes, fresh_user

from schema.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLE_ID = "conv-43"  # 680 turns: two write chunks of 512, so a kill can land between them


def _shape(conn: Any, user_id: str) -> dict[str, Any]:
    """What must match between two users' graphs of one conversation: counts per label and
    relationship type, and a hash of every node's text-like content (ids embed the user)."""
    labels = conn.read(
        "MATCH (n) WHERE n.user_id = $u "
        "RETURN [x IN labels(n) WHERE x <> 'Memory'][0] AS l, count(*) AS n",
        u=user_id,
    )
    rels = conn.read(
        "MATCH (a)-[r]->(b) WHERE a.user_id = $u AND b.user_id = $u "
        "RETURN type(r) AS t, count(*) AS n",
        u=user_id,
    )
    texts = conn.read(
        "MATCH (n) WHERE n.user_id = $u "
        "RETURN coalesce(n.text, n.name, n.key, toString(n.date), '') AS x ORDER BY x",
        u=user_id,
    )
    digest = hashlib.sha256("\n".join(str(r["x"]) for r in texts).encode()).hexdigest()
    return {
        "labels": {r["l"]: r["n"] for r in labels},
        "rels": {r["t"]: r["n"] for r in rels},
        "content": digest,
    }


def _ingest_cmd(user: str) -> list[str]:
    return [
        sys.executable, "-c", "import cli; cli.main()", "ingest", str(LOCOMO),
        "--format", "locomo", "--sample", SAMPLE_ID, "--user", user,
    ]  # fmt: skip


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
    at_kill = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        at_kill = count_user_nodes(conn, killed)
        if at_kill > 0:  # the first chunk is committed: the next ones are being written
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    subprocess.run(_ingest_cmd(killed), env=env, check=True, capture_output=True, timeout=600)
    subprocess.run(_ingest_cmd(clean), env=env, check=True, capture_output=True, timeout=600)
    after, reference = _shape(conn, killed), _shape(conn, clean)
    assert 0 < at_kill < sum(reference["labels"].values()), "killed part-way"
    assert after == reference
