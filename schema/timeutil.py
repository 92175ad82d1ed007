"""Pure time helpers shared by every layer. No I/O.

Conventions (documented in the README):
- every stored time is timezone-aware; a naive time given by a user is read in the configured
  timezone (``PERSONA_TIMEZONE``, default UTC);
- a time window is half-open: ``start <= t < end``;
- calendar nodes (Year/Month/Day) use the *local* date of the memory in its own UTC offset, so a
  turn at 23:30 in New York sits on the New York day, not the UTC one.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

__all__ = [
    "UTC",
    "YEARS",
    "asks_when",
    "ensure_aware",
    "format_spoken",
    "format_time",
    "get_tz",
    "mentions_time",
    "spoken_date",
    "to_utc",
]

#: the years a memory's time may fall in (ingest and every time option refuse others: a year
#: 3024 is a typo, and a memory there could not be reached by any window)
YEARS = (1900, 2200)


def get_tz(name: str | None) -> tzinfo:
    """``"UTC"``/``None`` -> UTC, anything else through the IANA database."""
    if not name or name.upper() == "UTC":
        return UTC
    return ZoneInfo(name)


def ensure_aware(value: datetime, tz: tzinfo = UTC) -> datetime:
    """Attach ``tz`` to a naive datetime; leave an aware one as it is."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def to_utc(value: datetime, tz: tzinfo = UTC) -> datetime:
    return ensure_aware(value, tz).astimezone(UTC)


def format_time(value: datetime) -> str:
    """``2024-09-23 20:08 (Monday)``: minute resolution with the weekday, the one way every
    surface shows a time (windows, tables, steps); prompts build on it in agent/prompts."""
    return value.strftime("%Y-%m-%d %H:%M (%A)")


def spoken_date(value: date | datetime) -> str:
    """A date as people write it, the form answers use: ``7 May 2023``.

    >>> spoken_date(date(2023, 5, 7))
    '7 May 2023'
    """
    return f"{value.day} {value.strftime('%B')} {value.year}"


def format_spoken(value: datetime) -> str:
    """A time as people say it, ``8 May 2023, Monday 13:56`` (memories in prompts and the UI
    use it, so an answer can copy the date as people write it).

    >>> format_spoken(datetime(2023, 5, 8, 13, 56, tzinfo=UTC))
    '8 May 2023, Monday 13:56'
    """
    return f"{spoken_date(value)}, {value.strftime('%A %H:%M')}"


_TIME_WORDS = re.compile(
    r"\b(yesterday|today|tonight|tomorrow|last|this past|next|ago|recently|weekend|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|"
    r"may|june|july|august|september|october|november|december|(?:19|20)\d{2})\b",
    re.I,
)
_WHEN = re.compile(
    r"^\W*(when|what (date|day|month|year|time)|which (day|week|month|year)|how long ago|"
    r"in (which|what) (month|year))\b",
    re.I,
)


def mentions_time(text: str) -> bool:
    """Does the text anchor something in time ("yesterday", "last May", "in 2022")?

    >>> mentions_time("I ran a charity race last Saturday"), mentions_time("I love jazz")
    (True, False)
    """
    return bool(_TIME_WORDS.search(text))


def asks_when(question: str) -> bool:
    """Is the question about a time ("When did...", "Which month...")?

    >>> asks_when("When did Ana adopt Pepper?"), asks_when("What is Ana's dog called?")
    (True, False)
    """
    return bool(_WHEN.search(question))
