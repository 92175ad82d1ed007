"""Training and evaluation records: questions with gold answers and evidence, the rendered
trajectories SFT learns from, and the prompts GRPO rolls out. Pure data, written as JSONL."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["QUESTION_KINDS", "GoldQuestion", "QuestionKind", "TrajectoryRecord"]

QuestionKind = Literal[
    "when",  # when did X happen (relative dates resolved against the day it was said)
    "now",  # what holds now, after a change (the latest of a superseded series)
    "then",  # what held before a change
    "how_long",  # how long ago something happened
    "habit",  # which habit, how often
    "preference",  # which preference (that may have changed)
    "goal",  # which goal
    "person",  # about someone the user mentions
    "multi_hop",  # needs two memories
    "single_hop",  # one detail of one memory
    "unanswerable",  # never mentioned: the answer says so
]
QUESTION_KINDS: tuple[str, ...] = QuestionKind.__args__  # type: ignore[attr-defined]


class GoldQuestion(BaseModel):
    """A question about one user's memory with what a correct answer needs."""

    model_config = ConfigDict(extra="forbid")
    id: str
    user_id: str = Field(description="the memory graph's user (a persona or a conversation)")
    persona: str = Field(description="persona / conversation id; splits are made by persona")
    question: str
    asked_at: AwareDatetime
    answer: str = Field(description="gold answer; 'not mentioned' when unanswerable")
    evidence: list[str] = Field(
        default_factory=list, description="source ids of the turns that hold the answer"
    )
    evidence_at: list[AwareDatetime] = Field(
        default_factory=list, description="when each evidence turn was said (window rewards)"
    )
    kind: QuestionKind
    about: Literal["user", "person"] = "user"
    window_start: AwareDatetime | None = Field(
        default=None, description="the window the question names, if any ([start, end))"
    )
    window_end: AwareDatetime | None = None
    locomo_category: int | None = Field(
        default=None, description="LoCoMo category (1-5) for LoCoMo questions"
    )
    user_name: str | None = Field(default=None, description="who the assistant talks to")
    hint: dict[str, Any] = Field(
        default_factory=dict, description="generator's notes for the teacher (topic, keywords)"
    )

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


class TrajectoryRecord(BaseModel):
    """One rendered reasoning chain: the messages the agent showed the policy and the
    teacher's replies, exactly as at run time (SFT trains on the assistant turns)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    question_id: str
    persona: str
    split: Literal["train", "heldout"]
    kind: QuestionKind
    messages: list[dict[str, str]] = Field(description="role/content chat messages")
    prompt_versions: list[str] = Field(description="prompt modules the messages came from")
    retrieves: int = 0
    found_evidence: bool = Field(
        default=True, description="did the trajectory's own retrievals return the gold evidence"
    )
