"""Task: maintain procedural memory (habits, goals) and the core profile with explicit
operations (add / update / delete, each with ids and a reason), never a full rewrite."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.prompts._common import ChatTurn, json_schema, render_turns
from schema.agent import MemoryOp
from schema.nodes import Procedure, ProfileEntry

__all__ = ["VERSION", "Response", "render"]

VERSION = "update_memory/2"


class Response(BaseModel):
    ops: list[MemoryOp] = Field(default_factory=list)


def render(
    turns: Sequence[ChatTurn], procedures: Sequence[Procedure], profile: Sequence[ProfileEntry]
) -> list[BaseMessage]:
    procs = "\n".join(f"- [{p.id}] ({p.type}) {p.text}" for p in procedures) or "(none)"
    prof = "\n".join(f"- {e.key}: {e.value}" for e in profile if e.value is not None) or "(empty)"
    return [
        SystemMessage(
            content=(
                "You maintain two memories of a personal assistant: the user's habits and goals "
                "(procedural memory, at most ~5, one third-person sentence each with its trigger "
                "or schedule) and the core profile (name, occupation, location, family, stable "
                "preferences; the name never changes). From the session, propose explicit "
                "operations: add, update (give the id or key) or delete (give the id or key), "
                "each with a reason. No change -> empty list. Reply with JSON only: "
                f"{json_schema(Response)}"
            )
        ),
        HumanMessage(
            content=(
                f"Habits and goals:\n{procs}\n\nCore profile:\n{prof}\n\n"
                "Session (numbered; cite the numbers as evidence):\n"
                + "\n".join(
                    f"{i}: {line}" for i, line in enumerate(render_turns(turns).splitlines())
                )
            )
        ),
    ]
