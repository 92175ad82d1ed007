"""Types of the agent loop: the policy's retrieve request, parse outcomes, the step trace,
memory operations, personality observations. Pure data; the agent and training share them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schema.nodes import TRAITS, MemoryKind

__all__ = [
    "FailureMode",
    "MemoryOp",
    "ParsedOutput",
    "PersonalityObservation",
    "RetrieveCall",
    "Step",
]


class RetrieveCall(BaseModel):
    """What the policy puts inside ``<retrieve>...</retrieve>`` (JSON).

    ``start``/``end`` are ISO 8601 (a date or a date-time); the window is [start, end).
    Relative expressions the model leaves unresolved ("last week") are resolved by the parser
    against the query's timestamp.
    """

    model_config = ConfigDict(extra="ignore")
    keywords: list[str] = Field(
        default_factory=list, description="what to search for: names, topics, objects"
    )
    start: str | None = Field(default=None, description="window start, ISO 8601, inclusive")
    end: str | None = Field(default=None, description="window end, ISO 8601, exclusive")
    types: list[MemoryKind] | None = Field(
        default=None, description="memory types to search: turn, event, fact, procedure"
    )
    k: int | None = Field(default=None, ge=1, le=50, description="how many memories")

    @field_validator("keywords", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.replace(";", ",").split(",") if p.strip()]
        return v

    @field_validator("types", mode="before")
    @classmethod
    def _types(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list):
            aliases = {
                "episodic": "event",
                "semantic": "fact",
                "procedural": "procedure",
                "turns": "turn",
                "events": "event",
                "facts": "fact",
                "procedures": "procedure",
                "raw": "turn",
            }
            return [aliases.get(str(x).lower(), str(x).lower()) for x in v]
        return v


class FailureMode(StrEnum):
    """Every way a policy output can be malformed. ``tolerated`` ones are repaired silently;
    the others trigger one repair request, then a retrieve with the query as keywords."""

    EMPTY_OUTPUT = "empty_output"  # nothing at all
    MISSING_ACTION = "missing_action"  # neither <retrieve> nor <answer>
    INVALID_JSON = "invalid_json"  # <retrieve> body is not JSON, even leniently
    INVALID_REQUEST = "invalid_request"  # JSON, but not a valid RetrieveCall
    EMPTY_ANSWER = "empty_answer"  # <answer></answer>
    EMPTY_KEYWORDS = "empty_keywords"  # a retrieve with nothing to search for
    # tolerated (repaired in place)
    MISSING_THINK = "missing_think"
    UNCLOSED_TAG = "unclosed_tag"
    EXTRA_TEXT = "extra_text"
    BOTH_ACTIONS = "both_actions"  # first action wins
    INVALID_DATE = "invalid_date"  # that bound is dropped
    REVERSED_DATES = "reversed_dates"  # swapped
    RELATIVE_DATE = "relative_date"  # resolved against the query time
    EMPTY_WINDOW = "empty_window"  # start == end: widened to that day

    @property
    def tolerated(self) -> bool:
        return self in _TOLERATED


_TOLERATED = {
    FailureMode.MISSING_THINK,
    FailureMode.UNCLOSED_TAG,
    FailureMode.EXTRA_TEXT,
    FailureMode.BOTH_ACTIONS,
    FailureMode.INVALID_DATE,
    FailureMode.REVERSED_DATES,
    FailureMode.RELATIVE_DATE,
    FailureMode.EMPTY_WINDOW,
}


class ParsedOutput(BaseModel):
    """A policy output after tolerant parsing."""

    raw: str
    think: str = ""
    action: Literal["retrieve", "answer", "invalid"]
    retrieve: RetrieveCall | None = None
    start: datetime | None = None  # resolved window
    end: datetime | None = None
    answer: str | None = None
    issues: list[FailureMode] = Field(default_factory=list)
    error: str | None = Field(default=None, description="why the output is invalid")

    @property
    def ok(self) -> bool:
        return self.action != "invalid"


class Step(BaseModel):
    """One step of the reasoning chain, as shown to users and kept in the trace."""

    kind: Literal["think", "retrieve", "answer", "repair", "fallback", "forced", "grounded"]
    think: str = ""
    request: dict[str, Any] | None = None  # the retrieve request (keywords, window, types, k)
    window: str | None = None
    memory_ids: list[str] = Field(default_factory=list)
    memories: list[str] = Field(default_factory=list, description="rendered memories")
    answer: str | None = None
    issues: list[str] = Field(default_factory=list)
    note: str | None = None
    replaced: str | None = Field(
        default=None,
        description="grounded steps: the model's own answer, which named no date the "
        "retrieved memories support (agent.grounding)",
    )
    prompt: str | None = Field(
        default=None,
        description="version of the prompt module this step answered or rendered "
        "(e.g. reason_start/2): traces and training records name what the model saw",
    )


class MemoryOp(BaseModel):
    """An explicit operation on procedural or core-profile memory (never a full rewrite)."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["add", "update", "delete"]
    target: Literal["procedure", "profile"]
    id: str | None = Field(default=None, description="existing id (update/delete)")
    key: str | None = Field(default=None, description="profile key (profile ops)")
    value: str | None = Field(default=None, description="new value / procedure text")
    type: Literal["habit", "goal"] | None = None
    trigger: str | None = None
    reason: str = Field(description="why: what in the conversation justifies it")
    evidence: list[int] = Field(
        default_factory=list, description="0-based indices of the session turns that justify it"
    )
    turn_ids: list[str] = Field(
        default_factory=list, description="(set by model-free updaters) the justifying turns"
    )


class PersonalityObservation(BaseModel):
    """Momentary Big-Five reading from one turn: integers 1-5, or None for no signal."""

    model_config = ConfigDict(extra="forbid")
    openness: int | None = Field(default=None, ge=1, le=5)
    conscientiousness: int | None = Field(default=None, ge=1, le=5)
    extraversion: int | None = Field(default=None, ge=1, le=5)
    agreeableness: int | None = Field(default=None, ge=1, le=5)
    neuroticism: int | None = Field(default=None, ge=1, le=5)

    def as_list(self) -> list[int | None]:
        return [getattr(self, t) for t in TRAITS]

    @property
    def has_signal(self) -> bool:
        return any(v is not None for v in self.as_list())
