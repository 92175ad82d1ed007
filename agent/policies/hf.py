"""A local transformers model (a directory, a hub id, or a bundled model such as
``smollm2-135m``) behind the chat-model interface, with its own chat template, on CPU or GPU.
It counts the tokens it generates and the time it takes (the policy benchmark reports it).

Prefix cache: each call keeps the attention keys and values of what it read and wrote, and
the next call reuses them for the tokens its prompt shares with that sequence. The agent's
steps each resend the whole conversation (system prompt, question, memories, the model's own
earlier output), so without it every step reads the prompt again: on a 2-core CPU SmolLM2-135M
reads about 270 prompt tokens a second, against 8-11 generated. transformers has no such
cache across ``generate`` calls (its docs show the pattern by hand), hence this one."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from schema.errors import ConfigError

__all__ = ["HFChatModel", "to_chat"]

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


def to_chat(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


class HFChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_path: str
    device: str = "cpu"
    max_new_tokens: int = 256
    temperature: float = 0.0
    cache_dir: str | None = None  # where bundled models are converted (Settings.cache_dir)
    #: reuse the previous call's keys and values for the prompt's shared prefix
    prefix_cache: bool = True
    generated_tokens: int = 0
    generation_s: float = 0.0
    #: prompt tokens read, and how many of them came from the prefix cache
    prompt_tokens: int = 0
    cached_tokens: int = 0
    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _past: Any = PrivateAttr(default=None)  # (token ids the cache holds, the cache)

    @property
    def _llm_type(self) -> str:
        return "hf"

    def load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from agent.policies.models import check_model_source, resolve_model

        check_model_source(self.model_path, "PERSONA_MODEL")
        cache = Path(self.cache_dir) if self.cache_dir else Path.home() / ".cache/personagraph"
        path = resolve_model(self.model_path, cache)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(path)
            self._model = AutoModelForCausalLM.from_pretrained(path)
        except OSError as exc:
            raise ConfigError(
                f"cannot load the transformers model {self.model_path!r}: {exc}",
                hint="set PERSONA_MODEL to a local model directory (or a hub id when online)",
            ) from exc
        if getattr(self._tokenizer, "chat_template", None) is None:
            raise ConfigError(
                f"model {self.model_path!r} has no chat template",
                hint="use an instruction-tuned model or add a chat_template",
            )
        self._model.to(self.device)
        self._model.eval()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        import torch

        self.load()
        tok, model = self._tokenizer, self._model
        inputs = tok.apply_chat_template(
            to_chat(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        sample = self.temperature > 0
        gen: dict[str, Any] = {
            "max_new_tokens": kwargs.get("max_new_tokens", self.max_new_tokens),
            "do_sample": sample,
            "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        }
        if sample:
            gen["temperature"] = self.temperature
        # the loop breaker runs before temperature: at the default 0.2 a small model loops
        # as it does greedily ("hiking, going, hiking, going, ..." to the token limit)
        from agent.policies.decoding import loop_guard

        gen["logits_processor"] = loop_guard(inputs["input_ids"].shape[1])
        if stop:
            gen["stop_strings"] = list(stop)
            gen["tokenizer"] = tok
        ids = inputs["input_ids"]
        t0 = time.perf_counter()
        with self._lock, torch.no_grad():
            past, reused = self._reusable(ids[0]) if self.prefix_cache else (None, 0)
            if past is not None:
                gen["past_key_values"] = past
            out = model.generate(**inputs, **gen, return_dict_in_generate=True)
            self._keep(out)
            self.prompt_tokens += int(ids.shape[1])
            self.cached_tokens += reused
        new = out.sequences[0][ids.shape[1] :]
        self.generation_s += time.perf_counter() - t0
        self.generated_tokens += int(new.shape[0])
        text = tok.decode(new, skip_special_tokens=True)
        for s in stop or []:  # keep the closing tag, drop anything after it
            if s in text:
                text = text[: text.index(s) + len(s)]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _reusable(self, prompt: Any) -> tuple[Any, int]:
        """The kept cache cut back to the prompt's shared prefix, and that prefix's length;
        ``(None, 0)`` when nothing is shared. At least the prompt's last token is always read
        again: generation starts from its logits."""
        if self._past is None:
            return None, 0
        held, cache = self._past
        self._past = None  # generate extends the cache in place: it is this call's now
        n = min(len(held), len(prompt) - 1)
        same = (held[:n] == prompt[:n]).long()
        shared = int(same.cumprod(0).sum()) if n > 0 else 0
        if shared == 0:
            return None, 0
        drop = cache.get_seq_length() - shared
        try:
            if drop > 0:
                cache.crop(-drop)  # transformers 5: a negative count removes that many
        except (RuntimeError, ValueError):  # a cache type that cannot be cut back
            return None, 0
        if cache.get_seq_length() != shared:
            return None, 0
        return cache, shared

    def _keep(self, out: Any) -> None:
        cache = getattr(out, "past_key_values", None)
        if not self.prefix_cache or cache is None or not hasattr(cache, "crop"):
            self._past = None
            return
        self._past = (out.sequences[0][: cache.get_seq_length()].clone(), cache)
