"""Export: the trained model (adapters already merged), its tokenizer and a model card in the
output folder, ready for ``PERSONA_POLICY=hf PERSONA_MODEL=DIR`` or ``vllm serve DIR``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

__all__ = ["export_model", "update_card", "weights_digest"]

_MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
)


def weights_digest(model_dir: Path) -> str:
    """A short hash of the weights (tests compare it before and after training)."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(model_dir.glob("*.safetensors")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def export_model(trained: Path, out: Path, card: dict[str, Any]) -> Path:
    """Copy the model files of ``trained`` into ``out`` and write the card (JSON and a
    README the hub and people can read)."""
    out.mkdir(parents=True, exist_ok=True)
    copied = 0
    for name in _MODEL_FILES:
        src = trained / name
        if src.is_file():
            shutil.copy2(src, out / name)
            copied += 1
    if not (out / "config.json").is_file():
        raise FileNotFoundError(f"{trained} holds no model to export")
    card = {**card, "weights_sha256_16": weights_digest(out)}
    update_card(out, card)
    return out


def update_card(out: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """Merge ``fields`` into the model card and rewrite its README."""
    path = out / "model_card.json"
    card = json.loads(path.read_text()) if path.is_file() else {}
    card.update(fields)
    path.write_text(json.dumps(card, indent=1, default=str))
    (out / "README.md").write_text(_readme(card))
    return card


def _readme(card: dict[str, Any]) -> str:
    lines = [
        f"# {card.get('name', 'PersonaGraph policy')}",
        "",
        card.get("summary", ""),
        "",
        f"- base: {card.get('base')} ({card.get('base_note', '')})",
        f"- preset: {card.get('preset')}",
        f"- data: {card.get('data', {}).get('sft_trajectories', '?')} SFT trajectories, "
        f"hash {card.get('data_hash')}",
        f"- prompt versions: {', '.join(card.get('prompt_versions', []))}",
    ]
    for stage in ("sft", "grpo"):
        info = card.get(stage)
        if info:
            lines.append(
                f"- {stage}: {info.get('steps')} steps, {info.get('tokens_per_s')} train tokens/s"
            )
    metrics = card.get("heldout")
    if metrics:
        lines += ["", "## Held-out metrics", "", "```", json.dumps(metrics, indent=1), "```"]
    lines += [
        "",
        "## Use",
        "",
        "```bash",
        "PERSONA_POLICY=hf PERSONA_MODEL=<this folder> persona ask --user sam 'When did I ...?'",
        "vllm serve <this folder> --served-model-name personagraph-policy  # on a GPU, then:",
        "PERSONA_POLICY=openai PERSONA_MODEL=personagraph-policy persona chat --user sam",
        "```",
        "",
    ]
    return "\n".join(lines)
