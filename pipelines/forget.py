"""Forgetting across every place a memory lives: the graph (with everything derived from it,
see :mod:`graph.forget`), the image files no one else uses, and the LangGraph checkpoints,
which hold the questions, answers and memories shown in each conversation thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from graph.forget import apply_forget
from pipelines.app import App
from schema.forget import ForgetPlan

__all__ = ["forget", "forget_threads"]


def forget_threads(
    saver: BaseCheckpointSaver[Any], user_id: str, sessions: list[str] | None
) -> int:
    """Delete the user's conversation threads (LangGraph checkpoints hold questions, answers and
    the memories shown): those of ``sessions``, or all of the user's when None. Returns how many."""
    prefix = f"{user_id}:"
    if sessions is None:
        threads = {
            str(c.config["configurable"]["thread_id"])
            for c in saver.list(None)
            if str(c.config["configurable"].get("thread_id", "")).startswith(prefix)
        }
    else:
        threads = {prefix + s for s in sessions}
    gone = 0
    for tid in sorted(threads):
        if saver.get_tuple({"configurable": {"thread_id": tid}}) is not None:
            gone += 1
        saver.delete_thread(tid)
    return gone


def forget(
    app: App,
    plan: ForgetPlan,
    *,
    saver: BaseCheckpointSaver[Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Carry out a previewed plan; returns what was removed, by kind (threads included)."""
    removed = apply_forget(app.conn, plan, image_dir=app.settings.image_dir, progress=progress)
    if saver is not None:
        threads = forget_threads(saver, plan.scope.user_id, plan.sessions)
    else:
        with app.checkpointer() as own:
            threads = forget_threads(own, plan.scope.user_id, plan.sessions)
    if threads:
        removed["conversation thread"] = threads
    return removed
