"""Load shapes, without a lab: the curves, and that integrating them issues the asked-for requests."""

from __future__ import annotations

import pytest

from gameday.load.shapes import Steady, StepUp, Surge, arrivals_due, make_shape


def test_steady_holds_then_ends():
    s = Steady(300, duration_s=10)
    assert s.tick(0) == s.tick(9.9) == 300
    assert s.tick(10) is None


def test_steady_with_a_ramp_rises_from_5_percent_then_holds():
    s = Steady(200, ramp_s=10)
    assert s.tick(0) == 10 and s.tick(5) == 100 and s.tick(10) == s.tick(60) == 200
    assert make_shape("steady", 200, ramp_s=10) == s
    with pytest.raises(ValueError, match="ramp_s"):
        make_shape("steady", 200, ramp_s=-1)


def test_surge_is_ten_times_baseline_at_peak_and_ramps_both_ways():
    s = Surge(300, lead_s=10, ramp_s=10, hold_s=30)
    assert s.tick(5) == 300
    assert s.tick(15) == pytest.approx(1650)
    assert s.tick(20) == s.tick(49) == 3000
    assert s.tick(55) == pytest.approx(1650)
    assert s.tick(70) == 300


def test_step_up_steps_and_stops():
    s = StepUp(500, step=500, step_s=20, max_rate=1500)
    assert s.steps == [500, 1000, 1500]
    assert [s.tick(t) for t in (0, 19.9, 20, 45)] == [500, 500, 1000, 1500]
    assert s.tick(60) is None


def test_integrating_a_shape_issues_exactly_the_rate():
    s = Steady(3000)
    total, carry, t = 0, 0.0, 0.0
    while t < 10:
        n, carry = arrivals_due(s, t, t + 0.005, carry)
        total += n
        t += 0.005
    assert abs(total - 30000) <= 1


def test_make_shape_rejects_nonsense():
    with pytest.raises(ValueError):
        make_shape("steady", 0)
    with pytest.raises(ValueError):
        make_shape("zigzag", 100)
