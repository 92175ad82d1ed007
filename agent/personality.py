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

from schema.nodes import TRAITS, PersonalitySnapshot

__all__ = ["NEUTRAL", "PemSchedule", "current", "describe", "ema_update"]

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
