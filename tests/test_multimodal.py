"""Turns with images: content-addressed storage, captions searchable by full-text and vector,
and CLIP image embeddings (a tiny random CLIP built here) giving retrieval an "image" signal."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import new_user

from agent.media import ImageStore
from agent.memory import heuristic_extractors
from agent.prompts._common import render_memory
from agent.update import UpdateStage
from schema.nodes import MemoryKind, User
from schema.retrieval import RetrievalRequest

T0 = datetime(2024, 1, 27, 10, 30, tzinfo=UTC)
CAPTION = "a small beagle puppy sitting on a blue sofa"
QUESTION = "Look who moved in with me today!"


def png(color: tuple[int, int, int], size: tuple[int, int] = (48, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------ image store
def test_image_store_is_content_addressed(tmp_path: Path) -> None:
    images = ImageStore(tmp_path / "images")
    data = png((200, 30, 30))
    sha, path = images.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert path == tmp_path / "images" / sha[:2] / sha
    again_sha, again_path = images.put(bytes(data))
    assert (again_sha, again_path) == (sha, path)
    assert files_under(tmp_path / "images") == [path]  # one file, no temporaries left
    assert images.get(sha) == data
    other_sha, other_path = images.put(png((0, 0, 255)))
    assert other_sha != sha and other_path != path
    assert len(files_under(tmp_path / "images")) == 2


# ------------------------------------------------------------------------------ captions
@pytest.mark.integration
def test_image_turn_is_stored_and_its_caption_is_searchable(
    store: Any, conn: Any, user_id: str, tmp_path: Path
) -> None:
    images = ImageStore(tmp_path / "images")
    stage = UpdateStage(store, heuristic_extractors(), images=images)
    user = User(id=user_id, user_id=user_id, name="Sam")
    data = png((120, 80, 40))
    r1 = stage.record_exchange(
        user,
        None,
        QUESTION,
        T0,
        "Adorable!",
        T0 + timedelta(minutes=1),
        image=data,
        caption=CAPTION,
    )
    session = store.sessions(user_id)[0]
    stage.record_exchange(
        user,
        session,
        "I bought new running shoes for the marathon.",
        T0 + timedelta(minutes=5),
        "Nice.",
        T0 + timedelta(minutes=6),
    )
    # the same picture again, later: the same stored file
    r3 = stage.record_exchange(
        user,
        store.sessions(user_id)[0],
        "Here she is again.",
        T0 + timedelta(minutes=9),
        "Still adorable.",
        T0 + timedelta(minutes=10),
        image=data,
        caption="the same beagle asleep",
    )
    turns = {t.id: t for t in store.session_turns(user_id, r1.session_id)}
    first, repeat = turns[r1.turn_ids[0]], turns[r3.turn_ids[0]]
    sha = hashlib.sha256(data).hexdigest()
    assert first.image_sha256 == repeat.image_sha256 == sha
    assert first.image_path == repeat.image_path == str(images.path_for(sha))
    assert first.image_caption == CAPTION
    assert files_under(tmp_path / "images") == [images.path_for(sha)]
    assert Path(first.image_path).read_bytes() == data

    # full-text: the caption's words find the turn although its text does not contain them
    ft = store.retrieve(
        RetrievalRequest(
            user_id=user_id, query="beagle", keywords=["beagle"], kinds=[MemoryKind.TURN]
        )
    )
    hit = next(m for m in ft.items if m.id == first.id)
    assert "fulltext" in {s.name for s in hit.why.signals}
    assert hit.caption == CAPTION
    assert f"[image: {CAPTION}]" in render_memory(hit)  # as the prompt shows it
    # vector: the caption is part of the embedded text
    vec = store.retrieve(
        RetrievalRequest(
            user_id=user_id, query="a puppy resting on a couch", kinds=[MemoryKind.TURN]
        )
    )
    ranked = [m.id for m in vec.items if "vector" in {s.name for s in m.why.signals}]
    assert ranked[0] == first.id
    vec_scores = {
        m.id: next(s.score for s in m.why.signals if s.name == "vector") for m in vec.items
    }
    shoes = next(t.id for t in turns.values() if "running shoes" in t.text)
    assert vec_scores[first.id] > vec_scores[shoes]


@pytest.mark.integration
def test_ingest_stores_an_image_file_content_addressed(
    store: Any, embedder: Any, user_id: str, tmp_path: Path
) -> None:
    from pipelines.ingest import ingest_file

    data = png((10, 200, 10))
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "garden.png").write_bytes(data)
    doc = {
        "format": "personagraph/v1",
        "user": {"id": "someone", "name": "Kim"},
        "timezone": "UTC",
        "sessions": [
            {
                "id": "kim-1",
                "turns": [
                    {
                        "role": "user",
                        "text": "My tomatoes finally turned red!",
                        "timestamp": "2024-08-02T09:00:00+00:00",
                        "image": {"path": "pics/garden.png", "caption": "ripe tomatoes on a vine"},
                    },
                    {
                        "role": "assistant",
                        "text": "They look delicious.",
                        "timestamp": "2024-08-02T09:01:00+00:00",
                    },
                ],
            }
        ],
    }
    source = tmp_path / "kim.json"
    source.write_text(json.dumps(doc))
    images = ImageStore(tmp_path / "store")
    ingest_file(source, store=store, embedder=embedder, user=user_id, images=images)
    ingest_file(source, store=store, embedder=embedder, user=user_id, images=images)

    sha = hashlib.sha256(data).hexdigest()
    (session,) = store.sessions(user_id)
    turn = store.session_turns(user_id, session.id)[0]
    assert turn.image_sha256 == sha
    assert turn.image_path == str(images.path_for(sha))
    assert turn.image_caption == "ripe tomatoes on a vine"
    assert files_under(tmp_path / "store") == [images.path_for(sha)]


# ------------------------------------------------------------------------------ CLIP
def build_tiny_clip(out: Path) -> Path:
    """A random CLIP with tiny towers, a locally trained BPE tokenizer and a 32-px processor."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<pad>", "<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    lines = [CAPTION, "a red bicycle leaning on a wall", "ripe tomatoes on a vine"] * 20
    tok.train_from_iterator(lines, trainer)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=32,
    )
    config = CLIPConfig(
        text_config={
            "vocab_size": len(fast),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,
            "pad_token_id": fast.pad_token_id,
            "bos_token_id": bos,
            "eos_token_id": eos,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(out)
    fast.save_pretrained(out)
    CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def clip_store(conn: Any, embedder: Any, migrated: Any, clip_dir: Path) -> Any:
    from graph.embed import ClipEmbedder
    from graph.migrate import migrate
    from graph.store import Neo4jMemoryStore

    migrate(conn, dimension=embedder.dimension, image_dimension=16)
    return Neo4jMemoryStore(
        conn, embedder, image_embedder=ClipEmbedder(str(clip_dir)), image_min_score=0.0
    )


@pytest.mark.slow
@pytest.mark.integration
def test_clip_embeddings_give_retrieval_an_image_signal(
    clip_store: Any, conn: Any, tmp_path: Path
) -> None:
    uid = new_user("clip")
    assert clip_store.image_embedder.dimension == 16
    images = ImageStore(tmp_path / "images")
    stage = UpdateStage(clip_store, heuristic_extractors(), images=images)
    user = User(id=uid, user_id=uid, name="Sam")
    r1 = stage.record_exchange(
        user,
        None,
        QUESTION,
        T0,
        "Adorable!",
        T0 + timedelta(minutes=1),
        image=png((90, 60, 30)),
        caption=CAPTION,
    )
    r2 = stage.record_exchange(
        user,
        store_session(clip_store, uid),
        "I repainted my bike red.",
        T0 + timedelta(minutes=3),
        "Looks fast.",
        T0 + timedelta(minutes=4),
    )
    rows = conn.read(
        "MATCH (t:Turn {user_id: $u}) RETURN t.id AS id, size(t.image_embedding) AS dim",
        u=uid,
    )
    dims = {r["id"]: r["dim"] for r in rows}
    assert dims[r1.turn_ids[0]] == 16
    assert dims[r1.turn_ids[1]] is None and dims[r2.turn_ids[0]] is None

    result = clip_store.retrieve(
        RetrievalRequest(user_id=uid, query="a dog on a sofa", kinds=[MemoryKind.TURN], k=10)
    )
    signals = {m.id: {s.name for s in m.why.signals} for m in result.items}
    assert "image" in signals[r1.turn_ids[0]]
    assert all("image" not in names for mid, names in signals.items() if mid != r1.turn_ids[0])
    assert "image" in result.timings_ms
    # without turns in the kinds, the image signal is not computed
    facts_only = clip_store.retrieve(
        RetrievalRequest(user_id=uid, query="a dog on a sofa", kinds=[MemoryKind.FACT])
    )
    assert "image" not in facts_only.timings_ms


def store_session(store: Any, uid: str) -> Any:
    return store.sessions(uid)[0]
