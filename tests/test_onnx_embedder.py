"""The offline ONNX embedders (bge-small-en-v1.5, e5-small-v2 int8, from Maven Central jars):
real models run with onnxruntime; bad model files and a missing Maven are clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from graph.embed import ONNX_MODELS, OnnxEmbedder, build_embedder
from schema.errors import ConfigError, MavenNotFound
from schema.settings import Settings

CACHE = Settings().cache_dir  # the user's cache: each jar is resolved once per machine

SENTENCES = [
    "I adopted a beagle puppy last spring.",
    "We got a young dog, a beagle, in April.",
    "The quarterly tax filing is due on Friday.",
    "Caroline went camping with her kids by the lake.",
]


@pytest.fixture(scope="module", params=sorted(ONNX_MODELS))
def onnx(request: pytest.FixtureRequest) -> OnnxEmbedder:
    embedder = build_embedder(request.param, cache_dir=CACHE)
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


def test_vectors_are_unit_length_384d_and_rank_a_paraphrase_first(onnx: OnnxEmbedder) -> None:
    vecs = onnx.embed(SENTENCES)
    assert vecs.shape == (4, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs @ vecs[0]
    assert sims[1] > sims[2] + 0.1 and sims[1] > sims[3]
    query = onnx.embed_queries(["Which dog did I get?"])[0]
    assert int(np.argmax(vecs @ query)) in (0, 1)


def test_a_texts_vector_does_not_depend_on_what_is_embedded_with_it(onnx: OnnxEmbedder) -> None:
    """Dynamic int8 quantisation scales activations per run: batched, a text's vector would
    move with its batch mates (and their padding). Each text runs alone, in the caller's
    order, however the work is split into progress chunks."""
    long = "A much longer sentence about the lake, the kids, the tent, the rain and the fire. " * 4
    alone = np.stack([onnx.embed([s])[0] for s in SENTENCES])
    ticks: list[int] = []
    onnx.batch_size = 2
    try:
        together = onnx.embed([long, *SENTENCES, long], progress=ticks.append)
    finally:
        onnx.batch_size = 32
    assert np.array_equal(together[1:5], alone)
    assert ticks == [2, 2, 1, 1]  # five distinct texts in chunks of 2, then the repeat
    assert np.array_equal(together[0], together[5])
    assert np.array_equal(onnx.embed([SENTENCES[3], long])[0], alone[3])
    assert onnx.embed([]).shape == (0, 384)


def test_query_prefix_only_where_the_model_wants_one() -> None:
    e5 = build_embedder("e5-small-v2-q", cache_dir=CACHE)
    bge = build_embedder("bge-small-en-v1.5-q", cache_dir=CACHE)
    text = ["when did I move to Lisbon"]
    assert not np.allclose(e5.embed_queries(text), e5.embed(text), atol=1e-3)
    assert np.allclose(bge.embed_queries(text), bge.embed(text), atol=1e-6)
    assert e5.count_tokens("when did I move") == bge.count_tokens("when did I move") == 4


def _private_copy(tmp_path: Path, name: str) -> Path:
    """A cache holding only this model's unpacked files (the jar is not there)."""
    spec = ONNX_MODELS[name]
    src = OnnxEmbedder(spec, cache_dir=CACHE).files()
    folder = tmp_path / "models" / name
    folder.mkdir(parents=True)
    for path in src:
        shutil.copy(path, folder / path.name)
    return tmp_path


def test_a_corrupt_onnx_file_is_a_clear_error_never_a_fallback(tmp_path: Path) -> None:
    name = "bge-small-en-v1.5-q"
    cache = _private_copy(tmp_path, name)
    onnx_file = cache / "models" / name / ONNX_MODELS[name].onnx_file
    onnx_file.write_bytes(onnx_file.read_bytes()[: 1 << 16])  # a truncated download
    embedder = build_embedder(name, cache_dir=cache)
    with pytest.raises(ConfigError) as err:
        embedder.embed(["hello"])
    assert str(onnx_file) in err.value.message and "not a valid ONNX model" in err.value.message
    assert err.value.hint is not None and "delete" in err.value.hint


def test_a_corrupt_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    name = "e5-small-v2-q"
    cache = _private_copy(tmp_path, name)
    tok = cache / "models" / name / ONNX_MODELS[name].tokenizer_file
    tok.write_text('{"version": "1.0", "model": ')
    with pytest.raises(ConfigError) as err:
        build_embedder(name, cache_dir=cache).embed(["hello"])
    assert str(tok) in err.value.message


def test_a_missing_jar_without_maven_names_the_artifact_and_the_manual_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    embedder = build_embedder("bge-small-en-v1.5-q", cache_dir=tmp_path)
    with pytest.raises(MavenNotFound) as err:
        embedder.embed(["hello"])
    coords = ONNX_MODELS["bge-small-en-v1.5-q"].coordinates
    assert coords in err.value.message
    assert err.value.hint is not None
    assert "repo.maven.apache.org/maven2/dev/langchain4j/" in err.value.hint
    assert str(tmp_path / "maven") in err.value.hint


def test_other_names_still_load_through_sentence_transformers() -> None:
    from graph.embed import SentenceTransformerEmbedder

    minilm = build_embedder("all-MiniLM-L6-v2", cache_dir=CACHE)
    assert isinstance(minilm, SentenceTransformerEmbedder)
    assert minilm.embed_queries(["x"]).shape == (1, 384)


def test_a_repeated_text_is_embedded_once_and_every_row_is_returned(onnx: OnnxEmbedder) -> None:
    calls: list[list[str]] = []
    encode = onnx._encode

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return encode(texts)

    onnx._encode = counting  # type: ignore[method-assign]
    try:
        texts = [SENTENCES[0], SENTENCES[1], SENTENCES[0], SENTENCES[0]]
        ticks: list[int] = []
        vecs = onnx.embed(texts, progress=ticks.append)
    finally:
        del onnx._encode
    encoded = [t for c in calls for t in c]
    assert sorted(encoded) == sorted(onnx.passage_prefix + t for t in SENTENCES[:2])
    assert vecs.shape == (4, 384) and sum(ticks) == 4
    assert np.array_equal(vecs[0], vecs[2]) and np.array_equal(vecs[0], vecs[3])
    assert np.array_equal(vecs[1], onnx.embed([SENTENCES[1]])[0])


def test_an_unknown_name_without_a_hub_fails_at_once_naming_the_known_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No folder, not in the hub cache, no hub: refused before sentence-transformers would
    retry the hub for minutes (measured here: 1 min 43 s of retries, then a hint about the
    old default)."""
    import sentence_transformers
    from huggingface_hub import constants

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("sentence-transformers was asked to fetch it from the hub")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", never)
    with pytest.raises(ConfigError) as exc:
        _ = build_embedder("nonsense-embedder", cache_dir=CACHE).dimension
    assert "'nonsense-embedder' is neither a known offline model" in exc.value.message
    assert "bge-small-en-v1.5-q, e5-small-v2-q, all-MiniLM-L6-v2" in exc.value.message
    assert "bge-small-en-v1.5-q is the default" in (exc.value.hint or "")
