"""Input formats -> validated :class:`ConversationRecord` s. Nothing is written here: every
record is checked first, and the first problem raises an :class:`IngestError` naming the file,
the record (a JSON path) and the field.

- ``native``: ``personagraph/v1`` (see ``schema/records.py`` and the README);
- ``locomo``: the LoCoMo benchmark file, one conversation per sample. Both speakers' turns
  are the user's memory (``role="user"`` with the speaker's name); a turn's ``dia_id`` is kept
  as ``source_id``; its BLIP caption and image URL become an image record (not fetched).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import dateparser
from pydantic import ValidationError

from schema.errors import IngestError
from schema.records import ConversationRecord, ImageRecord, SessionRecord, TurnRecord

__all__ = ["LoadedConversation", "load", "parse_locomo_datetime"]

Format = Literal["native", "locomo", "auto"]


@dataclass(frozen=True)
class LoadedConversation:
    user_id: str
    user_name: str | None
    record: ConversationRecord
    source: str  # e.g. the LoCoMo sample id
    base_dir: Path  # image paths are relative to it
    path: Path | None = None  # the file it came from (named in errors)


def _json_path(loc: tuple[Any, ...]) -> tuple[str, str | None]:
    """('sessions', 2, 'turns', 5, 'timestamp') -> ('sessions[2].turns[5]', 'timestamp')."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        else:
            parts.append(str(item))
    if len(parts) == 1 and not parts[0].endswith("]"):
        return "(root)", parts[0]
    if len(parts) >= 2 and not parts[-1].endswith("]"):
        return ".".join(parts[:-1]), parts[-1]
    return ".".join(parts) or "(root)", None


def _read_json(path: Path) -> Any:
    if not path.exists():
        raise IngestError("file not found", file=str(path), hint="check the path")
    if not path.is_file():
        raise IngestError("not a file", file=str(path))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise IngestError(f"not UTF-8 text ({exc.reason})", file=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise IngestError(
            f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", file=str(path)
        ) from exc


def _validate_native(data: Any, path: Path) -> ConversationRecord:
    try:
        return ConversationRecord.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        record, field = _json_path(tuple(err["loc"]))
        kind = err["type"]
        if kind == "extra_forbidden":
            message = f"unknown field {field!r}" if field else "unknown field"
            hint = "remove it or fix its spelling (see the native format in the README)"
        elif kind == "missing":
            message = f"missing required field {field!r}"
            hint = "every turn needs role, text and an ISO 8601 timestamp"
        elif kind.startswith("datetime"):
            message = f"unparsable date {err.get('input')!r} ({err['msg']})"
            hint = "use ISO 8601, e.g. 2024-03-01T09:15:00+00:00"
        else:
            message = err["msg"]
            hint = None
        raise IngestError(message, file=str(path), record=record, field=field, hint=hint) from exc


_LOCOMO_DT = re.compile(r"^\s*\d{1,2}:\d{2}\s*[ap]m on \d{1,2} \w+,? \d{4}\s*$", re.I)


def parse_locomo_datetime(text: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` -> naive datetime (dateparser does the parsing).

    >>> parse_locomo_datetime("1:56 pm on 8 May, 2023")
    datetime.datetime(2023, 5, 8, 13, 56)
    """
    if not _LOCOMO_DT.match(text):
        raise ValueError(f"not a LoCoMo date: {text!r}")
    cleaned = text.replace(" on ", " ")
    parsed = dateparser.parse(
        cleaned, languages=["en"], settings={"DATE_ORDER": "DMY", "STRICT_PARSING": True}
    )
    if parsed is None:
        raise ValueError(f"unparsable date {text!r}")
    return parsed


def _locomo_sample(sample: Any, index: int, path: Path) -> tuple[str, ConversationRecord]:
    where = f"[{index}]"
    if not isinstance(sample, dict):
        raise IngestError("a LoCoMo sample must be an object", file=str(path), record=where)
    for key in ("sample_id", "conversation"):
        if key not in sample:
            raise IngestError(
                f"missing required field {key!r}", file=str(path), record=where, field=key
            )
    sample_id = str(sample["sample_id"])
    conv = sample["conversation"]
    where = f"{sample_id}.conversation"
    numbers = sorted(int(m.group(1)) for k in conv if (m := re.fullmatch(r"session_(\d+)", k)))
    if not numbers:
        raise IngestError("no session_<n> lists", file=str(path), record=where)
    sessions: list[SessionRecord] = []
    for n in numbers:
        turns_raw = conv[f"session_{n}"]
        key = f"session_{n}_date_time"
        if key not in conv:
            raise IngestError("missing session timestamp", file=str(path), record=where, field=key)
        try:
            start = parse_locomo_datetime(str(conv[key]))
        except ValueError as exc:
            raise IngestError(
                f"unparsable date {conv[key]!r}",
                file=str(path),
                record=where,
                field=key,
                hint='expected like "1:56 pm on 8 May, 2023"',
            ) from exc
        if not isinstance(turns_raw, list) or not turns_raw:
            continue
        turns = []
        for i, raw in enumerate(turns_raw):
            rec = f"{where}.session_{n}[{i}]"
            for req in ("speaker", "text", "dia_id"):
                if req not in raw:
                    raise IngestError(
                        f"missing required field {req!r}", file=str(path), record=rec, field=req
                    )
            image = None
            if raw.get("blip_caption") or raw.get("img_url"):
                url = raw.get("img_url")
                image = ImageRecord(
                    caption=raw.get("blip_caption"),
                    url=url[0] if isinstance(url, list) and url else (url or None),
                )
            turns.append(
                TurnRecord(
                    role="user",
                    speaker=str(raw["speaker"]),
                    text=str(raw["text"]) or "(image)",
                    # LoCoMo gives one time per session; turns are 10 s apart from it
                    timestamp=start + timedelta(seconds=10 * i),
                    id=str(raw["dia_id"]),
                    image=image,
                )
            )
        sessions.append(SessionRecord(id=f"session_{n}", turns=turns))
    return sample_id, ConversationRecord(sessions=sessions)


def _looks_like_locomo(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], dict)
        and "conversation" in data[0]
    )


def load(
    path: Path,
    fmt: Format = "auto",
    *,
    user: str | None = None,
    sample: str | None = None,
) -> list[LoadedConversation]:
    """Read and validate a whole file. Raises :class:`IngestError` before anything is written."""
    path = Path(path)
    data = _read_json(path)
    if fmt == "auto":
        fmt = "locomo" if _looks_like_locomo(data) else "native"
    if fmt == "native":
        if sample is not None:
            raise IngestError(
                f"--sample {sample!r} selects a LoCoMo sample, and this is a native file",
                file=str(path),
                hint="drop --sample (or pass --format locomo for a LoCoMo file)",
            )
        if not isinstance(data, dict):
            raise IngestError(
                "the native format is a JSON object with 'sessions'",
                file=str(path),
                record="(root)",
            )
        record = _validate_native(data, path)
        uid = user or (record.user.id if record.user else None)
        if not uid:
            raise IngestError(
                "no user: the file has no 'user' and --user was not given",
                file=str(path),
                record="(root)",
                field="user",
                hint="pass --user ID",
            )
        name = record.user.name if record.user else None
        _check_images(record, path)
        return [LoadedConversation(uid, name, record, path.stem, path.parent, path)]
    if not isinstance(data, list):
        raise IngestError(
            "a LoCoMo file is a JSON list of samples", file=str(path), record="(root)"
        )
    out = []
    for i, raw in enumerate(data):
        sid, record = _locomo_sample(raw, i, path)
        if sample and sid != sample:
            continue
        if user and (sample or len(data) == 1):
            uid = user
        elif user:
            uid = f"{user}-{sid}"
        else:
            uid = sid
        out.append(LoadedConversation(uid, None, record, sid, path.parent, path))
    if sample and not out:
        raise IngestError(f"no sample {sample!r} in the file", file=str(path), field="sample_id")
    return out


def _check_images(record: ConversationRecord, path: Path) -> None:
    for si, session in enumerate(record.sessions):
        for ti, turn in enumerate(session.turns):
            img = turn.image
            if img and img.path and not (path.parent / img.path).is_file():
                raise IngestError(
                    f"image file not found: {img.path}",
                    file=str(path),
                    record=f"sessions[{si}].turns[{ti}].image",
                    field="path",
                )
            if img and img.base64:
                import base64
                import binascii

                try:
                    base64.b64decode(img.base64, validate=True)
                except binascii.Error as exc:
                    raise IngestError(
                        "image base64 is not valid",
                        file=str(path),
                        record=f"sessions[{si}].turns[{ti}].image",
                        field="base64",
                    ) from exc
