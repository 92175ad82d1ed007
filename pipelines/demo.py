"""``make demo`` / ``persona demo``: the main job end to end on the embedded default."""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from pipelines.app import App
from pipelines.ingest import ingest_file
from pipelines.render import RichProgress, graph_model, retrieval
from pipelines.terminal import shown
from schema.nodes import MemoryKind
from schema.retrieval import RetrievalRequest, TimeWindow
from schema.timeutil import get_tz

__all__ = ["SAMPLE", "run_demo", "sample_path"]

SAMPLE_USER = "sam"
DEMO_QUESTIONS = (
    "Which dentist did I see in July 2024?",
    "When did I finish the Boston Marathon?",
    "Where do I live now?",
    "Where did I live in May 2024?",
    "What did I do last weekend?",
)


def sample_path() -> Path:
    return Path(str(resources.files("pipelines") / "data" / "sample_conversation.json"))


SAMPLE = sample_path


def run_demo(app: App, console: Console) -> None:
    s = app.settings
    console.print(Rule("1. the embedded Neo4j"))
    info = app.conn.info
    console.print(
        f"Neo4j {info.version} {info.edition} at {info.address}; vector path: "
        f"{info.capabilities.best_vector_path}"
    )
    console.print(Rule("2. migrations"))
    app.migrate()
    console.print("constraints and indexes in place (idempotent)")
    console.print(Rule("3. ingest the sample conversation"))
    with RichProgress(console) as progress:
        report = ingest_file(
            sample_path(),
            store=app.store,
            embedder=app.embedder,
            timezone=s.timezone,
            images=app.images,
            progress=progress,
        )
    console.print(
        f"user {SAMPLE_USER!r}: {report.turns_written} new turns "
        f"({report.turns_skipped} already stored), {report.facts} facts, "
        f"{report.events} events, {report.supersessions} supersessions"
    )
    console.print(Rule("4. time-bounded hybrid retrieval"))
    tz = get_tz("America/Denver")
    july = TimeWindow(start=datetime(2024, 7, 1, tzinfo=tz), end=datetime(2024, 8, 1, tzinfo=tz))
    console.print("[bold]Which dentist did Sam see in July 2024?[/bold] (window = July 2024)")
    retrieval(
        console,
        app.store.retrieve(
            RetrievalRequest(user_id=SAMPLE_USER, query="dentist appointment", window=july, k=3)
        ),
    )
    console.print("\n[bold]The same query without a window[/bold] (March and July both match)")
    retrieval(
        console,
        app.store.retrieve(RetrievalRequest(user_id=SAMPLE_USER, query="dentist appointment", k=3)),
    )
    console.print("\n[bold]Where does Sam live?[/bold] (facts only: the Boston fact is superseded)")
    lives = RetrievalRequest(
        user_id=SAMPLE_USER,
        query="where does Sam live",
        keywords=["live", "moved"],
        kinds=[MemoryKind.FACT],
        k=3,
    )
    retrieval(console, app.store.retrieve(lives))
    console.print(
        "\n[bold]Where did Sam live in May 2024?[/bold] (window = May: nothing was said about "
        "it in May; the Boston fact, said in January, held until the July move)"
    )
    may = TimeWindow(start=datetime(2024, 5, 1, tzinfo=tz), end=datetime(2024, 6, 1, tzinfo=tz))
    retrieval(console, app.store.retrieve(lives.model_copy(update={"window": may})))
    console.print(Rule("5. the agent answers questions about the conversation"))
    from agent.policies import describe_policy
    from pipelines.conversation import ask

    console.print(f"policy: {shown(describe_policy(s))}")
    asked = datetime(2024, 9, 10, 9, 0, tzinfo=tz)
    for question in DEMO_QUESTIONS:
        console.print(f"\n[bold]Q ({asked:%Y-%m-%d}): {question}[/bold]")
        ask(app, SAMPLE_USER, question, console=console, now=asked, update=False, user_name="Sam")
    console.print(Rule("6. the graph model"))
    graph_model(console)
