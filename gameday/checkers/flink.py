"""Flink: JobManager leader election, job recovery after a JobManager or TaskManager dies,
and checkpoint cadence."""

from __future__ import annotations

from collections import Counter

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, fail_at_least, judge
from gameday.faults import FLINK_FAULTS, KAFKA_FAULTS, Fault, detail_value, first
from gameday.history import FlinkFailure, FlinkSample, History, KafkaOffsetsSample
from gameday.measures.flink import leader_elected
from gameday.measures.flink import recovery as job_recovery
from gameday.measures.stream import output_ends
from gameday.spec import Slo


@checker("flink.leader_election")
def leader_election(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), (Fault.FLINK_KILL_JOBMANAGER,))
    if fault is None:
        return judge(slo, None, "No JobManager kill in the history.")
    old = detail_value(fault, "leader")
    if not old:
        return judge(slo, None, f"The fault on {fault.component} does not name the leader it killed.")
    samples = sorted((s for s in history.of(FlinkSample) if s.t >= fault.t), key=lambda s: s.t)
    if len(samples) < slo.evidence.min_samples:
        return judge(slo, None, f"Only {len(samples)} Flink samples after the fault; at least {slo.evidence.min_samples} are needed.")
    elected = leader_elected(samples, fault.t, old)
    if elected is not None:
        after = elected.t - fault.t
        return judge(slo, after, f"ZooKeeper named {elected.leader} leader and its REST API answered {after:.2f} s after {fault.component} ({old}) was killed.")
    return fail_at_least(slo, samples[-1].t - fault.t, f"No new JobManager leader answered in the {samples[-1].t - fault.t:.1f} s watched after {fault.component} was killed.")


@checker("flink.recovery")
def recovery(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), FLINK_FAULTS)
    if fault is None:
        return judge(slo, None, "No JobManager or TaskManager kill in the history.")
    samples = sorted((s for s in history.of(FlinkSample) if s.t >= fault.t), key=lambda s: s.t)
    ends = [(t, e) for t, e in output_ends(history.of(KafkaOffsetsSample)) if t >= fault.t]
    need = slo.evidence.min_samples
    if len(samples) < need or len(ends) < need:
        return judge(slo, None, f"{len(samples)} Flink samples and {len(ends)} output-offset ticks after the fault; at least {need} of each are needed.")
    r = job_recovery(samples, ends, fault.t)
    if r.disrupted is None:
        return judge(slo, None, f"The job never looked disrupted after {fault.component} was killed (no task was lost?): nothing to time.")
    failed = failures_after(history, fault.t, r.running.t if r.running else None)
    if r.running is None:
        return fail_at_least(slo, samples[-1].t - fault.t, f"The job was not RUNNING with all tasks again in the {samples[-1].t - fault.t:.1f} s watched (last state {samples[-1].state or samples[-1].error}).{failed}")
    if r.writing_at is None:
        return fail_at_least(slo, ends[-1][0] - fault.t, f"The job was RUNNING again but wrote no output afterwards.{failed}")
    return judge(slo, r.writing_at - fault.t, f"First seen disrupted {r.disrupted.t - fault.t:.2f} s after {fault.component} was killed ({r.disrupted.state or r.disrupted.error}); all tasks RUNNING again at {r.running.t - fault.t:.2f} s, writing output again at {r.writing_at - fault.t:.2f} s.{failed}")


def failures_after(history: History, start: float, until: float | None) -> str:
    """What the leader's exception history says failed between the fault and recovery: each
    failure is a restart (and a restart back-off) that the recovery time includes."""
    failures = sorted((f for f in history.of(FlinkFailure) if f.t >= start and (until is None or f.t <= until)), key=lambda f: f.t)
    if not failures:
        return ""
    listed = "; ".join(f"{n} x {cause[:160]}" for cause, n in Counter(f.exception for f in failures).most_common(3))
    return (f" The job failed {len(failures)} time(s) on its way back (at "
            f"{', '.join(f'{f.t - start:.1f}' for f in failures[:8])} s): {listed}.")


@checker("flink.checkpoint_interval")
def checkpoint_cadence(history: History, slo: Slo) -> Outcome:
    """Spacing of completed checkpoints, by the instant each was triggered (a checkpoint's
    own duration would otherwise add its jitter), to the catalog's resolution. The gap
    across a fault (until the first checkpoint after it) is flink.recovery's. At the end of
    the watch the newest checkpoint's age, less the longest time a checkpoint took in the
    run (the next one may be under way), counts as a gap too: a job that stopped
    checkpointing shows. A checkpoint the last sample shows in progress was triggered:
    its trigger ends the newest gap and the age is counted from it (one triggered on time
    and still being written when the watch ended is no miss)."""
    fault = first(history.faults(), FLINK_FAULTS + KAFKA_FAULTS)
    triggered: dict[int, float] = {}
    took: list[float] = []
    for s in history.of(FlinkSample):
        if s.checkpoint_id >= 0 and s.checkpoint_at > 0 and s.checkpoint_id not in triggered:
            triggered[s.checkpoint_id] = s.checkpoint_triggered_at or s.checkpoint_at
            if s.checkpoint_triggered_at:
                took.append(s.checkpoint_at - s.checkpoint_triggered_at)
    times = sorted(set(triggered.values()))
    final = max(history.of(FlinkSample), key=lambda s: s.t, default=None)
    last_sample = final.t if final else 0.0
    if len(times) < slo.evidence.min_checkpoints:
        return judge(slo, None, f"Only {len(times)} completed checkpoints seen; at least {slo.evidence.min_checkpoints} are needed.")
    skip = None
    if fault is not None:
        after = [t for t in times if t > fault.t]
        if not after:
            return fail_at_least(slo, last_sample - fault.t, f"No checkpoint completed in the {last_sample - fault.t:.1f} s watched after the fault.")
        skip = (max((t for t in times if t <= fault.t), default=fault.t), after[0])
    gaps = [b - a for a, b in zip(times, times[1:]) if skip is None or (a, b) != skip]
    if not gaps:
        return judge(slo, None, f"{len(times)} checkpoints, but no two in a row outside the fault.")
    longest_take = max(took, default=0.0)
    newest = times[-1]
    assert final is not None  # checkpoints were seen, so samples were
    in_progress = final.pending_triggered_at if final.pending_triggered_at > newest else 0.0
    if in_progress:
        gaps.append(in_progress - newest)
        newest = in_progress
    end_gap = last_sample - newest - longest_take
    step = slo.evidence.resolution_s
    to_step = (lambda v: round(round(v / step) * step, 6)) if step else (lambda v: v)  # noqa: E731
    worst = to_step(max(gaps))
    ending = (f"at the end of the watch one triggered {in_progress - times[-1]:.1f} s after the newest completed was in progress for {last_sample - in_progress:.1f} s"
              if in_progress else f"at the end of the watch the newest was {last_sample - times[-1]:.1f} s old")
    ending += f" (a checkpoint took at most {longest_take:.1f} s)"
    if to_step(end_gap) > worst:
        return judge(slo, to_step(end_gap), f"{len(times)} checkpoints completed; longest gap between two {max(gaps):.2f} s, but {ending}: none since.")
    return judge(slo, worst, f"{len(times)} checkpoints completed; longest gap between two (trigger to trigger) {max(gaps):.2f} s, judged to {step:g} s; {ending}" + (" (the gap across the fault is judged by flink.recovery)." if skip else "."))
