"""Runs the Locust search load as a separate process for the length of a drill."""

from __future__ import annotations

import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import loadgen
from gameday import loadstats
from gameday.history import History, LoadSecond, Marker, from_json
from gameday.lab import procs
from gameday.verdicts import LoadSummary

LOCUSTFILE = Path(loadgen.__file__).with_name("locustfile.py")
# A load generator using more than this share of a core is saturated, and the
# latency it measures includes its own queueing.
SATURATED_CPU = 0.9
# Achieving less than this share of the requested rate means it could not hold the rate.
HELD_RATE = 0.95


@dataclass(frozen=True)
class LoadPlan:
    rate: float
    target_url: str
    max_duration_s: int
    users_per_100_rps: int
    timetable: dict[str, str]  # GAMEDAY_TIMETABLE_* settings, so queries hit seeded routes

    @property
    def users(self) -> int:
        return max(1, math.ceil(self.rate / 100 * self.users_per_100_rps))


class LoadRun:
    def __init__(self, plan: LoadPlan, out_dir: Path) -> None:
        self.plan = plan
        self.out_dir = out_dir
        self.out_file = out_dir / "load-local.jsonl"
        self.tracked: procs.Tracked | None = None
        self.started_at = 0.0
        self.cpu_fraction = 0.0

    def start(self) -> procs.Tracked:
        plan = self.plan
        argv = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", str(plan.users), "-r", str(plan.users), "-t", f"{plan.max_duration_s}s",
            "-H", plan.target_url, "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "2",
        ]  # fmt: skip
        env = {
            "GAMEDAY_RATE": str(plan.rate),
            "GAMEDAY_LOAD_OUT": str(self.out_file),
            "GAMEDAY_WORKER": "local",
            **plan.timetable,
        }
        self.started_at = time.time()
        self.tracked = procs.spawn("locust", argv, self.out_dir / "locust.log", env=env, tier="load")
        return self.tracked

    def stop(self) -> None:
        """SIGTERM lets Locust flush its last second (SIGINT may be ignored by a process a
        non-interactive shell started in the background); the run-time bound is the backstop."""
        t = self.tracked
        if t is None:
            return
        self.cpu_fraction = _cpu_fraction(t.pid, time.time() - self.started_at)
        if t.alive():
            t.signal(signal.SIGTERM)
            if not t.wait_gone(10):
                t.end(2)

    def records(self) -> list[LoadSecond]:
        if not self.out_file.exists():
            return []
        return [r for r in (from_json(line) for line in self.out_file.read_text().splitlines() if line.strip()) if isinstance(r, LoadSecond)]

    def marker(self) -> Marker:
        return Marker(
            t=time.time(),
            name="load.stopped",
            detail=f"requested_rate={self.plan.rate} users={self.plan.users} generator_cpu={self.cpu_fraction:.2f}",
        )


def _cpu_fraction(pid: int, wall_s: float) -> float:
    """Share of one core the process used over its life (utime + stime)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / 100.0 / max(wall_s, 1e-6)


def summarize(history: History) -> LoadSummary | None:
    """Whole-run load figures; requested rate and generator CPU come from the load marker."""
    seconds = history.of(LoadSecond)
    marker = next((m for m in history.of(Marker) if m.name == "load.stopped"), None)
    if not seconds or marker is None:
        return None
    info = dict(part.split("=", 1) for part in marker.detail.split())
    requested = float(info["requested_rate"])
    hist = loadstats.merged(s.hist for s in seconds)
    requests = sum(s.requests for s in seconds)
    span = max(s.t for s in seconds) - min(s.t for s in seconds) + 1
    achieved = requests / span
    cpu = float(info.get("generator_cpu", 0))
    return LoadSummary(
        requested_rate=requested,
        achieved_rate=round(achieved, 1),
        p50_ms=loadstats.percentile_ms(hist, 50),
        p95_ms=loadstats.percentile_ms(hist, 95),
        p99_ms=loadstats.percentile_ms(hist, 99),
        requests=requests,
        errors=sum(s.failures for s in seconds),
        generator_saturated=cpu > SATURATED_CPU or achieved < HELD_RATE * requested,
    )
