"""Latency histograms: record in microseconds, merge exactly, read percentiles in ms."""

from __future__ import annotations

from typing import Iterable, Sequence

from hdrh.histogram import HdrHistogram

# 1 µs .. 60 s at 3 significant digits: p99 precise to well under 1 ms.
LOWEST_US, HIGHEST_US, DIGITS = 1, 60_000_000, 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def record_ms(hist: HdrHistogram, latency_ms: float) -> None:
    hist.record_value(min(max(int(latency_ms * 1000), LOWEST_US), HIGHEST_US))


def encode(hist: HdrHistogram) -> str:
    return hist.encode().decode("ascii")


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def merged(encoded: Iterable[str]) -> HdrHistogram:
    total = new_histogram()
    for text in encoded:
        if text:
            total.add(decode(text))
    return total


def percentile_ms(hist: HdrHistogram, q: float) -> float | None:
    if hist.get_total_count() == 0:
        return None
    return hist.get_value_at_percentile(q) / 1000.0


def bucket_quantile_ms(bounds_s: Sequence[float], counts: Sequence[float], q: float) -> float | None:
    """Quantile (ms) of a Prometheus-style cumulative histogram, interpolated linearly
    inside the bucket, as Prometheus's histogram_quantile does."""
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return None
    rank, prev_bound, prev_count = q * total, 0.0, 0.0
    for bound, count in zip(bounds_s, counts):
        if count >= rank:
            if bound == float("inf"):
                return prev_bound * 1000
            return (prev_bound + (bound - prev_bound) * (rank - prev_count) / max(count - prev_count, 1e-9)) * 1000
        prev_bound, prev_count = bound, count
    return None
