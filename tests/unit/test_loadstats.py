"""Histogram merge logic (no lab): workers and seconds merge exactly, percentiles are never averaged."""

from __future__ import annotations

import random

import pytest

from gameday.load import latency


def _encoded(values: list[float]) -> str:
    h = latency.new_histogram()
    for v in values:
        latency.record_ms(h, v)
    return latency.encode(h)


def test_merging_workers_equals_one_histogram_of_everything():
    rng = random.Random(1)
    fast = [rng.uniform(1, 5) for _ in range(9600)]
    slow = [rng.uniform(100, 200) for _ in range(400)]
    merged = latency.merged([_encoded(fast), _encoded(slow)])
    direct = latency.merged([_encoded(fast + slow)])
    for q in (50, 95, 99):
        assert latency.percentile_ms(merged, q) == latency.percentile_ms(direct, q)
    # 4 % of requests are slow, so the true p95 is a fast one; averaging the two
    # workers' p95s would claim ~100 ms.
    avg_of_p95 = (latency.percentile_ms(latency.merged([_encoded(fast)]), 95) + latency.percentile_ms(latency.merged([_encoded(slow)]), 95)) / 2
    assert latency.percentile_ms(merged, 95) < 5.1
    assert avg_of_p95 > 90


def test_p99_is_precise_to_well_under_a_millisecond():
    values = [i / 10 for i in range(1, 10001)]  # 0.1 .. 1000 ms
    p99 = latency.percentile_ms(latency.merged([_encoded(values)]), 99)
    assert p99 == pytest.approx(990.0, abs=1.0)


def test_empty_histogram_has_no_percentile():
    assert latency.percentile_ms(latency.new_histogram(), 95) is None


def test_prometheus_bucket_quantile_interpolates_inside_the_bucket():
    bounds = (0.005, 0.01, 0.05, float("inf"))
    counts = (50, 90, 100, 100)  # cumulative
    assert latency.bucket_quantile_ms(bounds, counts, 0.5) == pytest.approx(5.0)
    assert latency.bucket_quantile_ms(bounds, counts, 0.95) == pytest.approx(30.0)
    assert latency.bucket_quantile_ms(bounds, (0, 0, 0, 0), 0.95) is None
