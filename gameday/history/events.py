"""What happened in a run, besides measurements: faults, Chaos Toolkit activities,
milestones. Marker names are defined here once, for whoever writes or reads them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from gameday.history.record import Record


class FaultPhase(str, enum.Enum):
    INJECTED = "injected"
    REVERTED = "reverted"


@dataclass(frozen=True)
class FaultEvent(Record):
    """A fault the nemesis injected or reverted. `t` is the instant it took effect."""

    kind: ClassVar[str] = "fault"
    phase: FaultPhase
    fault: str  # semantic name, e.g. "redis.kill_primary"
    component: str  # e.g. "redis-a"
    az: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ActivityEvent(Record):
    """A Chaos Toolkit activity starting or ending (from gameday's control)."""

    kind: ClassVar[str] = "activity"
    name: str
    activity_type: str  # "action" | "probe"
    phase: str  # "start" | "end"
    status: str = ""  # chaostoolkit's status on "end": succeeded | failed
    detail: str = ""


@dataclass(frozen=True)
class Marker(Record):
    """A run milestone (load started, steady state checked, run ended...)."""

    kind: ClassVar[str] = "marker"
    name: str
    detail: str = ""


@dataclass(frozen=True)
class StopTripped(Record):
    """A stop condition held long enough: the method was halted (gameday.drill.stops).
    `t` is the end of the second that tripped it; `since` the first second it held."""

    kind: ClassVar[str] = "drill.halt"
    condition: str
    measure: str
    bound: str  # "above" | "below"
    threshold: float
    value: float  # the measure in the tripping second
    held_s: float
    since: float

    def describe(self) -> str:
        return f"{self.condition} ({self.measure} {self.value:g}, {self.bound} {self.threshold:g} for {self.held_s:g} s)"


# Marker names: the drill's own milestones.
WARMUP_END = "warmup.end"
BASELINE_END = "baseline.end"
MONITORS_STARTED = "monitors.started"
MONITORS_STOPPED = "monitors.stopped"
MONITOR_RESTARTED = "monitor.restarted"
LOAD_STARTED = "load.started"
LOAD_STOPPED = "load.stopped"
PROFILE_APPLIED = "profile.applied"
STOPS_ARMED = "drill.stops_armed"  # the stop conditions watched while the method ran
STEADY_STATE_ONLY = "drill.steady_state_only"  # the method injects no fault (e.g. freshness)
HOST_SETTLED = "host.settled"
HOST_BUSY = "host.busy"
PLATFORM_SETTLED = "platform.settled"  # what the target put back before the drill (Target.settle)
PLATFORM_UNSETTLED = "platform.unsettled"  # settling failed; the drill goes on
