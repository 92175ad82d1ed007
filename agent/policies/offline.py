"""The offline policy: a rule-based chat model so the product works with no model at all.

It speaks the same protocol as a language model and reads the same prompts, through the
structured copy of their inputs each prompt module attaches to its messages (the text a model
reads and the data this policy reads are rendered from the same values):
- any question memory could answer retrieves, whoever it is about (a question with content
  words, or with a time): keywords from the question, a window from its temporal expression
  (``dateparser``, resolved against the time the question was asked); a "when" question asks
  for time-anchored evidence;
- with memories in hand it answers by quoting the best-matching ones with their dates; a
  "when" question is answered with the date first, resolving a relative time inside the
  memory ("yesterday" said on 8 May 2023 -> 7 May 2023);
- if a window found nothing it widens to all time once, and the answer says so ("Nothing
  from that time. From other times: ...");
- a statement ("I start at Globex on Monday.") is searched for too, and acknowledged rather
  than answered: "Noted", with the related memories, never "I don't remember anything";
- what holds now first: a memory replaced by a newer statement ranks down (strongly on a
  "now/still" or present-tense question, not at all when it was replaced after the question's
  window) and its quote says since when; a statement of the slot asked about ranks up, and a
  question about oneself ranks statements about someone the user names down.
Every answer starts with ``[offline policy]`` so no one mistakes it for a language model.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.extraction.slots import other_slot, slot_of
from agent.extraction.text import content_words, keywords, stem, strip_discourse
from agent.parsing import parse_output, render_retrieve
from agent.prompts import direct_answer, reason_continue
from agent.prompts._common import structured
from agent.scoring import date_span
from agent.temporal import MONTHS, WEEKDAYS, elapsed, find_window, lasted, relative_note
from schema.agent import RetrieveCall
from schema.retrieval import RetrievedMemory
from schema.timeutil import UTC, asks_when, spoken_date

__all__ = [
    "HOW_LONG_AGO",
    "HOW_LONG_NOW",
    "LABEL",
    "OfflinePolicy",
    "ago",
    "best_memories",
    "expand",
    "is_statement",
    "lasted_as_of",
    "when_of",
]

LABEL = "[offline policy]"
#: "How long ago did I move?" (a duration up to the question's day) and "How long has Nate
#: had his turtles?" (a duration a memory states)
HOW_LONG_AGO = re.compile(r"^\W*how long ago\b", re.I)
HOW_LONG_NOW = re.compile(r"^\W*how long (?:has|have)\b", re.I)
#: questions a duration up to a day answers ("When did Tim start ...?", "How long has ...?")
_SINCE_WHEN = re.compile(r"\b(?:how long|start|started|begin|began|since)\b", re.I)
#: a question about what the assistant said ("What did you recommend?"), not one merely
#: addressed to it ("Do you remember when I ...?")
_TO_ASSISTANT = re.compile(
    r"\byou\s+(?:said|say|told|tell|recommend\w*|suggest\w*|answer\w*|repl\w*|"
    r"mention\w*|advis\w*|propos\w*)\b|\byour\s+(?:answer|reply|advice|suggestion|"
    r"recommendation)s?\b",
    re.I,
)
#: a date only as vague as "a few years before ...": no duration to count from it
_VAGUE = re.compile(r"\ba (?:few|couple)\b", re.I)
#: a memory that is one question and nothing else
_ONE_QUESTION = re.compile(r"[^.!?]*\?")

_LATEST = re.compile(r"\b(now|currently|these days|still|latest|most recent|anymore)\b", re.I)
#: a question in the present tense asks what holds now ("Where do I work?"), unless it also
#: speaks of the past ("What did I say I do?")
_PRESENT = re.compile(r"\b(do|does|am|is|are)\b|\b(?:I'm|you're|he's|she's)\b", re.I)
_PAST = re.compile(r"\b(did|was|were|had|used to|ever|before|ago|last)\b", re.I)
_QUESTION_WORDS = {
    "what",
    "when",
    "where",
    "who",
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
    "tell",
    "remember",
    "ever",
}
_TIME_WORDS = {*MONTHS, *WEEKDAYS, "weekend", "ago"}
#: how a request opens when it has no question mark ("tell me when I moved", "remind me of
#: ...", "when did James buy it"); a message with neither is a statement
_ASKING = re.compile(
    r"^(?:what|when|where|who|whom|whose|which|how|why|did|does|do|was|were|is|are|am|can|"
    r"could|would|will|should|have|has|had|tell|remind|show|list|give|find|recall|remember|"
    r"describe|summari[sz]e|name|any|please)\b",
    re.I,
)


def is_statement(message: str) -> bool:
    """A message that tells rather than asks: no question mark, and no opening that asks.

    >>> is_statement("Hi, I am starting a new job at Globex next Monday.")
    True
    >>> [is_statement(m) for m in ("tell me where I moved", "Oh, when did I move", "Yes?")]
    [False, False, False]
    """
    return "?" not in message and not _ASKING.match(strip_discourse(message.strip()))


def _question_terms(question: str) -> list[str]:
    return [
        w
        for w in content_words(question)
        if w not in _QUESTION_WORDS and w not in _TIME_WORDS and not w.isdigit()
    ]


#: words that answer each other on the profile's slots ("Where did I live?" is answered by
#: "I moved to Lisbon"; "my job" by "I work at"): the extractor's slot patterns, as stems
_KIN = tuple(
    frozenset(stem(w) for w in family.split())
    for family in ("live move relocate home house apartment", "work job employ hire career")
)


def _matched(terms: set[str], words: set[str]) -> int:
    """How many question stems the memory's words answer, a stem or its slot kin.

    >>> _matched({"live", "lisbon"}, {"move", "lisbon", "job"})
    2
    >>> _matched({"live"}, {"work"})
    0
    """
    found = 0
    for term in terms:
        kin = next((f for f in _KIN if term in f), frozenset((term,)))
        found += bool(kin & words)
    return found


def _words(m: RetrievedMemory) -> set[str]:
    """The memory's content words, with who said it: "When did Marcus meet his teammates?"
    is answered by what Marcus said, not by a greeting that names him."""
    said_by = content_words(m.speaker) if m.kind.value == "turn" and m.speaker else []
    return {stem(w) for w in [*content_words(m.text), *said_by]}


class OfflinePolicy(BaseChatModel):
    """Implements the chat-model interface without a model (see the module docstring)."""

    @property
    def _llm_type(self) -> str:
        return "offline"

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
        inputs = [structured(m) for m in messages if m.type == "human"]
        asked = next((d for d in reversed(inputs) if "question" in d), None)
        if asked is None:
            return (
                f"<think>No question found.</think><answer>{LABEL} Please ask a question.</answer>"
            )
        question = str(asked["question"])
        asked_at = datetime.fromisoformat(str(asked["asked_at"]))
        if asked.get("task") == direct_answer.VERSION:
            return self._answer(question, _memories([asked]), asked_at=asked_at)
        found = [d for d in inputs if d.get("task") == reason_continue.VERSION]
        previous = [parse_output(str(m.content), now=asked_at) for m in messages if m.type == "ai"]
        retrieved = [p for p in previous if p.action == "retrieve"]
        if found or retrieved:
            memories = _memories(found)
            windowed = any(p.start or p.end for p in retrieved)
            left = found[-1].get("retrievals_left", 1) if found else 1
            if not memories and windowed and len(retrieved) < 2 and left:
                last_call = retrieved[-1].retrieve
                call = RetrieveCall(
                    keywords=last_call.keywords if last_call else _question_terms(question)
                )
                return render_retrieve(
                    "Nothing in that window. I will widen the search to all time.", call
                )
            last = retrieved[-1] if retrieved else None
            widened = windowed and last is not None and not (last.start or last.end)
            end = last.end if last is not None else None
            return self._answer(question, memories, widened=widened, until=end, asked_at=asked_at)
        if self._needs_memory(question, asked_at):
            return self._retrieve(question, asked_at)
        return (
            "<think>Nothing in this message could be answered from memory, and I have no "
            f"language model to reason with.</think><answer>{LABEL} I can recall what you have "
            "told me, but I cannot chat without a language model. Ask me about something "
            "from the past, e.g. 'When did I ...?' (configure PERSONA_POLICY=openai or hf for "
            "a real model).</answer>"
        )

    @staticmethod
    def _needs_memory(question: str, asked_at: datetime) -> bool:
        """Anything memory could answer: a question with a content word (a name, a topic, an
        object; whoever it is about), or one that names a time."""
        return bool(_question_terms(question)) or find_window(question, base=asked_at) is not None

    @staticmethod
    def _retrieve(question: str, asked_at: datetime) -> str:
        expr = find_window(question, base=asked_at, tz=asked_at.tzinfo or UTC)
        terms = keywords(question, 6, exclude=_QUESTION_WORDS) or _question_terms(question)
        if expr is not None:
            drop = {stem(w) for w in content_words(expr.text)}
            terms = [t for t in terms if stem(t) not in drop] or terms
        call = RetrieveCall(
            keywords=terms or [question],
            start=expr.window.start.isoformat() if expr and expr.window.start else None,
            end=expr.window.end.isoformat() if expr and expr.window.end else None,
        )
        reason = (
            "This may relate to something in memory"
            if is_statement(question)
            else "The question could be answered from memory"
        )
        if expr is not None:
            reason += f" and names a time ('{expr.text}' -> {expr.window.describe()})"
        return render_retrieve(f"{reason}, so I will search the memory for {terms}.", call)

    @staticmethod
    def _answer(
        question: str,
        memories: list[RetrievedMemory],
        *,
        widened: bool = False,
        until: datetime | None = None,
        asked_at: datetime | None = None,
    ) -> str:
        """Quote the best memories; ``widened``: the question's window held nothing and these
        come from other times, which the answer says first. A memory replaced before the
        window's end (``until``; None: now) ranks below what holds then, strongly so when the
        question asks what holds now ("Do I still ...?"), and its quote says since when."""
        memories = _answering(question, memories)
        statement = is_statement(question)
        if not memories:
            if statement:
                return (
                    "<think>This tells me something; no memory relates to it.</think>"
                    f"<answer>{LABEL} Noted. Without a language model I can only answer "
                    "questions about what you have told me.</answer>"
                )
            return (
                "<think>No memory matched.</think>"
                f"<answer>{LABEL} I don't remember anything about that.</answer>"
            )
        best = best_memories(question, memories, until=until)
        lines = []
        for m in best:
            note = relative_note(m.text, said_at=m.t)
            meaning = f" ('{note[0]}' then means {note[1]})" if note else ""
            day = f"{m.t.strftime('%A')} {spoken_date(m.t)}"
            if m.valid_to is not None and m.status == "superseded":
                meaning += f" (no longer true from {spoken_date(m.valid_to)})"
            if m.kind.value == "turn" and m.speaker:
                lines.append(f'on {day} {m.speaker} said: "{m.text}"{meaning}')
            else:
                lines.append(f'on {day} ({m.kind.value}): "{m.text}"{meaning}')
        lead = ""
        if statement:
            lead = "Noted. Related: "
        elif duration := _duration(question, best[0], asked_at):
            lead = f"{duration}. "
        elif asks_when(question):
            lead = f"{when_of(best[0])}. "
        if not statement:
            lead += "From other times: " if widened else "From your memories: "
            if widened:
                lead = "Nothing from that time. " + lead
        answer = f"{LABEL} {lead}" + "; and ".join(lines)
        terms = sorted({stem(w) for w in _question_terms(question)})
        think = f"Best matches for {terms}: {len(memories)} memories considered."
        return f"<think>{think}</think><answer>{answer}</answer>"


def _answering(question: str, memories: list[RetrievedMemory]) -> list[RetrievedMemory]:
    """The memories that could answer: those sharing a word (or slot kin) with the question;
    all of them when the question has no content word."""
    q = {stem(w) for w in _question_terms(question)}
    return [m for m in memories if _matched(q, _words(m))] if q else list(memories)


def best_memories(
    question: str,
    memories: list[RetrievedMemory],
    *,
    until: datetime | None = None,
    n: int = 2,
) -> list[RetrievedMemory]:
    """The ``n`` memories that best answer the question, near-duplicates dropped: word overlap
    with the question, a statement of the slot asked about, and what holds at ``until``
    (None: now) first; a memory sharing no word with the question never answers it.

    >>> from schema.nodes import MemoryKind
    >>> def turn(text, who): return RetrievedMemory(id=text, kind=MemoryKind.TURN, text=text,
    ...     speaker=who, t=datetime(2022, 5, 20, tzinfo=UTC))
    >>> said = [turn("I love pizza.", "Joanna"), turn("I adopted Max, a puppy!", "Nate")]
    >>> [m.text for m in best_memories("When did Nate adopt Max?", said)]
    ['I adopted Max, a puppy!']

    A memory that is only a question (often the user's own, asked before) or what the
    assistant said tells nothing; asked since when or how long, a memory saying how long
    something has lasted ranks up:

    >>> q = "When did Tim start playing the violin?"
    >>> said = [turn(q, "user"), turn("Tim started playing the violin.", "assistant"),
    ...     turn("I'm learning to play the violin!", "Tim"),
    ...     turn("I've been playing for 4 months now.", "Tim")]
    >>> [m.text for m in best_memories(q, said, n=1)]
    ["I've been playing for 4 months now."]
    >>> [m.text for m in best_memories("Which violin did you tell Tim to play?", said, n=1)]
    ['Tim started playing the violin.']
    >>> [m.text for m in best_memories("Do you remember when " + q[5:], said, n=1)]
    ["I've been playing for 4 months now."]
    """
    memories = _answering(question, memories)
    if not memories:
        return []
    q = {stem(w) for w in _question_terms(question)}
    wants_latest = bool(_LATEST.search(question)) or (until is None and asks_now(question))
    since_when = bool(_SINCE_WHEN.search(question))
    to_assistant = bool(_TO_ASSISTANT.search(question))
    newest = max(m.t for m in memories)

    def score(item: tuple[int, RetrievedMemory]) -> tuple[float, int]:
        order, m = item
        overlap = _matched(q, _words(m)) / (len(q) or 1)
        kind_bonus = {"turn": 0.1, "fact": 0.1, "event": 0.0, "procedure": 0.05}[m.kind.value]
        recency = 0.3 if wants_latest and m.t == newest else 0.0
        replaced = _replaced(m, until)
        superseded = (1.0 if wants_latest else 0.5) if replaced else 0.0
        # a bare question, or what the assistant itself said (unless the question is about
        # what it said: "What did you recommend?"), is no evidence of what happened
        echo = m.speaker == "assistant" and not to_assistant
        asked = 1.0 if echo or _ONE_QUESTION.fullmatch(m.text.strip()) else 0.0
        lasting = 0.3 if since_when and lasted(m.text) else 0.0
        topical = _on_topic(q, question, m)
        return (overlap + kind_bonus + recency + topical + lasting - superseded - asked, -order)

    def near(a: RetrievedMemory, b: RetrievedMemory) -> bool:
        wa, wb = _words(a), _words(b)
        return len(wa & wb) / (len(wa | wb) or 1) >= 0.6

    best: list[RetrievedMemory] = []
    for _, m in sorted(enumerate(memories), key=score, reverse=True):
        if not any(near(m, b) for b in best):
            best.append(m)
        if len(best) == n:
            break
    return best


def when_of(m: RetrievedMemory) -> str:
    """When what the memory tells happened: the relative time inside it resolved against the
    day it was said ("yesterday" said on 8 May 2023: 7 May 2023), else that day.

    >>> from schema.nodes import MemoryKind
    >>> said = datetime(2023, 5, 8, 12, tzinfo=UTC)
    >>> when_of(RetrievedMemory(id="t", kind=MemoryKind.TURN, text="I ran a 5k.", t=said))
    '8 May 2023'
    >>> when_of(RetrievedMemory(id="t", kind=MemoryKind.TURN, text="I ran yesterday.", t=said))
    '7 May 2023'
    """
    note = relative_note(m.text, said_at=m.t)
    return note[1] if note else spoken_date(m.t)


def ago(when: str, asked: date) -> str | None:
    """How long before ``asked`` a dated answer was, the date kept; None for no date or
    one after the question.

    >>> ago("18 November 2024", date(2025, 1, 20)), ago("in a while", date(2025, 1, 20))
    ('about 2 months ago (18 November 2024)', None)
    >>> ago("January 2025", date(2025, 1, 20))  # not over yet: no duration to count
    >>> ago("since a few years before 6 December 2023", date(2023, 12, 20))
    """
    span = date_span(when)
    if span is None or span[1] > asked or _VAGUE.search(when):
        return None  # no date, a period not over by the question's day, or "a few years"
    middle = span[0] + (span[1] - span[0]) / 2
    return f"{elapsed(middle, asked)} ago ({when})"


def lasted_as_of(m: RetrievedMemory) -> str | None:
    """The duration a memory says has lasted up to its day, and that day.

    >>> from schema.nodes import MemoryKind
    >>> said = datetime(2022, 1, 23, 14, tzinfo=UTC)
    >>> had = "I've had them for 3 years now!"
    >>> lasted_as_of(RetrievedMemory(id="t", kind=MemoryKind.TURN, text=had, t=said))
    '3 years (as of 23 January 2022)'
    """
    phrase = lasted(m.text)
    return f"{phrase} (as of {spoken_date(m.t)})" if phrase else None


def _duration(question: str, m: RetrievedMemory, asked_at: datetime | None) -> str | None:
    """The duration a "how long" question asks for, from its best memory."""
    if HOW_LONG_AGO.match(question) and asked_at is not None:
        return ago(when_of(m), asked_at.date())
    if HOW_LONG_NOW.match(question):
        return lasted_as_of(m)
    return None


#: the slots that answer each kin family of question words (where one lives, works)
_SLOT_KIN = {"lives_in": _KIN[0], "job": _KIN[1]}
_ASKS_SELF = re.compile(r"\b(?:I|I'm|my|me)\b")


def _on_topic(q: set[str], question: str, m: RetrievedMemory) -> float:
    """A statement of the slot the question asks about ("Where do I work?": "I work at
    Bosch", not "I got a job offer") ranks up; a question about oneself ranks statements
    about someone else down ("Where did I move?": not "My friend Jonas moved to Paris").

    >>> from datetime import UTC, datetime
    >>> from schema.nodes import MemoryKind
    >>> def turn(text): return RetrievedMemory(id="t", kind=MemoryKind.TURN, text=text,
    ...     speaker="Ana", t=datetime(2024, 1, 1, tzinfo=UTC))
    >>> q = {stem("work")}
    >>> said = ("I work at Bosch.", "I got a job offer.")
    >>> [_on_topic(q, "Where do I work?", turn(t)) for t in said]
    [0.2, 0.0]
    >>> _on_topic({stem("move")}, "Where did I move?", turn("My friend Jonas moved to Paris."))
    -0.2
    """
    speaker = m.speaker or "someone"
    own = slot_of(m.text, speaker)
    family = _SLOT_KIN.get(own.split(":", 1)[1]) if own else None
    if family is not None and family & q:
        return 0.2
    other = other_slot(m.text, speaker)
    if other and _ASKS_SELF.search(question) and other.split(":")[1] not in question.lower():
        return -0.2
    return 0.0


def asks_now(question: str) -> bool:
    """A question about what holds now: present tense, and no past in it.

    >>> [asks_now(q) for q in ("Where do I work?", "Is Jonas in Rome?", "Where did I work?")]
    [True, True, False]
    """
    return bool(_PRESENT.search(question)) and not _PAST.search(question)


def _replaced(m: RetrievedMemory, until: datetime | None) -> bool:
    """Replaced by a newer statement before ``until`` (None: by now).

    >>> from schema.nodes import MemoryKind
    >>> m = RetrievedMemory(id="t", kind=MemoryKind.TURN, text="I love sushi",
    ...     t=datetime(2024, 1, 10, tzinfo=UTC), status="superseded",
    ...     valid_to=datetime(2024, 6, 12, tzinfo=UTC))
    >>> _replaced(m, None), _replaced(m, datetime(2024, 4, 1, tzinfo=UTC))
    (True, False)
    """
    if m.status != "superseded":
        return False
    return until is None or m.valid_to is None or m.valid_to < until


def expand(raws: list[Any]) -> list[RetrievedMemory]:
    """Memories as the rendered text lists them: each with its event's turns and expansions."""
    out: list[RetrievedMemory] = []
    for raw in raws:
        m = RetrievedMemory.model_validate(raw)
        out += [m, *m.turns, *m.related]
    return out


def _memories(inputs: list[dict[str, Any]]) -> list[RetrievedMemory]:
    """Every memory the prompts have shown so far, in order."""
    return [m for data in inputs for m in expand(data.get("memories") or [])]
