"""Task: ask the model once to fix a malformed output (what was wrong, what is expected): the
tagged protocol of the reasoning loop (:func:`render`) or the JSON object of an extraction
prompt (:func:`render_json`). The one home of repair wording."""

from __future__ import annotations

from langchain_core.messages import BaseMessage, HumanMessage

from agent.prompts._common import STRUCTURED
from schema.agent import ParsedOutput

__all__ = ["VERSION", "Response", "render", "render_json"]

VERSION = "repair/1"
Response = ParsedOutput


def render(error: str) -> list[BaseMessage]:
    return [
        HumanMessage(
            content=(
                f"Your last reply could not be used: {error}.\n"
                "Reply again in exactly this format: <think>your reasoning</think> followed "
                'by either <retrieve>{"keywords": ["..."], "start": "YYYY-MM-DD", '
                '"end": "YYYY-MM-DD"}</retrieve> (start/end optional) or '
                "<answer>your reply</answer>."
            ),
            additional_kwargs={STRUCTURED: {"task": VERSION, "error": error}},
        )
    ]


def render_json(error: str) -> list[BaseMessage]:
    """The repair request for an extraction prompt whose JSON did not validate."""
    return [
        HumanMessage(
            content=f"That reply was not valid ({error}). Reply with the JSON object only.",
            additional_kwargs={STRUCTURED: {"task": VERSION, "error": error, "format": "json"}},
        )
    ]
