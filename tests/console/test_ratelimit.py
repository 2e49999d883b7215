"""Rate limits: a burst goes at once, then the average rate; every refused item is reported once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qtui.ratelimit import RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_one_line_reports_what_was_refused() -> None:
    clock = Clock()
    limit = RateLimit(per_second=2, burst=3, clock=clock)
    assert [limit.admit() for _ in range(5)] == [(True, 0)] * 3 + [(False, 0)] * 2
    assert limit.settle() == 0  # still flooding: nothing may go yet
    clock.now += 0.5
    assert limit.admit() == (True, 0)  # goes, but the flood is not a second old yet
    assert limit.admit() == (False, 0)
    clock.now += 0.5
    assert limit.admit() == (True, 3)
    clock.now += 10
    assert limit.settle() == 0 and limit.admit() == (True, 0)


def test_a_short_flood_is_summed_up_once_when_settled() -> None:
    clock = Clock()
    limit = RateLimit(per_second=50, burst=10, clock=clock)
    results = []
    for _ in range(500):  # 0.2 s at 2500 a second
        clock.now += 0.0004
        results.append(limit.admit())
    assert sum(missed for _, missed in results) == 0
    assert limit.settle() == 0  # the flood ended, but is not a second old
    clock.now += 1
    assert limit.settle() == 500 - sum(go for go, _ in results)
    assert limit.settle() == 0


def test_a_flood_that_lasts_is_summed_up_once_a_second() -> None:
    clock = Clock()
    limit = RateLimit(per_second=100, burst=1, clock=clock)
    reports, admitted = [], 0
    for _ in range(3000):  # 3 seconds at 1000 a second
        clock.now += 0.001
        go, missed = limit.admit()
        admitted += go
        if missed:
            reports.append(missed)
    assert 2 <= len(reports) <= 3 and 250 <= admitted <= 302
    assert sum(reports) + limit.refused == 3000 - admitted


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimit(per_second=0, burst=1, clock=Clock())
    with pytest.raises(ValueError):
        RateLimit(per_second=1, burst=0, clock=Clock())


steps = st.lists(st.tuples(st.floats(min_value=0, max_value=3), st.sampled_from(["admit", "settle"])),
                 max_size=200)


@given(rate=st.floats(min_value=0.1, max_value=50), burst=st.integers(min_value=1, max_value=20), steps=steps)
def test_never_more_than_burst_plus_rate_and_every_refusal_reported_once(rate, burst, steps) -> None:
    clock = Clock()
    floods: list[int] = []
    limit = RateLimit(per_second=rate, burst=burst, clock=clock, on_flood=lambda: floods.append(limit.refused))
    admitted = refused = reported = began = 0
    for pause, action in steps:
        clock.now += pause
        if action == "admit":
            pending = limit.refused
            go, missed = limit.admit()
            admitted += go
            refused += not go
            began += not go and not pending  # the one call that tells of a flood
            reported += missed
        else:
            reported += limit.settle()
        assert admitted <= burst + rate * clock.now + 1e-9
    assert reported + limit.refused == refused
    assert floods == [1] * began
