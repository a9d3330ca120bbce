"""The plan's decision rule as a pure state machine: "promoted if primary region down > 5
min". The promoter feeds it one observation per poll (what it saw of the primary's serving
path, and when, on a monotonic clock) and acts on what it returns; nothing here reads a
clock, sleeps or touches the lab, so the rule is tested on its own (tests/unit).

The wait is for one unbroken outage: a single answer from the primary before the wait is
over starts it again. Promoting a region whose primary still answers leaves two regions
taking writes (split brain), a worse outcome than promoting a few seconds later.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Seen(enum.Enum):
    ANSWERED = "answered"  # an API instance of the primary region answered /health
    SILENT = "silent"  # none did


class Act(enum.Enum):
    WATCH = "watch"  # nothing new: keep polling
    DOWN = "down"  # the primary just went silent: the wait begins (record primary-down)
    BACK = "back"  # it answered before the wait was over: the wait is off (record primary-back)
    PROMOTE = "promote"  # silent for the whole wait: promote now, once


@dataclass(frozen=True)
class Decision:
    act: Act
    down_for_s: float = 0.0  # how long the primary had been silent (DOWN: 0; WATCH while up: 0)


class DecisionClock:
    """Observations in, decisions out. After PROMOTE it only returns WATCH: a region is
    promoted once."""

    def __init__(self, wait_s: float) -> None:
        if wait_s < 0:
            raise ValueError(f"a decision wait is at least 0 s, got {wait_s}")
        self.wait_s = wait_s
        self.down_since: float | None = None
        self.promoted = False
        self._last: float | None = None

    def observe(self, t: float, seen: Seen) -> Decision:
        if self._last is not None and t < self._last:
            raise ValueError(f"observations go forward in time: {t} after {self._last}")
        self._last = t
        if self.promoted:
            return Decision(Act.WATCH)
        if seen is Seen.ANSWERED:
            if self.down_since is None:
                return Decision(Act.WATCH)
            down_for, self.down_since = t - self.down_since, None
            return Decision(Act.BACK, down_for)
        if self.down_since is None:
            # Even with a 0 s wait: the detection is recorded before any promotion.
            self.down_since = t
            return Decision(Act.DOWN)
        down_for = t - self.down_since
        if down_for >= self.wait_s:
            self.promoted = True
            return Decision(Act.PROMOTE, down_for)
        return Decision(Act.WATCH, down_for)
