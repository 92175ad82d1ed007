"""One constructor per node type that extraction makes, shared by the model-free and the LLM
versions of each task, so an id, a time or a provenance link is built one way only."""

from __future__ import annotations

from collections.abc import Sequence

from schema.nodes import Entity, Event, Fact, Topic, Turn, make_id

__all__ = ["new_entity", "new_event", "new_fact", "new_topic"]


def new_fact(
    user_id: str,
    turn: Turn,
    key: tuple[object, ...],
    *,
    text: str,
    keywords: list[str],
    confidence: float,
    slot: str | None,
    source: str,
    supersedes: Sequence[str] = (),
) -> Fact:
    """A fact said in ``turn``: valid from the turn's time, derived from it; ``key`` tells
    the facts of one turn apart (deterministic, so a re-run makes the same id)."""
    return Fact(
        id=make_id("fact", user_id, turn.id, *key),
        user_id=user_id,
        t=turn.t,
        text=text,
        keywords=keywords,
        valid_from=turn.t,
        confidence=confidence,
        slot=slot,
        source=source,
        turn_ids=[turn.id],
        supersedes=list(supersedes),
    )


def new_event(
    user_id: str,
    session_id: str,
    turns: Sequence[Turn],
    *,
    text: str,
    keywords: list[str],
    source: str,
    embedding: list[float] | None = None,
) -> Event:
    """An episode over ``turns`` (in order) of one session: from its first turn to its last."""
    return Event(
        id=make_id("event", user_id, session_id, turns[0].index, turns[-1].index),
        user_id=user_id,
        session_id=session_id,
        t=turns[0].t,
        t_end=turns[-1].t,
        text=text,
        keywords=keywords,
        turn_ids=[t.id for t in turns],
        embedding=embedding,
        source=source,
    )


def new_topic(user_id: str, key: str, name: str | None = None) -> Topic:
    """A topic keyed by its stem (one node for "painting" and "paintings") and named by a word
    as it was written ("business", not the stem "busi"); the name is set when it is created."""
    return Topic(id=make_id("topic", user_id, key), user_id=user_id, name=name or key)


def new_entity(user_id: str, name: str) -> Entity:
    """An entity keyed by its lower-cased name (one node for "Sam" and "SAM")."""
    return Entity(id=make_id("entity", user_id, name.lower()), user_id=user_id, name=name)
