"""The three policies settings can choose, for real:

(a) ``hf``: a tiny random Qwen2 with a ChatML template, loaded and run by HFChatModel;
(b) ``openai``: ChatOpenAI against a local OpenAI-compatible HTTP endpoint started here;
(c) ``offline``: the rule-based policy on the ingested sample conversation.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from agent_helpers import (
    SAMPLE_QUESTION,
    Said,
    ask_offline,
    ingest_sample,
    kinds,
    retrieve_steps,
    run_agent,
    seed_sessions,
)
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from agent.graph import STOP
from agent.policies import OFFLINE_LABEL, OfflinePolicy, build_policy, describe_policy
from agent.policies.hf import HFChatModel, to_chat
from schema.settings import Settings

ASKED = datetime(2024, 9, 10, 9, 0, tzinfo=ZoneInfo("America/Denver"))


# ------------------------------------------------------------------------------ (a) hf
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.tiny import build_tiny_chat_model

    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat"))


class _GenerateSpy:
    """Records what HFChatModel hands to ``generate`` (the real generate still runs)."""

    def __init__(self, model: Any) -> None:
        self.inner = model.generate
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.inner(**kwargs)


@pytest.mark.slow
def test_hf_policy_loads_and_follows_its_chat_template(tiny_model: Path) -> None:
    policy = HFChatModel(model_path=str(tiny_model), max_new_tokens=6)
    policy.load()
    spy = _GenerateSpy(policy._model)
    policy._model.generate = spy
    messages = [SystemMessage(content="You are terse."), HumanMessage(content="Hello there")]
    expected = (
        "<|im_start|>system\nYou are terse.<|im_end|>\n"
        "<|im_start|>user\nHello there<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    tok = policy._tokenizer
    assert tok.apply_chat_template(
        to_chat(messages), add_generation_prompt=True, tokenize=False
    ) == (expected)

    reply = policy.invoke(messages, stop=STOP)
    assert isinstance(reply.content, str)
    (call,) = spy.calls
    assert tok.decode(call["input_ids"][0]) == expected  # the prompt the model really saw
    assert call["stop_strings"] == STOP
    assert call["max_new_tokens"] == 6
    assert call["do_sample"] is False
    # sampled or greedy, a local model's loops are broken (PERSONA_TEMPERATURE defaults to 0.2)
    from agent.policies.decoding import LoopBreaker

    assert any(isinstance(p, LoopBreaker) for p in call["logits_processor"])
    policy.temperature = 0.2
    policy.invoke(messages, stop=STOP)
    assert spy.calls[-1]["do_sample"] is True
    assert any(isinstance(p, LoopBreaker) for p in spy.calls[-1]["logits_processor"])
    # the protocol tags are single, non-special tokens
    for tag in ("<think>", "</retrieve>", "</answer>"):
        assert len(tok.encode(tag, add_special_tokens=False)) == 1


@pytest.mark.slow
def test_hf_policy_reuses_the_prompt_prefix_it_has_read_without_changing_what_it_writes(
    tiny_model: Path,
) -> None:
    cached = HFChatModel(model_path=str(tiny_model), max_new_tokens=16)
    fresh = HFChatModel(model_path=str(tiny_model), max_new_tokens=16, prefix_cache=False)
    first = [SystemMessage(content="You are terse."), HumanMessage(content="Where did I park?")]
    replies = [(cached.invoke(first).content, fresh.invoke(first).content)]
    assert cached.cached_tokens == 0  # nothing read yet
    prompt = cached._tokenizer.apply_chat_template(to_chat(first), add_generation_prompt=True)
    # the agent's next step resends the conversation with the model's reply and a new turn
    second = [*first, AIMessage(content=replies[0][0]), HumanMessage(content="And yesterday?")]
    replies.append((cached.invoke(second).content, fresh.invoke(second).content))
    assert cached.cached_tokens >= len(prompt)  # the whole first prompt was not read again
    # a conversation that shares only the template's opening
    other = [SystemMessage(content="Answer in French."), HumanMessage(content="Bonjour")]
    before = cached.cached_tokens
    replies.append((cached.invoke(other).content, fresh.invoke(other).content))
    assert 0 < cached.cached_tokens - before < 8
    for with_cache, without in replies:  # greedy decoding: the same words either way
        assert with_cache == without
    assert fresh.cached_tokens == 0 and fresh.prompt_tokens == cached.prompt_tokens


@pytest.mark.slow
@pytest.mark.integration
def test_hf_policy_runs_a_whole_agent_loop(
    tiny_model: Path, store: Any, settings: Settings, user_id: str
) -> None:
    seed_sessions(
        store,
        user_id,
        [[Said(datetime(2024, 7, 2, 10, tzinfo=ZoneInfo("UTC")), "I saw the dentist today.")]],
    )
    small = settings.model_copy(update={"max_steps": 2, "policy": "hf", "model": str(tiny_model)})
    policy = HFChatModel(model_path=str(tiny_model), max_new_tokens=12)
    state = run_agent(
        store=store,
        policy=policy,
        settings=small,
        user_id=user_id,
        question=SAMPLE_QUESTION,
        now=ASKED,
    )
    assert isinstance(state["answer"], str) and state["answer"].strip()
    assert kinds(state)[-1] in ("answer", "forced")
    assert 1 <= state["calls"] <= small.max_steps + 1
    outputs = [str(m.content) for m in state["messages"] if m.type == "ai"]
    assert outputs and not any(o.startswith("<error>") for o in outputs)  # generation ran
    assert describe_policy(small).startswith("hf: ")


# ------------------------------------------------------------------------------ (b) openai
class _Endpoint:
    """A minimal OpenAI-compatible /v1/chat/completions on 127.0.0.1 (a real HTTP server)."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                endpoint.requests.append(
                    {
                        "path": self.path,
                        "body": body,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                n = len(endpoint.requests) - 1
                content = endpoint.replies[min(n, len(endpoint.replies) - 1)]
                payload = {
                    "id": f"chatcmpl-{n}",
                    "object": "chat.completion",
                    "created": 1_725_000_000,
                    "model": body.get("model", "?"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[_Endpoint]:
    replies = [
        '<think>I should search.</think><retrieve>{"keywords": ["dentist"], '
        '"start": "2024-07-01", "end": "2024-08-01"}',
        "<think>Found it.</think><answer>You saw Dr. Nguyen.",
    ]
    with _Endpoint(replies) as ep:
        yield ep


@pytest.mark.integration
def test_openai_policy_request_shape_through_the_agent(
    endpoint: _Endpoint, store: Any, settings: Settings, user_id: str
) -> None:
    seed_sessions(
        store,
        user_id,
        [[Said(datetime(2024, 7, 9, 8, tzinfo=ZoneInfo("UTC")), "Dentist today: Dr. Nguyen.")]],
    )
    s = settings.model_copy(
        update={
            "openai_base_url": f"http://127.0.0.1:{endpoint.port}/v1",
            "model": "test-model",
            "policy": "openai",
            "temperature": 0.3,
            "max_tokens": 77,
        }
    )
    policy = build_policy(s)
    state = run_agent(
        store=store, policy=policy, settings=s, user_id=user_id, question=SAMPLE_QUESTION, now=ASKED
    )
    assert state["answer"] == "You saw Dr. Nguyen."
    assert kinds(state) == ["think", "retrieve", "answer"]
    assert "unclosed_tag" in state["steps"][0]["issues"]  # the server stripped </retrieve>
    assert len(retrieve_steps(state)[0]["memory_ids"]) == 1

    assert len(endpoint.requests) == 2
    first, second = (r["body"] for r in endpoint.requests)
    for req in endpoint.requests:
        assert req["path"] == "/v1/chat/completions"
        assert req["headers"].get("authorization") == "Bearer EMPTY"
    for body in (first, second):
        assert body["model"] == "test-model"
        assert body["temperature"] == pytest.approx(0.3)
        assert body["max_completion_tokens"] == 77
        assert body["stop"] == ["</retrieve>", "</answer>"]
        assert not body.get("stream")
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert "long-term memory" in first["messages"][0]["content"]
    assert SAMPLE_QUESTION in first["messages"][1]["content"]
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert "Dr. Nguyen" in second["messages"][3]["content"]  # the memory went back
    assert describe_policy(s) == f"openai: test-model at http://127.0.0.1:{endpoint.port}/v1"


# ------------------------------------------------------------------------------ (c) offline
@pytest.fixture(scope="module")
def sample_sam(conn: Any, embedder: Any, migrated: Any) -> str:
    """The sample conversation for a fresh user; read-only here (no update stage)."""
    from graph.store import Neo4jMemoryStore

    return ingest_sample(Neo4jMemoryStore(conn, embedder), embedder)


def _ask_offline(store: Any, settings: Settings, user_id: str, question: str) -> dict[str, Any]:
    """The agent with the offline policy, asked at ASKED."""
    return ask_offline(store, settings, user_id, question, ASKED)


@pytest.mark.integration
def test_offline_policy_answers_where_the_user_lived_from_a_move_said_before_the_window(
    store: Any, settings: Settings, sample_sam: str
) -> None:
    # Sam said "I live in Boston" in January and moved to Denver in July: in May, Sam lived
    # in Boston, though nothing was said about it in May
    state = _ask_offline(store, settings, sample_sam, "Where did I live in May 2024?")
    (step,) = retrieve_steps(state)
    assert step["request"]["start"].startswith("2024-05-01")
    assert "Boston" in state["answer"] and "Denver" not in state["answer"]


@pytest.mark.integration
def test_offline_policy_says_when_its_answer_comes_from_outside_the_window(
    store: Any, settings: Settings, sample_sam: str
) -> None:
    # nothing was said before January 2024: the widened search's memories are from later,
    # and the answer must not pass them off as January 2023's
    state = _ask_offline(store, settings, sample_sam, "Where did I live in January 2023?")
    first, second = retrieve_steps(state)
    assert first["request"]["start"] and not second["request"]["start"]
    assert state["answer"].startswith(f"{OFFLINE_LABEL} Nothing from that time. From other times:")
    dated = _ask_offline(store, settings, sample_sam, "Where did I live in May 2024?")
    assert "Nothing from that time" not in dated["answer"]


@pytest.mark.integration
def test_offline_policy_answers_the_dentist_question(
    store: Any, settings: Settings, sample_sam: str
) -> None:
    state = _ask_offline(store, settings, sample_sam, SAMPLE_QUESTION)
    (step,) = retrieve_steps(state)
    assert step["request"]["start"].startswith("2024-07-01T00:00:00")
    assert step["request"]["end"].startswith("2024-08-01T00:00:00")
    assert step["window"].startswith("[2024-07-01 00:00 (Monday), 2024-08-01 00:00")
    assert step["memory_ids"], "the July session is found"
    assert "dentist" in [k.lower() for k in step["request"]["keywords"]]
    answer = state["answer"]
    assert answer.startswith(OFFLINE_LABEL)
    assert "Nguyen" in answer
    assert "Patel" not in answer  # the March dentist is outside the window
    assert kinds(state) == ["think", "retrieve", "answer"]


@pytest.mark.integration
def test_offline_policy_labels_small_talk_without_retrieving(
    store: Any, settings: Settings, sample_sam: str
) -> None:
    state = _ask_offline(store, settings, sample_sam, "Hello, how are you?")
    assert kinds(state) == ["answer"]
    assert state["answer"].startswith(OFFLINE_LABEL)
    assert "cannot chat without a language model" in state["answer"]
    assert retrieve_steps(state) == []


@pytest.mark.integration
def test_offline_policy_searches_for_anything_memory_could_hold(
    store: Any, settings: Settings, sample_sam: str
) -> None:
    """A question with a content word retrieves (the user might own a sailboat); when no
    memory shares a word with it, the answer says so instead of quoting something else."""
    state = _ask_offline(store, settings, sample_sam, "What is a good name for a sailboat?")
    assert kinds(state) == ["think", "retrieve", "answer"]
    assert "sailboat" in [k.lower() for k in retrieve_steps(state)[0]["request"]["keywords"]]
    assert "don't remember anything about that" in state["answer"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("message", "related"),
    [
        ("Hi, I bought a sailboat.", False),
        ("I am thinking about running on Thursday evenings instead.", True),
    ],
)
def test_offline_policy_acknowledges_a_statement_instead_of_answering_it(
    store: Any, settings: Settings, sample_sam: str, message: str, related: bool
) -> None:
    """A statement is searched for like a question, but told, not asked: the reply notes it
    (with the related memories when there are some) and never says it remembers nothing."""
    state = _ask_offline(store, settings, sample_sam, message)
    assert kinds(state) == ["think", "retrieve", "answer"]
    assert "Noted." in state["answer"]
    assert "don't remember" not in state["answer"]
    assert ("Related:" in state["answer"]) is related
    if related:
        assert "Thursday" in state["answer"]


@pytest.mark.integration
def test_offline_policy_retrieves_for_a_question_about_a_named_person(
    store: Any, settings: Settings, user_id: str
) -> None:
    """The blind spot this policy had: a third-person question was treated as small talk."""
    seed_sessions(
        store,
        user_id,
        [
            [Said(datetime(2024, 5, 8, 13, 0, tzinfo=ZoneInfo("UTC")), "Nice weather today.")],
            [
                Said(
                    datetime(2024, 6, 27, 14, 0, tzinfo=ZoneInfo("UTC")),
                    "James bought himself a new adventure book yesterday.",
                    speaker="Ben",
                )
            ],
        ],
    )
    state = _ask_offline(
        store, settings, user_id, "When did James buy himself a new adventure book?"
    )
    assert kinds(state) == ["think", "retrieve", "answer"]
    assert "james" in [k.lower() for k in retrieve_steps(state)[0]["request"]["keywords"]]
    # a when-question is answered with the date first, the relative time resolved
    assert state["answer"].startswith(f"{OFFLINE_LABEL} 26 June 2024.")


def test_offline_policy_quotes_what_the_named_person_said() -> None:
    """A greeting that names Nadia and her own account each share one word of the question
    with their text; who said a turn counts as one of its words, so her account is quoted
    (dated first) although the greeting came first."""
    from schema.nodes import MemoryKind
    from schema.retrieval import RetrievedMemory

    def said(day: int, speaker: str, text: str) -> RetrievedMemory:
        t = datetime(2024, 5, day, 18, 0, tzinfo=ZoneInfo("UTC"))
        return RetrievedMemory(
            id=f"turn-{day}", kind=MemoryKind.TURN, text=text, t=t, score=1.0, speaker=speaker
        )

    memories = [
        said(2, "Ben", "Hi Nadia, how was your week?"),
        said(20, "Nadia", "I went climbing in Yosemite!"),
    ]
    reply = OfflinePolicy._answer("When did Nadia go climbing?", memories)
    assert f"{OFFLINE_LABEL} 20 May 2024." in reply, reply


@pytest.mark.parametrize(
    ("question", "lead"),
    [
        # asked on 20 January 2025, moved "yesterday" said on 19 November 2024
        ("How long ago did Jasper move to Osaka?", "about 2 months ago (18 November 2024)."),
        ("How long has Jasper had his turtles?", "3 years (as of 19 November 2024)."),
    ],
)
def test_offline_policy_answers_how_long_with_a_duration(question: str, lead: str) -> None:
    from schema.nodes import MemoryKind
    from schema.retrieval import RetrievedMemory

    said = datetime(2024, 11, 19, 9, 0, tzinfo=ZoneInfo("UTC"))
    memories = [
        RetrievedMemory(id=f"t{i}", kind=MemoryKind.TURN, text=text, t=said, speaker="Jasper")
        for i, text in enumerate(
            ["We moved to Osaka yesterday!", "I've had my turtles for 3 years now."]
        )
    ]
    asked = datetime(2025, 1, 20, 12, 0, tzinfo=ZoneInfo("UTC"))
    reply = OfflinePolicy._answer(question, memories, asked_at=asked)
    assert f"{OFFLINE_LABEL} {lead} From your memories:" in reply, reply


@pytest.mark.parametrize(
    ("question", "best"),
    [
        # an earlier ask and its reply are stored as turns, newer than what Marcus said and
        # quoting all of it: the answer still comes from Marcus
        ("When did Marcus start playing professionally?", "m"),
        ("Do you remember when Marcus started playing professionally?", "m"),
        ("What did you tell me about Marcus playing professionally?", "reply"),
    ],
)
def test_offline_policy_answers_from_what_was_said_not_from_its_own_echo(
    question: str, best: str
) -> None:
    from agent.policies.offline import best_memories
    from schema.nodes import MemoryKind
    from schema.retrieval import RetrievedMemory

    said = "I've been playing professionally for just under a year now."
    then, later = (
        datetime(2023, 12, 6, tzinfo=ZoneInfo("UTC")),
        datetime(2024, 2, 1, tzinfo=ZoneInfo("UTC")),
    )
    memories = [
        RetrievedMemory(id="ask", kind=MemoryKind.TURN, text=question, t=later, speaker="user"),
        RetrievedMemory(
            id="reply",
            kind=MemoryKind.TURN,
            text=f'{OFFLINE_LABEL} From your memories: Marcus said: "{said}"',
            t=later,
            speaker="assistant",
        ),
        RetrievedMemory(id="m", kind=MemoryKind.TURN, text=said, t=then, speaker="Marcus"),
    ]
    assert best_memories(question, memories, n=1)[0].id == best


def test_build_policy_defaults_to_offline() -> None:
    assert isinstance(build_policy(Settings(policy="offline")), OfflinePolicy)
    assert "[offline policy]" in describe_policy(Settings(policy="offline"))
