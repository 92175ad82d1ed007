"""Training presets: typed, validated early, errors that name the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema.errors import ConfigError
from training.config import describe_config, load_config, preset_names


def test_the_three_presets_load() -> None:
    assert {"cpu-tiny", "cpu-smollm2", "gpu-qwen2.5-7b"} <= set(preset_names())
    for name in preset_names():
        cfg = load_config(name)
        assert cfg.name == name
    assert load_config("cpu-smollm2").model.base == "smollm2-135m"
    assert load_config("gpu-qwen2.5-7b").requires_gpu


def test_every_field_has_help_text() -> None:
    rows = describe_config(load_config("cpu-smollm2"))
    assert len(rows) > 40
    assert not [name for name, _, help_text in rows if not help_text]


def test_unknown_field_is_named_with_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config("cpu-tiny", {"sft.learning_rat": 0.1})
    assert exc.value.message == "--set sft.learning_rat=0.1: unknown field 'sft.learning_rat'"
    assert "learning_rate" in (exc.value.hint or "")


def test_wrong_type_names_field_and_value() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config("cpu-tiny", {"grpo.num_generations": "many"})
    assert "grpo.num_generations" in exc.value.message and "'many'" in exc.value.message
    # the bad value came from --set, not from the preset file
    assert exc.value.message.startswith("--set grpo.num_generations=many: ")
    assert "cpu-tiny.yaml" not in exc.value.message


def test_a_bad_value_in_the_preset_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("name: mine\nsft:\n  batch_size: four\n")
    with pytest.raises(ConfigError) as exc:
        load_config(str(bad), {"grpo.steps": 2})
    assert exc.value.message.startswith(f"{bad}: sft.batch_size: ")


def test_a_split_without_training_personas_is_refused() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config("cpu-tiny", {"data.heldout": 4, "data.personas": 4})
    assert "data.heldout" in exc.value.message


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config("cpu-huge")
    assert "cpu-smollm2" in (exc.value.hint or "")


def test_broken_yaml_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsft: [unclosed\n")
    with pytest.raises(ConfigError) as exc:
        load_config(bad)
    assert "not valid YAML" in exc.value.message


def test_overrides_apply() -> None:
    cfg = load_config("cpu-tiny", {"grpo.steps": 7, "data.seed": 3})
    assert cfg.grpo.steps == 7 and cfg.data.seed == 3


def test_gpu_preset_fails_at_once_without_a_gpu() -> None:
    import torch

    from training.base import check_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError) as exc:
        check_device(load_config("gpu-qwen2.5-7b"))
    assert "CUDA" in exc.value.message and "cpu-smollm2" in (exc.value.hint or "")


def test_train_all_with_a_gpu_preset_stops_before_anything_starts(tmp_path: Path) -> None:
    import torch
    from typer.testing import CliRunner

    import cli

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli.app, ["train", "all", "--preset", "gpu-qwen2.5-7b", "--out", str(out)]
    )
    assert isinstance(result.exception, ConfigError)
    assert "CUDA" in result.exception.message
    assert not out.exists()  # nothing was created, nothing was downloaded


def test_a_bad_override_is_named_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    import cli

    result = CliRunner().invoke(
        cli.app, ["train", "config", "--preset", "cpu-tiny", "--set", "sft.epoch=2"]
    )
    assert isinstance(result.exception, ConfigError)
    assert "sft.epoch" in result.exception.message and "epochs" in (result.exception.hint or "")


def test_bf16_auto_follows_the_cpu_and_a_forced_one_is_warned_about() -> None:
    """An AVX2-only CPU emulates bfloat16 (SmolLM2 SFT at 4.5 tokens/s against fp32's 117):
    ``auto`` trains in bf16 only where it is native; a forced ``true`` is kept but warned
    about, and the notes say which precision the run uses."""
    from training.base import bf16_enabled, check_device, native_bf16

    native = native_bf16("cpu")
    auto = load_config("cpu-smollm2")
    assert auto.model.bf16 == "auto"
    assert bf16_enabled(auto) is native
    notes = check_device(auto)
    assert notes[0].startswith("precision: " + ("bf16" if native else "fp32"))
    assert ("not native" in notes[0]) is not native
    forced = load_config("cpu-smollm2", {"model.bf16": True})
    assert bf16_enabled(forced) is True
    warned = [n for n in check_device(forced) if n.startswith("warning")]
    assert bool(warned) is not native
    assert bf16_enabled(load_config("cpu-tiny")) is False


def test_bf16_takes_true_false_or_auto_only() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config("cpu-smollm2", {"model.bf16": "sometimes"})
    assert "model.bf16" in exc.value.message and "'sometimes'" in exc.value.message


def test_grpo_micro_batch_must_divide_a_step() -> None:
    cfg = load_config("cpu-smollm2", {"grpo.micro_batch": 2})
    assert cfg.grpo.rollouts_per_step % cfg.grpo.micro_batch == 0
    with pytest.raises(ConfigError) as exc:
        load_config("cpu-smollm2", {"grpo.micro_batch": 3})
    assert "micro_batch 3" in exc.value.message and "prompts_per_step" in exc.value.message


def test_a_missing_base_model_folder_fails_before_anything_starts(tmp_path: Path) -> None:
    from training.base import check_device

    missing = str(tmp_path / "no-such-model")
    with pytest.raises(ConfigError) as exc:
        check_device(load_config("cpu-tiny", {"model.base": missing}))
    assert exc.value.message == f"model.base {missing!r}: no such directory"
    assert "tiny, smollm2-135m" in (exc.value.hint or "")
    # a hub id is for a machine with a hub: not refused here
    assert check_device(load_config("cpu-tiny", {"model.base": "Qwen/Qwen2.5-1.5B-Instruct"}))
