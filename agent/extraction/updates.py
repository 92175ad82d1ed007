"""Fact updates: duplicates are dropped, a newer fact on the same slot supersedes the older.

Shared by every extractor (model-free or LLM): extraction proposes facts; this decides what
is written. The old fact is never deleted: it gets ``valid_to`` and SUPERSEDES points at it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from schema.nodes import Fact
from schema.protocols import Supersession

__all__ = ["FactPlan", "insert_into_history", "normalise", "plan_fact_updates"]


def normalise(statement: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", statement.lower()).strip()


@dataclass
class FactPlan:
    write: list[Fact] = field(default_factory=list)
    supersessions: list[Supersession] = field(default_factory=list)
    duplicates: list[Fact] = field(default_factory=list)


class Versioned(Protocol):
    """A version in a history (a fact on its slot, a profile entry on its key)."""

    @property
    def id(self) -> str: ...
    @property
    def valid_from(self) -> datetime: ...


def insert_into_history(
    item: Versioned, versions: Sequence[Versioned], reason: str
) -> list[Supersession]:
    """The supersessions that put ``item`` between the stored versions said before and after
    it (facts of one slot, entries of one profile key): the next replaces it; it replaces the
    previous one, taking the place of the next one's edge (``instead_of``).

    >>> from datetime import datetime, UTC
    >>> def f(i, year): return Fact(id=i, user_id="u", t=datetime(year, 6, 1, tzinfo=UTC),
    ...     valid_from=datetime(year, 6, 1, tzinfo=UTC), text=i, slot="u:lives_in")
    >>> late = insert_into_history(f("munich", 2023), [f("hamburg", 2022), f("vienna", 2024)], "")
    >>> [(s.new_id, s.old_id, s.at.year, s.instead_of) for s in late]
    [('vienna', 'munich', 2024, None), ('munich', 'hamburg', 2023, 'vienna')]
    """
    ordered = sorted(
        {v.id: v for v in versions if v.id != item.id}.values(), key=lambda v: v.valid_from
    )
    after = next((v for v in ordered if v.valid_from > item.valid_from), None)
    before = [v for v in ordered if v.valid_from <= item.valid_from]
    out: list[Supersession] = []
    if after is not None:
        out.append(
            Supersession(new_id=after.id, old_id=item.id, at=after.valid_from, reason=reason)
        )
    if before:
        out.append(
            Supersession(
                new_id=item.id,
                old_id=before[-1].id,
                at=item.valid_from,
                reason=reason,
                instead_of=after.id if after is not None else None,
            )
        )
    return out


def plan_fact_updates(
    new: Sequence[Fact],
    existing_active: Sequence[Fact],
    known_ids: set[str] | None = None,
    history: Callable[[str], Sequence[Fact]] | None = None,
) -> FactPlan:
    """Process ``new`` facts in time order against the user's active facts.

    - same normalised statement as an active fact (same slot or no slot): a duplicate;
    - same slot as an active fact, different statement, later in time: supersedes it;
    - same slot, EARLIER than the active fact (an older file ingested late, a forgotten turn
      ingested again): it takes its place in the slot's history (``history(slot)``: every
      stored version): the version after it replaces it, and it replaces the version before
      it, which now closes when it was said (see :func:`insert_into_history`);
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
                # an older statement arriving late: into the history, between its neighbours
                versions = [*(history(fact.slot) if history else ()), old]
                reason = f"newer statement for {fact.slot}"
                plan.supersessions += insert_into_history(fact, versions, reason)
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
