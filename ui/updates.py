"""What the update stage stored after an answer, for the chat page: the facts, each
supersession (what was true -> what is true now) and the personality change (the traits
that moved, before -> after). User and model text goes through :func:`ui.render.md`."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pipelines.conversation import remembered
from ui.render import md

__all__ = ["show_update", "update_lines"]


def update_lines(u: dict[str, Any]) -> list[str]:
    r"""What the update stage stored, as Markdown lines (user text escaped): a summary, each
    fact, each supersession (old -> new) and the personality change (traits that moved).

    >>> lines = update_lines({"turn_ids": ["a", "b"], "facts": ["f"],
    ...     "fact_texts": ["Sam swims."], "supersessions": 1, "personality_step": 2,
    ...     "replaced": [{"old_text": "Sam runs.", "new_text": "Sam swims."}],
    ...     "personality": {"step": 2, "weight": 0.5, "traits": {"openness": [3.0, 4.0],
    ...                                                         "neuroticism": [2.0, 2.0]}}})
    >>> for line in lines:  # as shown, without the escapes
    ...     print(line.replace("\\", "").replace("\u2060", ""))
    remembered: 2 turns, 1 fact, 1 supersession, personality step 2
    fact: Sam swims.
    no longer true: ~~Sam runs.~~ → now: Sam swims.
    personality step 2 (weight 0.50): openness 3.00 → 4.00 (+1.00)
    """
    if not u or u.get("skipped"):
        return []
    line = remembered(u)
    if u.get("personality_step"):
        line += f", personality step {u['personality_step']}"
    if u.get("closed_sessions"):
        line += f", closed sessions {md(', '.join(u['closed_sessions']))}"
    lines = [line]
    lines += [f"fact: {md(text)}" for text in u.get("fact_texts") or []]
    for r in u.get("replaced") or []:
        lines.append(f"no longer true: ~~{md(r['old_text'])}~~ → now: {md(r['new_text'])}")
    change = u.get("personality")
    if change:
        moved = [
            f"{trait} {a:.2f} → {b:.2f} ({b - a:+.2f})"
            for trait, (a, b) in change["traits"].items()
            if abs(b - a) >= 0.005
        ]
        lines.append(
            f"personality step {change['step']} (weight {change['weight']:.2f}): "
            + (", ".join(moved) or "no trait moved")
        )
    return lines


def show_update(u: dict[str, Any]) -> None:
    """The update stage's report under an answer (see :func:`update_lines`)."""
    for line in update_lines(u):
        st.caption(line)
