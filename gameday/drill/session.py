"""One drill in progress: its run directory, history recorder, target, load and monitors.

The runner creates it; gameday's Chaos Toolkit control (gameday.drill.control) drives
load and monitors through it. Under a bare `chaos run` there is no session, and the
control records nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gameday.drill import hostload, stops
from gameday.drill.experiment import DrillSettings
from gameday.history import (
    BASELINE_END,
    HOST_BUSY,
    HOST_SETTLED,
    LOAD_STARTED,
    MONITORS_STARTED,
    MONITORS_STOPPED,
    PLATFORM_SETTLED,
    PLATFORM_UNSETTLED,
    STEADY_STATE_ONLY,
    STOPS_ARMED,
    WARMUP_END,
    Inventory,
    Marker,
    Recorder,
)
from gameday.load.run import LoadPlan, LoadRun, timetable_env
from gameday.monitors import Sampler, region, split_brain, start_all, stream_watch
from gameday.monitors import store as store_client
from gameday.profile import Profile
from gameday.target import Role, Target

current: "Session | None" = None


@dataclass
class Session:
    run_dir: Path
    target: Target
    drill: DrillSettings
    profile: Profile  # the run's one profile (gameday.profile.live)
    recorder: Recorder = field(init=False)
    load: LoadRun | None = None
    samplers: list[Sampler] = field(default_factory=list)
    stream_monitor: "stream_watch.StreamMonitor | None" = None
    store_writer: "store_client.StoreWriter | None" = None
    started_at: float = 0.0
    settled_at: float | None = field(default=None, init=False)  # when settling moved something back before the run
    say: Callable[[str], None] = print
    stop_watcher: "stops.StopWatcher | None" = None
    _stopped: bool = field(default=False, init=False)
    _cpu_at_start: hostload.CpuTimes | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.recorder = Recorder(self.run_dir / "history.jsonl")

    def mark(self, name: str, detail: str = "") -> None:
        self.recorder.add(Marker(t=time.time(), name=name, detail=detail))

    def settle_host(self) -> None:
        """Let the lab host's CPU pressure fall before the drill (see gameday.drill.hostload)."""
        if not self.target.runs_locally:
            return
        limit, max_wait = self.profile.get("host.settle_pressure_pct"), self.profile.get("host.settle_max_wait_s")
        if max_wait <= 0:
            return
        pressure, waited, settled = hostload.wait_until_settled(limit, max_wait, self.say)
        if pressure is None:
            return
        if settled:
            self.mark(HOST_SETTLED, f"cpu pressure {pressure} after waiting {waited:.0f} s")
            if waited:
                self.say(f"host CPU pressure {pressure} after {waited:.0f} s: starting")
        else:
            self.mark(HOST_BUSY, f"cpu pressure {pressure} still above {limit:g} % after {waited:.0f} s")
            self.say(f"host CPU pressure still {pressure} after {waited:.0f} s: starting anyway; timing figures may show the host, not the platform")

    def settle_platform(self) -> None:
        """What an earlier drill left moved goes back before this one (Target.settle); a
        failure is recorded, not fatal: the steady-state check still judges the start."""
        try:
            done = self.target.settle(self.drill.tiers)
        except Exception as exc:
            self.mark(PLATFORM_UNSETTLED, f"{type(exc).__name__}: {exc}")
            self.say(f"could not put the platform back at rest ({type(exc).__name__}: {exc}); starting anyway")
            return
        for line in done:
            self.mark(PLATFORM_SETTLED, line)
        if done:
            self.settled_at = time.time()
            self.say(f"platform put back at rest: {len(done)} change(s), e.g. {done[0]}")

    def start(self) -> None:
        say = self.say
        self.settle_platform()
        self.settle_host()
        self.started_at = time.time()
        self._cpu_at_start = hostload.cpu_times()
        for role in Role:  # what the checkers expect to see sampled (e.g. every Sentinel)
            self.recorder.add(Inventory(t=self.started_at, role=role.value, components=tuple(self.target.components(role))))
        if self.drill.steady_state_only:
            self.mark(STEADY_STATE_ONLY, "the method injects no fault")
        self.samplers = start_all(self.recorder, self.target, tiers=self.drill.tiers)
        if self.counts_split_brain:
            self.samplers += [s.start() for s in split_brain.samplers(self.recorder, self.target, self.profile, self.started_at)]
            self.samplers += [s.start() for s in split_brain.claim_samplers(self.recorder, self.target)]
            say(f"split-brain writer: a key every {split_brain.INTERVAL_S:g} s to each Redis server answering master "
                f"(acknowledged when WAIT sees {self.profile.get('redis.client_wait_replicas')} replica(s))")
        if region.wanted(self.drill.tiers):
            self.samplers.append(region.entry_sampler(self.recorder, self.target, self.profile).start())
            say("entry-point searcher: a search a second through the global entry point (which region answers, and with what)")
        if stream_watch.wanted(self.drill.tiers):
            delivery = stream_watch.delivery_record(self.target, self.profile, self.started_at)
            if delivery is not None:  # which of the plan's readings this run measures
                self.recorder.add(delivery)
                say(delivery.describe())
            canary = "freshness.searchable" in self.drill.slos
            self.stream_monitor = stream_watch.StreamMonitor(self.target, self.profile, self.run_dir, canary)
            self.stream_monitor.start()
            say(f"streaming monitor started (pid {self.stream_monitor.tracked.pid}){' with the freshness canary' if canary else ''}")
        if store_client.wanted(self.drill.slos) or (region.wanted(self.drill.tiers) and region.writes_store(self.drill.slos)):
            self.store_writer = store_client.writer(self.recorder, self.target, self.profile).start()
            say(f"store writer: {self.store_writer.rate:g} price updates/s at {self.store_writer.consistency}")
        extra = (["streaming"] if self.stream_monitor else []) + ([self.store_writer.name] if self.store_writer else [])
        self.mark(MONITORS_STARTED, ", ".join([s.name for s in self.samplers] + extra))
        if self.drill.rate > 0:
            plan = LoadPlan(
                rate=self.drill.rate,
                target_url=self.target.lb_url(),
                max_duration_s=self.drill.max_duration_s,
                timetable=timetable_env(self.profile),
                shape=self.drill.shape,
                shape_params=self.drill.shape_params,
                processes=self.drill.processes or self.profile.get("load.processes"),
            )
            self.load = LoadRun(plan, self.run_dir, self.target)
            self.load.start()
            self.mark(LOAD_STARTED, f"rate={plan.rate} shape={plan.shape.value} processes={plan.processes} url={plan.target_url}")
            say(f"load: {plan.shape.value} {plan.rate:g} req/s (open model, {plan.processes} generator process(es)) against {plan.target_url}")
        say(f"warming up for {self.drill.warmup_s:g} s, then {self.drill.baseline_s:g} s of baseline before the steady-state check")
        time.sleep(self.drill.warmup_s)
        self.mark(WARMUP_END)
        time.sleep(self.drill.baseline_s)
        self.mark(BASELINE_END)

    def arm_stops(self) -> None:
        """Watch the stop conditions while the method runs (the load's records are live)."""
        if not self.drill.stop_conditions or self.load is None:
            return
        self.stop_watcher = stops.StopWatcher(self.drill.stop_conditions, self.load.out_dir, self.recorder.add, self.say)
        self.mark(STOPS_ARMED, "; ".join(c.describe() for c in self.drill.stop_conditions))
        self.stop_watcher.arm()

    def disarm_stops(self) -> None:
        if self.stop_watcher is not None:
            self.stop_watcher.disarm()

    @property
    def counts_split_brain(self) -> bool:
        return "redis" in self.drill.tiers and split_brain.wanted(self.drill.slos)

    @property
    def running(self) -> bool:
        return not self._stopped and (bool(self.samplers) or self.load is not None or self.stream_monitor is not None)

    def stop(self) -> None:
        """Cool down, stop load and monitors, and fold the load's records into the history.
        Runs once; an interrupt during the cool-down only shortens it."""
        if self._stopped:
            return
        self._stopped = True
        self.disarm_stops()
        if self.load is not None and self.load.tracked is not None:
            self.say(f"cooling down for {self.drill.cooldown_s:g} s after the method")
            try:
                time.sleep(self.drill.cooldown_s)
            except KeyboardInterrupt:
                pass
            self.load.stop()
            self.recorder.extend(self.load.records())
            self.recorder.add(self.load.marker())
        for sampler in self.samplers:
            sampler.stop()
        self.samplers = []
        # A region drill reads its writes back from the DR region itself (region.measure).
        reads_back = self.store_writer is not None and store_client.wanted(self.drill.slos)
        if self.store_writer is not None:
            self.store_writer.stop()
            self.store_writer = None
        cutoff = time.time()
        if self.stream_monitor is not None:
            self.recorder.extend(self.stream_monitor.stop())
            self.stream_monitor = None
        pressure, cpu = hostload.cpu_pressure(), hostload.cpu_times()
        usage = cpu.since(self._cpu_at_start) if cpu and self._cpu_at_start else ""
        self.mark(MONITORS_STOPPED, "; ".join(x for x in (f"host cpu pressure {pressure}" if pressure else "", usage) if x))
        if usage:
            self.say(f"over the run: {usage}")
        if reads_back:
            try:
                self.recorder.extend(store_client.read_back_run(self.recorder.path, self.target, self.profile, self.say))
            except KeyboardInterrupt:
                self.say("store read-back interrupted: its SLO will read unknown")
        if self.counts_split_brain:
            try:
                self.recorder.add(split_brain.read_back_run(self.recorder.path, self.target, self.say))
            except KeyboardInterrupt:
                self.say("Redis read-back interrupted: the split-brain SLOs will read unknown")
        if stream_watch.AUDITED & set(self.drill.slos):
            try:
                self.recorder.extend(stream_watch.audit(self.target, self.profile, self.run_dir, self.started_at or cutoff, cutoff, self.say,
                                                          settled_at=self.settled_at))
            except KeyboardInterrupt:
                self.say("audit interrupted: its SLOs will read unknown")
        if region.MEASURED & set(self.drill.slos):
            try:
                self.recorder.extend(region.measure(self.target, self.profile, self.recorder.path, self.run_dir, self.started_at or cutoff, self.say, audit="dr.rpo" in self.drill.slos))
            except KeyboardInterrupt:
                self.say("region audit interrupted: its SLOs will read unknown")
        self.recorder.close()
