"""Settings, read once at an entry point (CLI, Streamlit app, LangGraph factory).

Environment variables use the ``PERSONA_`` prefix, except the Neo4j connection, which also
accepts the conventional ``NEO4J_URI`` / ``NEO4J_USER`` / ``NEO4J_PASSWORD`` /
``NEO4J_DATABASE``. Nothing reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schema.retrieval import EXACT_MAX, VectorPath
from schema.timeutil import get_tz

__all__ = ["DEFAULT_NEO4J_VERSION", "LTS_NEO4J_VERSION", "Settings"]

#: The Neo4j Community release the embedded server and docker/ use (newest 2026.x that works).
DEFAULT_NEO4J_VERSION = "2026.08.1"
#: The LTS line used when only Java 17 is installed.
LTS_NEO4J_VERSION = "5.26.30"


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"PERSONA_{name.upper()}", name.upper())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERSONA_", extra="ignore", populate_by_name=True)

    # --- where things live -------------------------------------------------------------
    home: Path = Field(
        default_factory=lambda: Path(user_data_dir("personagraph")),
        description="data home: the embedded Neo4j, images, conversation checkpoints",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(user_cache_dir("personagraph")),
        description="downloaded Neo4j distributions (shared by every home)",
    )

    # --- Neo4j ---------------------------------------------------------------------------
    neo4j_uri: str | None = Field(
        default=None,
        validation_alias=_env("neo4j_uri"),
        description="bolt:// or neo4j:// URI of an external server; unset = embedded server",
    )
    neo4j_user: str = Field(default="neo4j", validation_alias=_env("neo4j_user"))
    neo4j_password: SecretStr | None = Field(default=None, validation_alias=_env("neo4j_password"))
    neo4j_database: str = Field(default="neo4j", validation_alias=_env("neo4j_database"))
    neo4j_version: str = Field(
        default=DEFAULT_NEO4J_VERSION, description="embedded server version (Maven Central)"
    )
    neo4j_heap: str = Field(default="1g", description="embedded server max heap")
    neo4j_pagecache: str = Field(default="512m", description="embedded server page cache")
    java_home: Path | None = Field(default=None, description="JDK to run the embedded server")
    start_timeout_s: float = 180.0
    lock_timeout_s: float = Field(
        default=900.0,
        gt=0,
        description="how long a writer waits for another process writing the same user's memories",
    )

    # --- embeddings and retrieval --------------------------------------------------------
    embedder: str = Field(
        default="bge-small-en-v1.5-q",
        description="bge-small-en-v1.5-q or e5-small-v2-q (int8 ONNX from Maven Central), "
        "all-MiniLM-L6-v2 (from its wheel), or a sentence-transformers name or path; unset, a "
        "database keeps the model that embedded it",
    )
    embed_batch_size: int = Field(default=32, ge=1)
    device: str = Field(default="cpu", description="torch device for local models")
    clip_model: str | None = Field(
        default=None, description="CLIP model name or path for image embeddings (off if unset)"
    )
    clip_min_score: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="image matches below this (normalised) CLIP similarity are ignored",
    )
    reranker: str | None = Field(
        default=None,
        description="a cross-encoder (sentence-transformers hub id or local folder, e.g. "
        "cross-encoder/ms-marco-MiniLM-L6-v2 or BAAI/bge-reranker-base) that re-orders the top "
        "rerank_depth candidates of every retrieval; off if unset (no offline weights exist)",
    )
    rerank_depth: int = Field(
        default=30, ge=1, le=200, description="how many fused candidates the reranker reads"
    )
    vector_path: VectorPath | None = Field(
        default=None,
        description="force a vector path (auto|search|prefilter); unset = auto where the "
        "server has SEARCH (2026.01+), else prefilter",
    )
    vector_exact_max: int = Field(
        default=EXACT_MAX,
        ge=0,
        description="auto path: score exactly when the user's memories in the window number "
        "at most this, search the vector index above it (see docs/benchmarks/scale.md)",
    )
    timezone: str = Field(default="UTC", description="timezone for naive times given by users")

    # --- agent ----------------------------------------------------------------------------
    policy: Literal["offline", "openai", "hf"] = Field(
        default="offline", description="the model behind `think`"
    )
    openai_base_url: str = Field(
        default="http://127.0.0.1:8000/v1", description="OpenAI-compatible endpoint (vLLM)"
    )
    openai_api_key: SecretStr = Field(default=SecretStr("EMPTY"))
    model: str = Field(default="personagraph-policy", description="served model or HF dir/id")
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)
    max_steps: int = Field(default=5, ge=1, le=20, description="reasoning steps before answering")
    ground_when: bool = Field(
        default=True,
        description="a 'when' answer that names no calendar date the retrieved memories "
        "support is replaced by the best memory's date, and a 'how long' answer that names no "
        "duration gets one (agent.grounding; the trace keeps the model's own answer). "
        "Training rollouts turn it off so rewards judge the model",
    )
    retrieve_unit: Literal["turn", "memory"] = Field(
        default="turn",
        description="what a retrieve step returns to the policy: raw turns as evidence (each "
        "ranked by the memories that point at it) or the memories themselves",
    )
    retrieve_k: int = Field(
        default=8, ge=1, le=50, description="memories per retrieve step unless the policy asks k"
    )
    query_with_question: bool = Field(
        default=True,
        description="a policy's retrieve step searches with the question's text as well as its "
        "keywords and window (the keywords focus, the question keeps what they dropped)",
    )
    extractor: Literal["heuristic", "llm"] = Field(
        default="heuristic", description="memory extraction: model-free or LLM-driven"
    )
    session_gap_minutes: float = Field(default=60.0, gt=0)
    pem_floor: float = Field(default=0.1, ge=0.0, le=1.0)
    pem_ceiling: float = Field(default=0.5, ge=0.0, le=1.0)
    pem_horizon: int = Field(default=50, ge=1)

    # --- benchmarks ------------------------------------------------------------------------
    locomo: Path | None = Field(
        default=None,
        description="LoCoMo JSON the benchmarks read (default: ../shared/data/locomo/"
        "locomo10_dev.json beside the checkout)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, value: str) -> str:
        try:
            get_tz(value)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError
            raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from exc
        return value

    @property
    def embedded(self) -> bool:
        return not self.neo4j_uri

    @property
    def neo4j_home(self) -> Path:
        return self.home / "neo4j"

    @property
    def image_dir(self) -> Path:
        return self.home / "images"

    @property
    def checkpoint_path(self) -> Path:
        return self.home / "checkpoints.sqlite"
