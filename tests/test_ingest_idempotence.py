"""Ingesting the sample conversation builds the documented graph, and ingesting it again
changes nothing (same subgraph, zero nodes/relationships created). Expectations are read from
the sample file itself, not from the code under test."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from conftest import SAMPLE, fresh_user, raw_snapshot

from graph.rows import native
from pipelines.ingest import IngestReport, ingest_file
from schema.model import ALLOWED_LABELS, GRAPH_MODEL, MEMORY_LABEL

pytestmark = pytest.mark.integration

DATA = json.loads(SAMPLE.read_text(encoding="utf-8"))
FILE_SESSIONS: list[dict[str, Any]] = DATA["sessions"]
USER_NAME = DATA["user"]["name"]


def _ts(turn: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(turn["timestamp"])


@dataclass
class Twice:
    user_id: str
    first: IngestReport
    second: IngestReport
    before: dict[str, Any]
    after: dict[str, Any]


@pytest.fixture(scope="module")
def twice(conn: Any, session_store: Any, embedder: Any) -> Twice:
    uid = fresh_user("idem")
    first = ingest_file(SAMPLE, store=session_store, embedder=embedder, user=uid)
    before = raw_snapshot(conn, uid)
    second = ingest_file(SAMPLE, store=session_store, embedder=embedder, user=uid)
    after = raw_snapshot(conn, uid)
    return Twice(uid, first, second, before, after)


def _rows(conn: Any, query: str, **params: Any) -> list[dict[str, Any]]:
    return [native(r) for r in conn.read(query, **params)]


def _turn_ids(conn: Any, uid: str) -> dict[tuple[str, int], str]:
    rows = _rows(
        conn,
        "MATCH (s:Session {user_id: $u})-[:HAS_TURN]->(t:Turn {user_id: $u}) "
        "RETURN s.source_id AS sid, t.index AS i, t.id AS id",
        u=uid,
    )
    return {(r["sid"], r["i"]): r["id"] for r in rows}


# ----------------------------------------------------------------------------- idempotence
def test_first_ingest_writes_everything(twice: Twice) -> None:
    n_turns = sum(len(s["turns"]) for s in FILE_SESSIONS)
    assert twice.first.users == [twice.user_id]
    assert twice.first.sessions_written == len(FILE_SESSIONS)
    assert twice.first.turns_written == n_turns
    assert twice.first.stats.nodes_created > n_turns
    assert twice.first.stats.relationships_created > 0
    assert twice.first.facts > 0 and twice.first.events >= len(FILE_SESSIONS)
    assert twice.first.supersessions >= 1


def test_second_ingest_creates_nothing(twice: Twice) -> None:
    n_turns = sum(len(s["turns"]) for s in FILE_SESSIONS)
    stats = twice.second.stats
    assert stats.nodes_created == 0
    assert stats.relationships_created == 0
    assert not twice.second.changed
    assert twice.second.sessions_written == 0
    assert twice.second.sessions_skipped == len(FILE_SESSIONS)
    assert twice.second.turns_written == 0
    assert twice.second.turns_skipped == n_turns
    assert twice.second.facts == 0 and twice.second.supersessions == 0


def test_second_ingest_leaves_the_subgraph_identical(twice: Twice) -> None:
    assert twice.before["nodes"], "the first ingest wrote the user's graph"
    assert twice.after["nodes"].keys() == twice.before["nodes"].keys()
    for node_id, value in twice.before["nodes"].items():
        assert twice.after["nodes"][node_id] == value, node_id
    assert twice.after["rels"] == twice.before["rels"]


def test_resumed_ingest_matches_a_full_one(
    twice: Twice, conn: Any, session_store: Any, embedder: Any, tmp_path: Any
) -> None:
    """An interrupted ingest (first sessions only) resumed with the whole file ends with the
    same graph shape as a single full ingest, writing only what was missing."""
    half = len(FILE_SESSIONS) // 2
    part = tmp_path / "part.json"
    part.write_text(json.dumps({**DATA, "sessions": FILE_SESSIONS[:half]}))
    uid = fresh_user("resume")
    ingest_file(part, store=session_store, embedder=embedder, user=uid)
    report = ingest_file(SAMPLE, store=session_store, embedder=embedder, user=uid)
    assert report.sessions_skipped == half
    assert report.sessions_written == len(FILE_SESSIONS) - half

    def shape(user: str) -> tuple[Counter[str], Counter[str], int]:
        snap = raw_snapshot(conn, user)
        labels = Counter(":".join(lbls) for lbls, _ in snap["nodes"].values())
        rels = Counter(r[1] for r in snap["rels"])
        superseded = sum(
            1 for _, props in snap["nodes"].values() if props.get("status") == "superseded"
        )
        return labels, rels, superseded

    assert shape(uid) == shape(twice.user_id)


# ----------------------------------------------------------------------------- structure
def test_sessions(twice: Twice, conn: Any, session_store: Any) -> None:
    uid = twice.user_id
    sessions = session_store.sessions(uid)
    assert [s.source_id for s in sessions] == [s["id"] for s in FILE_SESSIONS]
    for i, (stored, raw) in enumerate(zip(sessions, FILE_SESSIONS, strict=True)):
        assert stored.index == i
        assert stored.start == _ts(raw["turns"][0])
        assert stored.end == _ts(raw["turns"][-1])
        assert stored.user_id == uid
    owned = _rows(
        conn,
        "MATCH (u:User {id: $u, user_id: $u})-[:HAS_SESSION]->(s:Session) "
        "RETURN s.source_id AS sid",
        u=uid,
    )
    assert sorted(r["sid"] for r in owned) == sorted(s["id"] for s in FILE_SESSIONS)


def test_turns(twice: Twice, conn: Any, session_store: Any) -> None:
    uid = twice.user_id
    sessions = session_store.sessions(uid)
    for stored, raw in zip(sessions, FILE_SESSIONS, strict=True):
        turns = session_store.session_turns(uid, stored.id)
        assert [t.index for t in turns] == list(range(len(raw["turns"])))
        for turn, rt in zip(turns, raw["turns"], strict=True):
            assert turn.text == rt["text"]
            assert turn.role == rt["role"]
            assert turn.t == _ts(rt)
            assert turn.session_id == stored.id
            expected_speaker = rt.get("speaker") or (USER_NAME if rt["role"] == "user" else None)
            assert turn.speaker == expected_speaker
            caption = (rt.get("image") or {}).get("caption")
            assert turn.image_caption == caption
        has = _rows(
            conn,
            "MATCH (s:Session {id: $s, user_id: $u})-[:HAS_TURN]->(t:Turn) RETURN count(t) AS n",
            s=stored.id,
            u=uid,
        )
        assert has[0]["n"] == len(raw["turns"])


def test_calendar_tree(twice: Twice, conn: Any) -> None:
    uid = twice.user_id
    ids = _turn_ids(conn, uid)
    rows = _rows(
        conn,
        "MATCH (t:Turn {user_id: $u})-[:ON]->(d:Day {user_id: $u})-[:PART_OF]->"
        "(m:Month {user_id: $u})-[:PART_OF]->(y:Year {user_id: $u}) "
        "RETURN t.id AS turn, d.date AS date, m.year AS my, m.month AS mm, y.year AS yy",
        u=uid,
    )
    by_turn: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_turn.setdefault(r["turn"], []).append(r)
    for s in FILE_SESSIONS:
        for i, rt in enumerate(s["turns"]):
            found = by_turn[ids[(s["id"], i)]]
            assert len(found) == 1, "each turn is ON exactly one day"
            local = _ts(rt).date()  # the day in the turn's own offset
            assert found[0]["date"] == local
            assert (found[0]["my"], found[0]["mm"], found[0]["yy"]) == (
                local.year,
                local.month,
                local.year,
            )
    counts = _rows(
        conn,
        "MATCH (n {user_id: $u}) WHERE n:Day OR n:Month OR n:Year "
        "RETURN labels(n)[0] AS l, count(n) AS c",
        u=uid,
    )
    dates = {_ts(t).date() for s in FILE_SESSIONS for t in s["turns"]}
    got = {r["l"]: r["c"] for r in counts}
    assert got["Day"] == len(dates)
    assert got["Month"] == len({(d.year, d.month) for d in dates})
    assert got["Year"] == len({d.year for d in dates})


def _next_pairs(conn: Any, uid: str, label: str) -> set[tuple[Any, Any]]:
    rows = _rows(
        conn,
        f"MATCH (a:{label} {{user_id: $u}})-[:NEXT]->(b) RETURN a.id AS a, b.id AS b, "
        "b.user_id AS bu, labels(b) AS bl",
        u=uid,
    )
    for r in rows:
        assert r["bu"] == uid and label in r["bl"]
    return {(r["a"], r["b"]) for r in rows}


def test_next_chains(twice: Twice, conn: Any) -> None:
    uid = twice.user_id
    ids = _turn_ids(conn, uid)
    expected_turns = {
        (ids[(s["id"], i)], ids[(s["id"], i + 1)])
        for s in FILE_SESSIONS
        for i in range(len(s["turns"]) - 1)
    }
    assert _next_pairs(conn, uid, "Turn") == expected_turns  # in index order, never across
    days = _rows(conn, "MATCH (d:Day {user_id: $u}) RETURN d.id AS id, d.date AS date", u=uid)
    ordered = [d["id"] for d in sorted(days, key=lambda d: d["date"])]
    assert _next_pairs(conn, uid, "Day") == set(itertools.pairwise(ordered))
    sessions = _rows(
        conn, "MATCH (s:Session {user_id: $u}) RETURN s.id AS id, s.source_id AS sid", u=uid
    )
    by_sid = {r["sid"]: r["id"] for r in sessions}
    order = [by_sid[s["id"]] for s in FILE_SESSIONS]  # the file is chronological
    assert _next_pairs(conn, uid, "Session") == set(itertools.pairwise(order))


def test_provenance(twice: Twice, conn: Any) -> None:
    uid = twice.user_id
    ids = _turn_ids(conn, uid)
    user_turns = {
        ids[(s["id"], i)]
        for s in FILE_SESSIONS
        for i, t in enumerate(s["turns"])
        if t["role"] == "user"
    }
    for label in ("Fact", "Event"):
        rows = _rows(
            conn,
            f"MATCH (m:{label} {{user_id: $u}}) "
            "OPTIONAL MATCH (m)-[:DERIVED_FROM]->(t) "
            "RETURN m.id AS id, m.turn_ids AS turn_ids, collect(t.id) AS targets, "
            "collect(DISTINCT t.user_id) AS owners",
            u=uid,
        )
        assert rows, label
        for r in rows:
            assert r["targets"], f"{label} {r['id']} has no provenance"
            assert set(r["targets"]) == set(r["turn_ids"])
            assert r["owners"] == [uid]
            if label == "Fact":
                assert set(r["targets"]) <= user_turns, "facts come from user turns"
    # the events of a session cover each of its turns exactly once
    rows = _rows(
        conn,
        "MATCH (s:Session {user_id: $u})-[:HAS_EVENT]->(e:Event) "
        "RETURN s.source_id AS sid, e.turn_ids AS turn_ids",
        u=uid,
    )
    covered: dict[str, list[str]] = {}
    for r in rows:
        covered.setdefault(r["sid"], []).extend(r["turn_ids"])
    for s in FILE_SESSIONS:
        expected = [ids[(s["id"], i)] for i in range(len(s["turns"]))]
        assert sorted(covered[s["id"]]) == sorted(expected)


def test_boston_to_denver_supersession(twice: Twice, conn: Any, session_store: Any) -> None:
    uid = twice.user_id
    moved = next(t for s in FILE_SESSIONS for t in s["turns"] if "moved to Denver" in t["text"])
    rows = _rows(
        conn,
        "MATCH (new:Fact {user_id: $u})-[s:SUPERSEDES]->(old:Fact {user_id: $u}) "
        "RETURN new {.*, embedding: null} AS new, old {.*, embedding: null} AS old, s.at AS at",
        u=uid,
    )
    pair = [r for r in rows if "Boston" in r["old"]["text"] and "Denver" in r["new"]["text"]]
    assert len(pair) == 1, rows
    new, old, at = pair[0]["new"], pair[0]["old"], pair[0]["at"]
    assert old["status"] == "superseded"
    assert old["valid_to"] is not None
    assert old["valid_to"] == new["valid_from"] == at == _ts(moved)
    assert new["status"] == "active" and new.get("valid_to") is None
    assert old["slot"] == new["slot"]
    active = session_store.active_facts(uid, slot=old["slot"])
    assert [f.id for f in active] == [new["id"]]
    history = session_store.fact_history(uid, old["slot"])
    assert [f.id for f in history] == [old["id"], new["id"]]


def test_every_session_consolidated_exactly_once(twice: Twice) -> None:
    before = {
        p["source_id"]: p.get("consolidated_at")
        for lbls, p in twice.before["nodes"].values()
        if "Session" in lbls
    }
    after = {
        p["source_id"]: p.get("consolidated_at")
        for lbls, p in twice.after["nodes"].values()
        if "Session" in lbls
    }
    assert set(before) == {s["id"] for s in FILE_SESSIONS}
    assert all(v is not None for v in before.values())
    assert after == before


def test_written_graph_conforms_to_the_schema(twice: Twice, conn: Any) -> None:
    """Every label, property, relationship type and endpoint pair written is declared."""
    uid = twice.user_id
    declared = {spec.label: {p.name for p in spec.properties} for spec in GRAPH_MODEL.nodes}
    for labels, props in twice.before["nodes"].values():
        assert set(labels) <= ALLOWED_LABELS
        main = [lbl for lbl in labels if lbl != MEMORY_LABEL]
        assert len(main) == 1, labels
        assert (MEMORY_LABEL in labels) == bool(GRAPH_MODEL.node(main[0]).extra_labels)
        unknown = set(props) - declared[main[0]]
        assert not unknown, (main[0], unknown)
        assert props["user_id"] == uid
    pairs = {e.type: set(e.pairs) for e in GRAPH_MODEL.edges}
    edge_props = {e.type: {p.name for p in e.properties} for e in GRAPH_MODEL.edges}
    rows = conn.read(
        "MATCH (a {user_id: $u})-[r]->(b) RETURN type(r) AS t, labels(a) AS la, labels(b) AS lb, "
        "keys(r) AS keys, b.user_id AS bu",
        u=uid,
    )
    assert rows
    for r in rows:
        la = next(lbl for lbl in r["la"] if lbl != MEMORY_LABEL)
        lb = next(lbl for lbl in r["lb"] if lbl != MEMORY_LABEL)
        assert (la, lb) in pairs[r["t"]], (r["t"], la, lb)
        assert set(r["keys"]) <= edge_props[r["t"]]
        assert r["bu"] == uid, "no edge leaves the user's graph"
