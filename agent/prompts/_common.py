"""Pieces shared by the prompt modules: how memories, turns and JSON answers look."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ValidationError

from agent.personality import NEUTRAL, current, describe
from agent.temporal import relative_note
from schema.nodes import TRAITS, MemoryKind, PersonalitySnapshot
from schema.retrieval import RetrievedMemory
from schema.timeutil import format_spoken, spoken_date

__all__ = [
    "STRUCTURED",
    "ChatTurn",
    "JsonResponseError",
    "PromptContext",
    "lenient_json",
    "memories_data",
    "parse_json_response",
    "question_data",
    "question_line",
    "render_memories",
    "render_memory",
    "render_profile",
    "render_turns",
    "structured",
    "time_note",
]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ChatTurn:
    t: datetime
    speaker: str
    text: str
    caption: str | None = None


@dataclass
class PromptContext:
    """What the reasoning prompts need to know about the user and the question."""

    question: str
    asked_at: datetime
    user_name: str | None = None
    profile: Sequence[tuple[str, str]] = ()  # core profile (key, value)
    procedures: Sequence[str] = ()  # active habits and goals
    personality: str = ""
    recent: Sequence[ChatTurn] = ()  # the current session's recent turns
    max_steps: int = 5


#: key of the structured copy of a prompt's inputs inside ``additional_kwargs``: the offline
#: policy reads it (a language model reads the rendered text; both carry the same data)
STRUCTURED = "persona"


def structured(message: BaseMessage) -> dict[str, Any]:
    """The structured inputs a prompt module attached to a message (empty if none)."""
    data = message.additional_kwargs.get(STRUCTURED)
    return data if isinstance(data, dict) else {}


def render_turns(turns: Sequence[ChatTurn]) -> str:
    if not turns:
        return "(no earlier turns in this session)"
    lines = []
    for t in turns:
        image = f" [image: {t.caption}]" if t.caption else ""
        lines.append(f"[{format_spoken(t.t)}] {t.speaker}: {t.text}{image}")
    return "\n".join(lines)


def time_note(m: RetrievedMemory) -> str:
    """What a relative time inside a memory means, e.g. ``("yesterday" = 7 May 2023)``."""
    note = relative_note(m.text, said_at=m.t)
    return f' ("{note[0]}" = {note[1]})' if note else ""


def render_memory(m: RetrievedMemory) -> str:
    """One memory as a prompt shows it: when it was said (as people write dates), who said
    it, what, and what a relative time in it means.

    >>> from datetime import datetime, UTC
    >>> from schema.nodes import MemoryKind
    >>> m = RetrievedMemory(id="t1", kind=MemoryKind.TURN, speaker="Caroline",
    ...     text="I went to a support group yesterday.", t=datetime(2023, 5, 8, 13, 56, tzinfo=UTC))
    >>> print(render_memory(m))  # doctest: +NORMALIZE_WHITESPACE
    [8 May 2023, Monday 13:56] Caroline: I went to a support group yesterday.
    ("yesterday" = 7 May 2023)
    >>> m.status, m.valid_to = "superseded", datetime(2023, 6, 1, tzinfo=UTC)
    >>> print(render_memory(m))  # doctest: +NORMALIZE_WHITESPACE
    [8 May 2023, Monday 13:56] (no longer true from 1 June 2023) Caroline: I went to a
    support group yesterday. ("yesterday" = 7 May 2023)
    """
    kind = "" if m.kind == MemoryKind.TURN else f"{m.kind.value}: "
    if m.status == "superseded":
        since = f" from {spoken_date(m.valid_to)}" if m.valid_to else ""
        label = "" if m.kind == MemoryKind.TURN else f"{m.kind.value} "
        kind = f"{label}(no longer true{since}): " if label else f"(no longer true{since}) "
    who = f"{m.speaker}: " if m.speaker else ""
    image = f" [image: {m.caption}]" if m.caption else ""
    return f"[{format_spoken(m.t)}] {kind}{who}{m.text}{image}{time_note(m)}"


def render_memories(memories: Sequence[RetrievedMemory], start: int = 1) -> str:
    """Numbered memories; an event lists the turns it covers, a fact what replaced it."""
    if not memories:
        return "(nothing found)"
    lines: list[str] = []
    for n, m in enumerate(memories, start):
        lines.append(f"{n}. {render_memory(m)}")
        lines += [f"   - {render_memory(t)}" for t in m.turns]
        lines += [f"   - related: {render_memory(r)}" for r in m.related]
    return "\n".join(lines)


def question_line(question: str, asked_at: datetime) -> str:
    """How every prompt states the question and when it was asked."""
    return f"Question (asked {format_spoken(asked_at)}; ISO {asked_at.isoformat()}): {question}"


def question_data(question: str, asked_at: datetime) -> dict[str, Any]:
    return {"question": question, "asked_at": asked_at.isoformat()}


def memories_data(memories: Sequence[RetrievedMemory]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", exclude={"why"}) for m in memories]


class JsonResponseError(ValueError):
    pass


def lenient_json(body: str) -> Any:
    r"""The one JSON reader of model output (the tagged protocol's retrieve blocks and the JSON
    extraction prompts): JSON, else the first {...} object (code fences and prose around it
    dropped), else with trailing commas removed, else Python-literal syntax (single quotes,
    None). ValueError when nothing reads.

    >>> lenient_json("Sure! ```json\n{'a': 1, 'b': None,}\n```")
    {'a': 1, 'b': None}
    """
    body = body.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    candidates = [body]
    brace = re.search(r"\{.*\}", body, re.S)
    if brace:
        candidates.append(brace.group(0))
    for cand in candidates:
        try:
            return json.loads(cand)
        except json.JSONDecodeError:
            pass
        fixed = re.sub(r",\s*([}\]])", r"\1", cand)  # trailing commas
        try:
            return json.loads(fixed)
        except json.JSONDecodeError:
            pass
        try:
            value = ast.literal_eval(
                fixed.replace("null", "None").replace("true", "True").replace("false", "False")
            )
            if isinstance(value, dict):
                return value
        except (ValueError, SyntaxError):
            pass
    raise ValueError("not JSON")


def parse_json_response(text: str, model: type[M]) -> M:
    """The first JSON object in ``text`` validated as ``model``; JsonResponseError otherwise."""
    if not re.search(r"\{.*\}", text or "", re.S):
        raise JsonResponseError("no JSON object in the response")
    try:
        return model.model_validate(lenient_json(text or ""))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise JsonResponseError(f"{where}: {first['msg']}") from exc
    except ValueError as exc:  # nothing read as JSON
        raise JsonResponseError(f"invalid JSON: {exc}") from exc


def json_schema(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(), separators=(",", ":"))


#: how a reply adapts to a clear trait (prompt text: it lives with the prompts)
_GUIDANCE = {
    ("neuroticism", True): "reassure them and keep a calm, steady tone",
    ("openness", False): "be concrete and practical rather than speculative",
    ("openness", True): "welcome new ideas and possibilities",
    ("extraversion", True): "be warm and conversational",
    ("extraversion", False): "be concise and low-key",
    ("conscientiousness", True): "be structured and precise",
    ("agreeableness", False): "be direct and factual",
}


def render_profile(history: Sequence[PersonalitySnapshot]) -> str:
    """The current profile as text for prompts, with response guidance; honest when empty."""
    if not history:
        return "Personality: no evidence yet (all traits unknown; assume nothing)."
    values = current(history)
    parts = [f"{t} {v:.1f} ({describe(v)})" for t, v in zip(TRAITS, values, strict=True)]
    tips = [
        tip
        for (trait, high), tip in _GUIDANCE.items()
        if (values[TRAITS.index(trait)] >= 3.7) == high
        and abs(values[TRAITS.index(trait)] - NEUTRAL) >= 0.7
    ]
    steps = max(s.step for s in history)
    text = f"Personality (Big Five, 1-5, from {steps} observations): " + "; ".join(parts) + "."
    return text + (" Guidance: " + "; ".join(tips) + "." if tips else "")
