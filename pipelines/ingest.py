"""``persona ingest``: validated conversations -> the memory graph.

Per conversation: validate everything first (nothing is written for bad input), embed the new
turns in batches, then write each session in ONE transaction (session, turns, time tree,
NEXT chains, facts with provenance and supersessions, topic events). Turns already stored are
neither re-embedded nor re-extracted, and consolidated sessions are not consolidated again,
so re-ingesting the same file changes nothing, and an interrupted ingest resumes.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.extraction.text import keywords
from agent.media import ImageStore
from agent.memory import (
    Extractors,
    FactState,
    episodic_update,
    heuristic_extractors,
    procedural_update,
    semantic_update,
)
from agent.personality import PemSchedule
from agent.update import personality_update
from pipelines.formats import Format, LoadedConversation, load
from schema.nodes import Session, Turn, User, make_id
from schema.protocols import Embedder, MemoryStore, WriteBatch, WriteStats
from schema.records import TurnRecord
from schema.timeutil import ensure_aware, get_tz

__all__ = ["IngestReport", "Progress", "ingest_conversation", "ingest_file", "turn_embedding_text"]


class Progress:
    """Progress callbacks; the CLI renders them as bars. The default does nothing."""

    def start(self, task: str, total: int) -> None: ...

    def advance(self, task: str, n: int = 1) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass
class IngestReport:
    users: list[str] = field(default_factory=list)
    sessions_written: int = 0
    sessions_skipped: int = 0
    turns_written: int = 0
    turns_skipped: int = 0
    facts: int = 0
    supersessions: int = 0
    events: int = 0
    stats: WriteStats = field(default_factory=WriteStats)
    embed_s: float = 0.0
    extract_s: float = 0.0
    write_s: float = 0.0
    total_s: float = 0.0

    @property
    def changed(self) -> bool:
        return self.stats.changed

    def merge(self, other: IngestReport) -> None:
        for name in (
            "sessions_written",
            "sessions_skipped",
            "turns_written",
            "turns_skipped",
            "facts",
            "supersessions",
            "events",
            "embed_s",
            "extract_s",
            "write_s",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.users += other.users
        self.stats = self.stats + other.stats


def turn_embedding_text(text: str, caption: str | None) -> str:
    return f"{text} [image: {caption}]" if caption else text


def _session_id(user_id: str, source_id: str) -> str:
    return make_id("session", user_id, source_id)


def _turn(
    conv: LoadedConversation,
    session_id: str,
    index: int,
    rec: TurnRecord,
    tz_name: str,
    images: ImageStore | None,
) -> Turn:
    tz = get_tz(tz_name)
    speaker = rec.speaker or (conv.user_name if rec.role == "user" and conv.user_name else rec.role)
    sha = path = None
    caption = rec.image.caption if rec.image else None
    if rec.image and images is not None and (rec.image.path or rec.image.base64):
        data = (
            (conv.base_dir / rec.image.path).read_bytes()
            if rec.image.path
            else base64.b64decode(rec.image.base64 or "")
        )
        sha, stored = images.put(data)
        path = str(stored)
    elif rec.image and rec.image.url:
        path = rec.image.url
    return Turn(
        id=make_id("turn", conv.user_id, session_id, index),
        keywords=keywords(f"{rec.text} {caption or ''}", 6, exclude=[speaker]),
        user_id=conv.user_id,
        session_id=session_id,
        index=index,
        role=rec.role,
        speaker=speaker,
        text=rec.text,
        t=ensure_aware(rec.timestamp, tz),
        source_id=rec.id,
        image_sha256=sha,
        image_path=path,
        image_caption=caption,
    )


def ingest_conversation(
    conv: LoadedConversation,
    *,
    store: MemoryStore,
    embedder: Embedder,
    timezone: str = "UTC",
    extractors: Extractors | None = None,
    images: ImageStore | None = None,
    progress: Progress | None = None,
    embed_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    started = time.perf_counter()
    prog = progress or Progress()
    ex = extractors or heuristic_extractors()
    report = IngestReport(users=[conv.user_id])
    tz_name = conv.record.timezone or timezone
    user = User(
        id=conv.user_id, user_id=conv.user_id, name=conv.user_name, created_at=datetime.now(UTC)
    )
    # ---- nodes (pure) -------------------------------------------------------------------
    plan: list[tuple[Session, list[Turn]]] = []
    for si, srec in enumerate(conv.record.sessions):
        first = ensure_aware(srec.turns[0].timestamp, get_tz(tz_name))
        source_id = srec.id or f"s-{first.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
        sid = _session_id(conv.user_id, source_id)
        turns = [_turn(conv, sid, i, t, tz_name, images) for i, t in enumerate(srec.turns)]
        session = Session(
            id=sid,
            user_id=conv.user_id,
            source_id=source_id,
            index=si,
            start=turns[0].t,
            end=turns[-1].t,
        )
        plan.append((session, turns))
    all_ids = [t.id for _, turns in plan for t in turns]
    known = store.existing_ids(conv.user_id, all_ids)
    consolidated = {s.id for s in store.sessions(conv.user_id) if s.consolidated_at is not None}
    # ---- embeddings for what is new ------------------------------------------------------
    todo = [
        t
        for _, turns in plan
        for t in turns
        if t.id not in known or (t.session_id not in consolidated)
    ]
    t0 = time.perf_counter()
    prog.start("embed", len(todo))
    vectors: Any = (
        embedder.embed(
            [turn_embedding_text(t.text, t.image_caption) for t in todo],
            progress=embed_progress or (lambda n: prog.advance("embed", n)),
        )
        if todo
        else []
    )
    for turn, vec in zip(todo, vectors, strict=True):
        turn.embedding = [float(x) for x in vec]
    report.embed_s = time.perf_counter() - t0
    # ---- extraction and one transaction per session -------------------------------------
    facts = FactState.load(store, conv.user_id)
    history = store.personality_history(conv.user_id)
    prog.start("write", len(plan))
    for session, turns in plan:
        new_turns = [t for t in turns if t.id not in known]
        if not new_turns and session.id in consolidated:
            report.sessions_skipped += 1
            report.turns_skipped += len(turns)
            prog.advance("write")
            continue
        t1 = time.perf_counter()
        batch = WriteBatch(
            user=user, sessions=[session], turns=new_turns, consolidated_at=session.end
        )
        facts_written = semantic_update(
            ex.facts, facts, conv.user_id, new_turns, batch, known_ids=known
        )
        events = []
        if ex.mode == "llm":  # the model-free mode makes no personality claims
            for turn in (t for t in new_turns if t.role == "user"):
                personality_update(
                    ex.personality, conv.user_id, turn, turns, history, PemSchedule(), batch
                )
        if session.id not in consolidated:
            events = episodic_update(ex.segmenter, conv.user_id, session, turns, batch)
            procedural_update(
                ex.updater,
                conv.user_id,
                session,
                turns,
                store.procedures(conv.user_id),
                store.profile(conv.user_id),
                facts_written,
                batch,
            )
        report.extract_s += time.perf_counter() - t1
        t2 = time.perf_counter()
        report.stats = report.stats + store.write(batch)
        report.write_s += time.perf_counter() - t2
        report.sessions_written += 1
        report.turns_written += len(new_turns)
        report.turns_skipped += len(turns) - len(new_turns)
        report.facts += len(facts_written)
        report.supersessions += len(batch.supersessions)
        report.events += len(events)
        prog.advance("write")
    report.total_s = time.perf_counter() - started
    return report


def ingest_file(
    path: Path,
    *,
    store: MemoryStore,
    embedder: Embedder,
    user: str | None = None,
    fmt: Format = "auto",
    sample: str | None = None,
    timezone: str = "UTC",
    extractors: Extractors | None = None,
    images: ImageStore | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Validate the whole file, then ingest each conversation in it."""
    started = time.perf_counter()
    conversations = load(path, fmt, user=user, sample=sample)  # raises before any write
    total = IngestReport()
    for conv in conversations:
        if progress:
            progress.note(f"{conv.user_id}: {len(conv.record.sessions)} sessions")
        total.merge(
            ingest_conversation(
                conv,
                store=store,
                embedder=embedder,
                timezone=timezone,
                extractors=extractors,
                images=images,
                progress=progress,
            )
        )
    total.total_s = time.perf_counter() - started
    return total
