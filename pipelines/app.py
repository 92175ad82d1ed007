"""Clients built once per process at an entry point and passed in (never module globals)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from agent.media import ImageStore
from graph.connection import Neo4jConnection, connect
from graph.embed import SentenceTransformerEmbedder
from graph.migrate import migrate
from graph.store import Neo4jMemoryStore
from schema.settings import Settings

__all__ = ["App"]


class App:
    """Lazily builds the connection, embedder and store from one :class:`Settings`."""

    def __init__(self, settings: Settings, *, note: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.note = note or (lambda _m: None)
        self._migrated = False

    @cached_property
    def conn(self) -> Neo4jConnection:
        return connect(self.settings, progress=self.note)

    @cached_property
    def embedder(self) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder(
            self.settings.embedder,
            device=self.settings.device,
            batch_size=self.settings.embed_batch_size,
        )

    @cached_property
    def images(self) -> ImageStore:
        return ImageStore(self.settings.image_dir)

    def migrate(self) -> None:
        if not self._migrated:
            migrate(
                self.conn,
                dimension=self.embedder.dimension,
                embedder_name=self.embedder.name,
                progress=self.note,
            )
            self._migrated = True

    @cached_property
    def store(self) -> Neo4jMemoryStore:
        self.migrate()
        return Neo4jMemoryStore(self.conn, self.embedder, vector_path=self.settings.vector_path)

    def close(self) -> None:
        if "conn" in self.__dict__:
            self.conn.close()
