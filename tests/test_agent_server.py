"""The agent served by ``langgraph dev`` (offline, against the test Neo4j) and embedded as a
subgraph of another LangGraph application."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

import pytest
from agent_helpers import (
    ROOT,
    SAMPLE_QUESTION,
    Said,
    answer,
    free_port,
    ingest_sample,
    retrieve,
    scripted,
    seed_sessions,
)
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from agent.graph import AgentContext, build_agent
from schema.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ASKED_AT = "2024-09-10T09:00:00-06:00"


def test_served_graph_compiles_without_a_checkpointer(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines import serve

    monkeypatch.setenv("PERSONA_POLICY", "offline")
    serve._app.cache_clear()
    try:
        graph = serve.make_graph()
        assert graph.checkpointer is None
        assert graph.name == "personagraph"
        assert {"start", "think", "retrieve", "force", "direct", "answer", "update"} <= set(
            graph.nodes
        )
    finally:
        serve._app.cache_clear()


# ------------------------------------------------------------------------------ langgraph dev
def _wait_ok(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"langgraph dev exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"langgraph dev did not answer /ok in {timeout}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def served(
    neo4j_server: Any, conn: Any, embedder: Any, migrated: Any, tmp_path_factory: Any
) -> Iterator[tuple[str, str]]:
    from graph.store import Neo4jMemoryStore

    uid = ingest_sample(Neo4jMemoryStore(conn, embedder), embedder)  # the server writes to it
    home = tmp_path_factory.mktemp("served-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "NEO4J_URI": neo4j_server.uri(),
        "NEO4J_USER": "neo4j",
        "NEO4J_PASSWORD": neo4j_server.password(),
        "PERSONA_POLICY": "offline",
        "PERSONA_HOME": str(home),
        "PERSONA_TIMEZONE": "UTC",
    }
    log = home / "langgraph-dev.log"
    cmd = [
        str(Path(sys.executable).parent / "langgraph"),
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_ok(url, proc, log)
        yield url, uid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_langgraph_dev_serves_the_agent(served: tuple[str, str]) -> None:
    from langgraph_sdk import get_client

    url, uid = served

    async def go() -> tuple[Any, Any, Any]:
        client = get_client(url=url)
        assistants = await client.assistants.search(graph_id="personagraph")
        thread = await client.threads.create()
        result = await client.runs.wait(
            thread["thread_id"],
            "personagraph",
            input={"question": SAMPLE_QUESTION, "asked_at": ASKED_AT},
            context={"user_id": uid},
        )
        state = await client.threads.get_state(thread["thread_id"])
        return assistants, result, state

    assistants, result, state = asyncio.run(go())
    assert [a["graph_id"] for a in assistants] == ["personagraph"]
    assert isinstance(result, dict), result
    answer_text = result["answer"]
    assert answer_text.startswith("[offline policy]")
    assert "Nguyen" in answer_text
    retrieves = [s for s in result["steps"] if s["kind"] == "retrieve"]
    assert retrieves and retrieves[0]["window"].startswith("[2024-07-01 00:00 (Monday)")
    assert result["update"]["turn_ids"], "the server's update stage remembered the exchange"
    assert state["values"]["answer"] == answer_text  # the server's own checkpointer kept it


# ------------------------------------------------------------------------------ as a subgraph
class Parent(TypedDict, total=False):
    question: str
    answer: str
    shouted: str


def test_the_agent_runs_as_a_subgraph(store: Any, settings: Settings, user_id: str) -> None:
    seed_sessions(
        store,
        user_id,
        [[Said(datetime(2024, 7, 9, 8, tzinfo=UTC), "I saw Dr. Nguyen for a cleaning.")]],
    )

    def shout(state: Parent) -> dict[str, Any]:
        return {"shouted": state["answer"].upper()}

    parent = StateGraph(Parent, context_schema=AgentContext)
    parent.add_node("memory", build_agent())  # compiled without a checkpointer
    parent.add_node("shout", shout)
    parent.add_edge(START, "memory")
    parent.add_edge("memory", "shout")
    parent.add_edge("shout", END)
    app = parent.compile(checkpointer=InMemorySaver())

    policy = scripted(
        retrieve(["dentist", "Nguyen"], "2024-07-01", "2024-08-01"), answer("Dr. Nguyen.")
    )
    ctx = AgentContext(
        user_id,
        store=store,
        policy=policy,
        settings=settings,
        now=datetime(2024, 9, 10, 15, tzinfo=UTC),
    )
    config: RunnableConfig = {"configurable": {"thread_id": f"parent-{user_id}"}}
    inputs: Parent = {"question": SAMPLE_QUESTION}
    out = app.invoke(inputs, config, context=ctx)
    assert out["answer"] == "Dr. Nguyen."
    assert out["shouted"] == "DR. NGUYEN."
    assert set(out) == {"question", "answer", "shouted"}
    assert len(policy.calls) == 2
    assert "I saw Dr. Nguyen for a cleaning." in str(policy.calls[1]["messages"][-1].content)
    # the parent's checkpointer holds the subgraph's run
    assert app.get_state(config).values["answer"] == "Dr. Nguyen."
