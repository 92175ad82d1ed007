"""User text in the UI is shown as typed, never rendered: Markdown, HTML, links, images, math,
Rich-like ``[b]`` and Streamlit's own ``:material/icon:`` / ``:red[...]`` in a turn come out as
the characters the user typed.

Two tests: the escaping (``ui.render.md`` and the helpers built on it) rendered by Streamlit's
real Markdown in Chromium (the only renderer that tells what a user sees: GFM autolinks and
icons are found after backslash escapes are resolved, which no Python Markdown library
reproduces), and the chat page (AppTest, real Neo4j) showing a hostile turn through ``md``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from agent_helpers import new_user
from streamlit.testing.v1 import AppTest

from pipelines.bench.browser import INSTALL_HINT, chromium_path, serve_streamlit
from schema.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "ui" / "app.py"
JOIN = "\u2060"  # the invisible word joiner md() puts after ':', before '@', after 'www'

HOSTILE = [
    "**bold** _it_ __u__ <script>alert(1)</script> <b>b</b> <img src=x onerror=alert(1)>",
    "[link](javascript:alert(1)) ![img](http://x.example/y.png) [ref]: http://x.example",
    "$$x^2$$ and $y$ and \\(z\\) \\[w\\]",
    "[b]x[/b] [bold red]y[/] [/oops] :smile: :red[x] :material/home: :+1: :streamlit:",
    "Title\n===",
    "Sub\n---",
    "# heading\n- item\n1. one\n> quote\n| a | b |\n|---|---|\n| 1 | 2 |",
    "http://evil.example www.evil.example WWW.Evil.example mail me@evil.example <http://x.com>",
    "&amp; &lt; `code` ~~s~~ ~t~ a\\*b back\\slash [ ] task",
]
#: what no user text may turn into (memory_line's own **speaker**, `time` and list are allowed)
FORBIDDEN = re.compile(
    r"<(a|script|img|h[1-6]|em|del|s|table|blockquote|pre|input|iframe|math)\b"
    r"|class=\"[^\"]*katex|role=\"img\"",
    re.I,
)

PAGE = """
import json, os
from datetime import datetime
import streamlit as st
from schema.retrieval import RetrievedMemory
from ui.render import md, show_steps
texts = json.loads(open(os.environ["HOSTILE_FILE"], encoding="utf-8").read())
for i, t in enumerate(texts):
    with st.container(key=f"plain{i}"):
        st.markdown(md(t))
    m = RetrievedMemory(id="m", kind="turn", text=t, speaker=t,
                        t=datetime.fromisoformat("2024-05-01T10:00:00+00:00"))
    step = {"kind": "retrieve", "think": t, "request": {"keywords": [t]}, "window": t}
    update = {"steps": [step], "memories": [m.model_dump(mode="json")]}
    show_steps("retrieve", update, st.container(key=f"steps{i}"))  # as the chat page calls it
"""


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace(JOIN, "")).strip()


def test_hostile_text_is_shown_as_typed_in_a_real_browser(tmp_path: Path) -> None:
    exe = chromium_path()
    if exe is None:
        pytest.fail(f"Chromium is not installed; install it with: {INSTALL_HINT}")
    from playwright.sync_api import sync_playwright

    page_file, texts = tmp_path / "page.py", tmp_path / "texts.json"
    page_file.write_text(PAGE)
    texts.write_text(json.dumps(HOSTILE))
    env = {
        "HOSTILE_FILE": str(texts),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with serve_streamlit(page_file, env) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(base)
            last = f".st-key-steps{len(HOSTILE) - 1} [data-testid=stMarkdownContainer]"
            page.wait_for_selector(last, timeout=60_000)
            for i, typed in enumerate(HOSTILE):
                plain = page.locator(f".st-key-plain{i} [data-testid=stMarkdownContainer]")
                html = plain.inner_html()
                assert not FORBIDDEN.search(html), (typed, html)
                assert "<strong" not in html and "<code" not in html, (typed, html)
                assert _flat(plain.inner_text()) == _flat(typed), (typed, html)

                steps = page.locator(f".st-key-steps{i}")
                html = steps.inner_html()
                assert not FORBIDDEN.search(html), (typed, html)
                shown = _flat(steps.inner_text())
                # the thinking, the keywords, the window, the speaker and the memory's text
                assert shown.count(_flat(typed)) >= 5, (typed, shown)
        finally:
            browser.close()


# ------------------------------------------------------------------ the chat page (AppTest)
SECRET = "Zorblat said **bold** <script>x</script> [a](javascript:y) $$m$$ [b]z[/b] www.e.example"


@pytest.fixture
def ui_env(
    settings: Settings, neo4j_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("PERSONA_HOME", str(settings.home))
    monkeypatch.setenv("PERSONA_POLICY", "offline")
    monkeypatch.setenv("PERSONA_TIMEZONE", "UTC")
    monkeypatch.delenv("NEO4J_URI", raising=False)
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def test_the_chat_page_shows_a_hostile_turn_through_md(
    ui_env: None, session_store: Any, embedder: Any
) -> None:
    """A turn full of markup, asked about on the chat page: every Markdown element that shows
    it (the memory found, the answer quoting it) holds it escaped by ``md``, never raw."""
    from agent_helpers import Said, seed_sessions

    from ui.render import md

    uid = new_user("uiesc")
    seed_sessions(
        session_store, uid, [[Said(datetime(2024, 5, 1, 10, tzinfo=UTC), SECRET, "[b]Ana[/b]")]]
    )
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["user"] = uid
    at.run()
    at.toggle(key="replay").set_value(True).run()  # ask at a chosen day
    at.date_input(key="asked_day").set_value(datetime(2024, 6, 1).date()).run()
    at.chat_input[0].set_value("What did I say about Zorblat?").run()
    assert not at.exception
    shown = [str(m.value) for m in [*at.markdown, *at.caption] if "Zorblat" in str(m.value)]
    assert len(shown) >= 2, shown  # the question, the memory found (and the answer)
    assert any(md(SECRET) in v for v in shown), shown  # the memory's text, escaped
    for value in shown:
        for raw in ("**bold**", "<script>", "](javascript", "$$m$$", "www.e"):
            assert raw not in value, (raw, value)
