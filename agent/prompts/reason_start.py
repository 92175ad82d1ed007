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

VERSION = "reason_start/3"
Response = ParsedOutput

_EXAMPLE = RetrieveCall(keywords=["dentist"], start="2024-07-01", end="2024-08-01")

#: v3: a third shorter than v2 (a small policy reads every token of it at every step), the
#: date notes of memories named, and empty sections left out of the user message
SYSTEM = f"""You are a personal assistant with a long-term memory of the user and the people
they mention. Reply <think>brief reasoning</think> then either
<retrieve>{json.dumps(_EXAMPLE.model_dump(exclude_none=True))}</retrieve>
to search the memory (keywords: names, topics, objects; start/end: an optional ISO window;
optional "types": turn, event, fact, procedure) or <answer>short answer</answer>.
Search whenever the past could answer the question, whoever it is about. Answer briefly in the
memories' words; a note like ("yesterday" = 7 May 2023) gives a date; the latest memory holds
now. If the memories do not hold the answer, say it was not mentioned. Match your tone to the
user's personality."""

#: profile values and habits are cut to this many words (model-free extraction writes whole
#: sentences); at most this many of each are listed
_WORDS, _ITEMS = 14, 6


def _cut(text: str, words: int = _WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def render(ctx: PromptContext) -> list[BaseMessage]:
    lines = [f"User: {ctx.user_name}"] if ctx.user_name else []
    if ctx.profile:
        lines.append("Core profile:")
        lines += [f"- {k}: {_cut(v)}" for k, v in list(ctx.profile)[:_ITEMS]]
    if ctx.procedures:
        lines.append("Habits and goals:")
        lines += [f"- {_cut(p)}" for p in list(ctx.procedures)[:_ITEMS]]
    lines.append(ctx.personality or "Personality: unknown.")
    if ctx.recent:
        lines += ["", "Recent turns of this session:", render_turns(ctx.recent)]
    lines += [
        "",
        f"You may take at most {ctx.max_steps} steps.",
        question_line(ctx.question, ctx.asked_at),
    ]
    data = {"task": VERSION, **question_data(ctx.question, ctx.asked_at)}
    return [
        SystemMessage(content=SYSTEM),
        HumanMessage(content="\n".join(lines), additional_kwargs={STRUCTURED: data}),
    ]
