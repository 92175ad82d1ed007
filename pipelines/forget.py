"""Forgetting across every place a memory lives: the graph (with everything derived from it,
see :mod:`graph.forget`; the personality series recomputed by PEM from the evidence that
stays), the image files no one else uses, and the LangGraph checkpoints, which hold the
questions, answers and memories shown in each conversation thread.

Threads: a session removed whole takes its thread (``<user>:<session>``); every other thread
of the user keeps its history except the checkpoints that quote a forgotten text (the texts
no memory that stays still holds, :func:`graph.forget.forgotten_texts`): forgetting one event
or one turn no longer deletes its whole conversation. With the SQLite checkpointer those
checkpoints are deleted one by one; a checkpointer without row access loses the whole thread
instead (nothing quoted may stay). Deleted rows are overwritten (``secure_delete``) and the
file is compacted (``VACUUM``, then the WAL truncated), so forgotten text does not linger in
free pages of ``checkpoints.sqlite`` either.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.personality import replay
from graph.forget import apply_forget, forgotten_texts, personality_after
from pipelines.app import App
from schema.forget import ForgetPlan
from schema.nodes import PersonalitySnapshot

__all__ = ["ForgetPreview", "ThreadPlan", "forget", "forget_threads", "preview", "user_threads"]

Note = Callable[[str], None]
#: a forgotten text is looked for as a whole msgpack string always, and inside longer strings
#: (a prompt that quotes it) from this many bytes on: shorter ones would match too much
_SUBSTRING_MIN = 16


@dataclass
class ThreadPlan:
    """What forgetting does to the conversation threads: threads deleted whole, and in the
    threads that stay, the checkpoints (namespace, id) deleted because they quote a forgotten
    text."""

    delete: list[str] = field(default_factory=list)
    prune: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.delete and not self.prune


@dataclass
class ForgetPreview:
    """Everything a forget does, before it does it (``persona forget --dry-run`` prints it)."""

    plan: ForgetPlan
    images: list[Path]
    threads: ThreadPlan
    personality: list[tuple[PersonalitySnapshot, PersonalitySnapshot]]


def owns(user_id: str, thread_id: str) -> bool:
    """Whether a thread is the user's: ``<user>:<session>``, where session ids hold no ``:``
    (so user ``a`` does not own ``a:b:session-...``, a thread of user ``a:b``).

    >>> owns("a", "a:session-1"), owns("a", "a:b:session-1"), owns("a:b", "a:b:session-1")
    (True, False, True)
    """
    prefix = f"{user_id}:"
    return thread_id.startswith(prefix) and ":" not in thread_id[len(prefix) :]


def user_threads(saver: BaseCheckpointSaver[Any], user_id: str) -> set[str]:
    if isinstance(saver, SqliteSaver):
        with saver.cursor(transaction=False) as cur:
            cur.execute("SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM writes")
            every = {str(r[0]) for r in cur.fetchall()}
    else:
        every = {str(c.config["configurable"]["thread_id"]) for c in saver.list(None)}
    return {t for t in every if owns(user_id, t)}


def _needles(texts: Iterable[str]) -> list[bytes]:
    """How a text appears in a serialized checkpoint (LangGraph stores msgpack: a string is a
    header and its UTF-8 bytes)."""
    out: list[bytes] = []
    for text in texts:
        raw = text.encode("utf-8")
        n = len(raw)
        if n < 32:
            head = bytes([0xA0 | n])
        elif n < 0x100:
            head = b"\xd9" + n.to_bytes(1, "big")
        elif n < 0x10000:
            head = b"\xda" + n.to_bytes(2, "big")
        else:
            head = b"\xdb" + n.to_bytes(4, "big")
        out.append(raw if n >= _SUBSTRING_MIN else head + raw)
    return out


def _quotes(blob: Any, needles: list[bytes]) -> bool:
    data = bytes(blob or b"")
    return any(n in data for n in needles)


def plan_threads(
    saver: BaseCheckpointSaver[Any], user_id: str, sessions: list[str] | None, texts: list[str]
) -> ThreadPlan:
    """Which threads go whole (those of ``sessions``; all of the user's when None) and which
    checkpoints of the others quote one of ``texts``. Read only."""
    mine = user_threads(saver, user_id)
    whole = mine if sessions is None else {f"{user_id}:{s}" for s in sessions} & mine
    plan = ThreadPlan(delete=sorted(whole))
    needles = _needles(texts)
    kept = sorted(mine - whole)
    if not needles or not kept:
        return plan
    if isinstance(saver, SqliteSaver):
        marks = ",".join("?" * len(kept))
        hits: dict[str, set[tuple[str, str]]] = {}
        with saver.cursor(transaction=False) as cur:
            for query in (
                "SELECT thread_id, checkpoint_ns, checkpoint_id, checkpoint, metadata "
                f"FROM checkpoints WHERE thread_id IN ({marks})",
                "SELECT thread_id, checkpoint_ns, checkpoint_id, value, NULL "
                f"FROM writes WHERE thread_id IN ({marks})",
            ):
                cur.execute(query, kept)
                for tid, ns, cid, blob, meta in cur.fetchall():
                    if _quotes(blob, needles) or _quotes(meta, needles):
                        hits.setdefault(str(tid), set()).add((str(ns), str(cid)))
        plan.prune = {t: sorted(c) for t, c in sorted(hits.items())}
        return plan
    for tid in kept:  # no row access: a thread that quotes forgotten text goes whole
        for tup in saver.list({"configurable": {"thread_id": tid}}):
            blobs = [saver.serde.dumps_typed(tup.checkpoint)[1]]
            blobs += [saver.serde.dumps_typed(w[2])[1] for w in tup.pending_writes or []]
            if any(_quotes(b, needles) for b in blobs):
                plan.delete.append(tid)
                break
    plan.delete.sort()
    return plan


def _scrub(conn: sqlite3.Connection, note: Note | None) -> None:
    """Compact the checkpoint file so deleted rows leave no bytes behind (free pages, WAL)."""
    try:
        conn.execute("VACUUM")
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError as exc:  # another process holds the file
        busy, reason = (1,), str(exc)
    else:
        reason = "another process is reading it"
    if busy and busy[0] and note:
        note(
            f"the checkpoint file could not be compacted now ({reason}): the deleted rows "
            "are overwritten; compaction happens at the next forget"
        )


def apply_threads(
    saver: BaseCheckpointSaver[Any], plan: ThreadPlan, *, note: Note | None = None
) -> int:
    """Carry out a thread plan; returns how many threads and checkpoints went."""
    if isinstance(saver, SqliteSaver):
        saver.setup()
        with saver.lock:
            conn = saver.conn
            conn.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten
            with conn:
                for tid in plan.delete:
                    conn.execute("DELETE FROM checkpoints WHERE thread_id = ?", (tid,))
                    conn.execute("DELETE FROM writes WHERE thread_id = ?", (tid,))
                for tid, checkpoints in plan.prune.items():
                    for ns, cid in checkpoints:
                        key = (tid, ns, cid)
                        conn.execute(
                            "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                            "AND checkpoint_id = ?",
                            key,
                        )
                        conn.execute(
                            "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? "
                            "AND checkpoint_id = ?",
                            key,
                        )
            if not plan.empty:
                _scrub(conn, note)
    else:
        for tid in plan.delete:
            saver.delete_thread(tid)
    return len(plan.delete) + sum(len(c) for c in plan.prune.values())


def forget_threads(
    saver: BaseCheckpointSaver[Any],
    user_id: str,
    sessions: list[str] | None,
    texts: list[str] | None = None,
    *,
    note: Note | None = None,
) -> int:
    """Delete the threads of ``sessions`` (all of the user's when None) and, in the user's
    other threads, the checkpoints quoting one of ``texts``. Returns how many went."""
    return apply_threads(saver, plan_threads(saver, user_id, sessions, texts or []), note=note)


def _recompute(app: App) -> Callable[[list[PersonalitySnapshot]], list[PersonalitySnapshot]]:
    schedule = app.pem_schedule
    return lambda kept: replay(kept, schedule)


def _images(app: App, plan: ForgetPlan) -> list[Path]:
    """The image files to delete: those in the image store. A turn's image given as a URL
    (LoCoMo's img_url) was never copied, so there is no file to list or delete."""
    out = []
    for p in plan.images:
        path = Path(p)
        path = path if path.is_absolute() else app.settings.image_dir / path
        if path.is_file():
            out.append(path)
    return out


def _threads(app: App, plan: ForgetPlan, saver: BaseCheckpointSaver[Any] | None) -> ThreadPlan:
    texts = [] if plan.sessions is None else forgotten_texts(app.conn, plan)
    if saver is not None:
        return plan_threads(saver, plan.scope.user_id, plan.sessions, texts)
    with app.checkpointer() as own:
        return plan_threads(own, plan.scope.user_id, plan.sessions, texts)


def preview(
    app: App, plan: ForgetPlan, *, saver: BaseCheckpointSaver[Any] | None = None
) -> ForgetPreview:
    """Everything forgetting ``plan`` would do: the nodes (the plan), the image files, the
    threads and checkpoints, the personality snapshots recomputed. Changes nothing."""
    return ForgetPreview(
        plan=plan,
        images=_images(app, plan),
        threads=_threads(app, plan, saver),
        personality=personality_after(app.conn, plan, _recompute(app)),
    )


def forget(
    app: App,
    plan: ForgetPlan,
    *,
    saver: BaseCheckpointSaver[Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Carry out a previewed plan; returns what was removed, by kind (threads included)."""
    with app.user_lock(plan.scope.user_id):
        threads = _threads(app, plan, saver)  # the texts are read before they are deleted
        removed = apply_forget(
            app.conn,
            plan,
            image_dir=app.settings.image_dir,
            progress=progress,
            recompute=_recompute(app),
        )
        if saver is not None:
            gone = apply_threads(saver, threads, note=progress)
        else:
            with app.checkpointer() as own:
                gone = apply_threads(own, threads, note=progress)
    if threads.delete:
        removed["conversation thread"] = len(threads.delete)
    if threads.prune:
        removed["checkpoints quoting forgotten text"] = gone - len(threads.delete)
    return removed
