"""The agent's state (what flows through the LangGraph nodes) and its context (per-run facts
given by the entry point: the store, the policy, the settings read once), with the small
accessors the nodes share."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cache
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from agent.update import UpdateStage
from schema.protocols import MemoryStore
from schema.settings import Settings
from schema.timeutil import UTC, ensure_aware, get_tz

__all__ = [
    "AgentContext",
    "AgentState",
    "Resolver",
    "asked_time",
    "chain",
    "policy_of",
    "resolve_context",
    "settings_of",
    "store_of",
]


def chain(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Append; ``None`` resets (a new question starts a new chain)."""
    return [] if right is None else [*(left or []), *right]


class AgentState(TypedDict, total=False):
    question: str  # input
    asked_at: str  # input (ISO 8601), optional; else the context's `now`, else the clock
    image_caption: str  # input, optional: a caption of an image sent with the question
    messages: Annotated[list[AnyMessage], add_messages]  # the policy transcript of this chain
    steps: Annotated[list[dict[str, Any]], chain]  # the trace (schema.agent.Step)
    seen_ids: Annotated[list[str], chain]  # memories already returned in this chain
    memories: Annotated[list[dict[str, Any]], chain]  # RetrievedMemory dumps, in order
    calls: int  # policy calls in this chain
    repairs: int
    pending: dict[str, Any] | None  # the next retrieve request
    route: str
    answer: str
    session_id: str | None
    user_name: str | None  # the context's name, else the stored one (start reads it)
    update: dict[str, Any]
    turns_answered: Annotated[int, operator.add]  # over the thread's life


@dataclass
class AgentContext:
    """Per-run facts. ``store`` and ``policy`` are required for a real run."""

    user_id: str
    store: MemoryStore | None = None
    policy: BaseChatModel | None = None
    settings: Settings | None = None
    update_stage: UpdateStage | None = None
    now: datetime | str | None = None
    mode: Literal["reason", "direct"] = "reason"
    user_name: str | None = None


Resolver = Callable[[Any], AgentContext]


def resolve_context(ctx: Any) -> AgentContext:
    if isinstance(ctx, dict):
        return AgentContext(**ctx)
    if not isinstance(ctx, AgentContext):
        raise ValueError("a run needs context=AgentContext(user_id=..., store=..., policy=...)")
    return ctx


@cache
def default_settings() -> Settings:
    """For a context built without settings: the environment, read once per process."""
    return Settings()


def settings_of(ctx: AgentContext) -> Settings:
    return ctx.settings or default_settings()


def asked_time(state: AgentState, ctx: AgentContext, zone: tzinfo | None = None) -> datetime:
    """When the question was asked, aware: a time given without an offset (or the clock) is
    read in ``zone`` (the user's), else in the configured timezone."""
    tz = zone or get_tz(settings_of(ctx).timezone)
    raw = state.get("asked_at") or ctx.now
    if isinstance(raw, str) and raw:
        return ensure_aware(datetime.fromisoformat(raw.replace("Z", "+00:00")), tz)
    if isinstance(raw, datetime):
        return ensure_aware(raw, tz)
    return datetime.now(UTC).astimezone(tz)


def store_of(ctx: AgentContext) -> MemoryStore:
    if ctx.store is None:
        raise ValueError("AgentContext.store is required")
    return ctx.store


def policy_of(ctx: AgentContext) -> BaseChatModel:
    if ctx.policy is None:
        raise ValueError("AgentContext.policy is required")
    return ctx.policy
