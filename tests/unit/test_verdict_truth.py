"""Each case where a checker used to pass on too little or the wrong evidence, fabricated
the way `gameday check` feeds a saved run, now gives `unknown` or `fail`; and the same
checker still passes on sound evidence. Fake histories only (no lab)."""

from __future__ import annotations

import pytest

from gameday.checkers.verdicts import Verdict
from gameday.history import (
    FaultEvent,
    FaultPhase,
    FlinkSample,
    Inventory,
    LoadSecond,
    Marker,
    RedisRoleSample,
    SentinelSample,
    WriteSample,
)
from tests.unit.histories import check_one, hist_of

T0 = 1_800_000_000.0
KILL = T0 + 30.0


def load(seconds: int, rate: int, failures_at=lambda t: 0, ms: float = 5.0, start: float = T0) -> list:
    """Per-second load records of one worker; `failures_at(offset)` failed requests."""
    return [LoadSecond(t=start + i, worker="w", requests=rate, failures=failures_at(i), hist=hist_of(ms, rate), offered=rate) for i in range(seconds)]


def kill(at: float = KILL, fault: str = "redis.kill_primary", component: str = "redis-a", phase=FaultPhase.INJECTED) -> FaultEvent:
    return FaultEvent(t=at, phase=phase, fault=fault, component=component)


# --- api.error_rate -------------------------------------------------------------------------


def test_fake_history_errors_outside_the_fault_window_count():
    """Was: 1,500 of 4,000 requests failing outside the fault window passed at 0 %."""
    records = [Marker(t=T0, name="warmup.end"), kill(T0 + 30), kill(T0 + 35, phase=FaultPhase.REVERTED)]
    records += load(40, 100, failures_at=lambda i: 50 if i < 30 else 0)  # 1,500 failed before the fault
    out = check_one("api.error_rate", records)
    assert out.verdict is Verdict.FAIL and out.measured == pytest.approx(37.5)
    assert "0 of 500 requests failed inside the fault window" in out.detail


def test_fake_history_one_request_in_the_fault_window_is_no_evidence():
    """Was: a single request inside the fault window passed."""
    records = [Marker(t=T0, name="warmup.end"), kill(T0 + 30.2), kill(T0 + 30.3, phase=FaultPhase.REVERTED)]
    records += load(30, 100) + [LoadSecond(t=T0 + 30, worker="w", requests=1, failures=0, hist=hist_of(5, 1), offered=1)]
    out = check_one("api.error_rate", records)
    assert out.verdict is Verdict.UNKNOWN and "Only 1 requests inside the fault window" in out.detail


def test_fake_history_errors_in_the_fault_window_decide_when_worse():
    records = [Marker(t=T0, name="warmup.end"), kill(T0 + 30), kill(T0 + 40, phase=FaultPhase.REVERTED)]
    records += load(60, 100, failures_at=lambda i: 2 if 30 <= i < 40 else 0)
    out = check_one("api.error_rate", records)
    assert out.verdict is Verdict.FAIL and out.measured == pytest.approx(2.0)
    records = [Marker(t=T0, name="warmup.end"), kill(T0 + 30), kill(T0 + 40, phase=FaultPhase.REVERTED), *load(60, 1000)]
    assert check_one("api.error_rate", records).verdict is Verdict.PASS


# --- latency: the peak clause -----------------------------------------------------------------


def test_fake_history_the_peak_latency_clause_needs_3000_requests_per_second():
    """Was: api.p95_latency passed at 100-300 req/s although its clause is about 3,000+ QPS."""
    slow = check_one("api.p95_latency_peak", [Marker(t=T0, name="warmup.end"), *load(20, 300)])
    assert slow.verdict is Verdict.UNKNOWN and "3000+ req/s" in slow.detail
    fast = check_one("api.p95_latency_peak", [Marker(t=T0, name="warmup.end"), *load(5, 3200)])
    assert fast.verdict is Verdict.PASS and fast.measured == pytest.approx(5.0, abs=0.1)
    late = check_one("api.p95_latency_peak", [Marker(t=T0, name="warmup.end"), *load(5, 3200, ms=55.0)])
    assert late.verdict is Verdict.FAIL
    # the pods' clause is at any rate
    assert check_one("api.p95_latency", [Marker(t=T0, name="warmup.end"), *load(20, 300)]).verdict is Verdict.PASS


# --- Redis -----------------------------------------------------------------------------------


def writes(oks: list[bool], start: float = KILL + 0.1) -> list:
    return [WriteSample(t=start + 0.2 * i, ok=ok, latency_ms=1.0, node="redis-b") for i, ok in enumerate(oks)]


def test_fake_history_one_write_at_the_very_end_is_not_a_recovery():
    """Was: one successful write at the very end passed."""
    out = check_one("redis.client_write_recovery", [kill(), *writes([False] * 30 + [True])])
    assert out.verdict is Verdict.UNKNOWN and "Only the last 1 writes succeeded" in out.detail
    late = check_one("redis.client_write_recovery", [kill(), *writes([False] * 80 + [True])])  # 16 s of failures first
    assert late.verdict is Verdict.FAIL and late.measured > 10


def test_fake_history_writes_that_fail_again_have_not_recovered():
    """Was: five successes followed by 30 failures passed at 0.0 s."""
    out = check_one("redis.client_write_recovery", [kill(), *writes([True] * 5 + [False] * 30)])
    assert out.verdict is Verdict.UNKNOWN or out.verdict is Verdict.FAIL
    assert "still failing at the end" in out.detail
    long = check_one("redis.client_write_recovery", [kill(), *writes([True] * 5 + [False] * 60)])
    assert long.verdict is Verdict.FAIL and long.measured == pytest.approx(0.1 + 0.2 * 64, abs=1e-3)
    ok = check_one("redis.client_write_recovery", [kill(), *writes([False] * 30 + [True] * 20)])
    assert ok.verdict is Verdict.PASS and ok.measured == pytest.approx(0.1 + 0.2 * 30, abs=1e-3)


def sentinels_agree(names: tuple[str, ...], topology: tuple[str, ...] | None) -> list:
    recs = [kill()] + ([Inventory(t=T0, role="sentinel", components=topology)] if topology else [])
    for i in range(100):
        t = KILL - 2 + 0.2 * i
        primary = "redis-b" if t > KILL + 6 else "redis-a"
        recs += [SentinelSample(t=t, sentinel=n, primary=primary) for n in names]
        recs.append(RedisRoleSample(t=t, node="redis-b", role="master" if primary == "redis-b" else "slave"))
    return recs


def test_fake_history_promotion_needs_every_sentinel_of_the_topology():
    """Was: only 1 of 3 Sentinels sampled, "All 1 Sentinels ..." passed."""
    three = ("sentinel-a", "sentinel-b", "sentinel-c")
    one = check_one("redis.promotion_time", sentinels_agree(("sentinel-a",), three))
    assert one.verdict is Verdict.UNKNOWN and "sentinel-b, sentinel-c" in one.detail
    assert check_one("redis.promotion_time", sentinels_agree(three, None)).verdict is Verdict.UNKNOWN
    ok = check_one("redis.promotion_time", sentinels_agree(three, three))
    assert ok.verdict is Verdict.PASS and "All 3 Sentinels" in ok.detail


# --- Flink checkpoints -----------------------------------------------------------------------


def test_fake_history_a_checkpoint_overdue_at_the_end_counts():
    """Was: the newest checkpoint 34 s old at the end of the run passed at 30.0."""
    samples = []
    for k in range(4):  # checkpoints triggered every 30 s, each taking 0.5 s
        trig = T0 + 30 * k
        samples += [FlinkSample(t=trig + 0.6 + i, leader="l", job="j", state="RUNNING", checkpoint_id=k, checkpoint_at=trig + 0.5, checkpoint_triggered_at=trig, tasks_running=True) for i in range(29)]
    overdue = samples + [FlinkSample(t=T0 + 90 + 34, leader="l", job="j", state="RUNNING", checkpoint_id=3, checkpoint_at=T0 + 90.5, checkpoint_triggered_at=T0 + 90, tasks_running=True)]
    out = check_one("flink.checkpoint_interval", overdue)
    assert out.verdict is Verdict.FAIL and out.measured == pytest.approx(33.5)
    ok = check_one("flink.checkpoint_interval", samples)
    assert ok.verdict is Verdict.PASS and ok.measured == pytest.approx(30.0)
    jitter = [FlinkSample(t=s.t, leader="l", job="j", state="RUNNING", checkpoint_id=s.checkpoint_id,
                          checkpoint_at=s.checkpoint_at + 0.04 * s.checkpoint_id, checkpoint_triggered_at=s.checkpoint_triggered_at + 0.04 * s.checkpoint_id,
                          tasks_running=True) for s in samples]  # fmt: skip
    assert check_one("flink.checkpoint_interval", jitter).verdict is Verdict.PASS  # 30.04 s is 30.0 to the catalog's 0.1 s
    late = [FlinkSample(t=s.t, leader="l", job="j", state="RUNNING", checkpoint_id=s.checkpoint_id,
                        checkpoint_at=s.checkpoint_at + 0.2 * s.checkpoint_id, checkpoint_triggered_at=s.checkpoint_triggered_at + 0.2 * s.checkpoint_id,
                        tasks_running=True) for s in samples]  # fmt: skip
    assert check_one("flink.checkpoint_interval", late).verdict is Verdict.FAIL  # 30.2 s is not "every 30 s"
