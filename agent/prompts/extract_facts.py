"""Task: semantic extraction from one user turn. Decide whether the turn holds something worth
remembering; if so, state each fact in the third person with keywords, and name the active
facts it updates or contradicts (which it then supersedes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.prompts._common import json_schema
from schema.nodes import Fact
from schema.timeutil import format_time

__all__ = ["VERSION", "ExtractedFact", "Response", "render"]

VERSION = "extract_facts/1"


class ExtractedFact(BaseModel):
    statement: str = Field(min_length=3, description="one fact about the user, third person")
    keywords: list[str] = Field(default_factory=list, max_length=8)
    slot: str | None = Field(
        default=None, description="what it is about, snake_case (e.g. lives_in, job, favorite_food)"
    )
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    supersedes: list[str] = Field(
        default_factory=list, description="ids of active facts this one updates or contradicts"
    )


class Response(BaseModel):
    keep: bool = Field(description="does the turn hold anything worth remembering?")
    reason: str = Field(default="", description="why (or why not)")
    facts: list[ExtractedFact] = Field(default_factory=list)


def render(
    *, speaker: str, text: str, when: datetime, active: Sequence[Fact] = ()
) -> list[BaseMessage]:
    known = "\n".join(f"- [{f.id}] {f.text}" for f in active[-30:]) or "(none)"
    stamp = format_time(when)
    return [
        SystemMessage(
            content=(
                "You maintain the long-term semantic memory of a personal assistant. From the "
                "user's message, extract durable facts about the user (preferences, relationships, "
                "plans, events, circumstances). Skip small talk. Reply with JSON only, matching "
                f"this schema: {json_schema(Response)}"
            )
        ),
        HumanMessage(
            content=(f"Active facts:\n{known}\n\nMessage from {speaker} at {stamp}:\n{text}")
        ),
    ]
