"""Clients built once per process at an entry point and passed in (never module globals)."""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from filelock import FileLock, Timeout
from langchain_core.language_models.chat_models import BaseChatModel
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.graph import AgentContext
from agent.media import ImageStore
from agent.memory import Extractors, build_extractors
from agent.personality import PemSchedule
from agent.policies import build_policy
from agent.update import UpdateStage
from graph.connection import Neo4jConnection, connect
from graph.embed import ClipEmbedder, OnnxEmbedder, SentenceTransformerEmbedder, build_embedder
from graph.migrate import migrate, stored_embedder
from graph.rerank import CrossEncoderReranker
from graph.store import Neo4jMemoryStore
from schema.errors import StoreError
from schema.settings import Settings

__all__ = ["App", "open_checkpoints", "private_home", "settle_heap"]


@cache  # once per process
def settle_heap() -> None:
    """After startup has loaded the embedding model: freeze what it built (modules, torch's
    and the tokenizer's objects; ~640k) into the collector's permanent generation. Python's
    full collections rescan every tracked object, and with a model loaded one took ~150 ms
    here: every third 2,000-node explorer view paid it (p50 61 ms, p95 505 ms). Frozen objects
    are never scanned again; what is created afterwards is collected as usual. No
    ``gc.collect()`` first: it cost ~390 ms of every command's start-up to reclaim ~200
    objects, which freezing keeps instead; ``gc.freeze()`` itself takes microseconds."""
    gc.freeze()


def private_home(settings: Settings) -> None:
    """The home holds memories, images, checkpoints and the password: owner only (0700)."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(settings.home, 0o700)


def open_checkpoints(settings: Settings) -> sqlite3.Connection:
    """The LangGraph checkpoints (SQLite), created 0600 in the private home."""
    private_home(settings)
    path = settings.checkpoint_path
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)
    return sqlite3.connect(path, check_same_thread=False)


class App:
    """Lazily builds the connection, embedder and store from one :class:`Settings`."""

    def __init__(
        self,
        settings: Settings,
        *,
        note: Callable[[str], None] | None = None,
        embedder: OnnxEmbedder | SentenceTransformerEmbedder | None = None,
    ) -> None:
        """``embedder``: one already loaded (several clients of one process share a model)."""
        self.settings = settings
        self.note = note or (lambda _m: None)
        self._migrated = False
        self._locks: dict[str, FileLock] = {}
        if embedder is not None:
            self.__dict__["embedder"] = embedder  # fills the cached property

    @cached_property
    def conn(self) -> Neo4jConnection:
        private_home(self.settings)
        return connect(self.settings, progress=self.note)

    @cached_property
    def embedder_name(self) -> str:
        """The text embedder: the configured one (PERSONA_EMBEDDER, or a setting passed in);
        with none configured, a database keeps the model that embedded it, so a newer default
        applies to new databases and to `persona db reembed`, never breaks an old one."""
        if "embedder" in self.settings.model_fields_set:
            return self.settings.embedder
        return stored_embedder(self.conn) or self.settings.embedder

    @cached_property
    def embedder(self) -> OnnxEmbedder | SentenceTransformerEmbedder:
        return build_embedder(
            self.embedder_name,
            cache_dir=self.settings.cache_dir,
            device=self.settings.device,
            batch_size=self.settings.embed_batch_size,
        )

    @cached_property
    def images(self) -> ImageStore:
        return ImageStore(self.settings.image_dir)

    @cached_property
    def image_embedder(self) -> ClipEmbedder | None:
        if not self.settings.clip_model:
            return None
        return ClipEmbedder(self.settings.clip_model, device=self.settings.device)

    @cached_property
    def reranker(self) -> CrossEncoderReranker | None:
        if not self.settings.reranker:
            return None
        return CrossEncoderReranker(self.settings.reranker, device=self.settings.device)

    def migrate(self) -> None:
        if not self._migrated:
            clip = self.image_embedder
            migrate(
                self.conn,
                dimension=self.embedder.dimension,
                image_dimension=clip.dimension if clip else None,
                embedder_name=self.embedder.name,
                progress=self.note,
            )
            self._migrated = True

    @cached_property
    def store(self) -> Neo4jMemoryStore:
        self.migrate()
        store = Neo4jMemoryStore(
            self.conn,
            self.embedder,
            vector_path=self.settings.vector_path,
            exact_max=self.settings.vector_exact_max,
            image_embedder=self.image_embedder,
            image_min_score=self.settings.clip_min_score,
            reranker=self.reranker,
            rerank_depth=self.settings.rerank_depth,
        )
        settle_heap()  # the embedder is loaded by now (migrate reads its dimension)
        return store

    @cached_property
    def policy(self) -> BaseChatModel:
        return build_policy(self.settings)

    @cached_property
    def extractors(self) -> Extractors:
        model = self.policy if self.settings.extractor == "llm" else None
        return build_extractors(self.settings.extractor, model)

    @cached_property
    def pem_schedule(self) -> PemSchedule:
        s = self.settings
        return PemSchedule(floor=s.pem_floor, ceiling=s.pem_ceiling, horizon=s.pem_horizon)

    @cached_property
    def update_stage(self) -> UpdateStage:
        s = self.settings
        return UpdateStage(
            self.store,
            self.extractors,
            schedule=self.pem_schedule,
            gap_minutes=s.session_gap_minutes,
            images=self.images,
            lock=self.user_lock,
        )

    def user_lock(self, user_id: str) -> AbstractContextManager[Any]:
        """One user's writes, one process at a time: a file lock in the private home (the
        embedded server is local; with an external server, run writers against one home).
        Re-entrant in one thread. A writer that finds it held says so and waits up to
        ``lock_timeout_s``, then gives up with an error naming the lock."""
        lock = self._locks.get(user_id)
        if lock is None:
            folder = self.settings.home / "locks"
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            name = hashlib.sha256(user_id.encode()).hexdigest()[:32]
            lock = self._locks.setdefault(user_id, FileLock(folder / f"{name}.lock"))
        return self._waiting(lock, user_id)

    @contextmanager
    def _waiting(self, lock: FileLock, user_id: str) -> Iterator[None]:
        limit = self.settings.lock_timeout_s
        try:
            lock.acquire(timeout=0)
        except Timeout:
            self.note(
                f"another process is writing the memories of {user_id!r}; waiting for it "
                f"(up to {limit:.0f} s)"
            )
            try:
                lock.acquire(timeout=limit)
            except Timeout as exc:
                raise StoreError(
                    f"gave up after {limit:.0f} s waiting for another writer of {user_id!r} "
                    f"(lock {lock.lock_file}); nothing was written",
                    hint="let the other ingest or chat finish and run this again, or raise "
                    "PERSONA_LOCK_TIMEOUT_S",
                ) from exc
        try:
            yield
        finally:
            lock.release()

    def agent_context(
        self,
        user_id: str,
        *,
        now: datetime | None = None,
        mode: str = "reason",
        update: bool = True,
        user_name: str | None = None,
    ) -> AgentContext:
        return AgentContext(
            user_id=user_id,
            store=self.store,
            policy=self.policy,
            settings=self.settings,
            update_stage=self.update_stage if update else None,
            now=now,
            mode="direct" if mode == "direct" else "reason",
            user_name=user_name,
        )

    @contextmanager
    def checkpointer(self) -> Iterator[SqliteSaver]:
        """SQLite checkpoints under the home: a conversation survives a restart."""
        conn = open_checkpoints(self.settings)
        try:
            yield SqliteSaver(conn)
        finally:
            conn.close()

    def reconnect(self) -> None:
        """Drop the connection and what holds it, so the next use connects afresh (and, for
        the embedded server, starts it again when it is down). Models stay loaded."""
        self.close()
        for name in ("conn", "store", "update_stage"):
            self.__dict__.pop(name, None)

    def close(self) -> None:
        if "conn" in self.__dict__:
            self.conn.close()
