"""The whole training pipeline on the cpu-tiny preset, as CI runs it: ``persona train all``
against the test Neo4j (as an external server, so training uses ``train-`` users and never a
user's graph), then checks that the weights changed at every stage, the model card and the
report say what happened, the exported model runs as the agent's policy, and a re-run resumes
instead of retraining. Also: an interrupted SFT resumes from its checkpoint, and the SFT loss
on assistant positions equals trl's own."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import Said, new_user, run_agent, seed_sessions
from typer.testing import CliRunner

import cli
from schema.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

runner = CliRunner()


@pytest.fixture(scope="module")
def external(
    neo4j_server: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The test server seen as an external one (NEO4J_URI): training prefixes its users."""
    from graph.local.server import LocalNeo4j

    local = LocalNeo4j(settings)
    return Settings(
        home=tmp_path_factory.mktemp("train-home"),
        cache_dir=settings.cache_dir,
        neo4j_uri=local.uri(),
        neo4j_password=local.password(),
        timezone="UTC",
    )


@pytest.fixture(scope="module")
def run(
    external: Settings, tmp_path_factory: pytest.TempPathFactory, conn: Any
) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("tiny-run")
    reports = tmp_path_factory.mktemp("tiny-report")
    users_before = {r["id"] for r in conn.read("MATCH (u:User) RETURN u.id AS id")}
    previous = cli._State.settings
    cli._State.settings = external
    try:
        args = [
            "train",
            "all",
            "--preset",
            "cpu-tiny",
            "--out",
            str(out),
            "--report-dir",
            str(reports),
        ]
        result = runner.invoke(cli.app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, (result.output, result.exception)
        yield {
            "out": out,
            "reports": reports,
            "args": args,
            "users_before": users_before,
            "output": result.output,
        }
    finally:
        cli._State.settings = previous


def test_every_stage_ran_and_the_weights_changed_at_each(run: dict[str, Any]) -> None:
    from training.export import weights_digest

    out: Path = run["out"]
    stages = json.loads((out / "work" / "stages.json").read_text())
    assert {"data", "sft", "grpo", "export", "eval"} <= set(stages)
    assert stages["sft"]["steps"] > 0 and stages["grpo"]["steps"] == 3
    base = weights_digest(out / "work" / "base-tiny")
    sft = weights_digest(out / "work" / "sft")
    grpo = weights_digest(out / "work" / "grpo")
    assert base != sft != grpo
    # dynamic sampling: every step drew a group, and a tied one was rolled out again
    groups = stages["grpo"]["groups"]
    assert groups["seen"] == 3 and groups["redrawn"] >= min(groups["tied"], 1)
    assert groups["still_tied"] < groups["seen"]
    # grpo.balance = kind: three steps of one question each drew three different kinds
    assert stages["grpo"]["kinds"] and sum(stages["grpo"]["kinds"].values()) == 3
    assert set(stages["grpo"]["kinds"].values()) == {1}
    # throughput is counted at both stages (trl counts GRPO's prompt + completion tokens)
    assert stages["sft"]["train_tokens"] > 0 and stages["grpo"]["train_tokens"] > 0
    assert weights_digest(out) == grpo  # the exported model is the GRPO model


def test_model_card_names_base_data_prompts_steps_and_metrics(run: dict[str, Any]) -> None:
    from agent.prompts import reason_continue, reason_start

    card = json.loads((run["out"] / "model_card.json").read_text())
    assert card["base"] == "tiny" and card["preset"] == "cpu-tiny"
    assert card["data_hash"] and card["data"]["sft_trajectories"] > 0
    assert {reason_start.VERSION, reason_continue.VERSION} <= set(card["prompt_versions"])
    assert card["sft"]["steps"] > 0 and card["grpo"]["steps"] == 3
    assert set(card["heldout"]) == {"offline", "SFT", "GRPO"}
    assert (run["out"] / "README.md").read_text().startswith("# personagraph-policy")


def test_report_compares_the_three_policies(run: dict[str, Any]) -> None:
    report = json.loads((run["reports"] / "training-cpu-tiny.json").read_text())
    policies = report["results"]["policies"]
    assert set(policies) == {"offline", "SFT", "GRPO"}
    for p in policies.values():
        held = p["synthetic_heldout"]
        assert held["questions"] > 0 and held["answered"] == 100.0  # every rollout answers
    md = (run["reports"] / "training-cpu-tiny.md").read_text()
    assert "Reproduce: `persona train all --preset cpu-tiny" in md
    assert "train tokens/s" in md
    assert "GRPO questions by kind (`grpo.balance`): " in md
    # GRPO against SFT question by question: every held-out question counted once
    pair = report["results"]["paired"]["GRPO vs SFT"]["synthetic_heldout"]
    held = policies["GRPO"]["synthetic_heldout"]["questions"]
    assert pair["questions"] == held == pair["better"] + pair["worse"] + pair["same"]
    lo, hi = pair["interval_95"]  # a bootstrap interval of the mean difference holds it
    assert lo <= pair["mean_difference"] <= hi
    assert "## Question by question" in md and f"| {lo} to {hi} |" in md
    # the cpu-smollm2 report's name stays free for the real run
    assert not (run["reports"] / "training.md").exists()


def test_training_never_wrote_a_users_graph(run: dict[str, Any], conn: Any) -> None:
    after = {r["id"] for r in conn.read("MATCH (u:User) RETURN u.id AS id")}
    new = after - run["users_before"]
    assert new and all(u.startswith("train-") for u in new), sorted(new)[:5]


def test_every_stage_reports_progress_step_by_step(run: dict[str, Any]) -> None:
    """Without a terminal (a log file, CI) each stage prints a line per tenth of its work,
    training stages with their loss: a silent hour-long stage looks hung."""
    import re

    out = run["output"]
    for stage in ("sft", "grpo"):
        lines = re.findall(rf"\] {stage} (\d+)/(\d+) loss", out)
        assert len(lines) >= 2, (stage, out[-3000:])
        assert lines[-1][0] == lines[-1][1]  # the last line is the last step
    assert re.search(r"\] eval: GRPO on synthetic_heldout \d+/\d+", out)


def test_the_exported_model_runs_as_the_agents_policy(
    run: dict[str, Any], session_store: Any, settings: Settings
) -> None:
    from agent.policies import build_policy, describe_policy
    from agent.prompts import reason_start

    s = settings.model_copy(update={"policy": "hf", "model": str(run["out"]), "max_tokens": 24})
    assert "model card" in describe_policy(s)
    uid = new_user("tinypol")
    seed_sessions(
        session_store, uid, [[Said(datetime(2024, 3, 5, 10, tzinfo=UTC), "I adopted a cat.")]]
    )
    state = run_agent(
        store=session_store,
        policy=build_policy(s),
        settings=s,
        user_id=uid,
        question="When did I adopt a cat?",
        now=datetime(2024, 6, 1, tzinfo=UTC),
    )
    assert state["answer"].strip()  # a tiny random-ish model still ends in an answer
    assert state["steps"] and state["steps"][0]["prompt"] == reason_start.VERSION


def _mini_locomo(path: Path) -> Path:
    """The first two sessions of the last LoCoMo dev conversation, renamed, with the questions
    they answer: a LoCoMo-format file the pipeline never trained on."""
    from conftest import LOCOMO

    sample = json.loads(LOCOMO.read_text(encoding="utf-8"))[-1]
    conv = sample["conversation"]
    for key in [k for k in conv if k.startswith("session_")]:
        number = key.split("_")[1]
        if number not in ("1", "2"):
            del conv[key]
    sample["qa"] = [
        q
        for q in sample["qa"]
        if q.get("evidence") and all(str(e).startswith(("D1:", "D2:")) for e in q["evidence"])
    ]
    sample["sample_id"] = "mini-other"
    for key in ("event_summary", "observation", "session_summary"):
        sample.pop(key, None)
    path.write_text(json.dumps([sample]), encoding="utf-8")
    return path


def test_bench_policy_compares_the_three_policies_on_another_file(
    run: dict[str, Any], external: Settings, tmp_path: Path
) -> None:
    data = _mini_locomo(tmp_path / "mini.json")
    previous = cli._State.settings
    cli._State.settings = external
    try:
        args = ["bench", "policy", "--model", str(run["out"]), "--data", str(data)]
        args += ["--sample", "6", "--heldout", "4", "--out", str(tmp_path)]
        result = runner.invoke(cli.app, args, env={"COLUMNS": "200"})
    finally:
        cli._State.settings = previous
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads((tmp_path / "policy.json").read_text())
    evals = report["results"]
    assert evals["questions"] == {"synthetic_heldout": 4, "locomo": 6}
    assert set(evals["policies"]) == {"offline", "SFT", "GRPO"}
    for name in ("offline", "SFT", "GRPO"):
        assert evals["policies"][name]["locomo"]["answered"] == 100.0
    md = (tmp_path / "policy.md").read_text()
    assert "| metric | offline | SFT | GRPO |" in md and "LoCoMo answer F1 by category" in md
    # every question's answer beside the report, with the slips the summary counted
    answers = json.loads((tmp_path / "policy_answers.json").read_text())
    assert "policy_answers.json" in md
    for name in ("offline", "SFT", "GRPO"):
        rows = answers[name]["locomo"]
        assert len(rows) == 6 and all(r["answer"] and "gold" in r for r in rows)
        counted = Counter(slip for r in rows for slip in r["slips"])
        assert evals["policies"][name]["locomo"]["malformed_by_slip"] == dict(counted)


def test_bench_policy_leaves_out_what_the_model_trained_on(
    run: dict[str, Any], external: Settings, tmp_path: Path
) -> None:
    """A conversation the model card lists as training data is never scored; --category keeps
    the LoCoMo sample to the categories asked for."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(run["out"], model)
    card = json.loads((model / "model_card.json").read_text())
    card["config"]["data"]["locomo_train"] = ["mini-trained"]
    (model / "model_card.json").write_text(json.dumps(card))
    other = json.loads(_mini_locomo(tmp_path / "mini.json").read_text())[0]
    trained = json.loads(json.dumps(other)) | {"sample_id": "mini-trained"}
    data = tmp_path / "two.json"
    data.write_text(json.dumps([other, trained]))
    cats = sorted({int(q["category"]) for q in other["qa"]})
    want = sum(int(q["category"]) == cats[0] for q in other["qa"])

    def bench(*extra: str) -> Any:
        args = ["bench", "policy", "--model", str(model), "--data", str(data)]
        args += ["--sample", "50", "--heldout", "1", "--out", str(tmp_path), *extra]
        previous = cli._State.settings
        cli._State.settings = external
        try:
            return runner.invoke(cli.app, args, env={"COLUMNS": "200"})
        finally:
            cli._State.settings = previous

    result = bench("--category", str(cats[0]))
    assert result.exit_code == 0, (result.output, result.exception)
    assert "left out (the model trained on them): mini-trained" in result.output
    report = json.loads((tmp_path / "policy.json").read_text())
    assert report["results"]["questions"]["locomo"] == min(50, want)
    wrong = bench("--category", "9")
    assert wrong.exit_code != 0 and "--category" in wrong.output


def test_a_rerun_resumes_instead_of_retraining(run: dict[str, Any], external: Settings) -> None:
    out: Path = run["out"]
    before = json.loads((out / "work" / "stages.json").read_text())
    previous = cli._State.settings
    cli._State.settings = external
    try:
        result = runner.invoke(cli.app, run["args"], env={"COLUMNS": "200"})
    finally:
        cli._State.settings = previous
    assert result.exit_code == 0, result.output
    after = json.loads((out / "work" / "stages.json").read_text())
    for stage in ("data", "sft", "grpo"):
        assert after[stage] == before[stage], stage  # kept, not re-run


# ------------------------------------------------------------------------------ SFT pieces
@pytest.fixture(scope="module")
def tiny_data(run: dict[str, Any]) -> Path:
    return run["out"] / "work" / "data" / "sft.jsonl"


def test_an_interrupted_sft_resumes_from_its_last_checkpoint(
    run: dict[str, Any], tiny_data: Path, tmp_path: Path
) -> None:
    from transformers import TrainerCallback

    from training.config import load_config
    from training.sft import run_sft

    cfg = load_config("cpu-tiny", {"sft.save_steps": 2, "sft.epochs": 1})
    base = str(run["out"] / "work" / "base-tiny")

    class Stop(TrainerCallback):  # type: ignore[misc]
        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step >= 4:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sft(cfg, base=base, data_file=tiny_data, work_dir=tmp_path, callbacks=[Stop()])
    assert (tmp_path / "sft-checkpoints" / "checkpoint-4").is_dir()
    result = run_sft(cfg, base=base, data_file=tiny_data, work_dir=tmp_path)
    assert result.resumed_from and result.resumed_from.endswith("checkpoint-4")
    assert result.steps > 4


def test_assistant_only_loss_equals_trls_own(run: dict[str, Any], tiny_data: Path) -> None:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from training.base import load_tokenizer
    from training.sft import _assistant_trainer, read_trajectories

    base = str(run["out"] / "work" / "sft")
    tok = load_tokenizer(base)
    rows = read_trajectories(tiny_data)[:4]
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    args = SFTConfig(
        output_dir="/tmp/unused-sft",
        assistant_only_loss=True,
        max_length=2048,
        use_cpu=True,
        bf16=False,
        report_to=[],
        per_device_train_batch_size=4,
    )
    ours = _assistant_trainer()(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok
    )
    theirs = SFTTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok
    )
    batch = next(iter(ours.get_train_dataloader()))
    model.eval()
    with torch.no_grad():
        a = ours.compute_loss(model, dict(batch))
        b = theirs.compute_loss(model, dict(batch))
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), (float(a), float(b))
