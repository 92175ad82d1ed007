"""Tolerant parsing of policy outputs: ``<think>...</think>`` then ``<retrieve>{json}</retrieve>``
or ``<answer>...</answer>``. Tags are located, never split on; JSON is validated by
:class:`schema.agent.RetrieveCall`; dates are parsed and relative ones resolved against the
query's timestamp. Every deviation is recorded as a :class:`FailureMode`.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, tzinfo

from pydantic import ValidationError

from agent.prompts._common import lenient_json
from agent.temporal import window_from_text
from schema.agent import FailureMode, ParsedOutput, RetrieveCall
from schema.timeutil import UTC, ensure_aware

__all__ = ["parse_output", "render_retrieve"]

_TAG = re.compile(r"<(/?)(think|retrieve|answer)>", re.I)


def _sections(text: str) -> tuple[dict[str, str], list[tuple[str, int]], set[str], str]:
    """Contents of each first-seen tag, the order actions appear, unclosed tags, and the text
    outside every tag."""
    contents: dict[str, str] = {}
    order: list[tuple[str, int]] = []
    unclosed: set[str] = set()
    outside: list[str] = []
    pos = 0
    for m in _TAG.finditer(text):
        closing, name = m.group(1) == "/", m.group(2).lower()
        if closing:
            continue
        if m.start() > pos:
            outside.append(text[pos : m.start()])
        end = re.compile(rf"</{name}>|<(?:think|retrieve|answer)>", re.I).search(text, m.end())
        body_end = end.start() if end else len(text)
        if not end or end.group(0).lower() != f"</{name}>":
            unclosed.add(name)
        if name not in contents:
            contents[name] = text[m.end() : body_end].strip()
            if name != "think":
                order.append((name, m.start()))
        pos = end.end() if end and end.group(0).lower() == f"</{name}>" else body_end
    if pos < len(text):
        outside.append(text[pos:])
    leftover = re.sub(r"</?(think|retrieve|answer)>", "", "".join(outside), flags=re.I).strip()
    return contents, order, unclosed, leftover


def _parse_bound(
    value: str | None, *, now: datetime, tz: tzinfo, is_end: bool, issues: list[FailureMode]
) -> datetime | None:
    if value is None or not str(value).strip() or str(value).lower() in ("null", "none"):
        return None
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=tz)
        return ensure_aware(datetime.fromisoformat(text.replace("Z", "+00:00")), tz)
    except ValueError:
        pass
    expr = window_from_text(text, base=now, tz=tz)
    if expr is None:
        issues.append(FailureMode.INVALID_DATE)
        return None
    issues.append(FailureMode.RELATIVE_DATE)
    return expr.window.end if is_end else expr.window.start


def _invalid(
    raw: str,
    think: str,
    issues: list[FailureMode],
    mode: FailureMode,
    error: str,
    retrieve: RetrieveCall | None = None,
) -> ParsedOutput:
    """An unusable output: records its failure mode and says what was wrong."""
    issues.append(mode)
    return ParsedOutput(
        raw=raw, think=think, action="invalid", retrieve=retrieve, issues=issues, error=error
    )


def parse_output(text: str | None, *, now: datetime, tz: tzinfo = UTC) -> ParsedOutput:
    """Parse one policy output. Never raises: an unusable output has ``action="invalid"``."""
    raw = text or ""
    issues: list[FailureMode] = []
    if not raw.strip():
        return _invalid(raw, "", issues, FailureMode.EMPTY_OUTPUT, "the output was empty")
    contents, order, unclosed, leftover = _sections(raw)
    if "think" not in contents:
        issues.append(FailureMode.MISSING_THINK)
    if unclosed:
        issues.append(FailureMode.UNCLOSED_TAG)
    think = contents.get("think", "")
    if not order:
        return _invalid(
            raw,
            think or leftover,
            issues,
            FailureMode.MISSING_ACTION,
            "no <retrieve> or <answer> block",
        )
    if leftover:
        issues.append(FailureMode.EXTRA_TEXT)
    if len(order) > 1:
        issues.append(FailureMode.BOTH_ACTIONS)
    action = min(order, key=lambda o: o[1])[0]
    if action == "answer":
        answer = contents["answer"].strip()
        if not answer:
            return _invalid(
                raw, think, issues, FailureMode.EMPTY_ANSWER, "the <answer> block was empty"
            )
        return ParsedOutput(raw=raw, think=think, action="answer", answer=answer, issues=issues)
    return _parse_retrieve(raw, think, contents["retrieve"], issues, now=now, tz=tz)


def _parse_retrieve(
    raw: str, think: str, body: str, issues: list[FailureMode], *, now: datetime, tz: tzinfo
) -> ParsedOutput:
    try:
        data = lenient_json(body)
    except ValueError:
        return _invalid(
            raw,
            think,
            issues,
            FailureMode.INVALID_JSON,
            f"the <retrieve> block is not JSON: {body[:120]!r}",
        )
    if not isinstance(data, dict):
        return _invalid(
            raw, think, issues, FailureMode.INVALID_REQUEST, "the <retrieve> JSON must be an object"
        )
    try:
        call = RetrieveCall.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        error = f"invalid retrieve request: {where}: {first['msg']}"
        return _invalid(raw, think, issues, FailureMode.INVALID_REQUEST, error)
    call.keywords = [k for k in (str(x).strip() for x in call.keywords) if k]
    if not call.keywords:
        return _invalid(
            raw,
            think,
            issues,
            FailureMode.EMPTY_KEYWORDS,
            "the retrieve request has no keywords",
            retrieve=call,
        )
    start = _parse_bound(call.start, now=now, tz=tz, is_end=False, issues=issues)
    end = _parse_bound(call.end, now=now, tz=tz, is_end=True, issues=issues)
    if start and end and end < start:
        issues.append(FailureMode.REVERSED_DATES)
        start, end = end, start
    if start and end and end == start:
        issues.append(FailureMode.EMPTY_WINDOW)
        end = start + timedelta(days=1)
    return ParsedOutput(
        raw=raw, think=think, action="retrieve", retrieve=call, start=start, end=end, issues=issues
    )


def render_retrieve(think: str, call: RetrieveCall) -> str:
    """The canonical text of a retrieve step (used by scripted policies and training data)."""
    body = call.model_dump(exclude_none=True, mode="json")
    return f"<think>{think}</think><retrieve>{json.dumps(body)}</retrieve>"
