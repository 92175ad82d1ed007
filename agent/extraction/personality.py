"""Personality observations per turn (Big Five): none model-free (no claims without a model)
and LLM-driven (the infer_personality prompt)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models.chat_models import BaseChatModel

from agent.extraction.common import Failures, call_json, chat_turn
from agent.prompts import infer_personality
from agent.prompts._common import JsonResponseError
from schema.agent import PersonalityObservation
from schema.nodes import Turn

__all__ = ["LLMPersonality", "NoPersonality"]


class NoPersonality:
    """Model-free mode makes no personality claims: every trait is 'no signal'."""

    def infer(self, turn: Turn, context: Sequence[Turn] = ()) -> PersonalityObservation:
        return PersonalityObservation()


class LLMPersonality:
    """Big Five evidence inferred by the model from a turn and the six before it."""

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
