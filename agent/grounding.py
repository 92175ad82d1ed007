"""Dated answers to "when" questions, and durations for "how long" ones.

A model's answer to "When did ...?" must name a calendar date (a day, a week or a month) that
the memories it retrieved support: a date said near one of their days, or what a relative time
inside one of them resolves to ("last week" said on 13 October 2023). A small policy often
answers with the memory's own words instead ("the other day", "the week before the start of
the program"), with a bare year, or with a date no memory is near. Those answers are replaced
by the date of the memory that best answers the question (the offline policy's ranking and
relative-date resolver) unless that date is no finer than the answer's own ("2018" stays, with
whatever the answer says beside it), and the agent records the replacement as a ``grounded``
step with the model's own answer, so traces, the UI and the benchmarks show both. An
abstention stays an abstention, and a question no retrieved memory shares a word with keeps
the model's answer.

"How long ago ...?" asks for a duration: an answer that names only a date ("18 November 2024",
which small policies give) becomes how long before the question that was, with the date
kept ("about 2 months ago (18 November 2024)"). "How long has ...?" is answered from what a
memory says has lasted up to its day ("I've had them for 3 years now": "3 years (as of 23
January 2022)") when the answer names no duration. :func:`ground` picks the rule.

Rules, not a model: this is the same deterministic resolver the offline policy answers with,
applied only where the model's answer gives the user no date (or duration) to act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from agent.policies.offline import (
    HOW_LONG_AGO,
    HOW_LONG_NOW,
    ago,
    best_memories,
    lasted_as_of,
    when_of,
)
from agent.scoring import date_span, is_abstention
from agent.temporal import DURATION, MONTHS, relative_note
from schema.retrieval import RetrievedMemory
from schema.timeutil import asks_when, spoken_date

__all__ = ["Grounded", "ground", "ground_how_long", "ground_when"]

#: an answer's date is a calendar date when it spans at most this (a month); a year is not
FINEST = timedelta(days=31)
#: a date said in a memory lies within this of the day it was said ("next month", "last week")
NEAR = timedelta(days=31)


@dataclass(frozen=True)
class Grounded:
    answer: str  # the dated answer
    note: str  # why it was replaced, and from which memory


def _supported(span: tuple[date, date], memories: list[RetrievedMemory]) -> bool:
    """Does some memory support the date: said within :data:`NEAR` of its day, overlapping
    what a relative time inside it resolves to, or in a month its text names (within a year
    of its day: "back in June")?

    >>> from datetime import UTC, datetime
    >>> from schema.nodes import MemoryKind
    >>> m = RetrievedMemory(id="t", kind=MemoryKind.TURN, text="We met in June at the fair.",
    ...     t=datetime(2022, 9, 10, tzinfo=UTC))
    >>> june, march = (date(2022, 6, 1), date(2022, 7, 1)), (date(2022, 3, 1), date(2022, 4, 1))
    >>> _supported(june, [m]), _supported(march, [m])
    (True, False)
    """
    lo, hi = span
    for m in memories:
        day = m.t.date()
        if lo < day + NEAR + timedelta(days=1) and day - NEAR < hi:
            return True
        month = MONTHS[lo.month - 1]
        if abs((lo - day).days) <= 366 and re.search(rf"\b{month}\b", m.text, re.I):
            return True
        note = relative_note(m.text, said_at=m.t)
        resolved = date_span(note[1]) if note else None
        if resolved and lo < resolved[1] and resolved[0] < hi:
            return True
    return False


def ground_when(question: str, answer: str, memories: list[RetrievedMemory]) -> Grounded | None:
    """The dated answer that replaces ``answer``, or None to keep it.

    >>> from datetime import UTC, datetime
    >>> from schema.nodes import MemoryKind
    >>> said = [RetrievedMemory(id="t1", kind=MemoryKind.TURN, speaker="Nate",
    ...     text="I just adopted Max, a puppy!", t=datetime(2022, 5, 20, 18, tzinfo=UTC))]
    >>> q = "When did Nate adopt Max?"
    >>> ground_when(q, "the other day", said).answer
    '20 May 2022'
    >>> ground_when(q, "2022", said).note
    "the answer named no calendar date ('2022'); dated from Nate's words of 20 May 2022"
    >>> years = [RetrievedMemory(id="t2", kind=MemoryKind.TURN, speaker="Nate",
    ...     text="I adopted Max last year.", t=datetime(2022, 5, 20, 18, tzinfo=UTC))]
    >>> ground_when(q, "In 2021, I think.", years) is None  # the memory says no more than that
    True
    >>> ground_when(q, "On 20 May 2022.", said) is None  # dated and supported: kept
    True
    >>> ground_when(q, "In March 2019.", said).answer  # a date no memory is near
    '20 May 2022'
    >>> ground_when(q, "I don't know.", said) is None  # an abstention stays one
    True
    >>> ground_when("What does Nate like?", "puppies", said) is None  # not a when-question
    True
    """
    if not asks_when(question) or is_abstention(answer) or HOW_LONG_AGO.match(question):
        return None
    span = date_span(answer)
    dated = span is not None and span[1] - span[0] <= FINEST
    if dated and _supported(span, memories):  # type: ignore[arg-type]
        return None
    best = best_memories(question, memories, n=1)
    if not best:
        return None
    m = best[0]
    resolved = when_of(m)
    better = date_span(resolved)
    if span is not None and better is not None:
        overlap = span[0] < better[1] and better[0] < span[1]
        if overlap and better[1] - better[0] >= span[1] - span[0]:
            return None  # the memory says no more than the answer does ("2018" and "2018")
    said = f"{m.speaker}'s words" if m.speaker else f"the {m.kind.value}"
    why = "named no calendar date" if not dated else "named a date no retrieved memory is near"
    return Grounded(
        answer=resolved,
        note=f"the answer {why} ({answer.strip()[:80]!r}); dated from {said} of {spoken_date(m.t)}",
    )


def ground_how_long(
    question: str, answer: str, memories: list[RetrievedMemory], *, asked_at: datetime
) -> Grounded | None:
    """The duration that replaces an answer to "How long ...?" naming none, or None to keep it.

    >>> from datetime import UTC, datetime
    >>> from schema.nodes import MemoryKind
    >>> moved = [RetrievedMemory(id="t1", kind=MemoryKind.TURN, speaker="Jasper",
    ...     text="We moved to Osaka yesterday!", t=datetime(2024, 11, 19, 9, tzinfo=UTC))]
    >>> asked = datetime(2025, 1, 20, 12, tzinfo=UTC)
    >>> q = "How long ago did Jasper move to Osaka?"
    >>> ground_how_long(q, "18 November 2024", moved, asked_at=asked).answer
    'about 2 months ago (18 November 2024)'
    >>> ground_how_long(q, "He moved.", moved, asked_at=asked).answer  # no date: the memory's
    'about 2 months ago (18 November 2024)'
    >>> ground_how_long(q, "About two months ago.", moved, asked_at=asked) is None
    True
    >>> had = [RetrievedMemory(id="t2", kind=MemoryKind.TURN, speaker="Nate",
    ...     text="I've had them for 3 years now!", t=datetime(2022, 1, 23, tzinfo=UTC))]
    >>> ground_how_long("How long has Nate had his turtles?", "since 2019", had,
    ...     asked_at=asked).answer
    '3 years (as of 23 January 2022)'
    """
    if is_abstention(answer) or DURATION.search(answer):
        return None
    if HOW_LONG_NOW.match(question):
        best = best_memories(question, memories, n=1)
        stated = lasted_as_of(best[0]) if best else None
        if stated is None:
            return None
        return Grounded(
            answer=stated,
            note=f"the answer named no duration ({answer.strip()[:80]!r}); "
            f"as said on {spoken_date(best[0].t)}",
        )
    if not HOW_LONG_AGO.match(question):
        return None
    span = date_span(answer)
    if span is not None and span[1] - span[0] <= FINEST and _supported(span, memories):
        when, why = _lead_lower(answer.strip().rstrip(".")), "the answer's date"
    else:
        best = best_memories(question, memories, n=1)
        if not best:
            return None
        when, why = when_of(best[0]), f"the date of the memory of {spoken_date(best[0].t)}"
    duration = ago(when, asked_at.date())
    if duration is None:
        return None
    return Grounded(
        answer=duration,
        note=f"the answer named no duration ({answer.strip()[:80]!r}); from {why} to the "
        f"question's day, {spoken_date(asked_at.date())}",
    )


def _lead_lower(text: str) -> str:
    """A sentence's first word in lower case where it is a plain word ("On 20 March" inside
    parentheses reads "on 20 March"); a month or a name keeps its capital.

    >>> _lead_lower("On 20 March 2024"), _lead_lower("March 2024")
    ('on 20 March 2024', 'March 2024')
    """
    first, _, rest = text.partition(" ")
    if first.lower() in ("on", "in", "at", "around", "about", "since", "the", "it", "he", "she"):
        return f"{first.lower()} {rest}".rstrip()
    return text


def ground(
    question: str, answer: str, memories: list[RetrievedMemory], *, asked_at: datetime
) -> Grounded | None:
    """:func:`ground_how_long` for "How long ...?", :func:`ground_when` for other
    when-questions; None keeps the answer."""
    if HOW_LONG_AGO.match(question) or HOW_LONG_NOW.match(question):
        return ground_how_long(question, answer, memories, asked_at=asked_at)
    return ground_when(question, answer, memories)
