"""Dates and time windows from text, resolved against a given reference time (the query's
timestamp), never against the wall clock. Parsing is done by ``dateparser``.

- :func:`parse_time`: one point in time ("2024-03-01", "last Tuesday 3pm", "yesterday");
- :func:`window_from_text`: the window a temporal expression denotes, with the granularity the
  text implies ("in March 2024" -> the whole month, "last week" -> Monday..Monday,
  "yesterday" -> that day, "2 days ago" -> that day);
- :func:`find_window`: the first temporal expression inside a longer question.
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import dateparser
from dateparser.search import search_dates

from schema.retrieval import TimeWindow
from schema.timeutil import UTC, ensure_aware, spoken_date

__all__ = [
    "DURATION",
    "TemporalExpression",
    "elapsed",
    "find_window",
    "lasted",
    "parse_time",
    "past_reference",
    "relative_note",
    "window_from_text",
]

warnings.filterwarnings("ignore", module="dateparser")


def _settings(base: datetime, tz: tzinfo, prefer: str = "past") -> dict[str, Any]:
    tzname = getattr(tz, "key", None) or base.tzname() or "UTC"
    return {
        "RELATIVE_BASE": base.astimezone(tz).replace(tzinfo=None),
        "PREFER_DATES_FROM": prefer,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": tzname,
        "TO_TIMEZONE": tzname,
        "PREFER_DAY_OF_MONTH": "first",
    }


def parse_time(text: str, *, base: datetime | None = None, tz: tzinfo = UTC) -> datetime | None:
    """A point in time, or None if the text is not a date.

    >>> parse_time("2024-03-05T10:00:00+01:00").isoformat()
    '2024-03-05T10:00:00+01:00'
    >>> parse_time("yesterday", base=datetime(2024, 3, 5, 12, tzinfo=UTC)).date().isoformat()
    '2024-03-04'
    """
    text = text.strip()
    if not text:
        return None
    try:
        return ensure_aware(datetime.fromisoformat(text), tz)
    except ValueError:
        pass
    base = ensure_aware(base or datetime.now(UTC), tz)
    parsed = dateparser.parse(text, languages=["en"], settings=_settings(base, tz))
    return ensure_aware(parsed, tz) if parsed else None


class TemporalExpression:
    """A resolved expression: the matched text and its window."""

    def __init__(self, text: str, window: TimeWindow) -> None:
        self.text = text
        self.window = window

    def __repr__(self) -> str:
        return f"TemporalExpression({self.text!r}, {self.window.describe()})"


MONTHS = (
    "january february march april may june july august september october november december"
).split()
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_MONTHS = [*MONTHS, *"jan feb mar apr jun jul aug sep sept oct nov dec".split()]
_RELATIVE_UNIT = re.compile(
    r"\b(last|past|previous|this|next|coming)\s+(week|month|year|weekend)\b", re.I
)
#: "last March", "next June", "this July": a named month relative to the one it is said in
#: ("this may help" is no month: May and March count only capitalised)
_RELATIVE_MONTH = re.compile(
    r"\b((?i:last|this|next|coming))\s+("
    + "|".join(m.capitalize() if m in ("may", "mar", "march") else f"(?i:{m})" for m in _MONTHS)
    + r")\b(?!\s+\d)"
)
_AGO = re.compile(
    r"\b(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(day|week|month|year)s?\s+ago\b",
    re.I,
)
_WORDNUM = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}


def _start_of(unit: str, t: datetime) -> datetime:
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit in ("week", "weekend"):
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _add(unit: str, t: datetime, n: int) -> datetime:
    if unit == "day":
        return t + timedelta(days=n)
    if unit in ("week", "weekend"):
        return t + timedelta(weeks=n)
    if unit == "month":
        month0 = t.month - 1 + n
        return t.replace(year=t.year + month0 // 12, month=month0 % 12 + 1, day=1)
    return t.replace(year=t.year + n, month=1, day=1)


def _granularity(text: str) -> str:
    low = text.lower()
    if re.search(r"\b\d{1,2}(:\d{2})?\s*(am|pm)\b|\b\d{1,2}:\d{2}\b", low):
        return "hour"
    has_month = any(re.search(rf"\b{m}\b", low) for m in _MONTHS)
    if re.search(r"\b(19|20)\d{2}\b", low) and not has_month and not re.search(r"[-/]", low):
        return "year"
    has_day = bool(re.search(r"\b\d{1,2}(st|nd|rd|th)?\b", re.sub(r"\b\d{4}\b", "", low)))
    if has_month and not has_day:
        return "month"
    return "day"


def _bounded(expr: str, unit: str, t: datetime) -> TemporalExpression:
    if unit == "hour":
        start = t.replace(minute=0, second=0, microsecond=0)
        return TemporalExpression(expr, TimeWindow(start=start, end=start + timedelta(hours=1)))
    if unit == "weekend":
        monday = _start_of("week", t)
        return TemporalExpression(
            expr, TimeWindow(start=monday + timedelta(days=5), end=monday + timedelta(days=7))
        )
    start = _start_of(unit, t)
    return TemporalExpression(expr, TimeWindow(start=start, end=_add(unit, start, 1)))


def window_from_text(text: str, *, base: datetime, tz: tzinfo = UTC) -> TemporalExpression | None:
    """The window a temporal expression denotes, resolved against ``base``.

    >>> b = datetime(2024, 3, 13, 15, 0, tzinfo=UTC)   # a Wednesday
    >>> window_from_text("last week", base=b).window.describe()
    '[2024-03-04 00:00 (Monday), 2024-03-11 00:00 (Monday))'
    >>> window_from_text("in January", base=b).window.start.date().isoformat()
    '2024-01-01'
    >>> window_from_text("2 days ago", base=b).window.start.date().isoformat()
    '2024-03-11'
    """
    base = ensure_aware(base, tz).astimezone(tz)
    rel = _RELATIVE_UNIT.search(text)
    if rel:
        which, unit = rel.group(1).lower(), rel.group(2).lower()
        step = {"last": -1, "past": -1, "previous": -1, "this": 0, "next": 1, "coming": 1}[which]
        anchor = _add(unit if unit != "weekend" else "week", _start_of(unit, base), step)
        return _bounded(rel.group(0), unit, anchor)
    named = _RELATIVE_MONTH.search(text)
    if named:
        return _named_month(named, base)
    ago = _AGO.search(text)
    if ago:
        n = _WORDNUM.get(ago.group(1).lower()) or int(ago.group(1))
        unit = ago.group(2).lower()
        if unit == "day":
            anchor = base - timedelta(days=n)
        elif unit == "week":
            anchor = base - timedelta(weeks=n)
        else:
            anchor = _add(unit, _start_of(unit, base), -n)
        return _bounded(ago.group(0), unit if unit != "week" else "week", anchor)
    point = parse_time(text, base=base, tz=tz)
    if point is None:
        return None
    unit = _granularity(text)
    if unit == "year":
        point = point.replace(month=1, day=1)
    return _bounded(text.strip(), unit, point.astimezone(tz))


def _named_month(m: re.Match[str], base: datetime) -> TemporalExpression:
    """ "last March" said in May 2024 is March 2024, said in March 2024 it is March 2023; "next
    March" is the first March after the month it is said in; "this March" is this year's.

    >>> b = datetime(2024, 5, 10, tzinfo=UTC)
    >>> [window_from_text(t, base=b).window.start.date().isoformat()
    ...  for t in ("last March", "last May", "next March", "this March", "last june")]
    ['2024-03-01', '2023-05-01', '2025-03-01', '2024-03-01', '2023-06-01']
    >>> find_window("This may sound odd, but what did I eat?", base=b) is None
    True
    """
    which, name = m.group(1).lower(), m.group(2).lower()
    month = next(i for i, full in enumerate(MONTHS, 1) if full.startswith(name[:3]))
    year = base.year
    if which == "last" and month >= base.month:
        year -= 1
    elif which in ("next", "coming") and month <= base.month:
        year += 1
    return _bounded(m.group(0), "month", base.replace(year=year, month=month, day=1))


_FALSE_POSITIVES = {
    "may",
    "march",
    "sun",
    "sat",
    "mon",
    "now",
    "second",
    "min",
    "am",
    "a",
    "the",
    "to",
    "in",
    "on",
    "at",
    "do",
    "did",
    "when",
    "date",
    "time",
    "go",
}


_BARE_WEEKDAY = re.compile(rf"(?:on\s+|every\s+)?(?:{'|'.join(WEEKDAYS)})s?", re.I)


#: where a side of a range ends: sentence punctuation, or a comma not followed by a year
_SIDE_END = r"(?=[?.!;]|,(?!\s*\d)|$)"
#: "between X and Y", "from X to Y": a window from X's start to Y's end
_BETWEEN = re.compile(
    r"\b(?:between|from)\s+(?P<a>.+?)\s+(?:and|to|until|till|through)\s+(?P<b>.+?)" + _SIDE_END,
    re.I,
)
#: "since X", "after X", "before X", "until X": a window open on one side
_OPEN_SIDE = re.compile(
    r"\b(?P<side>since|after|before|until|till|prior to)\s+(?P<a>.+?)" + _SIDE_END, re.I
)
#: "the week before X", "two days after X", "the Sunday before X": a period next to X, not
#: everything on one side of it (left to the single-date reading)
_NEXT_TO = re.compile(
    rf"\b(?:days?|nights?|weeks?|weekends?|months?|years?|{'|'.join(WEEKDAYS)})\s*$", re.I
)


def _leading(phrase: str, *, base: datetime, tz: tzinfo) -> TemporalExpression | None:
    """The time ``phrase`` opens with ("March 2024", "last week"), not one named later in it
    ("his trip in August 2023" is an event, not a time)."""
    expr = find_window(phrase, base=base, tz=tz)
    if expr is None or phrase.lower().find(expr.text.strip().lower()) > 4:
        return None
    return expr


def _span(question: str, *, base: datetime, tz: tzinfo) -> TemporalExpression | None:
    """A range or an open window named around periods: "between December 2023 and February
    2024", "since March 2024" (from its start, no end), "after March" (from its end), "before
    June 2023" (until its start), "until June" (until its end). None when a side names no
    time ("before work", "after the concert") or the range runs backwards.

    >>> b = datetime(2024, 9, 13, 15, 0, tzinfo=UTC)
    >>> q = "Where did I live between December 2023 and February 2024?"
    >>> find_window(q, base=b).window.describe()
    '[2023-12-01 00:00 (Friday), 2024-03-01 00:00 (Friday))'
    >>> find_window("Where have I lived since March 2024?", base=b).window.describe()
    '[2024-03-01 00:00 (Friday), no end)'
    >>> find_window("Where did I live before June 2023?", base=b).window.describe()
    '[the beginning, 2023-06-01 00:00 (Thursday))'
    >>> find_window("What did I eat after last March?", base=b).window.describe()
    '[2024-04-01 00:00 (Monday), no end)'
    >>> find_window("What do I do before work?", base=b) is None
    True
    >>> _span("What did I do the week before August 3, 2023?", base=b, tz=UTC) is None
    True
    >>> find_window("Who did I meet after my trip in August 2023?", base=b).window.describe()
    '[2023-08-01 00:00 (Tuesday), 2023-09-01 00:00 (Friday))'
    """
    m = _BETWEEN.search(question)
    if m:
        a = _leading(m.group("a"), base=base, tz=tz)
        b = _leading(m.group("b"), base=base, tz=tz)
        if a and b and a.window.start and b.window.end and a.window.start < b.window.end:
            return TemporalExpression(
                m.group(0), TimeWindow(start=a.window.start, end=b.window.end)
            )
    m = _OPEN_SIDE.search(question)
    if m and not _NEXT_TO.search(question[: m.start()]):
        a = _leading(m.group("a"), base=base, tz=tz)
        if a is not None:
            side = m.group("side").lower()
            w = a.window
            if side == "since":
                window = TimeWindow(start=w.start)
            elif side == "after":
                window = TimeWindow(start=w.end)
            elif side in ("before", "prior to"):
                window = TimeWindow(end=w.start)
            else:
                window = TimeWindow(end=w.end)
            if not window.is_open:
                return TemporalExpression(m.group(0), window)
    return None


def find_window(question: str, *, base: datetime, tz: tzinfo = UTC) -> TemporalExpression | None:
    """The first temporal expression in a question, as a window ("what did I do last week?"),
    a range or an open window around one (:func:`_span`). A bare weekday names a routine or
    is ambiguous, not a window.

    >>> b = datetime(2024, 3, 13, 15, 0, tzinfo=UTC)
    >>> find_window("What do I do on Sunday mornings now?", base=b) is None
    True
    >>> find_window("Where did I travel in July 2023?", base=b).window.start.date()
    datetime.date(2023, 7, 1)
    """
    span = _span(question, base=base, tz=tz)
    if span is not None:
        return span
    for pattern in (_RELATIVE_UNIT, _RELATIVE_MONTH, _AGO):
        if pattern.search(question):
            return window_from_text(question, base=base, tz=tz)
    base = ensure_aware(base, tz).astimezone(tz)
    found = search_dates(question, languages=["en"], settings=_settings(base, tz))
    for text, _when in found or []:
        cleaned = text.strip()
        if cleaned.lower() in _FALSE_POSITIVES or len(cleaned) < 3:
            continue
        if _BARE_WEEKDAY.fullmatch(cleaned):  # "on Sunday mornings": a routine, not a date
            continue
        if cleaned.lower() in ("may", "march") and not re.search(r"\d", question):
            continue
        expr = window_from_text(cleaned, base=base, tz=tz)
        if expr is not None:
            return expr
    return None


_PAST_REF = re.compile(
    r"\b(yesterday|last night|the day before yesterday|last (?:week|weekend|month|year)|"
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten) "
    r"(?:day|week|month|year)s? ago)\b",
    re.I,
)


def past_reference(text: str, *, said_at: datetime) -> TemporalExpression | None:
    """An unambiguous backward reference inside something said at ``said_at``.

    >>> said = datetime(2024, 4, 16, 21, tzinfo=UTC)
    >>> past_reference("I finished it yesterday!", said_at=said).window.start.date()
    datetime.date(2024, 4, 15)
    >>> past_reference("see you this weekend", said_at=datetime(2024, 4, 16, tzinfo=UTC)) is None
    True
    """
    match = _PAST_REF.search(text)
    if match is None:
        return None
    phrase = match.group(1).lower()
    if phrase in ("yesterday", "last night"):
        day = said_at - timedelta(days=1)
        return _bounded(match.group(1), "day", day)
    if phrase == "the day before yesterday":
        return _bounded(match.group(1), "day", said_at - timedelta(days=2))
    return window_from_text(match.group(1), base=said_at, tz=said_at.tzinfo or UTC)


#: a count as people say it ("two", "a few", "a couple of")
_NUMBER = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a few|a couple of)"
_NOTE = re.compile(
    r"\b(yesterday|last night|the day before yesterday|a few days ago|a couple of days ago|"
    r"tomorrow|the day after tomorrow|"
    r"(?:last|this past|next) (?:week|weekend|month|year|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|spring|summer|autumn|fall|winter)|"
    # abbreviated weekdays; "Wed", "Sat", "Sun" only capitalised ("when I last sat down")
    r"(?:last|this past|next) (?:mon|tues?|thu|thurs?|fri|(?-i:Wed|Sat|Sun))\b\.?|"
    r"this (?:week|weekend|month|year)|"
    rf"{_NUMBER} (?:day|week|month|year)s? ago|"
    r"in (?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten) (?:day|week|month)s?)\b",
    re.I,
)


#: "last Fri", "next Tues": weekdays as people abbreviate them
_WEEKDAY_SHORT = {d[:3]: d for d in WEEKDAYS} | {
    "tues": "tuesday",
    "thur": "thursday",
    "thurs": "thursday",
}
_ROUGHLY = r"(?:(?:about|almost|nearly|over|around|roughly|just under|just over|more than) )?"
_SPAN = rf"{_ROUGHLY}{_NUMBER}\s+(?:day|week|month|year)s?"
#: a duration named in an answer ("about 2 months", "three years"), not a day ("a day after
#: his birthday", "one day in May")
DURATION = re.compile(
    rf"\b{_NUMBER}\s+(?:day|week|month|year)s?\b(?!\s+(?:after|before|in|of|on|later)\b)", re.I
)
#: how long something has lasted up to the day it is said, so since when: a present perfect
#: of a verb of lasting before "for N units" ("I've been playing for four months", "I've known
#: them for 4 years"), or a sentence that starts "N units now" ("Seven years now, and ...").
#: Not a past perfect ("I had been there for 3 years when ..."), a future one ("I'll have
#: been"), a passive or a visit ("we've been invited / been to Japan for a week"), or a plan
#: ("I'm away for two weeks", "I'll stay for two weeks now that ...").
_LASTED = re.compile(
    r"(?:(?<!will )(?<!'ll )(?:'ve|\bhave|\bhas)\s+(?:been(?!\s+to\b)(?!\s+\w+ed\b)|had|known|"
    r"lived|worked|played|owned|practi[cs]ed|studied|taught|volunteered|used|kept|run|done|"
    r"loved|collected|painted|written|danced|trained|dated|married)\b"
    r"|(?<![Ll]et)'s\s+been(?!\s+to\b)(?!\s+\w+ed\b))"
    rf"[^.!?;]{{0,60}}?\bfor\s+(?P<a>{_SPAN})(?:\s+now)?\b(?!\s+that\b)"
    rf"|(?:^|(?<=[.!?]\s))(?:for\s+)?(?P<b>{_SPAN})\s+now\b(?!\s+that\b)",
    re.I,
)
#: "on the 15th": a day of the month it is said in (of the month before, when later than
#: that day), not "on the 3rd floor", "on the 2nd try" or "on the 5th May"
_NTH = re.compile(
    r"\bon the (\d{1,2})(?:st|nd|rd|th)\b(?!\s+(?:of|floor|try|attempt|time|place|round|"
    r"grade|row|page|step|level|lap|hole|anniversary|birthday|century|edition|season|chapter|"
    + "|".join(MONTHS)
    + r")\b)",
    re.I,
)

#: the month each season has ended by (northern hemisphere): "last summer" said in November
#: is this year's summer, said in May last year's
_SEASONS = {"spring": 6, "summer": 9, "autumn": 12, "fall": 12, "winter": 3}


def _month_shift(t: datetime, n: int) -> str:
    month0 = t.month - 1 + n
    return f"{MONTHS[month0 % 12].capitalize()} {t.year + month0 // 12}"


def relative_note(text: str, *, said_at: datetime) -> tuple[str, str] | None:
    """The first relative time reference in something said at ``said_at``, with what it
    means, worded as people write dates: ``("last week", "the week before 27 June 2023")``.
    A duration that lasts up to that day says since when ("I've been playing for four
    months now"), and "on the 15th" is that day of the month. Prompts print it beside the
    memory, so a model copies the date instead of computing it; the offline policy and
    :mod:`agent.grounding` answer when-questions with it.

    >>> said = datetime(2023, 6, 27, 14, tzinfo=UTC)   # a Tuesday
    >>> relative_note("We went camping last week!", said_at=said)
    ('last week', 'the week before 27 June 2023')
    >>> relative_note("I ran a race yesterday", said_at=said)
    ('yesterday', '26 June 2023')
    >>> relative_note("Last Sunday we painted", said_at=said)
    ('Last Sunday', 'the Sunday before 27 June 2023')
    >>> relative_note("It was two months ago", said_at=said)
    ('two months ago', 'April 2023')
    >>> relative_note("The show is next month", said_at=said)
    ('next month', 'July 2023')
    >>> relative_note("I fly out in two weeks", said_at=said)
    ('in two weeks', 'two weeks after 27 June 2023')
    >>> relative_note("I'm hiking with my buddies this weekend", said_at=said)
    ('this weekend', 'the weekend of 27 June 2023')
    >>> relative_note("A few weeks ago I quit", said_at=said)
    ('A few weeks ago', 'a few weeks before 27 June 2023')
    >>> relative_note("We went to Rome last summer", said_at=said)
    ('last summer', 'summer 2022')
    >>> relative_note("I've been painting for about seven years now", said_at=said)
    ('about seven years', 'since 2016')
    >>> relative_note("I love jazz", said_at=said) is None
    True
    """
    found = [m for m in (_NOTE.search(text), _LASTED.search(text), _NTH.search(text)) if m]
    for match in sorted(found, key=lambda m: m.start(m.lastgroup or 1)):
        if match.re is _LASTED:
            return _since(match.group(match.lastgroup or "a"), said_at)
        if match.re is _NTH:
            day = _day_of_month(match, said_at)
            if day is None:
                continue  # a day that month lacks: the next reference, if any
            return day
        return _relative(match.group(1), said_at)
    return None


def _relative(phrase: str, said_at: datetime) -> tuple[str, str]:
    low = phrase.lower()
    day = spoken_date(said_at)
    fixed = {
        "yesterday": -1,
        "last night": -1,
        "the day before yesterday": -2,
        "tomorrow": 1,
        "the day after tomorrow": 2,
    }
    if low in fixed:
        return phrase, spoken_date(said_at + timedelta(days=fixed[low]))
    words = low.split()
    if words[:2] in (["a", "few"], ["a", "couple"]):
        unit = words[-2].rstrip("s")
        return phrase, f"a few {unit}s before {day}"
    if words[0] == "this" and words[1] != "past":
        unit = words[1]
        if unit in ("week", "weekend"):
            return phrase, f"the {unit} of {day}"
        return phrase, _month_shift(said_at, 0) if unit == "month" else str(said_at.year)
    if words[-1] in _SEASONS:
        ahead = words[0] == "next"
        year = said_at.year + (1 if ahead else -1)
        if not ahead and _SEASONS[words[-1]] < said_at.month:  # last summer, said in November
            year = said_at.year
        season = "autumn" if words[-1] == "fall" else words[-1]
        return phrase, f"{season} {year}"
    if words[0] in ("last", "this", "next"):
        unit, ahead = words[-1].rstrip("."), words[0] == "next"
        unit = _WEEKDAY_SHORT.get(unit, unit)
        side = "after" if ahead else "before"
        if unit in WEEKDAYS:
            return phrase, f"the {unit.capitalize()} {side} {day}"
        if unit in ("week", "weekend"):
            return phrase, f"the {unit} {side} {day}"
        if unit == "month":
            return phrase, _month_shift(said_at, 1 if ahead else -1)
        return phrase, str(said_at.year + (1 if ahead else -1))
    ahead = words[0] == "in"
    if ahead:
        words = words[1:]
    n = _WORDNUM.get(words[0]) or int(words[0])
    unit = words[1].rstrip("s")
    sign = 1 if ahead else -1
    if unit == "day":
        return phrase, spoken_date(said_at + timedelta(days=sign * n))
    if unit == "week":
        side = "after" if ahead else "before"
        if n == 1:
            return phrase, f"the week {side} {day}"
        return phrase, f"{words[0]} weeks {side} {day}"
    if unit == "month":
        return phrase, _month_shift(said_at, sign * n)
    if ahead or n > 1:
        return phrase, str(said_at.year + sign * n)
    return phrase, f"around {_month_shift(said_at, -12)}"  # a year ago: that month, roughly


def lasted(text: str) -> str | None:
    """How long something has lasted up to the day it is said, as said ("about four months").

    >>> lasted("I've been playing for about four months now."), lasted("I fly for 2 days.")
    ('about four months', None)
    """
    m = _LASTED.search(text)
    return m.group(m.lastgroup or "a") if m else None


def elapsed(since: date, until: date) -> str:
    """How long ago ``since`` was on ``until``, as people round it ("about 2 months").

    >>> d = date(2024, 1, 31)
    >>> [elapsed(date(2024, 1, n), d) for n in (30, 20, 10)]
    ['1 day', '11 days', 'about 3 weeks']
    >>> elapsed(date(2023, 11, 20), d), elapsed(date(2023, 12, 17), d)
    ('about 2 months', 'about 1 month')
    >>> elapsed(date(2023, 1, 20), d), elapsed(date(2021, 6, 1), d)
    ('about a year', 'about 3 years')
    """
    days = (until - since).days
    if days < 1:
        return "less than a day"
    if days < 14:
        return f"{days} day{'s' * (days != 1)}"
    if days < 45:
        return f"about {days // 7} weeks"
    if days < 548:
        months = round(days / 30.44)
        if 11 <= months <= 13:
            return "about a year"
        return f"about {months} month{'s' * (months != 1)}"
    return f"about {round(days / 365.25)} years"


def _since(phrase: str, said_at: datetime) -> tuple[str, str]:
    """Since when something that has lasted ``phrase`` up to ``said_at`` has been so.

    >>> said = datetime(2023, 12, 6, tzinfo=UTC)
    >>> _since("about four months", said), _since("3 years", said)[1], _since("a year", said)[1]
    (('about four months', 'since around August 2023'), 'since 2020', 'since around December 2022')
    >>> _since("two weeks", said)[1], _since("a week", said)[1]
    ('since two weeks before 6 December 2023', 'since the week before 6 December 2023')
    >>> _since("a couple of years", said)[1]
    'since a couple of years before 6 December 2023'
    """
    words = re.sub(rf"^{_ROUGHLY}", "", phrase.lower()).split()
    unit = words[-1].rstrip("s")
    day = spoken_date(said_at)
    if words[0] == "a" and words[1] in ("few", "couple"):
        return phrase, f"since {' '.join(words[:-1])} {unit}s before {day}"
    n = _WORDNUM.get(words[0]) or int(words[0])
    if unit == "day":
        return phrase, f"since {spoken_date(said_at - timedelta(days=n))}"
    if unit == "week":
        return (
            phrase,
            f"since the week before {day}" if n == 1 else f"since {words[0]} weeks before {day}",
        )
    if unit == "year" and n > 1:  # "for 3 years": the year, no month to be had
        return phrase, f"since {said_at.year - n}"
    months = n if unit == "month" else 12
    return phrase, f"since around {_month_shift(said_at, -months)}"


def _day_of_month(match: re.Match[str], said_at: datetime) -> tuple[str, str] | None:
    """ "On the 15th": that day of the month it is said in (None for a day the month lacks)."""
    n = int(match.group(1))
    month = said_at if n <= said_at.day else said_at.replace(day=1) - timedelta(days=1)
    try:
        return match.group(0), spoken_date(month.replace(day=n))
    except ValueError:
        return None
