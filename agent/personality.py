"""Personality Evolving Mechanism (PEM): a long-term Big-Five profile updated by EMA.

For the t-th update (t = 0, 1, 2, ...; t counts earlier snapshots of the user) the weight of
the new observation follows a cosine schedule over the first ``horizon`` updates::

    w(t) = floor + (ceiling - floor) * (cos(pi * min(t, horizon) / horizon) + 1) / 2

from ``ceiling`` (0.5) at t = 0 down to ``floor`` (0.1) from t = horizon (50) on, and each
trait with a signal moves ``P <- (1 - w) * P + w * p_t``. Traits start at 3.0.

Unlike the reference implementation: an observed 3 is a real observation (the profile can
drift back to neutral); "no signal" (None) leaves that trait unchanged; values are kept as
floats (never truncated); the update happens on the turn that carries the evidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from schema.nodes import TRAITS, PersonalitySnapshot, make_id

__all__ = ["NEUTRAL", "PemSchedule", "current", "describe", "ema_update", "replay"]

NEUTRAL = 3.0


@dataclass(frozen=True)
class PemSchedule:
    floor: float = 0.1
    ceiling: float = 0.5
    horizon: int = 50

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor <= self.ceiling <= 1.0:
            raise ValueError("need 0 <= floor <= ceiling <= 1")
        if self.horizon < 1:
            raise ValueError("horizon must be >= 1")

    def weight(self, t: int) -> float:
        """Weight of the new observation at update ``t`` (0-based).

        >>> PemSchedule().weight(0), PemSchedule().weight(50), PemSchedule().weight(500)
        (0.5, 0.1, 0.1)
        """
        if t < 0:
            raise ValueError("t must be >= 0")
        x = min(t, self.horizon) / self.horizon
        return self.floor + (self.ceiling - self.floor) * (math.cos(math.pi * x) + 1.0) / 2.0


def ema_update(
    profile: Sequence[float], observed: Sequence[int | None], t: int, schedule: PemSchedule
) -> tuple[list[float], float]:
    """One PEM step. Returns the new profile and the weight used.

    >>> ema_update([3.0] * 5, [5, None, 3, 1, None], 0, PemSchedule())
    ([4.0, 3.0, 3.0, 2.0, 3.0], 0.5)
    """
    if len(profile) != len(TRAITS) or len(observed) != len(TRAITS):
        raise ValueError(f"need {len(TRAITS)} traits")
    w = schedule.weight(t)
    new = [
        p if o is None else (1.0 - w) * p + w * float(o)
        for p, o in zip(profile, observed, strict=True)
    ]
    return new, w


def replay(
    history: Sequence[PersonalitySnapshot], schedule: PemSchedule
) -> list[PersonalitySnapshot]:
    """The series PEM gives when only ``history``'s updates happened, in their order: what
    remains after forgetting some evidence. Each snapshot keeps its time, evidence turn and
    observation; its step, weight and traits are recomputed from the start (neutral), and its
    id follows its step as :func:`agent.update.personality_update` names them (so the next
    update takes the next free step).

    >>> from datetime import UTC, datetime
    >>> def snap(step, observed):
    ...     return PersonalitySnapshot(id=f"s{step}", user_id="u", t=datetime(2024, 1, step,
    ...         tzinfo=UTC), step=step, openness=5.0, conscientiousness=5.0, extraversion=5.0,
    ...         agreeableness=5.0, neuroticism=5.0, weight=0.1, observed=observed)
    >>> later = replay([snap(2, [5, None, None, None, None]), snap(3, [1, 1, None, None, None])],
    ...                PemSchedule())
    >>> [(s.step, round(s.openness, 3), round(s.conscientiousness, 3)) for s in later]
    [(1, 4.0, 3.0), (2, 2.501, 2.001)]
    >>> later[0].id == make_id("personality", "u", 1)
    True
    """
    out: list[PersonalitySnapshot] = []
    for t, old in enumerate(sorted(history, key=lambda s: (s.step, s.t))):
        values, w = ema_update(current(out), old.observed, t, schedule)
        out.append(
            old.model_copy(
                update={
                    "id": make_id("personality", old.user_id, t + 1),
                    "step": t + 1,
                    "weight": w,
                    **dict(zip(TRAITS, values, strict=True)),
                }
            )
        )
    return out


def current(history: Sequence[PersonalitySnapshot]) -> list[float]:
    if not history:
        return [NEUTRAL] * len(TRAITS)
    last = max(history, key=lambda s: s.step)
    return [float(getattr(last, t)) for t in TRAITS]


def describe(value: float) -> str:
    if value >= 4.0:
        return "high"
    if value >= 3.5:
        return "fairly high"
    if value > 2.5:
        return "moderate"
    if value > 2.0:
        return "fairly low"
    return "low"
