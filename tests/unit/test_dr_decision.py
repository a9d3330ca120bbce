"""The promoter's decision rule alone (gameday.lab.dr.decision): observations in, decisions
out, no lab and no clock. The lab test (tests/lab/test_dr_lab.py) drives the real promoter
through a real blip and a real region loss."""

from __future__ import annotations

import pytest

from gameday.lab.dr.decision import Act, DecisionClock, Seen

UP, DOWN = Seen.ANSWERED, Seen.SILENT


def run(clock: DecisionClock, seen: list[tuple[float, Seen]]) -> list[tuple[float, Act]]:
    """Every poll's decision other than WATCH, with its time."""
    return [(t, d.act) for t, s in seen for d in [clock.observe(t, s)] if d.act is not Act.WATCH]


def polls(start: float, end: float, seen: Seen) -> list[tuple[float, Seen]]:
    """One poll a second from start up to (not including) end."""
    return [(float(t), seen) for t in range(int(start), int(end))]


def test_a_healthy_primary_is_only_watched():
    assert run(DecisionClock(300), polls(0, 1000, UP)) == []


def test_a_primary_down_for_the_whole_wait_is_promoted_at_the_wait_and_not_before():
    clock = DecisionClock(300)
    acts = run(clock, polls(0, 10, UP) + polls(10, 400, DOWN))
    assert acts == [(10.0, Act.DOWN), (310.0, Act.PROMOTE)]
    assert clock.promoted


def test_the_promotion_happens_once():
    clock = DecisionClock(5)
    acts = run(clock, polls(0, 50, DOWN) + polls(50, 60, UP) + polls(60, 100, DOWN))
    assert [a for _, a in acts] == [Act.DOWN, Act.PROMOTE]


def test_a_blip_shorter_than_the_wait_is_not_promoted():
    """The primary is silent 299 s, answers once, then is healthy: no promotion."""
    clock = DecisionClock(300)
    acts = run(clock, polls(0, 299, DOWN) + polls(299, 1000, UP))
    assert acts == [(0.0, Act.DOWN), (299.0, Act.BACK)]
    assert not clock.promoted


def test_one_answer_starts_the_wait_again():
    """Two outages of 200 s with one answer between them are not one outage of 401 s:
    the second is promoted 300 s after it began, not 300 s after the first began."""
    clock = DecisionClock(300)
    seen = polls(0, 200, DOWN) + [(200.0, UP)] + polls(201, 600, DOWN)
    assert run(clock, seen) == [(0.0, Act.DOWN), (200.0, Act.BACK), (201.0, Act.DOWN), (501.0, Act.PROMOTE)]


def test_back_says_how_long_the_primary_was_down():
    clock = DecisionClock(300)
    clock.observe(10.0, DOWN)
    clock.observe(40.0, DOWN)
    back = clock.observe(52.5, UP)
    assert back.act is Act.BACK and back.down_for_s == pytest.approx(42.5)


def test_irregular_polls_promote_at_the_first_poll_past_the_wait():
    """Polls that take longer (health checks timing out) never promote early."""
    clock = DecisionClock(20)
    acts = run(clock, [(0.0, DOWN), (7.3, DOWN), (14.6, DOWN), (19.99, DOWN), (21.9, DOWN)])
    assert acts == [(0.0, Act.DOWN), (21.9, Act.PROMOTE)]


def test_a_zero_wait_records_the_detection_before_promoting():
    clock = DecisionClock(0)
    assert run(clock, [(0.0, DOWN), (1.0, DOWN)]) == [(0.0, Act.DOWN), (1.0, Act.PROMOTE)]


def test_time_going_backwards_is_refused():
    clock = DecisionClock(300)
    clock.observe(10.0, DOWN)
    with pytest.raises(ValueError, match="forward"):
        clock.observe(9.0, DOWN)


def test_a_negative_wait_is_refused():
    with pytest.raises(ValueError, match="at least 0"):
        DecisionClock(-1)
