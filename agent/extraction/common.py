"""What the extraction tasks share: the first-person test, and for the LLM versions the JSON
call with one repair retry, the failure log and the chat-turn view of a Turn.

The JSON call goes through :func:`agent.policies.calls.call_policy`, like the agent's own
steps: a transport failure is retried with backoff, then raised as
:class:`schema.errors.PolicyUnavailable` (never a raw traceback, never mistaken for bad
JSON); any other model error comes back as ``<error>`` text, fails validation and takes the
repair retry, then the caller's model-free fallback."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeVar

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel

from agent.policies.calls import call_policy
from agent.prompts import repair
from agent.prompts._common import ChatTurn, JsonResponseError, parse_json_response
from schema.nodes import Turn

__all__ = ["FIRST_PERSON", "Failures", "call_json", "chat_turn"]

M = TypeVar("M", bound=BaseModel)

FIRST_PERSON = re.compile(r"\b(I|I'm|I’m|I've|I’ve|I'd|I’d|I'll|I’ll|my|My|me)\b")


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
    """Call ``model`` and validate its JSON as ``response``; retry with the error shown.

    Raises :class:`schema.errors.PolicyUnavailable` when the model's server does not answer
    (after the retries of :data:`agent.policies.calls.RETRIES`)."""
    convo = list(messages)
    error: JsonResponseError | None = None
    for _ in range(retries + 1):
        reply = call_policy(model, convo)
        try:
            return parse_json_response(reply, response)
        except JsonResponseError as exc:
            error = exc
            convo += [AIMessage(content=reply), *repair.render_json(str(exc))]
    assert error is not None
    raise error


def chat_turn(t: Turn) -> ChatTurn:
    return ChatTurn(t=t.t, speaker=t.speaker, text=t.text, caption=t.image_caption)
