"""The training data: synthetic conversations ingested into a real Neo4j through the normal
ingest path, their questions with gold evidence, and the teacher's trajectories rendered by
the agent against that store. Split into train and held-out by persona.

Files written to ``out_dir``:
- ``conversations/<persona>.json``  the native-format conversations (re-ingestable);
- ``questions.jsonl``               every question (GoldQuestion) with its split;
- ``sft.jsonl``                     training trajectories whose retrievals found the evidence;
- ``heldout_trajectories.jsonl``    the held-out personas' teacher trajectories (for checks);
- ``manifest.json``                 seed, counts by kind and split, teacher misses, prompt
                                    versions, a hash of the data.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pipelines.bench.locomo import parse_evidence
from pipelines.formats import LoadedConversation, load
from pipelines.ingest import ingest_conversation
from pipelines.synth.personas import generate_conversation
from pipelines.synth.teacher import render_trajectory
from schema.datasets import GoldQuestion, TrajectoryRecord
from schema.protocols import Embedder, MemoryStore
from schema.settings import Settings
from schema.timeutil import asks_when, ensure_aware, get_tz
from schema.training import DataSection

__all__ = [
    "Dataset",
    "build_dataset",
    "ingest_locomo_questions",
    "load_questions",
    "stratified_sample",
]

#: what :func:`stratified_sample` samples (gold questions, LoCoMo QA rows)
Q = TypeVar("Q")

Say = Callable[[str, int, int], None]


@dataclass
class Dataset:
    out_dir: Path
    questions: list[GoldQuestion]
    splits: dict[str, str]  # question id -> train | heldout
    trajectories: list[TrajectoryRecord] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> list[GoldQuestion]:
        return [q for q in self.questions if self.splits.get(q.id) == name]


def _evidence_times(record: Any, evidence: Sequence[str]) -> list[datetime]:
    """When each evidence turn was said (a naive time is read as the record's timezone)."""
    tz = get_tz(record.timezone)
    at = {t.id: ensure_aware(t.timestamp, tz) for s in record.sessions for t in s.turns if t.id}
    return [at[e] for e in evidence if e in at]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_dataset(
    cfg: DataSection,
    *,
    store: MemoryStore,
    embedder: Embedder,
    settings: Settings,
    out_dir: Path,
    user_prefix: str = "",
    locomo: Path | None = None,
    progress: Say | None = None,
) -> Dataset:
    """Generate, ingest, render; see the module docstring. Re-running with the same config
    changes nothing in the store (ingest is idempotent) and writes the same files."""
    say = progress or (lambda _t, _i, _n: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    conv_dir = out_dir / "conversations"
    conv_dir.mkdir(exist_ok=True)
    questions: list[GoldQuestion] = []
    splits: dict[str, str] = {}
    styles: Counter[str] = Counter()
    for i in range(cfg.personas):
        split = "heldout" if i >= cfg.personas - cfg.heldout else "train"
        # the id names the content: a changed generator never meets an older version's
        # memories under the same user (ingest keeps what a user already has)
        draft = generate_conversation(cfg.seed * 1000 + i, "p", months=cfg.months)
        digest = hashlib.sha256(draft.record.model_dump_json().encode()).hexdigest()[:8]
        persona = f"{user_prefix}synth-{cfg.seed}-{i:03d}-{digest}"
        conv = generate_conversation(cfg.seed * 1000 + i, persona, months=cfg.months)
        styles[conv.style] += 1
        path = conv_dir / f"{persona}.json"
        path.write_text(conv.record.model_dump_json(indent=1, exclude_none=True))
        say("ingest personas", i + 1, cfg.personas)
        ingest_conversation(
            LoadedConversation(persona, conv.user_name, conv.record, persona, conv_dir),
            store=store,
            embedder=embedder,
            timezone="UTC",
        )
        for q in conv.questions:
            q.evidence_at = _evidence_times(conv.record, q.evidence)
            questions.append(q)
            splits[q.id] = split
    if cfg.locomo_train:
        if locomo is None:
            raise FileNotFoundError("data.locomo_train names LoCoMo samples but no file was given")
        extra = ingest_locomo_questions(
            locomo, cfg.locomo_train, store=store, embedder=embedder, user_prefix=user_prefix
        )
        questions += extra
        splits.update({q.id: "train" for q in extra})
    trajectories: list[TrajectoryRecord] = []
    for n, q in enumerate(questions):
        say("render trajectories", n + 1, len(questions))
        record, _ = render_trajectory(q, store=store, settings=settings, split=splits[q.id])
        trajectories.append(record)
    rng = random.Random(cfg.seed)
    usable = [t for t in trajectories if t.split == "train" and t.found_evidence]
    synthetic = [t for t in usable if not t.persona.startswith(f"{user_prefix}locomo-")]
    real = [t for t in usable if t.persona.startswith(f"{user_prefix}locomo-")]
    real = _pick(real, cfg.locomo_trajectories, cfg.abstain_share, rng)
    room = None if cfg.max_trajectories is None else max(cfg.max_trajectories - len(real), 0)
    synthetic = _pick(synthetic, room, cfg.abstain_share, rng)
    train = synthetic + real
    rng.shuffle(train)
    heldout = [t for t in trajectories if t.split == "heldout"]
    _write_jsonl(out_dir / "questions.jsonl", [_with_split(q, splits) for q in questions])
    _write_jsonl(out_dir / "sft.jsonl", [t.model_dump(mode="json") for t in train])
    _write_jsonl(
        out_dir / "heldout_trajectories.jsonl", [t.model_dump(mode="json") for t in heldout]
    )
    misses = [t for t in trajectories if t.split == "train" and not t.found_evidence]
    manifest = {
        "seed": cfg.seed,
        "config": cfg.model_dump(),
        "personas": {"train": cfg.personas - cfg.heldout, "heldout": cfg.heldout},
        "styles": dict(styles),
        "questions": {
            split: dict(Counter(q.kind for q in questions if splits[q.id] == split))
            for split in ("train", "heldout")
        },
        "sft_trajectories": len(train),
        "sft_from_locomo": len(real),
        "teacher_misses": len(misses),
        "teacher_miss_kinds": dict(Counter(t.kind for t in misses)),
        "prompt_versions": sorted({v for t in trajectories for v in t.prompt_versions}),
        "sha256": {
            name: _sha(out_dir / name)
            for name in ("questions.jsonl", "sft.jsonl", "heldout_trajectories.jsonl")
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    manifest["data_hash"] = hashlib.sha256(
        json.dumps(manifest["sha256"], sort_keys=True).encode()
    ).hexdigest()[:16]
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return Dataset(out_dir, questions, splits, trajectories, manifest)


def _pick(
    pool: list[TrajectoryRecord], n: int | None, abstain_share: float | None, rng: random.Random
) -> list[TrajectoryRecord]:
    """Up to ``n`` trajectories (None: all), at most ``abstain_share`` of them abstentions.

    >>> from types import SimpleNamespace as T
    >>> pool = [T(kind="unanswerable")] * 30 + [T(kind="when")] * 70
    >>> [sum(t.kind == "unanswerable" for t in _pick(pool, n, 0.1, random.Random(0)))
    ...  for n in (50, None)]
    [5, 10]
    >>> len(_pick(pool, 90, 0.1, random.Random(0)))  # too few answerable ones: fewer in all
    79
    """
    n = len(pool) if n is None else min(n, len(pool))
    if abstain_share is None:
        return rng.sample(pool, n)
    abstain = [t for t in pool if t.kind == "unanswerable"]
    answer = [t for t in pool if t.kind != "unanswerable"]
    k_abstain = min(len(abstain), int(abstain_share * n))
    return rng.sample(answer, min(len(answer), n - k_abstain)) + rng.sample(abstain, k_abstain)


def _with_split(q: GoldQuestion, splits: dict[str, str]) -> dict[str, Any]:
    return {**q.model_dump(mode="json"), "split": splits[q.id]}


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def load_questions(out_dir: Path) -> Dataset:
    """Read back what :func:`build_dataset` wrote."""
    questions, splits = [], {}
    path = out_dir / "questions.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `persona train data` first")
    for line in path.read_text().splitlines():
        row = json.loads(line)
        split = row.pop("split")
        q = GoldQuestion.model_validate(row)
        questions.append(q)
        splits[q.id] = split
    manifest_path = out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    return Dataset(out_dir, questions, splits, manifest=manifest)


# ------------------------------------------------------------------------------ LoCoMo
_KIND = {1: "multi_hop", 3: "single_hop", 4: "single_hop", 5: "unanswerable"}


def ingest_locomo_questions(
    path: Path,
    samples: Sequence[str] | None,
    *,
    store: MemoryStore,
    embedder: Embedder,
    user_prefix: str = "",
) -> list[GoldQuestion]:
    """Ingest LoCoMo conversations (each its own user) and return their questions as gold
    questions, asked the day after the last session. ``samples`` empty or None: all."""
    raw = {s["sample_id"]: s for s in json.loads(Path(path).read_text())}
    out: list[GoldQuestion] = []
    for conv in load(path, "locomo"):
        if samples and conv.source not in samples:
            continue
        user_id = f"{user_prefix}locomo-{conv.source}"
        ingest_conversation(
            LoadedConversation(user_id, None, conv.record, conv.source, conv.base_dir),
            store=store,
            embedder=embedder,
        )
        last = conv.record.sessions[-1].turns[-1].timestamp
        last = ensure_aware(last, get_tz(conv.record.timezone))
        asked = (last + timedelta(days=1)).replace(hour=12, minute=0, second=0)
        for n, qa in enumerate(raw[conv.source]["qa"]):
            category = int(qa["category"])
            evidence = parse_evidence(qa.get("evidence", []))
            answer = str(qa.get("answer", "")) if category != 5 else "not mentioned"
            kind = _KIND.get(category) or ("when" if asks_when(qa["question"]) else "single_hop")
            out.append(
                GoldQuestion(
                    id=f"{user_id}-q{n + 1}",
                    user_id=user_id,
                    persona=user_id,
                    question=qa["question"],
                    asked_at=asked,
                    answer=answer,
                    evidence=evidence,
                    evidence_at=_evidence_times(conv.record, evidence),
                    kind=kind,
                    about="person",
                    locomo_category=category,
                )
            )
    return out


def stratified_sample(
    questions: Sequence[Q], n: int, *, seed: int, by: Callable[[Q], Any]
) -> list[Q]:
    """``n`` questions spread evenly over the groups ``by`` makes (round robin over shuffled
    groups), so a small sample still covers every kind or category.

    >>> from datetime import datetime, UTC
    >>> qs = [GoldQuestion(id=str(i), user_id="u", persona="u", question="q", answer="a",
    ...       asked_at=datetime(2024, 1, 1, tzinfo=UTC), kind=k) for i, k in
    ...       enumerate(["when"] * 8 + ["now"] * 2)]
    >>> sorted(q.kind for q in stratified_sample(qs, 4, seed=1, by=lambda q: q.kind))
    ['now', 'now', 'when', 'when']
    """
    rng = random.Random(seed)
    groups: dict[Any, list[Q]] = {}
    for q in questions:
        groups.setdefault(by(q), []).append(q)
    for g in groups.values():
        rng.shuffle(g)
    keys = sorted(groups, key=str)
    out: list[Q] = []
    while len(out) < n and any(groups.values()):
        for k in keys:
            if groups[k] and len(out) < n:
                out.append(groups[k].pop())
    return out
