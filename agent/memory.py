"""Memory building shared by ingestion and the agent's update stage.

- :func:`semantic_update`: turns -> facts (deduplicated, superseding older facts on the same
  slot), with provenance, topics and entities;
- :func:`episodic_update`: a closed session -> topic events covering its turns, and the
  session marked consolidated (exactly once: the store only sets it when unset);
- :func:`procedural_update`: explicit operations on habits/goals and the core profile, applied
  as new versions that SUPERSEDE the old ones (nothing is rewritten wholesale).

Each fills a :class:`WriteBatch`; the caller writes it in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from langchain_core.language_models.chat_models import BaseChatModel

from agent.extraction.episodes import HeuristicSegmenter
from agent.extraction.facts import HeuristicFactExtractor
from agent.extraction.linking import link_topics_and_entities
from agent.extraction.personality import NoPersonality
from agent.extraction.procedural import HeuristicMemoryUpdater
from agent.extraction.text import keywords
from agent.extraction.updates import insert_into_history, plan_fact_updates
from schema.agent import MemoryOp, PersonalityObservation
from schema.nodes import (
    Event,
    Fact,
    MemoryNode,
    Procedure,
    ProfileEntry,
    Session,
    Turn,
    make_id,
    merge_named,
)
from schema.protocols import (
    EpisodeSegmenter,
    FactExtractor,
    MemoryStore,
    Supersession,
    WriteBatch,
)

__all__ = [
    "Extractors",
    "FactState",
    "MemoryUpdater",
    "PersonalityInferencer",
    "ProceduralState",
    "build_extractors",
    "episodic_update",
    "heuristic_extractors",
    "procedural_update",
    "semantic_update",
]


class MemoryUpdater(Protocol):
    def propose(
        self,
        turns: Sequence[Turn],
        procedures: Sequence[Procedure],
        profile: Sequence[ProfileEntry],
        facts: Sequence[Fact] = (),
    ) -> list[MemoryOp]: ...


class PersonalityInferencer(Protocol):
    def infer(self, turn: Turn, context: Sequence[Turn] = ()) -> PersonalityObservation: ...


@dataclass
class Extractors:
    facts: FactExtractor
    segmenter: EpisodeSegmenter
    updater: MemoryUpdater = field(default_factory=HeuristicMemoryUpdater)
    personality: PersonalityInferencer = field(default_factory=NoPersonality)
    mode: str = "heuristic"


def heuristic_extractors() -> Extractors:
    return Extractors(facts=HeuristicFactExtractor(), segmenter=HeuristicSegmenter())


def build_extractors(mode: str, model: BaseChatModel | None = None) -> Extractors:
    """``heuristic`` (model-free) or ``llm`` (needs ``model``; falls back per input)."""
    if mode == "llm":
        if model is None:
            raise ValueError("the llm extractors need a chat model")
        from agent.extraction.episodes import LLMSegmenter
        from agent.extraction.facts import LLMFactExtractor
        from agent.extraction.personality import LLMPersonality
        from agent.extraction.procedural import LLMMemoryUpdater

        return Extractors(
            facts=LLMFactExtractor(model),
            segmenter=LLMSegmenter(model),
            updater=LLMMemoryUpdater(model),
            personality=LLMPersonality(model),
            mode="llm",
        )
    return heuristic_extractors()


@dataclass
class FactState:
    """The user's active facts, kept current across several batches of one run."""

    active: list[Fact] = field(default_factory=list)
    #: every stored version of a slot, read only when a statement arrives late (older than
    #: the slot's active fact) and must take its place in the history
    history: Callable[[str], list[Fact]] | None = None

    @classmethod
    def load(cls, store: MemoryStore, user_id: str) -> FactState:
        return cls(
            active=store.active_facts(user_id),
            history=lambda slot: store.fact_history(user_id, slot),
        )

    def apply(self, written: Sequence[Fact], superseded_ids: set[str]) -> None:
        self.active = [f for f in self.active if f.id not in superseded_ids] + list(written)


@dataclass
class ProceduralState:
    """Habits/goals and profile entries, kept current in memory across the sessions of one
    run (ingest writes several sessions per transaction, so it cannot re-read the store)."""

    procedures: list[Procedure] = field(default_factory=list)
    profile: list[ProfileEntry] = field(default_factory=list)

    @classmethod
    def load(cls, store: MemoryStore, user_id: str) -> ProceduralState:
        return cls(
            procedures=store.procedures(user_id, active_only=False),
            profile=store.profile(user_id),
        )

    def apply(self, batch: WriteBatch) -> None:
        by_id = {p.id: p for p in self.procedures}
        for p in batch.procedures:
            by_id[p.id] = p
        entries = {e.id: e for e in self.profile}
        for e in batch.profile_entries:
            entries[e.id] = e
        for s in batch.supersessions:
            if s.old_id in by_id:
                by_id[s.old_id] = by_id[s.old_id].model_copy(
                    update={"status": "retired", "valid_to": s.at}
                )
            if s.old_id in entries and entries[s.old_id].valid_to is None:
                entries[s.old_id] = entries[s.old_id].model_copy(update={"valid_to": s.at})
        self.procedures = list(by_id.values())
        self.profile = list(entries.values())

    @property
    def active(self) -> list[Procedure]:
        return [p for p in self.procedures if p.status == "active"]


def _link(
    batch: WriteBatch, user_id: str, memories: Sequence[MemoryNode], speakers: Sequence[str]
) -> None:
    links = link_topics_and_entities(user_id, memories, speakers=speakers)
    merge_named(batch.topics, links.topics)
    merge_named(batch.entities, links.entities)
    batch.about += links.about
    batch.mentions += links.mentions


def semantic_update(
    extractor: FactExtractor,
    state: FactState,
    user_id: str,
    turns: Sequence[Turn],
    batch: WriteBatch,
    *,
    known_ids: set[str] | None = None,
) -> list[Fact]:
    """Extract facts from ``turns`` into ``batch``; returns the facts written."""
    proposed = extractor.extract(user_id, turns, state.active)
    plan = plan_fact_updates(proposed, state.active, known_ids, state.history)
    batch.facts += plan.write
    batch.supersessions += plan.supersessions
    state.apply(plan.write, {s.old_id for s in plan.supersessions})
    speakers = sorted({t.speaker for t in turns})
    _link(batch, user_id, [*turns, *plan.write], speakers)
    return plan.write


def episodic_update(
    segmenter: EpisodeSegmenter,
    user_id: str,
    session: Session,
    turns: Sequence[Turn],
    batch: WriteBatch,
) -> list[Event]:
    """Segment a closed session into events and mark it consolidated."""
    events = segmenter.segment(user_id, session, turns) if turns else []
    batch.events += events
    speakers = sorted({t.speaker for t in turns})
    _link(batch, user_id, events, speakers)
    batch.consolidated_sessions.append(session.id)
    return events


def procedural_update(
    updater: MemoryUpdater,
    user_id: str,
    session: Session,
    turns: Sequence[Turn],
    procedures: Sequence[Procedure],
    profile: Sequence[ProfileEntry],
    facts: Sequence[Fact],
    batch: WriteBatch,
    *,
    max_active: int = 5,
) -> list[MemoryOp]:
    """Apply the updater's explicit operations as new versions. Returns the ops applied."""
    ops = updater.propose(turns, procedures, profile, facts)
    ordered = sorted(turns, key=lambda t: t.index)
    said = {t.id: t.t for t in turns}
    by_id = {p.id: p for p in procedures}
    latest: dict[str, ProfileEntry] = {}
    top: dict[str, int] = {}  # the highest version number of each key, for the next id
    for e in profile:
        # the value in force: the latest said (a late statement has a higher version number)
        if e.key not in latest or (e.valid_from, e.version) > (
            latest[e.key].valid_from,
            latest[e.key].version,
        ):
            latest[e.key] = e
        top[e.key] = max(top.get(e.key, 0), e.version)
    applied: list[MemoryOp] = []
    active = [p for p in procedures if p.status == "active"]
    for n, op in enumerate(ops):
        # provenance: the turns the op names; none rather than a guess
        turn_ids = op.turn_ids or [ordered[i].id for i in op.evidence if 0 <= i < len(ordered)]
        # from when it was said (the last turn it came from), not when the session ended:
        # 'analytics changes' and as-of read this time; without a turn, the session's end
        at: datetime = max((said[i] for i in turn_ids if i in said), default=session.end)
        if op.target == "procedure":
            new_id = make_id("procedure", user_id, session.id, n, op.op)
            old = by_id.get(op.id or "")
            if op.op in ("update", "delete") and old is None:
                continue  # unknown id: ignore rather than guess
            if op.op == "delete" and old is not None:
                batch.procedures.append(
                    old.model_copy(
                        update={"status": "retired", "reason": op.reason, "embedding": None}
                    )
                )
                active = [p for p in active if p.id != old.id]
                applied.append(op)
                continue
            text = op.value or (old.text if old else "")
            if not text:
                continue
            proc = Procedure(
                id=new_id,
                user_id=user_id,
                t=at,
                text=text,
                keywords=keywords(text, 5),
                type=op.type or (old.type if old else "habit"),
                trigger=op.trigger or (old.trigger if old else None),
                reason=op.reason,
                turn_ids=turn_ids,
            )
            batch.procedures.append(proc)
            if old is not None:
                batch.procedures.append(
                    old.model_copy(
                        update={
                            "status": "retired",
                            "reason": f"updated: {op.reason}",
                            "embedding": None,
                        }
                    )
                )
                batch.supersessions.append(
                    Supersession(new_id=proc.id, old_id=old.id, at=at, reason=op.reason)
                )
                active = [p for p in active if p.id != old.id]
            active.append(proc)
            applied.append(op)
        else:
            if not op.key:
                continue
            prev = latest.get(op.key)
            if op.key == "name" and prev is not None and prev.value is not None:
                continue  # the name never changes
            if op.op in ("update", "delete") and prev is None and op.op == "delete":
                continue
            if prev is not None and prev.valid_from > at:
                # said before the current value (a late file, a forgotten turn ingested
                # again): a past version, between those said before and after it
                version = top[op.key] + 1
                late = _late_profile_entry(user_id, op, at, version, turn_ids, profile, batch)
                if late is not None:
                    top[op.key] = version
                    applied.append(op)
                continue
            version = top.get(op.key, 0) + 1
            top[op.key] = version
            kind = op.op if prev or op.op == "add" else "add"
            entry = _profile_entry(user_id, op, version, kind, at, turn_ids)
            batch.profile_entries.append(entry)
            if prev is not None:
                batch.supersessions.append(
                    Supersession(new_id=entry.id, old_id=prev.id, at=at, reason=op.reason)
                )
            latest[op.key] = entry
            applied.append(op)
    # keep at most max_active habits/goals: retire the oldest
    overflow = sorted(active, key=lambda p: p.t)[: max(0, len(active) - max_active)]
    for p in overflow:
        if p.id in by_id:
            batch.procedures.append(
                p.model_copy(
                    update={
                        "status": "retired",
                        "reason": "more than the active limit",
                        "embedding": None,
                    }
                )
            )
    return applied


def _late_profile_entry(
    user_id: str,
    op: MemoryOp,
    at: datetime,
    version: int,
    turn_ids: list[str],
    profile: Sequence[ProfileEntry],
    batch: WriteBatch,
) -> ProfileEntry | None:
    """A profile value said at ``at``, before the key's current value: written as the version
    that held from ``at`` until the next one, replacing the one before it (the same insertion
    as a late fact's). None when the version before already says it."""
    versions = [
        *(e for e in profile if e.key == op.key),
        *(e for e in batch.profile_entries if e.key == op.key),
    ]
    before = [e for e in versions if e.valid_from <= at]
    if op.op == "delete" or (before and max(before, key=_since).value == op.value):
        return None
    entry = _profile_entry(user_id, op, version, "update" if before else "add", at, turn_ids)
    batch.profile_entries.append(entry)
    batch.supersessions += insert_into_history(entry, versions, op.reason)
    return entry


def _since(e: ProfileEntry) -> datetime:
    return e.valid_from


def _profile_entry(
    user_id: str, op: MemoryOp, version: int, kind: str, at: datetime, turn_ids: list[str]
) -> ProfileEntry:
    """Version ``version`` of the op's profile key, valid from ``at`` (a delete: no value)."""
    key = op.key or ""  # the callers skip an op without a key
    return ProfileEntry(
        id=make_id("profile-entry", user_id, key, version),
        user_id=user_id,
        key=key,
        value=None if op.op == "delete" else op.value,
        version=version,
        op=kind,
        reason=op.reason,
        valid_from=at,
        turn_ids=turn_ids,
    )
