"""Slots: what a statement is about, so that a newer statement on the same slot supersedes
the older one (where the speaker lives or works, their relationship, what they love), for the
speaker and for the people they name ("Jonas moved to Rome"). Pattern-based, model-free; the
offline policy reads the same slots to tell a statement of the slot asked about from one that
only shares its words."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.extraction.text import STOPWORDS, stem

__all__ = ["other_slot", "slot_of"]

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
