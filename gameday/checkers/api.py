"""Search API: latency (at any rate, at the plan's peak rate, and during faults), errors,
and the cache hit ratio. Minimums come from the catalog's evidence."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, judge
from gameday.checkers.windows import inside, measuring_from
from gameday.history import CacheCounters, History, LoadSecond, ServerLatency, StorePathLatency
from gameday.load import latency
from gameday.load.run import generator_problem
from gameday.spec import Slo


def _seconds(history: History, in_fault: bool) -> list[LoadSecond]:
    """Load seconds inside the fault window, or outside it after the warm-up."""
    window = history.fault_window()
    start = measuring_from(history)
    return [s for s in history.of(LoadSecond) if inside(window, s.t, s.t + 1) == in_fault and (in_fault or s.t >= start)]


def _rate(seconds: list[LoadSecond]) -> float:
    """Achieved requests per second over these seconds, all workers together."""
    return sum(s.requests for s in seconds) / max(len({int(s.t) for s in seconds}), 1)


def _p95(history: History, slo: Slo, in_fault: bool) -> Outcome:
    where = "inside the fault window" if in_fault else "outside the fault window"
    if in_fault and history.fault_window() is None:
        return judge(slo, None, "No fault window in the history.")
    seconds = _seconds(history, in_fault)
    requests = sum(s.requests for s in seconds)
    need = slo.evidence.min_requests
    if requests < need:
        return judge(slo, None, f"Only {requests} requests {where}; at least {need} are needed for a p95.")
    rate = _rate(seconds)
    if rate < slo.evidence.min_rate:
        return judge(slo, None, f"The load achieved {rate:.0f} req/s {where}, below the {slo.evidence.min_rate:g}+ req/s this clause is about: the latency there is not this clause's figure.")
    hist = latency.merged(s.hist for s in seconds)
    p95 = latency.percentile_ms(hist, 95)
    server = server_p95(history, seconds)
    server_text = f" The API's own handler p95 over the same seconds: {server:.1f} ms." if server is not None else ""
    outcome = judge(slo, p95, f"p95 of {requests} requests {where}{'' if in_fault else ' after the warm-up'} ({len(seconds)} worker-seconds, ~{rate:.0f} req/s), measured by the client.{server_text}")
    issue = generator_problem(history, seconds)
    if issue:  # not the platform's latency at the requested load: neither pass nor fail
        return judge(slo, None, f"Measured {p95:.1f} ms {where} by the client, but {issue}.{server_text}")
    return outcome


def server_p95(history: History, seconds: list[LoadSecond]) -> float | None:
    """p95 the API instances measured themselves over the span of these seconds."""
    bounds, counts = server_histogram(history, ServerLatency, seconds)
    return latency.bucket_quantile_ms(bounds, counts, 0.95) if counts else None


def server_histogram(history: History, cls: type[ServerLatency] | type[StorePathLatency], seconds: list[LoadSecond]) -> tuple[tuple[float, ...], list[float]]:
    """(bucket bounds, counts) the API instances measured over the span of these seconds,
    from the difference of their cumulative histograms of `cls` (sampled every second, so
    edges are approximate); ((), []) when no instance was sampled twice."""
    if not seconds:
        return (), []
    covered = {int(s.t) for s in seconds}
    first: dict[str, ServerLatency | StorePathLatency] = {}
    last: dict[str, ServerLatency | StorePathLatency] = {}
    for sample in history.of(cls):
        if int(sample.t) - 1 in covered or int(sample.t) in covered:
            first.setdefault(sample.instance, sample)
            last[sample.instance] = sample
    total: list[float] = []
    bounds: tuple[float, ...] = ()
    for name, a in first.items():
        b = last[name]
        if b is a or a.bounds_s != b.bounds_s or any(y < x for x, y in zip(a.counts, b.counts)):
            continue  # one sample only, or the instance restarted
        bounds = b.bounds_s
        delta = [y - x for x, y in zip(a.counts, b.counts)]
        total = [t + d for t, d in zip(total, delta)] if total else delta
    return bounds, total


@checker("api.p95_latency")
def p95_outside_fault(history: History, slo: Slo) -> Outcome:
    return _p95(history, slo, in_fault=False)


@checker("api.p95_latency_peak")
def p95_at_peak(history: History, slo: Slo) -> Outcome:
    """The same measurement, which the catalog's evidence confines to 3,000+ req/s achieved."""
    return _p95(history, slo, in_fault=False)


@checker("api.p95_latency_during_fault")
def p95_inside_fault(history: History, slo: Slo) -> Outcome:
    return _p95(history, slo, in_fault=True)


@checker("api.error_rate")
def error_rate(history: History, slo: Slo) -> Outcome:
    """Over the whole run after the warm-up and over the fault window: the worse decides."""
    need = slo.evidence.min_requests
    start = measuring_from(history)
    run = [s for s in history.of(LoadSecond) if s.t >= start]
    run_requests, run_failures = sum(s.requests for s in run), sum(s.failures for s in run)
    if run_requests < need:
        return judge(slo, None, f"Only {run_requests} requests after the warm-up; at least {need} are needed.")
    run_pct = 100.0 * run_failures / run_requests
    run_text = f"{run_failures} of {run_requests} requests failed over the whole run after the warm-up"
    if history.fault_window() is None:
        return judge(slo, run_pct, f"{run_text} (no fault in this run).")
    fault = _seconds(history, in_fault=True)
    requests, failures = sum(s.requests for s in fault), sum(s.failures for s in fault)
    if requests < need:
        return judge(slo, None, f"Only {requests} requests inside the fault window; at least {need} are needed ({run_text}).")
    fault_pct = 100.0 * failures / requests
    return judge(slo, max(fault_pct, run_pct), f"{failures} of {requests} requests failed inside the fault window ({fault_pct:.3g} %); {run_text} ({run_pct:.3g} %).")


@checker("cache.hit_ratio")
def cache_hit_ratio(history: History, slo: Slo) -> Outcome:
    window = history.fault_window()
    start = measuring_from(history)
    hits = misses = 0.0
    previous: dict[str, CacheCounters] = {}
    for sample in history.of(CacheCounters):
        before = previous.get(sample.instance)
        previous[sample.instance] = sample
        if before is None or before.t < start or inside(window, before.t, sample.t):
            continue
        dh, dm = sample.hits - before.hits, sample.misses - before.misses
        if dh < 0 or dm < 0:  # the instance restarted: its counters reset
            continue
        hits += dh
        misses += dm
    lookups = hits + misses
    if lookups < slo.evidence.min_lookups:
        return judge(slo, None, f"Only {lookups:.0f} price lookups sampled outside the fault window; at least {slo.evidence.min_lookups} are needed.")
    return judge(slo, 100.0 * hits / lookups, f"{hits:.0f} hits, {misses:.0f} misses outside the fault window.")


@checker("store.cache_miss_p95")
def cache_miss_p95(history: History, slo: Slo) -> Outcome:
    """The API's own histogram of searches that read the store, over the whole run after the
    warm-up (a cache outage is when most searches take this path, so the fault is in)."""
    start = measuring_from(history)
    seconds = [s for s in history.of(LoadSecond) if s.t >= start]
    bounds, counts = server_histogram(history, StorePathLatency, seconds)
    taken = int(counts[-1]) if counts else 0
    need = slo.evidence.min_requests
    if taken < need:
        return judge(slo, None, f"Only {taken} searches read the store after the warm-up (the API's cache-miss histogram); at least {need} are needed for a p95.")
    p95 = latency.bucket_quantile_ms(bounds, counts, 0.95)
    window = history.fault_window()
    in_bounds, in_counts = server_histogram(history, StorePathLatency, [s for s in seconds if inside(window, s.t, s.t + 1)]) if window else ((), [])
    in_taken = int(in_counts[-1]) if in_counts else 0
    fault_text, measured = "", p95
    if in_taken >= need:  # the fault window alone, when it holds enough for a p95: the worse decides
        in_p95 = latency.bucket_quantile_ms(in_bounds, in_counts, 0.95)
        measured = max(p95, in_p95)
        fault_text = f"; inside the fault window p95 {in_p95:.1f} ms of {in_taken}"
    elif in_taken:
        fault_text = f" ({in_taken} of them inside the fault window, too few for a p95 of their own)"
    all_bounds, all_counts = server_histogram(history, ServerLatency, seconds)
    share = f", {100.0 * taken / all_counts[-1]:.0f} % of all searches" if all_counts and all_counts[-1] else ""
    return judge(slo, measured, f"p95 {p95:.1f} ms of {taken} searches that read the store after the warm-up{share}{fault_text}; timed by the API's own handler.")
