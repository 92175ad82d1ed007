"""Input records: the native conversation format (``personagraph/v1``) read by ``persona ingest``.

```json
{
  "format": "personagraph/v1",
  "user": {"id": "alice", "name": "Alice"},
  "timezone": "Europe/London",
  "sessions": [
    {"id": "2024-03-01-morning",
     "turns": [
       {"role": "user", "text": "I started running on Thursdays.",
        "timestamp": "2024-03-01T09:15:00+00:00"},
       {"role": "assistant", "text": "Nice!", "timestamp": "2024-03-01T09:15:20+00:00"},
       {"role": "user", "text": "Here is my dog.", "timestamp": "2024-03-01T09:16:00+00:00",
        "image": {"path": "images/dog.jpg", "caption": "a beagle on a sofa"}}
     ]}
  ]
}
```
Unknown fields are errors (a typo must not silently drop data). Timestamps are ISO 8601; a naive
one is read in ``timezone`` (else the configured timezone). ``user`` is optional when
``--user`` is given; ``--user`` wins. Image paths are relative to the JSON file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schema.timeutil import YEARS, get_tz

__all__ = [
    "NATIVE_FORMAT",
    "ConversationRecord",
    "ImageRecord",
    "SessionRecord",
    "TurnRecord",
    "UserRecord",
]

NATIVE_FORMAT = "personagraph/v1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ImageRecord(_Strict):
    path: str | None = Field(default=None, description="image file, relative to the JSON file")
    base64: str | None = Field(default=None, description="inline image bytes")
    url: str | None = Field(default=None, description="where the image came from (not fetched)")
    caption: str | None = None
    mime: str | None = None

    @model_validator(mode="after")
    def _has_something(self) -> ImageRecord:
        if not (self.path or self.base64 or self.caption or self.url):
            raise ValueError("an image needs a path, base64 bytes or at least a caption")
        if self.path and self.base64:
            raise ValueError("give either path or base64, not both")
        if self.path is not None:
            p = PurePosixPath(self.path.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or not p.parts or self.path[1:3] == ":\\":
                raise ValueError(
                    f"image path {self.path!r} must be relative to the JSON file's folder "
                    "and stay inside it (no absolute paths, no '..')"
                )
        return self


class TurnRecord(_Strict):
    role: Literal["user", "assistant", "other"] = "user"
    speaker: str | None = Field(default=None, description="who spoke; defaults to role/user name")
    text: str
    timestamp: datetime
    id: str | None = Field(default=None, description="the turn's id in the source")
    image: ImageRecord | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v:
            raise ValueError("text is empty")
        return v

    @field_validator("timestamp")
    @classmethod
    def _plausible_year(cls, v: datetime) -> datetime:
        if not YEARS[0] <= v.year <= YEARS[1]:
            raise ValueError(f"the year must be between {YEARS[0]} and {YEARS[1]} (got {v.year})")
        return v


class SessionRecord(_Strict):
    id: str | None = Field(default=None, description="defaults to s<position>")
    turns: list[TurnRecord] = Field(min_length=1)

    @model_validator(mode="after")
    def _chronological(self) -> SessionRecord:
        for i in range(1, len(self.turns)):
            a, b = self.turns[i - 1].timestamp, self.turns[i].timestamp
            if (a.tzinfo is None) != (b.tzinfo is None):
                # a naive time is read in the file's timezone: mixed with offsets, the order
                # of turns could silently run backwards
                raise ValueError(
                    f"turn {i} {'has' if b.tzinfo else 'lacks'} a UTC offset and turn {i - 1} "
                    f"{'does not' if b.tzinfo else 'has one'}: give every timestamp of a "
                    "session an offset, or none"
                )
            if b < a:
                raise ValueError(f"turn {i} is earlier than turn {i - 1} (timestamps go backwards)")
        return self


class UserRecord(_Strict):
    id: str
    name: str | None = None


class ConversationRecord(_Strict):
    format: Literal["personagraph/v1"] = "personagraph/v1"
    user: UserRecord | None = None
    timezone: str | None = None
    sessions: list[SessionRecord] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                get_tz(value)
            except Exception as exc:  # ZoneInfoNotFoundError, ValueError
                raise ValueError(
                    f"unknown timezone {value!r}: use an IANA name such as Europe/London"
                ) from exc
        return value

    @model_validator(mode="after")
    def _unique_session_ids(self) -> ConversationRecord:
        seen: set[str] = set()
        for i, s in enumerate(self.sessions):
            sid = s.id or f"s{i + 1}"
            if sid in seen:
                raise ValueError(f"session id {sid!r} appears twice")
            seen.add(sid)
        return self
