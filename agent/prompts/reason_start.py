"""Task: start reasoning about a question. The model answers with ``<think>...</think>`` then
either ``<retrieve>{json}</retrieve>`` or ``<answer>...</answer>``."""

from __future__ import annotations

import json

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.prompts._common import (
    STRUCTURED,
    PromptContext,
    question_data,
    question_line,
    render_turns,
)
from schema.agent import ParsedOutput, RetrieveCall

__all__ = ["SYSTEM", "VERSION", "Response", "render"]

VERSION = "reason_start/2"
Response = ParsedOutput

_EXAMPLE = RetrieveCall(keywords=["dentist"], start="2024-07-01", end="2024-08-01")

SYSTEM = f"""You are a personal assistant with a long-term memory of the user and of the people
they mention. Past conversations are not shown here: search the memory for them.
Reply <think>brief reasoning</think> then either
<retrieve>{json.dumps(_EXAMPLE.model_dump(exclude_none=True))}</retrieve>
(keywords: names, topics, objects; start/end: an optional ISO window; optional "types": turn,
event, fact, procedure) or <answer>short answer</answer>.
Search whenever the past could answer the question, whoever it is about. Memories show when
they were said and what a relative date in them means; the latest memory holds now. Answer
briefly in the memories' words; if they do not hold the answer, say it was not mentioned.
Match your tone to the user's personality."""


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
    data = {"task": VERSION, **question_data(ctx.question, ctx.asked_at)}
    return [
        SystemMessage(content=SYSTEM),
        HumanMessage(content=user, additional_kwargs={STRUCTURED: data}),
    ]
