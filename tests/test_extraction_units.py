"""Model-free extraction: first-person facts from user turns, third-person rewrite, slots,
supersession planning, and topic segmentation that covers every turn exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent.extraction.episodes import HeuristicSegmenter
from agent.extraction.facts import HeuristicFactExtractor, slot_of
from agent.extraction.linking import link_topics_and_entities
from agent.extraction.text import keywords, sentences, third_person
from agent.extraction.updates import normalise, plan_fact_updates
from schema.nodes import Fact, Session, Turn, make_id

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
USER = "alice"
SID = "session-x"


def _turn(i: int, text: str, role: str = "user", speaker: str = "Sam", **kw: object) -> Turn:
    return Turn(
        id=make_id("turn", USER, SID, i),
        user_id=USER,
        session_id=SID,
        index=i,
        role=role,  # type: ignore[arg-type]
        speaker=speaker,
        text=text,
        t=kw.pop("t", T0 + timedelta(minutes=i)),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


# ----------------------------------------------------------------------------- facts
def test_facts_come_from_user_turns_only() -> None:
    turns = [
        _turn(0, "I live in Boston and I work as a nurse at Mass General."),
        _turn(1, "I live in Paris and I work as a chef at a bistro.", "assistant", "Bot"),
        _turn(2, "I live in Rome and I paint landscapes every weekend.", "other", "Ana"),
    ]
    facts = HeuristicFactExtractor().extract(USER, turns)
    assert facts, "a first-person user statement gives a fact"
    assert {tuple(f.turn_ids) for f in facts} == {(turns[0].id,)}
    assert all("Paris" not in f.text and "Rome" not in f.text for f in facts)
    fact = facts[0]
    assert fact.user_id == USER
    assert fact.t == fact.valid_from == turns[0].t
    assert fact.status == "active" and fact.valid_to is None
    assert fact.source == "heuristic"


def test_fact_statement_is_in_the_third_person() -> None:
    facts = HeuristicFactExtractor().extract(
        USER, [_turn(0, "I adopted a beagle called Pepper and I love my dog.")]
    )
    assert len(facts) == 1
    text = facts[0].text
    assert text.startswith("Sam adopted a beagle")
    assert "Sam loves Sam's dog" in text
    assert " I " not in f" {text} " and " my " not in f" {text} "


@pytest.mark.parametrize(
    "text",
    [
        "Do I live in Boston?",  # a question
        "Where did I move? what was the street called",  # one sentence to the splitter
        "I'm good, thanks!",  # small talk
        "Thanks, I agree.",
        "I see.",  # too short
        "The weather is lovely in Boston today.",  # not first person
    ],
)
def test_non_facts_are_ignored(text: str) -> None:
    assert HeuristicFactExtractor().extract(USER, [_turn(0, text)]) == []


def test_one_fact_per_qualifying_sentence_with_stable_ids() -> None:
    turn = _turn(0, "I moved to Denver last week. My new job starts on Monday at the hospital.")
    first = HeuristicFactExtractor().extract(USER, [turn])
    again = HeuristicFactExtractor().extract(USER, [turn])
    assert len(first) == len(sentences(turn.text)) == 2
    assert [f.id for f in first] == [f.id for f in again]
    assert len({f.id for f in first}) == 2
    other_user = HeuristicFactExtractor().extract("bob", [turn])
    assert not {f.id for f in first} & {f.id for f in other_user}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("I live in Boston and I love my team.", "Sam lives in Boston and Sam loves Sam's team."),
        ("I'm moving to Denver with my sister.", "Sam is moving to Denver with Sam's sister."),
        ("I've got two cats.", "Sam has got two cats."),
        ("I go hiking and I study French.", "Sam goes hiking and Sam studies French."),
        (
            "I was tired, so my friend drove me home.",
            "Sam was tired, so Sam's friend drove Sam home.",
        ),
        ("I'll run a marathon.", "Sam will run a marathon."),
        ("I really enjoy painting.", "Sam really enjoys painting."),
        # any verb the lexicon knows, past forms and modals left alone
        ("I typically hold it for a minute.", "Sam typically holds it for a minute."),
        ("I never watch TV but I went out.", "Sam never watches TV but Sam went out."),
        ("I don't eat meat, I can't.", "Sam doesn't eat meat, Sam can't."),
        ("I haven't read it yet.", "Sam hasn't read it yet."),
        ("I can swim and I must rest.", "Sam can swim and Sam must rest."),
    ],
)
def test_third_person_rewrite(sentence: str, expected: str) -> None:
    assert third_person(sentence, "Sam") == expected


# ----------------------------------------------------------------------------- slots
@pytest.mark.parametrize(
    ("sentence", "slot"),
    [
        ("My name is Samantha.", "sam:name"),
        ("I'm 34 years old.", "sam:age"),
        ("I live in Boston.", "sam:lives_in"),
        ("I just moved to Denver.", "sam:lives_in"),
        ("I relocated to Austin for work.", "sam:lives_in"),
        ("I work as a nurse.", "sam:job"),
        ("I got a new job at the bank.", "sam:job"),
        ("I'm now married.", "sam:relationship"),
        ("I'm currently reading Dune.", "sam:doing:read"),
        ("The sky is blue.", None),
        ("I love how it looks.", None),  # no object: not an opinion slot
    ],
)
def test_slot_detection(sentence: str, slot: str | None) -> None:
    assert slot_of(sentence, "Sam") == slot


def test_slots_group_opposite_opinions_and_separate_speakers() -> None:
    assert slot_of("I love sushi!", "Sam") == slot_of("I hate sushi now", "Sam")
    assert slot_of("I love sushi!", "Sam") != slot_of("I love pizza!", "Sam")
    assert slot_of("My favourite colour is blue", "Sam") == slot_of(
        "My favorite colour is green", "Sam"
    )
    assert slot_of("I live in Oslo", "Sam") != slot_of("I live in Oslo", "Ana")


# ----------------------------------------------------------------------------- supersession
def _fact(n: int, text: str, month: int, slot: str | None = "sam:lives_in") -> Fact:
    t = datetime(2024, month, 1, tzinfo=UTC)
    return Fact(id=f"fact-{n}", user_id=USER, t=t, text=text, valid_from=t, slot=slot)


def _active_after(plan_write: Sequence[Fact], superseded: set[str], existing: Sequence[Fact]):
    return {f.id for f in (*existing, *plan_write) if f.id not in superseded}


def test_newer_fact_on_the_same_slot_supersedes_the_active_one() -> None:
    boston = _fact(1, "Sam lives in Boston.", 1)
    denver = _fact(2, "Sam moved to Denver.", 7)
    plan = plan_fact_updates([denver], [boston])
    assert [f.id for f in plan.write] == ["fact-2"]
    assert len(plan.supersessions) == 1
    sup = plan.supersessions[0]
    assert (sup.new_id, sup.old_id) == ("fact-2", "fact-1")
    assert sup.at == denver.valid_from
    assert plan.duplicates == []


def test_supersession_chains_within_one_batch_in_time_order() -> None:
    a, b, c = (
        _fact(1, "Sam lives in Boston.", 1),
        _fact(2, "Sam lives in Denver.", 5),
        _fact(3, "Sam lives in Austin.", 9),
    )
    plan = plan_fact_updates([c, a, b], [])  # given out of order
    assert [f.id for f in plan.write] == ["fact-1", "fact-2", "fact-3"]
    assert [(s.new_id, s.old_id) for s in plan.supersessions] == [
        ("fact-2", "fact-1"),
        ("fact-3", "fact-2"),
    ]


def test_duplicates_are_dropped() -> None:
    active = _fact(1, "Sam lives in Boston.", 1)
    same = _fact(2, "sam LIVES in boston", 3)  # same statement once normalised
    twice = [_fact(3, "Sam has a dog.", 2, None), _fact(4, "Sam has a dog!", 4, None)]
    plan = plan_fact_updates([same, *twice], [active])
    assert normalise(same.text) == normalise(active.text)
    assert {f.id for f in plan.duplicates} == {"fact-2", "fact-4"}
    assert [f.id for f in plan.write] == ["fact-3"]
    assert plan.supersessions == []


def test_known_ids_are_skipped_so_reingest_never_reactivates() -> None:
    old = _fact(1, "Sam lives in Boston.", 1)
    new = _fact(2, "Sam moved to Denver.", 7)
    # after the first ingest, `old` is superseded (not active) but its id is stored
    plan = plan_fact_updates([old, new], [new], known_ids={"fact-1", "fact-2"})
    assert plan.write == [] and plan.supersessions == [] and plan.duplicates == []


def test_different_slots_do_not_supersede() -> None:
    home = _fact(1, "Sam lives in Boston.", 1)
    job = _fact(2, "Sam works as a nurse.", 7, "sam:job")
    free = _fact(3, "Sam went hiking.", 8, None)
    plan = plan_fact_updates([job, free], [home])
    assert plan.supersessions == []
    assert {f.id for f in plan.write} == {"fact-2", "fact-3"}


def test_an_older_fact_does_not_supersede_a_newer_active_one() -> None:
    newer = _fact(2, "Sam moved to Denver.", 7)
    older = _fact(1, "Sam lives in Boston.", 1)
    plan = plan_fact_updates([older], [newer])
    assert not any(s.old_id == "fact-2" for s in plan.supersessions)


def test_out_of_order_history_leaves_one_active_fact_per_slot() -> None:
    denver = _fact(2, "Sam lives in Denver.", 7)  # stored and active
    boston = _fact(1, "Sam lives in Boston.", 1)  # older history ingested later
    austin = _fact(3, "Sam lives in Austin.", 9)  # the newest statement
    plan = plan_fact_updates([boston, austin], [denver])
    superseded = {s.old_id for s in plan.supersessions}
    active = _active_after(plan.write, superseded, [denver])
    holders = {i for i in active if i in {"fact-1", "fact-2", "fact-3"}}
    assert "fact-2" in superseded  # Austin replaces Denver, the current home
    assert holders == {"fact-3"}


# ----------------------------------------------------------------------------- topics/entities
def test_topics_and_entities_links_are_per_user_and_deduplicated() -> None:
    turns = [_turn(0, "I flew to New York with Ana."), _turn(1, "New York was cold, Ana said.")]
    facts = HeuristicFactExtractor().extract(USER, turns)
    links = link_topics_and_entities(USER, [*turns, *facts], speakers=["Sam"])
    names = [e.name for e in links.entities]
    assert len(names) == len(set(names))
    assert {"New York", "Ana"} <= set(names)
    assert all(e.user_id == USER for e in links.entities)
    assert all(t.user_id == USER for t in links.topics)
    node_ids = {e.id for e in links.entities} | {t.id for t in links.topics}
    memory_ids = {m.id for m in (*turns, *facts)}
    for link in (*links.about, *links.mentions):
        assert link.node_id in node_ids and link.memory_id in memory_ids
    # turns mention entities but are not ABOUT topics
    assert not {link.memory_id for link in links.about} & {t.id for t in turns}


def test_a_topic_is_keyed_by_its_stem_and_named_as_written() -> None:
    turns = [_turn(0, "My business is growing."), _turn(1, "Businesses like mine need luck.")]
    facts = HeuristicFactExtractor().extract(USER, turns)
    links = link_topics_and_entities(USER, [*turns, *facts], speakers=["Sam"])
    names = {t.name for t in links.topics}
    assert "business" in names and "busi" not in names  # the stem is the key, not the name
    again = link_topics_and_entities(USER, facts[::-1], speakers=["Sam"])
    assert {t.id for t in again.topics} == {t.id for t in links.topics}  # one node per stem


def test_topic_and_entity_names_do_not_depend_on_the_order_memories_come_in() -> None:
    """The name was the first form seen, so one conversation stored for two users (whose fact
    ids, and so their order, differ) got 'taking' for one and 'takes' for the other."""
    turns = [
        _turn(0, "I love taking risks on Paris trips."),
        _turn(1, "I am excited to see where it takes me in Paris."),
    ]
    memories = [*turns, *HeuristicFactExtractor().extract(USER, turns)]
    forward = link_topics_and_entities(USER, memories, speakers=["Sam"])
    backward = link_topics_and_entities(USER, memories[::-1], speakers=["Sam"])
    by_id = lambda links: {n.id: n.name for n in [*links.topics, *links.entities]}  # noqa: E731
    assert by_id(forward) == by_id(backward)
    assert "takes" in by_id(forward).values() and "taking" not in by_id(forward).values()


def test_facts_said_at_one_moment_keep_the_extractors_order_whatever_their_ids() -> None:
    turn = _turn(0, "I moved to Denver. I adopted a cat named Miso.")
    facts = HeuristicFactExtractor().extract(USER, [turn])
    assert len(facts) >= 2 and len({f.valid_from for f in facts}) == 1
    assert plan_fact_updates(facts, []).write == facts
    renamed = [f.model_copy(update={"id": f"z{9 - i}"}) for i, f in enumerate(facts)]
    assert [f.id for f in plan_fact_updates(renamed, []).write] == [f.id for f in renamed]


def test_greetings_days_and_speaker_nicknames_are_not_entities() -> None:
    """On LoCoMo conv-26 "Hey Caroline", "Thanks Mel", "Last Friday" and "Mel" were the
    commonest entities, each linking dozens of unrelated turns; the names after them stay."""
    said = [
        "Hey Caroline! Last Friday I met Oscar in Sweden.",
        "Thanks Mel, seeing Oscar again was lovely. Yesterday Melanie called.",
        "Wow, Mel! I put Becoming Nicole by Amy Ellis Nutt on my list for Tues.",
    ]
    turns = [_turn(i, text) for i, text in enumerate(said)]
    links = link_topics_and_entities(USER, turns, speakers=["Caroline", "Melanie"])
    names = {e.name for e in links.entities}
    assert names == {"Oscar", "Sweden", "Becoming Nicole", "Amy Ellis Nutt"}


def test_keywords_exclude_the_speaker_and_stopwords() -> None:
    kws = keywords("Sam said Sam loves running and running makes Sam happy", 5, exclude=["Sam"])
    assert "sam" not in kws and "running" in kws
    assert "and" not in kws


# ----------------------------------------------------------------------------- segmentation
def _turns_with_vectors(vectors: np.ndarray, gaps_minutes: Sequence[float]) -> list[Turn]:
    t = T0
    out = []
    for i, vec in enumerate(vectors):
        if i:
            t = t + timedelta(minutes=gaps_minutes[i - 1])
        out.append(_turn(i, f"turn number {i}", t=t, embedding=[float(x) for x in vec]))
    return out


@st.composite
def _sessions(draw: st.DrawFn) -> tuple[list[Turn], HeuristicSegmenter]:
    n = draw(st.integers(min_value=1, max_value=45))
    min_turns = draw(st.integers(min_value=1, max_value=5))
    max_turns = draw(st.integers(min_value=2 * min_turns, max_value=20))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    topics = draw(st.integers(min_value=1, max_value=4))
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, 16))
    labels = np.sort(rng.integers(0, topics, size=n))
    vecs = centres[labels] + 0.3 * rng.normal(size=(n, 16))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    gaps = draw(
        st.lists(st.sampled_from([0.5, 1.0, 2.0, 45.0]), min_size=max(n - 1, 0), max_size=n)
    )
    seg = HeuristicSegmenter(min_turns=min_turns, max_turns=max_turns)
    return _turns_with_vectors(vecs, gaps), seg


@settings(max_examples=150, deadline=None)
@given(_sessions())
def test_segmentation_covers_every_turn_once_within_length_bounds(
    case: tuple[list[Turn], HeuristicSegmenter],
) -> None:
    turns, seg = case
    n = len(turns)
    starts = seg.boundaries(turns)
    assert starts[0] == 0
    assert starts == sorted(set(starts))
    assert all(0 <= s < n for s in starts)
    lengths = np.diff([*starts, n])
    assert lengths.sum() == n
    assert lengths.max() <= max(seg.max_turns, seg.min_turns)
    jumps = {
        i
        for i in range(1, n)
        if (turns[i].t - turns[i - 1].t) >= timedelta(minutes=seg.time_gap_minutes)
    }
    if n <= seg.min_turns:
        assert starts == [0, *sorted(jumps)]  # too short to tile: cut at clock jumps only
    else:
        # a clock jump always starts a new segment
        assert jumps <= set(starts)
        if not jumps:
            assert lengths.min() >= seg.min_turns
    # the events cover every turn exactly once, in order, with their time span
    session = Session(id=SID, user_id=USER, source_id="s", index=0, start=T0, end=turns[-1].t)
    events = seg.segment(USER, session, list(reversed(turns)))
    covered = [tid for e in events for tid in e.turn_ids]
    assert covered == [t.id for t in turns]
    by_id = {t.id: t for t in turns}
    for event in events:
        assert event.t == by_id[event.turn_ids[0]].t
        assert event.t_end == by_id[event.turn_ids[-1]].t
        assert event.session_id == SID and event.user_id == USER
        assert event.embedding is not None
        assert abs(float(np.linalg.norm(event.embedding)) - 1.0) < 1e-4
    assert len({e.id for e in events}) == len(events)


def test_segmentation_splits_two_clear_topics() -> None:
    a, b = np.eye(16)[0], np.eye(16)[1]
    vecs = np.asarray([a] * 6 + [b] * 6)
    turns = _turns_with_vectors(vecs, [1.0] * 11)
    assert HeuristicSegmenter().boundaries(turns) == [0, 6]


def test_segmentation_is_deterministic() -> None:
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(30, 8))
    turns = _turns_with_vectors(vecs, [1.0] * 29)
    session = Session(id=SID, user_id=USER, source_id="s", index=0, start=T0, end=turns[-1].t)
    one = HeuristicSegmenter().segment(USER, session, turns)
    two = HeuristicSegmenter().segment(USER, session, turns)
    assert [(e.id, e.turn_ids, e.text) for e in one] == [(e.id, e.turn_ids, e.text) for e in two]
    assert HeuristicSegmenter().segment(USER, session, []) == []


def test_an_extraction_prompt_gets_one_repair_request_then_validates() -> None:
    """Bad JSON first: the model is shown the error in the one repair wording, then its
    second reply validates."""
    from agent_helpers import scripted
    from langchain_core.messages import HumanMessage
    from pydantic import BaseModel

    from agent.extraction.common import call_json
    from agent.prompts._common import structured

    class Out(BaseModel):
        name: str

    model = scripted("{'name': }", "Here: {'name': 'Quenby',}")
    got = call_json(model, [HumanMessage(content="extract")], Out)
    assert got.name == "Quenby"
    repair = model.calls[1]["messages"][-1]
    assert "Reply with the JSON object only" in str(repair.content)
    assert structured(repair)["task"] == "repair/1"


def test_llm_extraction_raises_policy_unavailable_when_the_model_server_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transport failure during LLM extraction is retried with backoff, then the clear
    PolicyUnavailable error of agent/policies/calls.py, not a raw traceback and not a
    silent fall back to the model-free extractor."""
    from agent_helpers import scripted

    from agent.extraction.facts import LLMFactExtractor
    from agent.policies import calls
    from schema.errors import PolicyUnavailable

    monkeypatch.setattr(calls, "RETRIES", (0.0, 0.0))
    tries: list[int] = []

    def refused(_messages: Sequence[object]) -> str:
        tries.append(1)
        raise ConnectionRefusedError("connection refused")

    extractor = LLMFactExtractor(scripted(default=refused))
    with pytest.raises(PolicyUnavailable) as exc:
        extractor.extract(USER, [_turn(0, "I moved to Lisbon for a new job in March.")])
    assert len(tries) == 3  # the first try and two retries
    assert "did not answer after 3 tries" in exc.value.message
    assert exc.value.hint and "PERSONA_OPENAI_BASE_URL" in exc.value.hint
    assert extractor.failures.count == 0


def test_llm_extraction_recovers_from_a_flaky_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_helpers import scripted

    from agent.extraction.facts import LLMFactExtractor
    from agent.policies import calls

    monkeypatch.setattr(calls, "RETRIES", (0.0, 0.0))
    script: list[BaseException | str] = [
        ConnectionResetError("reset"),
        '{"keep": true, "facts": [{"statement": "Sam moved to Lisbon.", "slot": "lives_in"}]}',
    ]

    def flaky(_messages: Sequence[object]) -> str:
        item = script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    extractor = LLMFactExtractor(scripted(default=flaky))
    facts = extractor.extract(USER, [_turn(0, "I moved to Lisbon for a new job in March.")])
    assert [(f.text, f.source, f.slot) for f in facts] == [
        ("Sam moved to Lisbon.", "llm", "sam:lives_in")
    ]
    assert extractor.failures.count == 0 and not script


def test_llm_extraction_takes_the_fallback_when_the_model_itself_errs() -> None:
    """A model error that is not a transport failure is bad output: repair, then the
    model-free extractor for that turn."""
    from agent_helpers import scripted

    from agent.extraction.facts import LLMFactExtractor

    def broken(_messages: Sequence[object]) -> str:
        raise ValueError("the model produced a tensor of NaNs")

    extractor = LLMFactExtractor(scripted(default=broken))
    facts = extractor.extract(USER, [_turn(0, "I moved to Lisbon for a new job in March.")])
    assert facts and all(f.source == "heuristic" for f in facts)
    assert extractor.failures.count == 1


# ----------------------------------------------------------------------------- procedures


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I go running along the river on Thursday mornings.", "habit"),
        ("I practice and train every day to stay in shape.", "habit"),
        ("We usually watch movies and have game nights at my place.", "habit"),
        ("I'm always trying out new recipes.", "habit"),
        ("I typically hold it for 30-60 seconds.", "habit"),
        ("My goal is to improve my shooting percentage.", "goal"),
        ("I want to visit the Cliffs of Moher.", "goal"),
        ("I'm training for a marathon in May.", "goal"),
        # the adverb alone is no habit: thanks, comfort, other people, lifelong tastes, feelings
        ("Thanks for always being there for me, I mean it.", None),
        ("I'm always here to support you!", None),
        ("I'm always proud of you and my kids.", None),
        ("They always support me, even when I make mistakes.", None),
        ("I've always had a love for horses!", None),
        ("I always feel like I could write a whole movie.", None),
        ("She's full of energy and always puts a smile on my face.", None),
        # telling the listener something is conversation, not a goal
        ("There's something I want to tell you about my week.", None),
        ("I hope to hear from you soon, my friend.", None),
    ],
)
def test_habit_and_goal_cues_need_the_speaker_doing_it(text: str, kind: str | None) -> None:
    from agent.extraction.procedural import HeuristicMemoryUpdater

    ops = HeuristicMemoryUpdater().propose([_turn(0, text)], [], [])
    assert [op.type for op in ops if op.target == "procedure"] == ([kind] if kind else [])


def test_habits_and_goals_drop_the_interjections_and_the_listeners_name() -> None:
    """They stand in every prompt's profile as statements; facts keep the sentence as said
    (stripping openers from facts too cost 0.3 LoCoMo dev recall@10: 78.4 -> 78.1)."""
    from agent.extraction.procedural import HeuristicMemoryUpdater

    turn = _turn(
        0, "Yeah, Maria, I volunteer at the shelter every Sunday. Oh, I want to learn Spanish!"
    )
    habit, goal = HeuristicMemoryUpdater().propose([turn], [], [])
    assert (habit.type, habit.value) == ("habit", "Sam volunteers at the shelter every Sunday.")
    assert (goal.type, goal.value) == ("goal", "Sam wants to learn Spanish!")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
@example("Yeah, ßig news from the lab!")  # "ß".upper() is two letters
def test_strip_discourse_only_ever_takes_an_opening_off(text: str) -> None:
    from agent.extraction.text import strip_discourse

    out = strip_discourse(text)
    kept = text.strip()
    assert bool(out) == bool(kept)  # something said never becomes nothing
    if out != kept:  # what is left is the sentence's own tail, first letter capitalised
        assert kept.endswith(out[1:]) and len(out) < len(kept)
        assert out[0] == kept[len(kept) - len(out)] or out[0] == kept[len(kept) - len(out)].upper()


def test_the_embed_bar_ends_at_the_turns_when_the_shares_sum_short() -> None:
    """3 turns and 4 facts embedded one text at a time: seven shares of 3/7 add up to
    2.9999999999999996, and the bar stopped at 2/3 (the audit saw 'embed 679/680')."""
    from pipelines.ingest import _embed_chunk

    turns = [
        _turn(0, "I moved to Denver last week. I started a new job at the hospital."),
        _turn(1, "I adopted a grey cat called Miso. I love my new flat in the city."),
        _turn(2, "ok"),
    ]
    facts = HeuristicFactExtractor().extract(USER, turns)
    assert len(facts) == 4

    class OneByOne:
        name, dimension = "one-by-one", 3

        def embed(self, texts: list[str], *, progress: Any = None) -> np.ndarray:
            for _ in texts:
                progress(1)
            return np.tile(np.array([1.0, 0.0, 0.0], dtype=np.float32), (len(texts), 1))

    shown: list[int] = []
    _embed_chunk(turns, facts, OneByOne(), shown.append)  # type: ignore[arg-type]
    assert sum(shown) == len(turns)
    assert all(t.embedding is not None for t in turns) and all(f.embedding for f in facts)


def test_a_lower_case_typist_still_speaks_in_the_first_person() -> None:
    """ "i just moved to denver" was no fact at all: the first-person test wanted a capital I."""
    facts = HeuristicFactExtractor().extract(
        USER, [_turn(0, "i just moved to denver and i'm loving the mountains, i.e. the views")]
    )
    assert [f.text for f in facts] == [
        "Sam just moved to denver and Sam is loving the mountains, i.e. the views"
    ]
