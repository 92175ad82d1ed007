"""The offline policy: a rule-based chat model so the product works with no model at all.

It reads the same prompts a language model reads and speaks the same protocol:
- on a question that refers to the user's past or to a time, it retrieves, with keywords from
  the question and a window from its temporal expression (``dateparser``, resolved against the
  time the question was asked);
- with memories in hand it answers by quoting the best-matching ones with their dates
  (resolving relative dates inside them, e.g. "yesterday" said on 2024-04-16);
- if a window found nothing it widens to all time once.
Every answer starts with ``[offline policy]`` so no one mistakes it for a language model.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.extraction.text import content_words, keywords, stem
from agent.parsing import parse_output, render_retrieve
from agent.prompts._common import parse_question
from agent.prompts.reason_continue import MEMORIES_MARKER
from agent.temporal import MONTHS, WEEKDAYS, find_window, past_reference
from schema.agent import RetrieveCall
from schema.timeutil import UTC

__all__ = ["LABEL", "OfflinePolicy"]

LABEL = "[offline policy]"

_MEMORY_LINE = re.compile(
    r"^\s*(?:\d+\.|-)\s*(?:related: )?\[(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}) \((\w+)\)\] "
    r"(turn|event|fact|procedure)( \(superseded\))?: (.*)$",
    re.M,
)
_PERSONAL = re.compile(
    r"\b(I|I'm|I've|I'd|my|me|mine|we|our|us|remember|told you|last time)\b", re.I
)
_LATEST = re.compile(r"\b(now|currently|these days|still|latest|most recent|anymore)\b", re.I)
_QUESTION_WORDS = {
    "what",
    "when",
    "where",
    "who",
    "which",
    "how",
    "why",
    "did",
    "does",
    "do",
    "was",
    "were",
    "is",
    "are",
    "tell",
    "remember",
    "ever",
}


class _Memory:
    def __init__(self, m: re.Match[str], order: int) -> None:
        self.day, self.clock, self.weekday = m.group(1), m.group(2), m.group(3)
        self.kind, self.superseded, self.text = m.group(4), bool(m.group(5)), m.group(6).strip()
        self.order = order

    @property
    def when(self) -> datetime:
        # the rendered line carries local wall time; its offset does not matter for
        # calendar arithmetic, so it is read as UTC
        return datetime.fromisoformat(f"{self.day}T{self.clock}").replace(tzinfo=UTC)


_TIME_WORDS = {*MONTHS, *WEEKDAYS, "weekend", "ago"}


def _question_terms(question: str) -> list[str]:
    return [
        w
        for w in content_words(question)
        if w not in _QUESTION_WORDS and w not in _TIME_WORDS and not w.isdigit()
    ]


class OfflinePolicy(BaseChatModel):
    """Implements the chat-model interface without a model (see the module docstring)."""

    @property
    def _llm_type(self) -> str:
        return "offline"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._reply(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    # ------------------------------------------------------------------ decisions
    def _reply(self, messages: list[BaseMessage]) -> str:
        found = None
        for m in messages:
            if m.type == "human":
                found = parse_question(str(m.content)) or found
        if found is None:
            return (
                f"<think>No question found.</think><answer>{LABEL} Please ask a question.</answer>"
            )
        asked_at, question = found
        last = str(messages[-1].content) if messages else ""
        previous = [parse_output(str(m.content), now=asked_at) for m in messages if m.type == "ai"]
        retrieved = [p for p in previous if p.action == "retrieve"]
        memory_text = "\n".join(
            str(m.content)
            for m in messages
            if m.type == "human" and ("Memories found" in str(m.content))
        )
        memories = [_Memory(m, i) for i, m in enumerate(_MEMORY_LINE.finditer(memory_text))]
        if MEMORIES_MARKER in last or "Memories found:" in last or retrieved:
            windowed = any(p.start or p.end for p in retrieved)
            if not memories and windowed and len(retrieved) < 2:
                last_call = retrieved[-1].retrieve
                call = RetrieveCall(
                    keywords=last_call.keywords if last_call else _question_terms(question)
                )
                return render_retrieve(
                    "Nothing in that window. I will widen the search to all time.", call
                )
            return self._answer(question, memories)
        if self._needs_memory(question, asked_at):
            return self._retrieve(question, asked_at)
        return (
            "<think>This does not refer to the user's past, and I have no language model to "
            f"reason with.</think><answer>{LABEL} I can recall what you have told me, but I "
            "cannot chat without a language model. Ask me about something from your past, "
            "e.g. 'When did I ...?' (configure PERSONA_POLICY=openai or hf for a real model)."
            "</answer>"
        )

    @staticmethod
    def _needs_memory(question: str, asked_at: datetime) -> bool:
        return bool(_PERSONAL.search(question)) or find_window(question, base=asked_at) is not None

    @staticmethod
    def _retrieve(question: str, asked_at: datetime) -> str:
        expr = find_window(question, base=asked_at, tz=asked_at.tzinfo or UTC)
        terms = keywords(question, 6, exclude=_QUESTION_WORDS) or _question_terms(question)
        if expr is not None:
            drop = {stem(w) for w in content_words(expr.text)}
            terms = [t for t in terms if stem(t) not in drop] or terms
        call = RetrieveCall(
            keywords=terms or [question],
            start=expr.window.start.isoformat() if expr and expr.window.start else None,
            end=expr.window.end.isoformat() if expr and expr.window.end else None,
        )
        reason = "The question refers to the user's past"
        if expr is not None:
            reason += f" and to a time ('{expr.text}' -> {expr.window.describe()})"
        return render_retrieve(f"{reason}, so I will search the memory for {terms}.", call)

    @staticmethod
    def _answer(question: str, memories: list[_Memory]) -> str:
        if not memories:
            return (
                "<think>No memory matched.</think>"
                f"<answer>{LABEL} I don't remember anything about that.</answer>"
            )
        q = {stem(w) for w in _question_terms(question)}
        wants_latest = bool(_LATEST.search(question))
        newest = max(m.when for m in memories)

        def score(m: _Memory) -> tuple[float, int]:
            words = {stem(w) for w in content_words(m.text)}
            overlap = len(q & words) / (len(q) or 1)
            kind_bonus = {"turn": 0.1, "fact": 0.1, "event": 0.0, "procedure": 0.05}[m.kind]
            recency = 0.3 if wants_latest and m.when == newest else 0.0
            return (overlap + kind_bonus + recency - (0.5 if m.superseded else 0.0), -m.order)

        def words(m: _Memory) -> set[str]:
            return {stem(w) for w in content_words(m.text)}

        def near(a: _Memory, b: _Memory) -> bool:
            wa, wb = words(a), words(b)
            return len(wa & wb) / (len(wa | wb) or 1) >= 0.6

        best: list[_Memory] = []
        for m in sorted(memories, key=score, reverse=True):
            if not any(near(m, b) for b in best):
                best.append(m)
            if len(best) == 2:
                break
        lines = []
        for m in best:
            note = ""
            rel = past_reference(m.text, said_at=m.when)
            if (
                rel is not None
                and rel.window.start
                and rel.window.start.date().isoformat() != m.day
            ):
                note = f" ('{rel.text}' then means {rel.window.start.date().isoformat()})"
            speaker, _, said = m.text.partition(": ")
            if m.kind == "turn" and said:
                lines.append(f'on {m.weekday} {m.day} {speaker} said: "{said}"{note}')
            else:
                lines.append(f'on {m.weekday} {m.day} ({m.kind}): "{m.text}"{note}')
        answer = f"{LABEL} From your memories: " + "; and ".join(lines)
        think = f"Best matches for {sorted(q)}: {len(memories)} memories considered."
        return f"<think>{think}</think><answer>{answer}</answer>"
