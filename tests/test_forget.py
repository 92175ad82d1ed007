"""Forgetting on the real Neo4j: a plan previews everything that goes (derived memories
included) and changes nothing; applying it removes exactly that, makes a superseded version
current again, recomputes the personality series from the evidence that stays, leaves no
node of the user without its source, never touches another user (content compared), keeps
an image another user still uses, and re-applying removes nothing new.

Through the CLI: --session, --from/--to and --memory; --dry-run lists every node, image
file, thread and checkpoint that would go; forgetting one derived memory keeps its
conversation thread; forgotten text is gone from the checkpoint file's bytes."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import T0, new_user, raw_counts, seed_timeline
from conftest import raw_snapshot
from typer.testing import CliRunner

import cli
from agent.personality import PemSchedule, ema_update, replay
from graph.forget import apply_forget, plan_forget
from schema.errors import ConfigError
from schema.forget import ForgetScope
from schema.nodes import make_id
from schema.retrieval import RetrievalRequest, TimeWindow
from schema.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def pair(session_store: Any) -> tuple[str, dict[str, str], str]:
    uid, other = new_user("fa"), new_user("fb")
    ids = seed_timeline(session_store, uid)
    seed_timeline(session_store, other)
    return uid, ids, other


def _orphans(conn: Any, uid: str) -> int:
    """Derived nodes whose provenance turns are gone (there must be none)."""
    return conn.read(
        "MATCH (n) WHERE n.user_id = $u AND (n:Fact OR n:Event OR n:Procedure) "
        "AND size(coalesce(n.turn_ids, [])) > 0 AND NOT (n)-[:DERIVED_FROM]->(:Turn) "
        "RETURN count(n) AS n",
        u=uid,
    )[0]["n"]


def test_a_plan_changes_nothing(conn: Any, pair: Any) -> None:
    uid, _, _ = pair
    before = raw_counts(conn, uid)
    plan = plan_forget(conn, ForgetScope(user_id=uid, everything=True))
    assert raw_counts(conn, uid) == before
    nodes = {k: v for k, v in before.items() if not k.startswith("-")}
    assert plan.counts() == dict(sorted(nodes.items()))


def test_forgetting_a_turn_takes_what_was_derived_from_it(
    conn: Any, pair: Any, session_store: Any
) -> None:
    uid, ids, other = pair
    other_before = raw_counts(conn, other)
    turn = ids["I moved to Denver today."]
    plan = plan_forget(conn, ForgetScope(user_id=uid, memory_id=turn))
    gone = {i.id for i in plan.remove}
    assert turn in gone
    assert ids["denver"] in gone  # the fact it gave
    assert any(i.label == "PersonalitySnapshot" for i in plan.remove)  # its evidence is gone
    assert [i.id for i in plan.reactivate] == [ids["lisbon"]]  # Lisbon holds again
    removed = apply_forget(conn, plan)
    assert removed["Turn"] == 1 and removed["Fact"] == 1
    facts = {f.id: f for f in session_store.active_facts(uid)}
    assert ids["lisbon"] in facts and facts[ids["lisbon"]].valid_to is None
    assert _orphans(conn, uid) == 0
    assert raw_counts(conn, other) == other_before  # another user's identical life: untouched
    hits = session_store.retrieve(RetrievalRequest(user_id=uid, query="moved to Denver today"))
    assert turn not in {m.id for m in hits.items}
    again = plan_forget(conn, ForgetScope(user_id=uid, memory_id=ids["I live in Lisbon."]))
    assert ids["lisbon"] in {i.id for i in again.remove}


def test_forgetting_a_session_and_a_time_range(conn: Any, pair: Any, session_store: Any) -> None:
    uid, ids, _ = pair
    sessions = session_store.sessions(uid)
    plan = plan_forget(conn, ForgetScope(user_id=uid, session_id=sessions[0].id))
    labels = plan.counts()
    assert labels["Turn"] == 2 and labels["Session"] == 1 and labels["Fact"] == 1
    apply_forget(conn, plan)
    assert [s.id for s in session_store.sessions(uid)] == [s.id for s in sessions[1:]]
    window = TimeWindow(start=T0 + timedelta(weeks=2), end=T0 + timedelta(weeks=3))
    plan = plan_forget(conn, ForgetScope(user_id=uid, window=window))
    assert plan.counts()["Turn"] == 2 and ids["swim"] in {i.id for i in plan.remove}
    apply_forget(conn, plan)
    assert _orphans(conn, uid) == 0
    assert apply_forget(conn, plan) == {}  # re-applying: nothing left to remove


def test_forgetting_the_whole_user(conn: Any, pair: Any) -> None:
    uid, _, other = pair
    other_before = raw_counts(conn, other)
    plan = plan_forget(conn, ForgetScope(user_id=uid, everything=True))
    apply_forget(conn, plan)
    assert raw_counts(conn, uid) == {}
    assert raw_counts(conn, other) == other_before


def test_bad_scopes_are_named(conn: Any, pair: Any) -> None:
    uid, _, _ = pair
    with pytest.raises(ValueError):
        ForgetScope(user_id=uid)  # nothing chosen
    with pytest.raises(ValueError):
        ForgetScope(user_id=uid, session_id="s", memory_id="m")  # two at once
    with pytest.raises(ConfigError) as exc:
        plan_forget(conn, ForgetScope(user_id=uid, memory_id="no-such"))
    assert "no memory 'no-such'" in exc.value.message
    with pytest.raises(ConfigError):
        plan_forget(conn, ForgetScope(user_id=uid, session_id="no-such"))


def _sourceless(conn: Any, uid: str) -> int:
    """Nodes of the user naming a source turn the user no longer has (there must be none)."""
    derived = conn.read(
        "MATCH (n) WHERE n.user_id = $u "
        "AND (n:Fact OR n:Event OR n:Procedure OR n:ProfileEntry) "
        "UNWIND coalesce(n.turn_ids, []) AS tid "
        "OPTIONAL MATCH (t:Turn {id: tid}) WHERE t.user_id = $u "
        "WITH t WHERE t IS NULL RETURN count(*) AS n",
        u=uid,
    )[0]["n"]
    snapshots = conn.read(
        "MATCH (s:PersonalitySnapshot) WHERE s.user_id = $u AND s.turn_id IS NOT NULL "
        "AND NOT EXISTS { MATCH (t:Turn {id: s.turn_id}) WHERE t.user_id = $u } "
        "RETURN count(s) AS n",
        u=uid,
    )[0]["n"]
    return int(derived) + int(snapshots)


# ------------------------------------------------------------------- personality recompute
def _series(session_store: Any, uid: str) -> list[Any]:
    return session_store.personality_history(uid)


def test_forgetting_evidence_recomputes_the_personality_series(
    conn: Any, pair: Any, session_store: Any
) -> None:
    """Snapshot 1 (Lisbon) goes with its turn; snapshot 2 (Denver) stays and is recomputed as
    the first update from its own observation: step 1, the first update's weight, traits from
    neutral. The next update then takes step 2 and overwrites nothing."""
    uid, ids, other = pair
    other_before = raw_snapshot(conn, other)
    before = _series(session_store, uid)
    assert [s.step for s in before] == [1, 2]
    schedule = PemSchedule()
    plan = plan_forget(conn, ForgetScope(user_id=uid, memory_id=ids["I live in Lisbon."]))
    assert [i.id for i in plan.remove if i.label == "PersonalitySnapshot"] == [before[0].id]
    removed = apply_forget(conn, plan, recompute=lambda kept: replay(kept, schedule))
    assert removed["PersonalitySnapshot"] == 1 and removed["personality snapshot recomputed"] == 1
    after = _series(session_store, uid)
    assert len(after) == 1
    snap = after[0]
    expected, w = ema_update([3.0] * 5, before[1].observed, 0, schedule)
    assert snap.step == 1 and snap.weight == w == 0.5
    assert snap.id == make_id("personality", uid, 1)
    assert [snap.openness, snap.conscientiousness, snap.extraversion] == expected[:3]
    assert snap.extraversion == 3.0 != before[1].extraversion  # no signal: back to neutral
    assert snap.turn_id == ids["I moved to Denver today."] and snap.t == before[1].t
    assert (
        conn.read(  # its evidence edge and its day stay
            "MATCH (s:PersonalitySnapshot {id: $id})-[:DERIVED_FROM]->(t:Turn {id: $t}) "
            "MATCH (s)-[:ON]->(:Day) RETURN count(*) AS n",
            id=snap.id,
            t=snap.turn_id,
        )[0]["n"]
        == 1
    )
    assert _sourceless(conn, uid) == 0
    assert raw_snapshot(conn, other) == other_before
    again = plan_forget(conn, ForgetScope(user_id=uid, memory_id=ids["I moved to Denver today."]))
    assert apply_forget(conn, again, recompute=lambda k: replay(k, schedule))["Turn"] == 1
    assert _series(session_store, uid) == []


def test_without_a_recompute_the_steps_still_close_their_gaps(conn: Any, pair: Any) -> None:
    uid, ids, _ = pair
    plan = plan_forget(conn, ForgetScope(user_id=uid, memory_id=ids["I live in Lisbon."]))
    apply_forget(conn, plan)
    rows = conn.read(
        "MATCH (s:PersonalitySnapshot) WHERE s.user_id = $u RETURN s.id AS id, s.step AS step, "
        "s.openness AS o",
        u=uid,
    )
    assert rows == [{"id": make_id("personality", uid, 1), "step": 1, "o": 4.2}]


# ------------------------------------------------------------------------ through the CLI
runner = CliRunner()
WIDE = {"COLUMNS": "400"}
PNG = b"\x89PNG\r\n\x1a\n" + b"forget-me-pixels" * 300
DIGEST = hashlib.sha256(PNG).hexdigest()


def _run(*args: str) -> Any:
    return runner.invoke(cli.app, list(args), env=WIDE)


def _ok(*args: str) -> str:
    result = _run(*args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return re.sub(r"\s+", " ", result.output)


def _conversation(tmp_path: Path, uid: str) -> Path:
    """Two sessions: a home, a habit, a shared photo; then a move (fact and profile change)."""

    def turn(text: str, when: str, **extra: Any) -> dict[str, Any]:
        return {"role": "user", "text": text, "timestamp": when, **extra}

    image = {"base64": base64.b64encode(PNG).decode()}
    doc = {
        "format": "personagraph/v1",
        "user": {"id": uid, "name": "Robin"},
        "timezone": "UTC",
        "sessions": [
            {
                "id": "spring",
                "turns": [
                    turn("I live in Lisbon.", "2024-03-01T10:00:00+00:00"),
                    turn("Here is my cat Mochi.", "2024-03-01T10:01:00+00:00", image=image),
                    turn("I run every Thursday morning.", "2024-03-01T10:02:00+00:00"),
                ],
            },
            {
                "id": "summer",
                "turns": [
                    turn("I moved to Porto last week.", "2024-06-10T09:00:00+00:00"),
                    turn("My neighbour Quillon plays the oboe.", "2024-06-10T09:01:00+00:00"),
                ],
            },
        ],
    }
    path = tmp_path / f"{uid}.json"
    path.write_text(json.dumps(doc))
    return path


def _images(settings: Settings) -> list[Path]:
    return [p for p in settings.image_dir.rglob("*") if p.name.startswith(DIGEST)]


def _texts(conn: Any, uid: str) -> set[str]:
    return {
        r["x"] for r in conn.read("MATCH (t:Turn) WHERE t.user_id = $u RETURN t.text AS x", u=uid)
    }


@pytest.fixture
def two_homes(cli_settings: Settings, tmp_path: Path, conn: Any) -> tuple[str, str]:
    """Two users who ingested the same file (so one image file serves both)."""
    a, b = new_user("fga"), new_user("fgb")
    for uid in (a, b):
        _ok("ingest", str(_conversation(tmp_path, uid)))
    counts = raw_counts(conn, a)
    assert counts.get("Event") and counts.get("Fact") and counts.get("ProfileEntry"), counts
    assert len(_images(cli_settings)) == 1
    return a, b


def _session_id(session_store: Any, uid: str, source: str) -> str:
    return next(s.id for s in session_store.sessions(uid) if s.source_id == source)


def test_cli_forget_a_session_lists_everything_and_keeps_a_shared_image(
    cli_settings: Settings, conn: Any, session_store: Any, two_homes: tuple[str, str]
) -> None:
    a, b = two_homes
    b_before = raw_snapshot(conn, b)
    spring = _session_id(session_store, a, "spring")
    plan = plan_forget(conn, ForgetScope(user_id=a, session_id=spring))
    labels = plan.counts()
    assert labels["Turn"] == 3 and labels["Event"] >= 1 and labels["ProfileEntry"] >= 1, labels
    dry = _ok("forget", "--user", a, "--session", spring, "--dry-run")
    assert all(i.id in dry for i in plan.remove), "the dry run lists every node"
    assert f"would remove {len(plan.remove)} nodes" in dry
    assert "would delete 0 image files" in dry  # b still shows the photo
    assert raw_counts(conn, a) and spring in {s.id for s in session_store.sessions(a)}

    out = _ok("forget", "--user", a, "--session", spring, "--yes")
    assert "forgot" in out and "3 Turn" in out
    assert len(_images(cli_settings)) == 1, "the image b still uses stays"
    assert _texts(conn, a) == {
        "I moved to Porto last week.",
        "My neighbour Quillon plays the oboe.",
    }
    assert _sourceless(conn, a) == 0
    assert raw_snapshot(conn, b) == b_before, "another user's graph changed"
    found = _ok("search", "Lisbon cat Mochi Thursday", "--user", a, "--unit", "turn")
    assert "Mochi" not in found.split("why", 1)[-1] and "Lisbon." not in found.split("why", 1)[-1]

    b_spring = _session_id(session_store, b, "spring")
    dry = _ok("forget", "--user", b, "--session", b_spring, "--dry-run")
    assert "would delete 1 image files" in dry and DIGEST in dry
    _ok("forget", "--user", b, "--session", b_spring, "--yes")
    assert _images(cli_settings) == [], "no one uses the image any more"


def test_cli_forget_a_time_range_and_one_memory(
    cli_settings: Settings, conn: Any, session_store: Any, two_homes: tuple[str, str]
) -> None:
    a, b = two_homes
    b_before = raw_snapshot(conn, b)
    dry = _ok("forget", "--user", a, "--from", "2024-06-01", "--to", "2024-07-01", "--dry-run")
    assert "I moved to Porto last week." in dry and "Lisbon" not in dry.split("would remove")[0]
    _ok("forget", "--user", a, "--from", "2024-06-01", "--to", "2024-07-01", "--yes")
    assert _texts(conn, a) == {
        "I live in Lisbon.",
        "Here is my cat Mochi.",
        "I run every Thursday morning.",
    }
    facts = {f.text: f for f in session_store.active_facts(a)}
    assert any("Lisbon" in t for t in facts), "Lisbon holds again once the move is forgotten"
    event = conn.read(
        "MATCH (e:Event) WHERE e.user_id = $u RETURN e.id AS id, e.turn_ids AS turns", u=a
    )[0]
    out = _ok("forget", "--user", a, "--memory", event["id"], "--yes")
    assert "1 Event" in out and "Turn" not in out  # the turns it summarised stay
    assert len(_texts(conn, a)) == 3
    assert _sourceless(conn, a) == 0
    assert raw_snapshot(conn, b) == b_before
    result = _run("forget", "--user", a, "--memory", event["id"], "--yes")
    assert result.exit_code != 0 and "no memory" in str(result.exception or result.output)


# ------------------------------------------------------------- checkpoints: threads and bytes
def _file_bytes(settings: Settings) -> bytes:
    path = settings.checkpoint_path
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _checkpoints(settings: Settings, thread: str) -> int:
    db = sqlite3.connect(settings.checkpoint_path)
    try:
        return int(
            db.execute(
                "SELECT count(*) FROM checkpoints WHERE thread_id = ?", (thread,)
            ).fetchone()[0]
        )
    finally:
        db.close()


@pytest.fixture
def plain_sqlite(cli_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The checkpoint file as most SQLite builds leave it: deleted rows are not overwritten
    (Debian's build turns ``secure_delete`` on by default, which would hide a leak here), and
    another process (the UI) holds it open, so closing a connection leaves the WAL in place."""
    import pipelines.app as app_module

    real = app_module.open_checkpoints

    def opened(settings: Settings) -> sqlite3.Connection:
        conn = real(settings)
        conn.execute("PRAGMA secure_delete = OFF")
        return conn

    monkeypatch.setattr(app_module, "open_checkpoints", opened)
    reader = real(cli_settings)
    reader.execute("PRAGMA journal_mode").fetchall()
    try:
        yield
    finally:
        reader.close()


Q1 = "Where did I park the vermilion tandem bicycle yesterday?"
Q2 = "What is the capital of France?"


def test_forgetting_keeps_threads_whose_session_stays_and_leaves_no_bytes(
    cli_settings: Settings, conn: Any, session_store: Any, plain_sqlite: None
) -> None:
    uid = new_user("fgc")
    _ok("ask", "--user", uid, Q1, "--at", "2024-05-02T09:00:00+00:00")
    _ok("ask", "--user", uid, Q2, "--at", "2024-05-02T09:05:00+00:00")
    _ok("end-session", "--user", uid)
    (session,) = session_store.sessions(uid)
    thread = f"{uid}:{session.id}"
    n = _checkpoints(cli_settings, thread)
    assert n > 0 and Q1.encode() in _file_bytes(cli_settings)
    events = conn.read("MATCH (e:Event) WHERE e.user_id = $u RETURN e.id AS id", u=uid)
    assert events, "closing the session made an event"

    # one derived memory: its conversation stays whole (the turns it came from stay)
    _ok("forget", "--user", uid, "--memory", events[0]["id"], "--yes")
    assert _checkpoints(cli_settings, thread) == n

    # one turn: the thread stays, without the checkpoints that quote it (the second
    # question's; the first one's stay), and no byte of the forgotten text stays in the file
    turn = next(t for t in session_store.session_turns(uid, session.id) if t.text == Q2)
    dry = _ok("forget", "--user", uid, "--memory", turn.id, "--dry-run")
    assert "would delete 0 conversation threads" in dry and f"of thread {thread}" in dry
    out = _ok("forget", "--user", uid, "--memory", turn.id, "--yes")
    forgot = out.split("forgot ", 1)[1]
    assert "checkpoints quoting forgotten text" in forgot and "conversation thread" not in forgot
    assert 0 < _checkpoints(cli_settings, thread) < n
    assert Q2.encode() not in _file_bytes(cli_settings), "the forgotten question is in the file"
    assert Q1.encode() in _file_bytes(cli_settings)

    # the session: its thread goes, and nothing of it stays in the file
    dry = _ok("forget", "--user", uid, "--session", session.id, "--dry-run")
    assert "would delete 1 conversation threads" in dry and f"thread {thread}" in dry
    out = _ok("forget", "--user", uid, "--session", session.id, "--yes")
    assert "1 conversation thread" in out.split("forgot ", 1)[1]
    assert _checkpoints(cli_settings, thread) == 0
    assert Q1.encode() not in _file_bytes(cli_settings)


@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_forgetting_one_turn_then_reingesting_the_file_restores_its_episode(
    conn: Any, session_store: Any, embedder: Any, order: str
) -> None:
    """The episode that covered a forgotten turn goes with it; re-ingesting the file brings
    the turn back AND its session's episodes, as they were (same ids, nothing doubled)."""
    from conftest import SAMPLE, fresh_user, graph_shape

    from pipelines.ingest import ingest_file

    uid = fresh_user("fr")
    ingest_file(SAMPLE, store=session_store, embedder=embedder, user=uid)
    before = graph_shape(conn, uid)
    events = {r["id"] for r in conn.read("MATCH (e:Event {user_id: $u}) RETURN e.id AS id", u=uid)}
    turn = conn.read(
        "MATCH (e:Event {user_id: $u})-[:DERIVED_FROM]->(t:Turn {role: 'user'}) "
        f"RETURN t.id AS id ORDER BY t.t {order} LIMIT 1",
        u=uid,
    )[0]["id"]
    plan = plan_forget(conn, ForgetScope(user_id=uid, memory_id=turn))
    assert any(i.label == "Event" for i in plan.remove)
    apply_forget(conn, plan)
    report = ingest_file(SAMPLE, store=session_store, embedder=embedder, user=uid)
    assert report.turns_written == 1 and report.events >= 1
    after = {r["id"] for r in conn.read("MATCH (e:Event {user_id: $u}) RETURN e.id AS id", u=uid)}
    assert after == events
    assert graph_shape(conn, uid) == before  # profile, habits and goals as they were


def test_forgetting_a_fact_takes_the_profile_copy_of_it(
    conn: Any, session_store: Any, embedder: Any
) -> None:
    """The profile mirrors facts on its slots ("location: Sam lives in Boston ..."); asked to
    forget the fact, the copy goes too (it stayed in `analytics as-of`)."""
    from conftest import SAMPLE, fresh_user

    from pipelines.ingest import ingest_file

    uid = fresh_user("fp")
    ingest_file(SAMPLE, store=session_store, embedder=embedder, user=uid)

    def boston_entries() -> int:
        return conn.read(
            "MATCH (e:ProfileEntry {user_id: $u}) WHERE e.value CONTAINS 'Boston' "
            "RETURN count(e) AS n",
            u=uid,
        )[0]["n"]

    assert boston_entries() >= 1
    fact = conn.read(
        "MATCH (f:Fact {user_id: $u}) WHERE f.text CONTAINS 'lives in Boston' RETURN f.id AS id",
        u=uid,
    )[0]["id"]
    plan = plan_forget(conn, ForgetScope(user_id=uid, memory_id=fact))
    assert "ProfileEntry" in plan.counts()
    apply_forget(conn, plan)
    assert boston_entries() == 0
    assert [e.value for e in session_store.profile(uid) if e.key == "location"]  # Denver stays
