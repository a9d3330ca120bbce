"""Hand-built histories for checker tests: a Redis failover as the monitors record it."""

from __future__ import annotations

from gameday.checkers import run_checkers
from gameday.checkers.verdicts import Outcome
from gameday.history import (
    CacheCounters,
    FaultEvent,
    FaultPhase,
    History,
    Inventory,
    LoadSecond,
    Marker,
    RedisRoleSample,
    SentinelSample,
    WriteSample,
)
from gameday.load import latency

T0 = 1_800_000_000.0  # run start
KILL = T0 + 30.0
SENTINELS = ("sentinel-a", "sentinel-b", "sentinel-c")


def _hist(latencies_ms: list[float]) -> str:
    h = latency.new_histogram()
    for ms in latencies_ms:
        latency.record_ms(h, ms)
    return latency.encode(h)


def hist_of(ms: float, n: int) -> str:
    """An encoded histogram of n requests that all took ms."""
    return _hist([ms] * n)


def check_one(slo: str, records: list) -> Outcome:
    """One checker's outcome on these records; a crash is a test failure, not an unknown."""
    [out] = run_checkers(History.of_records(records), [slo])
    assert not out.detail.startswith("Checker crashed"), out.detail
    return out


def failover(promotion_s: float = 6.2, write_gap_s: float = 6.5, fault_p95_ms: float = 25.0, failures_in_fault: int = 0, revert_after_s: float = 30.0) -> History:
    """60+ s of a drill: steady, primary redis-a killed at KILL, redis-b promoted after promotion_s."""
    records = [Marker(t=T0, name="warmup.end"), Inventory(t=T0, role="sentinel", components=SENTINELS)]
    t = T0
    while t < KILL + revert_after_s + 20:
        promoted = t >= KILL + promotion_s
        primary = "redis-b" if promoted else "redis-a"
        for s in SENTINELS:
            records.append(SentinelSample(t=t, sentinel=s, primary=primary))
        a_role = "down" if KILL <= t < KILL + revert_after_s else ("slave" if t >= KILL else "master")
        records.append(RedisRoleSample(t=t + 0.01, node="redis-a", role=a_role))
        records.append(RedisRoleSample(t=t + 0.01, node="redis-b", role="master" if promoted else "slave", master="" if promoted else "redis-a"))
        ok = not (KILL <= t < KILL + write_gap_s)
        records.append(WriteSample(t=t + 0.02, ok=ok, latency_ms=0.5, node=primary))
        t += 0.2
    for sec in range(int(KILL + revert_after_s + 20 - T0)):
        st = T0 + sec
        in_fault = KILL <= st < KILL + revert_after_s
        lat = [fault_p95_ms if in_fault else 5.0] * 300
        records.append(LoadSecond(t=st, worker="w1", requests=300, failures=failures_in_fault if in_fault else 0, hist=_hist(lat)))
        records.append(CacheCounters(t=st, instance="api-a", hits=sec * 255.0, misses=sec * 45.0, errors=0.0))
    records.append(FaultEvent(t=KILL, phase=FaultPhase.INJECTED, fault="redis.kill_primary", component="redis-a", az="az-a"))
    records.append(FaultEvent(t=KILL + revert_after_s, phase=FaultPhase.REVERTED, fault="redis.kill_primary", component="redis-a"))
    return History.of_records(records)
