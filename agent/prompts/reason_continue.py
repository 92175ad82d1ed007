"""Task: continue reasoning after a retrieval: the memories found go back to the model, with
their times and weekdays; it answers or retrieves again (same protocol as reason_start)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage

from agent.prompts._common import render_memories
from schema.agent import ParsedOutput
from schema.retrieval import RetrievedMemory

__all__ = ["MEMORIES_MARKER", "VERSION", "Response", "render"]

VERSION = "reason_continue/1"
Response = ParsedOutput
MEMORIES_MARKER = "Memories found"


def render(
    memories: Sequence[RetrievedMemory], *, window: str, step: int, max_steps: int
) -> list[BaseMessage]:
    left = max_steps - step
    tail = (
        "Answer now with <answer>...</answer>."
        if left <= 1
        else "Answer with <answer>...</answer>, or retrieve again with new keywords or a new "
        f"window ({left - 1} retrievals left). Memories already shown are not repeated."
    )
    return [
        HumanMessage(
            content=(
                f"{MEMORIES_MARKER} ({len(memories)}; window {window}):\n"
                f"{render_memories(memories)}\n\n<think> first, then act. {tail}"
            )
        )
    ]
