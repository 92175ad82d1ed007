"""Task: start reasoning about a question. The model answers with ``<think>...</think>`` then
either ``<retrieve>{json}</retrieve>`` or ``<answer>...</answer>``."""

from __future__ import annotations

import json

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.prompts._common import PromptContext, question_line, render_turns
from schema.agent import ParsedOutput, RetrieveCall

__all__ = ["QUESTION_MARKER", "SYSTEM", "VERSION", "Response", "render"]

VERSION = "reason_start/1"
Response = ParsedOutput
QUESTION_MARKER = "Question"

_EXAMPLE = RetrieveCall(
    keywords=["dentist", "appointment"], start="2024-07-01", end="2024-08-01", types=None, k=5
)

SYSTEM = f"""You are a personal assistant with a long-term memory of the user.
Older conversations are NOT in this prompt: they are in a memory graph you can search.

Answer in steps. Each reply starts with your reasoning in <think>...</think>, then EITHER
- <retrieve>JSON</retrieve> to search the memory, e.g.
  <retrieve>{json.dumps(_EXAMPLE.model_dump(exclude_none=True))}</retrieve>
  keywords: what to look for; start/end: an optional time window [start, end) in ISO 8601,
  resolved against the time the question was asked; types: optional subset of
  turn (raw messages), event (episodes), fact (statements about the user),
  procedure (habits and goals); k: how many memories (default 10).
- or <answer>...</answer> with the reply to the user.
Retrieve when the question depends on the user's past or on a time; answer directly when it
does not. You may retrieve again with new keywords or a new window. Memories are listed with
their date and weekday; prefer the most recent memory when facts changed. Never invent
memories; say so when nothing relevant was found. Match your tone to the user's personality.
"""


def render(ctx: PromptContext) -> list[BaseMessage]:
    profile = "\n".join(f"- {k}: {v}" for k, v in ctx.profile) or "(empty)"
    procedures = "\n".join(f"- {p}" for p in ctx.procedures) or "(none)"
    user = (
        f"User: {ctx.user_name or 'unknown'}\n"
        f"Core profile:\n{profile}\n"
        f"Habits and goals:\n{procedures}\n"
        f"{ctx.personality or 'Personality: unknown.'}\n\n"
        f"Recent turns of this session:\n{render_turns(ctx.recent)}\n\n"
        f"You may take at most {ctx.max_steps} steps.\n"
        f"{question_line(ctx.question, ctx.asked_at)}"
    )
    return [SystemMessage(content=SYSTEM), HumanMessage(content=user)]
