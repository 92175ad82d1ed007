"""Progress of a training stage: a transformers callback that reports each step (loss, tokens
per second, time left) through a plain function, so the CLI can draw a bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback

__all__ = ["Say", "StepReporter"]

#: say(stage, step, total, metrics)
Say = Callable[[str, int, int, dict[str, float]], None]


class StepReporter(TrainerCallback):
    def __init__(self, stage: str, say: Say) -> None:
        self.stage = stage
        self.say = say
        self.t0 = time.perf_counter()
        self.last: dict[str, float] = {}

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        # the end-of-training summary carries train_loss; transformers 5 puts train_runtime
        # into every step's logs too, so that key no longer marks the summary
        if not logs or "train_loss" in logs:
            return
        metrics = {
            k: float(v)
            for k, v in logs.items()
            if isinstance(v, int | float) and k in ("loss", "reward", "reward_std", "grad_norm")
        }
        elapsed = time.perf_counter() - self.t0
        metrics["elapsed_s"] = elapsed
        tokens = getattr(state, "num_input_tokens_seen", 0) or 0
        if tokens:
            metrics["tokens_per_s"] = tokens / max(elapsed, 1e-9)
        self.say(self.stage, int(state.global_step), int(state.max_steps or 0), metrics)
