"""Every Streamlit page through streamlit.testing.v1.AppTest (headless, in-process), against
the test Neo4j with the offline policy: the chat answers and shows its steps and memories, the
explorer draws a bounded graph, analytics draws its charts, memory admin previews before it
forgets. Bad input gets a message on the page, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from agent_helpers import ingest_sample, new_user
from streamlit.testing.v1 import AppTest

from schema.settings import Settings

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"


@pytest.fixture
def ui_env(
    settings: Settings, neo4j_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The app reads its settings from the environment: point it at the test server."""
    monkeypatch.setenv("PERSONA_HOME", str(settings.home))
    monkeypatch.setenv("PERSONA_POLICY", "offline")
    monkeypatch.setenv("PERSONA_TIMEZONE", "UTC")
    monkeypatch.delenv("NEO4J_URI", raising=False)
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def sam(session_store: Any, embedder: Any) -> str:
    return ingest_sample(session_store, embedder, new_user("uisam"))


def _app(user: str | None = None, **params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    if user:
        at.query_params["user"] = user
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += (
        [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    )
    return "\n".join(str(p) for p in parts).replace("\\", "")  # as shown: escapes removed


def test_chat_page_comes_first_and_asks_for_a_user(ui_env: None) -> None:
    at = _app()
    assert not at.exception
    assert at.title[0].value == "Chat"
    assert "Pick a user" in _text(at)


def test_the_user_lives_in_the_url(ui_env: None, sam: str) -> None:
    at = _app(sam)
    assert not at.exception
    assert at.session_state["user"] == sam
    assert "offline" in _text(at)  # which policy answers is always shown


def test_chat_answers_with_steps_and_memories(ui_env: None, sam: str) -> None:
    at = _app(sam)
    at.toggle(key="replay").set_value(True).run()
    at.date_input(key="asked_day").set_value(__import__("datetime").date(2024, 9, 10)).run()
    at.chat_input[0].set_value("Which dentist did I see in July 2024?").run()
    assert not at.exception
    text = _text(at)
    assert "retrieve" in text and "2024-07-01" in text  # the window the policy chose
    assert "Nguyen" in text  # the memory and the answer
    assert "[offline policy]" in text
    assert "remembered:" in text  # what the update stage stored


def test_explorer_draws_a_bounded_graph(ui_env: None, sam: str) -> None:
    at = _app(sam)
    at.switch_page("views/explorer.py").run()
    assert not at.exception
    graph = at.get("component_instance")
    assert graph, "the graph component is on the page"
    assert "showing" in _text(at) and " of " in _text(at)


def test_explorer_bounds_the_view_and_says_so(ui_env: None, sam: str) -> None:
    at = _app(sam, n="10")
    at.switch_page("views/explorer.py").run()
    assert not at.exception
    assert "showing 10 of" in _text(at) and "bounded" in _text(at)


def test_explorer_refuses_a_window_that_ends_before_it_starts(ui_env: None, sam: str) -> None:
    at = _app(sam)
    at.switch_page("views/explorer.py").run()
    import datetime

    at.date_input(key="from").set_value(datetime.date(2024, 9, 1)).run()
    at.date_input(key="to").set_value(datetime.date(2024, 3, 1)).run()
    assert not at.exception
    assert "is not before its end" in _text(at)


def test_analytics_draws_charts(ui_env: None, sam: str) -> None:
    at = _app(sam)
    at.switch_page("views/analytics.py").run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 1  # only the open tab runs: activity
    assert not at.dataframe


@pytest.mark.parametrize(
    ("tab", "charts", "tables"),
    [("Topics", 1, 0), ("What changed", 0, 2), ("Entities", 1, 1)],
)
def test_each_analytics_tab_draws_its_section(
    ui_env: None, sam: str, tab: str, charts: int, tables: int
) -> None:
    """The open tab lives in the URL, so a link reopens the same section."""
    at = _app(sam, tab=tab)
    at.switch_page("views/analytics.py").run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == charts
    assert len(at.dataframe) == tables


def test_an_as_of_date_is_answered_above_the_tabs(ui_env: None, sam: str) -> None:
    at = _app(sam, asof="2024-08-01")
    at.switch_page("views/analytics.py").run()
    assert not at.exception
    assert "True as of 2024-08-01" in _text(at)
    assert len(at.get("vega_lite_chart")) == 1  # the open tab is still the default one


def test_analytics_of_a_user_without_memories(ui_env: None) -> None:
    at = _app("nobody-" + new_user())
    at.switch_page("views/analytics.py").run()
    assert not at.exception
    assert "has no memories" in _text(at)


def test_memory_admin_previews_then_forgets(
    ui_env: None, session_store: Any, embedder: Any
) -> None:
    uid = ingest_sample(session_store, embedder, new_user("uiforget"))
    at = _app(uid)
    at.switch_page("views/memory.py").run()
    assert not at.exception
    session = session_store.sessions(uid)[0].id
    at.radio[0].set_value("a session").run()
    assert not at.exception, at.exception
    next(b for b in at.selectbox if b.label == "session").set_value(session).run()
    at.button[0].click().run()  # preview
    assert "removes" in _text(at)
    assert session_store.sessions(uid)[0].id == session  # nothing removed yet
    forget = next(b for b in at.button if b.label == "Forget")
    assert forget.disabled  # the confirmation comes first
    at.checkbox[0].check().run()
    next(b for b in at.button if b.label == "Forget").click().run()
    assert not at.exception
    assert "Forgot" in " ".join(s.value for s in at.success)
    assert session not in {s.id for s in session_store.sessions(uid)}


def test_server_down_shows_how_to_start_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NEO4J_PASSWORD", "x")
    st.cache_resource.clear()
    try:
        at = _app("sam")
        assert not at.exception
        text = _text(at)
        assert "Neo4j is not reachable" in text and "persona db start" in text
    finally:
        st.cache_resource.clear()


def _shown(at: AppTest) -> str:
    """The page's text as a person reads it (escapes and invisible word joiners removed)."""
    return _text(at).replace("\u2060", "")


def test_chat_shows_the_facts_and_supersessions_the_update_stored(ui_env: None) -> None:
    """After each answer the page says WHAT was stored, not only how much: the fact's
    statement, and for a changed fact what was true and what is true now."""
    at = _app(new_user("uichange"))
    at.chat_input[0].set_value("I live in Lisbon with my sister and her two cats.").run()
    assert not at.exception
    first = _shown(at)
    assert "remembered: 2 turns, 1 fact, 0 supersessions" in first
    fact = next(line for line in first.splitlines() if line.startswith("fact: "))
    assert "Lisbon" in fact and "sister" in fact
    at.chat_input[0].set_value("I live in Denver now, in a small flat near the park.").run()
    assert not at.exception
    text = _shown(at)
    assert "1 fact, 1 supersession" in text
    change = next(line for line in text.splitlines() if line.startswith("no longer true: "))
    old, new = change.split(" → now: ")
    assert "Lisbon" in old and "Denver" not in old
    assert "Denver" in new and "Lisbon" not in new


def _scripted_reply(messages: Any) -> str:
    """The answering policy and the LLM extractors in one scripted model (no model runs):
    an answer for the agent, no fact, and a high-openness reading of the message."""
    system = str(messages[0].content)
    if "Big Five" in system:
        return '{"openness": 5, "neuroticism": 2}'
    if "long-term semantic memory" in system:
        return '{"keep": false}'
    return "<think>Nothing to look up.</think><answer>How lovely.</answer>"


def test_chat_shows_the_personality_change_trait_by_trait(
    ui_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.policies import ScriptedChatModel

    model = ScriptedChatModel(default=_scripted_reply)
    monkeypatch.setattr("pipelines.app.build_policy", lambda _s: model)
    monkeypatch.setenv("PERSONA_EXTRACTOR", "llm")
    at = _app(new_user("uitraits"))
    at.chat_input[0].set_value("I spent the weekend painting and reading poetry.").run()
    assert not at.exception
    text = _shown(at)
    assert "How lovely." in text
    line = next(x for x in text.splitlines() if x.startswith("personality step 1 "))
    # the first step weighs 0.5 (PEM's default ceiling), from the neutral 3.0
    assert line == (
        "personality step 1 (weight 0.50): openness 3.00 → 4.00 (+1.00), "
        "neuroticism 3.00 → 2.50 (-0.50)"
    )


@pytest.fixture(scope="module")
def ana(session_store: Any) -> tuple[str, dict[str, str]]:
    """Three weeks from 2024-03-04: Lisbon -> Denver, running -> swimming, two snapshots."""
    from agent_helpers import seed_timeline

    uid = new_user("uiana")
    return uid, seed_timeline(session_store, uid)


def test_analytics_big_five_tab_shows_trajectory_drift_and_evidence(
    ui_env: None, ana: tuple[str, dict[str, str]]
) -> None:
    uid, _ = ana
    at = _app(uid, tab="Big Five")
    at.switch_page("views/analytics.py").run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 1  # the trajectory
    (metric,) = at.metric
    # over all time, from the neutral 3.0: openness 3.0 -> 3.4 -> 4.2, each turn's share
    assert metric.label == "moved most: openness" and metric.value == "+1.20"
    text = _shown(at)
    assert "+0.80 after: I moved to Denver today." in text
    assert "+0.40 after: I live in Lisbon." in text
    (evidence,) = at.dataframe
    assert list(evidence.value["evidence turn"]) == [
        "I live in Lisbon.",
        "I moved to Denver today.",
    ]


def test_analytics_says_when_the_window_ends_before_it_starts(
    ui_env: None, ana: tuple[str, dict[str, str]]
) -> None:
    uid, _ = ana
    at = _app(uid, **{"from": "2024-03-20", "to": "2024-03-01"})
    at.switch_page("views/analytics.py").run()
    assert not at.exception
    assert "is not before its end" in _shown(at) and "swap or clear them" in _shown(at)
    assert not at.get("vega_lite_chart") and not at.tabs  # nothing drawn from a bad window


@pytest.mark.parametrize(
    ("params", "said", "texts"),
    [
        ({"to": "2024-03-05"}, "before 2024-03-05", {"I live in Lisbon.", "Ana lives in Lisbon."}),
        (
            {"from": "2024-03-18"},
            "after 2024-03-18",
            {"Denver is sunny.", "Ana swims on Thursdays."},
        ),
        (
            {"from": "2024-03-10", "to": "2024-03-12"},
            "between 2024-03-10 and 2024-03-12",
            {"I moved to Denver today.", "Ana lives in Denver."},
        ),
    ],
    ids=["before", "after", "between"],
)
def test_analytics_lists_memories_before_after_and_between(
    ui_env: None,
    ana: tuple[str, dict[str, str]],
    params: dict[str, str],
    said: str,
    texts: set[str],
) -> None:
    uid, _ = ana
    at = _app(uid, tab="Before / after", **params)
    at.switch_page("views/analytics.py").run()
    assert not at.exception
    (table,) = at.dataframe
    listed = set(table.value["text"])
    assert texts <= listed
    assert f"{len(listed)} memories {said}" in _shown(at)
    others = {"I live in Lisbon.", "I moved to Denver today.", "Denver is sunny."} - texts
    assert not others & listed  # nothing from outside the window


def test_analytics_gives_the_duration_between_two_memories(
    ui_env: None, ana: tuple[str, dict[str, str]]
) -> None:
    uid, ids = ana
    at = _app(uid, tab="Before / after")
    at.switch_page("views/analytics.py").run()
    assert not at.exception
    assert "Set from" in _shown(at).replace("*", "")  # no window: how to get a listing
    at.selectbox(key="dur_a").set_value(ids["Denver is sunny."]).run()
    at.selectbox(key="dur_b").set_value(ids["I live in Lisbon."]).run()
    assert not at.exception
    (metric,) = at.metric
    assert metric.value == "14 days earlier"  # the second came two weeks before the first
    at.selectbox(key="dur_b").set_value(ids["I moved to Denver today."]).run()
    assert at.metric[0].value == "7 days earlier"
    assert "from 2024-03-18 10:01 (Monday) to 2024-03-11 10:00 (Monday)" in _shown(at)
