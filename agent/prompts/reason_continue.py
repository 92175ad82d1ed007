"""Task: continue reasoning after a retrieval: the memories found go back to the model, with
when each was said and what its relative times mean, and the question once more after them;
it answers or retrieves again (same protocol as reason_start)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage

from agent.prompts._common import STRUCTURED, memories_data, render_memories
from schema.agent import ParsedOutput
from schema.retrieval import RetrievedMemory

__all__ = ["VERSION", "Response", "render"]

#: v4: the question is restated after the memories, next to where the reply starts (a small
#: policy otherwise reads it ~1000 tokens back, behind every memory it was shown); v5: a turn
#: whose every fact was replaced says so and since when, as replaced facts did; v6: the time
#: notes also resolve durations ("for four months now": since around August 2023), weekday
#: abbreviations ("last Fri"), "on the 15th", and "a year ago" to its month
VERSION = "reason_continue/6"
Response = ParsedOutput


def render(
    memories: Sequence[RetrievedMemory],
    *,
    question: str,
    window: str,
    step: int,
    max_steps: int,
) -> list[BaseMessage]:
    left = max_steps - step
    tail = "Answer now." if left <= 1 else f"Answer, or retrieve again ({left - 1} left)."
    data = {
        "task": VERSION,
        "memories": memories_data(memories),
        "window": window,
        "retrievals_left": max(left - 1, 0),
    }
    return [
        HumanMessage(
            content=(
                f"Memories found ({len(memories)}; window {window}):\n"
                f"{render_memories(memories)}\n\nQuestion: {question}\n{tail}"
            ),
            additional_kwargs={STRUCTURED: data},
        )
    ]
