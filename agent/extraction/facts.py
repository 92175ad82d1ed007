"""Semantic facts from what the user says: model-free (first-person declarative sentences,
rewritten in the third person, with a slot that lets a newer fact supersede an older one)
and LLM-driven (the extract_facts prompt), side by side. Deterministic ids: the same turns
always give the same facts, so re-ingesting changes nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.language_models.chat_models import BaseChatModel

from agent.extraction.common import FIRST_PERSON, Failures, call_json
from agent.extraction.nodes import new_fact
from agent.extraction.text import STOPWORDS, keywords, sentences, stem, third_person
from agent.prompts import extract_facts
from agent.prompts._common import JsonResponseError
from schema.nodes import Fact, Turn

__all__ = ["HeuristicFactExtractor", "LLMFactExtractor", "other_slot", "slot_of"]

_TRIVIAL = re.compile(
    r"^(i'm|i am) (good|fine|great|ok|okay|doing (well|good|great))\b|^(i )?(thank|thanks)|"
    r"^i (know|see|agree|guess|think so|hope so|mean)\b|^(i'm|i am) (so )?(glad|happy|sorry) "
    r"(to hear|for you|that)",
    re.I,
)

#: "my job interview", "a job offer": about a job, not the one the speaker holds
_NOT_THE_JOB = r"(?! (?:offer|interview|application|hunt|search|fair|posting|ad)s?\b)"
#: a capitalised word next (a place, an employer), whatever the pattern's case: "I live in
#: Berlin", never "I live in the moment" or "I work at night"
_PROPER = r"(?-i:[A-Z])"
#: a break-up told as news ends there or says when: "we split up last week", never "we split
#: up to find parking" or "we broke up a fight"
_ENDS = (
    r"(?=\s*(?:[.!,;]|$)|\s+(?:(?:last|this|yesterday|today|recently|for good|a (?:week|month|"
    r"year|few|couple)|(?:\w+ )?(?:days|weeks|months|years) ago)\b|(?:in|on) " + _PROPER + "))"
)

# (pattern, slot template). The slot names what a fact is about; a newer fact with the same
# slot (for the same speaker) supersedes the older one.
_SLOTS: Sequence[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bmy name is\b", re.I), "name"),
    (re.compile(r"\bI(?:'m| am) (\d{1,3}) (?:years old|yo)\b", re.I), "age"),
    (
        re.compile(
            rf"\bI (?:now )?(?:live|am living|'m living) in {_PROPER}|"
            rf"\bI (?:just |recently |finally )?(?:moved|relocated) (?:back )?to {_PROPER}",
            re.I,
        ),
        "lives_in",
    ),
    (
        re.compile(
            rf"\bI (?:now )?work (?:as an? \w|at {_PROPER}|for {_PROPER})|"
            rf"\bI(?:'m| am) (?:now )?working (?:as an? \w|at {_PROPER}|for {_PROPER})|"
            rf"\bmy (?:new )?job (?:as an? \w|at {_PROPER})|\bmy new job\b{_NOT_THE_JOB}|"
            rf"\bI(?:'m| am) (?:now )?employed\b|"
            rf"\bI (?:got|started|landed|accepted) a (?:new )?job\b{_NOT_THE_JOB}",
            re.I,
        ),
        "job",
    ),
    (re.compile(r"\bmy fav(?:ou?rite|e) ([a-z]+(?: [a-z]+)?) (?:is|are)\b", re.I), "favorite:{0}"),
    (
        re.compile(
            r"\bI(?:'m| am) (?:now )?(?:married|single|engaged|divorced|in a relationship)\b|"
            r"\bI(?:'m| am) (?:now )?dating (?!myself\b|apps?\b)|"
            r"\b(?:I|we) (?:just |finally )?(?:got )?(?:married|engaged|divorced)\b(?! to the )|"
            rf"\b(?:I|we|{_PROPER}[a-z]+ and I) (?:just |finally )?(?:broke up|split up|"
            rf"separated){_ENDS}|\bI (?:just |finally )?broke up with\b",
            re.I,
        ),
        "relationship",
    ),
    (
        re.compile(
            r"\bI (?:really )?(?:love|like|enjoy|hate|dislike|can't stand|don't like) "
            r"(?:to )?(?:the |my |a |an )?([a-z]+)\b(?!['’]s\b)",
            re.I,
        ),
        "opinion:{0}",
    ),
    (
        re.compile(
            r"\bI(?:'m| am) (?:currently |now )?(reading|learning|studying|training for|"
            r"working on) ",
            re.I,
        ),
        "doing:{0}",
    ),
]
#: a move or a job only imagined: "If I moved to Tokyo, I'd be happy"
_HYPOTHETICAL = re.compile(r"\b(?:if|unless|wish|whether|suppose|imagine)\b", re.I)


#: the same slots for someone the speaker talks about, named as the subject ("My friend Jonas
#: moved to Paris", later "Jonas moved to Rome": Jonas's home changed, not the speaker's)
_NAME = r"\b([A-Z][a-z]+) (?:just |recently |finally |also |now )?"
_OTHERS: Sequence[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            _NAME
            + r"(?:moved|relocated) (?:back )?to [A-Z]|"
            + _NAME
            + r"(?:lives|is living) in [A-Z]"
        ),
        "lives_in",
    ),
    (
        re.compile(
            _NAME
            + r"(?:works|is working) (?:as an? \w|at [A-Z]|for [A-Z])|"
            + _NAME
            + rf"(?:got|started|has) a (?:new )?job\b{_NOT_THE_JOB}"
        ),
        "job",
    ),
    (
        re.compile(
            _NAME
            + r"got (?:married|engaged|divorced)\b(?! to the )|"
            + _NAME
            + r"is (?:now )?(?:married|engaged|divorced)(?= to [A-Z]|\s*[.!,;]|$)"
        ),
        "relationship",
    ),
]
#: subjects that name no one
_NO_ONE = frozenset("nobody noone everybody everyone somebody someone anybody anyone".split())


def other_slot(sentence: str, speaker: str) -> str | None:
    """The slot a sentence fills for someone else the speaker names as its subject:
    ``speaker:name:slot``, so a newer statement about the same person supersedes it.

    >>> other_slot("My friend Jonas moved to Paris for a job.", "Ana")
    'ana:jonas:lives_in'
    >>> other_slot("Then Jonas moved to Rome.", "Ana")
    'ana:jonas:lives_in'
    >>> [other_slot(s, "Ana") for s in ("He moved to Rome.", "Ana moved to Rome.", "I moved.")]
    [None, None, None]
    """
    for pattern, slot in _OTHERS:
        for match in pattern.finditer(sentence):
            name = next(g for g in match.groups() if g)
            low = name.lower()
            if low in STOPWORDS or low in _NO_ONE or low == speaker.lower():
                continue
            return f"{speaker.lower()}:{low}:{slot}"
    return None


def slot_of(sentence: str, speaker: str) -> str | None:
    """The slot a first-person sentence fills, prefixed by the speaker.

    >>> slot_of("I just moved to Denver.", "Ana")
    'ana:lives_in'
    >>> slot_of("I hate sushi now", "Ana") == slot_of("I love sushi!", "Ana")
    True
    >>> [slot_of(s, "Ana") for s in ("I got a job offer from BMW.", "Tom and I broke up.")]
    [None, 'ana:relationship']
    """
    for pattern, template in _SLOTS:
        match = pattern.search(sentence)
        if match and _HYPOTHETICAL.search(sentence[: match.start()]):
            continue
        if match:
            groups = [g.lower() for g in match.groups() if g]
            if any(g in STOPWORDS for g in groups):
                continue  # "I love how ..." names no object
            args = [stem(g) for g in groups]
            return f"{speaker.lower()}:{template.format(*args) if '{' in template else template}"
    return None


class HeuristicFactExtractor:
    """Facts from first-person, declarative user sentences (no language model).

    A sentence qualifies when it is in the first person (or fills a slot for someone the
    speaker names: "Jonas moved to Rome"), is not a question, has at least
    four words and two content words, and is not small talk. The fact's statement is the
    sentence rewritten in the third person; keywords are its content words.
    """

    def extract(
        self, user_id: str, turns: Sequence[Turn], active: Sequence[Fact] = ()
    ) -> list[Fact]:
        facts: list[Fact] = []
        for turn in turns:
            if turn.role != "user":
                continue
            for i, sent in enumerate(sentences(turn.text)):
                if not self._qualifies(sent):
                    continue
                statement = third_person(sent, turn.speaker)
                kws = keywords(sent, 5, exclude=[turn.speaker])
                slot = slot_of(sent, turn.speaker) or other_slot(sent, turn.speaker)
                facts.append(
                    new_fact(
                        user_id,
                        turn,
                        (i,),
                        text=statement,
                        keywords=kws,
                        confidence=0.7 if slot else 0.5,
                        slot=slot,
                        source="heuristic",
                    )
                )
        return facts

    @staticmethod
    def _qualifies(sent: str) -> bool:
        # a question anywhere: "Where did I move? what was it called" is one sentence to
        # the splitter (no capital after the '?'), and no statement about the user
        if "?" in sent or _TRIVIAL.search(sent.strip()):
            return False
        # a slot's statement may be short ("I love sushi.", "We split up.") and say "we"
        if slot_of(sent, "") or other_slot(sent, ""):
            return len(sent.split()) >= 3 and len(keywords(sent, 5)) >= 1
        if not FIRST_PERSON.search(sent) or len(sent.split()) < 4:
            return False
        return len(keywords(sent, 5)) >= 2


class LLMFactExtractor:
    """Facts proposed by the model (JSON, one repair retry); the model-free extractor takes
    over for a turn the model fails on."""

    def __init__(self, model: BaseChatModel, *, retries: int = 1) -> None:
        self.model = model
        self.retries = retries
        self.fallback = HeuristicFactExtractor()
        self.failures = Failures()

    def extract(
        self, user_id: str, turns: Sequence[Turn], active: Sequence[Fact] = ()
    ) -> list[Fact]:
        out: list[Fact] = []
        for turn in turns:
            if turn.role != "user":
                continue
            msgs = extract_facts.render(
                speaker=turn.speaker, text=turn.text, when=turn.t, active=[*active, *out]
            )
            try:
                resp = call_json(self.model, msgs, extract_facts.Response, retries=self.retries)
            except JsonResponseError as exc:
                self.failures.add(f"extract_facts {turn.id}: {exc}")
                out += self.fallback.extract(user_id, [turn], active)
                continue
            if not resp.keep:
                continue
            known = {f.id for f in (*active, *out)}
            for i, f in enumerate(resp.facts):
                out.append(
                    new_fact(
                        user_id,
                        turn,
                        ("llm", i),
                        text=f.statement,
                        keywords=f.keywords or keywords(f.statement, 5),
                        confidence=f.confidence,
                        slot=f"{turn.speaker.lower()}:{f.slot}" if f.slot else None,
                        source="llm",
                        supersedes=[s for s in f.supersedes if s in known],
                    )
                )
        return out
