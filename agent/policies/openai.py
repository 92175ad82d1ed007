"""The production policy: any OpenAI-compatible endpoint, first of all a vLLM server
(``vllm serve MODEL``) hosting the trained policy. Stop sequences at the closing tags are bound
per call by the agent, so the same client also serves the JSON extraction tasks."""

from __future__ import annotations

from langchain_openai import ChatOpenAI

from schema.settings import Settings

__all__ = ["make_openai_policy"]


def make_openai_policy(settings: Settings) -> ChatOpenAI:
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        temperature=settings.temperature,
        max_completion_tokens=settings.max_tokens,
        max_retries=0,  # the agent retries transport failures itself (agent.graph._invoke)
        timeout=120,
    )
