"""`gameday capacity`: the highest arrival rate at which the platform keeps the plan's
p95 latency and error budget, found with a step-up load (no faults)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gameday.errors import InputError, TargetError
from gameday.history import History, LoadSecond
from gameday.load import latency
from gameday.load.run import LIMITS, MAX_PROCESSES, LoadPlan, LoadRun, generator_problem, timetable_env
from gameday.load.shapes import ShapeKind, StepUp, make_shape
from gameday.profile import load_profile
from gameday.spec import catalog
from gameday.target import resolve

# Seconds at the start of each step left out while the platform settles to the new rate.
SETTLE_S = 5.0


@dataclass(frozen=True)
class StepResult:
    rate: float
    achieved: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate_pct: float
    generator_issue: str
    ok: bool
    why: str


@dataclass(frozen=True)
class CapacityResult:
    capacity_rps: float | None
    p95_threshold_ms: float
    error_threshold_pct: float
    steps: list[StepResult]
    started_at: float
    run_dir: str
    # What was measured: the lab's tiers, and where a search's flights came from ("index"
    # with the search tier, the full search path; else "store"). The whole-AZ drill reads
    # this file (the lab's latest figure) as the capacity with every AZ up.
    tiers: tuple[str, ...] = ()
    listing: str = ""
    transients: tuple[float, ...] = ()  # lone misses with a held step above (read_steps)


def judge_step(rate: float, seconds: list[LoadSecond], history: History) -> StepResult:
    """Pure: one step's figures and whether it kept the plan's latency and error budget."""
    spec = catalog()
    p95_slo, err_slo = spec["api.p95_latency"], spec["api.error_rate"]
    requests = sum(s.requests for s in seconds)
    n_seconds = len({int(s.t) for s in seconds}) or 1
    hist = latency.merged(s.hist for s in seconds)
    p50, p95, p99 = (latency.percentile_ms(hist, q) for q in (50, 95, 99))
    errors = 100.0 * sum(s.failures for s in seconds) / max(requests, 1)
    achieved = requests / n_seconds
    issue = generator_problem(history, seconds) or ""
    why = []
    if p95 is None or not p95_slo.met_by(p95):
        why.append(f"p95 {p95} ms {p95_slo.target_text} not met")
    if not err_slo.met_by(errors):
        why.append(f"errors {errors:.2f} % {err_slo.target_text} not met")
    if achieved < LIMITS.min_held_share * rate:
        why.append(f"achieved only {achieved:.0f} req/s")
    if issue:
        why.append(issue)
    return StepResult(rate, round(achieved, 1), p50, p95, p99, round(errors, 3), issue, not why, "; ".join(why))


def split_steps(shape: StepUp, seconds: list[LoadSecond]) -> list[list[LoadSecond]]:
    """Load seconds grouped by step, the settling seconds of each step left out."""
    if not seconds:
        return []
    t0 = min(s.t for s in seconds)
    groups: list[list[LoadSecond]] = [[] for _ in shape.steps]
    for s in seconds:
        offset = s.t - t0
        index = shape.step_at(offset)
        if index is not None and offset - index * shape.step_s >= SETTLE_S:
            groups[index].append(s)
    return groups


@dataclass(frozen=True)
class CapacityReading:
    """What a step-up search says: `capacity_rps` the highest held step below the end (None:
    the first step ended it); `ended_by` the step that ended it (None: the steps ran out, a
    lower bound); `transients` the rates of lone misses with a held step above them."""

    capacity_rps: float | None
    ended_by: StepResult | None
    transients: tuple[float, ...]
    # The end is the generator's to answer for: the step that ended it names a generator
    # problem, and no step after it missed on the platform's figures alone.
    generator_limited: bool = False


def read_steps(steps: list[StepResult]) -> CapacityReading:
    """Pure. The search ends at the first of two misses in a row (the rule `step_up` stops by),
    or at a miss in the last step run. A lone miss with a held step above it is a transient:
    on a shared 2-core host one 15 s step can lose to a compaction or a GC pause, and the
    step above holding shows the platform was not over its limit. Transients are reported.
    A generator problem in the ending step leaves the end to the generator unless the step
    after it missed on the platform's figures alone (then the limit lies within one step)."""
    best: float | None = None
    transients: list[float] = []
    for i, step in enumerate(steps):
        if step.ok:
            best = step.rate
            continue
        if i + 1 < len(steps) and steps[i + 1].ok:
            transients.append(step.rate)
            continue
        after = steps[i + 1] if i + 1 < len(steps) else None
        platform_missed_after = after is not None and not after.ok and not after.generator_issue
        return CapacityReading(best, step, tuple(transients), bool(step.generator_issue) and not platform_missed_after)
    return CapacityReading(best, None, tuple(transients))


def capacity_of(steps: list[StepResult]) -> float | None:
    """The highest held step below the end of the search (see read_steps)."""
    return read_steps(steps).capacity_rps


def check_steps(start: float, step: float, step_s: float, max_rate: float, processes: int | None) -> StepUp:
    """The step-up shape, or InputError naming the flag that is wrong."""
    try:
        shape = make_shape(ShapeKind.STEP, start, step=step, step_s=step_s, max_rate=max_rate)
    except (TypeError, ValueError) as exc:
        raise InputError(f"capacity: {exc}", hint="--start, --step, --step-s and --max are finite positive numbers, with --max >= --start") from None
    if step_s < SETTLE_S + 5:
        raise InputError(f"capacity: --step-s must be at least {SETTLE_S + 5:g} (each step's first {SETTLE_S:g} s are settling), got {step_s:g}")
    if processes is not None and not 1 <= processes <= MAX_PROCESSES:
        raise InputError(f"capacity: --processes must be 1 to {MAX_PROCESSES}, got {processes}")
    assert isinstance(shape, StepUp)
    return shape


def step_up(target, shape: StepUp, processes: int, run_dir: Path, say=print) -> list[StepResult]:
    """Drive the step-up load against the target's load balancer until two steps in a row
    miss the budget (or the steps run out); each step judged as it completes."""
    step_s = shape.step_s
    plan = LoadPlan(
        rate=shape.steps[0],
        target_url=target.lb_url(),
        max_duration_s=int(len(shape.steps) * step_s + 30),
        timetable=timetable_env(target.profile),
        shape=ShapeKind.STEP,
        shape_params={"step": shape.step, "step_s": step_s, "max_rate": shape.max_rate},
        processes=processes,
    )
    load = LoadRun(plan, run_dir, target)
    load.start()
    results: list[StepResult] = []
    try:
        while len(results) < len(shape.steps):
            time.sleep(1)
            alive = load.tracked is not None and load.tracked.alive()
            records = load.records()
            groups = split_steps(shape, records)
            latest = max((i for i, g in enumerate(groups) if g), default=-1)
            # A step is complete once a later step has data, or the generator has ended.
            complete = latest if alive else latest + 1
            while len(results) < complete:
                i = len(results)
                r = judge_step(shape.steps[i], groups[i], History.of_records(records))
                results.append(r)
                say(f"  {r.rate:6g} req/s: achieved {r.achieved:7.1f}, p95 {r.p95_ms} ms, errors {r.error_rate_pct} % -> {'ok' if r.ok else 'over: ' + r.why}")
            if len(results) >= 2 and not results[-1].ok and not results[-2].ok:
                say("capacity: two steps in a row over the limits; stopping")
                break
            if not alive:
                break
    finally:
        load.stop()
    return results


def find_capacity(start: float, step: float, step_s: float, max_rate: float, out: Path | None, processes: int | None, say=print, profile_path: Path | None = None) -> CapacityResult:
    shape = check_steps(start, step, step_s, max_rate, processes)
    target = resolve(profile=load_profile(profile_path))
    profile = target.profile
    if "api" not in target.tiers():
        raise TargetError("capacity needs the api tier", hint="gameday lab up")
    started = time.time()
    run_dir = (out or Path("runs") / (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-capacity")).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = "index, cache, store" if "search" in target.tiers() else "store listing, cache"
    say(f"capacity: steps {', '.join(f'{r:g}' for r in shape.steps)} req/s, {step_s:g} s each, search path {path}; results in {run_dir}")
    results = step_up(target, shape, processes or profile.get("load.processes"), run_dir, say)
    tiers = tuple(target.tiers())
    reading = read_steps(results)
    result = CapacityResult(reading.capacity_rps, catalog()["api.p95_latency"].threshold, catalog()["api.error_rate"].threshold, results, started, str(run_dir),
                            tiers=tiers, listing="index" if "search" in tiers else "store", transients=reading.transients)  # fmt: skip
    text = json.dumps(asdict(result), indent=2)
    (run_dir / "capacity.json").write_text(text + "\n")
    (profile.home / "capacity.json").write_text(text + "\n")  # the lab's latest figure, beside its state
    return result


def main_summary(result: CapacityResult) -> None:
    if result.capacity_rps is None:
        print("capacity: even the first step missed the plan's p95/error budget", file=sys.stdout)
    else:
        print(f"capacity: {result.capacity_rps:g} req/s with p95 <= {result.p95_threshold_ms:g} ms and errors <= {result.error_threshold_pct:g} %")
    if result.transients:
        print(f"transient misses (a held step above each): {', '.join(f'{r:g}' for r in result.transients)} req/s")
    print(f"details: {result.run_dir}/capacity.json")
