"""Capacity search logic on recorded load seconds (no lab): steps, settling, the verdict per step."""

from __future__ import annotations

from gameday.history import History, LoadSecond
from gameday.load.capacity import SETTLE_S, capacity_of, judge_step, split_steps
from gameday.load.shapes import StepUp
from tests.unit.histories import _hist


def _seconds(shape: StepUp, p95_at: dict[float, float], failures_at: dict[float, int] | None = None) -> list[LoadSecond]:
    out = []
    for t in range(int(len(shape.steps) * shape.step_s)):
        rate = shape.tick(t)
        lat = p95_at.get(rate, 5.0)
        out.append(LoadSecond(t=1000.0 + t, worker="w", requests=int(rate), failures=(failures_at or {}).get(rate, 0), hist=_hist([lat] * int(rate)), offered=int(rate)))
    return out


def test_steps_are_split_without_their_settling_seconds():
    shape = StepUp(100, 100, 20, 300)
    groups = split_steps(shape, _seconds(shape, {}))
    assert [len(g) for g in groups] == [20 - SETTLE_S] * 3


def test_capacity_is_the_last_good_step_before_the_first_bad_one():
    shape = StepUp(100, 100, 20, 400)
    seconds = _seconds(shape, {300: 80.0})
    history = History.of_records(seconds)
    results = [judge_step(rate, group, history) for rate, group in zip(shape.steps, split_steps(shape, seconds))]
    assert [r.ok for r in results] == [True, True, False, True]
    assert "p95" in results[2].why
    assert capacity_of(results) == 200


def test_errors_over_budget_fail_a_step():
    shape = StepUp(100, 100, 20, 200)
    seconds = _seconds(shape, {}, {200: 5})
    history = History.of_records(seconds)
    results = [judge_step(rate, group, history) for rate, group in zip(shape.steps, split_steps(shape, seconds))]
    assert [r.ok for r in results] == [True, False]
    assert "errors" in results[1].why


def test_a_step_the_platform_could_not_absorb_fails():
    shape = StepUp(100, 100, 20, 100)
    seconds = [LoadSecond(t=s.t, worker="w", requests=50, failures=0, hist=s.hist, offered=100) for s in _seconds(shape, {})]
    [result] = [judge_step(100, g, History.of_records(seconds)) for g in split_steps(shape, seconds)]
    assert not result.ok and "achieved only" in result.why


def test_no_good_step_means_no_capacity():
    assert capacity_of([]) is None
