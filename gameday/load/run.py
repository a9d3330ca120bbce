"""Runs the Locust search load as separate processes for the length of a drill,
and judges afterwards whether the generator itself held up."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

import loadgen
from gameday import procs
from gameday.history import LOAD_STOPPED, History, LoadSecond, Marker, from_json
from gameday.load import latency, shapes
from gameday.spec import catalog

LOCUSTFILE = Path(loadgen.__file__).with_name("locustfile.py")
# When the generator's figures stop being the platform's (CPU share, stalls, rate held):
# the catalog's load_generator limits.
LIMITS = catalog().load_generator
# Generator processes one machine can usefully run (Locust master/worker).
MAX_PROCESSES = 64


@dataclass(frozen=True)
class LoadSummary:
    requested_rate: float
    achieved_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    requests: int
    errors: int
    generator_saturated: bool


@dataclass(frozen=True)
class LoadPlan:
    rate: float
    target_url: str
    max_duration_s: int
    timetable: dict[str, str]  # GAMEDAY_TIMETABLE_* settings, so queries hit seeded routes
    shape: shapes.ShapeKind = shapes.ShapeKind.STEADY
    shape_params: dict[str, float] = field(default_factory=dict)
    processes: int = 1

    def make_shape(self) -> shapes.Shape:
        return shapes.make_shape(self.shape, self.rate, **self.shape_params)


def timetable_env(profile) -> dict[str, str]:
    """The timetable settings the store was seeded with, as the locustfile reads them."""
    return {f"GAMEDAY_TIMETABLE_{k.upper()}": str(v) for k, v in profile.get("timetable").items()}


class LoadRun:
    def __init__(self, plan: LoadPlan, out_dir: Path, target=None) -> None:
        self.plan = plan
        self.out_dir = out_dir
        self.target = target  # when given, it tracks the generator (`lab down` ends it)
        self.tracked: procs.Tracked | None = None
        self.started_at = 0.0
        self.stopped_at = 0.0
        self.cpu: list[float] = []

    def start(self) -> procs.Tracked:
        plan = self.plan
        n = plan.processes
        argv = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", str(n), "-r", str(n), "-t", f"{plan.max_duration_s}s",
            "-H", plan.target_url, "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "2",
        ] + (["--processes", str(n)] if n > 1 else [])  # fmt: skip
        env = {
            "GAMEDAY_RATE": str(plan.rate),
            "GAMEDAY_USERS": str(n),
            "GAMEDAY_SHAPE": plan.shape.value,
            "GAMEDAY_LOAD_OUT": str(self.out_dir / "load-{worker}.jsonl"),
            **{f"GAMEDAY_SHAPE_{k.upper()}": str(v) for k, v in plan.shape_params.items()},
            **plan.timetable,
        }
        self.started_at = time.time()
        self.tracked = procs.spawn("locust", argv, self.out_dir / "locust.log", env=env, tier="load")
        # The generator is the measuring instrument: on a machine it shares with the whole
        # platform it gets the CPU first (workers it forks inherit this), so an overloaded
        # platform shows as platform latency rather than as a stalled generator.
        if os.geteuid() == 0:
            try:
                os.setpriority(os.PRIO_PROCESS, self.tracked.pid, -10)
            except OSError:
                pass
        if self.target is not None:  # so `lab down` ends it even if this harness is killed
            self.target.track_helper(self.tracked)
        return self.tracked

    def generator_cpu(self) -> list[float]:
        """Share of a core each generator process (master and workers) used so far."""
        if self.tracked is None or not self.tracked.alive():
            return []
        try:
            root = psutil.Process(self.tracked.pid)
            out = []
            for p in [root, *root.children(recursive=True)]:
                t = p.cpu_times()
                out.append((t.user + t.system) / max(time.time() - p.create_time(), 1e-6))
            return out
        except psutil.Error:
            return []

    def stop(self) -> None:
        """SIGTERM lets Locust flush its last second (SIGINT may be ignored by a process a
        non-interactive shell started in the background); the run-time bound is the backstop."""
        t = self.tracked
        if t is None:
            return
        self.cpu = self.generator_cpu()
        self.stopped_at = time.time()
        workers = self._workers()
        if t.alive():
            t.signal(signal.SIGTERM)
            if not t.wait_gone(15):
                t.end(2)
        # The workers Locust forked (--processes) outlived their master and were still
        # writing their load files when the run was sealed (a signed run of 2026-12-03 failed
        # `gameday verify`: both load-*.jsonl changed): they end before the run goes on.
        _, left = psutil.wait_procs(workers, timeout=10)
        for p in left:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=5)
        if self.target is not None:
            self.target.forget_helper(t.name)

    def _workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.tracked.pid).children(recursive=True) if self.tracked and self.tracked.alive() else []
        except psutil.Error:
            return []

    def records(self) -> list[LoadSecond]:
        out: list[LoadSecond] = []
        for path in sorted(self.out_dir.glob("load-*.jsonl")):
            out += [r for r in (from_json(line) for line in path.read_text().splitlines() if line.strip()) if isinstance(r, LoadSecond)]
        return out

    def marker(self) -> Marker:
        detail = {
            "requested_rate": self.plan.rate,
            "shape": self.plan.shape.value,
            "shape_params": self.plan.shape_params,
            "processes": self.plan.processes,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "generator_cpu": [round(c, 3) for c in self.cpu],
        }
        return Marker(t=self.stopped_at, name=LOAD_STOPPED, detail=json.dumps(detail))


def load_info(history: History) -> dict | None:
    marker = next((m for m in history.of(Marker) if m.name == LOAD_STOPPED), None)
    return json.loads(marker.detail) if marker else None


def stall_share(seconds: list[LoadSecond]) -> float:
    """Share of the time the arrival clock was stalled; each worker's first second
    (Locust warming up) is left out."""
    first: dict[str, float] = {}
    for s in seconds:
        first[s.worker] = min(first.get(s.worker, s.t), s.t)
    counted = [s for s in seconds if s.t != first[s.worker]]
    return sum(s.lag_ms for s in counted) / 1000.0 / max(len(counted), 1)


def generator_problem(history: History, seconds: list[LoadSecond]) -> str | None:
    """Why latency measured in these seconds is not the platform's latency at the requested
    load: the generator stalled or was CPU-bound (it measured its own delays), or it could
    not issue every arrival (the platform saw a lighter load than asked)."""
    info = load_info(history)
    if info and any(c > LIMITS.max_cpu_share for c in info.get("generator_cpu", [])):
        return f"the load generator was CPU-saturated (cores used per process: {info['generator_cpu']})"
    share = stall_share(seconds)
    if share > LIMITS.max_stall_share:
        return f"the load generator's event loop stalled {share:.1%} of the time (limit {LIMITS.max_stall_share:.0%})"
    dropped = sum(s.dropped for s in seconds)
    if dropped:
        offered = sum(s.offered for s in seconds)
        return f"{dropped} of {offered + dropped} arrivals could not be issued (too many requests outstanding), so the platform saw less than the requested load"
    return None


def summarize(history: History) -> LoadSummary | None:
    """Whole-run load figures: requested (the shape), offered, achieved, merged percentiles."""
    seconds = history.of(LoadSecond)
    info = load_info(history)
    if not seconds or info is None:
        return None
    hist = latency.merged(s.hist for s in seconds)
    requests = sum(s.requests for s in seconds)
    # The generator's own clock starts when its first second is written (after Locust's
    # start-up), so the shape is integrated over the seconds it actually ran.
    span = max(s.t for s in seconds) - min(s.t for s in seconds) + 1
    offered = sum(s.offered for s in seconds)
    shape = shapes.make_shape(info["shape"], info["requested_rate"], **info.get("shape_params", {}))
    requested = max(shapes.requested_between(shape, 0, span), 1.0)
    saturated = generator_problem(history, seconds) is not None or offered < LIMITS.min_held_share * requested
    return LoadSummary(
        requested_rate=info["requested_rate"],
        achieved_rate=round(requests / span, 1),
        p50_ms=latency.percentile_ms(hist, 50),
        p95_ms=latency.percentile_ms(hist, 95),
        p99_ms=latency.percentile_ms(hist, 99),
        requests=requests,
        errors=sum(s.failures for s in seconds),
        generator_saturated=saturated,
    )
