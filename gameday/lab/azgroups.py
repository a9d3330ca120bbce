"""One control group per AZ: the AZ's share of the host's CPU, and the handle a partition
uses to tell an AZ's sockets apart where addresses cannot (the search nodes' transport).

In production an AZ has hosts of its own; on a shared 2-core host "losing an AZ" means
something for capacity only if each AZ's processes run under a CPU quota of their own
(`lab.az_cpu_cores`). The kernel mechanism is CFS bandwidth control: `cpu.max` on a pure
cgroup v2 host, `cpu.cfs_quota_us` on a hybrid host whose cpu controller is still v1 (as
this one). Every AZ process also joins the v2 group, which nftables matches by socket
(`socket cgroupv2`).

A process joins its groups before it runs: the argv is prefixed with a shell that writes
its own PID into each group's `cgroup.procs` and execs the command (the tracked PID stays
the component's, and nothing it forks escapes the group).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import LabError

CGROUP_ROOT = Path("/sys/fs/cgroup")
# The CFS period, the kernel's default. A group that spent its quota waits for the next
# period; with a 10 ms period every GC pause or compaction burst throttled the AZ (80 % of
# periods), and p95 was 68-75 ms at 20 req/s with 0.5 cores per AZ. With 100 ms and a burst
# of one period's quota (unused quota banked for a burst), p95 stayed 20-37 ms up to 100 req/s.
PERIOD_US = 100_000


@dataclass(frozen=True)
class Hierarchy:
    """Where the groups live on this host: the v2 tree (membership, nftables) and the
    tree that has the cpu controller (the quota)."""

    v2: Path
    cpu: Path
    cpu_is_v2: bool

    @staticmethod
    def detect(root: Path = CGROUP_ROOT) -> Hierarchy | None:
        controllers = root / "cgroup.controllers"
        if controllers.exists():  # pure v2
            return Hierarchy(root, root, True) if "cpu" in controllers.read_text().split() else Hierarchy(root, root, False)
        unified, v1cpu = root / "unified", root / "cpu"
        if (unified / "cgroup.procs").exists() and (v1cpu / "cgroup.procs").exists():
            return Hierarchy(unified, v1cpu, False)
        return None


@dataclass(frozen=True)
class AzGroups:
    """The lab's groups: `<root>/<lab>/<az>` in each tree (one lab name per bridge, so two
    labs never share a group)."""

    lab: str
    hierarchy: Hierarchy

    def v2_dir(self, az: str) -> Path:
        return self.hierarchy.v2 / self.lab / az

    def cpu_dir(self, az: str) -> Path:
        return self.hierarchy.cpu / self.lab / az

    def dirs(self, az: str) -> list[Path]:
        return list(dict.fromkeys([self.v2_dir(az), self.cpu_dir(az)]))

    def nft_path(self, az: str) -> str:
        """The AZ's v2 group as `socket cgroupv2` names it: nftables resolves the path under
        /sys/fs/cgroup, whatever the v2 tree's mount point."""
        return str(self.v2_dir(az).relative_to(CGROUP_ROOT))

    @property
    def nft_level(self) -> int:
        """The group's depth below the v2 root (lab, az)."""
        return 2

    def create(self, azs: tuple[str, ...], cpu_cores: float) -> None:
        """Make every AZ's groups; `cpu_cores` > 0 caps each AZ at that many cores."""
        try:
            (self.hierarchy.v2 / self.lab).mkdir(exist_ok=True)
            if self.hierarchy.cpu_is_v2 and cpu_cores > 0:  # a v2 group gets a controller only from its parent
                for parent in (self.hierarchy.v2, self.hierarchy.v2 / self.lab):
                    (parent / "cgroup.subtree_control").write_text("+cpu")
            for az in azs:
                for d in self.dirs(az):
                    d.mkdir(parents=True, exist_ok=True)
                self._set_quota(az, cpu_cores)
        except OSError as exc:
            raise LabError(f"could not make the lab's per-AZ control groups: {exc}", hint="run as root on a host with cgroup v2 (or a v1 cpu controller)") from None

    def _set_quota(self, az: str, cores: float) -> None:
        quota = int(cores * PERIOD_US) if cores > 0 else -1
        cpu = self.cpu_dir(az)
        burst = max(quota, 0)
        if self.hierarchy.cpu_is_v2:
            (cpu / "cpu.max").write_text(f"{quota if quota > 0 else 'max'} {PERIOD_US}")
            if (cpu / "cpu.max.burst").exists():
                (cpu / "cpu.max.burst").write_text(str(burst))
        elif (cpu / "cpu.cfs_quota_us").exists():
            (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            if (cpu / "cpu.cfs_burst_us").exists():  # must fit the quota: lowered before it
                (cpu / "cpu.cfs_burst_us").write_text("0")
            (cpu / "cpu.cfs_quota_us").write_text(str(quota))
            if (cpu / "cpu.cfs_burst_us").exists():
                (cpu / "cpu.cfs_burst_us").write_text(str(burst))
        elif cores > 0:
            raise OSError(f"no cpu controller in {cpu}")

    def quota_cores(self, az: str) -> float | None:
        """The AZ's CPU cap as the kernel holds it (None: none)."""
        cpu = self.cpu_dir(az)
        try:
            if self.hierarchy.cpu_is_v2:
                quota, period = (cpu / "cpu.max").read_text().split()
            else:
                quota, period = (cpu / "cpu.cfs_quota_us").read_text().strip(), (cpu / "cpu.cfs_period_us").read_text().strip()
        except (OSError, ValueError):
            return None
        return None if quota in ("max", "-1") else int(quota) / int(period)

    def throttling(self, az: str) -> tuple[int, int] | None:
        """(periods, throttled periods) the AZ's cpu group has counted so far; None without one."""
        try:
            stat = dict(line.split()[:2] for line in (self.cpu_dir(az) / "cpu.stat").read_text().splitlines() if line.strip())
            return int(stat["nr_periods"]), int(stat["nr_throttled"])
        except (OSError, KeyError, ValueError):
            return None

    def enter_prefix(self, az: str) -> list[str]:
        """argv prefix: join the AZ's groups, then exec the rest (the PID is kept). The cpu
        controller's group only when the AZ has a cap: a group of its own changes how the
        kernel shares the CPU between AZs even uncapped (one weight per AZ instead of one per
        thread), and the lab's nice levels were tuned without it."""
        dirs = self.dirs(az) if self.quota_cores(az) is not None else [self.v2_dir(az)]
        writes = "; ".join(f"echo $$ > {d / 'cgroup.procs'}" for d in dirs)
        return ["sh", "-c", f'{writes} && exec "$@"', "gameday-az"]

    def members(self, az: str) -> list[int]:
        try:
            return [int(p) for p in (self.v2_dir(az) / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def destroy(self, azs: tuple[str, ...]) -> list[str]:
        """Remove the groups (idempotent); what could not be removed, and why."""
        problems = []
        for az in azs:
            for d in self.dirs(az):
                try:
                    if d.exists():
                        d.rmdir()
                except OSError as exc:
                    problems.append(f"{d}: {exc.strerror}")
        for tree in {self.hierarchy.v2, self.hierarchy.cpu}:
            try:
                if (tree / self.lab).exists():
                    (tree / self.lab).rmdir()
            except OSError as exc:
                problems.append(f"{tree / self.lab}: {exc.strerror}")
        return problems


def for_lab(bridge: str, root: Path = CGROUP_ROOT) -> AzGroups | None:
    """The lab's groups, or None where this host has no usable cgroup tree (or no root)."""
    if os.geteuid() != 0:
        return None
    hierarchy = Hierarchy.detect(root)
    return AzGroups(f"gameday_{bridge.replace('-', '_')}", hierarchy) if hierarchy else None
