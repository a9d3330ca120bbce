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
    if warmup_s > 0:
        warm_up(target, start, warmup_s, run_dir / "warm-up")
    results = step_up(target, shape, target.profile.get("load.processes"), run_dir, say)
    reading = read_steps(results)
    capacity, first_miss = reading.capacity_rps, reading.ended_by
    record = CapacityMeasured(
        t=time.time(), label=label, capacity_rps=-1.0 if capacity is None else capacity, first_rate=start, step=step,
        steps_run=len(results), stopped_by=first_miss.why if first_miss else "", generator_limited=reading.generator_limited,
        az_cpu_cores=min((c for c in caps.values() if c), default=0.0), azs_up=up,
        transients=reading.transients,
    )  # fmt: skip
    if session is not None:
        session.recorder.add(record)
    say(f"capacity ({label}): {capacity if capacity is not None else 'below the first step'} req/s" + (f" (the step above: {first_miss.why})" if first_miss else "")
        + (f"; transient misses at {', '.join(f'{r:g}' for r in reading.transients)} req/s" if reading.transients else ""))
    return {"label": label, "capacity_rps": capacity, "steps": len(results), "stopped_by": record.stopped_by}
