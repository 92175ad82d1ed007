"""The Personality Evolving Mechanism's maths, checked against values computed independently:

w(t) = floor + (ceiling - floor) * (cos(pi * min(t, H) / H) + 1) / 2
P <- (1 - w) * P + w * p        (None: no signal, the trait is unchanged)
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.personality import PemSchedule, ema_update
from agent.prompts._common import render_profile
from schema.nodes import TRAITS


def expected_weight(t: int, floor: float, ceiling: float, horizon: int) -> float:
    x = min(t, horizon) / horizon
    return floor + (ceiling - floor) * (math.cos(math.pi * x) + 1.0) / 2.0


# (floor, ceiling, horizon, t, hand-computed weight)
WEIGHTS = [
    (0.1, 0.5, 50, 0, 0.5),
    (0.1, 0.5, 50, 25, 0.3),  # cos(pi/2) = 0: half way
    (0.1, 0.5, 50, 50, 0.1),
    (0.1, 0.5, 50, 51, 0.1),
    (0.1, 0.5, 50, 10_000, 0.1),
    (0.1, 0.5, 50, 1, 0.1 + 0.4 * (math.cos(math.pi / 50) + 1) / 2),
    (0.1, 0.5, 50, 10, 0.1 + 0.4 * (math.cos(math.pi / 5) + 1) / 2),
    (0.1, 0.5, 50, 40, 0.1 + 0.4 * (math.cos(4 * math.pi / 5) + 1) / 2),
    (0.2, 0.8, 4, 1, 0.2 + 0.6 * (math.cos(math.pi / 4) + 1) / 2),  # 0.7121320343559642
    (0.2, 0.8, 4, 2, 0.5),
    (0.2, 0.8, 4, 3, 0.2 + 0.6 * (math.cos(3 * math.pi / 4) + 1) / 2),  # 0.2878679656440357
    (0.3, 0.3, 7, 3, 0.3),  # floor == ceiling: constant
    (0.0, 1.0, 1, 0, 1.0),
    (0.0, 1.0, 1, 1, 0.0),
]


@pytest.mark.parametrize(("floor", "ceiling", "horizon", "t", "w"), WEIGHTS)
def test_weight_table(floor: float, ceiling: float, horizon: int, t: int, w: float) -> None:
    schedule = PemSchedule(floor=floor, ceiling=ceiling, horizon=horizon)
    assert schedule.weight(t) == pytest.approx(w, abs=1e-9)
    assert schedule.weight(t) == pytest.approx(
        expected_weight(t, floor, ceiling, horizon), abs=1e-9
    )


def test_hand_computed_constants() -> None:
    # written out, so the table above cannot share a mistake with expected_weight
    s = PemSchedule(floor=0.2, ceiling=0.8, horizon=4)
    assert s.weight(1) == pytest.approx(0.7121320343559642, abs=1e-9)
    assert s.weight(3) == pytest.approx(0.2878679656440357, abs=1e-9)
    assert PemSchedule().weight(10) == pytest.approx(0.4618033988749895, abs=1e-9)


# (profile, observed, t, expected profile, expected weight) with the default schedule
UPDATES = [
    ([3.0] * 5, [5, None, 3, 1, None], 0, [4.0, 3.0, 3.0, 2.0, 3.0], 0.5),
    ([4.0, 2.0, 3.0, 5.0, 1.0], [1, 5, 3, None, 5], 25, [3.1, 2.9, 3.0, 5.0, 2.2], 0.3),
    ([4.0, 2.0, 3.0, 5.0, 1.0], [1, 5, 2, None, 5], 50, [3.7, 2.3, 2.9, 5.0, 1.4], 0.1),
    ([4.5, 4.5, 4.5, 4.5, 4.5], [3, 3, 3, 3, 3], 100, [4.35] * 5, 0.1),
    ([1.0] * 5, [None] * 5, 3, [1.0] * 5, None),
]


@pytest.mark.parametrize(("profile", "observed", "t", "new", "w"), UPDATES)
def test_ema_table(
    profile: list[float], observed: list[int | None], t: int, new: list[float], w: float | None
) -> None:
    values, weight = ema_update(profile, observed, t, PemSchedule())
    assert values == pytest.approx(new, abs=1e-9)
    expected_w = w if w is not None else expected_weight(t, 0.1, 0.5, 50)
    assert weight == pytest.approx(expected_w, abs=1e-9)
    for p, o, v in zip(profile, observed, values, strict=True):
        if o is None:
            assert v == p
        else:
            assert v == pytest.approx((1 - weight) * p + weight * o, abs=1e-9)


def test_a_sequence_of_updates_matches_a_hand_rolled_ema() -> None:
    schedule = PemSchedule(floor=0.1, ceiling=0.5, horizon=5)
    observations = [5, 5, 1, None, 3, 4, 2, 5]
    p = 3.0
    profile = [3.0] * 5
    for t, o in enumerate(observations):
        w = 0.1 + 0.4 * (math.cos(math.pi * min(t, 5) / 5) + 1) / 2
        if o is not None:
            p = (1 - w) * p + w * o
        profile, used = ema_update(profile, [o, None, None, None, None], t, schedule)
        assert used == pytest.approx(w, abs=1e-12)
        assert profile[0] == pytest.approx(p, abs=1e-9)
        assert profile[1:] == [3.0] * 4


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError):
        PemSchedule(floor=0.6, ceiling=0.5)
    with pytest.raises(ValueError):
        PemSchedule(horizon=0)
    with pytest.raises(ValueError):
        PemSchedule().weight(-1)
    with pytest.raises(ValueError):
        ema_update([3.0] * 4, [None] * 4, 0, PemSchedule())


def test_render_profile_is_honest_when_empty() -> None:
    assert "no evidence yet" in render_profile([])


# ------------------------------------------------------------------------------ properties
schedules = st.builds(
    lambda a, b, h: PemSchedule(floor=min(a, b), ceiling=max(a, b), horizon=h),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.integers(1, 200),
)
trait_values = st.floats(1.0, 5.0)
observations = st.one_of(st.none(), st.integers(1, 5))


@settings(max_examples=200, deadline=None)
@given(schedules, st.integers(0, 500), st.integers(0, 500))
def test_weight_is_monotone_non_increasing(schedule: PemSchedule, a: int, b: int) -> None:
    t1, t2 = min(a, b), max(a, b)
    assert schedule.weight(t1) >= schedule.weight(t2) - 1e-12


@settings(max_examples=200, deadline=None)
@given(schedules, st.integers(0, 1000))
def test_weight_stays_within_floor_and_ceiling(schedule: PemSchedule, t: int) -> None:
    w = schedule.weight(t)
    assert schedule.floor - 1e-12 <= w <= schedule.ceiling + 1e-12
    if t >= schedule.horizon:
        assert w == pytest.approx(schedule.floor, abs=1e-12)
    if t == 0:
        assert w == pytest.approx(schedule.ceiling, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(
    schedules,
    st.lists(trait_values, min_size=5, max_size=5),
    st.lists(observations, min_size=5, max_size=5),
    st.integers(0, 300),
)
def test_update_stays_in_range_and_none_is_no_signal(
    schedule: PemSchedule, profile: list[float], observed: list[int | None], t: int
) -> None:
    new, _w = ema_update(profile, observed, t, schedule)
    assert len(new) == len(TRAITS)
    for p, o, v in zip(profile, observed, new, strict=True):
        assert 1.0 - 1e-9 <= v <= 5.0 + 1e-9
        if o is None:
            assert v == p  # unchanged, exactly
        else:
            # between the old value and the observation
            assert min(p, o) - 1e-9 <= v <= max(p, o) + 1e-9


@settings(max_examples=300, deadline=None)
@given(schedules, trait_values, st.integers(0, 300))
def test_an_observed_three_moves_toward_three(schedule: PemSchedule, p: float, t: int) -> None:
    new, w = ema_update([p] * 5, [3, None, None, None, None], t, schedule)
    assert abs(new[0] - 3.0) <= abs(p - 3.0) + 1e-12
    assert new[0] == pytest.approx(p + w * (3.0 - p), abs=1e-9)
    if w > 1e-6 and abs(p - 3.0) > 1e-6:
        assert abs(new[0] - 3.0) < abs(p - 3.0)  # really moved: 3 is not 'no signal'
    assert new[1:] == [p] * 4
