"""GRPO rollouts through the agent's own loop, with the real graph in every one.

Each rollout runs the compiled LangGraph agent (the same start -> think -> retrieve -> think ...
-> answer graph the product runs) with a :class:`RecordingPolicy` as its model. The policy
generates with the model being trained; the agent parses each output, executes the model's own
retrieve block (keywords, window, types) against Neo4j, renders the memories with the run-time
prompt modules and calls the policy again, up to the agent's step budget. The policy keeps the
token sequence as the model saw it: its own tokens (trained) and the rendered prompts between
them (``env_mask`` 0, no loss).

Rollouts of one batch run in threads; their generation requests are batched into one
``generate`` call per round (:class:`BatchGenerator`), so a group of G rollouts costs about as
much as one, round by round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from agent.graph import AgentContext, build_agent
from agent.policies.hf import to_chat
from schema.datasets import GoldQuestion
from schema.protocols import MemoryStore
from schema.settings import Settings

__all__ = [
    "AgentRollout",
    "BatchGenerator",
    "Generation",
    "PromptCache",
    "RecordingPolicy",
    "agent_trace",
    "hf_generate",
    "run_agent_rollouts",
]


@dataclass
class Generation:
    ids: list[int]  # the model's tokens (an end-of-turn token included when it emitted one)
    logprobs: list[float]
    text: str  # decoded, cut after the first stop string


class BatchGenerator:
    """Collects generation requests from rollout threads and serves them in batches: a round
    is generated when every rollout still running has asked (or finished)."""

    def __init__(self, generate: Callable[[list[list[int]]], list[Generation]]) -> None:
        self._generate = generate
        self._cond = threading.Condition()
        self._pending: list[tuple[list[int], dict[str, Any]]] = []
        self._active = 0
        self.rounds = 0

    def start(self, n: int) -> None:
        with self._cond:
            self._active = n

    def submit(self, ids: list[int]) -> Generation:
        slot: dict[str, Any] = {}
        with self._cond:
            self._pending.append((ids, slot))
            self._cond.notify_all()
            while "result" not in slot and "error" not in slot:
                self._cond.wait()
        if "error" in slot:
            raise RuntimeError(f"generation failed: {slot['error']}")
        result: Generation = slot["result"]
        return result

    def finish(self) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify_all()

    def serve(self) -> None:
        """Run in the main thread until every rollout has finished."""
        while True:
            with self._cond:
                while self._active > 0 and len(self._pending) < self._active:
                    self._cond.wait()
                if self._active <= 0 and not self._pending:
                    return
                batch, self._pending = self._pending, []
            try:
                results = self._generate([ids for ids, _ in batch])
                outcome: list[tuple[str, Any]] = [("result", r) for r in results]
            except Exception as exc:  # every waiting rollout learns of it
                outcome = [("error", f"{type(exc).__name__}: {exc}")] * len(batch)
            with self._cond:
                for (_, slot), (key, value) in zip(batch, outcome, strict=True):
                    slot[key] = value
                self.rounds += 1
                self._cond.notify_all()


def hf_generate(
    model: Any,
    tokenizer: Any,
    *,
    max_new_tokens: int,
    temperature: float,
    stop: Sequence[str],
    bf16: bool = False,
    top_k: int = 40,
    prefix_cache: bool = True,
    cache: PromptCache | None = None,
) -> Callable[[list[list[int]]], list[Generation]]:
    """A batched sampler over a transformers model (left padding, stop strings). Sampling
    keeps the ``top_k`` likeliest tokens (the long tail of a small model's distribution is
    mostly broken syntax). A LoRA model generates with its adapter merged (one matmul a
    layer, not three), unmerged after; ``bf16`` runs the forward passes under bfloat16
    autocast. Greedy decoding runs :class:`agent.policies.decoding.LoopBreaker`.

    ``prefix_cache``: each prompt is read alone, reusing the keys and values of the longest
    prompt read before that it extends (:class:`PromptCache`: a rollout's next round resends
    its earlier prompt; a GRPO group's rollouts start from one prompt), and the rows' caches
    are stacked, left-padded, for one batched decode. The cache lives as long as the returned
    function (or pass ``cache``): make a new one after the weights change."""
    import torch

    from agent.policies.decoding import loop_guard

    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    if cache is None and prefix_cache:
        cache = PromptCache(model)

    def run(prompts: list[list[int]]) -> list[Generation]:
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p) :] = torch.tensor(p)
            mask[i, width - len(p) :] = 1
        was_training = model.training
        model.eval()
        merged = hasattr(model, "merge_adapter")
        if merged:
            model.merge_adapter()
        # greedy decoding (evaluation, serving) breaks loops; sampling (GRPO) keeps the
        # model's own distribution, so the rollout's log-probabilities are the policy's
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": top_k}
            if temperature > 0
            else {"do_sample": False, "logits_processor": loop_guard(width)}
        )
        device = "cuda" if ids.is_cuda else "cpu"
        with torch.no_grad(), torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            if cache is not None:
                past = cache.batch(prompts, width)
                if past is not None:
                    sampling["past_key_values"] = past
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                **sampling,
                pad_token_id=pad,
                eos_token_id=eos,
                stop_strings=list(stop),
                tokenizer=tokenizer,
                output_scores=True,
                return_dict_in_generate=True,
            )
            scores = model.compute_transition_scores(
                out.sequences, out.scores, normalize_logits=True
            )
        if merged:
            model.unmerge_adapter()
        if was_training:
            model.train()
        results = []
        for i in range(len(prompts)):
            new = out.sequences[i, width:].tolist()
            lp = scores[i].tolist()
            cut = next((j for j, t in enumerate(new) if t in (eos, pad)), len(new))
            text = tokenizer.decode(new[:cut], skip_special_tokens=True)
            stopped = next((s for s in stop if s in text), None)
            if stopped:
                text = text[: text.index(stopped) + len(stopped)]
                keep = cut
            else:
                keep = min(cut + 1, len(new))  # the model ended its turn: that token is its own
            results.append(Generation(new[:keep], [float(x) for x in lp[:keep]], text))
        return results

    return run


class PromptCache:
    """Keys and values of recently read prompts (all but their last token), one row each, so
    a prompt that extends one of them reads only its new tokens.

    transformers' ``generate`` takes one cache for the batch; :meth:`batch` builds it from the
    rows' caches, left-padded like the prompts. Padding is masked and each row's positions
    count from its first real token, so a row's keys and values do not depend on the padding.
    Only plain full-attention caches are stacked; for anything else (sliding windows,
    recurrent state) :meth:`batch` returns None and generation reads every prompt itself."""

    def __init__(self, model: Any, size: int = 16) -> None:
        self.model = model
        self.size = size
        self._rows: list[tuple[list[int], Any]] = []  # oldest first
        self.read = 0  # prompt tokens read
        self.reused = 0  # of them, served from a kept row

    def _longest(self, prompt: list[int]) -> tuple[Any, int]:
        best, shared = None, 0
        for ids, kv in self._rows:
            n = 0
            for a, b in zip(ids, prompt, strict=False):
                if a != b:
                    break
                n += 1
            if n > shared:
                best, shared = kv, n
        return best, shared

    def _row(self, prompt: list[int]) -> Any:
        """The cache of ``prompt[:-1]`` as a list of (keys, values) per layer, [1, h, n, d]."""
        import torch
        from transformers import DynamicCache

        body = prompt[:-1]
        kept, shared = self._longest(body)
        shared = min(shared, len(body))
        if kept is not None and shared == len(body):
            layers = [(k[:, :, :shared], v[:, :, :shared]) for k, v in kept]
        else:
            start = DynamicCache(config=self.model.config)
            if kept is not None and shared > 0:
                start = DynamicCache(
                    ddp_cache_data=[(k[:, :, :shared], v[:, :, :shared]) for k, v in kept]
                )
            device = next(self.model.parameters()).device
            rest = torch.tensor([body[shared:]], dtype=torch.long, device=device)
            out = self.model(input_ids=rest, past_key_values=start, use_cache=True)
            past = out.past_key_values
            if any(type(layer).__name__ != "DynamicLayer" for layer in past.layers):
                return None
            layers = [(layer.keys, layer.values) for layer in past.layers]
            self._rows.append((list(body), layers))
            self._rows = self._rows[-self.size :]
        self.read += len(body)
        self.reused += shared
        return layers

    def batch(self, prompts: list[list[int]], width: int) -> Any:
        """One cache for the left-padded batch (``width`` columns, the last one unread)."""
        import torch
        from transformers import DynamicCache

        if any(len(p) < 2 for p in prompts):
            return None
        rows = [self._row(p) for p in prompts]
        if any(r is None for r in rows):
            self._rows = []
            return None
        stacked = []
        for layer in range(len(rows[0])):
            ks, vs = [], []
            for p, r in zip(prompts, rows, strict=True):
                k, v = r[layer]
                gap = width - len(p)
                if gap:
                    k = torch.cat([k.new_zeros(*k.shape[:2], gap, k.shape[3]), k], dim=2)
                    v = torch.cat([v.new_zeros(*v.shape[:2], gap, v.shape[3]), v], dim=2)
                ks.append(k)
                vs.append(v)
            stacked.append((torch.cat(ks), torch.cat(vs)))
        return DynamicCache(ddp_cache_data=stacked)


class RecordingPolicy(BaseChatModel):
    """The model under training behind the chat-model interface, keeping the token sequence
    it saw and produced (see the module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    tokenizer: Any
    generator: Any  # BatchGenerator
    _seq: list[int] = PrivateAttr(default_factory=list)
    _mask: list[int] = PrivateAttr(default_factory=list)
    _logps: list[float] = PrivateAttr(default_factory=list)
    _prompt_len: int = PrivateAttr(default=0)
    _shown: str = PrivateAttr(default="")  # text rendering of everything in _seq
    _ended: bool = PrivateAttr(default=False)  # the last model output ended with end-of-turn

    @property
    def _llm_type(self) -> str:
        return "recording"

    def _render(self, messages: list[BaseMessage]) -> str:
        text = self.tokenizer.apply_chat_template(
            to_chat(messages), add_generation_prompt=True, tokenize=False
        )
        return str(text)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        full = self._render(messages)
        if not self._seq:
            self._seq = list(self.tokenizer(full, add_special_tokens=False)["input_ids"])
            self._prompt_len = len(self._seq)
            self._mask, self._logps = [], []
        else:
            if not full.startswith(self._shown):
                raise RuntimeError("the chat template is not prefix-preserving for this rollout")
            env = full[len(self._shown) :]
            eot = self.tokenizer.eos_token or ""
            if self._ended and eot and env.startswith(eot):
                env = env[len(eot) :]  # the model already ended its turn itself
            ids = list(self.tokenizer(env, add_special_tokens=False)["input_ids"])
            self._seq += ids
            self._mask += [0] * len(ids)
            self._logps += [0.0] * len(ids)
        gen: Generation = self.generator.submit(list(self._seq))
        self._seq += gen.ids
        self._mask += [1] * len(gen.ids)
        self._logps += gen.logprobs
        eos = self.tokenizer.eos_token_id
        self._ended = bool(gen.ids) and gen.ids[-1] == eos
        self._shown = full + gen.text
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=gen.text))])

    def tokens(self) -> dict[str, list[Any]]:
        """The rollout's token sequence. The agent stops the model at a closing tag; the
        model's turn then ends, so its last output gets the end-of-turn token SFT taught it
        (the chat template puts it inside the trained span)."""
        completion, mask, logps = self._seq[self._prompt_len :], list(self._mask), list(self._logps)
        eos = self.tokenizer.eos_token_id
        if completion and not self._ended and eos is not None:
            completion, mask, logps = [*completion, eos], [*mask, 1], [*logps, 0.0]
        return {
            "prompt_ids": self._seq[: self._prompt_len],
            "completion_ids": completion,
            "env_mask": mask,
            "logprobs": logps,
        }


@dataclass
class RolloutOutcome:
    question: GoldQuestion
    tokens: dict[str, list[Any]]
    trace: dict[str, Any] = field(default_factory=dict)


#: resolving a relative date ("last week") is the parser's job, not a slip of the model
_NOT_SLIPS = {"relative_date"}


def agent_trace(state: dict[str, Any], error: str | None) -> dict[str, Any]:
    """What the agent did, in the terms the rewards judge: step kinds and their parse issues,
    the source ids each retrieve returned, each retrieve's window, the answer."""
    steps = state.get("steps") or []
    source = {m["id"]: m.get("source_id") for m in state.get("memories") or []}
    retrieved, windows = [], []
    step_issues = [[i for i in st.get("issues") or [] if i not in _NOT_SLIPS] for st in steps]
    for st in steps:
        if st["kind"] == "retrieve":
            retrieved.append([source[i] for i in st.get("memory_ids", []) if source.get(i)])
            req = st.get("request") or {}
            windows.append([req.get("start"), req.get("end")])
    grounded = [st for st in steps if st["kind"] == "grounded"]
    return {
        "answer": state.get("answer") or "",
        # the policy's own answer, before agent.grounding dated it
        "model_answer": grounded[-1]["replaced"] if grounded else state.get("answer") or "",
        "kinds": [st["kind"] for st in steps],
        "step_issues": step_issues,
        "retrieved": retrieved,
        "windows": windows,
        "issues": [i for issues in step_issues for i in issues],
        "calls": state.get("calls", 0),
        "error": error,
    }


def run_agent_rollouts(
    questions: Sequence[GoldQuestion],
    *,
    store: MemoryStore,
    settings: Settings,
    tokenizer: Any,
    generate: Callable[[list[list[int]]], list[Generation]],
) -> list[RolloutOutcome]:
    """One agent run per question (repeat a question for a group), batched round by round."""
    batcher = BatchGenerator(generate)
    outcomes: list[RolloutOutcome | None] = [None] * len(questions)
    agent = build_agent()

    def one(i: int, q: GoldQuestion) -> None:
        policy = RecordingPolicy(tokenizer=tokenizer, generator=batcher)
        ctx = AgentContext(
            user_id=q.user_id,
            store=store,
            policy=policy,
            settings=settings,
            now=q.asked_at,
            user_name=q.user_name,
        )
        state: dict[str, Any] = {}
        error = None
        try:
            state = dict(
                agent.invoke(
                    {"question": q.question, "asked_at": q.asked_at.isoformat()}, context=ctx
                )
            )
        except Exception as exc:  # recorded in the trace; the rollout scores as malformed
            error = f"{type(exc).__name__}: {exc}"
        finally:
            batcher.finish()
        outcomes[i] = RolloutOutcome(q, policy.tokens(), agent_trace(state, error))

    batcher.start(len(questions))
    threads = [
        threading.Thread(target=one, args=(i, q), daemon=True) for i, q in enumerate(questions)
    ]
    for t in threads:
        t.start()
    batcher.serve()
    for t in threads:
        t.join()
    return [o for o in outcomes if o is not None]


class AgentRollout:
    """trl's ``rollout_func``: prompts carry their question id; every prompt gets one agent
    rollout (the trainer repeats each prompt num_generations times)."""

    def __init__(
        self,
        questions: dict[str, GoldQuestion],
        *,
        store: MemoryStore,
        settings: Settings,
        tokenizer: Any,
        max_new_tokens: int,
        temperature: float,
        stop: Sequence[str],
        bf16: bool = False,
        top_k: int = 40,
        score: Callable[[GoldQuestion, dict[str, Any]], float] | None = None,
        resample: int = 0,
    ) -> None:
        self.score = score
        self.resample = resample  # redraws need ``score``: without it nothing is redrawn
        #: groups seen, tied on the first draw, redraws made, still tied after the last
        self.groups = {"seen": 0, "tied": 0, "redrawn": 0, "still_tied": 0}
        self.bf16 = bf16
        self.top_k = top_k
        self.questions = questions
        self.store = store
        self.settings = settings
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.stop = list(stop)
        self.last: list[RolloutOutcome] = []

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        model = trainer.accelerator.unwrap_model(trainer.model)
        questions = [self.questions[_question_id(p)] for p in prompts]
        generate = hf_generate(
            model,
            self.tokenizer,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            stop=self.stop,
            bf16=self.bf16,
            top_k=self.top_k,
        )

        def roll(qs: list[GoldQuestion]) -> list[RolloutOutcome]:
            return run_agent_rollouts(
                qs,
                store=self.store,
                settings=self.settings,
                tokenizer=self.tokenizer,
                generate=generate,
            )

        outcomes = self._redraw_tied(questions, roll(questions), roll)
        self.last = outcomes
        out: dict[str, Any] = {k: [o.tokens[k] for o in outcomes] for k in outcomes[0].tokens}
        out["trace"] = [o.trace for o in outcomes]
        return out

    def _redraw_tied(
        self,
        questions: list[GoldQuestion],
        outcomes: list[RolloutOutcome],
        roll: Callable[[list[GoldQuestion]], list[RolloutOutcome]],
    ) -> list[RolloutOutcome]:
        """Dynamic sampling (DAPO): a group whose rollouts all score the same reward has zero
        advantage and teaches nothing, so it is rolled out again, up to ``resample`` times.
        Conditioning on a spread only drops groups whose gradient is zero anyway."""
        groups: dict[str, list[int]] = {}
        for i, q in enumerate(questions):
            groups.setdefault(q.id, []).append(i)
        self.groups["seen"] += len(groups)
        if self.score is None:
            return outcomes
        score = self.score
        rewards = [score(o.question, o.trace) for o in outcomes]

        def tied(members: list[int]) -> bool:
            values = [rewards[i] for i in members]
            return len(values) > 1 and max(values) - min(values) < 1e-6

        todo = [m for m in groups.values() if tied(m)]
        self.groups["tied"] += len(todo)
        for _ in range(self.resample):
            if not todo:
                break
            redo = [i for members in todo for i in members]
            self.groups["redrawn"] += len(todo)
            for i, fresh in zip(redo, roll([questions[i] for i in redo]), strict=True):
                outcomes[i] = fresh
                rewards[i] = score(fresh.question, fresh.trace)
            todo = [m for m in todo if tied(m)]
        self.groups["still_tied"] += len(todo)
        return outcomes


def _question_id(prompt: Any) -> str:
    for message in prompt if isinstance(prompt, list) else []:
        if isinstance(message, dict) and message.get("question_id"):
            return str(message["question_id"])
    raise ValueError("a GRPO prompt must carry its question_id (see training.grpo.prompt_rows)")
