"""store.cache_miss_p95 on hand-made histories (no lab): the API's own histogram of searches
that read the store decides, both ways; too few such searches is unknown; the monitor reads
both histograms from an instance's /metrics."""

from __future__ import annotations

from flightsearch.api.metrics import LATENCY_BUCKETS, ApiMetrics
from gameday.checkers.verdicts import Verdict
from gameday.history import LoadSecond, ServerLatency, StorePathLatency
from gameday.monitors.api import LATENCY, STORE_LATENCY, read_metrics
from tests.unit.histories import KILL, T0, check_one, failover, hist_of

BOUNDS = (*LATENCY_BUCKETS, float("inf"))


def cumulative(per_second: int, ms: float, seconds: int) -> tuple[float, ...]:
    """Cumulative bucket counts after `seconds` of `per_second` searches that took `ms`."""
    return tuple(float(per_second * seconds) if ms / 1000 <= b else 0.0 for b in BOUNDS)


def records(store_ms_outside: float, store_ms_in_fault: float, per_second: int = 40, seconds: int = 80) -> list:
    """A failover history plus the API's two histograms, sampled every second: 300
    searches/s, `per_second` of them read the store (every one inside the fault window)."""
    out = list(failover().records)
    store = [0.0] * len(BOUNDS)
    every = [0.0] * len(BOUNDS)
    for sec in range(seconds):
        t = T0 + sec + 0.5
        in_fault = KILL <= t < KILL + 30
        n, ms = (300, store_ms_in_fault) if in_fault else (per_second, store_ms_outside)
        store = [c + (n if ms / 1000 <= b else 0) for c, b in zip(store, BOUNDS)]
        every = [c + (300 if (5 if not in_fault else ms) / 1000 <= b else 0) for c, b in zip(every, BOUNDS)]
        out.append(StorePathLatency(t=t, instance="api-a", bounds_s=BOUNDS, counts=tuple(store)))
        out.append(ServerLatency(t=t, instance="api-a", bounds_s=BOUNDS, counts=tuple(every)))
    return sorted(out, key=lambda r: r.t)


def test_fake_history_a_fast_store_path_passes_and_says_how_many_searches_took_it():
    o = check_one("store.cache_miss_p95", records(18.0, 30.0))
    assert o.verdict is Verdict.PASS and 25 < o.measured <= 30
    assert "inside the fault window" in o.detail and "% of all searches" in o.detail


def test_fake_history_a_slow_store_path_in_the_fault_fails():
    o = check_one("store.cache_miss_p95", records(18.0, 400.0))
    assert o.verdict is Verdict.FAIL and o.measured > 250


def test_fake_history_without_the_store_histogram_is_unknown():
    recs = [r for r in records(18.0, 30.0) if not isinstance(r, StorePathLatency)]
    o = check_one("store.cache_miss_p95", recs)
    assert o.verdict is Verdict.UNKNOWN and "at least 100" in o.detail


def test_fake_store_path_counts_an_instance_restart_as_no_evidence():
    # The only instance's counters fall back to zero mid-run: its difference is not a measure.
    recs = records(18.0, 30.0)
    recs.append(StorePathLatency(t=T0 + 79.9, instance="api-a", bounds_s=BOUNDS, counts=cumulative(1, 5.0, 1)))
    o = check_one("store.cache_miss_p95", sorted(recs, key=lambda r: r.t))
    assert o.verdict is Verdict.UNKNOWN


def test_monitor_reads_both_histograms_from_an_instances_metrics():
    m = ApiMetrics("api-a")
    m.latency.observe(0.004)
    m.latency.observe(0.030)
    m.store_latency.observe(0.030)
    _, hists = read_metrics(m.render()[0].decode())
    assert hists[LATENCY][1][-1] == 2 and hists[STORE_LATENCY][1][-1] == 1
    assert hists[STORE_LATENCY][0] == BOUNDS


def test_load_seconds_alone_do_not_make_a_store_path_p95():
    recs = [LoadSecond(t=T0 + s, worker="w1", requests=300, failures=0, hist=hist_of(5.0, 300)) for s in range(60)]
    assert check_one("store.cache_miss_p95", recs).verdict is Verdict.UNKNOWN
