"""Second-stage reranking with a cross-encoder: the question and each of the top fused
candidates are read together, which a bi-encoder (the embedder) cannot do. It is what lifts
multi-hop and open-domain questions in retrieval stacks with a model hub (Graphiti, mem0);
here it is optional, because no cross-encoder weights are published on a package registry
(PyPI, Maven Central) and this project never downloads at run time by default.

``PERSONA_RERANKER`` names the model: a sentence-transformers CrossEncoder hub id
(``cross-encoder/ms-marco-MiniLM-L6-v2``, ``BAAI/bge-reranker-base``) or a local folder. The
store reads the top ``PERSONA_RERANK_DEPTH`` candidates of every retrieval and returns the k
the model scores highest; each item's ``why`` gains a ``rerank`` signal with its new rank and
the model's score. Loaded through sentence-transformers' CrossEncoder (the project already
depends on it for the MiniLM embedder) rather than by hand: it knows each model family's
activation and tokenisation of pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from graph.embed import unreachable_model
from schema.errors import ConfigError
from schema.nodes import MemoryKind, turn_search_text
from schema.retrieval import RetrievedMemory, Signal

if TYPE_CHECKING:
    from schema.protocols import Reranker

__all__ = ["CrossEncoderReranker", "passage", "rerank_items"]

_HINT = (
    "set PERSONA_RERANKER to a local cross-encoder folder or a hub id on a machine with a hub "
    "(e.g. cross-encoder/ms-marco-MiniLM-L6-v2), or unset it to rank by fusion alone"
)


class CrossEncoderReranker:
    """Implements :class:`schema.protocols.Reranker`. The model loads on first use; a model
    that cannot load is a :class:`ConfigError` naming it, never a silent fallback to no
    reranking."""

    def __init__(
        self, model: str, *, device: str = "cpu", max_length: int = 256, batch_size: int = 32
    ) -> None:
        self.model_name = model
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self.model_name

    @cached_property
    def model(self) -> Any:
        from sentence_transformers import CrossEncoder
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        local = Path(self.model_name).expanduser().exists()
        if unreachable_model(self.model_name):
            raise ConfigError(
                f"PERSONA_RERANKER {self.model_name!r} is not a folder, and the model hub "
                "cannot be reached to fetch it",
                hint=_HINT,
            )
        try:
            model = CrossEncoder(self.model_name, device=self.device)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"cannot load the reranker {self.model_name!r}: {exc}",
                hint=None if local else _HINT,
            ) from exc
        # pairs are cut at max_length tokens, never past what the model has positions for
        model.max_seq_length = min(self.max_length, model.max_seq_length or self.max_length)
        return model

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One relevance score per passage (the model's own activation: a probability for
        the ms-marco and bge rerankers), higher is more relevant."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        model = self.model
        try:
            scores = model.predict(
                [(query, p) for p in passages],
                batch_size=self.batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        except RuntimeError as exc:  # torch's: the model cannot run these inputs
            raise ConfigError(
                f"the reranker {self.model_name!r} failed on {len(passages)} passages: {exc}",
                hint="check that it is a cross-encoder (one relevance score per pair), or "
                "rank by fusion alone (unset PERSONA_RERANKER)",
            ) from exc
        return np.asarray(scores, dtype=np.float32).reshape(len(passages))


def passage(item: RetrievedMemory) -> str:
    """What the cross-encoder reads of a candidate: a turn as it is embedded (speaker, text,
    image caption: "I moved" is about whoever said it), any other memory by its text.

    >>> from datetime import UTC, datetime
    >>> t = RetrievedMemory(id="t1", kind="turn", text="I moved.", t=datetime.now(UTC),
    ...                     speaker="Ana", caption="boxes")
    >>> passage(t)
    'Ana: I moved. [image: boxes]'
    """
    if item.kind == MemoryKind.TURN:
        return turn_search_text(item.speaker, item.text, item.caption)
    return item.text


def rerank_items(
    reranker: Reranker, query: str, items: list[RetrievedMemory], k: int
) -> list[RetrievedMemory]:
    """The ``k`` items the reranker scores highest, best first (ties keep the fused order).
    Each item's ``score`` becomes the reranker's; the fused score stays in ``why.fused``,
    and ``why`` gains a ``rerank`` signal with the new rank."""
    scores = reranker.score(query, [passage(i) for i in items])
    order = sorted(range(len(items)), key=lambda i: (-float(scores[i]), i))[:k]
    out = []
    for rank, i in enumerate(order, start=1):
        item = items[i]
        item.score = float(scores[i])
        item.why.signals.append(Signal(name="rerank", rank=rank, score=float(scores[i])))
        out.append(item)
    return out
