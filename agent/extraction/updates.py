"""Fact updates: duplicates are dropped, a newer fact on the same slot supersedes the older.

Shared by every extractor (model-free or LLM): extraction proposes facts; this decides what
is written. The old fact is never deleted: it gets ``valid_to`` and SUPERSEDES points at it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from schema.nodes import Fact
from schema.protocols import Supersession

__all__ = ["FactPlan", "normalise", "plan_fact_updates"]


def normalise(statement: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", statement.lower()).strip()


@dataclass
class FactPlan:
    write: list[Fact] = field(default_factory=list)
    supersessions: list[Supersession] = field(default_factory=list)
    duplicates: list[Fact] = field(default_factory=list)


def plan_fact_updates(
    new: Sequence[Fact], existing_active: Sequence[Fact], known_ids: set[str] | None = None
) -> FactPlan:
    """Process ``new`` facts in time order against the user's active facts.

    - same normalised statement as an active fact (same slot or no slot): a duplicate;
    - same slot as an active fact, different statement, later in time: supersedes it;
    - a fact whose id is already stored (``known_ids``, any status) is skipped, so
      re-ingesting never re-activates a superseded fact.
    """
    plan = FactPlan()
    active: dict[str, Fact] = {}  # slot -> the active fact holding it
    seen: set[str] = set()
    for fact in existing_active:
        if fact.slot:
            prev = active.get(fact.slot)
            if prev is None or fact.valid_from >= prev.valid_from:
                active[fact.slot] = fact
        seen.add(normalise(fact.text))
    existing_ids = {f.id for f in existing_active} | (known_ids or set())
    # stable: facts said at the same moment keep the extractor's order (their ids embed the
    # user, so ordering by id made one conversation's graph depend on who it was stored for)
    for fact in sorted(new, key=lambda f: f.valid_from):
        if fact.id in existing_ids:
            continue  # already stored (re-ingest)
        norm = normalise(fact.text)
        if norm in seen:
            plan.duplicates.append(fact)
            continue
        seen.add(norm)
        plan.write.append(fact)
        for old_id in fact.supersedes:  # explicit (LLM extractors), honoured when known
            old = next((f for f in active.values() if f.id == old_id), None) or next(
                (f for f in existing_active if f.id == old_id), None
            )
            if old is not None and old.valid_from <= fact.valid_from:
                plan.supersessions.append(
                    Supersession(
                        new_id=fact.id,
                        old_id=old_id,
                        at=fact.valid_from,
                        reason="the extractor marked it as updated",
                    )
                )
                if old.slot and active.get(old.slot) is old:
                    active.pop(old.slot)
        if fact.slot:
            old = active.get(fact.slot)
            if old is not None and old.valid_from > fact.valid_from:
                # an older statement arriving late: the newer one it predates replaces it
                plan.supersessions.append(
                    Supersession(
                        new_id=old.id,
                        old_id=fact.id,
                        at=old.valid_from,
                        reason=f"newer statement for {fact.slot}",
                    )
                )
                continue
            explicit = {s.old_id for s in plan.supersessions if s.new_id == fact.id}
            if old is not None and old.id != fact.id and old.id not in explicit:
                plan.supersessions.append(
                    Supersession(
                        new_id=fact.id,
                        old_id=old.id,
                        at=fact.valid_from,
                        reason=f"newer statement for {fact.slot}",
                    )
                )
            active[fact.slot] = fact
    return plan
