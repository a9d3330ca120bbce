"""Prometheus's view of a run, saved beside gameday's own history as independent evidence."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

# What an auditor wants to see from the metrics system over the drill.
QUERIES = {
    "scrape_targets_up": "up",
    "redis_roles": "redis_instance_info",
    "redis_connected_replicas": "redis_connected_slaves",
    "api_requests_per_s": "sum by (instance) (rate(gameday_search_requests_total[5s]))",
    "api_p95_latency_s": "histogram_quantile(0.95, sum by (le) (rate(gameday_search_latency_seconds_bucket[5s])))",
    "price_cache_hit_ratio": "sum(rate(gameday_price_cache_hits_total[10s])) / (sum(rate(gameday_price_cache_hits_total[10s])) + sum(rate(gameday_price_cache_misses_total[10s])))",
    "lb_active_servers": "haproxy_backend_active_servers",
}


def save_prometheus_view(url: str, start: float, end: float, path: Path) -> str:
    """Range queries at 1 s steps; a metrics system that does not answer is recorded, not fatal."""
    # One quick retry: the lab's Prometheus is local; a dead one should not stall the run.
    client = PrometheusConnect(url=url, timeout=10, retry=Retry(total=1, backoff_factor=0.1))
    window = {
        "start_time": datetime.fromtimestamp(start, timezone.utc),
        "end_time": datetime.fromtimestamp(end, timezone.utc),
        "step": "1s",
    }
    out: dict[str, object] = {"prometheus": url, "start": start, "end": end, "series": {}, "errors": {}}
    for name, query in QUERIES.items():
        try:
            out["series"][name] = {"query": query, "result": client.custom_query_range(query, **window)}  # type: ignore[index]
        except Exception as exc:  # the client raises several kinds; each is evidence too
            out["errors"][name] = f"{type(exc).__name__}: {exc}"  # type: ignore[index]
    path.write_text(json.dumps(out) + "\n")
    answered = len(out["series"])  # type: ignore[arg-type]
    return f"{answered} of {len(QUERIES)} Prometheus queries saved"
