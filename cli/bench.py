"""`persona bench ...`: benchmarks written to docs/benchmarks/ with baselines in the same run."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli._shared import bench_app, cell, console, err, note_line, settings
from schema.errors import ConfigError

if TYPE_CHECKING:
    from schema.protocols import Embedder, MemoryStore

bench_group = typer.Typer(
    help="Benchmarks: JSON + Markdown + plots under docs/benchmarks/ (baselines in the same run).",
    no_args_is_help=True,
)

_DEFAULT_LOCOMO = (
    Path(__file__).resolve().parent.parent.parent / "shared/data/locomo/locomo10_dev.json"
)
_OUT = typer.Option("--out", help="report folder")
_DATA = typer.Option("--data", help="LoCoMo JSON (default: ../shared/data/locomo)")


def _bench(run: Callable[..., Any], **kwargs: Any) -> None:
    """Run one benchmark on the bench server with progress, then print its report."""
    a = bench_app()
    rep = run(store=a.store, embedder=a.embedder, progress=_bench_progress(), **kwargs)
    console.print("\n".join(rep.markdown))


def _ints(csv: str) -> list[int]:
    return [int(x) for x in csv.split(",") if x.strip()]


def _bench_progress() -> Any:
    def say(task: str, i: int, n: int) -> None:
        err.print(f"[dim]· {task} {i}/{n}[/dim]")

    return say


def _data(path: Path | None) -> Path:
    data = path or settings().locomo or _DEFAULT_LOCOMO
    if not data.is_file():
        raise typer.BadParameter(f"{data} not found", param_hint="--data")
    return data


@bench_group.command("locomo")
def bench_locomo(
    data: Annotated[Path | None, _DATA] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    conversations: Annotated[int | None, typer.Option(help="first N conversations")] = None,
    questions: Annotated[int | None, typer.Option(help="first N questions each")] = None,
    lever: Annotated[
        list[str] | None,
        typer.Option(
            help="also run the default with this lever alone (repeatable): entity, exact, "
            "without-episodes, without-facts, turns-only, without-vector, without-fulltext, "
            "rerank (needs PERSONA_RERANKER)"
        ),
    ] = None,
) -> None:
    """LoCoMo recall@k (turn units) and at token budgets, vs BM25, dense, RRF, full history."""
    from pipelines.bench.locomo import LEVERS, run_locomo

    for lv in lever or []:
        if lv not in LEVERS:
            raise typer.BadParameter(f"{lv!r}: use {', '.join(LEVERS)}", param_hint="--lever")
        if lv == "rerank" and not settings().reranker:
            raise typer.BadParameter(
                "the rerank lever needs a cross-encoder: set PERSONA_RERANKER to a hub id "
                "(cross-encoder/ms-marco-MiniLM-L6-v2) or a local folder",
                param_hint="--lever",
            )
    _bench(
        run_locomo,
        data=_data(data),
        out_dir=out,
        limit_conversations=conversations,
        limit_questions=questions,
        levers=tuple(lever or ()),
    )


@bench_group.command("windows")
def bench_windows(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    months: Annotated[int, typer.Option(help="length of the synthetic timeline")] = 12,
    seeds: Annotated[
        str, typer.Option(help="comma-separated seeds, one synthetic timeline each")
    ] = "7,8,9,10,11",
) -> None:
    """Time-window value: in-window recall and leakage with and without the window."""
    from pipelines.bench.windows import run_windows

    _bench(
        run_windows,
        out_dir=out,
        months=months,
        seeds=_ints(seeds),
        user_id=f"bench-windows-{months}",
    )


@bench_group.command("dating")
def bench_dating(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    data: Annotated[Path | None, _DATA] = None,
) -> None:
    """Date accuracy on LoCoMo when-questions answered from their gold evidence turns: the
    date resolver alone, beside the day the turn was said (no database, no model)."""
    from pipelines.bench.dating import run_dating

    rep = run_dating(data=_data(data), out_dir=out, progress=_bench_progress())
    console.print("\n".join(rep.markdown))


@bench_group.command("scale")
def bench_scale(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    sizes: Annotated[
        str, typer.Option(help="memories per user, comma-separated")
    ] = "1000,10000,100000",
    users: Annotated[int, typer.Option(help="users sharing the database")] = 100,
    per_user: Annotated[int, typer.Option(help="memories of each shared user")] = 100,
    queries: Annotated[
        int, typer.Option(help="timed queries per scenario and path (p99 needs >= 100)")
    ] = 200,
    full: Annotated[bool, typer.Option("--scale", help="1M memories: 100 users x 10,000")] = False,
) -> None:
    """Retrieval latency p50/p95/p99 by memory count and path, against a numpy floor."""
    from pipelines.bench.scale import run_scale

    _bench(
        run_scale,
        out_dir=out,
        sizes=tuple(_ints(sizes)),
        shared_users=users,
        shared_per_user=10_000 if full else per_user,
        queries=queries,
        exact_max=settings().vector_exact_max,
    )


@bench_group.command("ingest")
def bench_ingest(
    data: Annotated[Path | None, _DATA] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    conversations: Annotated[int, typer.Option()] = 2,
    repeats: Annotated[int, typer.Option(help="side-by-side runs; the median is reported")] = 3,
) -> None:
    """Ingest throughput end to end vs embedding only (the ratio is the figure)."""
    from pipelines.bench.ingest_speed import run_ingest_speed

    _bench(
        run_ingest_speed,
        data=_data(data),
        out_dir=out,
        conversations=conversations,
        repeats=repeats,
    )


@bench_group.command("agent")
def bench_agent(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    turns: Annotated[int, typer.Option()] = 40,
) -> None:
    """Agent overhead per turn with a zero-latency scripted policy."""
    from pipelines.bench.agent_overhead import run_agent_overhead

    a = bench_app()  # the bench server's settings, not the user's
    rep = run_agent_overhead(
        store=a.store,
        embedder=a.embedder,
        settings=a.settings,
        out_dir=out,
        turns=turns,
        progress=_bench_progress(),
    )
    console.print("\n".join(rep.markdown))


@bench_group.command("local-policy")
def bench_local_policy(
    model: Annotated[str, typer.Option(help="model folder or bundled name")] = "smollm2-135m",
    data: Annotated[Path | None, _DATA] = None,
    questions: Annotated[int, typer.Option(min=1, help="LoCoMo questions (categories 1-4)")] = 6,
    seed: Annotated[int, typer.Option(help="seed of the question sample")] = 7,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="new tokens a call (default: PERSONA_MAX_TOKENS)")
    ] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
) -> None:
    """A local (hf) model through the agent, with and without its prefix cache, side by side."""
    from agent.policies.models import check_model_source
    from pipelines.bench.local_policy import run_local_policy

    check_model_source(model, "--model")
    a = bench_app()
    rep = run_local_policy(
        store=a.store,
        embedder=a.embedder,
        settings=a.settings.model_copy(update={"max_tokens": max_tokens or a.settings.max_tokens}),
        out_dir=out,
        data=_data(data),
        model=model,
        questions=questions,
        seed=seed,
        progress=_bench_progress(),
    )
    console.print("\n".join(rep.markdown))


@bench_group.command("rollouts")
def bench_rollouts(
    model: Annotated[str, typer.Option(help="model folder or bundled name")] = "smollm2-135m",
    data: Annotated[Path | None, _DATA] = None,
    groups: Annotated[int, typer.Option(min=1, help="groups, each run in both modes")] = 2,
    questions: Annotated[int, typer.Option(min=1, help="questions per group")] = 4,
    generations: Annotated[int, typer.Option(min=1, help="rollouts per question")] = 4,
    seed: Annotated[int, typer.Option(help="seed of the question sample and sampling")] = 7,
    max_tokens: Annotated[int, typer.Option(min=1, help="new tokens a call")] = 96,
    steps: Annotated[int, typer.Option(min=1, max=20, help="agent steps")] = 3,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
) -> None:
    """GRPO-shaped rollouts with and without the batched prompt cache, side by side."""
    from agent.policies.models import check_model_source, resolve_model
    from cli.training_run import rollouts_report
    from pipelines.formats import load
    from pipelines.synth.dataset import ingest_locomo_questions, stratified_sample
    from training.evaluate import rollout_cache_speed

    check_model_source(model, "--model")
    started = time.perf_counter()
    a = bench_app()
    path = _data(data)
    sample = load(path, "locomo")[0].source
    gold = ingest_locomo_questions(
        path, [sample], store=a.store, embedder=a.embedder, user_prefix="bench-rollouts-"
    )
    answerable = [q for q in gold if q.locomo_category in (1, 2, 3, 4)]
    pick = stratified_sample(
        answerable, groups * questions, seed=seed, by=lambda q: q.locomo_category
    )
    parts = [pick[i : i + questions] for i in range(0, len(pick), questions)]
    say = _bench_progress()
    rows = rollout_cache_speed(
        resolve_model(model, a.settings.cache_dir),
        parts,
        store=a.store,
        settings=a.settings.model_copy(update={"max_steps": steps}),
        generations=generations,
        max_new_tokens=max_tokens,
        seed=seed,
        progress=lambda i, n: say("rollout groups", i, n),
    )
    rep = rollouts_report(
        rows,
        settings={
            "model": model,
            "conversation": sample,
            "groups": len(parts),
            "questions_per_group": questions,
            "generations": generations,
            "seed": seed,
            "temperature": 0.9,
            "top_k": 40,
            "max_new_tokens": max_tokens,
            "agent_steps": steps,
        },
        out_dir=out,
        store=a.store,
        started=started,
    )
    console.print("\n".join(rep.markdown))


@bench_group.command("writers")
def bench_writers(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    clients: Annotated[str, typer.Option(help="comma-separated client counts")] = "1,2,4,8",
    asks: Annotated[int, typer.Option(min=1, max=100, help="questions per client")] = 5,
) -> None:
    """K concurrent clients of one user (asks, and ingests of one file): lost and duplicated."""
    from pipelines.bench.writers import run_writers

    counts = _ints(clients)
    if not counts or min(counts) < 1 or max(counts) > 32:
        raise typer.BadParameter("client counts between 1 and 32", param_hint="--clients")
    a = bench_app()
    rep = run_writers(
        settings=a.settings,
        embedder=a.embedder,
        out_dir=out,
        clients=counts,
        asks=asks,
        progress=_bench_progress(),
    )
    console.print("\n".join(rep.markdown))


def _render_user_text(text: str) -> str:
    """What the terminal shows of one user string through the CLI's renderers: a table cell
    (memories, search, analytics) and a note line (the thinking, progress), on a console
    configured as the CLI's are."""
    import io

    from rich.table import Table

    from pipelines.terminal import make_console

    out = make_console(file=io.StringIO(), width=400, color_system=None, record=True)
    grid = Table("text")
    grid.add_row(cell(text))
    out.print(grid)
    out.print(note_line(text))
    return out.export_text()


@bench_group.command("hostile")
def bench_hostile(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    examples: Annotated[int, typer.Option(min=1, help="generated inputs")] = 10_000,
    seed: Annotated[int, typer.Option(help="hypothesis seed")] = 0,
) -> None:
    """Generated hostile inputs through the write path, every read API and the terminal."""
    from pipelines.bench.hostile import run_hostile

    if importlib.util.find_spec("hypothesis") is None:  # a dev dependency
        raise ConfigError(
            "persona bench hostile generates its inputs with hypothesis, which is not installed",
            hint="pip install -e '.[dev]' (make install does)",
        )
    a = bench_app()
    rep = run_hostile(
        store=a.store,
        conn=a.conn,
        render=_render_user_text,
        out_dir=out,
        examples=examples,
        seed=seed,
        progress=_bench_progress(),
    )
    console.print("\n".join(rep.markdown), markup=False)


@bench_group.command("all")
def bench_all(
    data: Annotated[Path | None, _DATA] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    quick: Annotated[
        bool,
        typer.Option("--quick/--full", help="--full: 100 users x 10,000 share the database"),
    ] = True,
) -> None:
    """Every benchmark, then docs/benchmarks/README.md (--full: 1M memories shared)."""
    from pipelines.bench.agent_overhead import run_agent_overhead
    from pipelines.bench.common import command_line
    from pipelines.bench.dating import run_dating
    from pipelines.bench.ingest_speed import run_ingest_speed
    from pipelines.bench.locomo import run_locomo
    from pipelines.bench.report import write_readme
    from pipelines.bench.scale import run_scale
    from pipelines.bench.windows import run_windows
    from pipelines.bench.writers import run_writers

    a = bench_app()
    say = _bench_progress()
    path = _data(data)
    run_locomo(data=path, store=a.store, embedder=a.embedder, out_dir=out, progress=say)
    run_windows(store=a.store, embedder=a.embedder, out_dir=out, progress=say)
    run_dating(data=path, out_dir=out, progress=say)
    run_scale(
        store=a.store,
        embedder=a.embedder,
        out_dir=out,
        sizes=(1_000, 10_000, 100_000),
        shared_users=100,
        shared_per_user=100 if quick else 10_000,  # --full: 1M memories in all
        exact_max=a.settings.vector_exact_max,
        progress=say,
    )
    run_ingest_speed(data=path, store=a.store, embedder=a.embedder, out_dir=out, progress=say)
    run_agent_overhead(
        store=a.store, embedder=a.embedder, settings=a.settings, out_dir=out, progress=say
    )
    run_writers(
        settings=a.settings, embedder=a.embedder, out_dir=out, clients=(1, 2, 4, 8), progress=say
    )
    if importlib.util.find_spec("hypothesis") is not None:  # a dev dependency
        from pipelines.bench.hostile import run_hostile

        run_hostile(
            store=a.store,
            conn=a.conn,
            render=_render_user_text,
            out_dir=out,
            examples=2_000 if quick else 10_000,
            progress=say,
        )
    readme = write_readme(out, command=command_line())
    console.print(readme.read_text(), markup=False)


@bench_group.command("embedders")
def bench_embedders(
    models: Annotated[
        str, typer.Option(help="comma-separated embedders (settings names), first = baseline")
    ] = "all-MiniLM-L6-v2,bge-small-en-v1.5-q,e5-small-v2-q",
    data: Annotated[Path | None, _DATA] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    conversations: Annotated[int | None, typer.Option(help="first N conversations")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="ingest runs per model")] = 3,
) -> None:
    """Embedders side by side: LoCoMo recall by category and ingest speed, one database each."""
    from contextlib import contextmanager

    from graph.local.server import LocalNeo4j
    from pipelines.bench.embedders import run_embedders

    names = [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise typer.BadParameter("name at least one embedder", param_hint="--models")
    default = settings().embedder

    @contextmanager
    def open_model(name: str) -> Iterator[tuple[MemoryStore, Embedder]]:
        a = bench_app(name)
        try:
            yield a.store, a.embedder
        finally:
            a.conn.close()
            if a.settings.embedded and name != default:
                LocalNeo4j(a.settings).stop()  # one server at a time; the default's stays up

    rep = run_embedders(
        models=names,
        open_model=open_model,
        data=_data(data),
        out_dir=out,
        limit_conversations=conversations,
        ingest_repeats=repeats,
        progress=_bench_progress(),
    )
    console.print("\n".join(rep.markdown), markup=False)


@bench_group.command("report")
def bench_report(out: Annotated[Path, _OUT] = Path("docs/benchmarks")) -> None:
    """Rebuild docs/benchmarks/README.md from the latest JSON reports."""
    from pipelines.bench.report import write_readme

    console.print(f"wrote {write_readme(out, command='persona bench all')}")


@bench_group.command("policy")
def bench_policy(
    model: Annotated[Path, typer.Option("--model", help="a `persona train` output folder")],
    data: Annotated[Path | None, _DATA] = None,
    sample: Annotated[int, typer.Option(help="LoCoMo questions, stratified by category")] = 60,
    heldout: Annotated[int, typer.Option(help="held-out synthetic questions, by kind")] = 40,
    seed: Annotated[int, typer.Option(help="seed of both samples")] = 7,
    category: Annotated[
        list[int] | None,
        typer.Option(help="LoCoMo categories only, 1-5 (repeat it: --category 2 --category 3)"),
    ] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
) -> None:
    """Offline policy, SFT and GRPO models side by side: well-formed rate, evidence recall
    (vs the question as keywords), window precision, steps, date accuracy, LoCoMo F1.
    LoCoMo conversations the model was trained on (its model card says which) are left out."""
    from agent.policies.models import model_card
    from cli.training_run import compare_policies, policy_report
    from pipelines.formats import load
    from pipelines.ingest import ingest_conversation
    from pipelines.synth.dataset import (
        ingest_locomo_questions,
        load_questions,
        stratified_sample,
    )
    from schema.training import TrainConfig

    started = time.perf_counter()
    card = model_card(str(model))
    if not (model / "config.json").is_file():
        raise ConfigError(f"{model} holds no model", hint="pass the --out folder of persona train")
    stages = (card or {}).get("stages") or {}
    models = {"SFT": Path(stages["sft"]), "GRPO": model} if stages.get("sft") else {"model": model}
    cfg = TrainConfig.model_validate((card or {}).get("config") or {"name": "bench"})
    bad = sorted(set(category or []) - {1, 2, 3, 4, 5})
    if bad:
        raise typer.BadParameter(f"{bad}: LoCoMo categories are 1-5", param_hint="--category")
    a = bench_app()
    prefix = "" if a.settings.embedded else "bench-"
    synth = []
    data_dir = Path(stages["sft"]).parent / "data" if stages.get("sft") else None
    if data_dir is not None and (data_dir / "questions.jsonl").is_file():
        ds = load_questions(data_dir)
        held = ds.split("heldout")
        for persona in sorted({q.user_id for q in held}):
            conv = load(data_dir / "conversations" / f"{persona}.json", "native")[0]
            ingest_conversation(conv, store=a.store, embedder=a.embedder)
        synth = stratified_sample(held, heldout, seed=seed, by=lambda q: q.kind)
    path = _data(data)
    # a model is never scored on the conversations it was trained on
    trained = set((card or {}).get("config", {}).get("data", {}).get("locomo_train") or [])
    unseen = [c["sample_id"] for c in json.loads(path.read_text()) if c["sample_id"] not in trained]
    if not unseen:
        raise ConfigError(
            f"every conversation in {path} was in the model's training data ({sorted(trained)})",
            hint="pass --data with other LoCoMo conversations",
        )
    if trained:
        console.print(f"left out (the model trained on them): {', '.join(sorted(trained))}")
    pool = ingest_locomo_questions(
        path, unseen, store=a.store, embedder=a.embedder, user_prefix=prefix
    )
    if category:
        pool = [q for q in pool if q.locomo_category in category]
    locomo = stratified_sample(pool, sample, seed=seed, by=lambda q: q.locomo_category)
    say = _bench_progress()
    results = compare_policies(
        models,
        synth,
        locomo,
        store=a.store,
        settings=a.settings,
        cfg=cfg,
        say=lambda t, i, n, _m: say(t, i, n),
    )
    from pipelines.bench.common import command_line

    md = policy_report(
        results,
        name="policy",
        title="Policies side by side",
        out_dir=out,
        command=command_line(),
        store=a.store,
        started=started,
    )
    console.print(md.read_text(), markup=False)


@bench_group.command("ui")
def bench_ui(
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    shots: Annotated[Path, typer.Option(help="screenshot folder")] = Path("docs/screenshots"),
    rounds: Annotated[
        int, typer.Option(min=1, max=20, help="visits of each page (a fresh tab each)")
    ] = 5,
    data: Annotated[Path | None, _DATA] = None,
    sample: Annotated[
        str, typer.Option(help="LoCoMo conversation whose memory the pages show")
    ] = "conv-26",
) -> None:
    """The Streamlit app in Chromium: first render of each page (its first visit after the
    server is up) and the median of its later visits, time to an answer, and the screenshots
    the README shows."""
    import statistics

    from cli.webui import app_path
    from graph.analytics import Analytics
    from pipelines.bench.browser import drive, serve_streamlit
    from pipelines.bench.common import Report, table
    from pipelines.ingest import ingest_file

    started = time.perf_counter()  # the report's "took": ingest, serving and the browser
    a = bench_app()
    user = "bench-ui-sam"
    sample_file = (
        Path(__file__).resolve().parent.parent / "pipelines" / "data" / "sample_conversation.json"
    )
    ingest_file(sample_file, store=a.store, embedder=a.embedder, user=user)
    locomo = data or settings().locomo or _DEFAULT_LOCOMO
    if locomo.is_file() or data is not None:
        shown = f"bench-ui-{sample}"  # re-ingesting an unchanged conversation writes nothing
        ingest_file(_data(data), store=a.store, embedder=a.embedder, user=shown, sample=sample)
        shown_what = f"LoCoMo {sample} ingested as one user"
    else:  # no LoCoMo file beside the project: the pages show the sample user
        console.print(f"no LoCoMo file at {locomo}: the pages show the sample conversation")
        shown, shown_what = user, "the sample conversation"
    nodes = sum(Analytics(a.conn).labels(shown).values())
    env = {"PERSONA_HOME": str(a.settings.home), "PERSONA_POLICY": "offline"}
    with serve_streamlit(app_path(), env) as base:
        run = drive(
            base,
            user,
            "Which dentist did I see in July 2024?",
            shots,
            rounds=rounds,
            pages_user=shown,
        )
    rep = Report(name="ui", title="The Streamlit app in a real browser (Chromium)", started=started)
    rep.results = json.loads(json.dumps(run.__dict__))
    rep.describe_server(a.store)

    def again(page: str) -> float | str:
        later = run.again_s.get(page)
        return round(statistics.median(later), 2) if later else "-"

    rows = [
        [
            page,
            run.nav_s.get(page, "-"),
            secs,
            again(page),
            "<= 2 s",
            "met" if run.nav_s.get(page, 99) <= 2 else "NOT met",
        ]
        for page, secs in run.first_render_s.items()
    ]
    rows.append(
        [
            "chat answer (offline policy)",
            run.answer_s or "-",
            "-",
            "-",
            "<= 3 s",
            "met" if (run.answer_s or 99) <= 3 else "NOT met",
        ]
    )
    rep.settings = {"rounds": rounds, "chat user": user, "pages user": shown, "nodes": nodes}
    rep.markdown = [
        f"The pages show {shown_what} ({nodes} nodes); the chat "
        "question is asked of the sample user. "
        f"Cold start (first page, the app builds its clients): {run.cold_start_s} s. Then each "
        "page is reached from the app's sidebar in that tab, its first visit after the server "
        "is up (imports and query plans not yet warm): what a user does, and what the target "
        f"is checked on. Then each page is opened by its URL {rounds} times, each time in a new "
        "browser context, i.e. a visitor with an empty cache who loads Streamlit's whole "
        "frontend again (first of those, and the median of the rest).",
        "",
        *table(
            [
                "page",
                "from the sidebar (s)",
                "new visitor, first (s)",
                "new visitor, median of later (s)",
                "target",
                "",
            ],
            rows,
        ),
        "",
        f"Explorer graph drawn: {run.graph_drawn}; analytics charts: {run.charts}.",
        "",
        *[f"![{Path(p).stem}](../screenshots/{Path(p).name})" for p in run.screenshots],
    ]
    console.print("\n".join(rep.markdown))
    rep.write(out)


@bench_group.command("analytics")
def bench_analytics(
    data: Annotated[Path | None, _DATA] = None,
    out: Annotated[Path, _OUT] = Path("docs/benchmarks"),
    sample: Annotated[str, typer.Option(help="LoCoMo conversation")] = "conv-26",
    repeats: Annotated[int, typer.Option(min=3, help="timed runs per query")] = 30,
) -> None:
    """Every analytics query's p50/p95 on a LoCoMo conversation, and the explorer's query on
    a user of 2,000+ nodes."""
    from pipelines.bench.analytics import run_analytics

    a = bench_app()
    rep = run_analytics(
        data=_data(data),
        store=a.store,
        embedder=a.embedder,
        conn=a.conn,
        out_dir=out,
        sample=sample,
        repeats=repeats,
        progress=_bench_progress(),
    )
    console.print("\n".join(rep.markdown))
