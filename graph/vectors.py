"""Vectors for a batch, computed before its transaction opens (so the transaction only
writes): turns with their captions, facts and procedures by their text, images with the
image embedder when one is configured, and an event as the normalised mean of its turns
(its summary when those turns are not in the batch)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from schema.nodes import MemoryNode, Turn, previous_turns
from schema.protocols import Embedder, ImageEmbedder, WriteBatch

__all__ = ["fill_embeddings"]


def fill_embeddings(
    batch: WriteBatch,
    embedder: Embedder,
    image_embedder: ImageEmbedder | None = None,
    earlier: Mapping[str, tuple[str | None, str]] | None = None,
) -> None:
    """Set every missing vector of the batch in place. A turn is embedded with the turn
    before it (:func:`schema.nodes.turn_search_text`): from the batch, else from ``earlier``
    (turn id -> speaker and text of its stored predecessor)."""
    turn_vecs = {t.id: t.embedding for t in batch.turns}
    before = {**(earlier or {}), **previous_turns(batch.turns)}
    todo: list[tuple[MemoryNode, str]] = [
        (t, t.embedding_text(before.get(t.id))) for t in batch.turns if t.embedding is None
    ]
    todo += [(n, n.text) for n in (*batch.facts, *batch.procedures) if n.embedding is None]
    if todo:
        vecs = embedder.embed([text for _, text in todo])
        for (node, _), vec in zip(todo, vecs, strict=True):
            node.embedding = vec.tolist()
            if isinstance(node, Turn):
                turn_vecs[node.id] = node.embedding
    if image_embedder is not None:
        pending = [
            t
            for t in batch.turns
            if t.image_embedding is None and t.image_path and Path(t.image_path).is_file()
        ]
        if pending:
            images = [Path(t.image_path).read_bytes() for t in pending if t.image_path]
            for t, vec in zip(pending, image_embedder.embed_images(images), strict=True):
                t.image_embedding = vec.tolist()
    events = [e for e in batch.events if e.embedding is None]
    missing = [e for e in events if any(turn_vecs.get(i) is None for i in e.turn_ids)]
    summary_vecs: Any = embedder.embed([e.text for e in missing]) if missing else []
    by_id = {e.id: v for e, v in zip(missing, summary_vecs, strict=True)}
    for e in events:
        if e.id in by_id:
            e.embedding = by_id[e.id].tolist()
            continue
        mean = np.asarray([turn_vecs[i] for i in e.turn_ids], dtype=np.float32).mean(axis=0)
        e.embedding = (mean / (float(np.linalg.norm(mean)) or 1.0)).tolist()
