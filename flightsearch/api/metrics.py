"""Prometheus metrics of one API instance (its own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Fine-grained around the plan's 40 ms p95 target and the 1-100 ms range a search
# spans (cache hit ~1 ms, store path tens of ms); coarse above, where only "slow" matters.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025,
    0.03, 0.035, 0.04, 0.045, 0.05, 0.06, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0,
)


# No *_created series: they double the exposition for nothing a drill reads.
disable_created_metrics()


class ApiMetrics:
    def __init__(self, instance: str) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.latency = Histogram("gameday_search_latency_seconds", "Latency of /search requests.",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.store_latency = Histogram("gameday_search_store_path_latency_seconds",
                                       "Latency of /search requests that read the store (a listing or a price not in the cache).",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.requests = Counter("gameday_search_requests", "/search requests answered.", registry=r)
        self.errors = Counter("gameday_search_errors", "/search requests answered with a 5xx.", registry=r)
        self.price_hits = Counter("gameday_price_cache_hits", "Price lookups served from Redis.", registry=r)
        self.price_misses = Counter("gameday_price_cache_misses",
                                    "Price lookups not served from Redis (read from the store).", registry=r)
        self.route_hits = Counter("gameday_route_cache_hits", "Route listings (or index answers) served from Redis.", registry=r)
        self.route_misses = Counter("gameday_route_cache_misses", "Route listings read from the store (or the index).",
                                    registry=r)
        self.index_errors = Counter("gameday_search_index_errors",
                                    "/search requests failed because no node of the search index answered.", registry=r)
        self.cache_errors = Counter(
            "gameday_cache_errors",
            "Cache operations that failed or were skipped because Redis was unavailable.", registry=r)
        self.primary = Gauge("gameday_redis_primary",
                             "1 for the Redis primary this instance uses (from Sentinel).", ["primary"], registry=r)
        self.primary_changes = Counter("gameday_redis_primary_changes",
                                       "Times the instance switched to another Redis primary.", registry=r)
        info = Gauge("gameday_api_info", "Constant 1, labelled with this instance's name.", ["api"], registry=r)
        info.labels(api=instance).set(1)
        self._primary_label: str | None = None

    def set_primary(self, address: str | None) -> None:
        """Show exactly one primary label (or none while no primary is known)."""
        if self._primary_label is not None and self._primary_label != address:
            self.primary.remove(self._primary_label)
            self.primary_changes.inc()
        if address is not None:
            self.primary.labels(primary=address).set(1)
        self._primary_label = address

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
