"""The error tree. Every error PersonaGraph raises on purpose is a :class:`PersonaError`.

Each error says what failed, where, and how to fix it (``hint``). The CLI and the UI translate
them at the edge; nothing in between catches and rewords them.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DimensionMismatch",
    "EmbedderMismatch",
    "IngestError",
    "JavaNotFound",
    "MavenNotFound",
    "PersonaError",
    "ServerError",
    "StoreError",
    "UnsafeIdentifier",
]


class PersonaError(Exception):
    """Base class. ``hint`` says how to fix the problem, when we know."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(PersonaError):
    """A setting is missing or has an invalid value."""


class ServerError(PersonaError):
    """The embedded Neo4j server could not be resolved, started, reached or stopped."""


class JavaNotFound(ServerError):
    """No JDK that can run the requested Neo4j version is installed."""


class MavenNotFound(ServerError):
    """Maven (``mvn``) is needed once, to resolve the Neo4j server from Maven Central."""


class StoreError(PersonaError):
    """A database operation failed (the transaction was rolled back)."""


class EmbedderMismatch(StoreError):
    """The memories were embedded with another model than the configured one."""

    def __init__(self, stored: str, configured: str) -> None:
        super().__init__(
            f"the memories in this database were embedded with {stored!r}, but the configured "
            f"embedder is {configured!r} (vectors from two models cannot be compared)",
            hint="re-embed every memory with the configured model: `persona db reembed --yes`, "
            f"or keep the previous model with PERSONA_EMBEDDER={stored}",
        )
        self.stored = stored
        self.configured = configured


class DimensionMismatch(StoreError):
    """The configured embedder's dimension differs from the existing vector index."""

    def __init__(self, index: str, existing: int, configured: int, model: str) -> None:
        super().__init__(
            f"vector index {index!r} has dimension {existing}, but the configured embedder "
            f"{model!r} produces {configured}-d vectors",
            hint="re-embed every memory with the new model: `persona db reembed --yes` "
            "(drops and rebuilds the vector indexes), or configure the previous model "
            "with PERSONA_EMBEDDER",
        )
        self.index = index
        self.existing = existing
        self.configured = configured


class PolicyUnavailable(PersonaError):
    """The policy's model could not be reached (a transport failure, not bad output)."""


class UnsafeIdentifier(PersonaError):
    """A label or relationship type outside the schema's whitelist reached the query layer."""


class IngestError(PersonaError):
    """Input data is invalid. Names the file, the record (a JSON path) and the field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        record: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"record {record}" if record else "",
                f"field {field!r}" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.file = file
        self.record = record
        self.field = field
