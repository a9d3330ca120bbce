"""The lab host's CPU pressure (Linux PSI), and waiting for it to settle before a drill.

On a 2-core host the lab itself is the noisy neighbour: right after `lab up` the JVMs are
still compiling and Cassandra is compacting the seed data, and a drill started then
measures the lab's boot, not the platform. `/proc/pressure/cpu` "some avg10" is the share of the last 10 s in
which some runnable task waited for a CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

PSI_CPU = Path("/proc/pressure/cpu")
PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class Pressure:
    avg10: float
    avg60: float
    avg300: float

    def __str__(self) -> str:
        return f"{self.avg10:.0f} % (avg60 {self.avg60:.0f} %, avg300 {self.avg300:.0f} %)"


def parse(text: str) -> Pressure | None:
    for line in text.splitlines():
        if line.startswith("some "):
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            try:
                return Pressure(float(fields["avg10"]), float(fields["avg60"]), float(fields["avg300"]))
            except (KeyError, ValueError):
                return None
    return None


def cpu_pressure(path: Path = PSI_CPU) -> Pressure | None:
    """None where the kernel has no PSI (then there is nothing to wait for)."""
    try:
        return parse(path.read_text())
    except OSError:
        return None


def wait_until_settled(
    limit_pct: float,
    max_wait_s: float,
    say: Callable[[str], None],
    read: Callable[[], Pressure | None] = cpu_pressure,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = 2.0,
) -> tuple[Pressure | None, float, bool]:
    """Poll until avg10 <= limit_pct or max_wait_s passes: (last reading, seconds waited,
    settled). Bounded: a host that never settles costs max_wait_s, then the drill goes on
    and the run records that it started on a busy host."""
    waited, last_said = 0.0, -10.0
    while True:
        pressure = read()
        if pressure is None or pressure.avg10 <= limit_pct:
            return pressure, waited, True
        if waited >= max_wait_s:
            return pressure, waited, False
        if waited - last_said >= 10:
            say(f"host CPU pressure {pressure}; waiting for it to fall to {limit_pct:g} % before the drill ({waited:.0f} of at most {max_wait_s:g} s)")
            last_said = waited
        sleep(poll_s)
        waited += poll_s


@dataclass(frozen=True)
class CpuTimes:
    """The host's aggregate CPU ticks (/proc/stat "cpu" line): all, idle (with iowait), steal."""

    total: int
    idle: int
    steal: int

    def since(self, earlier: "CpuTimes") -> str:
        """How busy the host was between two readings, and how much the hypervisor took: a
        virtual machine's neighbours can slow every process of the lab at once, and a
        latency figure from such a run shows the host as much as the platform."""
        total = max(self.total - earlier.total, 1)
        busy = 100 * (total - (self.idle - earlier.idle)) / total
        steal = 100 * (self.steal - earlier.steal) / total
        return f"host CPUs {busy:.0f} % busy, {steal:.1f} % stolen by the hypervisor"


def cpu_times(path: Path = PROC_STAT) -> CpuTimes | None:
    try:
        line = path.read_text().splitlines()[0].split()
        ticks = [int(v) for v in line[1:]]
    except (OSError, IndexError, ValueError):
        return None
    if line[0] != "cpu" or len(ticks) < 8:
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    return CpuTimes(total=sum(ticks[:8]), idle=ticks[3] + ticks[4], steal=ticks[7])
