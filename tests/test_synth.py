"""Synthetic training data from the real system: the seeded generator (pure), and the dataset
build against the real Neo4j (ingest through the normal path, trajectories rendered by the
agent itself with the run-time prompt modules, memories from the store, split by persona)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agent.prompts import reason_continue, reason_start
from agent.prompts._common import question_line
from agent.temporal import relative_note
from pipelines.synth.personas import NOT_MENTIONED, generate_conversation
from schema.datasets import GoldQuestion
from schema.timeutil import ensure_aware, spoken_date

SEEDS = range(12)


def _turns(conv: Any) -> dict[str, Any]:
    return {t.id: t for s in conv.record.sessions for t in s.turns}


def test_same_seed_same_conversation_other_seed_other_one() -> None:
    a, b, c = (generate_conversation(s, "p") for s in (5, 5, 6))
    assert a.record == b.record and a.questions == b.questions
    assert a.record != c.record


def test_every_question_points_at_turns_that_hold_its_answer() -> None:
    for seed in SEEDS:
        conv = generate_conversation(seed, f"p{seed}")
        turns = _turns(conv)
        for q in conv.questions:
            if q.kind == "unanswerable":
                assert q.evidence == [] and q.answer == NOT_MENTIONED
                continue
            assert q.evidence, q
            assert all(e in turns for e in q.evidence), q
            assert all(q.asked_at > ensure_aware(turns[e].timestamp) for e in q.evidence)
            said = " ".join(turns[e].text for e in q.evidence)
            if q.kind in ("single_hop", "now", "then", "preference", "habit", "goal"):
                # the gold answer is said in the evidence, in those words
                assert q.answer.lower().split(" ", 1)[-1] in said.lower(), (q.answer, said)


def test_when_answers_are_what_the_relative_date_meant_on_that_day() -> None:
    checked = 0
    for seed in SEEDS:
        conv = generate_conversation(seed, f"p{seed}")
        turns = _turns(conv)
        for q in conv.questions:
            if q.kind != "when":
                continue
            turn = turns[q.evidence[-1]]
            said = ensure_aware(turn.timestamp)
            note = relative_note(turn.text, said_at=said)
            assert q.answer == (note[1] if note else spoken_date(said)), (q, turn.text)
            checked += 1
    assert checked > 30


def test_the_mix_covers_every_question_kind_both_styles_and_other_people() -> None:
    kinds: Counter[str] = Counter()
    styles: Counter[str] = Counter()
    about: Counter[str] = Counter()
    relative = 0
    for seed in SEEDS:
        conv = generate_conversation(seed, f"p{seed}")
        styles[conv.style] += 1
        kinds.update(q.kind for q in conv.questions)
        about.update(q.about for q in conv.questions)
        relative += sum(
            1
            for t in _turns(conv).values()
            if relative_note(t.text, said_at=ensure_aware(t.timestamp))
        )
    needed = {"when", "now", "then", "how_long", "habit", "preference", "multi_hop", "person"}
    assert needed | {"unanswerable", "single_hop", "goal"} <= set(kinds)
    assert set(styles) == {"assistant", "dialogue"}
    assert about["person"] > 20  # questions about the people the user mentions
    assert relative > 100  # "yesterday", "last weekend", "next month" inside turns


def test_first_and_third_person_questions() -> None:
    texts = [q.question for s in SEEDS for q in generate_conversation(s, "p").questions]
    assert any(re.search(r"\b(I|my)\b", t) for t in texts)
    assert sum(1 for t in texts if not re.search(r"\b(I|my)\b", t)) > len(texts) / 2


# ------------------------------------------------------------------------------ real store
@pytest.fixture(scope="module")
def dataset(
    tmp_path_factory: pytest.TempPathFactory, session_store: Any, embedder: Any, settings: Any
) -> Any:
    from pipelines.synth.dataset import build_dataset
    from schema.training import DataSection

    out = tmp_path_factory.mktemp("synth-data")
    cfg = DataSection(personas=3, heldout=1, months=2, seed=77)
    prefix = f"t{__import__('uuid').uuid4().hex[:6]}-"
    return build_dataset(
        cfg,
        store=session_store,
        embedder=embedder,
        settings=settings,
        out_dir=out,
        user_prefix=prefix,
    )


@pytest.mark.integration
def test_split_is_by_persona(dataset: Any) -> None:
    train = {q.persona for q in dataset.split("train")}
    held = {q.persona for q in dataset.split("heldout")}
    assert train and held and not train & held
    assert len(held) == 1 and len(train) == 2


@pytest.mark.integration
def test_trajectories_are_rendered_by_the_agent_with_its_prompt_modules(
    dataset: Any, session_store: Any
) -> None:
    by_id = {q.id: q for q in dataset.questions}
    assert dataset.trajectories
    for t in dataset.trajectories:
        q: GoldQuestion = by_id[t.question_id]
        roles = [m["role"] for m in t.messages]
        assert roles[:3] == ["system", "user", "assistant"]
        assert t.messages[0]["content"] == reason_start.SYSTEM
        assert question_line(q.question, q.asked_at) in t.messages[1]["content"]
        assert t.prompt_versions == [reason_start.VERSION, reason_continue.VERSION]
        assert t.retrieves >= 1  # every question, answerable or not, searches the memory


@pytest.mark.integration
def test_memories_in_trajectories_come_from_the_store(dataset: Any, session_store: Any) -> None:
    from schema.nodes import MemoryKind
    from schema.retrieval import TimeWindow

    stored: dict[str, set[str]] = {}
    line = re.compile(r"^\d+\. \[[^\]]+\] (?:([^:]+): )?(.*?)(?: \(\"[^\"]+\" = [^)]+\))?$")
    for t in dataset.trajectories[:25]:
        user = next(q.user_id for q in dataset.questions if q.id == t.question_id)
        if user not in stored:
            rows = session_store.list_memories(user, [MemoryKind.TURN], TimeWindow(), 10_000)
            stored[user] = {r.text for r in rows}
        shown = [m["content"] for m in t.messages if m["content"].startswith("Memories found")]
        assert shown
        for block in shown:
            for text in block.splitlines()[1:]:
                m = line.match(text)
                if m:
                    assert m.group(2) in stored[user], text


@pytest.mark.integration
def test_sft_file_holds_training_trajectories_that_found_the_evidence(dataset: Any) -> None:
    rows = [json.loads(x) for x in (dataset.out_dir / "sft.jsonl").read_text().splitlines()]
    assert rows
    held = {q.persona for q in dataset.split("heldout")}
    for r in rows:
        assert r["split"] == "train" and r["found_evidence"] and r["persona"] not in held
        assert r["messages"][-1]["role"] == "assistant"
        assert "<answer>" in r["messages"][-1]["content"]
    manifest = dataset.manifest
    assert manifest["sft_trajectories"] == len(rows)
    assert manifest["prompt_versions"] == [reason_continue.VERSION, reason_start.VERSION]


@pytest.mark.integration
def test_rebuilding_writes_the_same_files_and_no_new_nodes(
    dataset: Any, session_store: Any, embedder: Any, settings: Any, conn: Any
) -> None:
    from pipelines.synth.dataset import build_dataset
    from schema.training import DataSection

    users = sorted({q.user_id for q in dataset.questions})
    prefix = users[0].split("synth-")[0]

    def count() -> int:
        return conn.read("MATCH (n) WHERE n.user_id STARTS WITH $p RETURN count(n) AS n", p=prefix)[
            0
        ]["n"]

    before = count()
    again = build_dataset(
        DataSection(personas=3, heldout=1, months=2, seed=77),
        store=session_store,
        embedder=embedder,
        settings=settings,
        out_dir=Path(str(dataset.out_dir) + "-again"),
        user_prefix=prefix,
    )
    assert count() == before
    assert again.manifest["sha256"] == dataset.manifest["sha256"]


@pytest.mark.integration
def test_abstain_share_caps_the_abstentions_among_sft_trajectories(
    dataset: Any, tmp_path: Path, session_store: Any, embedder: Any, settings: Any
) -> None:
    """Unanswerable questions are part of the uncapped SFT data; a share of 0 leaves them out
    and keeps every answerable trajectory (the personas are already in the store)."""
    from pipelines.synth.dataset import build_dataset
    from schema.training import DataSection

    def kinds(out_dir: Path) -> list[str]:
        return [json.loads(x)["kind"] for x in (out_dir / "sft.jsonl").read_text().splitlines()]

    before = kinds(dataset.out_dir)
    assert "unanswerable" in before
    prefix = dataset.questions[0].persona.split("synth-")[0]
    capped = build_dataset(
        DataSection.model_validate({**dataset.manifest["config"], "abstain_share": 0.0}),
        store=session_store,
        embedder=embedder,
        settings=settings,
        out_dir=tmp_path,
        user_prefix=prefix,
    )
    after = kinds(capped.out_dir)
    assert "unanswerable" not in after
    assert sorted(after) == sorted(k for k in before if k != "unanswerable")
