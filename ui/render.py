"""Showing what users and models wrote: every such string is escaped before it reaches
Markdown (no links, images, HTML or math from user text), and memories are shown with their
time, type and why they were returned."""

from __future__ import annotations

import html
import re
from typing import Any

import streamlit as st

from schema.retrieval import RetrievedMemory
from schema.timeutil import format_spoken

__all__ = ["md", "memory_line", "show_memories", "show_steps"]

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~$:=])")
#: WORD JOINER (invisible, zero width, no line break): GFM autolink literals (``http://``,
#: ``www.``, ``a@b.c``) and Streamlit's ``:material/icon:`` are matched in the parsed text,
#: where backslash escapes are already gone, so only a character between them keeps it text
_JOIN = "\u2060"
_LINKS = re.compile(r"(?<=:)|(?=@)|(?i:(?<=www)(?=\.))")


def md(text: Any) -> str:
    """User or model text made inert for ``st.markdown``: HTML escaped, every Markdown
    character backslash-escaped (``=`` too: ``Title\\n===`` is a heading), and an invisible
    word joiner after ``:``, before ``@`` and after ``www`` (no link, e-mail or icon is made
    of them). What is shown is the text as typed (tests/test_ui_escape.py, in Chromium).

    >>> md("**hi** <b>[x](http://e)</b> $1 a=b").replace(_JOIN, "|")
    '\\\\*\\\\*hi\\\\*\\\\* &lt;b&gt;\\\\[x\\\\]\\\\(http\\\\:|//e\\\\)&lt;/b&gt; \\\\$1 a\\\\=b'
    """
    return _MD.sub(r"\\\1", _LINKS.sub(_JOIN, html.escape(str(text), quote=False)))


def memory_line(m: RetrievedMemory) -> str:
    who = f"**{md(m.speaker)}**: " if m.speaker else ""
    status = " *(no longer true)*" if m.status == "superseded" else ""
    return f"`{format_spoken(m.t)}` · {m.kind.value}{status} · {who}{md(m.text)}"


def show_memories(memories: list[dict[str, Any]]) -> None:
    """Each memory with why it came back: signals and ranks, the graph path, the window."""
    if not memories:
        st.caption("nothing found")
    for raw in memories:
        m = RetrievedMemory.model_validate(raw)
        st.markdown("- " + memory_line(m))
        st.caption(md(m.why.describe()))
        for t in m.turns:
            st.markdown("    - " + memory_line(t))


def show_steps(node: str, update: dict[str, Any], target: Any) -> None:
    """One node's update, the way the CLI prints it: thinking, retrieve requests with
    keywords and window, the memories found."""
    for step in update.get("steps") or []:
        kind = step["kind"]
        if step.get("think"):
            target.markdown(f"**think** {md(step['think'])}")
        if step.get("issues"):
            target.caption("output issues: " + md(", ".join(step["issues"])))
        if kind in ("repair", "fallback", "forced", "grounded") and step.get("note"):
            target.warning(f"{kind}: {md(step['note'])}")
        if kind == "retrieve":
            req = step.get("request") or {}
            keywords = ", ".join(str(k) for k in req.get("keywords") or [])
            target.markdown(
                f"**retrieve** keywords: {md(keywords)} · types: {md(req.get('types') or 'all')}"
                f" · window {md(step.get('window'))}"
            )
            with target:
                show_memories(update.get("memories") or [])
