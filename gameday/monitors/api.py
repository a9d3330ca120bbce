"""API samplers: each instance's price-cache counters, read from its /metrics."""

from __future__ import annotations

import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from gameday.history import CacheCounters, Recorder
from gameday.monitors import Sampler

COUNTERS = {
    "gameday_price_cache_hits": "hits",
    "gameday_price_cache_misses": "misses",
    "gameday_cache_errors": "errors",
}


def read_counters(text: str) -> dict[str, float]:
    values = {v: 0.0 for v in COUNTERS.values()}
    for family in text_string_to_metric_families(text):
        field = COUNTERS.get(family.name)
        if field:
            values[field] = sum(s.value for s in family.samples if s.name.endswith("_total"))
    return values


def samplers(recorder: Recorder, target, interval_s: float) -> list[Sampler]:
    def sampler(name: str, base_url: str) -> Sampler:
        def sample() -> None:
            with urllib.request.urlopen(f"{base_url}/metrics", timeout=0.5) as resp:
                values = read_counters(resp.read().decode())
            recorder.add(CacheCounters(t=time.time(), instance=name, **values))

        return Sampler(f"api-{name}", interval_s, sample)

    return [sampler(name, url) for name, url in target.api_instances().items()]
