"""GRPO on trl's GRPOTrainer with the real graph in every rollout (:mod:`training.rollout`):
the model's own retrieve calls run against Neo4j, the memories come back as the agent renders
them and carry no loss, and the rewards of :mod:`training.rewards` judge the answer, the
evidence the retrievals found, the windows and the format. LoRA or full weights; checkpoints
every ``save_steps`` and a resume from the last one; the merged result goes to
``work_dir/grpo``."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.graph import STOP
from schema.datasets import GoldQuestion
from schema.protocols import MemoryStore
from schema.settings import Settings
from schema.training import TrainConfig
from training.base import bf16_enabled, load_tokenizer
from training.progress import Say, StepReporter
from training.rewards import REWARD_FUNCS, weighted_reward
from training.rollout import AgentRollout
from training.sft import (
    last_checkpoint,
    lora_config,
    quiet,
    quiet_datasets,
    save_merged,
    trainer_device_args,
)

__all__ = ["GRPOResult", "draw_by_kind", "prompt_rows", "rollout_scorer", "run_grpo"]


@dataclass
class GRPOResult:
    model_dir: Path
    steps: int
    rollouts: int
    train_tokens: int
    seconds: float
    mean_reward: float | None
    rewards_by_step: list[float]
    resumed_from: str | None
    #: rollout groups: seen, tied on the first draw, redrawn, still tied (no signal)
    groups: dict[str, int] = field(default_factory=dict)
    #: the questions GRPO drew, by kind
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        return self.train_tokens / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_dir": str(self.model_dir),
            "steps": self.steps,
            "rollouts": self.rollouts,
            "train_tokens": self.train_tokens,
            "seconds": round(self.seconds, 1),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "mean_reward": self.mean_reward,
            "rewards_by_step": self.rewards_by_step,
            "resumed_from": self.resumed_from,
            "groups": self.groups,
            "kinds": self.kinds,
        }


def prompt_rows(questions: list[GoldQuestion]) -> list[dict[str, Any]]:
    """Dataset rows: the prompt carries the question id (the rollout looks the question up and
    runs the agent on it); the gold columns go to the rewards."""

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return [
        {
            "prompt": [{"role": "user", "content": q.question, "question_id": q.id}],
            "question_id": q.id,
            "answer": q.answer,
            "kind": q.kind,
            "evidence": list(q.evidence),
            "evidence_at": [t.isoformat() for t in q.evidence_at],
            "window_start": iso(q.window_start),
            "window_end": iso(q.window_end),
        }
        for q in questions
    ]


def draw_by_kind(questions: Sequence[GoldQuestion], n: int, seed: int) -> list[GoldQuestion]:
    """``n`` questions with every kind drawn equally often: the kinds take turns (in a seeded
    order), each kind's questions shuffled and reused only once all of them were drawn. GRPO
    sees few questions (steps x prompts_per_step), and drawn as the pool comes they would be
    mostly the kinds SFT already saw most.

    >>> from types import SimpleNamespace as Q
    >>> pool = [Q(id=f"s{i}", kind="single_hop") for i in range(8)] + [Q(id="h", kind="how_long")]
    >>> drawn = draw_by_kind(pool, 4, seed=1)
    >>> sorted(q.kind for q in drawn)
    ['how_long', 'how_long', 'single_hop', 'single_hop']
    >>> len({q.id for q in drawn if q.kind == "single_hop"})
    2
    >>> [q.id for q in drawn] == [q.id for q in draw_by_kind(pool, 4, seed=1)]
    True
    """
    rng = random.Random(seed)
    by_kind: dict[str, list[GoldQuestion]] = {}
    for q in questions:
        by_kind.setdefault(q.kind, []).append(q)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    for kind in kinds:
        rng.shuffle(by_kind[kind])
    drawn: list[GoldQuestion] = []
    for i in range(n):
        same = by_kind[kinds[i % len(kinds)]]
        drawn.append(same[(i // len(kinds)) % len(same)])
    return drawn


def run_grpo(
    cfg: TrainConfig,
    *,
    start: Path,
    questions: list[GoldQuestion],
    store: MemoryStore,
    settings: Settings,
    work_dir: Path,
    say: Say | None = None,
) -> GRPOResult:
    """GRPO from the SFT model at ``start`` on ``questions`` (training personas)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    quiet_datasets()
    g = cfg.grpo
    tokenizer = load_tokenizer(start)
    model = AutoModelForCausalLM.from_pretrained(str(start), dtype=torch.float32)
    ckpt_dir = work_dir / "grpo-checkpoints"
    weights = g.rewards
    reward_weights = (weights.answer, weights.evidence, weights.window, weights.format)
    args = GRPOConfig(
        output_dir=str(ckpt_dir),
        # a step's rollouts are generated together; the loss runs micro_batch at a time
        per_device_train_batch_size=g.loss_batch,
        num_generations=g.num_generations,
        gradient_accumulation_steps=g.rollouts_per_step // g.loss_batch,
        learning_rate=g.learning_rate,
        beta=g.beta,
        temperature=g.temperature,
        max_steps=g.steps,
        max_completion_length=4096,
        reward_weights=list(reward_weights),
        save_strategy="steps",
        save_steps=g.save_steps,
        log_completions=False,
        # trl counts prompt + completion tokens itself; transformers' own counter finds no
        # input_ids in GRPO's batches and warned on every micro-batch
        include_num_input_tokens_seen="no",
        **trainer_device_args(cfg),
    )
    drawn = (
        draw_by_kind(questions, g.steps * g.prompts_per_step, cfg.data.seed)
        if g.balance == "kind"
        else questions
    )
    rollout = AgentRollout(
        {q.id: q for q in questions},
        store=store,
        # rewards judge the model's own answers, not agent.grounding's dates
        settings=settings.model_copy(update={"max_steps": g.agent_steps, "ground_when": False}),
        tokenizer=tokenizer,
        max_new_tokens=g.max_new_tokens,
        temperature=g.temperature,
        stop=STOP,
        bf16=bf16_enabled(cfg),
        top_k=g.top_k,
        score=rollout_scorer(questions, reward_weights),
        resample=g.resample,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list(REWARD_FUNCS),
        args=args,
        train_dataset=Dataset.from_list(prompt_rows(drawn)),
        processing_class=tokenizer,
        peft_config=lora_config(g.lora) if g.lora.enabled else None,
        rollout_func=rollout,
        callbacks=[StepReporter("grpo", say)] if say else [],
    )
    quiet(trainer)
    resume = last_checkpoint(ckpt_dir)
    t0 = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=resume)
    seconds = float(out.metrics.get("train_runtime", time.perf_counter() - t0))
    model_dir = work_dir / "grpo"
    save_merged(trainer.model, tokenizer, model_dir)
    rewards = [float(h["reward"]) for h in trainer.state.log_history if "reward" in h]
    return GRPOResult(
        model_dir=model_dir,
        steps=int(trainer.state.global_step),
        rollouts=int(trainer.state.global_step) * g.rollouts_per_step,
        train_tokens=int(trainer.state.num_input_tokens_seen or 0),
        seconds=seconds,
        mean_reward=sum(rewards) / len(rewards) if rewards else None,
        rewards_by_step=rewards,
        resumed_from=resume,
        groups=dict(rollout.groups),
        # only a balanced draw is the list GRPO works through; otherwise trl samples the pool
        kinds=dict(sorted(Counter(q.kind for q in drawn).items())) if g.balance == "kind" else {},
    )


def rollout_scorer(
    questions: list[GoldQuestion], weights: Sequence[float]
) -> Callable[[GoldQuestion, dict[str, Any]], float]:
    """A rollout's reward as the trainer will compute it, for the rollout's redraws."""
    rows = {row["question_id"]: row for row in prompt_rows(questions)}

    def score(question: GoldQuestion, trace: dict[str, Any]) -> float:
        return weighted_reward(rows[question.id], trace, weights)

    return score
