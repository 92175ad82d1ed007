"""Times in a named IANA zone (``zoneinfo.ZoneInfo``) reach the store whenever a user's
timezone is configured (PERSONA_TIMEZONE, a file's "timezone" with naive timestamps, windows
from agent.temporal). Sending such a datetime through the Neo4j driver crashes the Python
process (the driver calls ``ZoneInfo.utcoffset`` with its own DateTime type, and CPython's C
zoneinfo segfaults on it), so these checks run in a child process and look at its exit code."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from conftest import ROOT, fresh_user

pytestmark = pytest.mark.integration

_PRELUDE = """
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from graph.connection import connect
from graph.embed import SentenceTransformerEmbedder
from graph.store import Neo4jMemoryStore
from schema.nodes import MemoryKind, Session, Turn, User, make_id
from schema.protocols import WriteBatch
from schema.retrieval import TimeWindow
from schema.settings import Settings

home, uid, dim = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = connect(Settings(home=home, neo4j_uri=None), start=False)
store = Neo4jMemoryStore(conn, SentenceTransformerEmbedder())  # the model is never loaded
ZONES = [ZoneInfo(z) for z in (
    "Europe/London", "America/New_York", "Australia/Brisbane", "America/Sao_Paulo", "Asia/Kolkata"
)]
"""


class ProcessCrashed(Exception):
    """The child process died from a signal (the xfail below expects exactly this)."""


def _check(result: subprocess.CompletedProcess[str]) -> None:
    if result.returncode < 0:
        raise ProcessCrashed(f"child died with signal {-result.returncode}: {result.stderr[-500:]}")
    assert result.returncode == 0, result.stderr[-2000:]


def _run(settings: Any, body: str, uid: str, dim: int = 384) -> subprocess.CompletedProcess[str]:
    code = _PRELUDE + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code, str(settings.home), uid, str(dim)],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=120,
    )


def test_child_process_harness_works(settings: Any, conn: Any, migrated: Any) -> None:
    """The same script with a fixed-offset time runs fine (so a crash below is the zone)."""
    result = _run(
        settings,
        """
        from datetime import timezone
        w = TimeWindow(start=datetime(2024, 3, 1, tzinfo=timezone.utc))
        print(len(store.list_memories(uid, list(MemoryKind), w)))
        """,
        fresh_user(),
    )
    _check(result)
    assert result.stdout.strip() == "0"


def test_window_in_a_named_zone_does_not_crash(settings: Any, conn: Any, migrated: Any) -> None:
    result = _run(
        settings,
        """
        # the crash reads memory it should not: likely on the first call, certain over many
        for i in range(60):
            for zone in ZONES:
                start = datetime(2024, 1 + i % 12, 1, tzinfo=zone)
                w = TimeWindow(start=start, end=start + timedelta(days=3))
                store.list_memories(uid, list(MemoryKind), w)
        print("ok")
        """,
        fresh_user(),
    )
    _check(result)


def test_memory_time_in_a_named_zone_is_written(
    settings: Any, conn: Any, migrated: Any, embedder: Any
) -> None:
    uid = fresh_user()
    result = _run(
        settings,
        """
        for i in range(24):
            t = datetime(2024, 1 + i % 12, 1, 9, 30, tzinfo=ZONES[i % len(ZONES)])
            sid = make_id("session", uid, i)
            turn = Turn(
                id=make_id("turn", uid, sid, 0), user_id=uid, session_id=sid, index=0,
                role="user", speaker="Lee", text=f"I moved house ({i})", t=t,
                embedding=[1.0] + [0.0] * (dim - 1),
            )
            store.write(WriteBatch(
                user=User(id=uid, user_id=uid),
                sessions=[Session(id=sid, user_id=uid, source_id=str(i), index=i, start=t, end=t)],
                turns=[turn],
            ))
        print("written")
        """,
        uid,
        embedder.dimension,
    )
    _check(result)
    rows = conn.read("MATCH (t:Turn {user_id: $u}) RETURN t.t AS t", u=uid)
    assert len(rows) == 24
