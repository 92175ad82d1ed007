"""Pydantic models of every relationship type, with the labels each may connect."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

__all__ = ["EDGE_MODELS", "EdgeModel", "Rel"]


class Rel(StrEnum):
    NEXT = "NEXT"
    ON = "ON"
    PART_OF = "PART_OF"
    DERIVED_FROM = "DERIVED_FROM"
    SUPERSEDES = "SUPERSEDES"
    ABOUT = "ABOUT"
    MENTIONS = "MENTIONS"
    HAS_SESSION = "HAS_SESSION"
    HAS_TURN = "HAS_TURN"
    HAS_EVENT = "HAS_EVENT"
    HAS_FACT = "HAS_FACT"
    HAS_PROCEDURE = "HAS_PROCEDURE"
    HAS_PROFILE = "HAS_PROFILE"
    HAS_ENTRY = "HAS_ENTRY"
    HAS_SNAPSHOT = "HAS_SNAPSHOT"


class EdgeModel(BaseModel):
    """Base of every edge: ``(start)-[:TYPE]->(end)`` within one user's graph."""

    model_config = ConfigDict(extra="forbid")
    type: ClassVar[Rel]
    doc: ClassVar[str]
    pairs: ClassVar[tuple[tuple[str, str], ...]]
    start_id: str
    end_id: str


def _edge(rel: Rel, doc: str, *pairs: tuple[str, str]) -> type[EdgeModel]:
    return type(
        rel.value.title().replace("_", ""),
        (EdgeModel,),
        {"type": rel, "doc": doc, "pairs": pairs, "__module__": __name__},
    )


Next = _edge(
    Rel.NEXT,
    "temporal chain: turn to turn (in a session), session to session, event to event, "
    "snapshot to snapshot, day to day",
    ("Turn", "Turn"),
    ("Session", "Session"),
    ("Event", "Event"),
    ("PersonalitySnapshot", "PersonalitySnapshot"),
    ("Day", "Day"),
)
On = _edge(
    Rel.ON,
    "a memory or snapshot happened on a calendar day",
    ("Turn", "Day"),
    ("Event", "Day"),
    ("Fact", "Day"),
    ("Procedure", "Day"),
    ("PersonalitySnapshot", "Day"),
)
PartOf = _edge(Rel.PART_OF, "calendar tree", ("Day", "Month"), ("Month", "Year"))
DerivedFrom = _edge(
    Rel.DERIVED_FROM,
    "provenance: the turns a memory was extracted from (an event's covered turns)",
    ("Event", "Turn"),
    ("Fact", "Turn"),
    ("Procedure", "Turn"),
    ("ProfileEntry", "Turn"),
    ("PersonalitySnapshot", "Turn"),
)
About = _edge(
    Rel.ABOUT,
    "a memory is about a topic",
    ("Event", "Topic"),
    ("Fact", "Topic"),
    ("Procedure", "Topic"),
)
Mentions = _edge(
    Rel.MENTIONS,
    "a memory mentions a named entity",
    ("Turn", "Entity"),
    ("Event", "Entity"),
    ("Fact", "Entity"),
)
HasSession = _edge(Rel.HAS_SESSION, "ownership", ("User", "Session"))
HasTurn = _edge(Rel.HAS_TURN, "a session's turns", ("Session", "Turn"))
HasEvent = _edge(Rel.HAS_EVENT, "a session's episodes", ("Session", "Event"))
HasFact = _edge(Rel.HAS_FACT, "ownership", ("User", "Fact"))
HasProcedure = _edge(Rel.HAS_PROCEDURE, "ownership", ("User", "Procedure"))
HasProfile = _edge(Rel.HAS_PROFILE, "ownership", ("User", "CoreProfile"))
HasEntry = _edge(Rel.HAS_ENTRY, "profile entries (every version)", ("CoreProfile", "ProfileEntry"))
HasSnapshot = _edge(Rel.HAS_SNAPSHOT, "ownership", ("User", "PersonalitySnapshot"))


class Supersedes(EdgeModel):
    type: ClassVar[Rel] = Rel.SUPERSEDES
    doc: ClassVar[str] = (
        "a newer fact (or profile entry, or procedure) replaces an older one; the old one keeps "
        "its text and gets valid_to"
    )
    pairs: ClassVar[tuple[tuple[str, str], ...]] = (
        ("Fact", "Fact"),
        ("ProfileEntry", "ProfileEntry"),
        ("Procedure", "Procedure"),
    )
    at: AwareDatetime
    reason: str | None = None


EDGE_MODELS: tuple[type[EdgeModel], ...] = (
    Next,
    On,
    PartOf,
    DerivedFrom,
    Supersedes,
    About,
    Mentions,
    HasSession,
    HasTurn,
    HasEvent,
    HasFact,
    HasProcedure,
    HasProfile,
    HasEntry,
    HasSnapshot,
)
