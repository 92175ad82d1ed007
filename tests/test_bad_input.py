"""Bad input: each problem raises an IngestError naming the file, the record (a JSON path) and
the field, and nothing at all is written for the user (the whole file is validated first)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import LOCOMO, SAMPLE, count_user_nodes

from pipelines.formats import load
from pipelines.ingest import ingest_file
from schema.errors import IngestError

pytestmark = pytest.mark.integration

NATIVE = json.loads(SAMPLE.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: Any, name: str = "conversation.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _mutated(fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(NATIVE)
    fn(data)
    return data


def _ingest_fails(
    path: Path, store: Any, embedder: Any, conn: Any, user_id: str, **kw: Any
) -> IngestError:
    with pytest.raises(IngestError) as exc:
        ingest_file(path, store=store, embedder=embedder, user=user_id, **kw)
    assert count_user_nodes(conn, user_id) == 0, "nothing is written for bad input"
    err = exc.value
    assert err.file == str(path)
    assert str(path) in str(err)
    return err


def _turn(data: dict[str, Any], s: int, t: int) -> dict[str, Any]:
    return data["sessions"][s]["turns"][t]


NATIVE_CASES = [
    (
        "unknown-field",
        lambda d: _turn(d, 0, 1).update(colour="red"),
        "sessions[0].turns[1]",
        "colour",
        "unknown field",
    ),
    (
        "missing-timestamp",
        lambda d: _turn(d, 2, 3).pop("timestamp"),
        "sessions[2].turns[3]",
        "timestamp",
        "missing",
    ),
    (
        "unparsable-date",
        lambda d: _turn(d, 1, 0).update(timestamp="the day after the party"),
        "sessions[1].turns[0]",
        "timestamp",
        "unparsable date",
    ),
    (
        "impossible-date",
        lambda d: _turn(d, 7, 2).update(timestamp="2024-02-30T10:00:00+00:00"),
        "sessions[7].turns[2]",
        "timestamp",
        "unparsable date",
    ),
    (
        "implausible-year",
        lambda d: _turn(d, 2, 0).update(timestamp="3024-03-01T10:00:00+00:00"),
        "sessions[2].turns[0]",
        "timestamp",
        "between 1900 and 2200",
    ),
    (
        "bad-role",
        lambda d: _turn(d, 0, 0).update(role="robot"),
        "sessions[0].turns[0]",
        "role",
        "user",
    ),
    (
        "unknown-image-field",
        lambda d: _turn(d, 1, 0)["image"].update(colour="red"),
        "sessions[1].turns[0].image",
        "colour",
        "unknown field",
    ),
    (
        "empty-session",
        lambda d: d["sessions"][3].update(turns=[]),
        "sessions[3]",
        "turns",
        "at least 1",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "record", "field", "words"),
    [c[1:] for c in NATIVE_CASES],
    ids=[c[0] for c in NATIVE_CASES],
)
def test_invalid_native_records(  # type: ignore[no-untyped-def]
    tmp_path, store, embedder, conn, user_id, mutate, record, field, words
) -> None:
    path = _write(tmp_path, _mutated(mutate))
    err = _ingest_fails(path, store, embedder, conn, user_id)
    assert err.record == record
    assert err.field == field
    text = str(err)
    assert record in text and repr(field) in text
    assert words in text


def test_malformed_json(tmp_path, store, embedder, conn, user_id) -> None:  # type: ignore[no-untyped-def]
    raw = SAMPLE.read_text(encoding="utf-8")
    path = _write(tmp_path, raw[: len(raw) // 2])  # truncated mid-file
    err = _ingest_fails(path, store, embedder, conn, user_id)
    assert "malformed JSON" in str(err)
    assert "line" in str(err) and "column" in str(err)


def test_missing_file(tmp_path, store, embedder, conn, user_id) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "does-not-exist.json"
    err = _ingest_fails(path, store, embedder, conn, user_id)
    assert "not found" in str(err)


def test_not_utf8(tmp_path, store, embedder, conn, user_id) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "latin1.json"
    path.write_bytes('{"sessions": [], "x": "caf\xe9"}'.encode("latin-1"))
    err = _ingest_fails(path, store, embedder, conn, user_id)
    assert "UTF-8" in str(err)


def test_error_in_the_last_session_writes_no_earlier_session(  # type: ignore[no-untyped-def]
    tmp_path, store, embedder, conn, user_id
) -> None:
    last = len(NATIVE["sessions"]) - 1
    data = _mutated(lambda d: _turn(d, last, 0).update(timestamp="soon"))
    path = _write(tmp_path, data)
    err = _ingest_fails(path, store, embedder, conn, user_id)
    assert err.record == f"sessions[{last}].turns[0]"


def test_missing_image_file(tmp_path, store, embedder, conn, user_id) -> None:  # type: ignore[no-untyped-def]
    data = _mutated(lambda d: _turn(d, 1, 0).update(image={"path": "img/pepper.jpg"}))
    path = _write(tmp_path, data)
    err = _ingest_fails(path, store, embedder, conn, user_id)
    assert err.record == "sessions[1].turns[0].image"
    assert err.field == "path"
    assert "img/pepper.jpg" in str(err)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [(lambda d: d.update(colour="red"), "colour"), (lambda d: d.pop("sessions"), "sessions")],
    ids=["unknown-top-level-field", "missing-sessions"],
)
def test_top_level_problems_name_the_field(  # type: ignore[no-untyped-def]
    tmp_path, store, embedder, conn, user_id, mutate, field
) -> None:
    err = _ingest_fails(path := _write(tmp_path, _mutated(mutate)), store, embedder, conn, user_id)
    assert err.file == str(path)
    assert err.record == "(root)"
    assert err.field == field
    assert repr(field) in str(err)


# ----------------------------------------------------------------------------- LoCoMo
@pytest.fixture(scope="module")
def locomo_sample() -> dict[str, Any]:
    if not LOCOMO.exists():
        pytest.skip(f"LoCoMo dev data not found at {LOCOMO}")
    data = json.loads(LOCOMO.read_text(encoding="utf-8"))
    return data[0]


def test_locomo_session_with_a_bad_date(  # type: ignore[no-untyped-def]
    tmp_path, store, embedder, conn, user_id, locomo_sample
) -> None:
    sample = copy.deepcopy(locomo_sample)
    conv = sample["conversation"]
    conv["session_2_date_time"] = "half past teatime on Caturday"
    path = _write(tmp_path, [sample], "locomo.json")
    err = _ingest_fails(path, store, embedder, conn, user_id)
    assert err.field == "session_2_date_time"
    assert err.record is not None and sample["sample_id"] in err.record
    assert "half past teatime" in str(err)


def test_locomo_turn_missing_a_field(  # type: ignore[no-untyped-def]
    tmp_path, store, embedder, conn, user_id, locomo_sample
) -> None:
    sample = copy.deepcopy(locomo_sample)
    del sample["conversation"]["session_1"][3]["dia_id"]
    path = _write(tmp_path, [sample], "locomo.json")
    err = _ingest_fails(path, store, embedder, conn, user_id)
    assert err.field == "dia_id"
    assert err.record is not None and err.record.endswith("session_1[3]")


def test_locomo_loads_one_sample_faithfully(locomo_sample: dict[str, Any], tmp_path: Path) -> None:
    """No database: the loader keeps every turn, its dia_id and its session's time."""
    path = _write(tmp_path, [locomo_sample], "locomo.json")
    (conv,) = load(path, "auto", user="someone")
    assert conv.user_id == "someone" and conv.source == locomo_sample["sample_id"]
    raw = locomo_sample["conversation"]
    numbers = sorted(
        int(k.split("_")[1])
        for k, v in raw.items()
        if k.startswith("session_") and k.count("_") == 1 and isinstance(v, list) and v
    )
    assert [s.id for s in conv.record.sessions] == [f"session_{n}" for n in numbers]
    for n, session in zip(numbers, conv.record.sessions, strict=True):
        turns = raw[f"session_{n}"]
        assert [t.id for t in session.turns] == [t["dia_id"] for t in turns]
        assert [t.speaker for t in session.turns] == [t["speaker"] for t in turns]
        when = datetime.strptime(raw[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y")
        assert session.turns[0].timestamp == when
        stamps = [t.timestamp for t in session.turns]
        assert stamps == sorted(stamps)
