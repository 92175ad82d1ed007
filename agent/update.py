"""The update stage: after each answer, remember the exchange and learn from it.

Per turn (one transaction): the user's turn and the assistant's reply are stored in the
session, facts are extracted from the user's turn (superseding older ones), and the
personality estimate is updated (PEM) when the turn carries a signal.
Per session close (an idle gap, an explicit end, or the end of an ingest): the session is
segmented into topic events, habits/goals and the core profile are maintained through
explicit operations, and the session is marked consolidated exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agent.extraction.text import TURN_KEYWORDS, keywords
from agent.media import ImageStore
from agent.memory import (
    Extractors,
    FactState,
    PersonalityInferencer,
    episodic_update,
    procedural_update,
    semantic_update,
)
from agent.personality import PemSchedule, current, ema_update
from agent.policies.offline import LABEL as OFFLINE_LABEL
from agent.session import chat_session_id, session_is_open
from schema.nodes import PersonalitySnapshot, Session, Turn, User, make_id
from schema.protocols import MemoryStore, WriteBatch, WriteStats

__all__ = ["ExchangeReport", "Replacement", "UpdateStage", "personality_update"]


@dataclass(frozen=True)
class Replacement:
    """A fact this exchange superseded: what was true, and what is true now."""

    old_id: str
    old_text: str
    new_id: str
    new_text: str


@dataclass
class ExchangeReport:
    """What one exchange stored: the turns, the facts (ids, and their statements), the
    supersessions (old -> new), and the personality step with the profile before it."""

    session_id: str
    turn_ids: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    fact_texts: list[str] = field(default_factory=list)
    supersessions: int = 0
    replaced: list[Replacement] = field(default_factory=list)
    snapshot: PersonalitySnapshot | None = None
    personality_before: list[float] = field(default_factory=list)
    closed_sessions: list[str] = field(default_factory=list)
    stats: WriteStats = field(default_factory=WriteStats)
    elapsed_ms: float = 0.0


def personality_update(
    inferencer: PersonalityInferencer,
    user_id: str,
    turn: Turn,
    context: Sequence[Turn],
    history: list[PersonalitySnapshot],
    schedule: PemSchedule,
    batch: WriteBatch,
) -> PersonalitySnapshot | None:
    """Infer the momentary traits from ``turn``; with a signal, add the EMA-updated snapshot
    to ``batch`` (and to ``history``). t = the number of earlier snapshots."""
    obs = inferencer.infer(turn, context)
    if not obs.has_signal:
        return None
    t = len(history)
    values, w = ema_update(current(history), obs.as_list(), t, schedule)
    snap = PersonalitySnapshot(
        id=make_id("personality", user_id, t + 1),
        user_id=user_id,
        t=turn.t,
        step=t + 1,
        openness=values[0],
        conscientiousness=values[1],
        extraversion=values[2],
        agreeableness=values[3],
        neuroticism=values[4],
        weight=w,
        observed=obs.as_list(),
        turn_id=turn.id,
    )
    batch.snapshots.append(snap)
    history.append(snap)
    return snap


_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def _process_lock(user_id: str) -> Iterator[None]:
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(user_id, threading.RLock())
    with lock:
        yield


class UpdateStage:
    def __init__(
        self,
        store: MemoryStore,
        extractors: Extractors,
        *,
        schedule: PemSchedule | None = None,
        gap_minutes: float = 60.0,
        images: ImageStore | None = None,
        lock: Callable[[str], AbstractContextManager[Any]] | None = None,
    ) -> None:
        """``lock(user_id)`` serialises one user's writes (the App passes a file lock in the
        home, so parallel ``persona ask`` processes take turns instead of overwriting the
        same turn numbers); without one, writes are serialised within this process only."""
        self.lock = lock or _process_lock
        self.store = store
        self.extractors = extractors
        self.schedule = schedule or PemSchedule()
        self.gap = timedelta(minutes=gap_minutes)
        self.images = images

    def record_exchange(
        self,
        user: User,
        session: Session | None,
        question: str,
        asked_at: datetime,
        answer: str,
        answered_at: datetime,
        *,
        image: bytes | None = None,
        caption: str | None = None,
    ) -> ExchangeReport:
        with self.lock(user.id):
            # under the lock: another writer may have opened a session or added turns since
            # the agent looked, so the session and the turn numbers are read again here
            if session is None:
                last = self.store.last_session(user.id)
                if session_is_open(last, asked_at, self.gap.total_seconds() / 60):
                    session = last
            return self._record(
                user, session, question, asked_at, answer, answered_at, image, caption
            )

    def _record(
        self,
        user: User,
        session: Session | None,
        question: str,
        asked_at: datetime,
        answer: str,
        answered_at: datetime,
        image: bytes | None,
        caption: str | None,
    ) -> ExchangeReport:
        started = time.perf_counter()
        uid = user.id
        if session is None:
            index = len(self.store.sessions(uid))
            session = Session(
                id=chat_session_id(uid, asked_at),
                user_id=uid,
                source_id="chat",
                index=index,
                start=asked_at,
                end=answered_at,
            )
            earlier: list[Turn] = []
        else:
            earlier = self.store.session_turns(uid, session.id)
            session = session.model_copy(update={"end": max(session.end, answered_at)})
        report = ExchangeReport(session_id=session.id)
        n = len(earlier)
        sha = path = None
        if image is not None and self.images is not None:
            sha, stored = self.images.put(image)
            path = str(stored)
        speaker = user.name or "user"
        user_turn = Turn(
            id=make_id("turn", uid, session.id, n),
            user_id=uid,
            session_id=session.id,
            index=n,
            role="user",
            speaker=speaker,
            text=question,
            t=asked_at,
            keywords=keywords(f"{question} {caption or ''}", TURN_KEYWORDS, exclude=[speaker]),
            image_sha256=sha,
            image_path=path,
            image_caption=caption,
        )
        reply = Turn(
            id=make_id("turn", uid, session.id, n + 1),
            user_id=uid,
            session_id=session.id,
            index=n + 1,
            role="assistant",
            speaker="assistant",
            text=answer,
            t=answered_at,
            # the offline policy's label is no topic of the conversation ("policy")
            keywords=keywords(answer.removeprefix(OFFLINE_LABEL), TURN_KEYWORDS),
        )
        batch = WriteBatch(user=user, sessions=[session], turns=[user_turn, reply])
        fact_state = FactState.load(self.store, uid)
        was = {f.id: f.text for f in fact_state.active}
        facts = semantic_update(self.extractors.facts, fact_state, uid, [user_turn], batch)
        report.facts = [f.id for f in facts]
        report.fact_texts = [f.text for f in facts]
        report.supersessions = len(batch.supersessions)
        text = {**was, **{f.id: f.text for f in facts}}  # an old one may be new in this batch
        report.replaced = [
            Replacement(s.old_id, text.get(s.old_id, ""), s.new_id, text.get(s.new_id, ""))
            for s in batch.supersessions
        ]
        history = self.store.personality_history(uid)
        report.personality_before = current(history)
        report.snapshot = personality_update(
            self.extractors.personality,
            uid,
            user_turn,
            earlier,
            history,
            self.schedule,
            batch,
        )
        report.stats = self.store.write(batch)
        report.turn_ids = [user_turn.id, reply.id]
        for stale in self.store.sessions(uid, unconsolidated_only=True):
            if stale.id != session.id and stale.end < asked_at - self.gap:
                self.close_session(user, stale)
                report.closed_sessions.append(stale.id)
        report.elapsed_ms = (time.perf_counter() - started) * 1000
        return report

    def close_session(self, user: User, session: Session) -> WriteStats:
        """Consolidate a session once: episodes, habits/goals and profile operations."""
        with self.lock(user.id):
            return self._close(user, session)

    def _close(self, user: User, session: Session) -> WriteStats:
        uid = user.id
        stored = next((s for s in self.store.sessions(uid) if s.id == session.id), session)
        if session.consolidated_at is not None or stored.consolidated_at is not None:
            return WriteStats()  # consolidated already (the caller's object may be stale)
        turns = self.store.session_turns(uid, session.id, with_embeddings=True)
        batch = WriteBatch(user=user, consolidated_at=session.end)
        episodic_update(self.extractors.segmenter, uid, session, turns, batch)
        turn_ids = {t.id for t in turns}
        session_facts = [f for f in self.store.active_facts(uid) if set(f.turn_ids) & turn_ids]
        procedural_update(
            self.extractors.updater,
            uid,
            session,
            turns,
            self.store.procedures(uid),
            self.store.profile(uid),
            session_facts,
            batch,
        )
        return self.store.write(batch)
