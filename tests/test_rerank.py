"""Second-stage reranking (graph/rerank.py) against the real server: the store reads the top
``rerank_depth`` fused candidates, keeps the k the reranker scores highest, says so in ``why``,
and still expands memory units; a real (tiny, built here) sentence-transformers CrossEncoder
loads from a folder and scores pairs; a reranker that cannot load, or a request that needs
one where none is configured, is a clear error, never a silent fallback."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cli
from graph.rerank import CrossEncoderReranker, passage
from graph.store import Neo4jMemoryStore
from schema.errors import ConfigError
from schema.nodes import MemoryKind
from schema.retrieval import RetrievalRequest
from schema.settings import Settings

pytestmark = pytest.mark.integration

QUESTION = "What did the dog do?"


class WordReranker:
    """A scripted reranker (the real :class:`schema.protocols.Reranker` interface): a
    passage scores the number of times it says ``word``, so the test knows the right order
    whatever fusion thought."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[tuple[str, int]] = []

    @property
    def name(self) -> str:
        return f"word:{self.word}"

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        self.calls.append((query, len(passages)))
        return np.asarray(
            [len(re.findall(rf"\b{self.word}\b", p.lower())) for p in passages], dtype=np.float32
        )


def _store(conn: Any, embedder: Any, reranker: Any = None, depth: int = 12) -> Neo4jMemoryStore:
    return Neo4jMemoryStore(conn, embedder, reranker=reranker, rerank_depth=depth)


def _fused(conn: Any, embedder: Any, req: RetrievalRequest, k: int) -> list[Any]:
    return _store(conn, embedder).retrieve(req.model_copy(update={"k": k})).items


@pytest.mark.parametrize("unit", ["turn", "memory"])
def test_the_reranker_picks_the_k_it_scores_highest_from_the_deeper_fused_list(
    conn: Any, embedder: Any, migrated: Any, sample_user: str, unit: str
) -> None:
    req = RetrievalRequest(user_id=sample_user, query=QUESTION, k=3, unit=unit, expand=[])
    wide = _fused(conn, embedder, req, 12)
    word = next(
        w
        for w in ("park", "walk", "coffee", "move", "job", "weekend")
        if any(re.search(rf"\b{w}\b", passage(m).lower()) for m in wide[3:])
    )
    reranker = WordReranker(word)
    got = _store(conn, embedder, reranker).retrieve(req).items

    counts = [len(re.findall(rf"\b{word}\b", passage(m).lower())) for m in wide]
    expected = [wide[i].id for i in sorted(range(len(wide)), key=lambda i: (-counts[i], i))[:3]]
    assert [m.id for m in got] == expected
    # a memory fusion ranked below k got in: the reranker read the deeper list
    assert {m.id for m in got} - {m.id for m in wide[:3]}
    assert reranker.calls == [(QUESTION, len(wide))]
    for rank, m in enumerate(got, start=1):
        rerank = [s for s in m.why.signals if s.name == "rerank"]
        assert [(s.rank, s.score) for s in rerank] == [(rank, float(m.score))]
        assert m.why.fused > 0  # the fusion score stays beside the reranker's
    assert "rerank#1" in got[0].why.describe()


def test_rerank_false_ranks_by_fusion_alone_even_with_a_reranker(
    conn: Any, embedder: Any, migrated: Any, sample_user: str
) -> None:
    req = RetrievalRequest(user_id=sample_user, query=QUESTION, k=4, unit="turn", rerank=False)
    reranker = WordReranker("dog")
    got = _store(conn, embedder, reranker).retrieve(req).items
    assert [m.id for m in got] == [m.id for m in _fused(conn, embedder, req, 4)]
    assert reranker.calls == []
    assert not any(s.name == "rerank" for m in got for s in m.why.signals)


def test_memory_units_are_expanded_after_reranking(
    conn: Any, embedder: Any, migrated: Any, sample_user: str
) -> None:
    req = RetrievalRequest(
        user_id=sample_user, query=QUESTION, k=5, kinds=[MemoryKind.EVENT, MemoryKind.FACT]
    )
    got = _store(conn, embedder, WordReranker("dog")).retrieve(req)
    events = [m for m in got.items if m.kind == MemoryKind.EVENT]
    assert len(got.items) == 5 and events
    assert all(e.turns for e in events)  # the episode's turns came with it
    assert "rerank" in got.timings_ms and got.request.k == 5


def test_asking_for_reranking_without_a_reranker_is_an_error(
    conn: Any, embedder: Any, migrated: Any, sample_user: str
) -> None:
    req = RetrievalRequest(user_id=sample_user, query=QUESTION, rerank=True)
    with pytest.raises(ConfigError, match="no reranker is configured") as exc:
        _store(conn, embedder).retrieve(req)
    assert "PERSONA_RERANKER" in (exc.value.hint or "")


# ------------------------------------------------------------------ a real cross-encoder
WORDS = "the a dog cat park walk my did what coffee rain pepper shoes chewed ran".split()


def _tiny_cross_encoder(folder: Path) -> Path:
    """A 1-layer BERT sequence classifier with one label (what sentence-transformers loads
    as a CrossEncoder) and a word-level tokenizer that knows pairs: [CLS] a [SEP] b [SEP]."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {w: i for i, w in enumerate([*special, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_reranker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_cross_encoder(tmp_path_factory.mktemp("tiny-cross-encoder"))


def test_a_cross_encoder_from_a_folder_reranks_by_its_own_scores(
    conn: Any, embedder: Any, migrated: Any, sample_user: str, tiny_reranker_dir: Path
) -> None:
    from sentence_transformers import CrossEncoder

    reranker = CrossEncoderReranker(str(tiny_reranker_dir))
    req = RetrievalRequest(user_id=sample_user, query=QUESTION, k=4, unit="turn")
    got = _store(conn, embedder, reranker, depth=10).retrieve(req).items
    wide = _fused(conn, embedder, req, 10)

    # the model's own scores for the same pairs, computed apart from the store
    scores = CrossEncoder(str(tiny_reranker_dir)).predict([(QUESTION, passage(m)) for m in wide])
    best = sorted(range(len(wide)), key=lambda i: (-float(scores[i]), i))[:4]
    assert [m.id for m in got] == [wide[i].id for i in best]
    assert [m.score for m in got] == pytest.approx([float(scores[i]) for i in best], abs=1e-5)
    assert np.all(np.diff([m.score for m in got]) <= 0)
    assert reranker.score(QUESTION, []).shape == (0,)
    # a passage longer than the model's 64 positions is cut, not a crash
    assert reranker.score(QUESTION, ["the dog ran " * 100]).shape == (1,)


def test_a_reranker_that_cannot_load_is_an_error_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(ConfigError, match="not-a-model"):
        CrossEncoderReranker(str(empty)).score(QUESTION, ["a dog"])


def test_bench_rerank_lever_without_a_reranker_is_refused_before_anything_starts(
    cli_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli._State, "settings", cli_settings.model_copy(update={"reranker": None}))
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(sys, "argv", ["persona", "bench", "locomo", "--lever", "rerank"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    said = capsys.readouterr()
    assert exc.value.code == 2, said
    assert "PERSONA_RERANKER" in " ".join(said.err.split())
    assert "Traceback" not in said.err
