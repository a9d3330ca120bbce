"""The running lab's footprint: how long it took to start, what each tracked process (with its
children) holds in memory, and the CPU the idle lab burns. Prints figures; asserts nothing.

    .venv/bin/gameday lab up --tiers redis,cassandra,search,api,metrics,kafka,zookeeper,flink,ingest,stream
    .venv/bin/python benchmarks/lab_footprint.py [--seconds 60] [--profile FILE]

"Idle" is the lab with no drill running: the suppliers' feeds, the stream job, the scrapes and
health checks go on, as they do in production between drills. CPU is each process tree's
utime + stime over the window, in cores (1.0 = one core busy all the time); the host's share is
from /proc/stat, its pressure from /proc/pressure/cpu (the share of time a runnable task waited).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from pathlib import Path

from gameday.profile import load_profile
from gameday.target import resolve
from gameday.target.lab import LabTarget

TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids[ppid].append(int(entry.name))
    return kids


def tree(pid: int, kids: dict[int, list[int]]) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0


def rss_kb(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def host_busy() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def pressure_avg60() -> float | None:
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return float(dict(kv.split("=") for kv in some.split()[1:])["avg60"])
    except (OSError, KeyError, ValueError, IndexError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="CPU sampling window (default 60)")
    parser.add_argument("--profile", type=Path, help="a profile whose lab.home names the lab")
    args = parser.parse_args()
    target = resolve(profile=load_profile(args.profile))
    assert isinstance(target, LabTarget), "this benchmark measures the local lab"
    state = target.st
    tracked = {name: t for name, t in state.components.items() if t.alive()}
    print(f"lab: tiers {','.join(state.tiers)}; {len(tracked)} of {len(state.components)} processes alive")
    if state.ready_at:
        print(f"lab up: {state.ready_at - state.started_at:.1f} s (started {time.strftime('%H:%M:%S', time.localtime(state.started_at))})")
    kids = children()
    trees = {name: tree(t.pid, kids) for name, t in tracked.items()}
    before = {name: sum(cpu_ticks(p) for p in pids) for name, pids in trees.items()}
    busy0, total0 = host_busy()
    time.sleep(args.seconds)
    busy1, total1 = host_busy()
    rows = []
    for name, pids in trees.items():
        cores = (sum(cpu_ticks(p) for p in pids) - before[name]) / TICK / args.seconds
        rows.append((name, tracked[name].tier, sum(rss_kb(p) for p in pids) / 1024, cores))
    by_tier: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    print(f"\n{'process':22} {'tier':10} {'RSS MiB':>8} {'cores':>6}")
    for name, tier, rss, cores in sorted(rows, key=lambda r: -r[2]):
        print(f"{name:22} {tier:10} {rss:8.0f} {cores:6.3f}")
        by_tier[tier][0] += rss
        by_tier[tier][1] += cores
    print(f"\n{'tier':10} {'RSS MiB':>8} {'cores':>6}")
    for tier, (rss, cores) in sorted(by_tier.items(), key=lambda kv: -kv[1][0]):
        print(f"{tier:10} {rss:8.0f} {cores:6.3f}")
    total_rss = sum(r[2] for r in rows)
    total_cores = sum(r[3] for r in rows)
    share = 100.0 * (busy1 - busy0) / max(total1 - total0, 1)
    pressure = pressure_avg60()
    print(f"\nlab total: RSS {total_rss / 1024:.2f} GiB, idle CPU {total_cores:.2f} cores over {args.seconds:g} s")
    print(f"host: {share:.0f} % of {os.cpu_count()} cores busy" + (f", CPU pressure (some, avg60) {pressure:.0f} %" if pressure is not None else ""))


if __name__ == "__main__":
    main()
