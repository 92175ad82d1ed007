"""Maintenance: re-embedding every memory after the embedding model changes.

A vector index cannot be altered: it is dropped, every memory re-embedded with the configured
model (turns from their text and caption, facts and procedures from their text, events as the
normalised mean of their turns), and the index recreated by the migration.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graph.connection import Neo4jConnection
from graph.cypher import read as R
from graph.cypher import write as W
from graph.migrate import drop_vector_indexes, migrate, stamp_embedder
from schema.nodes import turn_search_text
from schema.protocols import Embedder

__all__ = ["reembed"]


def reembed(
    conn: Neo4jConnection,
    embedder: Embedder,
    *,
    page: int = 512,
    progress: Callable[[str, int], None] | None = None,
) -> int:
    """Re-embed all memories of all users; returns how many were re-embedded."""
    say = progress or (lambda _task, _n: None)
    drop_vector_indexes(conn)
    done = 0
    after = ""
    while True:
        rows = conn.read(
            R.ALL_MEMORIES_PAGE, kinds=["turn", "fact", "procedure"], after=after, limit=page
        )
        if not rows:
            break
        texts = [
            turn_search_text(
                r["speaker"],
                r["text"],
                r["caption"],
                (r["prev_speaker"], r["prev_text"]) if r["prev_text"] is not None else None,
            )
            if r["kind"] == "turn"
            else r["text"]
            for r in rows
        ]
        vecs = embedder.embed(texts)
        conn.write(
            W.SET_ANY_EMBEDDINGS,
            rows=[
                {"id": r["id"], "user_id": r["user_id"], "embedding": v.tolist()}
                for r, v in zip(rows, vecs, strict=True)
            ],
        )
        done += len(rows)
        after = rows[-1]["id"]
        say("memories", len(rows))
    after = ""
    while True:
        rows = conn.read(R.EVENT_TURN_IDS_PAGE, after=after, limit=page)
        if not rows:
            break
        out = []
        for r in rows:
            vectors = [v for v in r["vectors"] if v is not None]
            if not vectors:
                continue
            mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
            out.append(
                {
                    "id": r["id"],
                    "user_id": r["user_id"],
                    "embedding": (mean / (np.linalg.norm(mean) or 1.0)).tolist(),
                }
            )
        conn.write(W.SET_ANY_EMBEDDINGS, rows=out)
        done += len(out)
        after = max(r["id"] for r in rows)
        say("events", len(rows))
    stamp_embedder(conn, embedder.name, embedder.dimension)
    migrate(conn, dimension=embedder.dimension, embedder_name=embedder.name)
    return done
