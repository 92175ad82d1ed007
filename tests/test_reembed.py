"""Changing the embedding model: `persona db reembed` drops the vector index, re-embeds every
memory and recreates the index with the new dimension. Runs on a server of its own, since it
rewrites every user's embeddings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graph.connection import connect
from graph.local.server import LocalNeo4j
from graph.maintenance import reembed
from graph.migrate import existing_indexes, migrate, stamp_embedder, stored_embedder
from graph.store import Neo4jMemoryStore
from schema.errors import DimensionMismatch, EmbedderMismatch
from schema.model import VECTOR_INDEX
from schema.nodes import Event, Fact, Session, Turn, User, make_id
from schema.protocols import WriteBatch
from schema.retrieval import RetrievalRequest
from schema.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Projected:
    """Another 'model': the default's vectors through a fixed random projection to 32-d."""

    def __init__(self, base: Any, *, seed: int = 0) -> None:
        self.base = base
        self.seed = seed
        self.matrix = (
            np.random.default_rng(seed).normal(size=(base.dimension, 32)).astype(np.float32)
        )

    @property
    def name(self) -> str:
        return "projected-32" if self.seed == 0 else f"projected-32-seed{self.seed}"

    @property
    def dimension(self) -> int:
        return 32

    def embed(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        v = self.base.embed(texts) @ self.matrix
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("reembed-home")
    s = settings.model_copy(update={"home": Path(home)})
    server = LocalNeo4j(s)
    server.start()
    conn = connect(s, start=False)
    yield conn
    conn.close()
    server.stop()


def _dimension(conn: Any) -> int:
    row = existing_indexes(conn)[VECTOR_INDEX]
    return int(row["options"]["indexConfig"]["vector.dimensions"])


def test_reembed_switches_every_memory_to_the_new_model(own_server: Any, embedder: Any) -> None:
    conn = own_server
    migrate(conn, dimension=embedder.dimension)
    store = Neo4jMemoryStore(conn, embedder)
    t0 = datetime(2024, 5, 1, 9, tzinfo=UTC)
    uid, sid = "ana", make_id("session", "ana", "s")
    turns = [
        Turn(
            id=make_id("turn", uid, sid, i),
            user_id=uid,
            session_id=sid,
            index=i,
            role="user",
            speaker="Ana",
            text=text,
            t=t0 + timedelta(minutes=i),
        )
        for i, text in enumerate(
            ["I adopted a beagle called Pepper.", "We walk in Green Park every morning."]
        )
    ]
    store.write(
        WriteBatch(
            user=User(id=uid, user_id=uid),
            sessions=[
                Session(id=sid, user_id=uid, source_id="s", index=0, start=t0, end=turns[-1].t)
            ],
            turns=turns,
            facts=[
                Fact(
                    id=make_id("fact", uid, 1),
                    user_id=uid,
                    t=t0,
                    text="Ana has a beagle.",
                    valid_from=t0,
                    turn_ids=[turns[0].id],
                )
            ],
            events=[
                Event(
                    id=make_id("event", uid, sid),
                    user_id=uid,
                    session_id=sid,
                    t=t0,
                    t_end=turns[-1].t,
                    text="Ana talked about her dog.",
                    turn_ids=[t.id for t in turns],
                )
            ],
        )
    )
    assert _dimension(conn) == 384

    other = Projected(embedder)
    with pytest.raises(DimensionMismatch) as err:
        migrate(conn, dimension=other.dimension, embedder_name=other.name)
    assert "persona db reembed" in str(err.value)

    n = reembed(conn, other)
    assert n == 4  # two turns, one fact, one event
    assert _dimension(conn) == 32
    rows = conn.read(
        "MATCH (m:Memory {user_id: 'ana'}) RETURN m.kind AS kind, m.embedding AS e, m.id AS id"
    )
    assert {len(r["e"]) for r in rows} == {32}
    vecs = {r["id"]: np.asarray(r["e"]) for r in rows}
    # the second turn is short: re-embedded with the turn before it, as ingest embeds it
    with_context = other.embed(
        [
            "Ana: We walk in Green Park every morning. (replying to Ana: I adopted a beagle called "
            "Pepper.)"
        ]
    )[0]
    assert np.allclose(vecs[turns[1].id], with_context, atol=1e-6)
    assert np.allclose(
        vecs[turns[0].id], other.embed(["Ana: I adopted a beagle called Pepper."])[0], atol=1e-6
    )
    mean = (vecs[turns[0].id] + vecs[turns[1].id]) / 2
    event = next(r["id"] for r in rows if r["kind"] == "event")
    assert np.allclose(vecs[event], mean / np.linalg.norm(mean), atol=1e-5)
    new_store = Neo4jMemoryStore(conn, other)
    hit = new_store.retrieve(RetrievalRequest(user_id=uid, query="beagle", k=3, signals=["vector"]))
    assert hit.items  # the new index answers with the new model's vectors
    with pytest.raises(DimensionMismatch):
        migrate(conn, dimension=embedder.dimension)

    # another model of the SAME dimension: the index cannot tell, the stamp can
    twin = Projected(embedder, seed=1)
    with pytest.raises(EmbedderMismatch) as mismatch:
        migrate(conn, dimension=twin.dimension, embedder_name=twin.name)
    assert "'projected-32'" in mismatch.value.message
    assert twin.name in mismatch.value.message
    assert mismatch.value.hint is not None and "persona db reembed" in mismatch.value.hint
    reembed(conn, twin)
    migrate(conn, dimension=twin.dimension, embedder_name=twin.name)  # accepted now
    with pytest.raises(EmbedderMismatch):
        migrate(conn, dimension=other.dimension, embedder_name=other.name)


def test_an_unconfigured_embedder_keeps_the_model_that_embedded_the_database(
    own_server: Any, settings: Settings
) -> None:
    """A newer default must not break an old database: with PERSONA_EMBEDDER unset, the app
    uses the stamped model; a configured one is used as given (and migrate then refuses a
    mismatch, as above)."""
    from pipelines.app import App

    before = stored_embedder(own_server)
    stamp_embedder(own_server, "e5-small-v2-q", 384)
    try:
        assert "embedder" not in settings.model_fields_set
        unset = App(settings)
        unset.__dict__["conn"] = own_server
        assert unset.embedder_name == "e5-small-v2-q" != settings.embedder
        configured = App(settings.model_copy(update={"embedder": "all-MiniLM-L6-v2"}))
        configured.__dict__["conn"] = own_server
        assert configured.embedder_name == "all-MiniLM-L6-v2"
    finally:
        if before is not None:
            stamp_embedder(own_server, before, _dimension(own_server))
