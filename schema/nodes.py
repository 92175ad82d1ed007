"""Pydantic models of every node. The single source of truth for labels and properties.

Every node carries ``user_id`` and a stable ``id``. Memory nodes (turns, events, facts,
procedures) also carry the label ``Memory``, a time ``t`` (the memory's anchor time, used by
time windows), a searchable ``text``, ``keywords`` and an ``embedding``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schema.timeutil import mentions_time

__all__ = [
    "MEMORY_LABEL",
    "NODE_MODELS",
    "SHORT_TURN_WORDS",
    "TRAITS",
    "CoreProfile",
    "Day",
    "Entity",
    "Event",
    "Fact",
    "FactStatus",
    "MemoryKind",
    "MemoryNode",
    "Month",
    "NodeModel",
    "PersonalitySnapshot",
    "Procedure",
    "ProfileEntry",
    "Session",
    "Topic",
    "Turn",
    "User",
    "Year",
    "make_id",
    "merge_named",
    "preferred_name",
    "previous_turns",
    "turn_search_text",
]

MEMORY_LABEL = "Memory"
TRAITS: tuple[str, ...] = (
    "openness",
    "conscientiousness",
    "extraversion",
    "agreeableness",
    "neuroticism",
)


def make_id(kind: str, *parts: object) -> str:
    """A stable id from a natural key: the same key always gives the same id.

    >>> make_id("turn", "alice", "s1", 3) == make_id("turn", "alice", "s1", 3)
    True
    >>> make_id("turn", "alice", "s1", 3).startswith("turn-")
    True
    """
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return f"{kind}-{digest[:20]}"


class MemoryKind(StrEnum):
    """Kinds of memory the retriever searches (each is a label besides ``Memory``)."""

    TURN = "turn"
    EVENT = "event"
    FACT = "fact"
    PROCEDURE = "procedure"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class FactStatus(StrEnum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"


class NodeModel(BaseModel):
    """Base of every node model."""

    model_config = ConfigDict(extra="forbid")
    label: ClassVar[str]
    doc: ClassVar[str]
    id: str = Field(description="stable id, unique per label")
    user_id: str = Field(description="the owner; every query is scoped by it")


class User(NodeModel):
    label: ClassVar[str] = "User"
    doc: ClassVar[str] = "A person the assistant remembers. id == user_id."
    name: str | None = Field(default=None, description="display name")
    created_at: AwareDatetime | None = None
    timezone: str | None = Field(
        default=None,
        description="the IANA zone of the user's conversations (an ingested file's); the agent "
        "reads a question's dates in it unless PERSONA_TIMEZONE is set",
    )


class Session(NodeModel):
    label: ClassVar[str] = "Session"
    doc: ClassVar[str] = "A conversation session (a new one starts after an idle gap)."
    source_id: str = Field(description="the session's id in its source (file or client)")
    index: int = Field(ge=0, description="order of the session in the user's history")
    start: AwareDatetime
    end: AwareDatetime
    consolidated_at: AwareDatetime | None = Field(
        default=None, description="when episodic/procedural consolidation ran (once)"
    )


class MemoryNode(NodeModel):
    """Searchable memory: has a time, text, keywords and an embedding."""

    kind: ClassVar[MemoryKind]
    t: AwareDatetime = Field(description="anchor time used by time windows")
    text: str = Field(description="searchable text (full-text and vector)")
    keywords: list[str] = Field(default_factory=list)
    embedding: list[float] | None = Field(default=None, repr=False)


#: a turn of fewer words than this is embedded with the turn it answers
SHORT_TURN_WORDS = 15


def turn_search_text(
    speaker: str | None,
    text: str,
    caption: str | None = None,
    previous: tuple[str | None, str] | None = None,
) -> str:
    """How a turn is embedded: who said it, what was said, and the image caption; a short
    turn also carries the turn it answers (``previous``: its speaker and text, the turn before
    it in the same session). The text stored and searched by full-text is the turn's own.

    The speaker matters: "I moved to Denver" is a memory about whoever said it. The context
    matters for short replies: "Yes, last weekend!" says nothing alone. Measured on the LoCoMo
    dev split (docs/benchmarks/locomo.md), turns under 15 words with their previous turn:
    recall@10 76.8 -> 77.4, multi-hop 49.1 -> 51.1, adversarial 83.5 -> 85.0, the others
    within one question; under 8 words 76.9; every turn 78.4 but temporal 87.8 -> 85.6 and
    open-domain 51.1 -> 49.6 (a long turn's own content is diluted).

    >>> turn_search_text("Sam", "I moved to Denver.", "boxes in a hallway")
    'Sam: I moved to Denver. [image: boxes in a hallway]'
    >>> turn_search_text("Sam", "Yes, last weekend!", previous=("Ana", "Did you move?"))
    'Sam: Yes, last weekend! (replying to Ana: Did you move?)'
    """
    head = f"{speaker}: " if speaker else ""
    out = f"{head}{text}" + (f" [image: {caption}]" if caption else "")
    if previous is not None and len(text.split()) < SHORT_TURN_WORDS:
        who, said = previous
        out += f" (replying to {who}: {said})" if who else f" (replying to: {said})"
    return out


def previous_turns(turns: Iterable[Turn]) -> dict[str, tuple[str | None, str]]:
    """For each turn whose predecessor (same session, index one less) is among ``turns``:
    that predecessor's speaker and text, by the turn's id."""
    at = {(t.session_id, t.index): t for t in turns}
    return {
        t.id: (p.speaker, p.text)
        for (sid, i), t in at.items()
        if (p := at.get((sid, i - 1))) is not None
    }


class Turn(MemoryNode):
    label: ClassVar[str] = "Turn"
    kind: ClassVar[MemoryKind] = MemoryKind.TURN
    doc: ClassVar[str] = "One raw conversation turn; optionally with an image and its caption."
    session_id: str
    index: int = Field(ge=0, description="position within the session")
    role: Literal["user", "assistant", "other"]
    speaker: str = Field(description="who said it (name or role)")
    source_id: str | None = Field(default=None, description="id in the source, e.g. LoCoMo dia_id")
    image_sha256: str | None = Field(default=None, description="content address of the image")
    image_path: str | None = Field(default=None, description="where the image bytes are stored")
    image_caption: str | None = None
    image_embedding: list[float] | None = Field(default=None, repr=False)
    dated: bool = Field(
        default=False, description="the text anchors a time ('yesterday', 'last May'); derived"
    )

    @model_validator(mode="after")
    def _derive_dated(self) -> Turn:
        self.dated = mentions_time(self.text)
        return self

    def embedding_text(self, previous: tuple[str | None, str] | None = None) -> str:
        """What is embedded for this turn; ``previous``: the speaker and text of the turn
        before it in its session (see :func:`previous_turns`)."""
        return turn_search_text(self.speaker, self.text, self.image_caption, previous)


class Event(MemoryNode):
    label: ClassVar[str] = "Event"
    kind: ClassVar[MemoryKind] = MemoryKind.EVENT
    doc: ClassVar[str] = "Episodic memory: a topic segment of a session (DERIVED_FROM its turns)."
    session_id: str
    t_end: AwareDatetime = Field(description="time of the last turn covered")
    turn_ids: list[str] = Field(min_length=1, description="the turns it covers, in order")
    source: Literal["heuristic", "llm"] = "heuristic"


class Fact(MemoryNode):
    label: ClassVar[str] = "Fact"
    kind: ClassVar[MemoryKind] = MemoryKind.FACT
    doc: ClassVar[str] = (
        "Semantic memory: one statement about the user, valid over [valid_from, valid_to)."
    )
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    status: FactStatus = FactStatus.ACTIVE
    confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    slot: str | None = Field(
        default=None, description="what the fact is about (e.g. 'lives_in'); same slot supersedes"
    )
    source: Literal["heuristic", "llm"] = "heuristic"
    turn_ids: list[str] = Field(default_factory=list, description="provenance: source turns")
    supersedes: list[str] = Field(
        default_factory=list, description="ids of facts the extractor said this one replaces"
    )


class Procedure(MemoryNode):
    label: ClassVar[str] = "Procedure"
    kind: ClassVar[MemoryKind] = MemoryKind.PROCEDURE
    doc: ClassVar[str] = "Procedural memory: a habit or goal, with its trigger or schedule."
    type: Literal["habit", "goal"]
    trigger: str | None = None
    schedule: str | None = None
    status: Literal["active", "retired"] = "active"
    valid_to: AwareDatetime | None = Field(default=None, description="when it was replaced")
    reason: str | None = Field(default=None, description="why it was added/updated/retired")
    turn_ids: list[str] = Field(default_factory=list, description="provenance: source turns")


class CoreProfile(NodeModel):
    label: ClassVar[str] = "CoreProfile"
    doc: ClassVar[str] = "The user's core profile; HAS_ENTRY versioned key/value entries."


class ProfileEntry(NodeModel):
    label: ClassVar[str] = "ProfileEntry"
    doc: ClassVar[str] = "One version of one core-profile key; a newer version SUPERSEDES it."
    key: str
    value: str | None = Field(default=None, description="None when the key was deleted")
    version: int = Field(ge=1)
    op: Literal["add", "update", "delete"]
    reason: str | None = None
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    turn_ids: list[str] = Field(default_factory=list, description="provenance: source turns")


class Year(NodeModel):
    label: ClassVar[str] = "Year"
    doc: ClassVar[str] = "Calendar year (per user)."
    year: int


class Month(NodeModel):
    label: ClassVar[str] = "Month"
    doc: ClassVar[str] = "Calendar month, PART_OF its Year."
    year: int
    month: int = Field(ge=1, le=12)


class Day(NodeModel):
    label: ClassVar[str] = "Day"
    doc: ClassVar[str] = "Calendar day, PART_OF its Month; days are chained by NEXT."
    date: date


class PersonalitySnapshot(NodeModel):
    label: ClassVar[str] = "PersonalitySnapshot"
    doc: ClassVar[str] = (
        "Big-Five estimate after one update (1-5 each), the smoothing weight used, "
        "DERIVED_FROM the evidence turn; chained by NEXT."
    )
    t: AwareDatetime
    step: int = Field(ge=1, description="how many updates the profile has had")
    openness: float = Field(ge=1.0, le=5.0)
    conscientiousness: float = Field(ge=1.0, le=5.0)
    extraversion: float = Field(ge=1.0, le=5.0)
    agreeableness: float = Field(ge=1.0, le=5.0)
    neuroticism: float = Field(ge=1.0, le=5.0)
    weight: float = Field(ge=0.0, le=1.0, description="weight of the new observation")
    observed: list[int | None] = Field(
        description="the momentary inference per trait; None = no signal"
    )
    turn_id: str | None = None


class Topic(NodeModel):
    label: ClassVar[str] = "Topic"
    doc: ClassVar[str] = "A topic (normalised keyword) that memories are ABOUT."
    name: str


class Entity(NodeModel):
    label: ClassVar[str] = "Entity"
    doc: ClassVar[str] = "A named entity (person, place, thing) that memories MENTION."
    name: str


Named = TypeVar("Named", Topic, Entity)


def preferred_name(a: str, b: str) -> str:
    """Which of two surface forms names a topic or entity: the shorter, then the
    alphabetically first. Commutative, so a name never depends on the order memories were
    written in (graph/cypher/write.py applies the same rule in MERGE).

    >>> preferred_name("taking", "takes"), preferred_name("Paris", "PARIS")
    ('takes', 'PARIS')
    """
    return min(a, b, key=lambda s: (len(s), s))


def merge_named(nodes: list[Named], more: Iterable[Named]) -> None:
    """Append ``more`` to ``nodes`` one node per id; a node seen again keeps the preferred of
    the two names (see :func:`preferred_name`)."""
    at = {n.id: i for i, n in enumerate(nodes)}
    for n in more:
        i = at.get(n.id)
        if i is None:
            at[n.id] = len(nodes)
            nodes.append(n)
        else:
            name = preferred_name(nodes[i].name, n.name)
            if name != nodes[i].name:
                nodes[i] = nodes[i].model_copy(update={"name": name})


NODE_MODELS: tuple[type[NodeModel], ...] = (
    User,
    Session,
    Turn,
    Event,
    Fact,
    Procedure,
    CoreProfile,
    ProfileEntry,
    Year,
    Month,
    Day,
    PersonalitySnapshot,
    Topic,
    Entity,
)
