"""Retrieval requests and results, with the explanation every result carries."""

from __future__ import annotations

from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schema.nodes import MemoryKind
from schema.timeutil import UTC, ensure_aware, format_time

__all__ = [
    "EXACT_MAX",
    "Expansion",
    "RetrievalRequest",
    "RetrievalResult",
    "RetrievedMemory",
    "Signal",
    "TimeWindow",
    "VectorPath",
    "VectorScope",
    "Why",
]


#: the auto vector path's cutoff: scopes up to this many memories are scored exactly. The
#: exact scan costs ~0.1 ms per memory here, SEARCH ~7 ms whatever the scope; they cross
#: between 100 and 200 (`persona bench scale`: docs/benchmarks/scale.md)
EXACT_MAX = 150

SignalName = Literal["vector", "fulltext", "image", "entity"]
ALL_SIGNALS: tuple[SignalName, ...] = ("vector", "fulltext", "image", "entity")
#: what runs unless a request says otherwise ("entity": memories that MENTION an entity the
#: query names, measured as a lever in `persona bench locomo --lever entity`)
DEFAULT_SIGNALS: tuple[SignalName, ...] = ("vector", "fulltext", "image")


class VectorPath(StrEnum):
    """How the vector signal is computed.

    - ``search``: Cypher 25 ``SEARCH`` with user, time and kind filtered inside the index
      (Neo4j 2026.01+);
    - ``prefilter``: exact cosine over the user's memories in the window (range index scan);
    - ``postfilter``: global ANN top-k, then filter (what most peers do; loses results; kept
      for benchmarks only);
    - ``auto``: chosen per query, in the same query: the exact pre-filter when the user's
      memories in the window (and kinds) number at most a cutoff, SEARCH above it. A small
      scope is scanned faster than the index is searched, and exactly; a large one is not.
      Results and ``why`` name the path that ran, with the count it was chosen by.
    """

    SEARCH = "search"
    PREFILTER = "prefilter"
    POSTFILTER = "postfilter"
    AUTO = "auto"


class Expansion(StrEnum):
    EVENT_TURNS = "event_turns"  # an event brings the turns it covers
    SUPERSESSION = "supersession"  # a superseded fact brings the fact that replaced it
    SAME_DAY = "same_day"  # neighbours on the same calendar day
    SAME_TOPIC = "same_topic"  # neighbours about the same topic


class TimeWindow(BaseModel):
    """Half-open window ``[start, end)``; either bound may be open (None)."""

    model_config = ConfigDict(frozen=True)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"time window end {self.end} is not after start {self.start}")
        return self

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None, tz: tzinfo = UTC) -> TimeWindow:
        """Build a window, reading naive bounds in ``tz``."""
        return cls(
            start=ensure_aware(start, tz) if start else None,
            end=ensure_aware(end, tz) if end else None,
        )

    @property
    def is_open(self) -> bool:
        return self.start is None and self.end is None

    def contains(self, t: datetime) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)

    def describe(self) -> str:
        if self.is_open:
            return "all time"
        left = format_time(self.start) if self.start else "the beginning"
        right = format_time(self.end) if self.end else "no end"  # future memories count too
        return f"[{left}, {right})"

    def describe_zoned(self) -> str:
        """:meth:`describe` with the zone its bounds are in, for people reading a window beside
        memories shown in their own local times.

        >>> from datetime import datetime
        >>> TimeWindow(start=datetime(2024, 1, 9, tzinfo=UTC)).describe_zoned()
        '[2024-01-09 00:00 (Tuesday), no end) UTC'
        """
        t = self.start or self.end
        return self.describe() if t is None else f"{self.describe()} {t.tzname()}"


class RetrievalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1)
    query: str = Field(default="", description="natural-language query")
    keywords: list[str] = Field(default_factory=list)
    window: TimeWindow = Field(default_factory=TimeWindow)
    kinds: list[MemoryKind] = Field(
        default_factory=lambda: [
            MemoryKind.TURN,
            MemoryKind.EVENT,
            MemoryKind.FACT,
            MemoryKind.PROCEDURE,
        ]
    )
    k: int = Field(default=10, ge=1, le=500)
    expand: list[Expansion] = Field(
        default_factory=lambda: [Expansion.EVENT_TURNS, Expansion.SUPERSESSION]
    )
    exclude_ids: list[str] = Field(default_factory=list, description="already returned")
    vector_path: VectorPath | None = Field(default=None, description="None = the store's")
    candidates: int | None = Field(
        default=None,
        ge=1,
        le=2000,
        description="per-signal candidate depth (default 4k, >= 20; 2k, >= 100 for turn units)",
    )
    signals: list[SignalName] = Field(
        default_factory=lambda: list(DEFAULT_SIGNALS),
        description="which signals to run (benchmarks and debugging isolate one)",
    )
    prefer_dated: bool = Field(
        default=False,
        description="turn units: the question asks WHEN, so turns that anchor a time "
        "('yesterday', 'last May') are preferred (their score x 1.5)",
    )
    states_in_window: bool = Field(
        default=True,
        description="a fact on a slot (where the user lives or works, what they love) said "
        "before the window but still true during it counts as in the window, with the turn it "
        "came from; False: only what was said inside the window",
    )
    rerank: bool | None = Field(
        default=None,
        description="re-order the top candidates with the store's cross-encoder "
        "(PERSONA_RERANKER): None = whenever one is configured, False = never, True = "
        "required (an error without one)",
    )
    unit: Literal["memory", "turn"] = Field(
        default="memory",
        description="memory: the matching memories themselves; turn: raw turns as evidence, "
        "each scored by the memories that point at it (a fact or an event passes its rank "
        "to the turns it came from) and by its neighbours in the dialogue",
    )

    @model_validator(mode="after")
    def _needs_text(self) -> RetrievalRequest:
        if not self.query.strip() and not any(k.strip() for k in self.keywords):
            raise ValueError("a retrieval needs a query or at least one keyword")
        if not self.kinds:
            raise ValueError("a retrieval needs at least one memory kind")
        return self

    @property
    def depth(self) -> int:
        """Candidates per signal. Turn units need a deep pool (a memory projects onto several
        turns) but not one that grows with k, so one ranking serves every k up to ~50."""
        if self.candidates:
            return self.candidates
        return max(2 * self.k, 100) if self.unit == "turn" else max(4 * self.k, 20)


class Signal(BaseModel):
    name: Literal["vector", "fulltext", "image", "entity", "neighbour", "dated", "state", "rerank"]
    rank: int = Field(ge=1)
    score: float
    via: str | None = Field(
        default=None, description="turn units: the memory that carried the signal to this turn"
    )


class VectorScope(BaseModel):
    """The count the auto vector path chose by, capped at ``cutoff + 1`` (so counting costs
    at most that): the user's memories with a vector, or those in the window and kinds."""

    counted: int = Field(ge=0, description="memories counted, capped at cutoff + 1")
    cutoff: int = Field(ge=0, description="largest scope scanned exactly")
    basis: Literal["user", "window", "days"] = Field(
        default="window",
        description="user: the whole history (it decided alone: under the cutoff, or no "
        "window and every kind); window: the memories in the window and kinds; days: the "
        "user's memories per day bounded the window's (at most the days it touches hold, at "
        "least the days it covers whole)",
    )

    def describe(self) -> str:
        """
        >>> VectorScope(counted=73, cutoff=150).describe()
        'auto: 73 memories in the window <= 150'
        >>> VectorScope(counted=151, cutoff=150, basis="user").describe()
        'auto: over 150 memories in the history'
        >>> VectorScope(counted=88, cutoff=150, basis="days").describe()
        "auto: at most 88 memories on the window's days <= 150"
        """
        if self.basis == "days":
            if self.counted > self.cutoff:
                return f"auto: over {self.cutoff} memories on the days the window covers"
            return f"auto: at most {self.counted} memories on the window's days <= {self.cutoff}"
        where = "the window" if self.basis == "window" else "the history"
        if self.counted > self.cutoff:
            return f"auto: over {self.cutoff} memories in {where}"
        return f"auto: {self.counted} memories in {where} <= {self.cutoff}"


class Why(BaseModel):
    """Why an item was returned: its signals, fused score, graph path and the window."""

    signals: list[Signal] = Field(default_factory=list)
    fused: float = 0.0
    path: list[str] = Field(default_factory=list, description="graph path for expansions")
    window: str = "all time"
    vector_path: VectorPath | None = Field(default=None, description="the path that ran")
    vector_scope: VectorScope | None = Field(
        default=None, description="what the auto path chose by (None when a path was forced)"
    )
    true_in_window: bool = Field(
        default=False,
        description="said outside the window, in it by validity: a fact true during the "
        "window (or, for turn units, the turn such a fact came from)",
    )

    def describe(self) -> str:
        parts = [
            f"{s.name}#{s.rank} ({s.score:.3f})" + (f" via {s.via}" if s.via else "")
            for s in self.signals
        ]
        if self.path:
            parts.append("via " + " ".join(self.path))
        out = f"rrf={self.fused:.4f} " + ", ".join(parts) + f"; window {self.window}"
        if self.true_in_window:
            out += " (said before it, true during it)"
        if self.vector_path is not None:
            out += f"; vector {self.vector_path.value}"
            if self.vector_scope is not None:
                out += f" ({self.vector_scope.describe()})"
            else:  # --path, PERSONA_VECTOR_PATH, or a server without SEARCH
                out += " (forced: not chosen per query)"
        return out


class RetrievedMemory(BaseModel):
    id: str
    kind: MemoryKind
    text: str
    t: AwareDatetime
    session_id: str | None = None
    speaker: str | None = None
    source_id: str | None = None
    caption: str | None = Field(default=None, description="image caption (turns with images)")
    keywords: list[str] = Field(default_factory=list)
    status: str | None = None
    valid_to: AwareDatetime | None = None
    score: float = 0.0
    why: Why = Field(default_factory=Why)
    turns: list[RetrievedMemory] = Field(
        default_factory=list, description="for an event: the turns it covers"
    )
    related: list[RetrievedMemory] = Field(
        default_factory=list, description="expansions: superseding fact, same day/topic"
    )

    def turn_units(self) -> int:
        """How many turns of context this item spends (an event spends its turns)."""
        own = len(self.turns) if self.turns else 1
        return own + sum(r.turn_units() for r in self.related)


class RetrievalResult(BaseModel):
    request: RetrievalRequest
    items: list[RetrievedMemory]
    window: TimeWindow
    vector_path: VectorPath = Field(description="the path that ran (never auto)")
    vector_scope: VectorScope | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def all_ids(self) -> list[str]:
        """Every id in the result, expansions included, in order, without repeats."""
        seen: dict[str, None] = {}

        def walk(item: RetrievedMemory) -> None:
            seen.setdefault(item.id, None)
            for child in (*item.turns, *item.related):
                walk(child)

        for item in self.items:
            walk(item)
        return list(seen)
