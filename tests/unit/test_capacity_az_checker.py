"""capacity.single_az_failure judged from fake histories (the checker's own logic; the lab
drill is tests/lab/test_az_capacity_lab.py)."""

from __future__ import annotations

from gameday.checkers import run_checkers
from gameday.history import CapacityMeasured, History


def _m(label: str, rps: float, stopped_by: str = "p95 52 ms <= 40 ms not met", cores: float = 0.5, generator: bool = False) -> CapacityMeasured:
    up = ("az-a", "az-b", "az-c") if label == "all-azs" else ("az-b", "az-c")
    return CapacityMeasured(t=1.0, label=label, capacity_rps=rps, first_rate=100, step=100, steps_run=8, stopped_by=stopped_by,
                            generator_limited=generator, az_cpu_cores=cores, azs_up=up)  # fmt: skip


def _judge(*records):
    [out] = run_checkers(History.of_records(list(records)), ["capacity.single_az_failure"])
    return out


def test_the_ratio_of_the_two_searches_is_judged_against_70_percent():
    held = _judge(_m("all-azs", 600), _m("one-az-down", 500))
    assert (held.verdict.value, round(held.measured)) == ("pass", 83) and "capped at 0.5 cores" in held.detail
    missed = _judge(_m("all-azs", 600), _m("one-az-down", 400))
    assert (missed.verdict.value, round(missed.measured)) == ("fail", 67) and "az-b, az-c up" in missed.detail


def test_no_cap_a_generator_limit_or_a_missing_search_is_unknown():
    assert "no CPU cap" in _judge(_m("all-azs", 600, cores=0), _m("one-az-down", 600, cores=0)).detail
    assert _judge(_m("all-azs", 600, cores=0), _m("one-az-down", 600, cores=0)).verdict.value == "unknown"
    assert _judge(_m("all-azs", 600), _m("one-az-down", 300, generator=True)).verdict.value == "unknown"
    assert _judge(_m("all-azs", 600)).verdict.value == "unknown"


def test_a_search_that_never_missed_is_a_bound_judged_only_where_it_decides():
    # every AZ up never missed: its capacity is a lower bound, so the ratio is at most 400/600
    assert _judge(_m("all-azs", 600, stopped_by=""), _m("one-az-down", 400)).verdict.value == "fail"
    assert _judge(_m("all-azs", 600, stopped_by=""), _m("one-az-down", 500)).verdict.value == "unknown"
    # one AZ down never missed: the ratio is at least 500/600
    assert _judge(_m("all-azs", 600), _m("one-az-down", 500, stopped_by="")).verdict.value == "pass"
    assert _judge(_m("all-azs", 600), _m("one-az-down", 300, stopped_by="")).verdict.value == "unknown"


def test_below_the_first_step_with_an_az_down_fails_when_the_bound_decides():
    out = _judge(_m("all-azs", 600), _m("one-az-down", -1))  # below 100 of 600: under 17 %
    assert out.verdict.value == "fail" and "below 100 req/s" in out.detail
    assert _judge(_m("all-azs", 120), _m("one-az-down", -1)).verdict.value == "unknown"  # below 83 %: undecided


def test_more_held_with_an_az_lost_than_with_every_az_up_is_unknown_not_a_pass():
    """Measured at 0.4 cores per AZ: 100 req/s with every AZ up right after the lab started,
    220 with one lost (fake history with those figures)."""
    odd = _judge(_m("all-azs", 100), _m("one-az-down", 220))
    assert odd.verdict.value == "unknown" and "More held with an AZ lost" in odd.detail, odd
    within_a_step = _judge(_m("all-azs", 500), _m("one-az-down", 600))
    assert within_a_step.verdict.value == "pass"
