"""How an answer is scored against a gold answer: LoCoMo's official token F1, dates normalised
to intervals, abstentions. Pure functions, shared by the training rewards and the policy
benchmark so both measure the same thing.

LoCoMo's F1 (``task_eval/evaluation.py`` of snap-research/LoCoMo): lower-case, commas,
articles (a, an, the, and) and punctuation removed, Porter-stemmed tokens; multi-hop answers
are comma-separated lists scored item by item; open-domain golds keep the part before ';'.
The stemmer is PyStemmer's Porter (the original algorithm; the official code uses nltk's
Porter variant, which differs on a few rare suffixes).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from datetime import date, timedelta
from functools import cache
from typing import Any

from agent.temporal import MONTHS, WEEKDAYS

__all__ = [
    "DateSpan",
    "date_correct",
    "date_span",
    "is_abstention",
    "locomo_f1",
    "normalize_answer",
    "token_f1",
]


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("porter")


def normalize_answer(text: str) -> str:
    """LoCoMo's normalisation.

    >>> normalize_answer("The Week before 27 June, 2023.")
    'week before 27 june 2023'
    """
    s = str(text).replace(",", "")
    s = re.sub(r"\b(a|an|the|and)\b", " ", s, flags=re.I)
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    return " ".join(s.lower().split())


def _tokens(text: str) -> list[str]:
    return list(_stemmer().stemWords(normalize_answer(text).split()))


def token_f1(prediction: str, gold: str) -> float:
    """Token F1 of stemmed, normalised tokens.

    >>> token_f1("adoption agencies", "Adoption agencies")
    1.0
    >>> round(token_f1("She went to the adoption agency", "adoption agencies"), 3)
    0.571
    >>> token_f1("", "x")
    0.0
    """
    p, g = _tokens(prediction), _tokens(gold)
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def locomo_f1(prediction: str, gold: str, category: int) -> float:
    """The official per-category answer score for categories 1-4 (5 is scored by
    :func:`is_abstention`).

    >>> locomo_f1("pottery, camping", "pottery, camping, painting", 1)
    0.6666666666666666
    >>> locomo_f1("Lisbon", "Lisbon; she moved there in May", 3)
    1.0
    """
    if category == 3:
        gold = gold.split(";", maxsplit=1)[0].strip()
    if category == 1:
        preds = [p.strip() for p in prediction.split(",")]
        golds = [g.strip() for g in gold.split(",")]
        return sum(max(token_f1(p, g) for p in preds) for g in golds) / len(golds)
    return token_f1(prediction, gold)


_ABSTAIN = re.compile(
    r"\b(not mentioned|no information|don'?t (remember|know|recall)|do not (remember|know|"
    r"recall)|never (mentioned|told|said)|no memory|nothing (about|relevant|in my memor))",
    re.I,
)


def is_abstention(text: str) -> bool:
    """Does the answer say the memory does not hold it? (LoCoMo's adversarial check looks for
    "no information available" / "not mentioned"; we accept the usual phrasings.)

    >>> is_abstention("That was not mentioned."), is_abstention("In May 2023.")
    (True, False)
    """
    return bool(_ABSTAIN.search(text or ""))


# ------------------------------------------------------------------------------- dates
DateSpan = tuple[date, date]  # [start, end)

_MONTH_RE = "|".join([*MONTHS, *"jan feb mar apr jun jul aug sept? oct nov dec".split()])
_DAY_MONTH_YEAR = rf"(\d{{1,2}})(?:st|nd|rd|th)?\s*(?:of\s+)?({_MONTH_RE})\.?,?\s*(\d{{4}})"
_MONTH_DAY_YEAR = rf"({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})"
_ISO = r"(\d{4})-(\d{2})-(\d{2})"
_POINT = rf"(?:{_DAY_MONTH_YEAR}|{_MONTH_DAY_YEAR}|{_ISO})"
_UNIT_BEFORE = re.compile(
    rf"\bthe\s+(week|weekend|month|year|{'|'.join(WEEKDAYS)})\s+(before|after|of)\s+({_POINT})",
    re.I,
)
_N_BEFORE = re.compile(
    rf"\b(\d+|a few|a couple of|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    rf"(day|week)s?\s+(before|after)\s+({_POINT})",
    re.I,
)
_POINT_RE = re.compile(_POINT, re.I)
_SEASON = re.compile(r"\b(?:the\s+)?(spring|summer|autumn|fall|winter)\s+(?:of\s+)?(\d{4})", re.I)
_MONTH_YEAR = re.compile(
    rf"\b(?:early\s+|mid\s+|late\s+|the\s+end\s+of\s+|the\s+beginning\s+of\s+)?({_MONTH_RE})"
    rf"\.?,?\s+(\d{{4}})\b",
    re.I,
)
_YEAR = re.compile(r"\b(19\d{2}|20\d{2})\b")
_NUMBERS = {"a few": 3, "a couple of": 2, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUMBERS |= {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def _month_number(name: str) -> int:
    low = name.lower().rstrip(".")[:3]
    return [m[:3] for m in MONTHS].index(low) + 1


def _point(groups: tuple[str | None, ...]) -> date | None:
    d1, m1, y1, m2, d2, y2, iy, im, iday = groups
    try:
        if d1:
            return date(int(y1 or 0), _month_number(m1 or ""), int(d1))
        if m2:
            return date(int(y2 or 0), _month_number(m2), int(d2 or 0))
        return date(int(iy or 0), int(im or 0), int(iday or 0))
    except ValueError:
        return None


def _month_span(year: int, month: int) -> DateSpan:
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    return start, end


def _relative_span(unit: str, how: str, d: date) -> DateSpan:
    unit = unit.lower()
    monday = d - timedelta(days=d.weekday())
    if how.lower() == "after":
        if unit == "week":
            return d + timedelta(days=1), d + timedelta(days=8)
        if unit == "weekend":  # the first weekend after the day
            saturday = monday + timedelta(days=5)
            saturday += timedelta(days=7) if saturday <= d else timedelta(0)
            return saturday, saturday + timedelta(days=2)
        if unit == "month":
            nxt = d.replace(day=28) + timedelta(days=4)
            return _month_span(nxt.year, nxt.month)
        if unit == "year":
            return date(d.year + 1, 1, 1), date(d.year + 2, 1, 1)
        ahead = (WEEKDAYS.index(unit) - d.weekday()) % 7 or 7
        day = d + timedelta(days=ahead)
        return day, day + timedelta(days=1)
    if how.lower() == "of":
        if unit == "week":
            return monday, monday + timedelta(days=7)
        if unit == "weekend":
            return monday + timedelta(days=5), monday + timedelta(days=7)
        if unit == "month":
            return _month_span(d.year, d.month)
        if unit == "year":
            return date(d.year, 1, 1), date(d.year + 1, 1, 1)
        return d, d + timedelta(days=1)
    if unit == "week":
        return d - timedelta(days=7), d
    if unit == "weekend":
        saturday = monday - timedelta(days=2)
        return saturday, saturday + timedelta(days=2)
    if unit == "month":
        prev = d.replace(day=1) - timedelta(days=1)
        return _month_span(prev.year, prev.month)
    if unit == "year":
        return date(d.year - 1, 1, 1), date(d.year, 1, 1)
    back = (d.weekday() - WEEKDAYS.index(unit)) % 7 or 7
    day = d - timedelta(days=back)
    return day, day + timedelta(days=1)


def _candidates(text: str) -> list[tuple[int, int, DateSpan]]:
    """Every date expression in the text: (position, -length, span)."""
    out: list[tuple[int, int, DateSpan]] = []
    for m in _UNIT_BEFORE.finditer(text):
        d = _point(_POINT_RE.fullmatch(m.group(3)).groups())  # type: ignore[union-attr]
        if d:
            out.append((m.start(), -len(m.group(0)), _relative_span(m.group(1), m.group(2), d)))
    for m in _N_BEFORE.finditer(text):
        d = _point(_POINT_RE.fullmatch(m.group(4)).groups())  # type: ignore[union-attr]
        if d:
            raw = m.group(1).lower()
            n = _NUMBERS.get(raw) or int(raw)
            days = n * (7 if m.group(2).lower() == "week" else 1)
            sign = 1 if m.group(3).lower() == "after" else -1
            if raw in ("a few", "a couple of"):
                lo, hi = sorted((d, d + timedelta(days=sign * (days + 2))))
                out.append((m.start(), -len(m.group(0)), (lo, hi)))
            else:
                start = d + timedelta(days=sign * days)
                width = 7 if m.group(2).lower() == "week" else 1
                out.append((m.start(), -len(m.group(0)), (start, start + timedelta(days=width))))
    for m in _POINT_RE.finditer(text):
        d = _point(m.groups())
        if d:
            out.append((m.start(), -len(m.group(0)), (d, d + timedelta(days=1))))
    for m in _SEASON.finditer(text):
        year = int(m.group(2))
        first = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}[m.group(1).lower()]
        start, after = date(year, first, 1), first + 3  # three months from the first
        end = date(year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
        out.append((m.start(), -len(m.group(0)), (start, end)))
    for m in _MONTH_YEAR.finditer(text):
        if m.group(1).lower() == "may" and not re.match(r"[\s,]", text[m.end(1) : m.end(1) + 1]):
            continue
        out.append(
            (m.start(), -len(m.group(0)), _month_span(int(m.group(2)), _month_number(m.group(1))))
        )
    for m in _YEAR.finditer(text):
        year = int(m.group(1))
        out.append((m.start(), -len(m.group(0)), (date(year, 1, 1), date(year + 1, 1, 1))))
    return out


def date_span(text: str) -> DateSpan | None:
    """The first date expression in the text as a half-open interval of days; a longer match
    at the same place wins ("the week before 27 June 2023" over "27 June 2023").

    >>> date_span("The week before 27 June 2023")
    (datetime.date(2023, 6, 20), datetime.date(2023, 6, 27))
    >>> date_span("It was on 7 May 2023, a Sunday.")
    (datetime.date(2023, 5, 7), datetime.date(2023, 5, 8))
    >>> date_span("The sunday before 25 May 2023")
    (datetime.date(2023, 5, 21), datetime.date(2023, 5, 22))
    >>> date_span("The Friday before 14September, 2022")
    (datetime.date(2022, 9, 9), datetime.date(2022, 9, 10))
    >>> date_span("February 24, 2023")
    (datetime.date(2023, 2, 24), datetime.date(2023, 2, 25))
    >>> date_span("May, 2023")  # LoCoMo writes some golds so
    (datetime.date(2023, 5, 1), datetime.date(2023, 6, 1))
    >>> date_span("June 2023"), date_span("in 2022")[0]
    ((datetime.date(2023, 6, 1), datetime.date(2023, 7, 1)), datetime.date(2022, 1, 1))
    >>> date_span("The summer of 2022")
    (datetime.date(2022, 6, 1), datetime.date(2022, 9, 1))
    >>> date_span("the weekend after 27 June 2023")
    (datetime.date(2023, 7, 1), datetime.date(2023, 7, 3))
    >>> date_span("two weeks after 27 June 2023")
    (datetime.date(2023, 7, 11), datetime.date(2023, 7, 18))
    >>> date_span("four months") is None
    True
    """
    found = _candidates(text or "")
    if not found:
        return None
    return min(found, key=lambda c: (c[0], c[1]))[2]


def date_correct(prediction: str, gold: str) -> bool | None:
    """Does the answer's first date agree with the gold date? ``None`` when the gold is not a
    date (nothing to judge). Agree = the intervals overlap and the answer is no vaguer than
    the gold (or than a week, when the gold names a day).

    >>> date_correct("The week before 27 June 2023.", "The week before 27 June 2023")
    True
    >>> date_correct("On 7 May 2023", "7 May 2023"), date_correct("May 2023", "7 May 2023")
    (True, False)
    >>> date_correct("27 June 2023", "The week before 27 June 2023")
    False
    >>> date_correct("I don't know", "7 May 2023"), date_correct("x", "four months") is None
    (False, True)
    """
    g = date_span(gold)
    if g is None:
        return None
    p = date_span(prediction)
    if p is None:
        return False
    overlap = p[0] < g[1] and g[0] < p[1]
    return overlap and (p[1] - p[0]) <= max(g[1] - g[0], timedelta(days=7))
