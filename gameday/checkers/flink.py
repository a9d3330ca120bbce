"""Flink: JobManager leader election, job recovery after a JobManager or TaskManager dies,
and checkpoint cadence."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, fail_at_least, judge
from gameday.faults import FLINK_FAULTS, KAFKA_FAULTS, Fault, detail_value, first
from gameday.history import FlinkSample, History, KafkaOffsetsSample
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
    if not samples:
        return judge(slo, None, "No Flink samples after the fault.")
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
    if not samples or not ends:
        return judge(slo, None, "No Flink samples or output offsets after the fault.")
    r = job_recovery(samples, ends, fault.t)
    if r.disrupted is None:
        return judge(slo, None, f"The job never looked disrupted after {fault.component} was killed (no task was lost?): nothing to time.")
    if r.running is None:
        return fail_at_least(slo, samples[-1].t - fault.t, f"The job was not RUNNING with all tasks again in the {samples[-1].t - fault.t:.1f} s watched (last state {samples[-1].state or samples[-1].error}).")
    if r.writing_at is None:
        return fail_at_least(slo, ends[-1][0] - fault.t, "The job was RUNNING again but wrote no output afterwards.")
    return judge(slo, r.writing_at - fault.t, f"First seen disrupted {r.disrupted.t - fault.t:.2f} s after {fault.component} was killed ({r.disrupted.state or r.disrupted.error}); all tasks RUNNING again at {r.running.t - fault.t:.2f} s, writing output again at {r.writing_at - fault.t:.2f} s.")


@checker("flink.checkpoint_interval")
def checkpoint_cadence(history: History, slo: Slo) -> Outcome:
    """Spacing of completed checkpoints, by the instant each was triggered (a checkpoint's
    own duration would otherwise add its jitter), to 0.1 s: the plan's 'every 30 s' is not
    a millisecond claim. The gap across a fault (until the first checkpoint after it) is
    flink.recovery's; a newest checkpoint clearly overdue at the end of the watch fails."""
    fault = first(history.faults(), FLINK_FAULTS + KAFKA_FAULTS)
    done: dict[int, float] = {}
    for s in history.of(FlinkSample):
        if s.checkpoint_id >= 0 and s.checkpoint_at > 0:
            done[s.checkpoint_id] = s.checkpoint_triggered_at or s.checkpoint_at
    times = sorted(set(done.values()))
    last_sample = max((s.t for s in history.of(FlinkSample)), default=0.0)
    skip = None
    if fault is not None and times:
        after = [t for t in times if t > fault.t]
        if not after:
            return fail_at_least(slo, last_sample - fault.t, f"No checkpoint completed in the {last_sample - fault.t:.1f} s watched after the fault.")
        skip = (max((t for t in times if t <= fault.t), default=fault.t), after[0])
    gaps = [b - a for a, b in zip(times, times[1:]) if skip is None or (a, b) != skip]
    if not gaps:
        return judge(slo, None, f"Only {len(times)} completed checkpoints seen; two in a row are needed.")
    worst = round(max(gaps), 1)
    overdue = last_sample - times[-1]
    if overdue > max(gaps) + OVERDUE_MARGIN_S:
        return judge(slo, round(overdue, 1), f"{len(times)} checkpoints completed, then none for the last {overdue:.1f} s watched.")
    return judge(slo, worst, f"{len(times)} checkpoints completed; longest gap between two (trigger to trigger) {worst:.1f} s" + (" (the gap across the fault is judged by flink.recovery)." if skip else "."))


# A newest checkpoint older than the longest gap by this much has stopped, not jittered.
OVERDUE_MARGIN_S = 5.0
