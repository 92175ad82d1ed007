"""Seconds-long smoke runs of every benchmark on tiny data, so the harness cannot rot.
The numbers themselves are not asserted; the reports' shape and consistency are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import count_user_nodes

from pipelines.bench.agent_overhead import run_agent_overhead
from pipelines.bench.dating import run_dating
from pipelines.bench.hostile import run_hostile
from pipelines.bench.ingest_speed import run_ingest_speed
from pipelines.bench.local_policy import run_local_policy
from pipelines.bench.locomo import KS, run_locomo
from pipelines.bench.report import key_figures, write_readme
from pipelines.bench.scale import run_scale
from pipelines.bench.windows import generate_timeline, run_windows
from pipelines.bench.writers import run_writers

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _tiny_locomo(path: Path) -> Path:
    sessions: dict[str, Any] = {}
    lines = [
        ("Ana", "I adopted a beagle called Pepper last week."),
        ("Ben", "Congrats! How is Pepper settling in?"),
        ("Ana", "She chewed my running shoes already."),
        ("Ben", "I went to a jazz concert at Harbor Hall yesterday."),
        ("Ana", "Was it good? I love jazz."),
        ("Ben", "The band played until midnight."),
    ]
    for n in (1, 2):
        sessions[f"session_{n}_date_time"] = f"1:{10 + n} pm on {n} May, 2023"
        sessions[f"session_{n}"] = [
            {"speaker": s, "dia_id": f"D{n}:{i + 1}", "text": f"{t} ({n})"}
            for i, (s, t) in enumerate(lines)
        ]
    data = [
        {
            "sample_id": "tiny-1",
            "conversation": {"speaker_a": "Ana", "speaker_b": "Ben", **sessions},
            "qa": [
                {
                    "question": "What is the name of Ana's dog?",
                    "answer": "Pepper",
                    "evidence": ["D1:1"],
                    "category": 4,
                },
                {
                    "question": "When did Ben go to a jazz concert?",
                    "answer": "30 April 2023",
                    "evidence": ["D1:4", "D2:4"],
                    "category": 2,
                },
                {
                    "question": "What did Pepper chew?",
                    "evidence": ["D:1:3"],
                    "category": 5,
                    "adversarial_answer": "shoes",
                },
            ],
        }
    ]
    path.write_text(json.dumps(data))
    return path


def test_locomo_smoke(store: Any, embedder: Any, tmp_path: Path) -> None:
    data = _tiny_locomo(tmp_path / "tiny.json")
    rep = run_locomo(
        data=data,
        store=store,
        embedder=embedder,
        out_dir=tmp_path / "out",
        user_prefix=f"smoke-{tmp_path.name}-",
        levers=("turns-only", "without-vector"),
    )
    methods = rep.results["methods"]
    assert set(methods) == {
        "PersonaGraph",
        "PersonaGraph, turns only",
        "PersonaGraph without vectors",
        "BM25",
        "Dense",
        "RRF(BM25, dense)",
    }
    # each lever's row says its change against the default in points
    deltas = [line for line in rep.markdown if line.startswith("| turns-only |")]
    (row,) = deltas
    gap = methods["PersonaGraph, turns only"]["overall"]["r@10"]
    gap -= methods["PersonaGraph"]["overall"]["r@10"]
    assert row.split("|")[3].strip() == f"{gap:+.1f}"
    for m in methods.values():
        values = [m["overall"][f"r@{k}"] for k in KS]
        assert values == sorted(values)  # recall can only grow with k
        assert m["questions"] == 3
    assert rep.results["full_history_tokens"] > methods["PersonaGraph"]["tokens_at_10"] > 0
    assert (tmp_path / "out" / "locomo.json").is_file()
    assert (tmp_path / "out" / "locomo_recall.png").stat().st_size > 0
    assert "Reproduce:" in (tmp_path / "out" / "locomo.md").read_text()


def test_dating_reads_the_evidence_turns_and_beats_the_day_they_were_said(tmp_path: Path) -> None:
    """The jazz concert was "yesterday" in turns said on 1 and 2 May: the resolver dates it
    to 30 April (the gold); the day-said baseline cannot."""
    rep = run_dating(data=_tiny_locomo(tmp_path / "tiny.json"), out_dir=tmp_path / "out")
    assert rep.results["questions"] == 1
    assert (rep.results["resolver"], rep.results["day_said"]) == (100.0, 0.0)
    assert rep.results["misses"] == []
    assert "| all | 1 |" in (tmp_path / "out" / "dating.md").read_text()


def test_an_unknown_lever_is_named_with_the_known_ones(store: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown lever 'bogus': use entity, exact, "):
        run_locomo(
            data=_tiny_locomo(tmp_path / "tiny.json"),
            store=store,
            embedder=None,  # type: ignore[arg-type]
            out_dir=tmp_path,
            levers=("bogus",),
        )


def test_windows_generator_is_seeded() -> None:
    a, b = generate_timeline(months=3, seed=5), generate_timeline(months=3, seed=5)
    c = generate_timeline(months=3, seed=6)
    assert [q.text for q in a.questions] == [q.text for q in b.questions]
    assert a.turns == b.turns and a.turns > 0

    def texts(t: Any) -> list[str]:
        return [turn.text for s in t.record.sessions for turn in s.turns]

    assert texts(a) == texts(b)
    assert texts(a) != texts(c)
    for q in a.questions:
        assert q.window.start is not None and q.window.end is not None
        assert q.evidence


def test_windows_smoke(store: Any, embedder: Any, tmp_path: Path) -> None:
    rep = run_windows(
        store=store,
        embedder=embedder,
        out_dir=tmp_path,
        months=2,
        seeds=(3, 4),
        user_id=f"smoke-windows-{tmp_path.name}",
    )
    res = rep.results
    assert res["with window"]["leakage"] == 0.0  # the window never leaks
    assert 0 <= res["without window"]["recall"] <= 100
    # states true during the window: said before it, so only validity reaches them, and no
    # window mode returns what was neither said in the window nor true during it
    assert rep.settings["state_questions"] > 0
    assert res["states"]["with window, said only"]["recall"] == 0.0
    assert res["states"]["with window"]["recall"] > 0.0
    assert res["states"]["with window"]["leakage"] == 0.0


def test_scale_smoke(store: Any, embedder: Any, tmp_path: Path) -> None:
    rep = run_scale(
        store=store,
        embedder=embedder,
        out_dir=tmp_path,
        sizes=(150,),
        shared_users=3,
        shared_per_user=40,
        queries=4,
        prefix=f"smoke-scale-{tmp_path.name}-",
    )
    scenarios = rep.results["scenarios"]
    assert len(scenarios) == 2
    for paths in scenarios.values():
        assert {"numpy", "prefilter", "postfilter"} <= set(paths)
        assert paths["prefilter"]["recall_vs_exact"] == pytest.approx(1.0)
        for r in paths.values():
            assert r["total"]["n"] == 4
    # auto and the exact pre-filter, paired per query in each scenario
    paired = rep.results["auto_vs_prefilter"]
    assert set(paired) == set(scenarios)
    for d in paired.values():
        assert d["n"] == 4
        assert d["ci95_ms"][0] <= d["median_ms"] <= d["ci95_ms"][1]
    assert "paired per query" in "\n".join(rep.markdown)
    # the key figures follow the path users get ('auto' where the server has SEARCH)
    figures = key_figures("scale", json.loads((tmp_path / "scale.json").read_text()))
    default = "auto" if "auto" in next(iter(scenarios.values())) else "prefilter"
    for name, paths in scenarios.items():
        floor = paths["numpy"]["total"]["p95"]
        assert figures[f"{name}: {default} p95 ms"] == paths[default]["total"]["p95"]
        ratio = figures[f"{name}: {default} total p95 / numpy"]
        assert ratio == pytest.approx(paths[default]["total"]["p95"] / floor, abs=0.06)


def test_ingest_speed_smoke(store: Any, embedder: Any, tmp_path: Path) -> None:
    data = _tiny_locomo(tmp_path / "tiny.json")
    rep = run_ingest_speed(
        data=data,
        store=store,
        embedder=embedder,
        out_dir=tmp_path,
        conversations=1,
        repeats=1,
        prefix=f"smoke-ingest-{tmp_path.name}-",
    )
    run = rep.results["runs"][0]
    assert run["end_to_end_tps"] > 0 and run["embedding_only_tps"] > 0
    assert run["ratio"] == pytest.approx(
        run["end_to_end_tps"] / run["embedding_only_tps"], rel=0.05, abs=0.01
    )
    assert run["end_to_end_s"] >= run["embed_s"]


def test_agent_overhead_and_readme(
    store: Any, embedder: Any, settings: Any, tmp_path: Path
) -> None:
    rep = run_agent_overhead(
        store=store,
        embedder=embedder,
        settings=settings,
        out_dir=tmp_path,
        turns=3,
        user_id=f"smoke-agent-{tmp_path.name}",
    )
    for mode in rep.results["modes"].values():
        assert mode["latency"]["n"] == 3
    # the memory the test server was given (conftest: 768m heap, 256m page cache), as it says
    assert rep.server["heap"].startswith("768") and rep.server["pagecache"].startswith("256")
    agent_md = (tmp_path / "agent.md").read_text()
    assert "Memory: peak RSS of the benchmark process" in agent_md
    assert f"heap {rep.server['heap']}" in agent_md
    readme = write_readme(tmp_path, command="persona bench all --quick")
    text = readme.read_text()
    assert "persona bench all --quick" in text
    assert "Agent overhead" in text
    history = json.loads((tmp_path / "history.json").read_text())
    assert history[-1]["figures"]["agent"]


def test_writers_smoke(settings: Any, embedder: Any, tmp_path: Path) -> None:
    rep = run_writers(
        settings=settings, embedder=embedder, out_dir=tmp_path, clients=(1, 3), asks=2
    )
    runs = {r["clients"]: r for r in rep.results["runs"]}
    assert set(runs) == {1, 3}
    for k, run in runs.items():
        assert run["asks"]["writes"] == 2 * k  # every exchange of every client landed once
        assert run["asks"]["lost"] == 0 and run["asks"]["duplicated"] == 0
        assert run["ingest"]["lost"] == 0 and run["ingest"]["duplicated"] == 0
        assert 0 <= run["ingest"]["waited"] <= k - 1
    assert runs[1]["ingest"]["nodes"] == runs[3]["ingest"]["nodes"] > 0
    assert "| 3 |" in (tmp_path / "writers.md").read_text()


def test_hostile_smoke_and_its_rendering_check_can_fail(
    store: Any, conn: Any, tmp_path: Path
) -> None:
    import io

    from rich.console import Console

    from cli.bench import _render_user_text

    def careless(text: str) -> str:  # reads user text as markup: the bug the check is for
        out = Console(file=io.StringIO(), width=400, color_system=None, record=True)
        out.print(text)
        return out.export_text()

    rep = run_hostile(
        store=store, conn=conn, render=_render_user_text, out_dir=tmp_path, examples=40
    )
    assert rep.results["inputs"] == rep.results["distinct"] >= 30
    assert rep.results["problems"] == dict.fromkeys(rep.results["problems"], 0)
    bad = run_hostile(store=store, conn=conn, render=careless, out_dir=tmp_path, examples=40)
    caught = bad.results["problems"]
    assert caught["rendering lost the text"] + caught["crashes"] > 0  # styled, or MarkupError
    assert count_user_nodes(conn, "bench-hostile-a") == 0  # cleaned up


def test_a_report_says_how_long_its_run_took(tmp_path: Path) -> None:
    """`persona bench ui` makes its report after the browser run and `persona bench analytics`
    never set elapsed_s: both said "took 0 s". A report now takes the time since its run
    began (``started``, by default when it was made) unless the runner set it."""
    import re
    import time

    from pipelines.bench.common import Report

    late = Report(name="late", title="made at the end", started=time.perf_counter() - 42.0)
    late.write(tmp_path)
    assert 42.0 <= json.loads((tmp_path / "late.json").read_text())["elapsed_s"] < 60
    took = re.search(r"took (\d+) s\.", (tmp_path / "late.md").read_text())
    assert took and 42 <= int(took[1]) < 60  # making the report itself takes a moment
    told = Report(name="told", title="runner timed it", elapsed_s=7.0)
    told.write(tmp_path)
    assert "took 7 s." in (tmp_path / "told.md").read_text()


def test_local_policy_smoke_runs_both_modes_side_by_side(
    store: Any, embedder: Any, settings: Any, tmp_path: Path
) -> None:
    from training.tiny import build_tiny_chat_model

    model = build_tiny_chat_model(tmp_path / "tiny-chat")
    rep = run_local_policy(
        store=store,
        embedder=embedder,
        settings=settings.model_copy(update={"max_tokens": 24, "max_steps": 2}),
        out_dir=tmp_path / "out",
        data=_tiny_locomo(tmp_path / "tiny.json"),
        model=str(model),
        questions=3,
        user_prefix=f"smoke-lp-{tmp_path.name}-",
    )
    summary = rep.results["summary"]
    rows = rep.results["questions"]
    assert summary["questions"] == len(rows) == 2  # the adversarial question is left out
    assert {r["category"] for r in rows} == {"single-hop", "temporal"}
    assert summary["same_answer"] == 2  # greedy: the cache changes the cost, not the words
    assert 0 < summary["served_from_cache_pct"] < 100
    for r in rows:
        on, off = r["prefix cache"], r["no cache"]
        assert on["prompt_tokens"] == off["prompt_tokens"] > 0
        assert off["cached_tokens"] == 0 < on["cached_tokens"]
    assert "Reproduce:" in (tmp_path / "out" / "local_policy.md").read_text()


def test_rollouts_smoke_runs_each_group_in_both_modes_in_alternating_order(
    store: Any, embedder: Any, settings: Any, tmp_path: Path
) -> None:
    from cli.training_run import rollouts_report
    from pipelines.synth.dataset import ingest_locomo_questions
    from training.evaluate import rollout_cache_speed
    from training.tiny import build_tiny_chat_model

    model = build_tiny_chat_model(tmp_path / "tiny-chat")
    gold = ingest_locomo_questions(
        _tiny_locomo(tmp_path / "tiny.json"),
        None,
        store=store,
        embedder=embedder,
        user_prefix=f"smoke-ro-{tmp_path.name}-",
    )
    answerable = [q for q in gold if q.locomo_category in (1, 2, 3, 4)]
    groups = [answerable[:1], answerable[1:2]]
    rows = rollout_cache_speed(
        str(model),
        groups,
        store=store,
        settings=settings.model_copy(update={"max_steps": 2}),
        generations=2,
        max_new_tokens=16,
    )
    # every group in both modes, the cache first in even groups and last in odd ones
    assert [(r["group"], r["prefix_cache"]) for r in rows] == [
        (0, True),
        (0, False),
        (1, False),
        (1, True),
    ]
    assert all(r["tokens"] > 0 and r["generation_s"] > 0 and r["prompt_tokens"] > 0 for r in rows)
    rep = rollouts_report(
        rows,
        settings={
            "model": "tiny",
            "conversation": "tiny-1",
            "groups": 2,
            "questions_per_group": 1,
            "generations": 2,
            "seed": 7,
            "temperature": 0.9,
            "top_k": 40,
            "max_new_tokens": 16,
            "agent_steps": 2,
        },
        out_dir=tmp_path / "out",
        store=store,
    )
    summary = rep.results["summary"]
    on, off = summary["prompt cache"], summary["no cache"]
    assert on["tokens"] == sum(r["tokens"] for r in rows if r["prefix_cache"])
    assert summary["ratio_tokens_per_s"] == round(on["tokens_per_s"] / off["tokens_per_s"], 2)
    assert "Reproduce:" in (tmp_path / "out" / "rollouts.md").read_text()
