"""Load shapes for an open-model load: each is one `tick(t)` returning the arrival rate.

`tick(t)` takes seconds since the load started and returns requests/s to issue at
that moment, or None when the shape is over. Shapes are pure, so generators in
several processes (each issuing its share) follow the same curve.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ShapeKind(str, enum.Enum):
    STEADY = "steady"
    SURGE = "surge"
    STEP = "step"


@dataclass(frozen=True)
class Steady:
    rate: float
    duration_s: float | None = None

    def tick(self, t: float) -> float | None:
        if self.duration_s is not None and t >= self.duration_s:
            return None
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


def make_shape(kind: ShapeKind | str, rate: float, duration_s: float | None = None, **params: float) -> Shape:
    kind = ShapeKind(kind)
    if rate <= 0:
        raise ValueError(f"load rate must be positive, got {rate}")
    if kind is ShapeKind.STEADY:
        return Steady(rate, duration_s)
    if kind is ShapeKind.SURGE:
        return Surge(rate, duration_s=duration_s, **params)
    return StepUp(rate, **params)


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
