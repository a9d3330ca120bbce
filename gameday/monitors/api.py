"""API samplers: each instance's cache counters and latency histograms, read from its
/metrics; and the load balancer's view of every instance (in rotation or out)."""

from __future__ import annotations

import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from gameday.history import BalancerSample, CacheCounters, Recorder, ServerLatency, StorePathLatency
from gameday.monitors import Sampler

COUNTERS = {
    "gameday_price_cache_hits": "hits",
    "gameday_price_cache_misses": "misses",
    "gameday_cache_errors": "errors",
}


LATENCY = "gameday_search_latency_seconds"
STORE_LATENCY = "gameday_search_store_path_latency_seconds"
Histogram = tuple[tuple[float, ...], tuple[float, ...]]  # (bucket bounds, cumulative counts)


def read_metrics(text: str) -> tuple[dict[str, float], dict[str, Histogram]]:
    """Cache counters, and the latency histograms (LATENCY, STORE_LATENCY) an instance has."""
    values = {v: 0.0 for v in COUNTERS.values()}
    buckets: dict[str, dict[float, float]] = {}
    for family in text_string_to_metric_families(text):
        field = COUNTERS.get(family.name)
        if field:
            values[field] = sum(s.value for s in family.samples if s.name.endswith("_total"))
        elif family.name in (LATENCY, STORE_LATENCY):
            into = buckets.setdefault(family.name, {})
            for s in family.samples:
                if s.name.endswith("_bucket"):
                    bound = float(s.labels["le"])
                    into[bound] = into.get(bound, 0.0) + s.value
    hists = {name: (tuple(sorted(b)), tuple(b[k] for k in sorted(b))) for name, b in buckets.items()}
    return values, hists


def samplers(recorder: Recorder, target, interval_s: float) -> list[Sampler]:
    def sampler(name: str, base_url: str) -> Sampler:
        def sample() -> None:
            with urllib.request.urlopen(f"{base_url}/metrics", timeout=0.5) as resp:
                values, hists = read_metrics(resp.read().decode())
            now = time.time()
            recorder.add(CacheCounters(t=now, instance=name, **values))
            for family, record in ((LATENCY, ServerLatency), (STORE_LATENCY, StorePathLatency)):
                if family in hists:
                    bounds, counts = hists[family]
                    recorder.add(record(t=now, instance=name, bounds_s=bounds, counts=counts))

        return Sampler(f"api-{name}", interval_s, sample)

    return [sampler(name, url) for name, url in target.api_instances().items()]


def balancer_sampler(recorder: Recorder, target, interval_s: float) -> Sampler:
    """The balancer's view of each API instance (HAProxy checks every 0.5 s by default)."""

    def sample() -> None:
        now = time.time()
        for server, status in target.balancer_view().items():
            recorder.add(BalancerSample(t=now, server=server, status=status))

    return Sampler("balancer", interval_s, sample)
