"""Malformed policy outputs: every FailureMode is recognised by the parser, and the agent
survives every non-tolerated one (and a crashing or silent policy) with a non-empty answer,
taking the named fallback: one repair request, then a retrieve with the question as keywords,
then a forced answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from agent_helpers import (
    Said,
    answer,
    kinds,
    new_user,
    retrieve,
    retrieve_steps,
    run_agent,
    scripted,
    seed_sessions,
)
from langchain_core.messages import BaseMessage

from agent.parsing import parse_output
from schema.agent import FailureMode
from schema.settings import Settings

NOW = datetime(2024, 9, 11, 12, 0, tzinfo=UTC)  # a Wednesday
QUESTION = "Where did I put the spare key to the garden shed?"

# (output, expected action, expected issues in order) for each failure mode
CASES: dict[FailureMode, tuple[str, str, list[FailureMode]]] = {
    FailureMode.EMPTY_OUTPUT: ("   \n", "invalid", [FailureMode.EMPTY_OUTPUT]),
    FailureMode.MISSING_ACTION: (
        "<think>Let me think about the shed.</think> Probably under the mat.",
        "invalid",
        [FailureMode.MISSING_ACTION],
    ),
    FailureMode.INVALID_JSON: (
        "<think>search</think><retrieve>keywords: shed key</retrieve>",
        "invalid",
        [FailureMode.INVALID_JSON],
    ),
    FailureMode.INVALID_REQUEST: (
        '<think>search</think><retrieve>{"keywords": ["shed"], "k": 0}</retrieve>',
        "invalid",
        [FailureMode.INVALID_REQUEST],
    ),
    FailureMode.EMPTY_ANSWER: (
        "<think>done</think><answer>   </answer>",
        "invalid",
        [FailureMode.EMPTY_ANSWER],
    ),
    FailureMode.EMPTY_KEYWORDS: (
        '<think>search</think><retrieve>{"keywords": [" ", ""]}</retrieve>',
        "invalid",
        [FailureMode.EMPTY_KEYWORDS],
    ),
    FailureMode.MISSING_THINK: (
        "<answer>Under the flower pot.</answer>",
        "answer",
        [FailureMode.MISSING_THINK],
    ),
    FailureMode.UNCLOSED_TAG: (
        # generation stopped at </retrieve>, which the server left out
        '<think>search</think><retrieve>{"keywords": ["shed", "key"]}',
        "retrieve",
        [FailureMode.UNCLOSED_TAG],
    ),
    FailureMode.EXTRA_TEXT: (
        "Sure! <think>easy</think><answer>Under the flower pot.</answer>",
        "answer",
        [FailureMode.EXTRA_TEXT],
    ),
    FailureMode.BOTH_ACTIONS: (
        '<think>x</think><retrieve>{"keywords": ["shed"]}</retrieve><answer>pot</answer>',
        "retrieve",
        [FailureMode.BOTH_ACTIONS],
    ),
    FailureMode.INVALID_DATE: (
        '<think>x</think><retrieve>{"keywords": ["shed"], "start": "blorptember", '
        '"end": "2024-09-01"}</retrieve>',
        "retrieve",
        [FailureMode.INVALID_DATE],
    ),
    FailureMode.REVERSED_DATES: (
        '<think>x</think><retrieve>{"keywords": ["shed"], "start": "2024-08-01", '
        '"end": "2024-07-01"}</retrieve>',
        "retrieve",
        [FailureMode.REVERSED_DATES],
    ),
    FailureMode.RELATIVE_DATE: (
        '<think>x</think><retrieve>{"keywords": ["shed"], "start": "last week"}</retrieve>',
        "retrieve",
        [FailureMode.RELATIVE_DATE],
    ),
    FailureMode.EMPTY_WINDOW: (
        '<think>x</think><retrieve>{"keywords": ["shed"], "start": "2024-07-01", '
        '"end": "2024-07-01"}</retrieve>',
        "retrieve",
        [FailureMode.EMPTY_WINDOW],
    ),
}

NOT_TOLERATED = [m for m in FailureMode if not m.tolerated]


def test_every_failure_mode_has_a_case() -> None:
    assert set(CASES) == set(FailureMode)
    assert set(NOT_TOLERATED) == {
        FailureMode.EMPTY_OUTPUT,
        FailureMode.MISSING_ACTION,
        FailureMode.INVALID_JSON,
        FailureMode.INVALID_REQUEST,
        FailureMode.EMPTY_ANSWER,
        FailureMode.EMPTY_KEYWORDS,
    }


@pytest.mark.parametrize("mode", list(FailureMode), ids=lambda m: m.value)
def test_parser_recognises(mode: FailureMode) -> None:
    text, action, issues = CASES[mode]
    parsed = parse_output(text, now=NOW, tz=UTC)
    assert parsed.action == action
    assert parsed.issues == issues
    assert mode in parsed.issues
    if mode.tolerated:
        assert parsed.ok and parsed.error is None
    else:
        assert not parsed.ok and parsed.error


def test_parser_repairs_tolerated_modes_in_place() -> None:
    def p(mode: FailureMode) -> Any:
        return parse_output(CASES[mode][0], now=NOW, tz=UTC)

    assert p(FailureMode.MISSING_THINK).answer == "Under the flower pot."
    assert p(FailureMode.EXTRA_TEXT).answer == "Under the flower pot."
    unclosed = p(FailureMode.UNCLOSED_TAG)
    assert unclosed.retrieve is not None and unclosed.retrieve.keywords == ["shed", "key"]
    both = p(FailureMode.BOTH_ACTIONS)
    assert both.retrieve is not None and both.answer is None  # the first action wins
    bad_date = p(FailureMode.INVALID_DATE)
    assert bad_date.start is None and bad_date.end == datetime(2024, 9, 1, tzinfo=UTC)
    rev = p(FailureMode.REVERSED_DATES)
    assert (rev.start, rev.end) == (
        datetime(2024, 7, 1, tzinfo=UTC),
        datetime(2024, 8, 1, tzinfo=UTC),
    )
    empty = p(FailureMode.EMPTY_WINDOW)
    assert (empty.start, empty.end) == (
        datetime(2024, 7, 1, tzinfo=UTC),
        datetime(2024, 7, 2, tzinfo=UTC),
    )


def test_parser_resolves_relative_dates_against_the_query_time_not_the_clock() -> None:
    text = retrieve(["a"], "last week", "last week", think="x")
    parsed = parse_output(text, now=NOW, tz=UTC)
    # NOW is Wednesday 2024-09-11: last week = Monday 2024-09-02 .. Monday 2024-09-09
    assert parsed.start == datetime(2024, 9, 2, tzinfo=UTC)
    assert parsed.end == datetime(2024, 9, 9, tzinfo=UTC)
    later = parse_output(text, now=datetime(2023, 1, 18, 8, tzinfo=UTC), tz=UTC)
    assert later.start == datetime(2023, 1, 9, tzinfo=UTC)
    assert later.end == datetime(2023, 1, 16, tzinfo=UTC)


def test_parser_never_raises_on_garbage() -> None:
    for text in (None, "<think>", "</answer><answer>", "<retrieve>{{{</retrieve>", "<<>>" * 50):
        parsed = parse_output(text, now=NOW, tz=UTC)
        assert parsed.action in ("retrieve", "answer", "invalid")


# ------------------------------------------------------------------------------ end to end
KEY_MEMORY = "I hid the spare key to the garden shed under the blue flower pot."
SHED_MEMORIES = [
    [
        Said(datetime(2024, 9, 3, 17, 0, tzinfo=UTC), KEY_MEMORY),  # last week
        Said(datetime(2024, 9, 3, 17, 1, tzinfo=UTC), "Good idea.", speaker="assistant"),
    ],
    [Said(datetime(2024, 8, 28, 9, 0, tzinfo=UTC), "The garden shed roof leaks again.")],
]


@pytest.fixture(scope="module")
def shed_user(conn: Any, embedder: Any, migrated: Any) -> tuple[str, dict[str, str]]:
    """Read-only: the agent runs without an update stage here."""
    from graph.store import Neo4jMemoryStore

    uid = new_user("shed")
    return uid, seed_sessions(Neo4jMemoryStore(conn, embedder), uid, SHED_MEMORIES)


def _run(store: Any, settings: Settings, uid: str, policy: Any) -> dict[str, Any]:
    return run_agent(
        store=store, policy=policy, settings=settings, user_id=uid, question=QUESTION, now=NOW
    )


def _assert_named_fallback(state: dict[str, Any], policy: Any) -> None:
    assert kinds(state) == ["repair", "fallback", "retrieve", "fallback", "forced"]
    repair = state["steps"][0]
    assert repair["note"].startswith("asked the model to fix")
    # exactly one repair request reached the model, right after the first bad output
    repair_prompts = [
        c
        for c in policy.calls
        if "Your last reply could not be used" in str(c["messages"][-1].content)
    ]
    assert len(repair_prompts) == 1 and repair_prompts[0] is policy.calls[1]
    # then a retrieve with the question itself as the keywords
    (fallback_retrieve,) = retrieve_steps(state)
    assert fallback_retrieve["request"]["keywords"] == [QUESTION]
    assert fallback_retrieve["request"]["fallback"] is True
    assert fallback_retrieve["window"] == "all time"
    assert "answering now" in state["steps"][3]["note"]
    assert len(policy.calls) == 4  # bad, repair, bad after retrieve, forced
    assert state["answer"].strip()


@pytest.mark.integration
@pytest.mark.parametrize("mode", NOT_TOLERATED, ids=lambda m: m.value)
def test_agent_survives_non_tolerated_output(
    mode: FailureMode, store: Any, settings: Settings, shed_user: tuple[str, dict[str, str]]
) -> None:
    uid, ids = shed_user
    policy = scripted(default=CASES[mode][0])
    state = _run(store, settings, uid, policy)
    _assert_named_fallback(state, policy)
    assert mode.value in state["steps"][0]["issues"]
    # the question-as-keywords retrieval found the key memory, and the answer quotes it
    assert ids[KEY_MEMORY] in retrieve_steps(state)[0]["memory_ids"]
    assert state["answer"].startswith("I could not finish reasoning")
    assert KEY_MEMORY in state["answer"]


@pytest.mark.integration
def test_agent_recovers_after_one_repair(
    store: Any, settings: Settings, shed_user: tuple[str, dict[str, str]]
) -> None:
    uid, _ = shed_user
    policy = scripted(CASES[FailureMode.INVALID_JSON][0], answer("Under the blue flower pot."))
    state = _run(store, settings, uid, policy)
    assert kinds(state) == ["repair", "answer"]
    assert state["answer"] == "Under the blue flower pot."
    assert "not JSON" in str(policy.calls[1]["messages"][-1].content)


@pytest.mark.integration
def test_policy_that_raises_never_breaks_the_run(
    store: Any, settings: Settings, shed_user: tuple[str, dict[str, str]]
) -> None:
    uid, ids = shed_user
    calls: list[int] = []

    def boom(_messages: Sequence[BaseMessage]) -> str:
        calls.append(1)
        raise RuntimeError("the model server is on fire")

    policy = scripted(default=boom)
    state = _run(store, settings, uid, policy)
    _assert_named_fallback(state, policy)
    assert len(calls) == 4
    assert "missing_action" in state["steps"][0]["issues"]
    assert ids[KEY_MEMORY] in retrieve_steps(state)[0]["memory_ids"]
    assert KEY_MEMORY in state["answer"]


@pytest.mark.integration
def test_policy_that_always_returns_nothing(
    store: Any, settings: Settings, shed_user: tuple[str, dict[str, str]]
) -> None:
    uid, _ = shed_user
    policy = scripted(default="")
    state = _run(store, settings, uid, policy)
    _assert_named_fallback(state, policy)
    assert state["steps"][0]["issues"] == ["empty_output"]


@pytest.mark.integration
def test_silent_policy_without_memories_still_answers(store: Any, settings: Settings) -> None:
    policy = scripted(default="")
    state = _run(store, settings, new_user("empty"), policy)
    _assert_named_fallback(state, policy)
    assert retrieve_steps(state)[0]["memory_ids"] == []
    assert state["answer"] == "I don't have any memory that answers this."


@pytest.mark.integration
def test_relative_window_in_the_retrieve_json_uses_the_query_time(
    store: Any, settings: Settings, shed_user: tuple[str, dict[str, str]]
) -> None:
    uid, ids = shed_user
    policy = scripted(
        retrieve(["garden", "shed"], "last week", "last week"),
        answer("Under the blue flower pot."),
    )
    state = _run(store, settings, uid, policy)
    (step,) = retrieve_steps(state)
    assert step["request"]["start"] == "2024-09-02T00:00:00+00:00"
    assert step["request"]["end"] == "2024-09-09T00:00:00+00:00"
    assert step["window"] == "[2024-09-02 00:00 (Monday), 2024-09-09 00:00 (Monday))"
    assert "relative_date" in state["steps"][0]["issues"]
    # only last week's memories (Sep 3), not the one from Aug 28
    assert set(step["memory_ids"]) == {ids[KEY_MEMORY], ids["Good idea."]}


@pytest.mark.integration
def test_a_transport_failure_is_an_error_not_malformed_output(
    store: Any,
    settings: Settings,
    shed_user: tuple[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model server not answering is retried with backoff, then a clear error that says
    how to fix it; it never goes down the repair path as if the model had written garbage."""
    import agent.policies.calls as graph_mod
    from schema.errors import PolicyUnavailable

    monkeypatch.setattr(graph_mod, "RETRIES", (0.0, 0.0))
    uid, _ = shed_user
    calls: list[int] = []

    def refused(_messages: Sequence[BaseMessage]) -> str:
        calls.append(1)
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(PolicyUnavailable) as exc:
        _run(store, settings, uid, scripted(default=refused))
    assert len(calls) == 3  # the first try and two retries
    assert "did not answer after 3 tries" in exc.value.message
    assert exc.value.hint and "PERSONA_OPENAI_BASE_URL" in exc.value.hint


@pytest.mark.integration
def test_a_flaky_transport_recovers_on_retry(
    store: Any,
    settings: Settings,
    shed_user: tuple[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agent.policies.calls as graph_mod

    monkeypatch.setattr(graph_mod, "RETRIES", (0.0, 0.0))
    uid, _ = shed_user
    script = iter([ConnectionResetError("reset"), answer("Under the blue flower pot.")])

    def flaky(_messages: Sequence[BaseMessage]) -> str:
        item = next(script)
        if isinstance(item, Exception):
            raise item
        return item

    state = _run(store, settings, uid, scripted(default=flaky))
    assert kinds(state) == ["answer"] and state["answer"] == "Under the blue flower pot."
