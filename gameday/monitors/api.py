"""API samplers: each instance's price-cache counters, read from its /metrics."""

from __future__ import annotations

import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from gameday.history import CacheCounters, Recorder, ServerLatency
from gameday.monitors import Sampler

COUNTERS = {
    "gameday_price_cache_hits": "hits",
    "gameday_price_cache_misses": "misses",
    "gameday_cache_errors": "errors",
}


LATENCY = "gameday_search_latency_seconds"


def read_metrics(text: str) -> tuple[dict[str, float], tuple[tuple[float, ...], tuple[float, ...]]]:
    """Cache counters, and the latency histogram as (bucket bounds, cumulative counts)."""
    values = {v: 0.0 for v in COUNTERS.values()}
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        field = COUNTERS.get(family.name)
        if field:
            values[field] = sum(s.value for s in family.samples if s.name.endswith("_total"))
        elif family.name == LATENCY:
            for s in family.samples:
                if s.name.endswith("_bucket"):
                    bound = float(s.labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + s.value
    bounds = tuple(sorted(buckets))
    return values, (bounds, tuple(buckets[b] for b in bounds))


def samplers(recorder: Recorder, target, interval_s: float) -> list[Sampler]:
    def sampler(name: str, base_url: str) -> Sampler:
        def sample() -> None:
            with urllib.request.urlopen(f"{base_url}/metrics", timeout=0.5) as resp:
                values, (bounds, counts) = read_metrics(resp.read().decode())
            now = time.time()
            recorder.add(CacheCounters(t=now, instance=name, **values))
            if bounds:
                recorder.add(ServerLatency(t=now, instance=name, bounds_s=bounds, counts=counts))

        return Sampler(f"api-{name}", interval_s, sample)

    return [sampler(name, url) for name, url in target.api_instances().items()]
