"""Task: answer in one call from memories retrieved with the question itself (the
non-reasoning mode), or answer now when the step budget is spent (a forced answer)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.prompts._common import PromptContext, question_line, render_memories, render_turns
from schema.agent import ParsedOutput
from schema.retrieval import RetrievedMemory

__all__ = ["FORCED", "SYSTEM", "VERSION", "Response", "render", "render_forced"]

VERSION = "direct_answer/1"
Response = ParsedOutput
FORCED = "No more retrievals are possible."

SYSTEM = """You are a personal assistant with a long-term memory of the user. Relevant memories
are listed with their dates and weekdays. Reply with <think>...</think> then
<answer>...</answer>. Use only the memories and the conversation; if they do not contain the
answer, say that you do not remember it. Match your tone to the user's personality."""


def render(ctx: PromptContext, memories: Sequence[RetrievedMemory]) -> list[BaseMessage]:
    user = (
        f"{ctx.personality or 'Personality: unknown.'}\n"
        f"Recent turns of this session:\n{render_turns(ctx.recent)}\n\n"
        f"Memories found:\n{render_memories(memories)}\n\n"
        f"{question_line(ctx.question, ctx.asked_at)}"
    )
    return [SystemMessage(content=SYSTEM), HumanMessage(content=user)]


def render_forced() -> list[BaseMessage]:
    return [
        HumanMessage(
            content=(
                f"{FORCED} Answer the question now from what you have: "
                "<think>...</think><answer>...</answer>."
            )
        )
    ]
