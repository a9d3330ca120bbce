"""Plot series from a history: pure data, no rendering.

Kept apart from the templates so the numbers a report draws can be tested (and
re-derived by an auditor) without reading SVG.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from gameday.history import FaultEvent, History, LoadSecond
from gameday.load import latency


@dataclass(frozen=True)
class FaultMark:
    offset: float  # seconds from the run start
    phase: str  # injected | reverted
    fault: str
    component: str
    az: str
    detail: str

    @property
    def label(self) -> str:
        verb = "inject" if self.phase == "injected" else "revert"
        where = self.component + (f" ({self.az})" if self.az else "")
        return f"{verb} {self.fault}" + (f" @ {where}" if where else "")


@dataclass(frozen=True)
class TimeSeries:
    """One point per second that has load data; None where a quantile is undefined (no requests)."""

    start: float  # epoch seconds that offset 0 stands for
    offsets: tuple[float, ...]
    rps: tuple[float, ...]  # requests completed (ok + failed) in that second, all workers
    errors_per_s: tuple[float, ...]
    p50_ms: tuple[float | None, ...]
    p95_ms: tuple[float | None, ...]
    p99_ms: tuple[float | None, ...]
    window: tuple[float, float] | None  # fault window as offsets
    faults: tuple[FaultMark, ...]
    end_offset: float  # last instant the history (or the run) covers

    @property
    def has_load(self) -> bool:
        return bool(self.offsets)


def fault_marks(history: History, start: float) -> tuple[FaultMark, ...]:
    return tuple(FaultMark(f.t - start, f.phase.value, f.fault, f.component, f.az, f.detail) for f in history.of(FaultEvent))


def series(history: History, start: float | None = None, end: float | None = None) -> TimeSeries:
    """Per-second throughput, errors and latency quantiles, plus the fault window and events.

    Workers' histograms of the same second are merged exactly (HdrHistogram add)
    rather than averaging their percentiles, which would understate the tail.
    `start` defaults to the first record of the history; `end` widens the span
    to the run end when the history stops earlier.
    """
    records = history.records
    if start is None:
        start = records[0].t if records else 0.0
    by_second: dict[int, list[LoadSecond]] = defaultdict(list)
    for sample in history.of(LoadSecond):
        by_second[math.floor(sample.t)].append(sample)

    offsets, rps, eps, p50, p95, p99 = [], [], [], [], [], []
    for second in sorted(by_second):
        samples = by_second[second]
        hist = latency.merged(s.hist for s in samples)
        offsets.append(second - start)
        rps.append(float(sum(s.requests for s in samples)))
        eps.append(float(sum(s.failures for s in samples)))
        p50.append(latency.percentile_ms(hist, 50))
        p95.append(latency.percentile_ms(hist, 95))
        p99.append(latency.percentile_ms(hist, 99))

    window = history.fault_window()
    marks = fault_marks(history, start)
    last = max([records[-1].t - start if records else 0.0] + [o + 1 for o in offsets])
    if end is not None:
        last = max(last, end - start)
    return TimeSeries(
        start=start,
        offsets=tuple(offsets),
        rps=tuple(rps),
        errors_per_s=tuple(eps),
        p50_ms=tuple(p50),
        p95_ms=tuple(p95),
        p99_ms=tuple(p99),
        window=None if window is None else (window[0] - start, window[1] - start),
        faults=marks,
        end_offset=last,
    )
