"""LLM-driven extractors: the same interfaces as the model-free ones, with JSON validated by the
prompt modules' pydantic response models and one retry that shows the model its error. When
the model still fails, the model-free extractor takes over for that input, so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel

from agent.extraction.heuristic import HeuristicFactExtractor, HeuristicSegmenter
from agent.extraction.text import keywords as kw
from agent.prompts import extract_facts, infer_personality, repair, segment_episodes, update_memory
from agent.prompts._common import ChatTurn, JsonResponseError, parse_json_response
from schema.agent import MemoryOp, PersonalityObservation
from schema.nodes import Event, Fact, Procedure, ProfileEntry, Session, Turn, make_id

__all__ = [
    "LLMFactExtractor",
    "LLMMemoryUpdater",
    "LLMPersonality",
    "LLMSegmenter",
    "call_json",
]

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


@dataclass
class Failures:
    count: int = 0
    last: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.count += 1
        self.last = [*self.last[-9:], what]


def call_json(
    model: BaseChatModel, messages: list[BaseMessage], response: type[M], *, retries: int = 1
) -> M:
    """Invoke ``model`` and validate its JSON as ``response``; retry with the error shown."""
    convo = list(messages)
    error: JsonResponseError | None = None
    for _ in range(retries + 1):
        reply = str(model.invoke(convo).content)
        try:
            return parse_json_response(reply, response)
        except JsonResponseError as exc:
            error = exc
            convo += [AIMessage(content=reply), *repair.render_json(str(exc))]
    assert error is not None
    raise error


def chat_turn(t: Turn) -> ChatTurn:
    return ChatTurn(t=t.t, speaker=t.speaker, text=t.text, caption=t.image_caption)


class LLMFactExtractor:
    source = "llm"

    def __init__(self, model: BaseChatModel, *, retries: int = 1) -> None:
        self.model = model
        self.retries = retries
        self.fallback = HeuristicFactExtractor()
        self.failures = Failures()

    def extract(
        self, user_id: str, turns: Sequence[Turn], active: Sequence[Fact] = ()
    ) -> list[Fact]:
        out: list[Fact] = []
        for turn in turns:
            if turn.role != "user":
                continue
            msgs = extract_facts.render(
                speaker=turn.speaker, text=turn.text, when=turn.t, active=[*active, *out]
            )
            try:
                resp = call_json(self.model, msgs, extract_facts.Response, retries=self.retries)
            except JsonResponseError as exc:
                self.failures.add(f"extract_facts {turn.id}: {exc}")
                out += self.fallback.extract(user_id, [turn], active)
                continue
            if not resp.keep:
                continue
            known = {f.id for f in (*active, *out)}
            for i, f in enumerate(resp.facts):
                out.append(
                    Fact(
                        id=make_id("fact", user_id, turn.id, "llm", i),
                        user_id=user_id,
                        t=turn.t,
                        text=f.statement,
                        keywords=f.keywords or kw(f.statement, 5),
                        valid_from=turn.t,
                        confidence=f.confidence,
                        slot=f"{turn.speaker.lower()}:{f.slot}" if f.slot else None,
                        source="llm",
                        turn_ids=[turn.id],
                        supersedes=[s for s in f.supersedes if s in known],
                    )
                )
        return out


class LLMSegmenter:
    source = "llm"

    def __init__(self, model: BaseChatModel, *, retries: int = 1) -> None:
        self.model = model
        self.retries = retries
        self.fallback = HeuristicSegmenter()
        self.failures = Failures()

    def segment(self, user_id: str, session: Session, turns: Sequence[Turn]) -> list[Event]:
        ordered = sorted(turns, key=lambda t: t.index)
        msgs = segment_episodes.render([chat_turn(t) for t in ordered])
        try:
            resp = call_json(self.model, msgs, segment_episodes.Response, retries=self.retries)
            covered = [i for ep in resp.events for i in ep.turns]
            if sorted(covered) != list(range(len(ordered))):
                raise JsonResponseError("episodes must cover every turn exactly once")
        except JsonResponseError as exc:
            self.failures.add(f"segment {session.id}: {exc}")
            return self.fallback.segment(user_id, session, ordered)
        events = []
        for ep in resp.events:
            seg = [ordered[i] for i in sorted(ep.turns)]
            events.append(
                Event(
                    id=make_id("event", user_id, session.id, seg[0].index, seg[-1].index),
                    user_id=user_id,
                    session_id=session.id,
                    t=seg[0].t,
                    t_end=seg[-1].t,
                    text=ep.summary,
                    keywords=ep.keywords or kw(ep.summary, 6),
                    turn_ids=[t.id for t in seg],
                    source="llm",
                )
            )
        return events


class LLMMemoryUpdater:
    """Procedural memory and core profile as explicit operations proposed by the model."""

    def __init__(self, model: BaseChatModel, *, retries: int = 1) -> None:
        self.model = model
        self.retries = retries
        self.failures = Failures()

    def propose(
        self,
        turns: Sequence[Turn],
        procedures: Sequence[Procedure],
        profile: Sequence[ProfileEntry],
        facts: Sequence[Fact] = (),
    ) -> list[MemoryOp]:
        msgs = update_memory.render([chat_turn(t) for t in turns], procedures, profile)
        try:
            return call_json(self.model, msgs, update_memory.Response, retries=self.retries).ops
        except JsonResponseError as exc:
            self.failures.add(f"update_memory: {exc}")
            return []


class LLMPersonality:
    def __init__(self, model: BaseChatModel, *, retries: int = 1) -> None:
        self.model = model
        self.retries = retries
        self.failures = Failures()

    def infer(self, turn: Turn, context: Sequence[Turn] = ()) -> PersonalityObservation:
        msgs = infer_personality.render(chat_turn(turn), [chat_turn(t) for t in context[-6:]])
        try:
            return call_json(self.model, msgs, infer_personality.Response, retries=self.retries)
        except JsonResponseError as exc:
            self.failures.add(f"infer_personality {turn.id}: {exc}")
            return PersonalityObservation()
