"""Checks that need a CUDA GPU (marked `gpu`; skipped where torch sees none): the embedder
gives the CPU's vectors on the GPU, and the local policy loads and generates there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine"),
]


def test_embedder_on_gpu_matches_cpu() -> None:
    from graph.embed import SentenceTransformerEmbedder

    texts = ["Sam: I moved to Denver last weekend.", "The dentist was Dr. Nguyen."]
    cpu = SentenceTransformerEmbedder(device="cpu").embed(texts)
    gpu = SentenceTransformerEmbedder(device="cuda").embed(texts)
    assert np.allclose(cpu, gpu, atol=1e-3)


def test_hf_policy_generates_on_gpu(tmp_path: Path) -> None:
    from langchain_core.messages import HumanMessage

    from agent.policies.hf import HFChatModel
    from training.tiny import build_tiny_chat_model

    path = build_tiny_chat_model(tmp_path / "tiny")
    policy = HFChatModel(model_path=str(path), device="cuda", max_new_tokens=12)
    reply = policy.invoke([HumanMessage(content="When did I see the dentist?")], stop=["</answer>"])
    assert isinstance(reply.content, str)
    assert next(policy._model.parameters()).device.type == "cuda"
