"""Temporal expressions are resolved against the given base time, never the wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.scoring import date_span
from agent.temporal import find_window, parse_time, relative_note, window_from_text
from schema.retrieval import TimeWindow

NY = ZoneInfo("America/New_York")
BASE = datetime(2024, 3, 13, 15, 0, tzinfo=UTC)  # a Wednesday


def _day(d: date, tz=UTC) -> datetime:  # type: ignore[no-untyped-def]
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def _window(text: str, base: datetime = BASE, tz=UTC) -> TimeWindow:  # type: ignore[no-untyped-def]
    expr = window_from_text(text, base=base, tz=tz)
    assert expr is not None, text
    return expr.window


def test_yesterday() -> None:
    w = _window("yesterday")
    assert (w.start, w.end) == (_day(date(2024, 3, 12)), _day(date(2024, 3, 13)))


def test_last_week_is_the_previous_monday_to_monday() -> None:
    w = _window("last week")
    assert (w.start, w.end) == (_day(date(2024, 3, 4)), _day(date(2024, 3, 11)))
    assert w.start.weekday() == 0 and w.end.weekday() == 0


def test_in_march_prefers_the_past() -> None:
    w = _window("in March", base=datetime(2024, 7, 1, tzinfo=UTC))
    assert (w.start, w.end) == (_day(date(2024, 3, 1)), _day(date(2024, 4, 1)))
    w = _window("in March", base=datetime(2024, 1, 10, tzinfo=UTC))
    assert (w.start, w.end) == (_day(date(2023, 3, 1)), _day(date(2023, 4, 1)))
    w = _window("in March 2022")
    assert (w.start, w.end) == (_day(date(2022, 3, 1)), _day(date(2022, 4, 1)))


def test_days_ago() -> None:
    w = _window("2 days ago")
    assert (w.start, w.end) == (_day(date(2024, 3, 11)), _day(date(2024, 3, 12)))
    w = _window("three days ago")
    assert w.start == _day(date(2024, 3, 10))


def test_iso_dates() -> None:
    w = _window("2024-02-10")
    assert (w.start, w.end) == (_day(date(2024, 2, 10)), _day(date(2024, 2, 11)))
    plus1 = timezone(timedelta(hours=1))
    assert parse_time("2024-03-05T10:00:00+01:00") == datetime(2024, 3, 5, 10, tzinfo=plus1)
    # a naive ISO time is read in the given zone
    assert parse_time("2024-03-05T10:00:00", tz=NY) == datetime(2024, 3, 5, 10, tzinfo=NY)


def test_other_units() -> None:
    assert _window("last month").start == _day(date(2024, 2, 1))
    assert _window("last month").end == _day(date(2024, 3, 1))
    assert _window("next week").start == _day(date(2024, 3, 18))
    assert _window("this week").start == _day(date(2024, 3, 11))
    w = _window("last weekend")
    assert (w.start, w.end) == (_day(date(2024, 3, 9)), _day(date(2024, 3, 11)))
    w = _window("in 2021")
    assert (w.start, w.end) == (_day(date(2021, 1, 1)), _day(date(2022, 1, 1)))


def test_resolved_in_the_given_timezone() -> None:
    # 01:00 UTC on 1 March is still 29 February (evening) in New York
    base = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    w = _window("yesterday", base=base, tz=NY)
    assert (w.start, w.end) == (_day(date(2024, 2, 28), NY), _day(date(2024, 2, 29), NY))
    assert parse_time("yesterday", base=base, tz=NY).date() == date(2024, 2, 28)  # type: ignore[union-attr]


def test_not_the_wall_clock() -> None:
    old = datetime(2011, 6, 15, 12, 0, tzinfo=UTC)
    assert _window("yesterday", base=old).start == _day(date(2011, 6, 14))
    assert _window("last week", base=old).start == _day(date(2011, 6, 6))
    assert _window("2 days ago", base=old).start == _day(date(2011, 6, 13))
    assert _window("in March", base=old).start == _day(date(2011, 3, 1))
    assert parse_time("yesterday", base=old).date() == date(2011, 6, 14)  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(
    base=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    )
)
def test_relative_days_follow_any_base(base: datetime) -> None:
    today = base.date()
    w = _window("yesterday", base=base)
    assert (w.start, w.end) == (_day(today - timedelta(days=1)), _day(today))
    w = _window("2 days ago", base=base)
    assert w.start == _day(today - timedelta(days=2))
    monday = today - timedelta(days=today.weekday())
    w = _window("last week", base=base)
    assert (w.start, w.end) == (_day(monday - timedelta(days=7)), _day(monday))
    assert w.contains(_day(monday - timedelta(days=1)))
    assert not w.contains(_day(monday))


@pytest.mark.parametrize(
    ("question", "start"),
    [
        ("What did I eat yesterday?", date(2024, 3, 12)),
        ("What did Sam do last week?", date(2024, 3, 4)),
        ("How many cavities did I have 2 days ago?", date(2024, 3, 11)),
        ("What happened in March 2023?", date(2023, 3, 1)),
        ("Who did I meet on 2024-02-10?", date(2024, 2, 10)),
    ],
)
def test_find_window_in_questions(question: str, start: date) -> None:
    expr = find_window(question, base=BASE)
    assert expr is not None
    assert expr.window.start == _day(start)
    assert expr.window.end is not None and expr.window.end > expr.window.start


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("Where have I lived since March 2023?", date(2023, 3, 1), None),
        ("Where did I live before June 2023?", None, date(2023, 6, 1)),
        ("Where did I work until June 2023?", None, date(2023, 7, 1)),
        ("What did I cook after 24 December 2023?", date(2023, 12, 25), None),
        (
            "Where did I live between December 2023 and February 2024?",
            date(2023, 12, 1),
            date(2024, 3, 1),
        ),
        ("Where was I from 3 January 2024 to 5 January 2024?", date(2024, 1, 3), date(2024, 1, 6)),
    ],
)
def test_ranges_and_open_windows_keep_both_sides_and_their_years(
    question: str, start: date | None, end: date | None
) -> None:
    # each of these read as one month or one day, or lost its year ("before June 2023" was
    # June 2026), so the answer came from the wrong period
    expr = find_window(question, base=BASE)
    assert expr is not None
    assert expr.window.start == (_day(start) if start else None)
    assert expr.window.end == (_day(end) if end else None)


@pytest.mark.parametrize(
    "question",
    [
        "What is my dog's name?",
        "Where do I live?",
        "May I ask about my job?",
        "When did I adopt Pepper?",
        "What do I like to do on the weekends with my sister?",
        "Who is Dr. Patel?",
        # before/after/from an event, not a time
        "What did I do before work?",
        "Who came after the concert?",
        "What did I learn from my sister and my mom?",
    ],
)
def test_find_window_returns_none_without_time(question: str) -> None:
    assert find_window(question, base=BASE) is None


def test_not_a_date() -> None:
    assert parse_time("") is None
    assert parse_time("purple elephants") is None
    assert window_from_text("purple elephants", base=BASE) is None


SAID = datetime(2023, 12, 6, 17, 34, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        # how long something has lasted says since when (LoCoMo: "When did Tim start ...?")
        ("I've been playing for about four months now and love it.", "since around August 2023"),
        ("I've had them for 3 years now!", "since 2020"),
        ("Seven years now, and I've finally found my muses.", "since 2016"),
        ("I've been playing for just under a year now.", "since around December 2022"),
        ("We've known each other for two weeks.", "since two weeks before 6 December 2023"),
        ("She has lived there for 10 days.", "since 26 November 2023"),
        ("He's been coaching for a week now.", "since the week before 6 December 2023"),
        (
            "I've painted for a couple of years.",
            "since a couple of years before 6 December 2023",
        ),
        # weekdays as people abbreviate them
        ("Last Fri I took my kids to a pottery workshop.", "the Friday before 6 December 2023"),
        ("I joined a new group last Tues.", "the Tuesday before 6 December 2023"),
        ("See you next thurs!", "the Thursday after 6 December 2023"),
        # a day of the month it is said in, or of the month before when still to come
        ("I met my teammates on the 1st after my trip.", "1 December 2023"),
        ("The party was on the 28th.", "28 November 2023"),
        ("I passed on the 4th attempt yesterday.", "5 December 2023"),  # no day: the next
        # "a year ago" is that month, roughly; "two years ago" only the year
        ("I started volunteering about a year ago.", "around December 2022"),
        ("We moved here two years ago.", "2021"),
    ],
)
def test_relative_note_resolves_durations_abbreviations_and_days(text: str, meaning: str) -> None:
    note = relative_note(text, said_at=SAID)
    assert note is not None and note[1] == meaning
    assert date_span(meaning) is not None  # what the note says, answers and scoring can date


@pytest.mark.parametrize(
    "text",
    [
        "I'm away for two weeks in January.",  # a duration ahead says nothing about a start
        "I booked the cabin for three days.",
        "I was in Spain for a month.",
        "I'll see you on the 31st of May.",  # a full date needs no note
        "I'll stay for two weeks now that I'm here.",  # a plan, not a duration so far
        "I had been working there for 3 years when I quit.",  # past perfect: ended
        "By June I'll have been here for two years.",  # future perfect
        "We've been invited for a week in July.",  # passive
        "I've been to Japan for a month.",  # a visit
        "Let's run for two weeks now.",
        "I haven't played for two years now.",  # a negation: no start
        "The office is on the 3rd floor.",  # an ordinal, not a day
        "When I last sat down with her it was fine.",  # "sat" the verb, not Saturday
    ],
)
def test_relative_note_leaves_durations_that_name_no_start(text: str) -> None:
    assert relative_note(text, said_at=SAID) is None


def test_a_day_the_month_lacks_is_no_date() -> None:
    november = datetime(2023, 11, 20, tzinfo=UTC)
    assert relative_note("We met on the 31st.", said_at=november) == (
        "on the 31st",
        "31 October 2023",
    )
    assert relative_note("We met on the 31st.", said_at=datetime(2023, 3, 20, tzinfo=UTC)) is None
    text = "It was on the 31st, and yesterday we went home."  # no 31 February: the next one
    assert relative_note(text, said_at=datetime(2023, 3, 20, tzinfo=UTC)) == (
        "yesterday",
        "19 March 2023",
    )
    assert relative_note("We met on the 3rd.", said_at=november) == (
        "on the 3rd",
        "3 November 2023",
    )


def test_the_first_reference_in_the_text_wins() -> None:
    text = "I've been running for two years, and yesterday I ran my first marathon."
    assert relative_note(text, said_at=SAID) == ("two years", "since 2021")
    text = "Yesterday I told Ana I've been running for two years."
    assert relative_note(text, said_at=SAID) == ("Yesterday", "5 December 2023")
