"""Prompts are code with a contract: one module per task, each with ``VERSION``, its response
model and ``render(ctx) -> list[BaseMessage]``. The agent and the training pipelines import the
same modules, so training data matches what the model sees at run time.

Tasks: ``reason_start``, ``reason_continue`` (and ``repair``), ``direct_answer``,
``extract_facts``, ``segment_episodes``, ``update_memory``, ``infer_personality``.
"""

from agent.prompts import (
    direct_answer,
    extract_facts,
    infer_personality,
    reason_continue,
    reason_start,
    repair,
    segment_episodes,
    update_memory,
)

__all__ = [
    "direct_answer",
    "extract_facts",
    "infer_personality",
    "reason_continue",
    "reason_start",
    "repair",
    "segment_episodes",
    "update_memory",
]
