"""Task: answer in one call from memories retrieved with the question itself (the
non-reasoning mode), or answer now when the step budget is spent (a forced answer)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.prompts._common import (
    STRUCTURED,
    PromptContext,
    memories_data,
    question_data,
    question_line,
    render_memories,
    render_turns,
)
from schema.agent import ParsedOutput
from schema.retrieval import RetrievedMemory

__all__ = ["FORCED", "SYSTEM", "VERSION", "Response", "render", "render_forced"]

#: v3: replaced memories (turns included) say since when they are no longer true; v4: the
#: time notes resolve more (reason_continue v6)
VERSION = "direct_answer/4"
Response = ParsedOutput
FORCED = "No more retrievals are possible."

SYSTEM = """You are a personal assistant with a long-term memory of the user and of the people
they talk about. Relevant memories are listed with when they were said; a note says which date
a relative time in one means. Reply with <think>brief reasoning</think> then
<answer>short answer</answer>, in the words of the memories. If they do not hold the answer,
say it was not mentioned. Match your tone to the user's personality."""


def render(ctx: PromptContext, memories: Sequence[RetrievedMemory]) -> list[BaseMessage]:
    user = (
        f"{ctx.personality or 'Personality: unknown.'}\n"
        f"Recent turns of this session:\n{render_turns(ctx.recent)}\n\n"
        f"Memories found:\n{render_memories(memories)}\n\n"
        f"{question_line(ctx.question, ctx.asked_at)}"
    )
    data = {
        "task": VERSION,
        **question_data(ctx.question, ctx.asked_at),
        "memories": memories_data(memories),
    }
    return [
        SystemMessage(content=SYSTEM),
        HumanMessage(content=user, additional_kwargs={STRUCTURED: data}),
    ]


def render_forced() -> list[BaseMessage]:
    return [
        HumanMessage(
            content=(
                f"{FORCED} Answer the question now from what you have: "
                "<think>...</think><answer>...</answer>."
            ),
            additional_kwargs={STRUCTURED: {"task": f"{VERSION}#forced"}},
        )
    ]
