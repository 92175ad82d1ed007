"""Read models of the timeline analytics and the graph explorer (pure data)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "ActivityRow",
    "AsOf",
    "Centrality",
    "CoOccurrence",
    "Community",
    "Drift",
    "DriftTurn",
    "ExplorerEdge",
    "ExplorerNode",
    "ExplorerView",
    "FactChange",
    "NodeDetail",
    "PersonalityPoint",
    "ProcedureSpan",
    "TimedMemory",
    "TopicCount",
    "Unit",
]

Unit = Literal["day", "week", "month"]


class ActivityRow(BaseModel):
    period: date = Field(description="first day of the day/week/month")
    turns: int = 0
    sessions: int = 0
    facts: int = 0
    events: int = 0


class TopicCount(BaseModel):
    period: date
    topic: str
    count: int


class FactChange(BaseModel):
    """``new`` superseded ``old`` at ``at`` (a changed fact, habit or profile entry)."""

    at: datetime
    label: str
    slot: str | None = None
    old_id: str
    old_text: str
    new_id: str
    new_text: str
    held_days: float | None = Field(default=None, description="how long the old one held")


class ProcedureSpan(BaseModel):
    id: str
    type: str
    text: str
    start: datetime
    end: datetime | None = None
    status: str


class PersonalityPoint(BaseModel):
    step: int
    t: datetime
    traits: dict[str, float]
    observed: list[int | None]
    weight: float
    turn_id: str | None = None
    turn_text: str | None = None


class DriftTurn(BaseModel):
    step: int
    t: datetime
    turn_id: str | None
    turn_text: str | None
    delta: float = Field(description="how much this update moved the trait")


class Drift(BaseModel):
    """Which trait moved most between two times, and the turns that moved it."""

    trait: str | None
    delta: float
    start: datetime | None
    end: datetime | None
    by_trait: dict[str, float]
    turns: list[DriftTurn] = Field(default_factory=list)


class TimedMemory(BaseModel):
    id: str
    kind: str
    t: datetime
    text: str
    status: str | None = None
    valid_to: datetime | None = None


class AsOf(BaseModel):
    """What was true at ``at``: facts, habits/goals and profile entries valid then."""

    at: datetime
    facts: list[TimedMemory] = Field(default_factory=list)
    procedures: list[TimedMemory] = Field(default_factory=list)
    profile: dict[str, str] = Field(default_factory=dict)


class Centrality(BaseModel):
    id: str
    name: str
    label: str
    score: float
    degree: int


class Community(BaseModel):
    index: int
    members: list[str]
    size: int


class CoOccurrence(BaseModel):
    a: str
    b: str
    count: int


class ExplorerNode(BaseModel):
    id: str
    label: str
    caption: str
    t: datetime | None = None
    props: dict[str, Any] = Field(default_factory=dict)


class ExplorerEdge(BaseModel):
    id: str
    type: str
    source: str
    target: str

    @classmethod
    def between(cls, source: str, rel: str, target: str) -> ExplorerEdge:
        """The edge with its one id (``source-TYPE-target``): the view's edges and those of a
        node expanded on the page meet under the same id, so none is drawn twice."""
        return cls(id=f"{source}-{rel}-{target}", type=rel, source=source, target=target)


class ExplorerView(BaseModel):
    """A bounded view of one user's graph: ``shown`` of ``total`` nodes."""

    nodes: list[ExplorerNode]
    edges: list[ExplorerEdge]
    total: int
    shown: int
    labels: dict[str, int] = Field(default_factory=dict, description="count by label")


class NodeDetail(BaseModel):
    node: ExplorerNode
    provenance: list[ExplorerNode] = Field(default_factory=list, description="DERIVED_FROM turns")
    supersession: list[ExplorerNode] = Field(
        default_factory=list, description="the SUPERSEDES chain, oldest first"
    )
    neighbours: list[tuple[str, str, ExplorerNode]] = Field(
        default_factory=list, description="(direction, relationship type, node)"
    )
