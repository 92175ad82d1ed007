"""SFT on trl's SFTTrainer: the teacher's trajectories, loss on the assistant turns only (the
chat template marks them), LoRA or full fine-tuning, checkpoints every ``save_steps`` and a
resume from the last one after an interruption. The result is a merged model directory.

One change to trl's loss, measured: a trajectory is ~90% prompt and memories and ~10% assistant
tokens, yet trl's fused LM head scores every position (profiled on SmolLM2-135M, 2 cores: 57%
of a step). :class:`AssistantSFTTrainer` asks the model for logits only at the positions whose
next token is trained (``logits_to_keep`` with their indices) and takes the same token-mean
cross-entropy there; the gradient is identical, a step takes about half the time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schema.training import LoraSection, TrainConfig
from training.base import bf16_enabled, load_tokenizer
from training.progress import Say, StepReporter

__all__ = ["SFTResult", "lora_config", "read_trajectories", "run_sft", "trainer_device_args"]


@dataclass
class SFTResult:
    model_dir: Path
    steps: int
    examples: int
    train_tokens: int
    seconds: float
    final_loss: float | None
    resumed_from: str | None

    @property
    def tokens_per_s(self) -> float:
        return self.train_tokens / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_dir": str(self.model_dir),
            "steps": self.steps,
            "examples": self.examples,
            "train_tokens": self.train_tokens,
            "seconds": round(self.seconds, 1),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "final_loss": self.final_loss,
            "resumed_from": self.resumed_from,
        }


def _assistant_trainer() -> Any:
    import torch
    import torch.nn.functional as F
    from trl import SFTTrainer

    class AssistantSFTTrainer(SFTTrainer):
        """SFTTrainer whose loss computes logits only where labels are trained."""

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            labels = inputs["labels"]
            target = labels[:, 1:]
            keep = (target != -100).any(dim=0).nonzero().squeeze(-1)
            if keep.numel() == 0:
                keep = torch.zeros(1, dtype=torch.long, device=labels.device)
            forward = {k: v for k, v in inputs.items() if k != "labels"}
            out = model(**forward, use_cache=False, logits_to_keep=keep)
            logits = out.logits.float()
            gold = target[:, keep]
            total = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                gold.reshape(-1),
                ignore_index=-100,
                reduction="sum",
            )
            valid = gold != -100
            n = num_items_in_batch if num_items_in_batch is not None else valid.sum()
            loss = total / torch.as_tensor(n, device=total.device).clamp(min=1)
            with torch.no_grad():
                hits = ((logits.argmax(-1) == gold) & valid).sum()
                mode = "train" if model.training else "eval"
                self._metrics[mode]["mean_token_accuracy"].append(
                    float(hits) / max(float(valid.sum()), 1.0)
                )
            return (loss, out) if return_outputs else loss

    return AssistantSFTTrainer


def read_trajectories(path: Path) -> list[dict[str, Any]]:
    """The ``messages`` of every trajectory in an sft.jsonl file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `persona train data` first")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{path} holds no trajectories")
    return [{"messages": r["messages"]} for r in rows]


def lora_config(lora: LoraSection) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
    )


def trainer_device_args(cfg: TrainConfig) -> dict[str, Any]:
    """Arguments every trainer of a run shares: device, precision, no external reporting,
    no activation checkpointing (40% slower on CPU, not needed at these sizes)."""
    return {
        "use_cpu": cfg.model.device == "cpu",
        "bf16": bf16_enabled(cfg),
        "fp16": False,
        "report_to": [],
        "dataloader_num_workers": 0,
        "activation_checkpointing": False,
        "logging_steps": 1,
        "save_total_limit": 2,
        "seed": cfg.data.seed,
        "disable_tqdm": True,
    }


def quiet(trainer: Any) -> Any:
    """Progress comes through StepReporter; the trainer's own log printing and the hub's
    progress bars stay out of the terminal."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.utils import logging as hf_logging

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    hf_logging.disable_progress_bar()
    return trainer


def quiet_datasets() -> None:
    """No per-map progress bars from ``datasets`` (the stage's own bar says it all)."""
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()


def last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def save_merged(model: Any, tokenizer: Any, out: Path) -> None:
    """Merge a LoRA adapter into the weights (a plain model stays as it is) and save."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def run_sft(
    cfg: TrainConfig,
    *,
    base: str,
    data_file: Path,
    work_dir: Path,
    say: Say | None = None,
    callbacks: Sequence[Any] = (),
) -> SFTResult:
    """Train on ``data_file`` (sft.jsonl) from ``base``; the merged model goes to
    ``work_dir/sft``; checkpoints to ``work_dir/sft-checkpoints`` (resumed from)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig

    quiet_datasets()
    rows = read_trajectories(data_file)
    tokenizer = load_tokenizer(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    s = cfg.sft
    ckpt_dir = work_dir / "sft-checkpoints"
    args = SFTConfig(
        output_dir=str(ckpt_dir),
        assistant_only_loss=True,
        max_length=s.max_length,
        per_device_train_batch_size=s.batch_size,
        gradient_accumulation_steps=s.grad_accum,
        learning_rate=s.learning_rate,
        num_train_epochs=s.epochs,
        max_steps=s.max_steps,
        lr_scheduler_type="cosine",
        warmup_steps=s.warmup_ratio,  # a float below 1 is a ratio of the steps
        save_strategy="steps",
        save_steps=s.save_steps,
        include_num_input_tokens_seen="non_padding",
        packing=False,
        **trainer_device_args(cfg),
    )
    extra: list[Any] = [StepReporter("sft", say)] if say else []
    trainer = _assistant_trainer()(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(s.lora) if s.lora.enabled else None,
        callbacks=[*extra, *callbacks],
    )
    quiet(trainer)
    resume = last_checkpoint(ckpt_dir)
    t0 = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - t0
    model_dir = work_dir / "sft"
    save_merged(trainer.model, tokenizer, model_dir)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return SFTResult(
        model_dir=model_dir,
        steps=int(trainer.state.global_step),
        examples=len(rows),
        train_tokens=int(trainer.state.num_input_tokens_seen or 0),
        seconds=float(out.metrics.get("train_runtime", seconds)),
        final_loss=float(losses[-1]) if losses else None,
        resumed_from=resume,
    )
