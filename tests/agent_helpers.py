"""Helpers for the agent test modules (test_agent_*, test_update_stage, test_policies, ...).

Only language models are faked (``ScriptedChatModel``); memories live in the real Neo4j of the
test session. Nothing here is a fixture, so modules can build their own with any scope.
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from agent.graph import AgentContext, AgentState, build_agent
from agent.policies.scripted import ScriptedChatModel
from agent.update import UpdateStage
from schema.nodes import (
    Entity,
    Fact,
    PersonalitySnapshot,
    Procedure,
    Session,
    Topic,
    Turn,
    User,
    make_id,
)
from schema.protocols import Link, MemoryStore, Supersession, WriteBatch
from schema.records import SessionRecord, TurnRecord
from schema.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "pipelines" / "data" / "sample_conversation.json"
SAMPLE_QUESTION = "Which dentist did I see in July 2024?"


def new_user(prefix: str = "ag") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ seeding
@dataclass(frozen=True)
class Said:
    """One turn to seed: when, who, what (role user unless speaker is 'assistant')."""

    t: datetime
    text: str
    speaker: str = "Ana"


def seed_sessions(
    store: MemoryStore, user_id: str, sessions: Sequence[Sequence[Said]]
) -> dict[str, str]:
    """Write each session (a list of turns) in one batch; returns {text: turn id}.

    Sessions and turns only (no facts, events or topics), so a retrieval can return nothing
    else: the expected ids of a time window are exactly the seeded turns inside it."""
    ids: dict[str, str] = {}
    user = User(id=user_id, user_id=user_id, name="Ana")
    for si, said in enumerate(sessions):
        sid = make_id("session", user_id, "seed", si)
        session = Session(
            id=sid,
            user_id=user_id,
            source_id=f"seed-{si}",
            index=si,
            start=said[0].t,
            end=said[-1].t,
        )
        turns = []
        for i, s in enumerate(said):
            role = "assistant" if s.speaker == "assistant" else "user"
            turns.append(
                Turn(
                    id=make_id("turn", user_id, sid, i),
                    user_id=user_id,
                    session_id=sid,
                    index=i,
                    role=role,
                    speaker=s.speaker,
                    text=s.text,
                    t=s.t,
                )
            )
            ids[s.text] = turns[-1].id
        store.write(WriteBatch(user=user, sessions=[session], turns=turns))
    return ids


def ingest_sample(store: MemoryStore, embedder: Any, user_id: str | None = None) -> str:
    """Ingest the sample conversation (user 'sam', America/New_York) for a fresh user."""
    from pipelines.ingest import ingest_file

    uid = user_id or new_user("sam")
    ingest_file(SAMPLE, store=store, embedder=embedder, user=uid)
    return uid


# ------------------------------------------------------------------------------ replies
def retrieve(
    keywords: Sequence[str],
    start: str | None = None,
    end: str | None = None,
    *,
    think: str = "I need to look this up.",
    **extra: Any,
) -> str:
    body: dict[str, Any] = {"keywords": list(keywords)}
    if start is not None:
        body["start"] = start
    if end is not None:
        body["end"] = end
    body.update(extra)
    return f"<think>{think}</think><retrieve>{json.dumps(body)}</retrieve>"


def answer(text: str, *, think: str = "I can answer now.") -> str:
    return f"<think>{think}</think><answer>{text}</answer>"


def run_agent(
    *,
    store: MemoryStore,
    policy: Any,
    settings: Settings,
    user_id: str,
    question: str,
    now: datetime,
    update_stage: UpdateStage | None = None,
    thread: str | None = None,
    checkpointer: Any = None,
) -> dict[str, Any]:
    agent = build_agent(checkpointer if checkpointer is not None else InMemorySaver())
    ctx = AgentContext(
        user_id,
        store=store,
        policy=policy,
        settings=settings,
        now=now,
        update_stage=update_stage,
    )
    config: RunnableConfig = {
        "configurable": {"thread_id": thread or f"{user_id}:{uuid.uuid4().hex[:6]}"}
    }
    inputs: AgentState = {"question": question}
    return dict(agent.invoke(inputs, config, context=ctx))


def ask_offline(
    store: MemoryStore, settings: Settings, user_id: str, question: str, now: datetime
) -> dict[str, Any]:
    """The agent with the offline (rule-based) policy, asked at ``now``."""
    from agent.policies import OfflinePolicy

    return run_agent(
        store=store,
        policy=OfflinePolicy(),
        settings=settings,
        user_id=user_id,
        question=question,
        now=now,
    )


def said_session(sid: str, day: datetime, *texts: str, minutes: int = 1) -> SessionRecord:
    """A session of the user's turns ``texts`` (speaker Ana), ``minutes`` apart from ``day``,
    each with the id ``<sid>-<n>`` (for ingest_conversation)."""
    return SessionRecord(
        id=sid,
        turns=[
            TurnRecord(
                role="user",
                speaker="Ana",
                text=text,
                timestamp=day + timedelta(minutes=minutes * i),
                id=f"{sid}-{i}",
            )
            for i, text in enumerate(texts)
        ],
    )


def kinds(state: dict[str, Any]) -> list[str]:
    return [s["kind"] for s in state["steps"]]


def retrieve_steps(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in state["steps"] if s["kind"] == "retrieve"]


def text_of(messages: Sequence[BaseMessage], types: Sequence[str] = ("system", "human")) -> str:
    return "\n".join(str(m.content) for m in messages if m.type in types)


# ------------------------------------------------------------------------------ LLM extractors
def llm_router(
    *,
    facts: Callable[[str], dict[str, Any]] | None = None,
    personality: Callable[[str], dict[str, Any]] | None = None,
    ops: Callable[[str], dict[str, Any]] | None = None,
) -> Callable[[Sequence[BaseMessage]], str]:
    """A reply function for ScriptedChatModel serving the four extraction prompts with JSON.

    Each callback gets the human message of its prompt; the segmenter always returns one
    episode covering every turn."""

    def reply(messages: Sequence[BaseMessage]) -> str:
        system = str(messages[0].content)
        human = str(messages[1].content) if len(messages) > 1 else ""
        if "long-term semantic memory" in system:
            return json.dumps(facts(human) if facts else {"keep": False, "facts": []})
        if "Big Five" in system:
            return json.dumps(personality(human) if personality else {})
        if "Split this conversation session" in system:
            n = len([ln for ln in human.splitlines() if re.match(r"^\d+: ", ln)])
            return json.dumps(
                {"events": [{"summary": "A chat with the assistant.", "turns": list(range(n))}]}
            )
        if "You maintain two memories" in system:
            return json.dumps(ops(human) if ops else {"ops": []})
        raise AssertionError(f"unexpected prompt: {system[:80]!r}")

    return reply


def scripted(*script: Any, default: Any = None) -> ScriptedChatModel:
    return ScriptedChatModel(script=list(script), default=default)


# ------------------------------------------------------------------------------ a timeline
T0 = datetime(2024, 3, 4, 10, tzinfo=UTC)  # a Monday


def seed_timeline(store: Any, uid: str) -> dict[str, str]:
    """Three sessions in three weeks; a fact that changes; a habit replaced; two snapshots."""
    user = User(id=uid, user_id=uid, name="Ana")
    ids: dict[str, str] = {}
    batch = WriteBatch(user=user)
    texts = [
        ["I live in Lisbon.", "I run on Thursdays."],
        ["I moved to Denver today.", "I love my new flat in Denver."],
        ["I swim on Thursdays now instead of running.", "Denver is sunny."],
    ]
    for si, said in enumerate(texts):
        start = T0 + timedelta(weeks=si)
        sid = make_id("session", uid, si)
        batch.sessions.append(
            Session(id=sid, user_id=uid, source_id=f"s{si}", index=si, start=start, end=start)
        )
        for ti, text in enumerate(said):
            tid = make_id("turn", uid, si, ti)
            ids[text] = tid
            batch.turns.append(
                Turn(
                    id=tid,
                    user_id=uid,
                    session_id=sid,
                    index=ti,
                    role="user",
                    speaker="Ana",
                    text=text,
                    t=start + timedelta(minutes=ti),
                )
            )
    lisbon = Fact(
        id=make_id("fact", uid, "lisbon"),
        user_id=uid,
        text="Ana lives in Lisbon.",
        t=T0,
        valid_from=T0,
        slot="lives_in",
        turn_ids=[ids["I live in Lisbon."]],
    )
    denver_at = T0 + timedelta(weeks=1)
    denver = Fact(
        id=make_id("fact", uid, "denver"),
        user_id=uid,
        text="Ana lives in Denver.",
        t=denver_at,
        valid_from=denver_at,
        slot="lives_in",
        turn_ids=[ids["I moved to Denver today."]],
    )
    run_at, swim_at = T0, T0 + timedelta(weeks=2)
    run = Procedure(
        id=make_id("proc", uid, "run"),
        user_id=uid,
        type="habit",
        text="Ana runs on Thursdays.",
        t=run_at,
        turn_ids=[ids["I run on Thursdays."]],
    )
    swim = Procedure(
        id=make_id("proc", uid, "swim"),
        user_id=uid,
        type="habit",
        text="Ana swims on Thursdays.",
        t=swim_at,
        turn_ids=[ids["I swim on Thursdays now instead of running."]],
    )
    batch.facts += [lisbon, denver]
    batch.procedures += [run, swim]
    batch.supersessions += [
        Supersession(new_id=denver.id, old_id=lisbon.id, at=denver_at),
        Supersession(new_id=swim.id, old_id=run.id, at=swim_at),
    ]
    for step, (t, o, turn) in enumerate(
        [(T0, 3.4, "I live in Lisbon."), (denver_at, 4.2, "I moved to Denver today.")], 1
    ):
        batch.snapshots.append(
            PersonalitySnapshot(
                id=make_id("personality", uid, step),
                user_id=uid,
                t=t,
                step=step,
                openness=o,
                conscientiousness=3.0,
                extraversion=3.1,
                agreeableness=3.0,
                neuroticism=2.9,
                weight=0.5,
                observed=[4, 3, None, None, None],
                turn_id=ids[turn],
            )
        )
    for name in ("denver", "running"):
        batch.topics.append(Topic(id=make_id("topic", uid, name), user_id=uid, name=name))
    batch.entities.append(Entity(id=make_id("entity", uid, "Denver"), user_id=uid, name="Denver"))
    for text in ("I moved to Denver today.", "I love my new flat in Denver.", "Denver is sunny."):
        batch.about.append(Link(memory_id=ids[text], node_id=make_id("topic", uid, "denver")))
        batch.mentions.append(Link(memory_id=ids[text], node_id=make_id("entity", uid, "Denver")))
    batch.about.append(
        Link(memory_id=ids["I run on Thursdays."], node_id=make_id("topic", uid, "running"))
    )
    store.write(batch)
    ids.update(lisbon=lisbon.id, denver=denver.id, run=run.id, swim=swim.id)
    return ids


def raw_counts(conn: Any, user_id: str) -> dict[str, int]:
    """Nodes and relationships of one user by label/type, read with plain Cypher."""
    nodes = conn.read(
        "MATCH (n) WHERE n.user_id = $u "
        "RETURN [x IN labels(n) WHERE x <> 'Memory'][0] AS label, count(*) AS n",
        u=user_id,
    )
    rels = conn.read(
        "MATCH (a)-[r]->(b) WHERE a.user_id = $u RETURN type(r) AS label, count(*) AS n",
        u=user_id,
    )
    return {r["label"]: r["n"] for r in nodes} | {f"-{r['label']}-": r["n"] for r in rels}
