"""Trajectories rendered by the agent itself: a teacher policy that knows the gold answer
drives the real LangGraph loop against the real store, so every prompt in a training record
is what the agent shows a model at run time (the same prompt modules, the memories the
store returns for the trajectory's own retrieve calls, the same step budget).

The teacher retrieves as a good policy would (the question's names and topics, the window
the question names), checks whether the memories shown hold the gold evidence, searches
again once if not, and answers briefly from what it was shown, naming the memory it used and
what a relative date in it means. A teacher that never saw the evidence says so in the
record (``found_evidence``); such records are left out of SFT (they would teach answering
from nothing) but their questions still serve GRPO.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from agent.extraction.text import content_words
from agent.graph import AgentContext, build_agent
from agent.parsing import render_retrieve
from agent.policies.hf import to_chat
from agent.prompts import reason_continue
from agent.prompts._common import structured
from agent.scoring import date_correct
from agent.temporal import MONTHS, WEEKDAYS, find_window, relative_note
from schema.agent import RetrieveCall, Step
from schema.datasets import GoldQuestion, TrajectoryRecord
from schema.protocols import MemoryStore
from schema.retrieval import RetrievedMemory
from schema.settings import Settings
from schema.timeutil import UTC, spoken_date

__all__ = ["TeacherPolicy", "grounded_date", "question_keywords", "render_trajectory"]

_QUESTION_WORDS = {
    "what",
    "when",
    "where",
    "who",
    "whom",
    "which",
    "how",
    "why",
    "did",
    "does",
    "do",
    "was",
    "were",
    "is",
    "are",
    "am",
    "will",
    "ago",
    "long",
    "often",
    "now",
    "before",
}
_TIME_WORDS = {*MONTHS, *WEEKDAYS, "weekend", "week", "month", "year", "yesterday", "today"}
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]")


def question_keywords(question: str, limit: int = 6) -> list[str]:
    """The question's own names and topics, as written (so a model learns to copy them).

    >>> question_keywords("When did Maya's sister get engaged?")
    ['Maya', 'sister', 'engaged']
    >>> question_keywords("Where did I live before moving to Denver?")
    ['live', 'moving', 'Denver']
    """
    keep = set(content_words(question))
    out: list[str] = []
    for raw in _WORD.findall(question):
        word = raw.removesuffix("'s")
        low = word.lower()
        if low in _QUESTION_WORDS or low in _TIME_WORDS or low not in keep or word in out:
            continue
        out.append(word)
    return out[:limit]


def _snippet(text: str, answer: str, question: str = "", words: int = 12) -> str:
    """The part of a memory that holds the answer: the sentence sharing most words with the
    answer (then with the question), cut to the ``words`` words around them. What the model
    should point at in a chatty turn, short enough to copy.

    >>> _snippet("Hey Mel! I went to a support group yesterday. How are you?", "support group")
    'I went to a support group yesterday.'
    >>> _snippet("So much news since we last spoke - I went to an LGBTQ conference two "
    ...          "days ago and it was special", "10 July 2023",
    ...          "When did she go to the LGBTQ conference?")
    '... spoke - I went to an LGBTQ conference two days ago and ...'
    >>> _snippet("So much news: after months of looking we finally adopted a beagle "
    ...          "puppy called Miso from the shelter downtown, and he is adorable",
    ...          "Miso", words=6)
    '... beagle puppy called Miso from the ...'
    """
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()] or [text]
    want, asked = set(content_words(answer)), set(content_words(question))

    def score(s: str) -> tuple[int, int]:
        have = set(content_words(s))
        return len(want & have), len(asked & have)

    parts = max(sentences, key=score).split()
    if len(parts) <= words:
        return " ".join(parts)
    hits = [i for i, w in enumerate(parts) if set(content_words(w)) & want] or [
        i for i, w in enumerate(parts) if set(content_words(w)) & asked
    ]
    centre = (hits[0] + hits[-1]) // 2 if hits else 0
    lo = max(0, min(centre - words // 2, len(parts) - words))
    cut = " ".join(parts[lo : lo + words])
    return ("... " if lo else "") + cut + (" ..." if lo + words < len(parts) else "")


class TeacherPolicy(BaseChatModel):
    """A chat model that knows one question's gold answer and evidence (see module doc)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    gold: GoldQuestion
    _found: bool = PrivateAttr(default=False)

    @property
    def _llm_type(self) -> str:
        return "teacher"

    @property
    def found_evidence(self) -> bool:
        return self._found

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._reply(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    # ------------------------------------------------------------------ decisions
    def _reply(self, messages: list[BaseMessage]) -> str:
        g = self.gold
        shown = [
            structured(m)
            for m in messages
            if m.type == "human" and structured(m).get("task") == reason_continue.VERSION
        ]
        if not shown:
            return self._first_retrieve()
        lists = [[RetrievedMemory.model_validate(x) for x in d["memories"]] for d in shown]
        if not g.answerable:
            topic = ", ".join(question_keywords(g.question)) or "this"
            return (
                f"<think>None of the memories mentions {topic}.</think>"
                f"<answer>That was not mentioned.</answer>"
            )
        hits = self._hits(lists)
        need = set(g.evidence)
        if need and need <= {h[2].source_id for h in hits}:
            self._found = True
            return self._answer(hits, lists)
        if len(shown) < 2 and shown[-1].get("retrievals_left", 0) > 0:
            return self._second_retrieve(bool(hits))
        if hits:  # part of the evidence: answer from it, but the record says it was partial
            return self._answer(hits, lists)
        return (
            "<think>The memories do not mention it.</think><answer>That was not mentioned.</answer>"
        )

    def _hits(self, lists: list[list[RetrievedMemory]]) -> list[tuple[int, int, RetrievedMemory]]:
        """(list index, 1-based number, memory) of every shown memory that is gold evidence."""
        out = []
        for li, memories in enumerate(lists):
            for n, m in enumerate(memories, 1):
                if m.source_id and m.source_id in self.gold.evidence:
                    out.append((li, n, m))
        return out

    def _first_retrieve(self) -> str:
        g = self.gold
        words = question_keywords(g.question)
        expr = find_window(g.question, base=g.asked_at, tz=g.asked_at.tzinfo or UTC)
        call = RetrieveCall(
            keywords=words or [g.question],
            start=expr.window.start.date().isoformat() if expr and expr.window.start else None,
            end=expr.window.end.date().isoformat() if expr and expr.window.end else None,
        )
        about = ", ".join(words) if words else "this"
        when = f" ({expr.text})" if expr else ""
        return render_retrieve(f"Search the memory for {about}{when}.", call)

    def _second_retrieve(self, partial: bool) -> str:
        g = self.gold
        words = question_keywords(g.question)
        names = [w for w in words if w[:1].isupper()]
        rest = [w for w in words if w not in names]
        keywords = [*names, *rest[-1:]] if names and rest else list(reversed(words))
        think = (
            "One memory found part of it; I will search for the rest."
            if partial
            else "These memories do not answer it. I will search again with other keywords."
        )
        return render_retrieve(think, RetrieveCall(keywords=keywords or [g.question]))

    def _answer(
        self, hits: list[tuple[int, int, RetrievedMemory]], lists: list[list[RetrievedMemory]]
    ) -> str:
        g = self.gold
        last = len(lists) - 1

        def name(h: tuple[int, int, RetrievedMemory]) -> str:
            return f"Memory {h[1]}" if h[0] == last else f"Earlier memory {h[1]}"

        unique = list({h[2].source_id: h for h in hits}.values())
        unique.sort(key=lambda h: h[2].t)
        first = unique[-1] if g.kind == "now" else unique[0]

        def snippet(h: tuple[int, int, RetrievedMemory]) -> str:
            return f'"{_snippet(h[2].text, g.answer, g.question)}"'

        think = f"{name(first)}: {snippet(first)}"
        if g.kind in ("then", "multi_hop") and len(unique) > 1:
            # two memories at most, both named before either is quoted: a list of "Memory N:
            # ...; Memory M: ..." taught the 135M model to enumerate every memory it was shown
            # and loop until its token budget ran out (docs/benchmarks/training.md)
            a, b = unique[0], unique[-1]
            think = f"{_names(name(a), name(b))}: {snippet(a)} / {snippet(b)}"
        said = spoken_date(first[2].t)
        answer = g.answer
        if g.kind == "when" or (g.kind == "multi_hop" and g.hint.get("when")):
            note = relative_note(first[2].text, said_at=first[2].t)
            think += f' ("{note[0]}" = {note[1]})' if note else f", said {said}"
            if g.kind == "when":
                answer = grounded_date(note[1] if note else said, g.answer)
        elif g.kind == "how_long":
            think += f", said {said}; asked {spoken_date(g.asked_at)}"
        elif g.kind == "now":
            think += ", the latest on this"
        elif g.kind == "then":
            think += ", before the change"
        return f"<think>{think}.</think><answer>{answer}</answer>"


def grounded_date(grounded: str, gold: str) -> str:
    """A when-answer as the teacher writes it: the date its think line grounded, word for
    word, wherever that date agrees with the gold (:func:`agent.scoring.date_correct`); the
    gold's own words otherwise. LoCoMo's golds say one date many ways ("The week before 9
    June 2023", "20 June, 2023", "July 2, 2023", "June 2023" for the week before 21 June); taught
    them as they are, the 135M model learnt that an answer is a loose rewording of the date it
    had just found, and reworded dates it had found right ("the Monday before 24 June 2022"
    from a Friday) in docs/benchmarks/policy.md. Copied, one rule holds for every record.

    >>> grounded_date("the week before 9 June 2023", "The week before 9 June 2023")
    'the week before 9 June 2023'
    >>> grounded_date("2 July 2023", "July 2, 2023")
    '2 July 2023'
    >>> grounded_date("2 April 2023", "The week before 2 April 2023")  # not the same date
    'The week before 2 April 2023'
    >>> grounded_date("13 August 2023", "10 years ago")  # the gold is no date: nothing to judge
    '10 years ago'
    """
    return grounded if date_correct(grounded, gold) else gold


def _names(a: str, b: str) -> str:
    """Two memory names as one subject.

    >>> _names("Memory 2", "Memory 5"), _names("Earlier memory 1", "Memory 3")
    ('Memories 2 and 5', 'Earlier memory 1 and memory 3')
    """
    if a.startswith("Memory ") and b.startswith("Memory "):
        return f"Memories {a.removeprefix('Memory ')} and {b.removeprefix('Memory ')}"
    return f"{a} and {b[0].lower()}{b[1:]}"


def render_trajectory(
    gold: GoldQuestion,
    *,
    store: MemoryStore,
    settings: Settings,
    split: str,
) -> tuple[TrajectoryRecord, dict[str, Any]]:
    """Run the agent with the teacher on one question; the record holds every message the
    agent showed the policy and the teacher's replies, and the final state (for checks)."""
    teacher = TeacherPolicy(gold=gold)
    agent = build_agent()
    ctx = AgentContext(
        user_id=gold.user_id,
        store=store,
        policy=teacher,
        settings=settings,
        now=gold.asked_at,
        user_name=gold.user_name,
    )
    state = agent.invoke(
        {"question": gold.question, "asked_at": gold.asked_at.isoformat()}, context=ctx
    )
    steps = [Step.model_validate(s) for s in state.get("steps", [])]
    versions = list(dict.fromkeys(s.prompt for s in steps if s.prompt))
    record = TrajectoryRecord(
        id=f"traj-{gold.id}",
        question_id=gold.id,
        persona=gold.persona,
        split="heldout" if split == "heldout" else "train",
        kind=gold.kind,
        messages=to_chat(list(state["messages"])),
        prompt_versions=versions,
        retrieves=sum(1 for s in steps if s.kind == "retrieve"),
        found_evidence=teacher.found_evidence or not gold.answerable,
    )
    return record, dict(state)
