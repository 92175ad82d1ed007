"""The agent for the LangGraph server (``langgraph dev`` / LangGraph Platform).

``langgraph.json`` points at :func:`make_graph`. The server brings its own checkpointer, so
the graph is compiled WITHOUT one. Clients (store, policy, update stage) are built once from
the environment (``PERSONA_*``, ``NEO4J_*``); a run passes only JSON facts in its
``context``: ``{"user_id": "...", "now": "ISO 8601", "mode": "reason" | "direct",
"user_name": "..."}`` and the resolver adds the clients.

Embedding the agent as a subgraph of another LangGraph application: add
``agent.graph.build_agent()`` (compiled without a checkpointer, so the parent's is used) as a
node of the parent graph; the parent's state carries ``question`` in and ``answer``/``steps``
out, and the parent's run context must be an ``AgentContext`` (or a dict the resolver of
``build_graph(resolve=...)`` completes). tests/test_agent_server.py shows both.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from agent.graph import AgentContext, AgentState, build_graph
from pipelines.app import App
from schema.settings import Settings

__all__ = ["make_graph", "resolver"]


@lru_cache(maxsize=1)
def _app() -> App:
    return App(Settings())


def resolver(app: App) -> Any:
    def resolve(ctx: AgentContext | dict[str, Any] | None) -> AgentContext:
        if ctx is None:
            raise ValueError("a run needs context={'user_id': ...}")
        if isinstance(ctx, dict):
            ctx = AgentContext(**ctx)
        return replace(
            ctx,
            store=ctx.store or app.store,
            policy=ctx.policy or app.policy,
            settings=ctx.settings or app.settings,
            update_stage=ctx.update_stage or app.update_stage,
        )

    return resolve


def make_graph() -> CompiledStateGraph[AgentState, AgentContext, AgentState, AgentState]:
    return build_graph(resolve=resolver(_app())).compile(name="personagraph")
