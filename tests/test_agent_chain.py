"""The reasoning chain of the agent against the real store, with a scripted policy.

The seeded data has distinct texts on distinct dates, so the exact memory ids each windowed
retrieval must return are known in advance."""

from __future__ import annotations

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
    text_of,
)

from agent.graph import STOP
from agent.prompts.direct_answer import FORCED
from schema.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)  # a Saturday

AQUARIUM_MARCH = "I visited the aquarium with Lena and we watched the jellyfish."
BREAD_MARCH = "I baked sourdough bread with rye flour for the first time."
AQUARIUM_APRIL = "I went to the aquarium again, the octopus was asleep all day."
HIKE_MAY = "We hiked Mount Monadnock in the pouring rain."
KITCHEN_MAY = "I painted the kitchen walls yellow over the weekend."
CURRENT_USER = "I'm planning a trip to Lisbon in the autumn."
CURRENT_REPLY = "Lisbon is lovely in the autumn, the light is beautiful."

SESSIONS = [
    [
        Said(datetime(2024, 3, 5, 10, 0, tzinfo=UTC), AQUARIUM_MARCH),
        Said(datetime(2024, 3, 20, 18, 0, tzinfo=UTC), BREAD_MARCH),
    ],
    [Said(datetime(2024, 4, 10, 14, 0, tzinfo=UTC), AQUARIUM_APRIL)],
    [
        Said(datetime(2024, 5, 2, 8, 0, tzinfo=UTC), HIKE_MAY),
        Said(datetime(2024, 5, 15, 19, 0, tzinfo=UTC), KITCHEN_MAY),
    ],
    [  # the current session: its last turn 20 minutes before NOW (gap 60 min)
        Said(datetime(2024, 6, 1, 9, 0, tzinfo=UTC), CURRENT_USER),
        Said(datetime(2024, 6, 1, 9, 10, tzinfo=UTC), CURRENT_REPLY, speaker="assistant"),
    ],
]


@pytest.fixture(scope="module")
def chain_user() -> str:
    return new_user("chain")


@pytest.fixture(scope="module")
def seeded(conn: Any, embedder: Any, migrated: Any, chain_user: str) -> dict[str, str]:
    """Read-only for every test here: the agent runs without an update stage."""
    from graph.store import Neo4jMemoryStore

    return seed_sessions(Neo4jMemoryStore(conn, embedder), chain_user, SESSIONS)


@pytest.fixture
def user_id(chain_user: str) -> str:
    return chain_user


def _run(store: Any, settings: Settings, user_id: str, policy: Any, **kw: Any) -> dict[str, Any]:
    return run_agent(
        store=store,
        policy=policy,
        settings=settings,
        user_id=user_id,
        question=kw.pop("question", "What did I do at the aquarium this spring?"),
        now=NOW,
        **kw,
    )


def test_two_windowed_retrievals_return_exactly_the_expected_memories(
    store: Any, settings: Settings, user_id: str, seeded: dict[str, str]
) -> None:
    policy = scripted(
        retrieve(["aquarium", "jellyfish"], "2024-03-01", "2024-04-01"),
        retrieve(["aquarium", "octopus"], "2024-03-01", "2024-05-01"),
        answer("You went to the aquarium on March 5 and again on April 10."),
    )
    state = _run(store, settings, user_id, policy)

    assert kinds(state) == ["think", "retrieve", "think", "retrieve", "answer"]
    first, second = retrieve_steps(state)
    # step 1: everything in March, nothing else
    assert set(first["memory_ids"]) == {seeded[AQUARIUM_MARCH], seeded[BREAD_MARCH]}
    assert first["request"]["start"].startswith("2024-03-01")
    assert first["request"]["end"].startswith("2024-04-01")
    assert first["window"] == "[2024-03-01 00:00 (Friday), 2024-04-01 00:00 (Monday))"
    # step 2: the wider window holds the March turns too, but they were already seen
    assert second["memory_ids"] == [seeded[AQUARIUM_APRIL]]
    assert not set(first["memory_ids"]) & set(second["memory_ids"])
    assert set(state["seen_ids"]) == {
        seeded[AQUARIUM_MARCH],
        seeded[BREAD_MARCH],
        seeded[AQUARIUM_APRIL],
    }
    # outside every window: never returned
    returned = {i for s in retrieve_steps(state) for i in s["memory_ids"]}
    for text in (HIKE_MAY, KITCHEN_MAY, CURRENT_USER, CURRENT_REPLY):
        assert seeded[text] not in returned
    for m in state["memories"]:
        assert (
            datetime(2024, 3, 1, tzinfo=UTC)
            <= datetime.fromisoformat(m["t"])
            < datetime(2024, 5, 1, tzinfo=UTC)
        )
    assert state["answer"] == "You went to the aquarium on March 5 and again on April 10."
    assert len(policy.calls) == 3


def test_memories_go_back_to_the_policy_with_times_and_weekdays(
    store: Any, settings: Settings, user_id: str, seeded: dict[str, str]
) -> None:
    policy = scripted(
        retrieve(["aquarium"], "2024-03-01", "2024-04-01"),
        retrieve(["octopus"], "2024-04-01", "2024-05-01"),
        answer("done"),
    )
    _run(store, settings, user_id, policy)

    after_first = str(policy.calls[1]["messages"][-1].content)
    assert "Memories found (2; window [2024-03-01 00:00 (Friday)" in after_first
    assert f"[5 March 2024, Tuesday 10:00] Ana: {AQUARIUM_MARCH}" in after_first
    assert f"[20 March 2024, Wednesday 18:00] Ana: {BREAD_MARCH}" in after_first
    assert AQUARIUM_APRIL not in after_first
    # the question comes again after the memories, next to where the reply starts
    assert after_first.rsplit("\n\n", 1)[-1] == (
        "Question: What did I do at the aquarium this spring?\nAnswer, or retrieve again (3 left)."
    )
    after_second = str(policy.calls[2]["messages"][-1].content)
    assert f"[10 April 2024, Wednesday 14:00] Ana: {AQUARIUM_APRIL}" in after_second
    assert AQUARIUM_MARCH not in after_second  # already shown: not repeated
    # the transcript grows: the policy's own earlier replies are part of what it sees
    assert [m.type for m in policy.calls[2]["messages"]] == [
        "system",
        "human",
        "ai",
        "human",
        "ai",
        "human",
    ]


def test_every_policy_call_stops_at_the_closing_tags(
    store: Any, settings: Settings, user_id: str, seeded: dict[str, str]
) -> None:
    policy = scripted(retrieve(["bread"]), answer("You baked sourdough."))
    _run(store, settings, user_id, policy)
    assert STOP == ["</retrieve>", "</answer>"]
    assert len(policy.calls) == 2
    for call in policy.calls:
        assert call["stop"] == ["</retrieve>", "</answer>"]


def test_first_prompt_has_the_current_session_but_not_older_sessions(
    store: Any, settings: Settings, user_id: str, seeded: dict[str, str]
) -> None:
    policy = scripted(answer("Have a nice trip!"))
    state = _run(store, settings, user_id, policy, question="Any tips for my trip?")
    prompt = text_of(policy.calls[0]["messages"])
    assert "Recent turns of this session:" in prompt
    assert f"[1 June 2024, Saturday 09:00] Ana: {CURRENT_USER}" in prompt
    assert f"[1 June 2024, Saturday 09:10] assistant: {CURRENT_REPLY}" in prompt
    for older in (AQUARIUM_MARCH, BREAD_MARCH, AQUARIUM_APRIL, HIKE_MAY, KITCHEN_MAY):
        assert older not in prompt
    assert "Question (asked 1 June 2024, Saturday 09:30" in prompt
    assert "Any tips for my trip?" in prompt
    assert kinds(state) == ["answer"]


def test_no_recent_turns_once_the_session_gap_has_passed(
    store: Any, settings: Settings, user_id: str, seeded: dict[str, str]
) -> None:
    policy = scripted(answer("ok"))
    run_agent(
        store=store,
        policy=policy,
        settings=settings,
        user_id=user_id,
        question="Hello again",
        now=datetime(2024, 6, 1, 12, 0, tzinfo=UTC),  # 170 minutes after the last turn
    )
    prompt = text_of(policy.calls[0]["messages"])
    assert CURRENT_USER not in prompt
    # reason_start/3 leaves an empty section out rather than spend tokens saying it is empty
    assert "Recent turns of this session:" not in prompt
    assert "Question (asked 1 June 2024, Saturday 12:00" in prompt


def test_max_steps_bounds_the_loop_then_a_forced_answer(
    store: Any, settings: Settings, user_id: str, seeded: dict[str, str]
) -> None:
    limited = settings.model_copy(update={"max_steps": 3})
    counter = iter(range(100))

    def always_retrieve(_messages: Any) -> str:
        return retrieve([f"topic{next(counter)}", "aquarium"])

    policy = scripted(
        always_retrieve, always_retrieve, always_retrieve, answer("Forced: aquarium.")
    )
    state = _run(store, limited, user_id, policy)

    assert kinds(state) == ["think", "retrieve", "think", "retrieve", "think", "forced"]
    assert len(policy.calls) == 4  # max_steps thinks + one forced answer
    assert FORCED in str(policy.calls[-1]["messages"][-1].content)
    assert state["answer"] == "Forced: aquarium."
    assert len(retrieve_steps(state)) == limited.max_steps - 1


def test_unusable_forced_answer_falls_back_to_the_memories(
    store: Any, settings: Settings, user_id: str, seeded: dict[str, str]
) -> None:
    limited = settings.model_copy(update={"max_steps": 2})
    policy = scripted(default=retrieve(["aquarium"], "2024-03-01", "2024-04-01"))
    state = _run(store, limited, user_id, policy)
    assert kinds(state) == ["think", "retrieve", "think", "forced"]
    assert len(policy.calls) == 3
    forced = state["steps"][-1]
    assert forced["note"] and "unusable" in forced["note"]
    assert state["answer"].startswith("I could not finish reasoning")
    assert AQUARIUM_MARCH in state["answer"]


def test_a_user_never_sees_another_users_memories(
    store: Any, settings: Settings, user_id: str, seeded: dict[str, str]
) -> None:
    other = new_user("other")
    secret = "The secret word for the Zanzibar aquarium is periwinkle."
    other_ids = seed_sessions(
        store, other, [[Said(datetime(2024, 3, 6, 9, 0, tzinfo=UTC), secret)]]
    )
    policy = scripted(
        retrieve(["Zanzibar", "periwinkle", "aquarium"]),
        retrieve(["aquarium", "secret"], "2024-03-01", "2024-04-01"),
        answer("Nothing secret."),
    )
    state = _run(store, settings, user_id, policy, question="What is the Zanzibar secret word?")
    returned = {i for s in retrieve_steps(state) for i in s["memory_ids"]} | set(state["seen_ids"])
    assert returned, "the user's own memories are still found"
    assert returned <= set(seeded.values())
    assert other_ids[secret] not in returned
    for call in policy.calls:
        assert "periwinkle" not in text_of(call["messages"])
    # and the other user, asking the same, gets exactly their own memory
    policy2 = scripted(retrieve(["Zanzibar", "periwinkle", "aquarium"]), answer("periwinkle"))
    state2 = _run(store, settings, other, policy2, question="What is the Zanzibar secret word?")
    assert retrieve_steps(state2)[0]["memory_ids"] == [other_ids[secret]]


@pytest.mark.parametrize("with_question", [True, False])
def test_the_question_joins_the_keywords_in_the_search(
    store: Any, settings: Settings, user_id: str, seeded: dict[str, str], with_question: bool
) -> None:
    """A small policy's keywords drop words; the question's own text keeps them in the query
    (query_with_question). Here the keywords say only "weekend" and the question asks about
    bread: the top memory is the bread with the question and the weekend's kitchen without."""
    s = settings.model_copy(update={"query_with_question": with_question})
    policy = scripted(retrieve(["weekend"], k=1), answer("Sourdough."))
    state = _run(store, s, user_id, policy, question="What kind of bread did I bake?")
    (step,) = retrieve_steps(state)
    top = seeded[BREAD_MARCH] if with_question else seeded[KITCHEN_MAY]
    assert step["memory_ids"] == [top]


WHEN_BREAD = "When did I bake sourdough bread?"
#: asked on 1 June 2024 about bread baked on 20 March: 73 days, about 2 months
AGO_BREAD = "How long ago did I bake sourdough bread?"


@pytest.mark.parametrize(
    ("question", "said", "final"),
    [
        (WHEN_BREAD, "the other day", "20 March 2024"),  # no date at all
        (WHEN_BREAD, "In 2024.", "20 March 2024"),  # a year is not a calendar date
        (WHEN_BREAD, "On 2 January 2019.", "20 March 2024"),  # a date no memory is near
        (WHEN_BREAD, "On 20 March 2024.", "On 20 March 2024."),  # dated and supported: kept
        (WHEN_BREAD, "I don't know.", "I don't know."),  # an abstention stays one
        # how long ago: a date becomes a duration to the question's day, the date kept
        (AGO_BREAD, "On 20 March 2024.", "about 2 months ago (on 20 March 2024)"),
        (AGO_BREAD, "the other day", "about 2 months ago (20 March 2024)"),  # the memory's date
        (AGO_BREAD, "About ten weeks ago.", "About ten weeks ago."),  # a duration: kept
        (AGO_BREAD, "I don't know.", "I don't know."),
    ],
)
def test_a_time_answer_names_a_date_or_duration_the_memories_support(
    store: Any,
    settings: Settings,
    user_id: str,
    seeded: dict[str, str],
    question: str,
    said: str,
    final: str,
) -> None:
    policy = scripted(retrieve(["sourdough", "bread"]), answer(said))
    state = _run(store, settings, user_id, policy, question=question)

    assert state["answer"] == final
    grounded = [s for s in state["steps"] if s["kind"] == "grounded"]
    if final == said:
        assert not grounded
        return
    assert kinds(state) == ["think", "retrieve", "answer", "grounded"]
    assert grounded[0]["replaced"] == said
    # the note says where the date came from: the memory (when), or the question's day (how long)
    source = "20 March 2024" if question == WHEN_BREAD else "1 June 2024"
    assert source in grounded[0]["note"]
    # turned off (training rollouts): the model's own answer stands
    plain = settings.model_copy(update={"ground_when": False})
    policy = scripted(retrieve(["sourdough", "bread"]), answer(said))
    again = _run(store, plain, user_id, policy, question=question)
    assert again["answer"] == said
    assert "grounded" not in kinds(again)


def test_a_how_long_has_answer_takes_the_duration_a_memory_states(
    store: Any, settings: Settings
) -> None:
    user = new_user("lasted")
    said = "I've been playing the violin for about four months now."
    seed_sessions(store, user, [[Said(datetime(2023, 12, 6, 17, 34, tzinfo=UTC), said)]])
    question = "How long has Tim been playing the violin?"
    policy = scripted(retrieve(["violin"]), answer("since August"))
    state = _run(store, settings, user, policy, question=question)
    assert state["answer"] == "about four months (as of 6 December 2023)"
    # a model that names a duration keeps its own
    policy = scripted(retrieve(["violin"]), answer("Four months."))
    assert _run(store, settings, user, policy, question=question)["answer"] == "Four months."
