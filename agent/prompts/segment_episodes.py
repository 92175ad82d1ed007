"""Task: episodic segmentation of a closed session into topic events (summary, keywords and
the indices of the turns each covers; every turn in exactly one event, in order)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.prompts._common import ChatTurn, json_schema, render_turns

__all__ = ["VERSION", "Episode", "Response", "render"]

VERSION = "segment_episodes/1"


class Episode(BaseModel):
    summary: str = Field(min_length=3, description="third-person summary of the topic")
    keywords: list[str] = Field(default_factory=list, max_length=8)
    turns: list[int] = Field(min_length=1, description="0-based indices of the turns covered")


class Response(BaseModel):
    events: list[Episode] = Field(min_length=1)


def render(turns: Sequence[ChatTurn]) -> list[BaseMessage]:
    numbered = "\n".join(f"{i}: {line}" for i, line in enumerate(render_turns(turns).splitlines()))
    return [
        SystemMessage(
            content=(
                "Split this conversation session into topic segments (episodes). Each turn "
                "belongs to exactly one episode; episodes are contiguous and in order. Reply with "
                f"JSON only, matching this schema: {json_schema(Response)}"
            )
        ),
        HumanMessage(content=numbered),
    ]
