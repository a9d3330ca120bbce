"""Geometry of the report's time plot: TimeSeries in, pixel coordinates out.

The template only draws what this computes, so the SVG needs no script and the
layout logic (scales, ticks, label rows) is plain Python that can be tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from gameday.reports.series import FaultMark, TimeSeries

WIDTH, LEFT, RIGHT_MARGIN = 1160, 64, 64
LAT_HEIGHT, TPUT_HEIGHT, GAP, ROW, BOTTOM = 230, 160, 46, 14, 40
CHAR_W = 6.4  # average width of an 11px sans-serif glyph, for label collision only
# Above this ratio of peak latency to the threshold a linear axis flattens the
# steady state into the floor; a log axis keeps both the baseline and the spike readable.
LOG_RATIO = 5.0


@dataclass(frozen=True)
class Tick:
    at: float  # pixel
    label: str


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    segments: tuple[str, ...]  # SVG polyline "x,y x,y ..." strings; gaps split segments


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    css: str


@dataclass(frozen=True)
class Panel:
    top: float
    height: float
    y_label: str
    lines: tuple[Line, ...]
    ticks: tuple[Tick, ...]
    right_label: str = ""
    right_ticks: tuple[Tick, ...] = ()
    threshold_y: float | None = None
    threshold_label: str = ""
    dots: tuple[Dot, ...] = ()  # sparse measurements, drawn as points rather than a line

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Mark:
    x: float
    phase: str
    label: str
    label_y: float
    anchor: str  # start | end


@dataclass(frozen=True)
class Plot:
    width: float
    height: float
    left: float
    right: float
    panels: tuple[Panel, ...]
    xticks: tuple[Tick, ...]
    x_label: str
    shade: tuple[float, float] | None
    marks: tuple[Mark, ...]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _linear(lo: float, hi: float, p0: float, p1: float) -> Callable[[float], float]:
    span = (hi - lo) or 1.0
    return lambda v: p0 + (v - lo) / span * (p1 - p0)


def _segments(xs: Sequence[float], ys: Sequence[float | None], fx, fy) -> tuple[str, ...]:
    """Polyline strings, split where a value is missing or a second has no data (gap > 1.5 s)."""
    out, current, prev_x = [], [], None
    for x, y in zip(xs, ys):
        if y is None or (prev_x is not None and x - prev_x > 1.5):
            if current:
                out.append(" ".join(current))
            current = []
        if y is not None:
            current.append(f"{fx(x):.1f},{fy(y):.1f}")
        prev_x = x
    if current:
        out.append(" ".join(current))
    # A single point draws nothing as a polyline: double it so it shows as a dot.
    return tuple(s if " " in s else f"{s} {s}" for s in out)


def _time_label(v: float, span: float) -> str:
    if span < 300:
        return f"{v:g} s"
    sign, whole = "-" if v < 0 else "", int(abs(v))
    hours, rest = divmod(whole, 3600)
    if hours:
        return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{sign}{whole // 60}:{whole % 60:02d}"


def _time_ticks(lo: float, hi: float) -> list[float]:
    """Decimal steps for short runs; whole-minute steps (1, 2, 5, 10, 15, 30, 60 min) once labels are m:ss."""
    if hi - lo < 300:
        return nice_ticks(lo, hi, 10)
    step = next((m * 60 for m in (1, 2, 5, 10, 15, 30, 60, 120, 240) if (hi - lo) / (m * 60) <= 12), 480 * 60)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) // step) + 1)]


def value_scale(values: Sequence[float], threshold: float, top: float, bottom: float, name: str, floor: float):
    """Y scale for a latency-like panel: log once the peak dwarfs the threshold, else linear from 0.
    `floor` is the smallest value a log axis resolves (lower values sit on it)."""
    values = list(values)
    peak = max(values + [threshold])
    if peak > LOG_RATIO * threshold:
        lo_exp = math.floor(math.log10(max(min(values + [threshold]), floor)))
        hi_exp = math.ceil(math.log10(peak))
        f = _linear(lo_exp, hi_exp, bottom, top)
        fy = lambda v: f(math.log10(max(v, 10**lo_exp)))  # noqa: E731
        ticks = []
        for e in range(lo_exp, hi_exp + 1):
            for m in ((1, 2, 5) if hi_exp - lo_exp <= 3 else (1,)):
                v = m * 10**e
                if v <= 10**hi_exp:
                    ticks.append(Tick(fy(v), f"{v:g}"))
        return fy, tuple(ticks), f"{name} (log scale)"
    ticks_at = _axis(peak * 1.05, 5)
    fy = _linear(0, ticks_at[-1], bottom, top)
    return fy, tuple(Tick(fy(v), f"{v:g}") for v in ticks_at), name


def _axis(peak: float, count: int) -> list[float]:
    """Tick values from 0 whose last tick is at or above peak (the axis top)."""
    ticks = nice_ticks(0, peak, count)
    if ticks[-1] < peak:
        ticks.append(round(ticks[-1] + (ticks[1] - ticks[0]), 10))
    return ticks


def _count_scale(values: Sequence[float], top: float, bottom: float):
    ticks = _axis(max(list(values) + [1.0]) * 1.05, 4)
    fy = _linear(0, ticks[-1], bottom, top)
    return fy, tuple(Tick(fy(v), f"{v:g}") for v in ticks)


def _mark_rows(faults: Sequence[FaultMark], fx, right: float) -> tuple[list[tuple[float, str, str, int, str]], int]:
    """Place fault labels on the fewest rows so none overlap (greedy, left to right)."""
    row_ends: list[float] = []
    placed = []
    for m in sorted(faults, key=lambda m: m.offset):
        x, w = fx(m.offset), len(m.label) * CHAR_W + 8
        anchor, x0, x1 = ("start", x, x + w) if x + w <= right else ("end", x - w, x)
        row = next((i for i, end in enumerate(row_ends) if end <= x0), len(row_ends))
        if row == len(row_ends):
            row_ends.append(x1)
        row_ends[row] = x1
        placed.append((x, m.phase, m.label, row, anchor))
    return placed, len(row_ends)


@dataclass(frozen=True)
class TimeAxis:
    """The x axis every panel of one plot shares, and where the fault labels go above it."""

    lo: float
    hi: float
    fx: Callable[[float], float]
    window: tuple[float, float] | None
    placed: tuple[tuple[float, str, str, int, str], ...]  # x, phase, label, row, anchor
    panels_top: float  # first panel's top, below the label rows


def time_axis(offsets: Sequence[float], faults: Sequence[FaultMark], window: tuple[float, float] | None, end_offset: float) -> TimeAxis:
    """Span the data, every fault event and the run end, so a fault outside the data still shows."""
    right = WIDTH - RIGHT_MARGIN
    events = [m.offset for m in faults] + ([window[0], window[1]] if window else [])
    x_lo = min([0.0] + list(offsets) + events)
    x_hi = max([end_offset, x_lo + 1] + events)
    fx = _linear(x_lo, x_hi, LEFT, right)
    placed, rows = _mark_rows(faults, fx, right)
    return TimeAxis(x_lo, x_hi, fx, window, tuple(placed), 10 + rows * ROW + 6)


def frame(axis: TimeAxis, panels: tuple[Panel, ...]) -> Plot:
    """The panels under a shared time axis, fault marks and shaded fault window."""
    span = axis.hi - axis.lo
    fx = axis.fx
    xticks = tuple(Tick(fx(v), _time_label(v, span)) for v in _time_ticks(axis.lo, axis.hi))
    marks = tuple(Mark(x, phase, label, 10 + row * ROW + 10, anchor) for x, phase, label, row, anchor in axis.placed)
    shade = None if axis.window is None else (fx(axis.window[0]), fx(axis.window[1]))
    return Plot(
        width=WIDTH,
        height=panels[-1].bottom + BOTTOM,
        left=LEFT,
        right=WIDTH - RIGHT_MARGIN,
        panels=panels,
        xticks=xticks,
        x_label="seconds since run start" if span < 300 else "time since run start ([h:]mm:ss)",
        shade=shade,
        marks=marks,
    )


def build_plot(ts: TimeSeries, threshold_ms: float) -> Plot:
    """Latency panel (p50/p95/p99 and the threshold) above a throughput panel (req/s, errors/s)."""
    axis = time_axis(ts.offsets, ts.faults, ts.window, ts.end_offset)
    fx = axis.fx
    lat_top = axis.panels_top
    lat_bottom = lat_top + LAT_HEIGHT
    quantiles = [v for v in ts.p50_ms + ts.p95_ms + ts.p99_ms if v is not None]
    fy, lat_ticks, lat_label = value_scale(quantiles, threshold_ms, lat_top, lat_bottom, "latency, ms", floor=0.1)
    lat = Panel(
        top=lat_top,
        height=LAT_HEIGHT,
        y_label=lat_label,
        lines=tuple(
            Line(name, css, _segments(ts.offsets, values, fx, fy))
            for name, css, values in (("p50", "p50", ts.p50_ms), ("p95", "p95", ts.p95_ms), ("p99", "p99", ts.p99_ms))
        ),
        ticks=lat_ticks,
        threshold_y=fy(threshold_ms),
        threshold_label=f"p95 SLO {threshold_ms:g} ms",
    )

    t_top = lat_bottom + GAP
    fr, r_ticks = _count_scale(ts.rps, t_top, t_top + TPUT_HEIGHT)
    fe, e_ticks = _count_scale(ts.errors_per_s, t_top, t_top + TPUT_HEIGHT)
    tput = Panel(
        top=t_top,
        height=TPUT_HEIGHT,
        y_label="throughput, req/s",
        lines=(
            Line("req/s", "rps", _segments(ts.offsets, ts.rps, fx, fr)),
            Line("errors/s", "eps", _segments(ts.offsets, ts.errors_per_s, fx, fe)),
        ),
        ticks=r_ticks,
        right_label="errors/s",
        right_ticks=e_ticks,
    )

    return frame(axis, (lat, tput))
