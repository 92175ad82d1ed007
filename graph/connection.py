"""One way to reach Neo4j, embedded or external, and what the server can do.

``connect(settings)`` returns a :class:`Neo4jConnection` either to the embedded server (started
on demand) or to ``NEO4J_URI`` (``bolt://`` or ``neo4j://`` routing URIs: a cluster or Aura
works unchanged). Reads run in read transactions (routed to readers on a cluster), writes in
write transactions; both retry transient failures through the driver's transaction functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import neo4j
from neo4j import GraphDatabase, ManagedTransaction, Result
from neo4j.exceptions import (
    AuthError,
    IncompleteCommit,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from graph.local.java import neo4j_version_key
from schema.errors import ConfigError, ServerError, StoreError
from schema.settings import Settings

# The driver logs a lost connection at ERROR level as well as raising it; with no handler
# configured, Python's last-resort handler printed that line into the CLI's output before our
# own message. Applications that configure logging still receive these records.
logging.getLogger("neo4j").addHandler(logging.NullHandler())

__all__ = [
    "Capabilities",
    "Neo4jConnection",
    "ServerInfo",
    "capabilities_for",
    "connect",
    "run",
    "utc_params",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Capabilities:
    """Features that change which Cypher we run."""

    cypher25: bool  # the `CYPHER 25` prefix is understood
    vector_search_clause: bool  # MATCH ... SEARCH with in-index filters (2026.01+)
    search_in_list: bool  # `IN $list` inside SEARCH ... WHERE (2026.06+)
    fulltext_search_clause: bool  # SEARCH over full-text indexes (2026.09+)
    vector_index_filters: bool  # CREATE VECTOR INDEX ... WITH [filter properties]
    #: `vector.quantization.enabled` in a vector index's indexConfig (vector-2.0, 5.23+)
    vector_index_quantization: bool = False
    #: VECTOR parameters (the driver's ``neo4j.vector.Vector``) and ``toFloatList(vector)`` in
    #: Cypher 25 (2025.10+): an embedding crosses Bolt as packed float32 bytes, not a list
    vector_values: bool = False

    @property
    def best_vector_path(self) -> str:
        """``auto`` (exact scan of a small scope, SEARCH of a large one) where the server has
        the SEARCH clause, else the exact pre-filtered scan."""
        return "auto" if self.vector_search_clause else "prefilter"


def utc_params(value: Any) -> Any:
    """Every aware datetime in ``value`` as UTC, recursively.

    Neo4j orders equal instants with different offsets by offset (so a window bound given in
    UTC misses a memory stored at the same instant in -05:00), and the driver crashes on
    ``zoneinfo`` zones in some Python builds. Sending UTC only avoids both.

    >>> from datetime import datetime, timedelta, timezone
    >>> utc_params({"t": [datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5)))]})
    {'t': [datetime.datetime(2024, 1, 1, 5, 0, tzinfo=datetime.timezone.utc)]}
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value
    if isinstance(value, dict):
        return {k: utc_params(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [utc_params(v) for v in value]
    return value


def run(tx: ManagedTransaction, query: str, **params: Any) -> Result:
    """``tx.run`` with UTC-normalised parameters: the one way the store runs Cypher."""
    return tx.run(query, utc_params(params))


def capabilities_for(version: str) -> Capabilities:
    """Capabilities by release: calendar versions (2025.01+) vs the 5.x line.

    >>> capabilities_for("5.26.30").vector_search_clause
    False
    >>> capabilities_for("5.26.30").vector_index_quantization
    True
    >>> capabilities_for("2026.08.1").search_in_list
    True
    """
    key = neo4j_version_key(version)
    return Capabilities(
        cypher25=key >= (2025, 6, 0),
        vector_search_clause=key >= (2026, 1, 0),
        search_in_list=key >= (2026, 6, 0),
        fulltext_search_clause=key >= (2026, 9, 0),
        vector_index_filters=key >= (2026, 1, 0),
        vector_index_quantization=key >= (5, 23, 0),
        vector_values=key >= (2025, 10, 0),
    )


@dataclass(frozen=True)
class ServerInfo:
    version: str
    edition: str
    address: str
    database: str
    capabilities: Capabilities


class Neo4jConnection:
    """A driver bound to one database, with typed read/write helpers."""

    def __init__(self, uri: str, user: str, password: str, database: str = "neo4j") -> None:
        self.uri = uri
        self.database = database
        try:
            self.driver = GraphDatabase.driver(
                uri,
                auth=(user, password),
                notifications_min_severity="OFF",
                max_connection_pool_size=32,
                connection_acquisition_timeout=30.0,
            )
            self.driver.verify_connectivity()
        except AuthError as exc:
            raise ConfigError(
                f"Neo4j at {uri} rejected the credentials for user {user!r}",
                hint="check NEO4J_USER / NEO4J_PASSWORD",
            ) from exc
        except (ServiceUnavailable, OSError, ValueError) as exc:
            raise ServerError(
                f"cannot reach Neo4j at {uri}: {exc}",
                hint="is the server running? (`persona db status`; for an external server "
                "check NEO4J_URI)",
            ) from exc
        self.info = self._detect()

    def _detect(self) -> ServerInfo:
        rows = self.read(
            "CALL dbms.components() YIELD name, versions, edition "
            "RETURN name, versions[0] AS version, edition"
        )
        kernel = next((r for r in rows if r["name"] == "Neo4j Kernel"), rows[0])
        version = str(kernel["version"])
        return ServerInfo(
            version=version,
            edition=str(kernel["edition"]),
            address=self.uri,
            database=self.database,
            capabilities=capabilities_for(version),
        )

    @property
    def caps(self) -> Capabilities:
        return self.info.capabilities

    # -- transactions ------------------------------------------------------------------------
    def _lost(self, exc: Exception, what: str) -> StoreError:
        """The server went away mid-operation: say what that means and how to recover."""
        if isinstance(exc, IncompleteCommit):
            outcome = (
                "it went while the commit was under way, so the write may or may not have "
                "landed; every write here is idempotent, so running it again is safe"
            )
        elif what == "read":
            outcome = "no data changed"
        else:
            outcome = "it was rolled back: nothing of it was written"
        return StoreError(
            f"the Neo4j server at {self.uri} stopped answering during a {what}; {outcome} "
            f"({type(exc).__name__})",
            hint="start it with `persona db start` (or check NEO4J_URI) and run the command "
            "again; an ingest resumes where it stopped",
        )

    def read(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Run one parameterised query in a read transaction; rows as dicts."""

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return tx.run(query, utc_params(params)).data()

        return self.read_tx(work)

    def read_tx(self, fn: Callable[[ManagedTransaction], T]) -> T:
        try:
            with self.driver.session(
                database=self.database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                return session.execute_read(fn)
        except (ServiceUnavailable, SessionExpired) as exc:
            raise self._lost(exc, "read") from exc
        except Neo4jError as exc:
            raise StoreError(f"read failed: {exc.message or exc}") from exc

    def write_tx(self, fn: Callable[[ManagedTransaction], T]) -> T:
        """Run ``fn`` in ONE write transaction: all of it commits, or none of it."""
        try:
            with self.driver.session(database=self.database) as session:
                return session.execute_write(fn)
        except (ServiceUnavailable, SessionExpired) as exc:
            raise self._lost(exc, "write") from exc
        except Neo4jError as exc:
            raise StoreError(f"write failed (rolled back): {exc.message or exc}") from exc

    def write(self, query: str, **params: Any) -> list[dict[str, Any]]:
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return tx.run(query, utc_params(params)).data()

        return self.write_tx(work)

    def run_schema(self, query: str, **params: Any) -> None:
        """DDL runs in an auto-commit transaction (Neo4j requires schema changes alone)."""
        try:
            with self.driver.session(database=self.database) as session:
                session.run(query, utc_params(params)).consume()
        except Neo4jError as exc:
            raise StoreError(
                f"schema change failed: {exc.message or exc}\n  query: {query}"
            ) from exc

    def run_autocommit(self, query: str, **params: Any) -> None:
        """For ``CALL {...} IN TRANSACTIONS`` (bulk deletes), which manages its own commits."""
        try:
            with self.driver.session(database=self.database) as session:
                session.run(query, utc_params(params)).consume()
        except (ServiceUnavailable, SessionExpired) as exc:
            raise self._lost(exc, "bulk write") from exc
        except Neo4jError as exc:
            raise StoreError(f"bulk operation failed: {exc.message or exc}") from exc

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Neo4jConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    settings: Settings, *, start: bool = True, progress: Callable[[str], None] | None = None
) -> Neo4jConnection:
    """Connect to NEO4J_URI if set, else to the embedded server (started if ``start``)."""
    if settings.neo4j_uri:
        if settings.neo4j_password is None:
            raise ConfigError(
                f"NEO4J_URI is set ({settings.neo4j_uri}) but NEO4J_PASSWORD is not",
                hint="export NEO4J_PASSWORD=... (and NEO4J_USER if not 'neo4j')",
            )
        return Neo4jConnection(
            settings.neo4j_uri,
            settings.neo4j_user,
            settings.neo4j_password.get_secret_value(),
            settings.neo4j_database,
        )
    from graph.local.server import LocalNeo4j

    local = LocalNeo4j(settings, progress=progress)
    status = local.status()
    if not status.running:
        if not start:
            raise ServerError("the embedded Neo4j is not running", hint="persona db start")
        local.start()
    return Neo4jConnection(local.uri(), "neo4j", local.password(), settings.neo4j_database)
