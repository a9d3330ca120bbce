"""Checkers on recorded (hand-built) histories: both directions, and no data means unknown."""

from __future__ import annotations

import pytest

from gameday.checkers import checker, registered, run_checkers
from gameday.checkers.verdicts import Verdict
from gameday.history import History
from tests.unit.histories import failover

SLOS = [
    "redis.promotion_time",
    "redis.client_write_recovery",
    "api.p95_latency",
    "api.p95_latency_during_fault",
    "api.error_rate",
    "cache.hit_ratio",
]


def by_slo(history: History) -> dict:
    return {o.slo: o for o in run_checkers(history, SLOS)}


def test_healthy_failover_passes_every_slo():
    out = by_slo(failover())
    assert {o.verdict for o in out.values()} == {Verdict.PASS}, out
    assert out["redis.promotion_time"].measured == pytest.approx(6.2, abs=0.25)
    assert out["redis.client_write_recovery"].measured == pytest.approx(6.5, abs=0.25)
    assert out["cache.hit_ratio"].measured == pytest.approx(85.0, abs=0.1)


def test_slow_sentinel_fails_promotion_and_says_by_how_much():
    out = by_slo(failover(promotion_s=31.2, write_gap_s=31.5, revert_after_s=45))
    promo = out["redis.promotion_time"]
    assert promo.verdict is Verdict.FAIL
    assert promo.measured == pytest.approx(31.2, abs=0.25)
    assert "Misses the plan by 21" in promo.detail
    assert out["redis.client_write_recovery"].verdict is Verdict.FAIL


def test_promotion_never_seen_is_a_fail_with_a_lower_bound():
    out = by_slo(failover(promotion_s=500, write_gap_s=500, revert_after_s=40))
    assert out["redis.promotion_time"].verdict is Verdict.FAIL
    assert out["redis.promotion_time"].measured >= 40


def test_latency_and_errors_inside_the_fault_window_fail_when_high():
    out = by_slo(failover(fault_p95_ms=80.0, failures_in_fault=3))
    assert out["api.p95_latency_during_fault"].verdict is Verdict.FAIL
    assert out["api.p95_latency_during_fault"].measured == pytest.approx(80.0, rel=0.01)
    assert out["api.p95_latency"].verdict is Verdict.PASS  # outside the window it stayed fast
    assert out["api.error_rate"].verdict is Verdict.FAIL
    assert out["api.error_rate"].measured == pytest.approx(1.0)


def test_empty_history_gives_unknown_never_pass():
    out = by_slo(History(()))
    assert {o.verdict for o in out.values()} == {Verdict.UNKNOWN}
    assert all(o.measured is None for o in out.values())


def test_history_without_fault_gives_unknown_for_fault_slos():
    h = failover()
    no_fault = History(tuple(r for r in h.records if r.kind != "fault"))
    out = by_slo(no_fault)
    for slo in ("redis.promotion_time", "redis.client_write_recovery", "api.p95_latency_during_fault"):
        assert out[slo].verdict is Verdict.UNKNOWN
    # errors count "during a fault as at any other time": without a fault, over the whole run
    assert out["api.error_rate"].verdict is Verdict.PASS and "no fault in this run" in out["api.error_rate"].detail


def test_crashing_checker_gives_unknown(monkeypatch):
    def boom(history, slo):
        raise ZeroDivisionError("bad data")

    monkeypatch.setitem(registered.__globals__["_REGISTRY"], "redis.promotion_time", boom)
    [outcome] = run_checkers(failover(), ["redis.promotion_time"])
    assert outcome.verdict is Verdict.UNKNOWN
    assert "Checker crashed: ZeroDivisionError" in outcome.detail


def test_slo_without_checker_is_unknown():
    [outcome] = run_checkers(failover(), ["dr.rto"])
    assert outcome.verdict is Verdict.UNKNOWN


def test_rechecking_a_saved_history_gives_the_same_verdicts(tmp_path):
    h = failover()
    h.write(tmp_path / "history.jsonl")
    again = History.read(tmp_path / "history.jsonl")
    assert run_checkers(again, SLOS) == run_checkers(h, SLOS)


def test_checker_decorator_registers():
    @checker("test.only")
    def fn(history, slo):  # pragma: no cover - registration only
        return None

    assert registered()["test.only"] is fn
    registered.__globals__["_REGISTRY"].pop("test.only")


def _with_load(history: History, **changes) -> History:
    """The same history with every load second changed, plus the generator's stop marker."""
    import json
    from dataclasses import replace

    from gameday.history import LoadSecond, Marker

    cpu = changes.pop("cpu", 0.3)
    records = [replace(r, **changes) if isinstance(r, LoadSecond) else r for r in history.records]
    info = {"requested_rate": 300, "shape": "steady", "shape_params": {}, "processes": 1, "started_at": 0, "stopped_at": 1, "generator_cpu": [cpu]}
    return History.of_records(records + [Marker(t=history.records[-1].t, name="load.stopped", detail=json.dumps(info))])


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"dropped": 5}, "could not be issued"),
        ({"lag_ms": 60.0}, "stalled"),
        ({"cpu": 0.97}, "CPU-saturated"),
    ],
)
def test_generator_trouble_makes_latency_unknown_never_pass(changes, reason):
    out = by_slo(_with_load(failover(), **changes))
    for slo in ("api.p95_latency", "api.p95_latency_during_fault"):
        assert out[slo].verdict is Verdict.UNKNOWN
        assert reason in out[slo].detail
    assert out["redis.promotion_time"].verdict is Verdict.PASS  # not load-dependent


def test_healthy_generator_keeps_latency_verdicts():
    out = by_slo(_with_load(failover(), offered=300, lag_ms=1.0))
    assert out["api.p95_latency"].verdict is Verdict.PASS


def test_load_summary_flags_a_generator_that_could_not_hold_the_rate():
    from gameday.load.run import summarize

    held = summarize(_with_load(failover(), offered=300, lag_ms=1.0))
    assert held is not None and not held.generator_saturated
    assert held.achieved_rate > 0 and held.p95_ms == pytest.approx(25.0, rel=0.01)
    short = summarize(_with_load(failover(), offered=200, lag_ms=1.0))
    assert short is not None and short.generator_saturated
