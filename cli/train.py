"""`persona train ...`: the policy's training pipeline (data -> SFT -> GRPO -> export -> eval)
and its stages on their own; `persona bench policy` compares policies side by side."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli._shared import console, err, note, settings
from pipelines.terminal import shown

__all__ = ["train_app"]

train_app = typer.Typer(
    help="Train the policy: synthetic data from the real system, SFT, GRPO with the graph in "
    "every rollout, export, evaluation (presets: cpu-tiny, cpu-smollm2, gpu-qwen2.5-7b).",
    no_args_is_help=True,
)

_PRESET = typer.Option("--preset", "-p", help="preset name or YAML file")
_OUT = typer.Option("--out", "-o", help="run folder (the exported model lands here)")
_REPORT = typer.Option("--report-dir", help="where the report goes")
_SET = typer.Option("--set", help="override a field: grpo.steps=4 (repeatable)")


def _overrides(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--set")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@contextmanager
def _bars() -> Iterator[Any]:
    """A progress bar per stage: say(stage, i, n, metrics)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=err,
    ) as bar:
        tasks: dict[str, Any] = {}
        logged: dict[str, int] = {}  # a log file (no terminal): one line per tenth done
        t0 = time.monotonic()

        def say(stage: str, i: int, n: int, metrics: dict[str, float]) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(shown(stage), total=max(n, 1), info="")
            figures = ", ".join(
                f"{k} {v:.3g}"
                for k, v in metrics.items()
                if k in ("loss", "reward", "tokens_per_s")
            )
            bar.update(tasks[stage], completed=i, total=max(n, i, 1), info=figures)
            tenth = 10 * i // max(n, i, 1)
            if not err.is_terminal and tenth > logged.get(stage, -1):
                logged[stage] = tenth
                elapsed = time.monotonic() - t0
                err.print(f"[{elapsed:6.0f}s] {stage} {i}/{n} {figures}", markup=False)

        yield say


def _command(*args: Any) -> str:
    """The command line that reproduces a report."""
    import shlex

    return "persona " + " ".join(shlex.quote(str(a)) for a in args)


def _run(preset: str, out: Path, sets: list[str] | None) -> Any:
    from cli.training_run import TrainingRun
    from training.config import load_config

    cfg = load_config(preset, _overrides(sets))
    from training.base import check_device

    check_device(cfg)  # a GPU preset without a GPU fails before anything starts
    locomo = settings().locomo or _default_locomo()
    return cfg, lambda say: TrainingRun(
        cfg, out, settings(), say, locomo=locomo if locomo.is_file() else None, note=note
    )


def _default_locomo() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared/data/locomo/locomo10_dev.json"


@train_app.command("config")
def config_cmd(
    preset: Annotated[str, _PRESET] = "cpu-smollm2",
    sets: Annotated[list[str] | None, _SET] = None,
) -> None:
    """Print a preset: every field, its value and what it does."""
    from training.config import describe_config, load_config

    cfg = load_config(preset, _overrides(sets))
    table = Table("field", "value", "help", title=f"preset {cfg.name}: {cfg.description}")
    for name, value, text in describe_config(cfg):
        table.add_row(name, shown(value), shown(text))
    console.print(table)


@train_app.command("data")
def data_cmd(
    preset: Annotated[str, _PRESET] = "cpu-smollm2",
    out: Annotated[Path, _OUT] = Path("runs/policy"),
    sets: Annotated[list[str] | None, _SET] = None,
) -> None:
    """Generate personas, ingest them into the training store, render the trajectories."""
    _, make = _run(preset, out, sets)
    with _bars() as say:
        ds = make(say).data()
    console.print_json(json.dumps(ds.manifest, default=str))


@train_app.command("sft")
def sft_cmd(
    preset: Annotated[str, _PRESET] = "cpu-smollm2",
    out: Annotated[Path, _OUT] = Path("runs/policy"),
    sets: Annotated[list[str] | None, _SET] = None,
) -> None:
    """SFT on the run's trajectories (resumes from the last checkpoint)."""
    _, make = _run(preset, out, sets)
    with _bars() as say:
        run = make(say)
        run.data()
        model = run.sft(run.base())
    console.print(f"SFT model: {model}")
    console.print_json(json.dumps(run.stages.get("sft", {}), default=str))


@train_app.command("grpo")
def grpo_cmd(
    preset: Annotated[str, _PRESET] = "cpu-smollm2",
    out: Annotated[Path, _OUT] = Path("runs/policy"),
    sets: Annotated[list[str] | None, _SET] = None,
) -> None:
    """GRPO from the run's SFT model, the real graph in every rollout (resumes)."""
    _, make = _run(preset, out, sets)
    with _bars() as say:
        run = make(say)
        ds = run.data()
        start = run.sft(run.base())
        model = run.grpo(start, run.grpo_questions(ds))
    console.print(f"GRPO model: {model}")
    console.print_json(json.dumps(run.stages.get("grpo", {}), default=str))


def _report_name(preset: str) -> str:
    """The report's file name: ``training`` for the default CPU preset, ``training-<preset>``
    for any other, so a cpu-tiny check or a GPU run never overwrites the cpu-smollm2 report.

    >>> _report_name("cpu-smollm2"), _report_name("cpu-tiny"), _report_name("my/run.yaml")
    ('training', 'training-cpu-tiny', 'training-my-run.yaml')
    """
    if preset == "cpu-smollm2":
        return "training"
    return "training-" + "".join(c if c.isalnum() or c in "-._" else "-" for c in preset)


@train_app.command("eval")
def eval_cmd(
    preset: Annotated[str, _PRESET] = "cpu-smollm2",
    out: Annotated[Path, _OUT] = Path("runs/policy"),
    report_dir: Annotated[Path, _REPORT] = Path("docs/benchmarks"),
    sets: Annotated[list[str] | None, _SET] = None,
) -> None:
    """Offline policy, SFT and GRPO side by side on held-out personas and LoCoMo."""
    from cli.training_run import policy_report

    _, make = _run(preset, out, sets)
    with _bars() as say:
        run = make(say)
        results = run.evaluate(run.data())
    sets_args = [x for item in sets or [] for x in ("--set", item)]
    md = policy_report(
        results,
        name=_report_name(preset),
        title="Policy training (evaluation only)",
        out_dir=report_dir,
        command=_command("train", "eval", "--preset", preset, "--out", out, *sets_args),
        stages=run.stages,
        store=run.app.store,
    )
    console.print(md.read_text(), markup=False)


@train_app.command("all")
def all_cmd(
    preset: Annotated[str, _PRESET] = "cpu-smollm2",
    out: Annotated[Path, _OUT] = Path("runs/policy"),
    report_dir: Annotated[Path, _REPORT] = Path("docs/benchmarks"),
    sets: Annotated[list[str] | None, _SET] = None,
) -> None:
    """The whole pipeline: data -> SFT -> GRPO -> export -> evaluation (resumes when re-run)."""
    from cli.training_run import policy_report
    from training.export import update_card

    cfg, make = _run(preset, out, sets)
    with _bars() as say:
        run = make(say)
        ds = run.data()
        sft = run.sft(run.base())
        grpo = run.grpo(sft, run.grpo_questions(ds))
        run.export(grpo)
        results = run.evaluate(ds)
    update_card(
        out, {"heldout": results["policies"], "baseline_recall": results["baseline_recall"]}
    )
    sets_args = [x for item in sets or [] for x in ("--set", item)]
    md = policy_report(
        results,
        name=_report_name(preset),
        title=f"Policy training ({cfg.name})",
        out_dir=report_dir,
        command=_command(
            "train",
            "all",
            "--preset",
            preset,
            "--out",
            out,
            "--report-dir",
            report_dir,
            *sets_args,
        ),
        stages=run.stages,
        store=run.app.store,
    )
    console.print(md.read_text(), markup=False)
    console.print(
        f"\nmodel: {out}\n  PERSONA_POLICY=hf PERSONA_MODEL={out} persona ask --user sam '...'"
    )
