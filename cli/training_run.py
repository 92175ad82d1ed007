"""One training run, stage by stage: data -> base -> SFT -> GRPO -> export -> evaluation.

The run lives in its output folder: ``DIR/work/`` holds the data, the stage models and their
checkpoints and ``stages.json`` (what finished, with its figures and a fingerprint of the
configuration it ran with); ``DIR`` itself receives the exported model and its card.
Re-running resumes: a finished stage whose configuration is unchanged is kept, an interrupted
SFT or GRPO continues from its last checkpoint; a stage whose configuration changed (and every
stage after it) runs again. Training never touches a
user's memory: it uses an embedded server of its own (``<home>/train``), or, on an external
server, users prefixed ``train-``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from schema.datasets import GoldQuestion
from schema.protocols import MemoryStore
from schema.settings import Settings
from schema.training import TrainConfig

if TYPE_CHECKING:
    from pipelines.app import App

__all__ = ["TrainingRun", "policy_report", "rollouts_report", "train_settings"]

Say = Callable[[str, int, int, dict[str, float]], None]


def release_memory() -> None:
    """Free what a finished stage left behind before the next one loads its models: the
    trainers hold reference cycles (collected only by a full gc), and glibc keeps freed
    arenas unless asked to trim. Without this, SFT's ~6 GB stayed resident under GRPO."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def train_settings(settings: Settings) -> tuple[Settings, str]:
    """The settings of the training store and the user prefix it needs."""
    if settings.embedded:
        return settings.model_copy(update={"home": settings.home / "train"}), ""
    return settings, "train-"


@dataclass
class TrainingRun:
    cfg: TrainConfig
    out: Path
    settings: Settings
    say: Say
    locomo: Path | None = None
    note: Callable[[str], None] = print
    stages: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.work = self.out / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.work / "data"
        self.store_settings, self.prefix = train_settings(self.settings)
        path = self.work / "stages.json"
        self.stages = json.loads(path.read_text()) if path.is_file() else {}
        self.stages["config"] = self.cfg.model_dump(mode="json")
        self._app: Any = None

    #: the configuration sections each stage depends on (a change re-runs it)
    _DEPENDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "data": ("data",),
        "sft": ("data", "model", "sft"),
        "grpo": ("data", "model", "sft", "grpo"),
        "export": ("data", "model", "sft", "grpo"),
        "eval": ("data", "model", "sft", "grpo", "eval"),
    }

    def fingerprint(self, stage: str) -> str:
        """The configuration a stage depends on, and the prompt versions (the data is rendered
        through the prompt modules: a new prompt version means new data)."""
        import hashlib

        from agent.prompts import direct_answer, reason_continue, reason_start, repair

        parts: dict[str, Any] = {k: self.stages["config"][k] for k in self._DEPENDS[stage]}
        parts["prompts"] = [
            m.VERSION for m in (reason_start, reason_continue, repair, direct_answer)
        ]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]

    def fresh(self, stage: str) -> bool:
        """Finished, with the configuration it would run with now."""
        info = self.stages.get(stage) or {}
        return info.get("fingerprint") == self.fingerprint(stage)

    def checkpoints(self, stage: str) -> Path:
        """The stage's checkpoint folder, emptied when it holds another configuration's."""
        import shutil

        folder = self.work / f"{stage}-checkpoints"
        mark = folder / "fingerprint"
        if folder.is_dir() and (not mark.is_file() or mark.read_text() != self.fingerprint(stage)):
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        mark.write_text(self.fingerprint(stage))
        return folder

    # ------------------------------------------------------------------ plumbing
    @property
    def app(self) -> App:
        if self._app is None:
            from pipelines.app import App

            self._app = App(self.store_settings, note=self.note)
        return self._app

    def _done(self, stage: str, result: dict[str, Any], seconds: float) -> None:
        self.stages[stage] = {
            **result,
            "wall_s": round(seconds, 1),
            "fingerprint": self.fingerprint(stage),
        }
        (self.work / "stages.json").write_text(json.dumps(self.stages, indent=1, default=str))

    def _precision(self) -> dict[str, str]:
        from training.base import precision

        return {"precision": precision(self.cfg)}

    def _progress(self, stage: str) -> Callable[[str, int, int], None]:
        return lambda task, i, n: self.say(f"{stage}: {task}", i, n, {})

    # ------------------------------------------------------------------ stages
    def data(self) -> Any:
        from pipelines.synth.dataset import build_dataset, load_questions

        if self.fresh("data") and (self.data_dir / "manifest.json").is_file():
            return load_questions(self.data_dir)
        t0 = time.perf_counter()
        ds = build_dataset(
            self.cfg.data,
            store=self.app.store,
            embedder=self.app.embedder,
            settings=self.store_settings,
            out_dir=self.data_dir,
            user_prefix=self.prefix,
            locomo=self.locomo,
            progress=self._progress("data"),
        )
        m = ds.manifest
        self._done(
            "data",
            {k: m[k] for k in ("sft_trajectories", "teacher_misses", "data_hash", "questions")},
            time.perf_counter() - t0,
        )
        return ds

    def base(self) -> str:
        from training.base import check_device, prepare_base
        from training.sft import read_trajectories

        for line in check_device(self.cfg):
            self.note(line)
        corpus: list[str] = []
        if self.cfg.model.base == "tiny":
            rows = read_trajectories(self.data_dir / "sft.jsonl")
            corpus = [m["content"] for r in rows for m in r["messages"]]
        return prepare_base(
            self.cfg,
            cache_dir=self.settings.cache_dir,
            work_dir=self.work,
            corpus=corpus,
            progress=self.note,
        )

    def sft(self, base: str) -> Path:
        from training.sft import run_sft

        if self.fresh("sft") and (self.work / "sft" / "config.json").is_file():
            return self.work / "sft"
        self.checkpoints("sft")
        t0 = time.perf_counter()
        result = run_sft(
            self.cfg,
            base=base,
            data_file=self.data_dir / "sft.jsonl",
            work_dir=self.work,
            say=self.say,
        )
        self._done("sft", result.as_dict() | self._precision(), time.perf_counter() - t0)
        release_memory()
        return result.model_dir

    def grpo_questions(self, ds: Any) -> list[GoldQuestion]:
        """The questions GRPO rolls out (see GRPOSection.questions / include_locomo)."""
        g = self.cfg.grpo
        pool = ds.split("train")
        if not g.include_locomo:
            pool = [q for q in pool if q.locomo_category is None]
        if g.questions == "sft":
            rows = (self.data_dir / "sft.jsonl").read_text().splitlines()
            used = {json.loads(r)["question_id"] for r in rows if r.strip()}
            pool = [q for q in pool if q.id in used]
        return pool

    def grpo(self, start: Path, questions: list[GoldQuestion]) -> Path:
        import shutil

        from training.grpo import run_grpo

        if self.fresh("grpo") and (self.work / "grpo" / "config.json").is_file():
            return self.work / "grpo"
        self.checkpoints("grpo")
        t0 = time.perf_counter()
        if self.cfg.grpo.steps == 0:
            shutil.copytree(start, self.work / "grpo", dirs_exist_ok=True)
            self._done("grpo", {"skipped": True, "steps": 0}, 0.0)
            return self.work / "grpo"
        result = run_grpo(
            self.cfg,
            start=start,
            questions=questions,
            store=self.app.store,
            settings=self.store_settings,
            work_dir=self.work,
            say=self.say,
        )
        self._done("grpo", result.as_dict() | self._precision(), time.perf_counter() - t0)
        release_memory()
        return result.model_dir

    def export(self, trained: Path) -> Path:
        from agent.policies.models import BUNDLED
        from agent.prompts import direct_answer, reason_continue, reason_start, repair
        from training.export import export_model, weights_digest

        data = json.loads((self.data_dir / "manifest.json").read_text())
        base = self.cfg.model.base
        note = (
            f"from {BUNDLED[base].requirement}: 4-bit GGUF weights expanded to fp32, not the "
            "original checkpoint"
            if base in BUNDLED
            else "random weights built locally (tests)"
            if base == "tiny"
            else "as loaded"
        )
        sft, grpo = self.stages.get("sft", {}), self.stages.get("grpo", {})
        card = {
            "name": f"personagraph-policy ({self.cfg.name})",
            "summary": f"{base} + SFT ({sft.get('steps')} steps) + GRPO ({grpo.get('steps')} "
            f"steps) on {data['sft_trajectories']} synthetic trajectories",
            "base": base,
            "base_note": note,
            "preset": self.cfg.name,
            "config": self.cfg.model_dump(mode="json"),
            "data_hash": data.get("data_hash"),
            "data": {k: data.get(k) for k in ("sft_trajectories", "teacher_misses", "questions")},
            "prompt_versions": sorted(
                {
                    *data.get("prompt_versions", []),
                    reason_start.VERSION,
                    reason_continue.VERSION,
                    repair.VERSION,
                    direct_answer.VERSION,
                }
            ),
            "sft": sft,
            "grpo": grpo,
            "stages": {"sft": str(self.work / "sft"), "grpo": str(self.work / "grpo")},
            "base_weights_sha256_16": None,
            "sft_weights_sha256_16": weights_digest(self.work / "sft"),
        }
        t0 = time.perf_counter()
        export_model(trained, self.out, card)
        self._done("export", {"dir": str(self.out)}, time.perf_counter() - t0)
        return self.out

    def heldout(self, ds: Any) -> tuple[list[GoldQuestion], list[GoldQuestion]]:
        """Held-out synthetic questions and a LoCoMo sample, both stratified."""
        from pipelines.synth.dataset import ingest_locomo_questions, stratified_sample

        e = self.cfg.eval
        synth = stratified_sample(
            ds.split("heldout"), e.heldout_questions, seed=e.seed, by=lambda q: q.kind
        )
        locomo: list[GoldQuestion] = []
        if e.locomo_questions and self.locomo is not None and self.locomo.is_file():
            pool = ingest_locomo_questions(
                self.locomo,
                e.locomo_conversations or None,
                store=self.app.store,
                embedder=self.app.embedder,
                user_prefix=self.prefix,
            )
            pool = [q for q in pool if not any(s in q.user_id for s in self.cfg.data.locomo_train)]
            locomo = stratified_sample(
                pool, e.locomo_questions, seed=e.seed, by=lambda q: q.locomo_category
            )
        return synth, locomo

    def evaluate(self, ds: Any) -> dict[str, Any]:
        synth, locomo = self.heldout(ds)
        t0 = time.perf_counter()
        results = compare_policies(
            {"SFT": self.work / "sft", "GRPO": self.work / "grpo"},
            synth,
            locomo,
            store=self.app.store,
            settings=self.store_settings,
            cfg=self.cfg,
            say=self.say,
        )
        self._done("eval", results, time.perf_counter() - t0)
        return results


#: what the run keeps of each evaluated question (stages.json, the report's JSON)
_ANSWER_FIELDS = (
    "id",
    "question",
    "gold",
    "answer",
    "kind",
    "locomo_category",
    "rewards",
    "f1",
    "date_ok",
    "model_answer",  # before agent.grounding dated it (the same as answer where it did not)
    "model_date_ok",
    "slips",
)


def _interval(paired: dict[str, Any]) -> str:
    """A paired comparison's interval as the report shows it ("-" in reports written before
    it was computed).

    >>> _interval({"interval_95": [-6.1, 0.7]}), _interval({})
    ('-6.1 to 0.7', '-')
    """
    span = paired.get("interval_95")
    return f"{span[0]} to {span[1]}" if span else "-"


#: the columns of :func:`training.evaluate.paired_reward`, in the report's order
_PAIRED_COLUMNS = ("questions", "better", "worse", "same", "mean_difference")


def compare_policies(
    models: dict[str, Path],
    synth: list[GoldQuestion],
    locomo: list[GoldQuestion],
    *,
    store: MemoryStore,
    settings: Settings,
    cfg: TrainConfig,
    say: Say,
) -> dict[str, Any]:
    """The offline policy and each model on the same questions, one run."""
    from agent.policies import OfflinePolicy
    from training.base import bf16_enabled
    from training.evaluate import (
        baseline_recall,
        evaluate_model,
        evaluate_policy,
        paired_reward,
    )

    agent_settings = settings.model_copy(update={"max_steps": cfg.grpo.agent_steps})
    out: dict[str, Any] = {
        "questions": {"synthetic_heldout": len(synth), "locomo": len(locomo)},
        "baseline_recall": {
            "synthetic_heldout": baseline_recall(synth, store=store, settings=agent_settings),
            "locomo": baseline_recall(locomo, store=store, settings=agent_settings),
        },
        "policies": {},
        "paired": {},
        "answers": {},
    }
    sets = {"synthetic_heldout": synth, "locomo": locomo}
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def bar(label: str) -> Callable[[int, int], None]:
        """A bar per policy and set, counting questions (a model takes seconds on each)."""
        return lambda done, total: say(label, done, total, {})

    for name in ("offline", *models):
        out["policies"][name] = {}
        for set_name, questions in sets.items():
            step = bar(f"eval: {name} on {set_name}")
            if not questions:
                continue
            if name == "offline":
                ev = evaluate_policy(
                    name,
                    OfflinePolicy(),
                    questions,
                    store=store,
                    settings=agent_settings,
                    progress=step,
                )
            else:
                ev = evaluate_model(
                    name,
                    str(models[name]),
                    questions,
                    store=store,
                    settings=agent_settings,
                    max_new_tokens=cfg.eval.max_new_tokens,
                    bf16=bf16_enabled(cfg),
                    progress=step,
                )
            out["policies"][name][set_name] = ev.summary(cfg.grpo.rewards)
            release_memory()
            rows.setdefault(name, {})[set_name] = ev.rows
            out["answers"].setdefault(name, {})[set_name] = [
                {k: r[k] for k in _ANSWER_FIELDS} for r in ev.rows
            ]
    # each trained model against the one before it (GRPO against SFT), question by question
    for before, after in pairwise(models):
        out["paired"][f"{after} vs {before}"] = {
            set_name: paired_reward(rows[before][set_name], rows[after][set_name], cfg.grpo.rewards)
            for set_name in rows.get(before, {})
            if set_name in rows.get(after, {})
        }
    return out


def policy_report(
    results: dict[str, Any],
    *,
    name: str,
    title: str,
    out_dir: Path,
    command: str,
    stages: dict[str, Any] | None = None,
    store: MemoryStore | None = None,
    started: float | None = None,
) -> Path:
    """The side-by-side report (JSON + Markdown + plots) in the benchmark folder; ``started``
    (``time.perf_counter()`` when the run began) gives its wall time where no stages do."""
    from pipelines.bench.common import Report, line_plot, table

    rep = Report(name=name, title=title, command=command)
    if started is not None:
        rep.started = started
    if store is not None:
        rep.describe_server(store)
    rep.results = {k: v for k, v in results.items() if k != "answers"}
    if stages:
        rep.results["stages"] = {k: v for k, v in stages.items() if k != "config"}
        rep.settings = stages.get("config", {})
    md: list[str] = []
    keys = [
        ("well_formed_outputs", "well-formed outputs %"),
        ("answered", "answered %"),
        ("evidence_recall", "evidence recall %"),
        ("window_precision", "window precision %"),
        ("calls_per_answer", "calls per answer"),
        ("date_accuracy", "date accuracy %"),
        ("date_accuracy_model", "date accuracy, model's own answer %"),
        ("grounded_answers", "answers grounded by agent.grounding (date or duration)"),
        ("locomo_f1_1to4", "LoCoMo F1 (1-4)"),
        ("locomo_adversarial_abstained", "adversarial abstained %"),
        ("heldout_reward", "reward (0-100)"),
        ("generation_tokens_per_s", "gen tokens/s"),
    ]
    for set_name, label in (
        ("synthetic_heldout", "Held-out synthetic personas"),
        ("locomo", "LoCoMo sample"),
    ):
        n = results["questions"].get(set_name, 0)
        if not n:
            continue
        base = results["baseline_recall"].get(set_name)
        md += [f"## {label} ({n} questions)", ""]
        md.append(f"Evidence recall of the question-as-keywords baseline: {base}%.")
        md.append("")
        headers = ["metric", *results["policies"]]
        rows = []
        for key, text in keys:
            row = [text]
            for pol in results["policies"].values():
                v = pol.get(set_name, {}).get(key)
                row.append("-" if v is None else v)
            rows.append(row)
        md += table(headers, rows)
        slips = [
            f"{pol_name} {', '.join(f'{k} {v}' for k, v in slipped.items())}"
            for pol_name, pol in results["policies"].items()
            if (slipped := pol.get(set_name, {}).get("malformed_by_slip"))
        ]
        if slips:
            md += ["", f"Malformed outputs by slip (agent/parsing.py): {'; '.join(slips)}."]
        if set_name == "locomo":
            cats = sorted(
                {
                    c
                    for pol in results["policies"].values()
                    for c in pol.get(set_name, {}).get("locomo_f1", {})
                }
            )
            md += ["", "LoCoMo answer F1 by category:", ""]
            md += table(
                ["category", *results["policies"]],
                [
                    [
                        c,
                        *[
                            pol.get(set_name, {}).get("locomo_f1", {}).get(c, "-")
                            for pol in results["policies"].values()
                        ],
                    ]
                    for c in cats
                ],
            )
        md.append("")
    paired = results.get("paired") or {}
    if any(paired.values()):
        md += ["## Question by question", ""]
        md.append(
            "Reward of each question under the later model against the earlier one, on the "
            "same questions: a mean moves with a few answers, these counts say how many, and "
            "the interval (95%, questions resampled) how far the mean could move with other "
            "questions like them: one that holds zero is no evidence either way."
        )
        md.append("")
        md += table(
            [
                "models",
                "set",
                "questions",
                "better",
                "worse",
                "same",
                "mean difference",
                "95% interval",
            ],
            [
                [pair, set_name, *(p[k] for k in _PAIRED_COLUMNS), _interval(p)]
                for pair, sets in paired.items()
                for set_name, p in sets.items()
            ],
        )
        md.append("")
    if stages:
        md += ["## Stages", ""]
        rows = []
        for stage in ("data", "sft", "grpo", "export", "eval"):
            info = stages.get(stage)
            if info:
                rows.append(
                    [
                        stage,
                        info.get("wall_s"),
                        info.get("steps", "-"),
                        info.get("tokens_per_s", "-"),
                        info.get("precision", "-"),
                    ]
                )
        md += table(["stage", "seconds", "steps", "train tokens/s", "precision"], rows)
        total = sum(float(stages[s].get("wall_s", 0)) for s in stages if s != "config")
        rep.elapsed_s = total
        md += ["", f"Whole pipeline: {total / 60:.1f} minutes.", ""]
        groups = (stages.get("grpo") or {}).get("groups") or {}
        if groups.get("seen"):
            md += [
                f"GRPO rollout groups: {groups['seen']}; {groups['tied']} tied on the first draw "
                f"(every rollout the same reward, so no gradient), {groups['redrawn']} redraws, "
                f"{groups['still_tied']} still tied after them (`grpo.resample`).",
                "",
            ]
        kinds = (stages.get("grpo") or {}).get("kinds") or {}
        if kinds:
            drawn = ", ".join(f"{k} {v}" for k, v in kinds.items())
            md += [f"GRPO questions by kind (`grpo.balance`): {drawn}.", ""]
        rewards = (stages.get("grpo") or {}).get("rewards_by_step") or []
        if rewards:
            plot = line_plot(
                {"mean reward": (list(range(1, len(rewards) + 1)), rewards)},
                out_dir / f"{name}_grpo_reward.png",
                title="GRPO: mean reward of each step's rollouts (after redraws)",
                xlabel="step",
                ylabel="reward",
            )
            rep.plots.append(plot.name)
            md += [f"![GRPO reward]({plot.name})", ""]
    answers = results.get("answers")
    if answers:
        # every question's answer under each policy, beside the report: what a reader checks
        # a mean against
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{name}_answers.json").write_text(json.dumps(answers, indent=1, default=str))
        md += [f"Each question's gold and answers: [{name}_answers.json]({name}_answers.json).", ""]
    rep.markdown = md
    return rep.write(out_dir)


def rollouts_report(
    rows: list[dict[str, Any]],
    *,
    settings: dict[str, Any],
    out_dir: Path,
    store: MemoryStore | None = None,
    started: float | None = None,
) -> Any:
    """``persona bench rollouts``: tokens generated per second with the batched prompt cache
    and without it (sampling makes the token counts differ, so the rate is compared), over
    all groups and per group."""
    import statistics

    from pipelines.bench.common import Report, table

    rep = Report(name="rollouts", title="GRPO-shaped rollouts: the batched prompt cache")
    if started is not None:
        rep.started = started
    if store is not None:
        rep.describe_server(store)
    modes = {True: "prompt cache", False: "no cache"}
    totals: dict[str, dict[str, float]] = {}
    for cached, label in modes.items():
        mine = [r for r in rows if r["prefix_cache"] is cached]
        s, n = sum(r["generation_s"] for r in mine), sum(r["tokens"] for r in mine)
        totals[label] = {
            "generation_s": round(s, 1),
            "tokens": n,
            "prompt_tokens": sum(r["prompt_tokens"] for r in mine),
            "tokens_per_s": round(n / s, 2) if s else 0.0,
        }
    rate = {(r["group"], r["prefix_cache"]): r["tokens"] / r["generation_s"] for r in rows}
    per_group = [
        rate[(g, True)] / rate[(g, False)]
        for g in sorted({r["group"] for r in rows})
        if rate.get((g, False))
    ]
    on, off = totals["prompt cache"], totals["no cache"]
    summary = {
        **totals,
        "ratio_tokens_per_s": round(on["tokens_per_s"] / off["tokens_per_s"], 2)
        if off["tokens_per_s"]
        else None,
        "median_group_ratio": round(statistics.median(per_group), 2) if per_group else None,
    }
    rep.settings = settings
    rep.results = {"summary": summary, "rows": rows}
    g = settings
    rep.markdown = [
        f"{g['groups']} groups of {g['questions_per_group']} LoCoMo {g['conversation']} questions "
        f"(categories 1-4, seed {g['seed']}), each question rolled out {g['generations']} times "
        f"as GRPO does: sampled (temperature {g['temperature']}, top-k {g['top_k']}), up to "
        f"{g['max_new_tokens']} new tokens a call and {g['agent_steps']} agent steps, the "
        f"retrievals against Neo4j. Model `{g['model']}`. Every group runs with the batched "
        "prompt cache and without it, the order alternating, from the same seed, on one "
        "loaded model.",
        "",
        *table(
            ["mode", "seconds generating", "tokens generated", "prompt tokens", "tokens/s"],
            [
                [label, t["generation_s"], t["tokens"], t["prompt_tokens"], t["tokens_per_s"]]
                for label, t in totals.items()
            ],
        ),
        "",
        f"Tokens per second, with the cache over without: **{summary['ratio_tokens_per_s']}x** "
        f"(median over groups {summary['median_group_ratio']}x). Sampling lets the two runs "
        "write different tokens, so rates are compared, not seconds.",
    ]
    rep.write(out_dir)
    return rep
