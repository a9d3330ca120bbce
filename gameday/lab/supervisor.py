"""The lab supervisor: brings tiers up in order, tracks every PID, tears all down.

Every process is recorded in the state file the moment it starts; `down`
ends them by PID (SIGTERM, then SIGKILL), sweeps the AZ namespaces for
anything left, and removes the network guard last. `down` is idempotent and
works from the state file alone, so it also cleans up after a killed harness.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from typing import Callable

from gameday import procs
from gameday.errors import InputError, LabError
from gameday.lab import azgroups, network, partition, state
from gameday.lab.components import ComponentSpec, wait_healthy
from gameday.lab.network import Topology, choose_isolation
from gameday.lab.state import LabState
from gameday.lab.tiers import STREAMING_TIERS, TIERS, LabContext, depth, scratch_env, scratch_root, with_dependencies
from gameday.profile import Profile, with_defaults
from gameday.target import Role

# Stateless, and reached by no one at an address of their own: an orchestrator may start
# them in another AZ (Lab.reschedule).
MOVABLE_ROLES = (Role.INGEST,)

Progress = Callable[[str], None]


def stderr_progress(start: float) -> Progress:
    def say(message: str) -> None:
        print(f"[{time.monotonic() - start:6.1f}s] {message}", file=sys.stderr, flush=True)

    return say


def build_specs(ctx: LabContext, tiers: list[str]) -> list[ComponentSpec]:
    """Every component of the given tiers, in start order. Renders their configs."""
    from gameday.lab.tiers import api, cassandra, metrics, redis, search

    out: list[ComponentSpec] = []
    if "cassandra" in tiers:
        out += cassandra.specs(ctx)
    if "redis" in tiers:
        out += redis.specs(ctx)
    if "search" in tiers:
        out += search.specs(ctx)
    api_specs = api.specs(ctx, search.urls(ctx) if "search" in tiers else []) if "api" in tiers else []
    out += api_specs
    if "metrics" in tiers:
        out += metrics.specs(ctx, [f"{s.address}:{s.port}" for s in api_specs if s.tier == "api" and s.az])
    from gameday.lab.tiers import flink, ingest, kafka, stream, zookeeper

    for name, module in (("zookeeper", zookeeper), ("kafka", kafka), ("flink", flink), ("ingest", ingest)):
        if name in tiers:
            out += module.specs(ctx)
    if "stream" in tiers:  # with the search tier, the applier keeps the index current too
        out += stream.specs(ctx, search.urls(ctx) if "search" in tiers else [])
    if "dr" in tiers:
        from gameday.lab.tiers import dr

        out += dr.specs(ctx)
    return out


def tier_hook(hook: str, ctx: LabContext, tiers: list[str], *args) -> None:
    """Run `prepare(ctx)` (fresh data, before configs render at `lab up`) or
    `ready(ctx, say)` (after a tier's processes are healthy) of tiers that define it."""
    import importlib

    for tier in tiers:
        fn = getattr(importlib.import_module(f"gameday.lab.tiers.{tier}"), hook, None)
        if fn is not None:
            fn(ctx, *args)


@dataclass
class ComponentStatus:
    name: str
    tier: str
    az: str
    pid: int
    state: str  # healthy | unhealthy | frozen | dead
    problem: str = ""
    restarts: int = 0  # by the keeper (the restart policy)


class Lab:
    def __init__(self, profile: Profile, progress: Progress | None = None) -> None:
        self.profile = profile
        self.home = profile.home
        self.say = progress or (lambda message: None)

    # --- state -----------------------------------------------------------------
    def state(self) -> LabState | None:
        return state.load(self.home)

    def require_state(self) -> LabState:
        current = self.state()
        if current is None or not current.components:
            raise LabError("the lab is not running", hint="start it with: gameday lab up")
        return current

    def context(self, st: LabState) -> LabContext:
        return LabContext(Profile(with_defaults(st.profile), "lab state"), st.topology, self.home, tuple(st.tiers))

    # --- up ----------------------------------------------------------------------
    def up(self, tiers: list[str]) -> LabState:
        unknown = [t for t in tiers if t not in TIERS]
        if unknown:
            raise InputError(f"unknown tier(s): {', '.join(unknown)}", hint=f"tiers: {', '.join(TIERS)}")
        tiers = with_dependencies(tiers)
        existing = self.state()
        if existing is not None:
            if existing.components and all(t.alive() for t in existing.components.values()) and set(tiers) <= set(existing.tiers):
                self.say(f"lab already up with tiers {', '.join(existing.tiers)}")
                return existing
            raise LabError("a lab state file exists from an earlier lab", hint="run `gameday lab down` first")
        started = time.time()
        p = self.profile
        topo = Topology(choose_isolation(p.get("lab.isolation")), p.get("lab.subnet"), p.get("lab.bridge"), p.get("lab.dr_subnet"))
        strays = network.namespace_pids(topo)
        if strays:
            # Another lab home's processes (the namespaces are shared by name): started over
            # them, every component failed on addresses they still held.
            pids = ", ".join(str(pid) for pid, _ in strays[:5])
            raise LabError(f"{len(strays)} processes of another lab still run in the lab's network namespaces (pid {pids})",
                           hint="stop that lab with `gameday lab down --profile PROFILE`, PROFILE naming its lab.home")
        st = LabState(topology=topo, profile=p.data, tiers=tiers, started_at=started)
        state.save(self.home, st)  # before anything exists, so `down` can always clean up
        shutil.rmtree(scratch_root(self.home), ignore_errors=True)
        try:
            self._bring_up(st, tiers)
        except BaseException:
            self.say("lab up failed: logs are kept under " + str(self.home / "logs") + "; run `gameday lab down` to clean up")
            raise
        self._start_keeper(st)
        if "dr" in tiers:
            self._start_promoter(st)
            if "search" in tiers:
                from gameday.lab.dr import snapshots

                tracked = self._start_helper(st, snapshots.NAME, "gameday.lab.dr.snapshots")
                self.say(f"started the index snapshots (pid {tracked.pid}): every {self.profile.get('dr.snapshot_interval_s'):g} s to the DR object storage")
        st.ready_at = time.time()
        state.update(self.home, lambda now: setattr(now, "ready_at", st.ready_at))
        self.say(f"lab ready in {st.ready_at - started:.1f} s ({len(st.components)} processes, {topo.isolation.value})")
        return st

    def _bring_up(self, st: LabState, tiers: list[str]) -> None:
        topo = st.topology
        network.create(topo, dr="dr" in tiers)
        self.say(f"network: {topo.isolation.value}, AZ addresses {', '.join(topo.address(az) for az in network.AZS)}"
                 + (f", DR region {topo.address(network.DR_AZ)}" if "dr" in tiers else ""))
        groups = azgroups.for_lab(topo.bridge)
        if groups is not None:
            cores = self.profile.get("lab.az_cpu_cores")
            groups.create(network.AZS, cores)
            self.say(f"per-AZ control groups: {groups.lab}, " + (f"each AZ capped at {cores:g} cores" if cores > 0 else "no CPU cap (lab.az_cpu_cores: 0)"))
        ctx = self.context(st)
        tier_hook("prepare", ctx, tiers)
        specs = build_specs(ctx, tiers)
        for spec in specs:
            if spec.address and spec.az:
                network.assert_routed_locally(topo, spec.address)
        timeout = self.profile.get("lab.start_timeout_s")
        # Wave by wave: a tier starts once the tiers it needs are up; a wave's processes
        # start together (the slow JVMs first, everything independent of them meanwhile).
        # Seeding runs alone: beside the Flink JVMs' start it took 4x longer on 2 cores.
        for wave in sorted({depth(s.tier) for s in specs}):
            # Standby components (the DR region's serving path) start with a promotion.
            batch = [s for s in specs if depth(s.tier) == wave and not s.standby]
            for spec in batch:
                self._start(st, spec)
            for spec in batch:
                self._await(st, spec, timeout)
            if wave == 0 and "cassandra" in tiers:
                self._seed(ctx)
            tier_hook("ready", ctx, [t for t in tiers if depth(t) == wave], self.say)

    def _start_keeper(self, st: LabState) -> None:
        """The restart policy's keeper (gameday.lab.keeper), when the policy is `always` and
        the lab has processes it keeps: a helper, so `lab down` ends it first."""
        from gameday.lab import keeper

        if self.profile.get("lab.restart.policy") != "always":
            return
        kept = [n for n, c in st.components.items() if c.role in keeper.RESTARTED_ROLES]
        if not kept:
            return
        tracked = self._start_helper(st, keeper.NAME, "gameday.lab.keeper")
        self.say(f"started the keeper (pid {tracked.pid}): restarts {', '.join(kept)} when they die (lab.restart.policy: always)")

    def _start_helper(self, st: LabState, name: str, module: str) -> procs.Tracked:
        """A process of the lab's own that watches its state file (`--home`), tracked as a
        helper: `lab down` ends it before any component."""
        tracked = procs.spawn(name, [sys.executable, "-m", module, "--home", str(self.home)], self.home / "logs" / f"{name}.log")
        st.helpers[name] = tracked
        self.track_helper(tracked)
        return tracked

    def _start_promoter(self, st: LabState) -> None:
        """The DR region's automated promoter (gameday.lab.dr.promoter), a helper like the keeper."""
        from gameday.lab.dr import promoter

        if self.profile.get("dr.promoter") != "auto":
            self.say("DR promoter: manual (dr.promoter): the region is promoted only by `gameday dr promote`")
            return
        tracked = self._start_helper(st, promoter.NAME, "gameday.lab.dr.promoter")
        self.say(f"started the DR promoter (pid {tracked.pid}): promotes the region after {self.profile.get('dr.decision_wait_s'):g} s without the primary")

    def start_standby(self, name: str, timeout_s: float | None = None) -> float:
        """Start a standby component (the DR region's serving path); seconds to healthy. One
        already running is left be (0)."""
        st = self.require_state()
        if name in st.components and st.components[name].alive():
            return 0.0
        spec = self.specs_by_name(st).get(name)
        if spec is None or not spec.standby:
            raise LabError(f"no standby component named {name!r} in this lab", hint="the dr tier has them: gameday lab up --tiers ...,dr")
        began = time.monotonic()
        self._start(st, spec)
        self._await(st, spec, timeout_s or self.profile.get("lab.start_timeout_s"))
        return time.monotonic() - began

    def lose_region(self) -> tuple[float, list[str]]:
        """The whole primary region fails at once: every AZ marked lost (the keeper restarts
        nothing there), then every live process of every AZ SIGKILLed together. The DR region
        and the host's shared services (the global entry point, metrics) stay."""
        self.require_state()
        state.update(self.home, lambda now: now.lost_azs.extend(az for az in network.AZS if az not in now.lost_azs))
        st = self.require_state()
        names = [n for n, t in st.components.items() if t.az in network.AZS and t.alive()]
        at = time.time()
        for name in names:
            st.components[name].signal(signal.SIGKILL)
        return at, names

    def base_nice(self, spec: ComponentSpec) -> int:
        """The streaming tiers run at `lab.streaming_nice`: in production they have nodes of
        their own; here a Flink job restart's burst of CPU starved the API instances' health
        checks until HAProxy had none left (10 s of 503s in a TaskManager drill)."""
        if spec.standby:  # the DR region's serving path, once promoted
            return 0
        return self.profile.get("lab.streaming_nice") if spec.tier in STREAMING_TIERS else 0

    def _start(self, st: LabState, spec: ComponentSpec, extra_args: list[str] | None = None, nice: int | None = None) -> procs.Tracked:
        nice = self.base_nice(spec) if nice is None else nice
        # `ip netns exec` execs its command (as `nice` does, see procs.spawn): the tracked PID is the component's.
        inside = [] if spec.host_network else st.topology.exec_prefix(spec.az)
        groups = azgroups.for_lab(st.topology.bridge) if spec.az else None
        joined = groups.enter_prefix(spec.az) if groups is not None and groups.v2_dir(spec.az).is_dir() else []
        argv = joined + inside + spec.argv + (extra_args or [])
        log = self.home / "logs" / f"{spec.name}.log"
        env = {**scratch_env(self.home, spec.name), **spec.env}
        tracked = procs.spawn(spec.name, argv, log, cwd=spec.cwd, env=env, az=spec.az, tier=spec.tier, role=spec.role.value if spec.role else "", nice=nice)
        st.components[spec.name] = tracked
        state.update(self.home, lambda now: now.components.__setitem__(spec.name, tracked))
        self.say(f"started {spec.name} ({spec.az or 'host'}, pid {tracked.pid})")
        return tracked

    def _await(self, st: LabState, spec: ComponentSpec, timeout: float) -> None:
        for attempt in range(spec.start_retries + 1):
            tracked = st.components[spec.name]
            try:
                waited = wait_healthy(spec, timeout, tracked.alive)
                break
            except RuntimeError as exc:  # it exited while starting
                if attempt < spec.start_retries:
                    self.say(f"{spec.name} exited while starting: starting it again ({attempt + 1} of {spec.start_retries}; see {tracked.log})")
                    self._start(st, spec)
                    continue
                raise LabError(str(exc), hint=f"see {tracked.log}") from None
            except TimeoutError as exc:
                raise LabError(str(exc), hint=f"see {tracked.log}") from None
        self.say(f"{spec.name} healthy after {waited:.1f} s")

    def _seed(self, ctx: LabContext) -> None:
        from gameday.lab.seeding import seed_timetable

        s = seed_timetable(ctx)
        self.say(f"seeded {s.flights} flights into the store in {s.seed_s:.1f} s")
        if s.warm_reads:
            self.say(f"store read path warmed: {s.warm_reads} reads in {s.warm_s:.1f} s"
                     f" ({s.warm_reads / max(s.warm_s, 1e-9):.0f}/s)")
        if s.compactions_settled:
            self.say(f"store compactions done {s.compaction_wait_s:.1f} s later")
        else:
            self.say(f"store still compacting after {s.compaction_wait_s:.0f} s: the first drill may see it")

    # --- status and faults ---------------------------------------------------------
    def specs_by_name(self, st: LabState) -> dict[str, ComponentSpec]:
        return {s.name: s for s in build_specs(self.context(st), st.tiers)}

    def status(self) -> list[ComponentStatus]:
        st = self.require_state()
        specs = self.specs_by_name(st)
        out = []
        for name, tracked in st.components.items():
            restarts = len(st.restarts.get(name, []))
            if not tracked.alive():
                out.append(ComponentStatus(name, tracked.tier, tracked.az, tracked.pid, "dead", restarts=restarts))
            elif tracked.frozen():
                out.append(ComponentStatus(name, tracked.tier, tracked.az, tracked.pid, "frozen", restarts=restarts))
            else:
                problem = specs[name].health() if name in specs else "no health check"
                out.append(ComponentStatus(name, tracked.tier, tracked.az, tracked.pid, "unhealthy" if problem else "healthy", problem or "", restarts))
        return out

    def keeper(self) -> procs.Tracked | None:
        """The restart policy's keeper, when the lab started one."""
        from gameday.lab.keeper import NAME

        st = self.state()
        return st.helpers.get(NAME) if st else None

    def helper(self, name: str) -> procs.Tracked | None:
        """A helper the lab started (keeper, DR promoter), when it did."""
        st = self.state()
        return st.helpers.get(name) if st else None

    def component(self, name: str) -> procs.Tracked:
        st = self.require_state()
        if name not in st.components:
            raise LabError(f"no lab component named {name!r}", hint=f"components: {', '.join(st.components)}")
        return st.components[name]

    def send(self, name: str, sig: signal.Signals) -> float:
        """Send a signal to one component; returns the instant it was sent."""
        tracked = self.component(name)
        if sig is not signal.SIGCONT and not tracked.alive():
            raise LabError(f"{name} is not running (pid {tracked.pid})")
        at = time.time()
        if not tracked.signal(sig):
            raise LabError(f"could not signal {name} (pid {tracked.pid})")
        if sig is signal.SIGKILL:
            tracked.wait_gone(5)
        return at

    def lose_az(self, az: str) -> tuple[float, list[str]]:
        """The AZ fails whole: marked lost first (so the keeper restarts nothing there; it
        starts a dead adapter in another AZ), then every live process in it is SIGKILLed at once."""
        self.require_state()
        state.update(self.home, lambda now: now.lost_azs.append(az) if az not in now.lost_azs else None)
        return self.kill_az(az)

    def regain_az(self, az: str) -> list[str]:
        """The AZ is back: start its dead processes again, the tiers others need first
        (ZooKeeper, Kafka, ... the API and adapters last), each once healthy. Returns those it
        started, in order.
        One by one on purpose: started wave by wave as at `lab up`, the regain took 224 s
        instead of 142-175 s, and the JVMs starting together starved the serving path (30 % of
        searches failed in that drill)."""
        st = self.require_state()
        order = {t: i for i, t in enumerate(TIERS)}
        down = sorted((n for n, t in st.components.items() if t.az == az and not t.alive()),
                      key=lambda n: (depth(st.components[n].tier), order.get(st.components[n].tier, 99)))  # fmt: skip
        state.update(self.home, lambda now: now.lost_azs.remove(az) if az in now.lost_azs else None)
        started = []
        for name in down:
            # The keeper restarts the API instances and adapters as soon as the AZ is usable
            # again: one it already started is left running, not killed and started twice.
            if self.component(name).alive():
                continue
            self.restart(name)
            started.append(name)
        return started

    def partition_az(self, az: str, mode: partition.PartitionMode | str) -> float:
        """Cut the AZ off the network (gameday.lab.partition); returns the instant the rules
        held. Its processes keep running; the keeper still restarts what dies there."""
        from gameday.lab.tiers import search

        mode = partition.PartitionMode(mode)
        st = self.require_state()
        ctx = self.context(st)
        ports = {z: search.http_port(ctx, z) for z in search.node_azs(ctx)} if "search" in st.tiers else {}
        partition.install(st.topology, az, mode, ports)
        at = time.time()
        state.update(self.home, lambda now: now.partitioned.__setitem__(az, mode.value))
        return at

    def heal_az(self, az: str) -> float:
        """Remove the AZ's partition (idempotent); returns the instant."""
        st = self.require_state()
        partition.remove(st.topology, az)
        at = time.time()
        state.update(self.home, lambda now: now.partitioned.pop(az, None))
        return at

    def kill_az(self, az: str, sig: signal.Signals = signal.SIGKILL) -> tuple[float, list[str]]:
        st = self.require_state()
        names = [n for n, t in st.components.items() if t.az == az and t.alive()]
        at = time.time()
        for name in names:
            st.components[name].signal(sig)
        return at, names

    def restart(self, name: str, extra_args: list[str] | None = None, timeout_s: float | None = None) -> float:
        """Start a stopped component again with its recorded config; returns seconds to healthy."""
        st = self.require_state()
        tracked = self.component(name)
        if tracked.alive():
            tracked.end(self.profile.get("lab.stop_grace_s"))
        spec = self.specs_by_name(st).get(name)
        if spec is None:
            raise LabError(f"cannot rebuild the spec of {name}")
        if extra_args is None and spec.tier == "redis" and name.startswith("redis-"):
            from gameday.lab.tiers.redis import rejoin_args

            extra_args = rejoin_args(self.context(st), name)
        return self._start_again(st, spec, extra_args, timeout_s)

    def _start_again(self, st: LabState, spec: ComponentSpec, extra_args: list[str] | None, timeout_s: float | None) -> float:
        """Start at `lab.restart_nice` (a restart must not starve the serving path), back to
        the tier's own nice once healthy, or once the wait for it gave up (a node left niced
        after a timeout starved on: a store node that missed its 180 s stayed at nice 10 and
        answered reads at a 2.4 s p95 in the next drill); returns seconds to healthy."""
        base, nice = self.base_nice(spec), max(self.base_nice(spec), self.profile.get("lab.restart_nice"))
        tracked = self._start(st, spec, extra_args, nice=nice)
        began = time.monotonic()
        try:
            self._await(st, spec, timeout_s or self.profile.get("lab.start_timeout_s"))
        finally:
            if nice != base and not procs.renice_threads(tracked.pid, base):
                self.say(f"{spec.name} stays at nice {nice}: could not renice it to {base} (not root?)")
        return time.monotonic() - began

    def reschedule(self, name: str, az: str, timeout_s: float | None = None) -> float:
        """Start a dead stateless component in another AZ, as an orchestrator reschedules a
        pod off a node it lost; it stays there (a pod does not move back). Only what no other
        component is configured to reach at its address can move: the ingestion adapters
        (an API instance is listed by address in HAProxy's configuration). Returns seconds
        to healthy."""
        st = self.require_state()
        tracked = self.component(name)
        if tracked.alive():
            raise LabError(f"{name} is running in {tracked.az}: only a dead component is rescheduled")
        spec = self.specs_by_name(st).get(name)
        if spec is None or spec.role not in MOVABLE_ROLES:
            raise LabError(f"{name} cannot move to another AZ", hint=f"movable: the {', '.join(r.value for r in MOVABLE_ROLES)} tier")
        if az not in network.AZS:
            raise LabError(f"no AZ {az!r} in this lab", hint=f"known: {', '.join(network.AZS)}")
        return self._start_again(st, dataclasses.replace(spec, az=az, address=st.topology.address(az)), None, timeout_s)

    # --- helpers a run starts (load generators) -------------------------------------
    def track_helper(self, tracked: procs.Tracked) -> None:
        state.update(self.home, lambda now: now.helpers.__setitem__(tracked.name, tracked))

    def forget_helper(self, name: str) -> None:
        state.update(self.home, lambda now: now.helpers.pop(name, None))

    # --- down ------------------------------------------------------------------------
    def down(self) -> int:
        """End every tracked process, sweep the namespaces, remove the network. Idempotent."""
        st = self.state()
        if st is None:
            self.say("no lab state: nothing to stop")
            return 0
        grace = st.profile.get("lab", {}).get("stop_grace_s", 10)
        if any(t.alive() for t in st.components.values()):
            try:  # planned stop: e.g. the stream job takes a savepoint first
                tier_hook("before_down", self.context(st), st.tiers, self.say)
            except Exception as exc:  # never let it block cleanup
                self.say(f"before stopping: {exc}")
        ended = 0
        for t in st.helpers.values():  # first: the keeper must not restart what is stopped next
            if t.alive():
                t.end(grace)
                ended += 1
                self.say(f"stopped {t.name} (pid {t.pid})")
        # Every component at once: each JVM takes seconds to stop (an OpenSearch node the full
        # 10 s grace), and one by one that was 36 s for a serving lab.
        stopping = [t for t in reversed(list(st.components.values())) if t.alive()]
        for t in stopping:
            t.signal(signal.SIGCONT)
            t.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for t in stopping:
            if not t.wait_gone(max(0.0, deadline - time.monotonic())):
                t.signal(signal.SIGKILL)
                t.wait_gone(5)
            ended += 1
            self.say(f"stopped {t.name} (pid {t.pid})")
        for pid, netns in network.namespace_pids(st.topology):
            if procs.end_in_namespace(pid, netns, 2):
                ended += 1
                self.say(f"stopped stray pid {pid} found in a lab namespace")
        partition.remove_all(st.topology)
        network.destroy(st.topology)
        groups = azgroups.for_lab(st.topology.bridge)
        for problem in groups.destroy(network.AZS) if groups else []:
            self.say(f"could not remove a control group: {problem}")
        shutil.rmtree(scratch_root(self.home), ignore_errors=True)
        state.remove(self.home)
        self.say(f"lab down: {ended} processes ended, network removed")
        return ended
