"""Chaos Toolkit provider: a step-up capacity search inside a drill (the az-capacity drill
measures it with every AZ up and again with one AZ lost). The same steps and budget as
`gameday capacity` (p95 <= 40 ms, errors <= 0.1 %); each search is recorded in the run's
history as a `CapacityMeasured`, its load records under <run>/capacity-<label>/."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from gameday.history import CapacityMeasured
from gameday.load.capacity import check_steps, read_steps, step_up
from gameday.load.run import LoadPlan, LoadRun, timetable_env
from gameday.load.shapes import ShapeKind
from gameday.target import resolve


def warm_up(target: Any, rate: float, seconds: float, run_dir: Path) -> None:
    """The first rate for a while, not judged: after a restart (the regain of the AZ before),
    the JVMs' first seconds are compilation, and the first step missed by that alone."""
    plan = LoadPlan(rate=rate, target_url=target.lb_url(), max_duration_s=int(seconds) + 10, timetable=timetable_env(target.profile),
                    shape=ShapeKind.STEADY, shape_params={}, processes=1)  # fmt: skip
    load = LoadRun(plan, run_dir, target)
    load.start()
    try:
        time.sleep(seconds)
    finally:
        load.stop()


def throttled_shares(before: dict[str, tuple[int, int] | None], after: dict[str, tuple[int, int] | None], azs: tuple[str, ...]) -> dict[str, float]:
    """Pure: per AZ with a cap, the share of its enforcement periods between the two readings
    in which it was throttled (0 when no period passed)."""
    out = {}
    for az in azs:
        a, b = before.get(az), after.get(az)
        if a is None or b is None:
            continue
        periods = b[0] - a[0]
        out[az] = (b[1] - a[1]) / periods if periods > 0 else 0.0
    return out


def wait_for_quiet_azs(target: Any, azs: tuple[str, ...], say: Any, max_share: float = 0.02, window_s: float = 10.0, max_wait_s: float = 300.0) -> tuple[float, float]:
    """Before a search, wait until no AZ's control group was throttled in more than `max_share`
    of a `window_s` window: after a start or a restart the JVMs' compactions and compilation
    fill a capped AZ's quota for minutes, and a search then measures them, not the platform
    (at 0.4 cores per AZ one started at once held 100 req/s with every AZ up, the next 220
    with one lost). Bounded; returns (seconds waited beyond the first window, the last
    window's worst share in %)."""
    began = time.monotonic()
    while True:
        before = target.az_cpu_throttling()
        time.sleep(window_s)
        shares = throttled_shares(before, target.az_cpu_throttling(), azs)
        worst = max(shares.values(), default=0.0)
        waited = time.monotonic() - began - window_s  # the first window is the check itself
        if worst <= max_share or waited >= max_wait_s:
            break
        say(f"  AZs still throttled ({', '.join(f'{az} {100 * v:.0f} %' for az, v in sorted(shares.items()))} of the last {window_s:g} s); waiting for them to settle")
    return round(waited, 1), round(100 * worst, 1)


def measure_capacity(label: str, start: float = 100, step: float = 100, step_s: float = 15, max_rate: float = 2000,
                     warmup_s: float = 20, configuration: dict | None = None) -> dict[str, Any]:  # fmt: skip
    from gameday.drill import session as sessions

    shape = check_steps(start, step, step_s, max_rate, None)
    target = resolve(configuration)
    session = sessions.current
    say = session.say if session else print
    run_dir = (session.run_dir if session else Path(tempfile.mkdtemp(prefix="gameday-capacity-"))) / f"capacity-{label}"
    run_dir.mkdir(parents=True, exist_ok=True)
    caps = target.az_cpu_caps()
    down = {target.az_of(name) for name in target.down_components()}
    up = tuple(az for az in target.azs() if az not in down)
    say(f"capacity ({label}): steps from {start:g} req/s by {step:g} every {step_s:g} s; AZ CPU caps {caps}")
    waited, throttled = wait_for_quiet_azs(target, up, say) if any(caps.values()) else (0.0, 0.0)
    if waited:
        say(f"capacity ({label}): AZs quiet after {waited:g} s (throttled in {throttled:g} % of the last window's periods)")
    if warmup_s > 0:
        warm_up(target, start, warmup_s, run_dir / "warm-up")
    results = step_up(target, shape, target.profile.get("load.processes"), run_dir, say)
    reading = read_steps(results)
    capacity, first_miss = reading.capacity_rps, reading.ended_by
    record = CapacityMeasured(
        t=time.time(), label=label, capacity_rps=-1.0 if capacity is None else capacity, first_rate=start, step=step,
        steps_run=len(results), stopped_by=first_miss.why if first_miss else "", generator_limited=reading.generator_limited,
        az_cpu_cores=min((c for c in caps.values() if c), default=0.0), azs_up=up,
        transients=reading.transients, quiet_after_s=waited, throttled_at_start_pct=throttled,
    )  # fmt: skip
    if session is not None:
        session.recorder.add(record)
    say(f"capacity ({label}): {capacity if capacity is not None else 'below the first step'} req/s" + (f" (the step above: {first_miss.why})" if first_miss else "")
        + (f"; transient misses at {', '.join(f'{r:g}' for r in reading.transients)} req/s" if reading.transients else ""))
    return {"label": label, "capacity_rps": capacity, "steps": len(results), "stopped_by": record.stopped_by}
