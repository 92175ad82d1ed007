"""The interfaces the layers talk through: the memory store, the embedder, the extractors.

``agent`` reaches memory only through :class:`MemoryStore`; ``graph`` implements it on Neo4j.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schema.nodes import (
    Entity,
    Event,
    Fact,
    MemoryKind,
    PersonalitySnapshot,
    Procedure,
    ProfileEntry,
    Session,
    Topic,
    Turn,
    User,
    merge_named,
)
from schema.retrieval import RetrievalRequest, RetrievalResult, TimeWindow

__all__ = [
    "Embedder",
    "EpisodeSegmenter",
    "FactExtractor",
    "ImageEmbedder",
    "Link",
    "MemoryEraser",
    "MemoryListing",
    "MemoryReader",
    "MemoryRetriever",
    "MemoryStore",
    "MemoryWriter",
    "ServerFacts",
    "Supersession",
    "UserContext",
    "WriteBatch",
    "WriteStats",
]


class Supersession(BaseModel):
    """``new`` replaces ``old`` at ``at``: old gets valid_to = at and status superseded."""

    model_config = ConfigDict(extra="forbid")
    new_id: str
    old_id: str
    at: AwareDatetime
    reason: str | None = None
    instead_of: str | None = Field(
        default=None,
        description="a statement arriving late, between two versions: the later version that "
        "replaced ``old`` until now; its SUPERSEDES edge goes and old closes at ``at`` instead "
        "(without it, the first closing is kept)",
    )


class Link(BaseModel):
    """A memory is ABOUT a topic or MENTIONS an entity."""

    model_config = ConfigDict(extra="forbid")
    memory_id: str
    node_id: str


class WriteBatch(BaseModel):
    """Everything one unit of work writes; the store writes it in ONE transaction, idempotently."""

    model_config = ConfigDict(extra="forbid")
    user: User
    sessions: list[Session] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)
    profile_entries: list[ProfileEntry] = Field(default_factory=list)
    snapshots: list[PersonalitySnapshot] = Field(default_factory=list)
    supersessions: list[Supersession] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    about: list[Link] = Field(default_factory=list)
    mentions: list[Link] = Field(default_factory=list)
    consolidated_sessions: list[str] = Field(
        default_factory=list, description="session ids to mark consolidated (only if not yet)"
    )
    consolidated_at: AwareDatetime | None = Field(
        default=None, description="when; None = each session's end"
    )

    def extend(self, other: WriteBatch) -> None:
        """Append another batch of the same user (one transaction for both)."""
        if other.user.id != self.user.id:
            raise ValueError("cannot merge batches of different users")
        for name in (
            "sessions",
            "turns",
            "events",
            "facts",
            "procedures",
            "profile_entries",
            "snapshots",
            "supersessions",
            "about",
            "mentions",
            "consolidated_sessions",
        ):
            getattr(self, name).extend(getattr(other, name))
        merge_named(self.topics, other.topics)
        merge_named(self.entities, other.entities)

    def is_empty(self) -> bool:
        return not any(
            (
                self.sessions,
                self.turns,
                self.events,
                self.facts,
                self.procedures,
                self.profile_entries,
                self.snapshots,
                self.supersessions,
                self.consolidated_sessions,
            )
        )


class UserContext(BaseModel):
    """What the agent always has in context, read in ONE transaction at the start of a turn:
    the last session and its recent turns, the current profile, active habits/goals and the
    latest personality snapshot."""

    user_name: str | None = None  # the stored display name (ingest's, or a chat's --name)
    timezone: str | None = None  # the zone of the user's conversations (ingest's), if known
    last_session: Session | None = None
    last_session_turns: list[Turn] = Field(default_factory=list)
    profile: list[ProfileEntry] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)
    personality: PersonalitySnapshot | None = None


class MemoryListing(BaseModel):
    """One memory as a listing shows it (``MemoryReader.list_memories``): what every kind has,
    plus the kind-specific fields a table or a benchmark reads, ``None``/empty where the kind
    has none. Never the store's internals (tenant token, UTC offset, embeddings); times are
    in the offset the memory was said in."""

    model_config = ConfigDict(frozen=True)
    id: str
    kind: MemoryKind
    t: AwareDatetime
    text: str = ""
    keywords: list[str] = Field(default_factory=list)
    session_id: str | None = Field(default=None, description="turns and events")
    speaker: str | None = Field(default=None, description="turns: who said it")
    role: str | None = Field(default=None, description="turns: user, assistant or other")
    source_id: str | None = Field(default=None, description="turns: the id in the source")
    image_caption: str | None = None
    status: str | None = Field(default=None, description="facts and procedures")
    slot: str | None = Field(default=None, description="facts")
    type: str | None = Field(default=None, description="procedures: habit or goal")
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    t_end: AwareDatetime | None = Field(default=None, description="events: the last turn's time")
    turn_ids: list[str] = Field(
        default_factory=list, description="events, facts, procedures: provenance turns"
    )


class StoredTurn(BaseModel):
    """What a re-ingest compares of a turn already stored: a file that now says another
    text, time, role or speaker for it was edited."""

    text: str
    t: AwareDatetime
    role: str
    speaker: str | None = None


class WriteStats(BaseModel):
    nodes_created: int = 0
    relationships_created: int = 0
    properties_set: int = 0

    def __add__(self, other: WriteStats) -> WriteStats:
        return WriteStats(
            nodes_created=self.nodes_created + other.nodes_created,
            relationships_created=self.relationships_created + other.relationships_created,
            properties_set=self.properties_set + other.properties_set,
        )

    @property
    def changed(self) -> bool:
        return bool(self.nodes_created or self.relationships_created)


@runtime_checkable
class Embedder(Protocol):
    """Text -> L2-normalised float32 vectors, shape (n, dimension)."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Search queries (some models, e5, prefix queries and memories differently)."""
        ...


@runtime_checkable
class ImageEmbedder(Protocol):
    """Images and texts in one space (CLIP): image memories searched by text."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray: ...


@runtime_checkable
class Reranker(Protocol):
    """(query, passage) pairs -> relevance scores, higher is more relevant: a cross-encoder
    reads the question and each candidate together, where the embedder saw them apart."""

    @property
    def name(self) -> str: ...

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray: ...


class ServerFacts(BaseModel):
    """What a store's server is and can do (benchmark reports print it)."""

    version: str
    edition: str = "unknown"
    heap: str = "unknown"
    heap_initial: str = "unknown"
    pagecache: str = "unknown"
    vector_search_clause: bool = Field(
        default=False, description="Cypher 25 SEARCH with in-index filters (2026.01+)"
    )
    best_vector_path: str = "prefilter"


@runtime_checkable
class MemoryWriter(Protocol):
    """Writes one user's memories: one batch, one transaction, idempotent."""

    def write(self, batch: WriteBatch) -> WriteStats: ...

    def existing_ids(self, user_id: str, ids: Sequence[str]) -> set[str]: ...

    def stored_turns(self, user_id: str, ids: Sequence[str]) -> dict[str, StoredTurn]: ...


@runtime_checkable
class MemoryRetriever(Protocol):
    """Time-bounded hybrid retrieval, scoped to the request's user."""

    def retrieve(self, request: RetrievalRequest) -> RetrievalResult: ...

    def server_facts(self) -> ServerFacts: ...


@runtime_checkable
class MemoryReader(Protocol):
    """Typed read models of one user's memory."""

    def user_context(self, user_id: str, *, recent: int = 20) -> UserContext: ...

    def session_turns(
        self, user_id: str, session_id: str, *, with_embeddings: bool = False
    ) -> list[Turn]: ...

    def last_session(self, user_id: str) -> Session | None: ...

    def sessions(self, user_id: str, *, unconsolidated_only: bool = False) -> list[Session]: ...

    def list_memories(
        self,
        user_id: str,
        kinds: Sequence[MemoryKind],
        window: TimeWindow,
        limit: int = 100,
    ) -> list[MemoryListing]: ...

    def active_facts(self, user_id: str, slot: str | None = None) -> list[Fact]: ...

    def fact_history(self, user_id: str, slot: str) -> list[Fact]: ...

    def procedures(self, user_id: str, *, active_only: bool = True) -> list[Procedure]: ...

    def profile(self, user_id: str) -> list[ProfileEntry]: ...

    def personality_history(self, user_id: str) -> list[PersonalitySnapshot]: ...


@runtime_checkable
class MemoryEraser(Protocol):
    """Erases a whole user (finer forgetting, with its preview, is graph.forget)."""

    def delete_user(self, user_id: str) -> None: ...


@runtime_checkable
class MemoryStore(MemoryWriter, MemoryRetriever, MemoryReader, MemoryEraser, Protocol):
    """Every role at once: what the agent's update stage and ingest need. Code that needs
    less asks for less (a benchmark of retrieval takes a MemoryRetriever)."""


class FactExtractor(Protocol):
    """Turns -> facts (with provenance ids). Model-free and LLM versions implement it."""

    def extract(
        self, user_id: str, turns: Sequence[Turn], active: Sequence[Fact] = ()
    ) -> list[Fact]: ...


class EpisodeSegmenter(Protocol):
    """A session's turns (with embeddings) -> topic events covering them."""

    def segment(self, user_id: str, session: Session, turns: Sequence[Turn]) -> list[Event]: ...
