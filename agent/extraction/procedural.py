"""Procedural memory (habits, goals) and the core profile, maintained as explicit operations
(add / update / ...): model-free (schedules and goal phrases; profile slots mirrored from
facts) and LLM-driven (the update_memory prompt), side by side."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.language_models.chat_models import BaseChatModel

from agent.extraction.common import FIRST_PERSON, Failures, call_json, chat_turn
from agent.extraction.text import (
    capital_i,
    keywords,
    sentences,
    stem,
    strip_discourse,
    third_person,
)
from agent.prompts import update_memory
from agent.prompts._common import JsonResponseError
from schema.agent import MemoryOp
from schema.nodes import Fact, Procedure, ProfileEntry, Turn

__all__ = ["HeuristicMemoryUpdater", "LLMMemoryUpdater"]

_HABIT = re.compile(
    r"\b(every|each)\s+(day|morning|evening|night|week|weekend|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday)\b|\bon\s+(mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|"
    r"sundays|(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+(mornings|evenings|"
    r"nights))\b"
    # a frequency adverb only where the speaker is its subject and an action follows ("I
    # usually play", "we always go", "I'm always trying"): alone, "always" flagged thanks ("for
    # always being there"), other people ("they always support me"), lifelong tastes ("I've
    # always liked turtles") and comfort ("I'm always here for you"): 86 LoCoMo dev sentences
    # matched the bare adverb, about a third of them habits; a state or feeling after the
    # adverb ("I'm always proud of you", "I always feel like") is not a habit either
    r"|\b(I|we)(?:'m|’m|'re|’re| am| are)?\s+(usually|always|regularly|normally|typically)\s+"
    r"(?!(?:be|been|being|had|have|here|there|around|liked|loved|known|thought|wanted|feel|felt|"
    r"proud|happy|glad|grateful|thankful|sure|still|so|such)\b)[a-z]",
    re.I,
)
_GOAL = re.compile(
    r"\bmy (new )?goal (this year |for .{1,20} )?is\b|\bI (want|plan|hope|aim) to\b"
    # conversational intent is not a goal: "I want to tell you", "I hope to hear from you"
    r"(?!\s+(?:tell|say|ask|thank|hear|let you|talk|chat|share (?:this|it|something) with)\b)|"
    r"\bI(?:'m| am) (training|saving|studying) for\b",
    re.I,
)
#: fact slots mirrored into the core profile (key, whether a later value may replace it)
_PROFILE_SLOTS = {
    "name": ("name", False),
    "lives_in": ("location", True),
    "job": ("occupation", True),
    "relationship": ("relationship", True),
    "age": ("age", True),
}


class HeuristicMemoryUpdater:
    """Model-free procedural and core-profile maintenance, as explicit operations.

    Habits: first-person sentences with a schedule ("on Thursday mornings", "every week").
    Goals: "my goal is", "I plan to", "I'm training for". A new habit/goal whose content words
    overlap an active one by half or more UPDATES it (with the reason); otherwise it is ADDED.
    Profile: facts on the slots name/lives_in/job/relationship/age ADD or UPDATE the matching
    key (the name is only ever added, never changed)."""

    def propose(
        self,
        turns: Sequence[Turn],
        procedures: Sequence[Procedure],
        profile: Sequence[ProfileEntry],
        facts: Sequence[Fact] = (),
    ) -> list[MemoryOp]:
        ops: list[MemoryOp] = []
        active = [p for p in procedures if p.status == "active"]
        for turn in (t for t in turns if t.role == "user"):
            for sent in (capital_i(strip_discourse(s)) for s in sentences(turn.text)):
                kind = "goal" if _GOAL.search(sent) else "habit" if _HABIT.search(sent) else None
                if kind is None or sent.rstrip().endswith("?") or not FIRST_PERSON.search(sent):
                    continue
                text = third_person(sent, turn.speaker)
                match = self._similar(text, [p for p in active if p.type == kind])
                trigger = _HABIT.search(sent)
                if match is not None:
                    ops.append(
                        MemoryOp(
                            op="update",
                            target="procedure",
                            id=match.id,
                            value=text,
                            type=kind,
                            trigger=trigger.group(0) if trigger else None,
                            reason=f"{turn.speaker} restated it: {sent!r}",
                            turn_ids=[turn.id],
                        )
                    )
                else:
                    ops.append(
                        MemoryOp(
                            op="add",
                            target="procedure",
                            value=text,
                            type=kind,
                            trigger=trigger.group(0) if trigger else None,
                            reason=f"{turn.speaker} said: {sent!r}",
                            turn_ids=[turn.id],
                        )
                    )
        current = {e.key: e for e in profile if e.valid_to is None}
        for fact in sorted(facts, key=lambda f: f.valid_from):
            slot = (fact.slot or "").split(":", 1)[-1]
            if slot not in _PROFILE_SLOTS:
                continue
            key, mutable = _PROFILE_SLOTS[slot]
            old = current.get(key)
            if old is not None and (not mutable or old.value == fact.text):
                continue
            ops.append(
                MemoryOp(
                    op="update" if old else "add",
                    target="profile",
                    key=key,
                    value=fact.text,
                    reason=f"fact {fact.id}: {fact.text}",
                    turn_ids=list(fact.turn_ids),
                )
            )
            current[key] = ProfileEntry(
                id="pending",
                user_id=fact.user_id,
                key=key,
                value=fact.text,
                version=1,
                op="add",
                valid_from=fact.valid_from,
            )
        return ops

    @staticmethod
    def _similar(text: str, candidates: Sequence[Procedure]) -> Procedure | None:
        words = {stem(w) for w in keywords(text, 8)}
        best, best_score = None, 0.0
        for p in candidates:
            other = {stem(w) for w in keywords(p.text, 8)}
            score = len(words & other) / (min(len(words), len(other)) or 1)
            if score > best_score:
                best, best_score = p, score
        return best if best_score >= 0.5 else None


class LLMMemoryUpdater:
    """Procedural memory and core profile as explicit operations proposed by the model."""

    def __init__(self, model: BaseChatModel, *, retries: int = 1) -> None:
        self.model = model
        self.retries = retries
        self.failures = Failures()

    def propose(
        self,
        turns: Sequence[Turn],
        procedures: Sequence[Procedure],
        profile: Sequence[ProfileEntry],
        facts: Sequence[Fact] = (),
    ) -> list[MemoryOp]:
        msgs = update_memory.render([chat_turn(t) for t in turns], procedures, profile)
        try:
            return call_json(self.model, msgs, update_memory.Response, retries=self.retries).ops
        except JsonResponseError as exc:
            self.failures.add(f"update_memory: {exc}")
            return []
