"""``Neo4jMemoryStore``: the :class:`schema.protocols.MemoryStore` on Neo4j, as a facade that
coordinates transactions and delegates the work:

- writes: vectors first (graph/vectors.py), then ONE transaction runs the per-label write
  functions of graph/writes.py (all or nothing; every statement an idempotent UNWIND/MERGE);
- retrieval: the query is embedded, then one read transaction gathers candidates
  (graph/candidates.py: vector, full-text, image, with the user, window and kinds as
  predicates) and turns them into results (graph/results.py: fused memory units with graph
  expansion, or turn units scored by graph/evidence.py);
- reads: typed read models mapped by graph/rows.py.

Follow a search from the CLI: ``cli/memory.py:search_cmd`` builds a RetrievalRequest ->
:meth:`Neo4jMemoryStore.retrieve` -> :func:`graph.candidates.gather` (Cypher in
graph/cypher/read.py) -> :func:`graph.results.memories` or :func:`graph.results.evidence`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta, timezone
from typing import Any

from neo4j import ManagedTransaction

from graph import results
from graph.candidates import Candidates, VectorHits, VectorPlanner, gather, vector_hits
from graph.connection import Neo4jConnection
from graph.connection import run as cypher
from graph.cypher import read as R
from graph.cypher import write as W
from graph.rerank import rerank_items
from graph.retrieval import lucene_query, window_months
from graph.rows import model_props, native, to_listing, to_snapshot, to_turn
from graph.vectors import fill_embeddings
from graph.writes import check_owner, write_batch
from schema.errors import ConfigError, StoreError
from schema.nodes import (
    SHORT_TURN_WORDS,
    Fact,
    MemoryKind,
    PersonalitySnapshot,
    Procedure,
    ProfileEntry,
    Session,
    Turn,
)
from schema.protocols import (
    Embedder,
    ImageEmbedder,
    MemoryListing,
    Reranker,
    ServerFacts,
    StoredTurn,
    UserContext,
    WriteBatch,
    WriteStats,
)
from schema.retrieval import (
    EXACT_MAX,
    RetrievalRequest,
    RetrievalResult,
    RetrievedMemory,
    TimeWindow,
    VectorPath,
)

__all__ = ["Neo4jMemoryStore", "native"]


class Neo4jMemoryStore:
    """Implements :class:`schema.protocols.MemoryStore`."""

    def __init__(
        self,
        conn: Neo4jConnection,
        embedder: Embedder,
        *,
        vector_path: VectorPath | None = None,
        exact_max: int = EXACT_MAX,
        image_embedder: ImageEmbedder | None = None,
        image_min_score: float = 0.6,
        reranker: Reranker | None = None,
        rerank_depth: int = 30,
    ) -> None:
        self.conn = conn
        self.embedder = embedder
        self.reranker = reranker
        self.rerank_depth = rerank_depth
        self.image_embedder = image_embedder
        self.image_min_score = image_min_score
        self.planner = VectorPlanner(exact_max)
        # the vector signal of each retrieval (query embedding, then the vector query) runs
        # here, beside full-text; several retrievals at once each get a worker
        self._vector = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vector-signal")
        best = VectorPath(conn.caps.best_vector_path)
        self.vector_path = vector_path or best
        needs_search = self.vector_path in (VectorPath.SEARCH, VectorPath.AUTO)
        if needs_search and not conn.caps.vector_search_clause:
            raise ConfigError(
                f"vector path '{self.vector_path.value}' needs Neo4j 2026.01+, the server is "
                f"{conn.info.version}",
                hint="unset PERSONA_VECTOR_PATH to use the exact pre-filtered scan",
            )

    # ================================================================== writes
    def write(self, batch: WriteBatch) -> WriteStats:
        """Write the whole batch in ONE transaction; re-writing it changes nothing."""
        if batch.is_empty() and not batch.topics and not batch.entities:
            return WriteStats()
        check_owner(batch)
        fill_embeddings(batch, self.embedder, self.image_embedder, self._stored_previous(batch))
        try:
            packed = self.conn.caps.vector_values
            return self.conn.write_tx(lambda tx: write_batch(tx, batch, vector_values=packed))
        finally:
            self.planner.forget(batch.user.id)

    def _stored_previous(self, batch: WriteBatch) -> dict[str, tuple[str | None, str]]:
        """Speaker and text of the stored turn before each short turn of the batch still to
        embed whose predecessor is not in the batch (a chat turn follows the last exchange);
        a long turn is embedded alone, so nothing is read for it."""
        have = {(t.session_id, t.index) for t in batch.turns}
        rows = [
            {"id": t.id, "session_id": t.session_id, "index": t.index}
            for t in batch.turns
            if t.embedding is None
            and t.index > 0
            and len(t.text.split()) < SHORT_TURN_WORDS
            and (t.session_id, t.index - 1) not in have
        ]
        if not rows:
            return {}
        found = self.conn.read(R.PREVIOUS_TURNS, user_id=batch.user.id, rows=rows)
        return {r["id"]: (r["speaker"], r["text"]) for r in found}

    # ================================================================== retrieval
    def retrieve(self, request: RetrievalRequest) -> RetrievalResult:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        path = request.vector_path or self.vector_path
        if path in (VectorPath.SEARCH, VectorPath.AUTO) and not self.conn.caps.vector_search_clause:
            path = VectorPath.PREFILTER
        text = " ".join([request.query, *request.keywords]).strip()
        asked = request
        if self._reranks(request):
            # the reranker reads the top rerank_depth candidates; expansions wait for the k
            # it keeps (graph/rerank.py)
            wide = {"k": max(request.k, self.rerank_depth), "expand": []}
            request = request.model_copy(update=wide)

        def embed() -> list[float]:
            t = time.perf_counter()
            vec = self.embedder.embed_queries([text])[0].tolist()
            timings["embed"] = (time.perf_counter() - t) * 1000
            return vec

        def vector_signal() -> VectorHits:
            vec = embed()  # before the transaction opens
            return self.conn.read_tx(
                lambda tx: vector_hits(
                    tx, request, caps=self.conn.caps, path=path, vector=vec, planner=self.planner
                )
            )

        # the embedding, then the vector query in a transaction of its own, on a worker while
        # full-text runs in the main transaction (docs/benchmarks/scale.md: at 100k memories
        # the vector query no longer waits for full-text to finish)
        pending = self._vector.submit(vector_signal) if "vector" in request.signals else None
        image_vector = None
        if (
            self.image_embedder is not None
            and MemoryKind.TURN in request.kinds
            and "image" in request.signals
        ):
            image_vector = self.image_embedder.embed_texts([text])[0].tolist()
        window = request.window
        lucene = lucene_query(
            request.user_id,
            request.query,
            request.keywords,
            months=window_months(window.start, window.end),
        )

        def work(tx: ManagedTransaction) -> tuple[Candidates, list[RetrievedMemory]]:
            found = gather(
                tx,
                request,
                vector=pending.result if pending else None,
                fallback_path=VectorPath.PREFILTER if path == VectorPath.AUTO else path,
                lucene=lucene,
                image_vector=image_vector,
                image_min_score=self.image_min_score,
                timings=timings,
            )
            t3 = time.perf_counter()
            unit = results.evidence if request.unit == "turn" else results.memories
            items = unit(tx, request, found)
            timings["hydrate"] = (time.perf_counter() - t3) * 1000
            return found, items

        found, items = self.conn.read_tx(work)
        if request is not asked and self.reranker is not None:
            # outside the read transaction: a model's first call loads it (seconds)
            t4 = time.perf_counter()
            items = rerank_items(self.reranker, text, items, asked.k)
            if asked.unit == "memory" and asked.expand:
                kept = items

                def expand(tx: ManagedTransaction) -> None:
                    for item in kept:  # a retried transaction starts again
                        item.turns, item.related = [], []
                    results.expand(tx, asked, kept, set(asked.exclude_ids))

                self.conn.read_tx(expand)
            timings["rerank"] = (time.perf_counter() - t4) * 1000
        result = RetrievalResult(
            request=asked,
            items=items,
            window=request.window,
            vector_path=found.vector_path,
            vector_scope=found.vector_scope,
            timings_ms=timings,
        )
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _reranks(self, request: RetrievalRequest) -> bool:
        """Whether this retrieval goes through the reranker: whenever one is configured,
        unless the request says ``rerank=False``; ``rerank=True`` without one is an error."""
        if request.rerank is False:
            return False
        if self.reranker is None:
            if request.rerank:
                raise ConfigError(
                    "this retrieval asks for reranking (rerank=True) but no reranker is configured",
                    hint="set PERSONA_RERANKER to a cross-encoder (a hub id or a local folder)",
                )
            return False
        return True

    # ================================================================== admin
    def delete_user(self, user_id: str) -> None:
        """Erase everything of one user (every label, in batches). Irreversible."""
        from schema.nodes import NODE_MODELS

        for model in NODE_MODELS:
            self.conn.run_autocommit(W.delete_user_nodes(model.label), user_id=user_id)
        self.planner.forget(user_id)

    def server_facts(self) -> ServerFacts:
        """Version, edition, memory settings and vector capabilities of the server (for
        benchmark reports). A user without the privilege to list settings gets 'unknown'."""
        info, caps = self.conn.info, self.conn.caps
        facts: dict[str, Any] = {"version": info.version, "edition": info.edition}
        try:
            rows = self.conn.read(R.SERVER_MEMORY_SETTINGS)
        except StoreError:
            rows = []
        names = {
            "server.memory.heap.max_size": "heap",
            "server.memory.heap.initial_size": "heap_initial",
            "server.memory.pagecache.size": "pagecache",
        }
        values = {names[r["name"]]: str(r["value"]) for r in rows if r["name"] in names}
        for key in names.values():
            facts[key] = values.get(key, "unknown")
        return ServerFacts(
            **facts,
            vector_search_clause=caps.vector_search_clause,
            best_vector_path=str(caps.best_vector_path),
        )

    # ================================================================== reads
    def existing_ids(self, user_id: str, ids: Sequence[str]) -> set[str]:
        """Which of these memory ids are already stored for the user."""
        rows = self.conn.read(R.EXISTING_IDS, user_id=user_id, ids=list(ids))
        return {r["id"] for r in rows}

    def stored_turns(self, user_id: str, ids: Sequence[str]) -> dict[str, StoredTurn]:
        """Text, time, role and speaker of those of these turns that exist (re-ingest
        compares them)."""
        rows = self.conn.read(R.STORED_TURNS, user_id=user_id, ids=list(ids))
        return {r["id"]: StoredTurn.model_validate(native(r["m"])) for r in rows}

    def user_context(self, user_id: str, *, recent: int = 20) -> UserContext:
        def work(tx: ManagedTransaction) -> UserContext:
            out = UserContext()
            named = cypher(tx, R.USER_NAME, user_id=user_id).data()
            out.user_name = named[0]["name"] if named else None
            out.timezone = named[0]["timezone"] if named else None
            rows = cypher(tx, R.LAST_SESSION, user_id=user_id).data()
            if rows:
                out.last_session = Session.model_validate(native(rows[0]["s"]))
                out.last_session_turns = [
                    to_turn(r["m"])
                    for r in cypher(
                        tx,
                        R.LAST_SESSION_TURNS,
                        user_id=user_id,
                        session_id=out.last_session.id,
                        limit=recent,
                    ).data()
                ]
            out.profile = [
                e
                for e in (
                    ProfileEntry.model_validate(model_props(r["e"], ProfileEntry))
                    for r in cypher(tx, R.PROFILE, user_id=user_id).data()
                )
                if e.valid_to is None
            ]
            out.procedures = [
                Procedure.model_validate(model_props(r["m"], Procedure))
                for r in cypher(tx, R.PROCEDURES, user_id=user_id, active_only=True).data()
            ]
            snap = cypher(tx, R.LATEST_SNAPSHOT, user_id=user_id).data()
            if snap:
                out.personality = to_snapshot(snap[0]["s"])
            return out

        return self.conn.read_tx(work)

    def session_turns(
        self, user_id: str, session_id: str, *, with_embeddings: bool = False
    ) -> list[Turn]:
        rows = self.conn.read(
            R.SESSION_TURNS, user_id=user_id, session_id=session_id, with_embeddings=with_embeddings
        )
        return [to_turn(r["m"]) for r in rows]

    def sessions(self, user_id: str, *, unconsolidated_only: bool = False) -> list[Session]:
        """The user's sessions in time order, their bounds in the local time (UTC offset) of
        their first turn."""
        rows = self.conn.read(R.SESSIONS, user_id=user_id, unconsolidated_only=unconsolidated_only)
        out = []
        for r in rows:
            s = Session.model_validate(native(r["s"]))
            if r["t_offset"] is not None:
                tz = timezone(timedelta(seconds=int(r["t_offset"])))
                s = s.model_copy(
                    update={"start": s.start.astimezone(tz), "end": s.end.astimezone(tz)}
                )
            out.append(s)
        return out

    def last_session(self, user_id: str) -> Session | None:
        rows = self.conn.read(R.LAST_SESSION, user_id=user_id)
        return Session.model_validate(native(rows[0]["s"])) if rows else None

    def list_memories(
        self, user_id: str, kinds: Sequence[MemoryKind], window: TimeWindow, limit: int = 100
    ) -> list[MemoryListing]:
        rows = self.conn.read(
            R.LIST_MEMORIES,
            user_id=user_id,
            kinds=[k.value for k in kinds],
            start=window.start,
            end=window.end,
            limit=limit,
        )
        return [to_listing(r["m"]) for r in rows]

    def active_facts(self, user_id: str, slot: str | None = None) -> list[Fact]:
        rows = self.conn.read(R.ACTIVE_FACTS, user_id=user_id, slot=slot)
        return [Fact.model_validate(model_props(r["m"], Fact)) for r in rows]

    def fact_history(self, user_id: str, slot: str) -> list[Fact]:
        rows = self.conn.read(R.FACT_HISTORY, user_id=user_id, slot=slot)
        return [Fact.model_validate(model_props(r["m"], Fact)) for r in rows]

    def procedures(self, user_id: str, *, active_only: bool = True) -> list[Procedure]:
        rows = self.conn.read(R.PROCEDURES, user_id=user_id, active_only=active_only)
        return [Procedure.model_validate(model_props(r["m"], Procedure)) for r in rows]

    def profile(self, user_id: str) -> list[ProfileEntry]:
        rows = self.conn.read(R.PROFILE, user_id=user_id)
        return [ProfileEntry.model_validate(model_props(r["e"], ProfileEntry)) for r in rows]

    def personality_history(self, user_id: str) -> list[PersonalitySnapshot]:
        rows = self.conn.read(R.PERSONALITY_HISTORY, user_id=user_id)
        return [to_snapshot(r["s"]) for r in rows]
