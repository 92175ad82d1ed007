"""The response loop as a LangGraph state machine.

    START -> start -> think --retrieve--> retrieve -> think ... --answer--> answer -> update -> END
                   \\        \\--invalid--> think (one repair) / retrieve (query as keywords)
                    \\        \\--budget spent--> force -> answer
                     \\--(direct mode)--> direct -> answer

The answer node dates a "when" answer that names no date the retrieved memories support
(agent.grounding; a ``grounded`` step keeps the model's own answer).

Per-run facts (user, store, policy, settings, the query time, the mode) come through the run
context (:class:`AgentContext`), never globals. The state is a TypedDict with reducers; the
reasoning chain (messages, steps, seen ids) is reset at the start of every question, while
the checkpointer keeps the thread (user + session) across questions and restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from langchain_core.messages import AIMessage, BaseMessage, RemoveMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from agent.grounding import ground
from agent.parsing import parse_output
from agent.policies.calls import call_policy
from agent.policies.offline import expand
from agent.prompts import direct_answer, reason_continue, reason_start, repair
from agent.prompts._common import (
    ChatTurn,
    PromptContext,
    render_memories,
    render_memory,
    render_profile,
    structured,
)
from agent.session import resolve_session, session_is_open
from agent.state import (
    AgentContext,
    AgentState,
    Resolver,
    asked_time,
    policy_of,
    resolve_context,
    settings_of,
    store_of,
)
from agent.update import ExchangeReport
from schema.agent import ParsedOutput, Step
from schema.nodes import TRAITS, MemoryKind, Session, User
from schema.retrieval import RetrievalRequest, RetrievedMemory, TimeWindow
from schema.timeutil import asks_when, get_tz

__all__ = ["STOP", "AgentContext", "AgentState", "build_agent", "build_graph"]

#: generation stops at the closing tags (vLLM/OpenAI exclude them; the parser tolerates it)
STOP = ["</retrieve>", "</answer>"]


def _prompt_context(state: AgentState, ctx: AgentContext) -> tuple[PromptContext, Session | None]:
    """The first prompt's context and the open session, from ONE read transaction."""
    s = settings_of(ctx)
    uc = store_of(ctx).user_context(ctx.user_id)
    # "in May" is May where the user lives: the zone of their conversations, unless the
    # deployment sets PERSONA_TIMEZONE (a time given with an offset keeps it either way)
    zone = get_tz(uc.timezone) if uc.timezone and "timezone" not in s.model_fields_set else None
    now = asked_time(state, ctx, zone)
    session = (
        uc.last_session if session_is_open(uc.last_session, now, s.session_gap_minutes) else None
    )
    recent = uc.last_session_turns if session else []
    profile = [(e.key, e.value) for e in uc.profile if e.value is not None]
    procedures = [f"({p.type}) {p.text}" for p in uc.procedures]
    return PromptContext(
        question=state["question"],
        asked_at=now,
        user_name=ctx.user_name or uc.user_name,
        profile=profile,
        procedures=procedures,
        personality=render_profile([uc.personality] if uc.personality else []),
        recent=[
            ChatTurn(t=t.t, speaker=t.speaker, text=t.text, caption=t.image_caption) for t in recent
        ],
        max_steps=s.max_steps,
    ), session


# ---------------------------------------------------------------------------------- nodes
def start(state: AgentState, ctx: AgentContext) -> dict[str, Any]:
    if not (state.get("question") or "").strip():
        raise ValueError("the input needs a non-empty 'question'")
    pctx, session = _prompt_context(state, ctx)
    update: dict[str, Any] = {
        "messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES)],
        "steps": None,
        "seen_ids": None,
        "memories": None,
        "calls": 0,
        "repairs": 0,
        "pending": None,
        "answer": "",
        "route": "",
        "asked_at": pctx.asked_at.isoformat(),
        "session_id": session.id if session else None,
        "user_name": pctx.user_name,
    }
    if ctx.mode == "reason":
        update["messages"] += reason_start.render(pctx)
    else:
        update["route"] = "direct"
    return update


def _invoke(ctx: AgentContext, messages: Sequence[BaseMessage]) -> str:
    return call_policy(policy_of(ctx), messages, STOP)


def _prompt_version(messages: Sequence[BaseMessage]) -> str | None:
    """The version of the prompt module behind the last message the policy was shown."""
    for m in reversed(messages):
        task = structured(m).get("task")
        if task:
            return str(task)
    return None


def _step(parsed: ParsedOutput, kind: str, **extra: Any) -> dict[str, Any]:
    return Step(
        kind=kind,
        think=parsed.think,
        issues=[i.value for i in parsed.issues],
        **extra,
    ).model_dump()


def _fallback_call(state: AgentState) -> dict[str, Any]:
    return {
        "keywords": [state["question"]],
        "start": None,
        "end": None,
        "types": None,
        "k": None,
        "fallback": True,
    }


def think(state: AgentState, ctx: AgentContext) -> dict[str, Any]:
    s = settings_of(ctx)
    now = asked_time(state, ctx)
    shown = list(state.get("messages", []))
    raw = _invoke(ctx, shown)
    parsed = parse_output(raw, now=now, tz=now.tzinfo or get_tz(s.timezone))
    calls = state.get("calls", 0) + 1
    out: dict[str, Any] = {"calls": calls, "messages": [AIMessage(content=raw)]}
    version = _prompt_version(shown)
    if parsed.action == "answer":
        out.update(
            answer=parsed.answer,
            route="answer",
            steps=[_step(parsed, "answer", answer=parsed.answer, prompt=version)],
        )
        return out
    if parsed.action == "retrieve" and parsed.retrieve is not None:
        call = parsed.retrieve
        pending = {
            "keywords": call.keywords,
            "start": parsed.start.isoformat() if parsed.start else None,
            "end": parsed.end.isoformat() if parsed.end else None,
            "types": [t.value for t in call.types] if call.types else None,
            "k": call.k,
        }
        out.update(
            pending=pending,
            route="retrieve" if calls < s.max_steps else "force",
            steps=[_step(parsed, "think", prompt=version)],
        )
        return out
    # invalid: one repair request, then a retrieve with the query as keywords
    error = parsed.error or "unusable output"
    if state.get("repairs", 0) < 1 and calls < s.max_steps:
        out.update(
            repairs=state.get("repairs", 0) + 1,
            route="think",
            messages=[AIMessage(content=raw), *repair.render(error)],
            steps=[
                _step(parsed, "repair", note=f"asked the model to fix: {error}", prompt=version)
            ],
        )
        return out
    already = any((st.get("request") or {}).get("fallback") for st in state.get("steps", []))
    if not already and calls < s.max_steps:
        out.update(
            pending=_fallback_call(state),
            route="retrieve",
            steps=[
                _step(
                    parsed,
                    "fallback",
                    note=f"{error}; searching with the question as keywords",
                    prompt=version,
                )
            ],
        )
        return out
    out.update(
        route="force",
        steps=[_step(parsed, "fallback", note=f"{error}; answering now", prompt=version)],
    )
    return out


def _request(state: AgentState, ctx: AgentContext, pending: dict[str, Any]) -> RetrievalRequest:
    s = settings_of(ctx)
    tz = get_tz(s.timezone)
    start = datetime.fromisoformat(pending["start"]) if pending.get("start") else None
    end = datetime.fromisoformat(pending["end"]) if pending.get("end") else None
    window = TimeWindow.of(start, end, tz) if (start or end) else TimeWindow()
    kinds = [MemoryKind(t) for t in pending["types"]] if pending.get("types") else None
    keywords = [k for k in pending.get("keywords", []) if k]
    if pending.get("fallback"):
        query = state["question"]
    elif s.query_with_question:
        query = " ".join([state["question"], *keywords])
    else:
        query = " ".join(keywords)
    return RetrievalRequest(
        user_id=ctx.user_id,
        query=query,
        keywords=[] if pending.get("fallback") else keywords,
        window=window,
        k=pending.get("k") or s.retrieve_k,
        exclude_ids=list(state.get("seen_ids", [])),
        unit=s.retrieve_unit,
        prefer_dated=s.retrieve_unit == "turn" and asks_when(state["question"]),
        **({"kinds": kinds} if kinds else {}),
    )


def retrieve(state: AgentState, ctx: AgentContext) -> dict[str, Any]:
    pending = state.get("pending") or _fallback_call(state)
    request = _request(state, ctx, pending)
    result = store_of(ctx).retrieve(request)
    window = result.window.describe()
    step = Step(
        kind="retrieve",
        request=pending,
        window=window,
        memory_ids=[m.id for m in result.items],
        memories=[render_memory(m) for m in result.items],
        note=f"{len(result.items)} memories via {result.vector_path.value}",
        prompt=reason_continue.VERSION,
    )
    message = reason_continue.render(
        result.items,
        question=state["question"],
        window=window,
        step=state.get("calls", 0),
        max_steps=settings_of(ctx).max_steps,
    )
    return {
        "messages": message,
        "steps": [step.model_dump()],
        "pending": None,
        "seen_ids": result.all_ids(),
        "memories": [m.model_dump(mode="json") for m in result.items],
    }


def _fallback_answer(state: AgentState) -> str:
    memories = [RetrievedMemory.model_validate(m) for m in state.get("memories", [])]
    if not memories:
        return "I don't have any memory that answers this."
    return "I could not finish reasoning about this. Here is what I remember:\n" + render_memories(
        memories[:3]
    )


def force(state: AgentState, ctx: AgentContext) -> dict[str, Any]:
    s = settings_of(ctx)
    messages = [*state.get("messages", []), *direct_answer.render_forced()]
    raw = _invoke(ctx, messages)
    now = asked_time(state, ctx)
    parsed = parse_output(raw, now=now, tz=now.tzinfo or get_tz(s.timezone))
    answer = parsed.answer if parsed.action == "answer" and parsed.answer else None
    note = None if answer else "the forced answer was unusable; answering from the memories"
    answer = answer or _fallback_answer(state)
    return {
        "messages": [AIMessage(content=raw)],
        "answer": answer,
        "calls": state.get("calls", 0) + 1,
        "steps": [
            _step(parsed, "forced", answer=answer, note=note, prompt=_prompt_version(messages))
        ],
    }


def direct(state: AgentState, ctx: AgentContext) -> dict[str, Any]:
    """Non-reasoning mode: one retrieval with the question, one call to answer."""
    s = settings_of(ctx)
    pctx, _ = _prompt_context(state, ctx)
    request = RetrievalRequest(
        user_id=ctx.user_id,
        query=state["question"],
        k=s.retrieve_k,
        unit=s.retrieve_unit,
        prefer_dated=s.retrieve_unit == "turn" and asks_when(state["question"]),
    )
    result = store_of(ctx).retrieve(request)
    messages = direct_answer.render(pctx, result.items)
    raw = _invoke(ctx, messages)
    parsed = parse_output(raw, now=pctx.asked_at, tz=pctx.asked_at.tzinfo or get_tz(s.timezone))
    memories = [m.model_dump(mode="json") for m in result.items]
    answer = parsed.answer if parsed.action == "answer" and parsed.answer else None
    if answer is None:
        answer = _fallback_answer({"memories": memories})
    return {
        "messages": [*messages, AIMessage(content=raw)],
        "answer": answer,
        "calls": 1,
        "memories": memories,
        "seen_ids": result.all_ids(),
        "steps": [
            Step(
                kind="retrieve",
                request={"keywords": [state["question"]]},
                window=result.window.describe(),
                memory_ids=[m.id for m in result.items],
                memories=[render_memory(m) for m in result.items],
                prompt=direct_answer.VERSION,
            ).model_dump(),
            _step(parsed, "answer", answer=answer, prompt=direct_answer.VERSION),
        ],
    }


def answer(state: AgentState, ctx: AgentContext) -> dict[str, Any]:
    text = (state.get("answer") or "").strip()
    if not text:
        text = _fallback_answer(state)
    out: dict[str, Any] = {"answer": text, "turns_answered": 1}
    if settings_of(ctx).ground_when:
        memories = expand(state.get("memories") or [])
        dated = ground(state["question"], text, memories, asked_at=asked_time(state, ctx))
        if dated is not None:
            out["answer"] = dated.answer
            out["steps"] = [
                Step(
                    kind="grounded", answer=dated.answer, replaced=text, note=dated.note
                ).model_dump()
            ]
    return out


def update(state: AgentState, ctx: AgentContext) -> dict[str, Any]:
    stage = ctx.update_stage
    if stage is None:
        return {"update": {"skipped": True}}
    store = store_of(ctx)
    s = settings_of(ctx)
    asked = asked_time(state, ctx)
    session, _ = resolve_session(store, ctx.user_id, asked, s.session_gap_minutes)
    name = ctx.user_name or state.get("user_name")
    user = User(id=ctx.user_id, user_id=ctx.user_id, name=name)
    report = stage.record_exchange(
        user,
        session,
        state["question"],
        asked,
        state["answer"],
        asked,
        caption=state.get("image_caption"),
    )
    return {
        "session_id": report.session_id,
        "update": {
            "session_id": report.session_id,
            "turn_ids": report.turn_ids,
            "facts": report.facts,
            "fact_texts": report.fact_texts,
            "supersessions": report.supersessions,
            "replaced": [vars(r) for r in report.replaced],
            "personality_step": report.snapshot.step if report.snapshot else None,
            "personality": _personality_change(report),
            "closed_sessions": report.closed_sessions,
            "elapsed_ms": round(report.elapsed_ms, 1),
        },
    }


def _personality_change(report: ExchangeReport) -> dict[str, Any] | None:
    """The step's weight and each trait as ``[before, after]`` (None without a new snapshot)."""
    snap = report.snapshot
    if snap is None:
        return None
    return {
        "step": snap.step,
        "weight": snap.weight,
        "traits": {
            t: [before, float(getattr(snap, t))]
            for t, before in zip(TRAITS, report.personality_before, strict=True)
        },
    }


# ---------------------------------------------------------------------------------- wiring
def _after_start(state: AgentState) -> str:
    return state.get("route") or "think"


def _after_think(state: AgentState) -> str:
    return state.get("route") or "force"


def _bind(
    fn: Callable[[AgentState, AgentContext], dict[str, Any]], resolve: Resolver
) -> Callable[[AgentState, Runtime[AgentContext]], dict[str, Any]]:
    def node(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        return fn(state, resolve(runtime.context))

    node.__name__ = fn.__name__
    return node


def build_graph(
    resolve: Resolver | None = None,
) -> StateGraph[AgentState, AgentContext, AgentState, AgentState]:
    """The uncompiled graph. ``resolve`` completes each run's context (the LangGraph server
    uses it to add the shared clients to the JSON context a run carries)."""
    r = resolve or resolve_context
    g: StateGraph[AgentState, AgentContext, AgentState, AgentState] = StateGraph(
        AgentState, context_schema=AgentContext
    )
    for fn in (start, think, retrieve, force, direct, answer, update):
        g.add_node(fn.__name__, cast(Any, _bind(fn, r)))
    g.add_edge(START, "start")
    g.add_conditional_edges("start", _after_start, {"think": "think", "direct": "direct"})
    g.add_conditional_edges(
        "think",
        _after_think,
        {"retrieve": "retrieve", "think": "think", "answer": "answer", "force": "force"},
    )
    g.add_edge("retrieve", "think")
    g.add_edge("force", "answer")
    g.add_edge("direct", "answer")
    g.add_edge("answer", "update")
    g.add_edge("update", END)
    return g


def build_agent(
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[AgentState, AgentContext, AgentState, AgentState]:
    """Compile the agent. ``checkpointer``: ``InMemorySaver()`` in tests, a ``SqliteSaver`` for
    the CLI (a conversation survives restarts), ``None`` for the LangGraph server (which
    brings its own) and for embedding as a subgraph (the parent's checkpointer is used)."""
    return build_graph().compile(checkpointer=checkpointer, name="personagraph")
