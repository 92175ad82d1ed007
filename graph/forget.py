"""Forgetting on Neo4j: plan what a scope removes (previewed before anything is deleted),
then apply the plan in one write transaction.

A scope's turns take with them everything derived from them (facts, episodes, habits and
goals, profile entries, personality snapshots whose evidence they were); a version that a
removed memory had superseded becomes current again, or, where a kept later version had
superseded the removed one, is superseded by that one directly; sessions, calendar days,
months and years, topics and entities left with nothing are removed; images no other turn uses are
deleted from disk after the commit. Forgetting one derived memory removes that memory only
(the turns it came from stay, and the plan says so). Re-applying a plan removes nothing new.

The personality series is recomputed from the evidence that remains: each snapshot stores
its observation (``observed``), so after the snapshots of forgotten turns go, the ones that
stay are replayed in order by the function the caller passes (``pipelines.forget`` passes
PEM, :func:`agent.personality.replay`; this module cannot import the agent) and written
back with steps 1..n. A plan's ``sessions`` are the sessions removed whole: their
conversation threads go; threads of sessions that stay are pruned of what quotes forgotten
text (:func:`forgotten_texts`, see ``pipelines.forget``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graph.connection import Neo4jConnection
from graph.connection import run as cypher
from graph.cypher import forget as F
from graph.cypher import read as R
from graph.cypher import write as W
from graph.retrieval import terms
from graph.rows import native, snapshot_props, to_snapshot
from schema.errors import ConfigError
from schema.forget import ForgetBridge, ForgetItem, ForgetPlan, ForgetScope
from schema.nodes import NODE_MODELS, TRAITS, PersonalitySnapshot, make_id

__all__ = [
    "Recompute",
    "apply_forget",
    "forgotten_texts",
    "personality_after",
    "plan_forget",
]

#: recomputes a personality series from the snapshots that stay (in step order)
Recompute = Callable[[list[PersonalitySnapshot]], list[PersonalitySnapshot]]
#: labels whose words a conversation thread can quote
_QUOTABLE = ("Turn", "Fact", "Event", "Procedure", "ProfileEntry")

_VERSIONED = ("Fact", "Procedure", "ProfileEntry")
#: NEXT chains to relink after a delete: (label, order key, scope key)
_CHAINS = (
    ("Session", "start", None),
    ("Event", "t", None),
    ("Day", "date", None),
    ("PersonalitySnapshot", "step", None),
)


def _item(row: dict[str, Any], why: str) -> ForgetItem:
    r = native(row)
    return ForgetItem(id=r["id"], label=r["label"], text=r["text"] or "", t=r.get("t"), why=why)


def plan_forget(conn: Neo4jConnection, scope: ForgetScope) -> ForgetPlan:
    """What forgetting ``scope`` would remove (read only)."""
    uid = scope.user_id

    def work(tx: Any) -> ForgetPlan:
        remove: dict[str, ForgetItem] = {}
        images: set[str] = set()
        turn_ids: list[str] = []
        sessions: set[str] = set()

        def add(rows: list[dict[str, Any]], why: str) -> None:
            for row in rows:
                if row.get("id") and row["id"] not in remove:
                    remove[row["id"]] = _item(row, why)
                    if row.get("image_path"):
                        images.add(row["image_path"])

        if scope.everything:
            for model in NODE_MODELS:
                add(cypher(tx, F.user_nodes_brief(model.label), user_id=uid).data(), "the user")
            return ForgetPlan(
                scope=scope,
                remove=list(remove.values()),
                images=_unshared(tx, uid, images, list(remove)),
                sessions=None,
            )
        if scope.memory_id:
            rows = cypher(tx, F.MEMORY, user_id=uid, id=scope.memory_id).data()
            if not rows:
                raise ConfigError(
                    f"user {uid!r} has no memory {scope.memory_id!r}",
                    hint=f"list them with their ids: persona memories --user {uid} --ids",
                )
            add(rows, "asked for")
            if rows[0]["label"] == "Fact":  # the profile's copy of it goes too
                mirrors = cypher(
                    tx, F.PROFILE_MIRRORS, user_id=uid, prefix=f"fact {scope.memory_id}:"
                ).data()
                said_with = cypher(tx, F.PROFILE_SAME_TURNS, user_id=uid, id=scope.memory_id)
                mirrors += [r for r in said_with.data() if _copies(r)]
                add(mirrors, "the profile's copy of the fact")
            if rows[0]["label"] == "Turn":  # its session goes too if this was its last turn
                turn_ids = [rows[0]["id"]]
                sessions.add(rows[0]["session_id"])
        elif scope.session_id:
            rows = cypher(tx, F.SESSION_TURNS, user_id=uid, session_id=scope.session_id).data()
            if not rows:
                raise ConfigError(
                    f"user {uid!r} has no session {scope.session_id!r}",
                    hint="a session's id, not its name in the ingested file: persona analytics "
                    f"sessions --user {uid} lists both",
                )
            remove[scope.session_id] = ForgetItem(
                id=scope.session_id,
                label="Session",
                text=str(rows[0]["source_id"]),
                why="asked for",
            )
            add([r for r in rows if r["id"]], "in the session")
            sessions.add(scope.session_id)
            turn_ids = [r["id"] for r in rows if r["id"]]
        else:
            w = scope.window
            assert w is not None
            rows = cypher(
                tx,
                F.turns_in_window(w.start is not None, w.end is not None),
                user_id=uid,
                start=w.start,
                end=w.end,
            ).data()
            add(rows, f"said in {w.describe()}")
            turn_ids = [r["id"] for r in rows]
            sessions |= {r["session_id"] for r in rows}
        if turn_ids:
            add(cypher(tx, F.DERIVED, user_id=uid, turn_ids=turn_ids).data(), "derived from them")
        ids = list(remove)
        add(
            cypher(
                tx, F.SESSIONS_LEFT_EMPTY, user_id=uid, session_ids=sorted(sessions), ids=ids
            ).data(),
            "left without turns",
        )
        for query, why in (
            (F.DAYS_LEFT_EMPTY, "a day left empty"),
            (F.tags_left_empty("Topic"), "a topic left without memories"),
            (F.tags_left_empty("Entity"), "an entity left without memories"),
        ):
            add(cypher(tx, query, user_id=uid, ids=list(remove)).data(), why)
        add(
            cypher(tx, F.MONTHS_LEFT_EMPTY, user_id=uid, ids=list(remove)).data(),
            "a month left empty",
        )
        add(
            cypher(tx, F.YEARS_LEFT_EMPTY, user_id=uid, ids=list(remove)).data(),
            "a year left empty",
        )
        reactivate: list[ForgetItem] = []
        bridges: list[ForgetBridge] = []
        for lbl in _VERSIONED:
            for row in cypher(tx, F.bridged(lbl), user_id=uid, ids=list(remove)).data():
                r = native(row)
                bridges.append(
                    ForgetBridge(
                        old=_item(row, "its successor is forgotten; a later version stays"),
                        new_id=r["new_id"],
                        new_text=r["new_text"] or "",
                        at=r["at"],
                    )
                )
            bridged = {b.old.id for b in bridges}
            for row in cypher(tx, F.superseded_by(lbl), user_id=uid, ids=list(remove)).data():
                if row["id"] not in bridged:
                    reactivate.append(_item(row, "its successor is forgotten"))
        return ForgetPlan(
            scope=scope,
            remove=list(remove.values()),
            reactivate=reactivate,
            bridges=bridges,
            images=_unshared(tx, uid, images, list(remove)),
            # threads go whole only with their session; others are pruned (pipelines.forget)
            sessions=sorted(i.id for i in remove.values() if i.label == "Session"),
        )

    return conn.read_tx(work)


def _unshared(tx: Any, uid: str, paths: set[str], ids: list[str]) -> list[str]:
    if not paths:
        return []
    used = {
        r["path"]
        for r in cypher(tx, F.IMAGES_STILL_USED, user_id=uid, paths=sorted(paths), ids=ids).data()
    }
    return sorted(paths - used)


def forgotten_texts(conn: Neo4jConnection, plan: ForgetPlan) -> list[str]:
    """The words that forgetting ``plan`` takes out of the user's memory: the texts of the
    turns and memories it removes (profile values and image captions too) that no memory
    staying holds. Read before the plan is applied; a thread quoting one must not keep it."""
    uid = plan.scope.user_id
    ids = [i.id for i in plan.remove]

    def work(tx: Any) -> list[str]:
        texts: set[str] = set()
        for lbl in _QUOTABLE:
            mine = [i.id for i in plan.remove if i.label == lbl]
            if mine:
                texts |= {r["text"] for r in cypher(tx, F.texts_of(lbl), user_id=uid, ids=mine)}
        if not texts:
            return []
        held = cypher(tx, F.TEXTS_STILL_HELD, user_id=uid, texts=sorted(texts), ids=ids)
        return sorted(texts - {r["text"] for r in held})

    return conn.read_tx(work)


def _renumbered(kept: list[PersonalitySnapshot]) -> list[PersonalitySnapshot]:
    """Without a recompute: the values stay, steps and ids close the gaps (so the next update
    takes the next free step instead of overwriting a snapshot that stays)."""
    return [
        s.model_copy(update={"id": make_id("personality", s.user_id, i + 1), "step": i + 1})
        for i, s in enumerate(kept)
    ]


def _recomputed(s: PersonalitySnapshot) -> dict[str, Any]:
    """What a recompute may change: the step, the weight and the traits (its time, evidence
    turn and observation stay as they were)."""
    props = snapshot_props(s)
    return {k: props[k] for k in ("step", "weight", *TRAITS)}


def _series_after(
    tx: Any, uid: str, gone: set[str], recompute: Recompute | None
) -> tuple[list[PersonalitySnapshot], list[PersonalitySnapshot]]:
    rows = cypher(tx, R.PERSONALITY_HISTORY, user_id=uid).data()
    kept = [s for s in (to_snapshot(r["s"]) for r in rows) if s.id not in gone]
    return kept, (recompute or _renumbered)(kept)


def personality_after(
    conn: Neo4jConnection, plan: ForgetPlan, recompute: Recompute | None = None
) -> list[tuple[PersonalitySnapshot, PersonalitySnapshot]]:
    """The snapshots that stay and change when ``plan`` is applied: (now, after). Read only;
    empty when the plan removes no snapshot (the series is then unchanged)."""
    gone = {i.id for i in plan.remove if i.label == "PersonalitySnapshot"}
    if not gone or plan.scope.everything:
        return []

    def work(tx: Any) -> list[tuple[PersonalitySnapshot, PersonalitySnapshot]]:
        kept, after = _series_after(tx, plan.scope.user_id, gone, recompute)
        return [(a, b) for a, b in zip(kept, after, strict=True) if a != b]

    return conn.read_tx(work)


def apply_forget(
    conn: Neo4jConnection,
    plan: ForgetPlan,
    *,
    image_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    recompute: Recompute | None = None,
) -> dict[str, int]:
    """Remove what the plan lists, in one write transaction; then delete unshared images.
    When snapshots go, the series that stays is recomputed by ``recompute`` (default: values
    kept, steps renumbered) in the same transaction. Returns the number of nodes removed per
    label (what was really there), and "personality snapshot recomputed" when any changed."""
    uid = plan.scope.user_id
    by_label: dict[str, list[str]] = defaultdict(list)
    for item in plan.remove:
        by_label[item.label].append(item.id)
    removed: dict[str, int] = {}

    def work(tx: Any) -> None:
        for lbl, ids in sorted(by_label.items()):
            summary = cypher(tx, F.delete_ids(lbl), user_id=uid, ids=ids).consume()
            removed[lbl] = summary.counters.nodes_deleted
        again: dict[str, list[str]] = defaultdict(list)
        for item in plan.reactivate:
            again[item.label].append(item.id)
        for lbl, ids in again.items():
            cypher(tx, F.reactivate(lbl), user_id=uid, ids=ids).consume()
        bridged: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for b in plan.bridges:
            bridged[b.old.label].append({"old_id": b.old.id, "new_id": b.new_id, "at": b.at})
        for lbl, rows in bridged.items():
            cypher(tx, F.bridge(lbl), user_id=uid, rows=rows).consume()
        if "PersonalitySnapshot" in by_label:
            gone = set(by_label["PersonalitySnapshot"])
            kept, after = _series_after(tx, uid, gone, recompute)
            rows = [
                {"old": a.id, "id": b.id, "props": _recomputed(b)}
                for a, b in zip(kept, after, strict=True)
                if a != b
            ]
            if rows:
                cypher(tx, F.RENUMBER_SNAPSHOTS, user_id=uid, rows=rows).consume()
                removed["personality snapshot recomputed"] = len(rows)
        if "Turn" in by_label:
            sessions = [r["s"] for r in cypher(tx, _SESSIONS_OF_USER, user_id=uid).data()]
            cypher(
                tx, W.relink_chain("Turn", "index", "session_id"), user_id=uid, scopes=sessions
            ).consume()
        for lbl, key, _ in _CHAINS:
            if lbl in by_label or (lbl == "Day" and by_label):
                cypher(tx, W.relink_chain(lbl, key), user_id=uid).consume()

    if plan.scope.everything:
        # a whole user can be large: batched deletes in auto-commit transactions
        for model in NODE_MODELS:
            conn.run_autocommit(W.delete_user_nodes(model.label), user_id=uid)
        removed = {k: len(v) for k, v in by_label.items()}
    else:
        conn.write_tx(work)
    for path in plan.images:
        target = Path(path)
        if image_dir is not None and not target.is_absolute():
            target = image_dir / target
        if target.is_file():
            target.unlink()
            if progress:
                progress(f"deleted image {target.name}")
    return {k: v for k, v in removed.items() if v}


_SESSIONS_OF_USER = "MATCH (s:Session) WHERE s.user_id = $user_id RETURN s.id AS s"


def _copies(row: dict[str, Any]) -> bool:
    """A profile entry said in a fact's turn copies it when its value shares a word with the
    fact that is not the user's name ("location: Berlin" and "Ana lives in Berlin"; not
    "name: Ana").

    >>> _copies({"value": "Berlin", "fact": "Ana lives in Berlin.", "user_name": "Ana"})
    True
    >>> _copies({"value": "Ana", "fact": "Ana lives in Berlin.", "user_name": "Ana"})
    False
    """
    name = set(terms(row.get("user_name") or ""))
    return bool((set(terms(row["value"] or "")) & set(terms(row["fact"] or ""))) - name)
