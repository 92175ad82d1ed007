"""A scripted chat model: replies from a script, records every call. For tests and for the
agent-overhead benchmark (a zero-latency policy); never selected by settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

__all__ = ["Reply", "ScriptedChatModel"]

Reply = str | Callable[[Sequence[BaseMessage]], str]


class ScriptedChatModel(BaseChatModel):
    """Returns ``script[i]`` on the i-th call (a string, or a function of the messages).
    When the script runs out, ``default`` is used (or an IndexError is raised)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    script: list[Reply] = Field(default_factory=list)
    default: Reply | None = None
    calls: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        n = len(self.calls)
        self.calls.append({"messages": list(messages), "stop": stop, "kwargs": kwargs})
        if n < len(self.script):
            reply = self.script[n]
        elif self.default is not None:
            reply = self.default
        else:
            raise IndexError(f"script exhausted after {n} calls")
        text = reply(messages) if callable(reply) else reply
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
