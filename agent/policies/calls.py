"""Calling a policy: one chat-model call with the stop sequences. A transport failure (the
model's server not reached or not answering) is retried with backoff, then raised as
:class:`schema.errors.PolicyUnavailable` with the fix; any other model error becomes an
``<error>`` output that the agent's repair path handles, so the turn is not lost. A policy
that cannot run as configured (:class:`schema.errors.PersonaError`, e.g. a missing model
folder) stops the turn with that error: repairing it would store a failed exchange."""

from __future__ import annotations

import time
from collections.abc import Sequence

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage

from schema.errors import PersonaError, PolicyUnavailable

__all__ = ["RETRIES", "call_policy", "is_transport_error"]

#: exception names of the HTTP clients behind the openai policy (openai, httpx) that mean the
#: endpoint was not reached or did not answer: not the model's output
_TRANSPORT = {
    "APIConnectionError",
    "APITimeoutError",
    "RateLimitError",
    "InternalServerError",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "RemoteProtocolError",
}
RETRIES = (0.5, 1.0, 2.0)  # seconds of backoff before each retry


def is_transport_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the model's server was not reached (retry), not bad output.

    >>> is_transport_error(ConnectionRefusedError()), is_transport_error(ValueError())
    (True, False)
    """
    return isinstance(exc, ConnectionError | TimeoutError) or any(
        c.__name__ in _TRANSPORT for c in type(exc).__mro__
    )


def call_policy(
    policy: BaseChatModel, messages: Sequence[BaseMessage], stop: list[str] | None = None
) -> str:
    """The policy's reply text (see the module's docstring for failures); ``stop=None`` for
    a call with no stop sequences (the JSON extraction calls)."""
    for attempt, pause in enumerate((*RETRIES, None)):
        try:
            reply = (
                policy.invoke(list(messages), stop=stop) if stop else policy.invoke(list(messages))
            )
            break
        except PersonaError:
            raise  # the policy cannot run as configured (a missing model): not its output
        except Exception as exc:
            if not is_transport_error(exc):
                return f"<error>{type(exc).__name__}: {exc}</error>"
            if pause is None:
                raise PolicyUnavailable(
                    f"the policy's model did not answer after {attempt + 1} tries "
                    f"({type(exc).__name__}: {exc})",
                    hint="is the model server running (e.g. `vllm serve DIR`)? check "
                    "PERSONA_OPENAI_BASE_URL, or use PERSONA_POLICY=offline",
                ) from exc
            time.sleep(pause)
    content = reply.content
    return content if isinstance(content, str) else str(content)
