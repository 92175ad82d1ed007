"""Memory building shared by ingestion and the agent's update stage.

- :func:`semantic_update`: turns -> facts (deduplicated, superseding older facts on the same
  slot), with provenance, topics and entities;
- :func:`episodic_update`: a closed session -> topic events covering its turns, and the
  session marked consolidated (exactly once: the store only sets it when unset).

Both fill a :class:`WriteBatch`; the caller writes it in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.extraction.heuristic import (
    HeuristicFactExtractor,
    HeuristicSegmenter,
    link_topics_and_entities,
)
from agent.extraction.updates import plan_fact_updates
from schema.nodes import Event, Fact, MemoryNode, Session, Turn
from schema.protocols import EpisodeSegmenter, FactExtractor, MemoryStore, WriteBatch

__all__ = ["Extractors", "FactState", "episodic_update", "heuristic_extractors", "semantic_update"]


@dataclass
class Extractors:
    facts: FactExtractor
    segmenter: EpisodeSegmenter


def heuristic_extractors() -> Extractors:
    return Extractors(facts=HeuristicFactExtractor(), segmenter=HeuristicSegmenter())


@dataclass
class FactState:
    """The user's active facts, kept current across several batches of one run."""

    active: list[Fact] = field(default_factory=list)

    @classmethod
    def load(cls, store: MemoryStore, user_id: str) -> FactState:
        return cls(active=store.active_facts(user_id))

    def apply(self, written: Sequence[Fact], superseded_ids: set[str]) -> None:
        self.active = [f for f in self.active if f.id not in superseded_ids] + list(written)


def _link(
    batch: WriteBatch, user_id: str, memories: Sequence[MemoryNode], speakers: Sequence[str]
) -> None:
    links = link_topics_and_entities(user_id, memories, speakers=speakers)
    known_topics = {t.id for t in batch.topics}
    known_entities = {e.id for e in batch.entities}
    batch.topics += [t for t in links.topics if t.id not in known_topics]
    batch.entities += [e for e in links.entities if e.id not in known_entities]
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
    proposed = extractor.extract(user_id, turns)
    plan = plan_fact_updates(proposed, state.active, known_ids)
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
