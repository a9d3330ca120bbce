"""Chaos Toolkit providers for the search API, through the load balancer."""

from __future__ import annotations

import json
import urllib.request

from gameday.target import resolve


def search_succeeds(origin: str = "", destination: str = "", date: str = "", configuration: dict | None = None) -> bool:
    """Steady state: the load balancer answers a search with 200 and a flight list."""
    target = resolve(configuration)
    if not origin:
        return _health(target.lb_url())
    url = f"{target.lb_url()}/search?origin={origin}&destination={destination}&date={date}"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200 and "flights" in json.loads(resp.read())
    except (OSError, ValueError):
        return False


def _health(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False
