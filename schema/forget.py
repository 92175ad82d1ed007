"""Forgetting: what to forget (a scope), what that removes (a plan, previewed before it acts)
and what it did (a report). Pure data."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schema.retrieval import TimeWindow

__all__ = ["ForgetItem", "ForgetPlan", "ForgetScope"]


class ForgetScope(BaseModel):
    """Exactly one of: one memory, one session, a time range, or the whole user."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    user_id: str = Field(min_length=1)
    memory_id: str | None = None
    session_id: str | None = None
    window: TimeWindow | None = None
    everything: bool = False

    @model_validator(mode="after")
    def _one(self) -> ForgetScope:
        chosen = [
            self.memory_id is not None,
            self.session_id is not None,
            self.window is not None and not self.window.is_open,
            self.everything,
        ]
        if sum(chosen) != 1:
            raise ValueError(
                "say what to forget: exactly one of a memory, a session, a time range (with "
                "at least one bound) or the whole user"
            )
        return self

    def describe(self) -> str:
        if self.everything:
            return f"everything of {self.user_id}"
        if self.memory_id:
            return f"memory {self.memory_id} of {self.user_id}"
        if self.session_id:
            return f"session {self.session_id} of {self.user_id}"
        assert self.window is not None
        return f"{self.window.describe_zoned()} of {self.user_id}"


class ForgetItem(BaseModel):
    id: str
    label: str
    text: str = ""
    t: datetime | None = None
    why: str = Field(default="", description="in scope, or derived from what is")


class ForgetBridge(BaseModel):
    """A version whose successor is forgotten while a later version stays: the later one
    replaces it directly, at the time it replaced the forgotten one (the chain Hamburg ->
    Munich -> Vienna, Munich forgotten, becomes Hamburg -> Vienna)."""

    old: ForgetItem
    new_id: str
    new_text: str = ""
    at: datetime


class ForgetPlan(BaseModel):
    """Everything a forget would remove, and the memories it would make current again."""

    scope: ForgetScope
    remove: list[ForgetItem] = Field(default_factory=list)
    reactivate: list[ForgetItem] = Field(
        default_factory=list, description="superseded by a removed memory: current again"
    )
    bridges: list[ForgetBridge] = Field(
        default_factory=list,
        description="superseded by a removed memory that a kept one superseded in turn: the "
        "kept one replaces it now",
    )
    images: list[str] = Field(default_factory=list, description="image files no one else uses")
    sessions: list[str] | None = Field(
        default_factory=list,
        description="sessions whose conversation threads (checkpoints) go too; None: all",
    )

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.remove:
            out[item.label] = out.get(item.label, 0) + 1
        return dict(sorted(out.items()))

    @property
    def empty(self) -> bool:
        return not self.remove
