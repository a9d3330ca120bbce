"""Load shapes for an open-model load: each is one `tick(t)` returning the arrival rate.

`tick(t)` takes seconds since the load started and returns requests/s to issue at
that moment, or None when the shape is over. Shapes are pure, so generators in
several processes (each issuing its share) follow the same curve.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class ShapeKind(str, enum.Enum):
    STEADY = "steady"
    SURGE = "surge"
    STEP = "step"


@dataclass(frozen=True)
class Steady:
    """`rate` throughout; with `ramp_s`, rising linearly to it from 5 % over the first
    `ramp_s` seconds (inside the drill's warm-up): traffic fills a cold cache as it grows,
    as it does in production, instead of every first search missing at the full rate."""

    rate: float
    duration_s: float | None = None
    ramp_s: float = 0.0

    def tick(self, t: float) -> float | None:
        if self.duration_s is not None and t >= self.duration_s:
            return None
        if t < self.ramp_s:
            return self.rate * max(t / self.ramp_s, 0.05)
        return self.rate


@dataclass(frozen=True)
class Surge:
    """The plan's holiday surge: baseline, ramp up to `factor` x, hold, ramp down, baseline."""

    rate: float
    factor: float = 10.0
    lead_s: float = 20.0
    ramp_s: float = 20.0
    hold_s: float = 60.0
    duration_s: float | None = None

    def tick(self, t: float) -> float | None:
        if self.duration_s is not None and t >= self.duration_s:
            return None
        peak = self.rate * self.factor
        up, top, down = self.lead_s, self.lead_s + self.ramp_s, self.lead_s + self.ramp_s + self.hold_s
        if t < up:
            return self.rate
        if t < top:
            return self.rate + (peak - self.rate) * (t - up) / self.ramp_s
        if t < down:
            return peak
        if t < down + self.ramp_s:
            return peak - (peak - self.rate) * (t - down) / self.ramp_s
        return self.rate


@dataclass(frozen=True)
class StepUp:
    """Capacity search: `rate`, then + `step` every `step_s` seconds, until `max_rate`."""

    rate: float
    step: float = 500.0
    step_s: float = 20.0
    max_rate: float = 6000.0

    @property
    def steps(self) -> list[float]:
        out, r = [], self.rate
        while r <= self.max_rate + 1e-9:
            out.append(r)
            r += self.step
        return out

    def tick(self, t: float) -> float | None:
        index = int(t // self.step_s)
        steps = self.steps
        return steps[index] if index < len(steps) else None

    def step_at(self, t: float) -> int | None:
        index = int(t // self.step_s)
        return index if index < len(self.steps) else None


Shape = Steady | Surge | StepUp


# What a generator is ever asked for: beyond it a number is a typo, not a load (one open-model
# process issues ~6,000 req/s; a surge multiplies the base rate).
MAX_RATE = 100_000.0
MAX_STEPS = 1000
MAX_SECONDS = 24 * 3600.0


def _within(name: str, value: float, low: float, high: float, low_open: bool = True) -> float:
    """A finite number in range, or ValueError naming the parameter."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (value <= low if low_open else value < low) or value > high:
        raise ValueError(f"{name} must be {'above' if low_open else 'at least'} {low:g} and at most {high:g}, got {value:g}")
    return float(value)


def make_shape(kind: ShapeKind | str, rate: float, duration_s: float | None = None, **params: float) -> Shape:
    """A shape, checked: finite positive rates and durations, a bounded number of steps."""
    kind = ShapeKind(kind)
    _within("load rate", rate, 0, MAX_RATE)
    if duration_s is not None:
        _within("duration_s", duration_s, 0, MAX_SECONDS)
    if kind is ShapeKind.STEADY:
        extra = sorted(set(params) - {"ramp_s"})
        if extra:
            raise TypeError(f"a steady shape takes only ramp_s, got {', '.join(extra)}")
        shape = Steady(rate, duration_s, **params)
        _within("ramp_s", shape.ramp_s, 0, MAX_SECONDS, low_open=False)
        return shape
    if kind is ShapeKind.SURGE:
        shape = Surge(rate, duration_s=duration_s, **params)
        _within("factor", shape.factor, 1, MAX_RATE / rate, low_open=False)
        for name in ("lead_s", "hold_s"):
            _within(name, getattr(shape, name), 0, MAX_SECONDS, low_open=False)
        _within("ramp_s", shape.ramp_s, 0, MAX_SECONDS)
        return shape
    shape = StepUp(rate, **params)
    _within("step", shape.step, 0, MAX_RATE)
    _within("step_s", shape.step_s, 0, MAX_SECONDS)
    _within("max_rate", shape.max_rate, rate, MAX_RATE, low_open=False)
    if (shape.max_rate - rate) / shape.step + 1 > MAX_STEPS:
        raise ValueError(f"a step shape of at most {MAX_STEPS} steps: ({shape.max_rate:g} - {rate:g}) / {shape.step:g} is more")
    return shape


def requested_between(shape: Shape, t0: float, t1: float, dt: float = 0.05) -> float:
    """Requests the shape asks for between t0 and t1 (seconds since load start)."""
    total, t = 0.0, t0
    while t < t1:
        step = min(dt, t1 - t)
        r0, r1 = shape.tick(t), shape.tick(t + step)
        if r0 is None or r1 is None:
            break
        total += (r0 + r1) / 2 * step
        t += step
    return total


def arrivals_due(shape: Shape, t_prev: float, t_now: float, carry: float, share: float = 1.0) -> tuple[int, float]:
    """Whole arrivals between two ticks (rate integrated by the trapezoid rule; `share` of
    it for one of several generators), and the fractional remainder to carry, so no
    fraction of the target rate is ever lost."""
    r0, r1 = shape.tick(t_prev), shape.tick(t_now)
    if r0 is None or r1 is None:
        return 0, carry
    due = carry + share * (r0 + r1) / 2 * (t_now - t_prev)
    whole = int(due)
    return whole, due - whole
