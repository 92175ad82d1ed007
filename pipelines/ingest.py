"""``persona ingest``: validated conversations -> the memory graph.

Per conversation: validate everything first (nothing is written for bad input), embed the new
turns in batches, then write each session in ONE transaction (session, turns, time tree,
NEXT chains, facts with provenance and supersessions, topic events). Turns already stored are
neither re-embedded nor re-extracted, and consolidated sessions are not consolidated again,
so re-ingesting the same file changes nothing, and an interrupted ingest resumes.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.extraction.text import TURN_KEYWORDS, keywords, sentences
from agent.media import ImageStore
from agent.memory import (
    Extractors,
    FactState,
    ProceduralState,
    episodic_update,
    heuristic_extractors,
    procedural_update,
    semantic_update,
)
from agent.personality import PemSchedule
from agent.update import personality_update
from pipelines.formats import Format, LoadedConversation, load
from pipelines.terminal import plural
from schema.errors import IngestError
from schema.nodes import Event, Fact, MemoryNode, Session, Turn, User, make_id, previous_turns
from schema.protocols import Embedder, MemoryStore, WriteBatch, WriteStats
from schema.records import TurnRecord
from schema.timeutil import ensure_aware, get_tz

__all__ = ["IngestReport", "Progress", "ingest_conversation", "ingest_file"]


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
    sessions_replaced: int = 0
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
            "sessions_replaced",
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


def _session_id(user_id: str, source_id: str) -> str:
    return make_id("session", user_id, source_id)


def _image_file(conv: LoadedConversation, rel: str) -> Path:
    """The image beside the conversation file; a link that leads outside its folder is refused
    (an ingest file must not copy arbitrary readable files into the image store)."""
    base = conv.base_dir.resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise IngestError(
            f"image path {rel!r} leads outside the conversation's folder ({base})",
            file=str(conv.path or conv.source),
            field="image.path",
        )
    if not path.is_file():
        raise IngestError(
            f"image file {rel!r} not found in {base}", file=str(conv.path or conv.source)
        )
    return path


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
            _image_file(conv, rec.image.path).read_bytes()
            if rec.image.path
            else base64.b64decode(rec.image.base64 or "")
        )
        sha, stored = images.put(data)
        path = str(stored)
    elif rec.image and rec.image.url:
        path = rec.image.url
    return Turn(
        id=make_id("turn", conv.user_id, session_id, index),
        keywords=keywords(f"{rec.text} {caption or ''}", TURN_KEYWORDS, exclude=[speaker]),
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


def _edited_sessions(
    conv: LoadedConversation, store: MemoryStore, plan: list[tuple[Session, list[Turn]]]
) -> list[tuple[str, int, str]]:
    """(session source id, turn index, what changed) of every stored turn the file now
    gives another text, time, role or speaker."""
    stored = store.stored_turns(conv.user_id, [t.id for _, turns in plan for t in turns])
    out = []
    for session, turns in plan:
        for t in turns:
            old = stored.get(t.id)
            if old is None:
                continue
            if old.text != t.text:
                out.append(
                    (session.source_id, t.index, f"{_short(old.text)!r} -> {_short(t.text)!r}")
                )
            elif old.t != t.t:
                said = f"said at {old.t.isoformat()} -> {t.t.isoformat()}"
                out.append((session.source_id, t.index, said))
            elif (old.role, old.speaker) != (t.role, t.speaker):
                who = f"{old.role} {old.speaker!r} -> {t.role} {t.speaker!r}"
                out.append((session.source_id, t.index, who))
    return out


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


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
    chunk_turns: int = 512,
    replace: Callable[[str, str], None] | None = None,
    schedule: PemSchedule | None = None,
) -> IngestReport:
    """Ingest one conversation. A session already stored whose turns now read differently (the
    file was edited) is an error naming them, unless ``replace(user_id, session_id)`` is given: it
    forgets the stored session (and what was derived from it) so the new text is ingested."""
    started = time.perf_counter()
    prog = progress or Progress()
    ex = extractors or heuristic_extractors()
    report = IngestReport(users=[conv.user_id])
    tz_name = conv.record.timezone or timezone
    user = User(
        id=conv.user_id,
        user_id=conv.user_id,
        name=conv.user_name,
        created_at=datetime.now(UTC),
        timezone=conv.record.timezone,  # the file's own zone, not the fallback setting
    )
    # ---- nodes (pure) -------------------------------------------------------------------
    plan: list[tuple[Session, list[Turn]]] = []
    seen: dict[str, int] = {}
    for si, srec in enumerate(conv.record.sessions):
        first = ensure_aware(srec.turns[0].timestamp, get_tz(tz_name))
        source_id = srec.id or f"s-{first.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
        seen[source_id] = seen.get(source_id, 0) + 1
        if seen[source_id] > 1:  # sessions without an id that start at the same time stay apart
            source_id = f"{source_id}-{seen[source_id]}"
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
    edited = _edited_sessions(conv, store, plan)
    if edited and replace is None:
        shown = "; ".join(f"session {src!r} turn {i}: {change}" for src, i, change in edited[:3])
        raise IngestError(
            f"{len(edited)} stored turns read differently in this file (text, time, role or "
            f"speaker: {shown}" + (" ..." if len(edited) > 3 else "") + "); nothing was written",
            file=str(conv.path or conv.source),
            hint="ingest it with --replace to forget those sessions (and what was derived from "
            "them) and store the new text, or restore the file",
        )
    for session, _ in plan:
        if replace is not None and session.source_id in {e[0] for e in edited}:
            replace(conv.user_id, session.id)
            report.sessions_replaced += 1
    known = store.existing_ids(conv.user_id, all_ids)
    consolidated = {s.id for s in store.sessions(conv.user_id) if s.consolidated_at is not None}
    work: list[tuple[Session, list[Turn]]] = []
    for session, turns in plan:
        if session.id in consolidated and all(t.id in known for t in turns):
            report.sessions_skipped += 1
            report.turns_skipped += len(turns)
        else:
            work.append((session, turns))
    facts = FactState.load(store, conv.user_id)
    procedural = ProceduralState.load(store, conv.user_id)
    history = store.personality_history(conv.user_id)
    prog.start("embed", sum(len(turns) for _, turns in work))
    prog.start("write", len(work))
    # Chunks of whole sessions: embedding chunk i+1 overlaps writing chunk i (one writer
    # thread; torch and the driver both release the GIL), one transaction per chunk.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer") as writer:
        pending: Future[tuple[WriteStats, float, int]] | None = None
        for chunk in _chunks(work, chunk_turns):
            t1 = time.perf_counter()
            parts: list[tuple[Session, list[Turn], WriteBatch, list[Fact]]] = []
            for session, turns in chunk:  # facts first: they need no embeddings
                part = WriteBatch(user=user, sessions=[session])
                part.turns = [t for t in turns if t.id not in known]
                written = semantic_update(
                    ex.facts, facts, conv.user_id, part.turns, part, known_ids=known
                )
                if ex.mode == "llm":  # the model-free mode makes no personality claims
                    for turn in (t for t in part.turns if t.role == "user"):
                        personality_update(
                            ex.personality,
                            conv.user_id,
                            turn,
                            turns,
                            history,
                            schedule or PemSchedule(),
                            part,
                        )
                parts.append((session, turns, part, written))
            report.extract_s += time.perf_counter() - t1
            t0 = time.perf_counter()
            _embed_chunk(
                [t for _, turns in chunk for t in turns],
                [f for *_, written in parts for f in written],
                embedder,
                embed_progress or (lambda n: prog.advance("embed", n)),
            )
            report.embed_s += time.perf_counter() - t0
            t1 = time.perf_counter()
            batch = WriteBatch(user=user)
            for session, turns, part, written in parts:  # episodes need the turn vectors
                events: list[Event] = []
                # turns of a consolidated session are back (forgotten, and what was derived
                # from them with them): the session's episodes are segmented again (the same
                # turns give the same episodes, ids included; the ones that stayed MERGE), and
                # habits, goals and profile come from the returning turns and their facts
                restored = session.id in consolidated and bool(part.turns)
                if session.id not in consolidated or restored:
                    events = episodic_update(ex.segmenter, conv.user_id, session, turns, part)
                    procedural_update(
                        ex.updater,
                        conv.user_id,
                        session,
                        part.turns if restored else turns,
                        procedural.procedures,
                        procedural.profile,
                        written,
                        part,
                    )
                    procedural.apply(part)
                report.sessions_written += 1
                report.turns_written += len(part.turns)
                report.turns_skipped += len(turns) - len(part.turns)
                report.facts += len(written)
                report.supersessions += len(part.supersessions)
                report.events += len(events)
                batch.extend(part)
            report.extract_s += time.perf_counter() - t1
            t2 = time.perf_counter()
            _embed_derived(batch, embedder)
            report.embed_s += time.perf_counter() - t2
            if pending is not None:
                report.stats, report.write_s = _collect(pending, report, prog)
            pending = writer.submit(_timed_write, store, batch, len(chunk))
        if pending is not None:
            report.stats, report.write_s = _collect(pending, report, prog)
    report.total_s = time.perf_counter() - started
    return report


def _chunks(
    work: list[tuple[Session, list[Turn]]], chunk_turns: int
) -> Iterator[list[tuple[Session, list[Turn]]]]:
    chunk: list[tuple[Session, list[Turn]]] = []
    size = 0
    for item in work:
        chunk.append(item)
        size += len(item[1])
        if size >= chunk_turns:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _embed_chunk(
    turns: list[Turn], facts: list[Fact], embedder: Embedder, progress: Callable[[int], None]
) -> None:
    """Turns and facts in ONE length-sorted embedding call. A fact rewritten from a
    one-sentence turn ("Sam: I moved to Denver." -> "Sam moved to Denver.") takes that turn's
    vector instead of a second, near-identical embedding."""
    todo_turns = [t for t in turns if t.embedding is None]
    by_id = {t.id: t for t in turns}
    before = previous_turns(turns)
    reuse: list[tuple[Fact, Turn]] = []
    todo_facts: list[Fact] = []
    for f in facts:
        source = by_id.get(f.turn_ids[0]) if len(f.turn_ids) == 1 else None
        if source is not None and len(sentences(source.text)) == 1:
            reuse.append((f, source))
        else:
            todo_facts.append(f)
    texts = [t.embedding_text(before.get(t.id)) for t in todo_turns] + [f.text for f in todo_facts]
    if len(turns) > len(todo_turns):
        progress(len(turns) - len(todo_turns))  # embedded already
    if texts:
        # the bar counts turns: the facts' share of the work is spread over them, so the
        # bar ends exactly at the number of turns (it once overshot: "embed 473/264")
        share, done, shown = len(todo_turns) / len(texts), 0.0, 0

        def turns_done(n: int) -> None:
            nonlocal done, shown
            done += n * share
            step = min(int(done), len(todo_turns)) - shown
            if step > 0:
                shown += step
                progress(step)

        vectors = embedder.embed(texts, progress=turns_done)
        if shown < len(todo_turns):  # the float shares can sum a hair short ("679/680")
            progress(len(todo_turns) - shown)
        for node, vec in zip([*todo_turns, *todo_facts], vectors, strict=True):
            node.embedding = vec.tolist()
    for fact, source in reuse:
        fact.embedding = source.embedding


def _embed_derived(batch: WriteBatch, embedder: Embedder) -> None:
    """Embed what the episodic/procedural pass added without a vector (procedures, mostly)
    here rather than leave it to the store's write: the writer thread then only writes, and
    the time is counted as embedding."""
    nodes: list[MemoryNode] = [n for n in (*batch.facts, *batch.procedures) if n.embedding is None]
    if nodes:
        for node, vec in zip(nodes, embedder.embed([n.text for n in nodes]), strict=True):
            node.embedding = vec.tolist()


def _timed_write(
    store: MemoryStore, batch: WriteBatch, sessions: int
) -> tuple[WriteStats, float, int]:
    t = time.perf_counter()
    stats = store.write(batch)
    return stats, time.perf_counter() - t, sessions


def _collect(
    pending: Future[tuple[WriteStats, float, int]], report: IngestReport, prog: Progress
) -> tuple[WriteStats, float]:
    stats, seconds, sessions = pending.result()
    prog.advance("write", sessions)
    return report.stats + stats, report.write_s + seconds


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
    replace: Callable[[str, str], None] | None = None,
    schedule: PemSchedule | None = None,
    lock: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> IngestReport:
    """Validate the whole file, then ingest each conversation in it. ``lock(user_id)``, when
    given, is held around each conversation, so two ingests of one user (or an ingest and a
    chat) take turns: the second finds the first's sessions stored and skips them."""
    started = time.perf_counter()
    conversations = load(path, fmt, user=user, sample=sample)  # raises before any write
    total = IngestReport()
    for conv in conversations:
        if progress:
            progress.note(f"{conv.user_id}: {plural(len(conv.record.sessions), 'session')}")
        with lock(conv.user_id) if lock else contextlib.nullcontext():
            total.merge(
                ingest_conversation(
                    conv,
                    store=store,
                    embedder=embedder,
                    timezone=timezone,
                    extractors=extractors,
                    images=images,
                    progress=progress,
                    replace=replace,
                    schedule=schedule,
                )
            )
    total.total_s = time.perf_counter() - started
    return total
