"""GRPO rollouts run the agent's own loop against the real graph. The language model is
scripted (a fake ``generate`` returning the tokens of scripted replies); everything else is
real: the tokenizer and chat template, the agent graph, the parser, Neo4j, the prompt
rendering, the masking of what the environment added."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from agent_helpers import Said, new_user, seed_sessions

from agent.prompts import reason_start
from schema.datasets import GoldQuestion
from training.base import load_tokenizer
from training.rollout import Generation, run_agent_rollouts

pytestmark = pytest.mark.integration

AQUARIUM = "I visited the aquarium with Lena and we watched the jellyfish."
BREAD = "I baked sourdough bread all day."
RETRIEVE = (
    '<think>The question is about the aquarium.</think><retrieve>{"keywords": ["aquarium"], '
    '"start": "2024-03-01", "end": "2024-04-01"}</retrieve>'
)
ANSWER = "<think>Memory 1 says so.</think><answer>5 March 2024</answer>"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from training.tiny import build_tiny_chat_model

    corpus = [reason_start.SYSTEM, RETRIEVE, ANSWER, AQUARIUM, BREAD] * 20
    path = build_tiny_chat_model(tmp_path_factory.mktemp("tiny-tok"), vocab=600, corpus=corpus)
    return load_tokenizer(path)


@pytest.fixture(scope="module")
def user(session_store: Any) -> str:
    uid = new_user("roll")
    seed_sessions(
        session_store,
        uid,
        [
            [Said(datetime(2024, 3, 5, 10, tzinfo=UTC), AQUARIUM)],
            [Said(datetime(2024, 3, 20, 18, tzinfo=UTC), BREAD)],
            [Said(datetime(2024, 4, 10, 14, tzinfo=UTC), "I went back to the aquarium alone.")],
        ],
    )
    return uid


def _when_question(
    qid: str,
    user: str,
    question: str = "When did I go to the aquarium in March?",
    answer: str = "5 March 2024",  # what the scripted replies answer
    **extra: Any,
) -> GoldQuestion:
    """A when-question asked on 1 June 2024."""
    return GoldQuestion(
        id=qid,
        user_id=user,
        persona=user,
        question=question,
        asked_at=datetime(2024, 6, 1, 9, tzinfo=UTC),
        answer=answer,
        kind="when",
        **extra,
    )


def _scripted(tokenizer: Any, calls: list[list[int]]) -> Any:
    """A batched "model": the n-th call of a rollout gets the n-th reply; it records every
    prompt it was given (what the model would have seen)."""

    def generate(prompts: list[list[int]]) -> list[Generation]:
        out = []
        for p in prompts:
            calls.append(p)
            text = RETRIEVE if "Memories found" not in tokenizer.decode(p) else ANSWER
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            out.append(Generation(ids, [-0.1] * len(ids), text))
        return out

    return generate


def test_the_models_own_retrieve_runs_against_neo4j_and_env_tokens_are_masked(
    tokenizer: Any, user: str, session_store: Any, settings: Any
) -> None:
    q = _when_question("q1", user)
    calls: list[list[int]] = []
    outcomes = run_agent_rollouts(
        [q, q],
        store=session_store,
        settings=settings,
        tokenizer=tokenizer,
        generate=_scripted(tokenizer, calls),
    )
    assert len(outcomes) == 2 and len(calls) == 4  # two rounds of two, batched
    for o in outcomes:
        t = o.tokens
        assert len(t["completion_ids"]) == len(t["env_mask"]) == len(t["logprobs"])
        # the prompt is the agent's first prompt, rendered by the chat template
        assert reason_start.SYSTEM.splitlines()[0] in tokenizer.decode(t["prompt_ids"])
        model = [i for i, m in zip(t["completion_ids"], t["env_mask"], strict=True) if m]
        env = [i for i, m in zip(t["completion_ids"], t["env_mask"], strict=True) if not m]
        # the model's tokens are exactly its two replies (and the end of its turn)
        assert tokenizer.decode(model, skip_special_tokens=True) == RETRIEVE + ANSWER
        # what the environment added: the memories the store returned for the model's call
        shown = tokenizer.decode(env)
        assert "Memories found (2; window [2024-03-01 00:00 (Friday)" in shown
        assert AQUARIUM in shown and BREAD in shown  # the two turns inside the window
        assert "went back to the aquarium" not in shown  # April: outside the model's window
        # the second call saw the first call's prompt, reply and the memories, in order
        assert o.trace["kinds"] == ["think", "retrieve", "answer"]
        assert o.trace["windows"] == [["2024-03-01T00:00:00+00:00", "2024-04-01T00:00:00+00:00"]]
        assert o.trace["retrieved"] and o.trace["answer"] == "5 March 2024"
    first_prompt = calls[0]
    second_prompt = calls[2]
    assert second_prompt[: len(first_prompt)] == first_prompt


def test_a_model_error_ends_the_rollout_with_an_error_trace(
    tokenizer: Any, user: str, session_store: Any, settings: Any
) -> None:
    q = _when_question("q2", user, question="When did I bake bread?", answer="20 March 2024")

    def broken(prompts: list[list[int]]) -> list[Generation]:
        raise RuntimeError("out of memory")

    (o,) = run_agent_rollouts(
        [q], store=session_store, settings=settings, tokenizer=tokenizer, generate=broken
    )
    # the agent turns a policy failure into its fallback path; the rollout still ends
    assert o.trace["answer"]
    assert "repair" in o.trace["kinds"] or o.trace["error"]


def test_prompt_and_rewards_from_a_real_trace(
    tokenizer: Any, user: str, session_store: Any, settings: Any
) -> None:
    from training.rewards import REWARD_FUNCS

    q = _when_question(
        "q3",
        user,
        evidence_at=[datetime(2024, 3, 5, 10, tzinfo=UTC)],
        window_start=datetime(2024, 3, 1, tzinfo=UTC),
        window_end=datetime(2024, 4, 1, tzinfo=UTC),
    )
    (o,) = run_agent_rollouts(
        [q],
        store=session_store,
        settings=settings,
        tokenizer=tokenizer,
        generate=_scripted(tokenizer, []),
    )
    cols = {
        "trace": [o.trace],
        "answer": [q.answer],
        "kind": [q.kind],
        "evidence": [q.evidence],  # no gold evidence ids: the evidence reward abstains
        "evidence_at": [[t.isoformat() for t in q.evidence_at]],
        "window_start": [q.window_start.isoformat()],  # type: ignore[union-attr]
        "window_end": [q.window_end.isoformat()],  # type: ignore[union-attr]
    }
    answer, evidence, window, fmt = (f([None], **cols)[0] for f in REWARD_FUNCS)
    assert answer == 1.0 and evidence is None and window == 1.0 and fmt == 1.0


def _outcome(q: GoldQuestion, answer: str) -> Any:
    from training.rollout import RolloutOutcome

    trace = {"answer": answer, "kinds": ["answer"], "issues": [], "retrieved": [], "windows": []}
    return RolloutOutcome(q, {}, trace)


def _paris(qid: str) -> GoldQuestion:
    return GoldQuestion(
        id=qid,
        user_id="u",
        persona="u",
        question="Where does my sister live?",
        asked_at=datetime(2024, 6, 1, 9, tzinfo=UTC),
        answer="Paris",
        kind="single_hop",
    )


@pytest.mark.parametrize("resample", [0, 1, 3])
def test_a_group_whose_rollouts_tie_is_rolled_out_again(tokenizer: Any, resample: int) -> None:
    """Dynamic sampling: only the tied group is redrawn, at most ``resample`` times, and the
    redraws replace its rollouts once their rewards spread."""
    from training.grpo import rollout_scorer
    from training.rollout import AgentRollout

    a, b = _paris("qa"), _paris("qb")
    questions = [a, a, b, b]
    score = rollout_scorer(questions, (1.0, 0.5, 0.25, 0.25))
    rollout = AgentRollout(
        {q.id: q for q in questions},
        store=None,  # type: ignore[arg-type]
        settings=None,  # type: ignore[arg-type]
        tokenizer=tokenizer,
        max_new_tokens=8,
        temperature=1.0,
        stop=[],
        score=score,
        resample=resample,
    )
    # qa ties (both wrong) on the first draw and on the first redraw; the second one spreads
    draws = iter([["Rome", "Rome"], ["Paris", "Rome"], ["Paris", "Paris"]])
    asked: list[list[str]] = []

    def roll(qs: list[GoldQuestion]) -> list[Any]:
        asked.append([q.id for q in qs])
        return [_outcome(q, ans) for q, ans in zip(qs, next(draws), strict=True)]

    first = [_outcome(a, "Lisbon"), _outcome(a, "Lisbon"), _outcome(b, "Paris"), _outcome(b, "no")]
    out = rollout._redraw_tied(questions, list(first), roll)

    assert asked == [["qa", "qa"]] * min(resample, 2)  # never qb, whose rewards differ
    assert out[2:] == first[2:]
    spread = resample >= 2
    assert [o.trace["answer"] for o in out[:2]] == (
        ["Paris", "Rome"] if spread else ["Rome", "Rome"] if resample else ["Lisbon", "Lisbon"]
    )
    assert rollout.groups == {
        "seen": 2,
        "tied": 1,
        "redrawn": min(resample, 2),
        "still_tied": 0 if spread else 1,
    }
    assert score(a, out[0].trace) != score(a, out[1].trace) or not spread


@pytest.mark.slow
def test_batched_generation_reuses_prompts_it_has_read_with_the_same_tokens(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A tiny real model: prompts of different lengths in one left-padded batch, then each
    extended by its reply and a new turn (an agent's next round). With the prompt cache the
    tokens and their log-probabilities are those of reading every prompt in full."""
    import torch
    from transformers import AutoModelForCausalLM

    from agent.graph import STOP
    from training.rollout import PromptCache, hf_generate

    path = tmp_path_factory.mktemp("tiny-gen")
    from training.tiny import build_tiny_chat_model

    build_tiny_chat_model(path)
    tok = load_tokenizer(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    questions = ["Where did I park?", "What did I bake on the long weekend in March?", "Hi"]
    system = {"role": "system", "content": reason_start.SYSTEM}
    first = [
        list(
            tok.apply_chat_template(
                [system, {"role": "user", "content": q}],
                add_generation_prompt=True,
                return_dict=True,
            )["input_ids"]
        )
        for q in questions
    ]
    turn = tok("<|im_end|>\n<|im_start|>user\nAnd then?<|im_end|>\n", add_special_tokens=False)
    outputs = {}
    kept = PromptCache(model)
    for cached in (True, False):
        generate = hf_generate(
            model,
            tok,
            max_new_tokens=12,
            temperature=0.0,
            stop=STOP,
            prefix_cache=cached,
            cache=kept if cached else None,
        )
        one = generate(first)
        two = generate([p + g.ids + turn["input_ids"] for p, g in zip(first, one, strict=True)])
        outputs[cached] = [(g.ids, g.logprobs) for g in [*one, *two]]
    for (ids_c, lp_c), (ids, lp) in zip(outputs[True], outputs[False], strict=True):
        assert ids_c == ids
        assert lp_c == pytest.approx(lp, abs=1e-4)
    # the second round read only what each prompt added, and the shared system prompt once
    assert kept.reused > sum(len(p) for p in first)
    assert (
        kept.read
        == 2 * sum(len(p) for p in first)
        + sum(len(g) for g, _ in outputs[True][:3])
        + 3 * len(turn["input_ids"])
        - 6
    )


def test_evaluation_scores_the_dated_answer_for_users_and_the_models_own_for_rewards(
    tokenizer: Any, user: str, session_store: Any, settings: Any
) -> None:
    """agent.grounding dates a vague when-answer: date accuracy and F1 judge what the user
    got, the answer reward what the model said (as GRPO, whose rollouts turn grounding off)."""
    from training.evaluate import _score

    q = _when_question("q4", user)
    vague = "<think>Memory 1 says so.</think><answer>the other day</answer>"

    def generate(prompts: list[list[int]]) -> list[Generation]:
        out = []
        for p in prompts:
            text = RETRIEVE if "Memories found" not in tokenizer.decode(p) else vague
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            out.append(Generation(ids, [-0.1] * len(ids), text))
        return out

    runs = {}
    for on in (True, False):
        chosen = settings.model_copy(update={"ground_when": on})
        (o,) = run_agent_rollouts(
            [q], store=session_store, settings=chosen, tokenizer=tokenizer, generate=generate
        )
        runs[on] = _score(q, o.trace)
    grounded, own = runs[True], runs[False]
    assert grounded["answer"] == "5 March 2024" and grounded["model_answer"] == "the other day"
    assert grounded["date_ok"] is True and grounded["model_date_ok"] is False
    assert own["answer"] == own["model_answer"] == "the other day" and own["date_ok"] is False
    # the grounded step is not a policy output: well-formedness counts the model's two
    assert grounded["outputs_ok"] == own["outputs_ok"] == [True, True]
    assert grounded["rewards"]["answer"] == own["rewards"]["answer"] < 0.5
