"""Policies: the model behind ``think``. Every policy implements langchain-core's chat-model
interface, so the agent, the extractors and the training code treat them alike.

- ``openai``: an OpenAI-compatible endpoint (vLLM serving the trained policy): production;
- ``hf``: a local transformers model with its chat template;
- ``offline``: rule-based, needs no model (labelled in every answer);
- ``ScriptedChatModel``: scripted replies for tests and benchmarks (never chosen by settings).
"""

from __future__ import annotations

from langchain_core.language_models.chat_models import BaseChatModel

from agent.policies.offline import LABEL as OFFLINE_LABEL
from agent.policies.offline import OfflinePolicy
from agent.policies.scripted import ScriptedChatModel
from schema.settings import Settings

__all__ = ["OFFLINE_LABEL", "OfflinePolicy", "ScriptedChatModel", "build_policy", "describe_policy"]


def build_policy(settings: Settings) -> BaseChatModel:
    if settings.policy == "openai":
        from agent.policies.openai import make_openai_policy

        return make_openai_policy(settings)
    if settings.policy == "hf":
        from agent.policies.hf import HFChatModel

        return HFChatModel(
            model_path=settings.model,
            device=settings.device,
            max_new_tokens=settings.max_tokens,
            temperature=settings.temperature,
            cache_dir=str(settings.cache_dir),
        )
    return OfflinePolicy()


def describe_policy(settings: Settings) -> str:
    if settings.policy == "openai":
        return f"openai: {settings.model} at {settings.openai_base_url}"
    if settings.policy == "hf":
        from agent.policies.models import model_card

        card = model_card(settings.model)
        trained = ""
        if card:
            trained = f" (model card: {card.get('summary') or card.get('base', '?')})"
        return f"hf: {settings.model} on {settings.device}{trained}"
    return "offline: rule-based, no language model (answers are labelled [offline policy])"
