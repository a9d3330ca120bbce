"""Stop conditions: halt a drill that hurts more than its owners agreed to (as AWS FIS stop
conditions and Gremlin's halts do).

An experiment declares them in its `gameday` extension:

    "stop_conditions": [
      {"name": "api-errors", "measure": "api.error_rate", "above": 0.05, "for_s": 10},
      {"name": "search-down", "measure": "api.answered_per_s", "below": 1, "for_s": 30}
    ]

While the method runs, the watcher reads the load generator's per-second records as they are
written (the same records the checkers judge later) and feeds each complete second to every
condition. A condition that holds for `for_s` consecutive seconds trips: the trip is recorded
in the run's history, the method is stopped the way Chaos Toolkit stops it gracefully
(SIGUSR1: the current activity ends, the rollbacks run), and the run ends `halted`.

The parsing and the clock are pure; only `StopWatcher` reads files and sends the signal.
"""

from __future__ import annotations

import enum
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from gameday.errors import InputError
from gameday.history import LoadSecond, StopTripped, from_json
from gameday.load import latency


class LiveMeasure(str, enum.Enum):
    """What a stop condition can watch: per second, over every load worker."""

    API_ERROR_RATE = "api.error_rate"  # failed / completed searches (0-1)
    API_ANSWERED_PER_S = "api.answered_per_s"  # searches answered without error
    API_P95_MS = "api.p95_ms"  # latency p95 of the second's searches, ms

    @property
    def unit(self) -> str:
        return {LiveMeasure.API_ERROR_RATE: "", LiveMeasure.API_ANSWERED_PER_S: "/s", LiveMeasure.API_P95_MS: " ms"}[self]


class Bound(str, enum.Enum):
    ABOVE = "above"
    BELOW = "below"


MAX_FOR_S = 3600.0


@dataclass(frozen=True)
class StopCondition:
    name: str
    measure: LiveMeasure
    bound: Bound
    threshold: float
    for_s: float

    def holds(self, value: float) -> bool:
        return value > self.threshold if self.bound is Bound.ABOVE else value < self.threshold

    def describe(self) -> str:
        return f"{self.name}: {self.measure.value} {self.bound.value} {self.threshold:g}{self.measure.unit} for {self.for_s:g} s"


def parse_conditions(raw: Any, where: str) -> list[StopCondition]:
    """The extension's `stop_conditions`, or InputError naming the entry and field."""
    if not isinstance(raw, list):
        raise InputError(f"{where}: field 'stop_conditions' must be a list, got {type(raw).__name__}")
    out: list[StopCondition] = []
    for i, entry in enumerate(raw):
        at = f"{where}.stop_conditions[{i}]"
        if not isinstance(entry, dict):
            raise InputError(f"{at}: must be a mapping with name, measure, above or below, for_s")
        extra = sorted(map(str, set(entry) - {"name", "measure", "above", "below", "for_s"}))
        if extra:
            raise InputError(f"{at}: unknown field(s) {', '.join(extra)}", hint="known fields: name, measure, above, below, for_s")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{at}: field 'name' must be a non-empty string")
        measure = entry.get("measure")
        if measure not in [m.value for m in LiveMeasure]:
            raise InputError(f"{at}: field 'measure' must be one of {', '.join(m.value for m in LiveMeasure)}, got {measure!r}"[:300])
        bounds = [b for b in Bound if b.value in entry]
        if len(bounds) != 1:
            raise InputError(f"{at}: give exactly one of 'above' and 'below'")
        threshold = _number(entry, bounds[0].value, at)
        for_s = _number(entry, "for_s", at) if "for_s" in entry else 1.0
        if not 1 <= for_s <= MAX_FOR_S:
            raise InputError(f"{at}: field 'for_s' must be 1 to {MAX_FOR_S:g} seconds, got {for_s:g}")
        out.append(StopCondition(name.strip(), LiveMeasure(measure), bounds[0], threshold, for_s))
    names = [c.name for c in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"{where}: stop condition name(s) {', '.join(twice)} used more than once")
    return out


def _number(entry: dict[str, Any], key: str, at: str) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{at}: field '{key}' must be a number, got {value!r}"[:300])
    return float(value)


@dataclass
class LiveSecond:
    """One second of search load over every worker."""

    t: float
    requests: int = 0
    failures: int = 0
    hists: list[str] = field(default_factory=list)

    def value(self, measure: LiveMeasure) -> float | None:
        """The measure in this second; None when the second says nothing about it."""
        if measure is LiveMeasure.API_ANSWERED_PER_S:
            return float(self.requests - self.failures)
        if not self.requests:
            return None
        if measure is LiveMeasure.API_ERROR_RATE:
            return self.failures / self.requests
        return latency.percentile_ms(latency.merged(self.hists), 95.0)


@dataclass
class ConditionClock:
    """How long one condition has held, second by second (pure: fed, never reads)."""

    condition: StopCondition
    since: float | None = None  # first second of the current run of holding seconds

    def observe(self, second: LiveSecond) -> StopTripped | None:
        value = second.value(self.condition.measure)
        if value is None:  # no evidence either way: the run of seconds neither grows nor breaks
            return None
        if not self.condition.holds(value):
            self.since = None
            return None
        if self.since is None:
            self.since = second.t
        held = second.t - self.since + 1
        if held < self.condition.for_s:
            return None
        c = self.condition
        return StopTripped(t=second.t + 1, condition=c.name, measure=c.measure.value, bound=c.bound.value,
                           threshold=c.threshold, value=round(value, 4), held_s=held, since=self.since)  # fmt: skip


def seconds_from(records: Iterable[LoadSecond], complete_before: float, after: float) -> list[LiveSecond]:
    """Per-second totals of the records whose second is in [after, complete_before), in order."""
    by_t: dict[float, LiveSecond] = {}
    for r in records:
        if after <= r.t < complete_before:
            s = by_t.setdefault(r.t, LiveSecond(r.t))
            s.requests += r.requests
            s.failures += r.failures
            s.hists.append(r.hist)
    return [by_t[t] for t in sorted(by_t)]


# A worker writes a second just after it ends; two more seconds let every worker's line land.
SETTLE_S = 2.0
POLL_S = 0.5


class StopWatcher:
    """Watches the live load records while armed; on a trip, records it and stops the method."""

    def __init__(self, conditions: list[StopCondition], load_dir: Path, record: Callable[[StopTripped], None],
                 say: Callable[[str], None], stop_method: Callable[[], None] | None = None) -> None:  # fmt: skip
        self.clocks = [ConditionClock(c) for c in conditions]
        self.load_dir = load_dir
        self.record = record
        self.say = say
        self.stop_method = stop_method or (lambda: os.kill(os.getpid(), signal.SIGUSR1))  # chaoslib's graceful exit
        self.tripped: StopTripped | None = None
        self._armed = False
        self._done_upto = 0.0
        self._offsets: dict[Path, int] = {}
        self._pending: list[LoadSecond] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self) -> None:
        with self._lock:
            self._armed, self._done_upto = True, float(math.floor(time.time()))
        self._thread = threading.Thread(target=self._loop, name="stop-conditions", daemon=True)
        self._thread.start()
        self.say("stop conditions armed: " + "; ".join(c.condition.describe() for c in self.clocks))

    def disarm(self) -> None:
        """After it returns no trip is sent (the rollbacks must not be cut short)."""
        with self._lock:
            self._armed = False
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _read_new(self) -> None:
        for path in sorted(self.load_dir.glob("load-*.jsonl")):
            start = self._offsets.get(path, 0)
            with path.open("rb") as fh:
                fh.seek(start)
                chunk = fh.read()
            end = chunk.rfind(b"\n") + 1  # a line still being written is read next time
            self._offsets[path] = start + end
            for line in chunk[:end].decode().splitlines():
                rec = from_json(line) if line.strip() else None
                if isinstance(rec, LoadSecond):
                    self._pending.append(rec)

    def check(self, now: float) -> StopTripped | None:
        """Feed every second completed by `now` to the clocks; the first trip, if any."""
        self._read_new()
        complete = math.floor(now - SETTLE_S)
        seconds = seconds_from(self._pending, complete, self._done_upto)
        self._pending = [r for r in self._pending if r.t >= complete]
        self._done_upto = max(self._done_upto, complete)
        for second in seconds:
            for clock in self.clocks:
                trip = clock.observe(second)
                if trip is not None:
                    return trip
        return None

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                trip = self.check(time.time())
            except (OSError, ValueError) as exc:  # a watcher that cannot read must say so, not halt
                self.say(f"stop conditions: cannot read the load records ({exc}); still watching")
                continue
            if trip is None:
                continue
            with self._lock:
                if not self._armed:
                    return
                self.tripped = trip
                self.record(trip)
                self.say(f"STOP CONDITION {trip.describe()}: halting the method; the rollbacks run")
                self._armed = False
                self.stop_method()
            return
