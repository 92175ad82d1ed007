"""Sessions: a conversation continues its session until an idle gap (default 60 minutes) or an
explicit end; then the next message starts a new session and the old one is consolidated."""

from __future__ import annotations

from datetime import datetime, timedelta

from schema.nodes import Session, make_id
from schema.protocols import MemoryStore

__all__ = ["chat_session_id", "resolve_session", "session_is_open"]


def chat_session_id(user_id: str, started: datetime) -> str:
    return make_id("session", user_id, "chat", started.isoformat())


def session_is_open(last: Session | None, now: datetime, gap_minutes: float) -> bool:
    """The last session continues when it is not consolidated (ended) and its last turn is
    less than ``gap_minutes`` before ``now``."""
    return (
        last is not None
        and last.consolidated_at is None
        and last.start <= now
        and now - last.end <= timedelta(minutes=gap_minutes)
    )


def resolve_session(
    store: MemoryStore, user_id: str, now: datetime, gap_minutes: float
) -> tuple[Session | None, bool]:
    """The session a message at ``now`` belongs to: (the open session or None, is_new).

    The last session continues when it is not consolidated (ended) and its last turn is less
    than ``gap_minutes`` before ``now``; otherwise a new one starts."""
    last = store.last_session(user_id)
    if session_is_open(last, now, gap_minutes):
        return last, False
    return None, True
