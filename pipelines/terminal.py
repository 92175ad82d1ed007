"""User and model text on a terminal, inert: never Rich markup, never an emoji code, never a
control sequence. ``rich.markup.escape`` covers markup only: ``:smile:`` still became an
emoji, a tab broke table cells, and an ESC in a turn reached the terminal as an escape
sequence (``persona bench hostile`` found all three). Every string that came from a user, a
model or the database goes through :func:`shown` (inside markup) or :func:`plain` (a cell)."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

__all__ = ["inert", "make_console", "plain", "plural", "shown"]

# C0 and C1 controls but newline, DEL, and the bidirectional overrides and isolates
# (which reorder what follows them on screen: "trojan source")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    c = match.group()
    if c == "\t":
        return "    "
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def inert(text: Any) -> str:
    r"""``text`` with every control character shown as its escape (tabs as four spaces;
    newlines kept, a carriage return as a newline).

    >>> inert("a\tb\x1b[31mred\r\nc\u202e")
    'a    b\\x1b[31mred\nc\\u202e'
    """
    s = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(_visible, s)


def shown(text: Any) -> str:
    """For an f-string that holds markup: the text inert and markup-escaped."""
    return escape(inert(text))


def plain(text: Any, limit: int | None = None) -> Text:
    """For a table cell: a Text (never parsed as markup), shortened to ``limit`` characters."""
    s = inert(text)
    if limit is not None and len(s) > limit:
        s = s[: limit - 3] + "..."
    return Text(s)


def make_console(**kwargs: Any) -> Console:
    """A console that does not turn ``:codes:`` into emoji or colour numbers and paths it
    guesses at; what it shows in colour, the markup of our own strings says."""
    return Console(emoji=False, highlight=False, **kwargs)


def plural(n: int, noun: str) -> str:
    """A number and its noun, singular for one.

    >>> plural(1, "session"), plural(2, "session"), plural(0, "memory")
    ('1 session', '2 sessions', '0 memories')
    """
    if n == 1:
        return f"{n} {noun}"
    word = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{n} {word}"
