"""Pieces shared by the prompt modules: how memories, turns and JSON answers look."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from schema.retrieval import RetrievedMemory
from schema.timeutil import format_for_prompt

__all__ = [
    "ChatTurn",
    "JsonResponseError",
    "PromptContext",
    "parse_json_response",
    "parse_question",
    "question_line",
    "render_memories",
    "render_turns",
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
    extra: dict[str, str] = field(default_factory=dict)


def render_turns(turns: Sequence[ChatTurn]) -> str:
    if not turns:
        return "(no earlier turns in this session)"
    lines = []
    for t in turns:
        image = f" [image: {t.caption}]" if t.caption else ""
        lines.append(f"[{format_for_prompt(t.t)}] {t.speaker}: {t.text}{image}")
    return "\n".join(lines)


def render_memories(memories: Sequence[RetrievedMemory], start: int = 1) -> str:
    """Numbered memories with their times and weekdays; an event lists the turns it covers."""
    if not memories:
        return "(nothing found)"
    lines: list[str] = []
    for n, m in enumerate(memories, start):
        lines.append(f"{n}. {m.render()}")
        lines += [f"   - {t.render()}" for t in m.turns]
        lines += [f"   - related: {r.render()}" for r in m.related]
    return "\n".join(lines)


_QUESTION = re.compile(r"^Question \(asked [^;\n]*; ISO (\S+)\): (.*)$", re.M)


def question_line(question: str, asked_at: datetime) -> str:
    """How every prompt states the question and when it was asked."""
    return f"Question (asked {format_for_prompt(asked_at)}; ISO {asked_at.isoformat()}): {question}"


def parse_question(text: str) -> tuple[datetime, str] | None:
    """The inverse of :func:`question_line` (used by the offline policy)."""
    match = _QUESTION.search(text)
    if not match:
        return None
    return datetime.fromisoformat(match.group(1)), match.group(2).strip()


class JsonResponseError(ValueError):
    pass


def parse_json_response(text: str, model: type[M]) -> M:
    """The first JSON object in ``text`` validated as ``model``; JsonResponseError otherwise."""
    cleaned = re.sub(r"^```(?:json)?|```$", "", (text or "").strip(), flags=re.M).strip()
    match = re.search(r"\{.*\}", cleaned, re.S)
    if not match:
        raise JsonResponseError("no JSON object in the response")
    try:
        return model.model_validate(json.loads(match.group(0)))
    except json.JSONDecodeError as exc:
        raise JsonResponseError(f"invalid JSON: {exc.msg}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise JsonResponseError(f"{where}: {first['msg']}") from exc


def json_schema(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(), separators=(",", ":"))
