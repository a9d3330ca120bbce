"""Capacity search logic on recorded load seconds (no lab): steps, settling, the verdict per step."""

from __future__ import annotations

from gameday.history import History, LoadSecond
from gameday.load.capacity import SETTLE_S, StepResult, capacity_of, judge_step, read_steps, split_steps
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


def _results(shape: StepUp, p95_at: dict[float, float]):
    seconds = _seconds(shape, p95_at)
    history = History.of_records(seconds)
    return [judge_step(rate, group, history) for rate, group in zip(shape.steps, split_steps(shape, seconds))]


def test_capacity_ends_at_two_misses_in_a_row_below_them_the_last_held_step():
    results = _results(StepUp(100, 100, 20, 500), {300: 80.0, 400: 90.0})
    assert [r.ok for r in results] == [True, True, False, False, True]
    assert "p95" in results[2].why
    reading = read_steps(results)
    assert (reading.capacity_rps, reading.ended_by.rate, reading.transients) == (200, 300, ())
    assert capacity_of(results) == 200


def test_a_lone_miss_with_a_held_step_above_is_a_transient_reported_not_the_end():
    results = _results(StepUp(100, 100, 20, 600), {200: 80.0, 500: 80.0, 600: 80.0})
    assert [r.ok for r in results] == [True, False, True, True, False, False]
    reading = read_steps(results)
    assert (reading.capacity_rps, reading.ended_by.rate, reading.transients) == (400, 500, (200,))


def test_a_miss_in_the_last_step_run_ends_the_search_and_all_held_is_a_lower_bound():
    assert read_steps(_results(StepUp(100, 100, 20, 300), {300: 80.0})).capacity_rps == 200
    held = read_steps(_results(StepUp(100, 100, 20, 300), {}))
    assert (held.capacity_rps, held.ended_by) == (300, None)
    first = read_steps(_results(StepUp(100, 100, 20, 300), {100: 80.0, 200: 80.0}))
    assert (first.capacity_rps, first.ended_by.rate) == (None, 100)


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


def _step(rate: float, ok: bool, generator: str = "") -> StepResult:
    return StepResult(rate, rate, 5.0, 50.0 if not ok else 10.0, 60.0, 0.0, generator, ok, "" if ok else "p95 over" + (f"; {generator}" if generator else ""))


def test_a_generator_stall_in_the_ending_step_leaves_the_end_to_the_generator_unless_the_platform_missed_after_it():
    stalled = "the load generator's event loop stalled 2.1% of the time (limit 2%)"
    alone = read_steps([_step(100, True), _step(120, False, stalled), _step(140, False, stalled)])
    assert (alone.capacity_rps, alone.generator_limited) == (100, True)
    last = read_steps([_step(100, True), _step(120, False, stalled)])
    assert last.generator_limited
    confirmed = read_steps([_step(100, True), _step(120, False, stalled), _step(140, False)])
    assert (confirmed.capacity_rps, confirmed.ended_by.rate, confirmed.generator_limited) == (100, 120, False)


def test_throttled_shares_are_per_az_between_two_readings_and_skip_uncapped_azs():
    from probes.capacity import throttled_shares

    before = {"az-a": (1000, 100), "az-b": (1000, 0), "az-c": None}
    after = {"az-a": (1100, 150), "az-b": (1000, 0), "az-c": None}
    assert throttled_shares(before, after, ("az-a", "az-b", "az-c")) == {"az-a": 0.5, "az-b": 0.0}


def test_a_search_waits_while_an_az_is_throttled_then_starts_fake_target():
    from probes.capacity import wait_for_quiet_azs

    readings = iter([(0, 0), (100, 60), (100, 60), (200, 61)])  # a busy window, then a quiet one

    class Fake:
        def az_cpu_throttling(self):
            return {"az-a": next(readings)}

    said: list[str] = []
    waited, worst = wait_for_quiet_azs(Fake(), ("az-a",), said.append, window_s=0.2)
    assert worst == 1.0 and waited >= 0.15 and len(said) == 1 and "az-a 60 %" in said[0]
