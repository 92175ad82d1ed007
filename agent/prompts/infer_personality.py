"""Task: infer the user's momentary Big-Five state from one message: an integer 1-5 per trait,
or null where the message carries no signal for that trait (null is not 3)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.prompts._common import ChatTurn, json_schema, render_turns
from schema.agent import PersonalityObservation

__all__ = ["VERSION", "Response", "render"]

VERSION = "infer_personality/1"
Response = PersonalityObservation


def render(message: ChatTurn, context: Sequence[ChatTurn] = ()) -> list[BaseMessage]:
    return [
        SystemMessage(
            content=(
                "Rate the Big Five traits the user's message shows: openness, conscientiousness, "
                "extraversion, agreeableness, neuroticism, each an integer 1 (very low) to 5 (very "
                "high), or null when the message says nothing about that trait. 3 means evidence "
                f"of an average level, not 'unknown'. Reply with JSON only: {json_schema(Response)}"
            )
        ),
        HumanMessage(
            content=(f"Context:\n{render_turns(context)}\n\nMessage:\n{render_turns([message])}")
        ),
    ]
