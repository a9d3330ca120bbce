"""Streaming tiers: Kafka leader re-election and ISR, ingest lag, processing lag, Flink
election and recovery, checkpoint cadence, data integrity and freshness.

Fault names the streaming probes record (probes/streaming.py):
  kafka.kill_broker       component kafka-<az>; detail "broker=<id> ..."
  kafka.kill_leader_after_lagging_followers   same
  flink.kill_jobmanager   component flink-jm-<az>; detail "leader=<rest url>"
  flink.kill_taskmanager  component flink-tm-<az>
"""

from __future__ import annotations

import math

from gameday.checkers import checker
from gameday.checkers.windows import inside, measuring_from
from gameday.history import (
    CanarySample,
    FaultEvent,
    FaultPhase,
    FlinkSample,
    History,
    IngestSecond,
    IntegrityAudit,
    KafkaOffsetsSample,
    KafkaPartitionSample,
    StreamLagSecond,
)
from gameday.monitors.flink import leader_elected
from gameday.monitors.kafka import isr_restored_s, leaders_back_s
from gameday.spec import Slo
from gameday.verdicts import Outcome, fail_at_least, judge

KAFKA_FAULTS = ("kafka.kill_broker", "kafka.kill_leader_after_lagging_followers")
FLINK_FAULTS = ("flink.kill_jobmanager", "flink.kill_taskmanager")
OUTPUT_TOPIC = "prices.normalized"


def _first(history: History, names: tuple[str, ...], phase: FaultPhase = FaultPhase.INJECTED) -> FaultEvent | None:
    return next((f for f in history.faults() if f.fault in names and f.phase is phase), None)


def _detail_value(event: FaultEvent, key: str) -> str:
    for part in event.detail.split():
        if part.startswith(f"{key}="):
            return part.split("=", 1)[1]
    return ""


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


# --- Kafka ------------------------------------------------------------------------------


@checker("kafka.leader_reelection")
def leader_reelection(history: History, slo: Slo) -> Outcome:
    fault = _first(history, KAFKA_FAULTS)
    if fault is None:
        return judge(slo, None, "No broker kill in the history.")
    broker = _detail_value(fault, "broker")
    if not broker:
        return judge(slo, None, f"The fault on {fault.component} does not name the broker id.")
    samples = history.of(KafkaPartitionSample)
    after = [s for s in samples if s.t >= fault.t]
    if not after:
        return judge(slo, None, "No partition metadata sampled after the fault.")
    last_before = max((s.t for s in samples if s.t < fault.t), default=None)
    led = sum(1 for s in samples if s.t == last_before and s.leader == int(broker))
    back = leaders_back_s(samples, fault.t, int(broker))
    if back is None:
        return fail_at_least(slo, after[-1].t - fault.t, f"Some partition of supplier.raw still had no live leader {after[-1].t - fault.t:.1f} s after broker {broker} was killed.")
    return judge(slo, back, f"Every partition of supplier.raw had a live leader again {back:.2f} s after broker {broker} ({fault.component}, leading {led} partitions) was killed.")


@checker("kafka.min_isr")
def isr_after_rollback(history: History, slo: Slo) -> Outcome:
    samples = [s for s in history.of(KafkaPartitionSample) if not s.error]
    if not samples:
        return judge(slo, None, "No partition metadata sampled.")
    last_t = max(s.t for s in samples)
    final = [s for s in samples if s.t == last_t]
    smallest = min(len(s.isr) for s in final)
    revert = _first(history, KAFKA_FAULTS, FaultPhase.REVERTED)
    if revert is None:
        return judge(slo, float(smallest), f"Smallest ISR at the end of the run: {smallest} (no broker was restored in this run).")
    back = isr_restored_s(samples, revert.t, int(slo.threshold))
    full = isr_restored_s(samples, revert.t, len(final[0].replicas))
    when = f"every partition's ISR held {int(slo.threshold)}+ replicas {back:.2f} s after {revert.component} was restored" if back is not None else f"ISRs were still short of {int(slo.threshold)} at the end of the run"
    when += f", all {len(final[0].replicas)} after {full:.2f} s" if full is not None else f", not all {len(final[0].replicas)} by the end of the run"
    return judge(slo, float(smallest), f"Smallest ISR of supplier.raw at the end of the run: {smallest} of {len(final[0].replicas)} replicas; {when}.")


@checker("ingest.lag")
def ingest_lag(history: History, slo: Slo) -> Outcome:
    seconds = [s for s in history.of(IngestSecond) if s.t >= measuring_from(history)]
    if not any(s.acked for s in seconds):
        return judge(slo, None, "No acknowledged supplier events in the run (is the ingest tier up and the audit run?).")
    worst = max(seconds, key=lambda s: s.max_ack_latency_s)
    acked, failed = sum(s.acked for s in seconds), sum(s.failed for s in seconds)
    failing = [s.t for s in seconds if s.failed]
    window = f"failed deliveries from {failing[0] - seconds[0].t:.0f} s to {failing[-1] - seconds[0].t + 1:.0f} s into the run ({failing[-1] + 1 - failing[0]:.0f} s)" if failing else "no failed deliveries"
    return judge(slo, worst.max_ack_latency_s, f"{acked} events acknowledged, {failed} failed; longest creation-to-ack {worst.max_ack_latency_s:.2f} s; producers' error window: {window}.")


def _life_overlaps(window: tuple[float, float] | None, s: StreamLagSecond) -> bool:
    """Whether the events created in this second were created or processed in the fault
    window: an event created just before a broker dies waits for the new leader, and its
    lag is the fault's, not the steady state's."""
    last_processed = s.processed_until if s.processed_until is not None else s.t + 1
    return inside(window, s.t, max(s.t + 1, last_processed))


@checker("kafka.consumer_lag_p95")
def processing_lag(history: History, slo: Slo) -> Outcome:
    window = history.fault_window()
    start = measuring_from(history)
    outside: list[StreamLagSecond] = []
    in_fault: list[StreamLagSecond] = []
    for s in (x for x in history.of(StreamLagSecond) if x.t >= start):
        (in_fault if _life_overlaps(window, s) else outside).append(s)
    if len(outside) < 10:
        return judge(slo, None, f"Only {len(outside)} seconds of processing lag outside the fault window; at least 10 are needed.")
    p95 = _p95([s.max_s for s in outside])
    fault_text = f" Events created or processed inside the fault window peaked at {max(s.max_s for s in in_fault):.1f} s (judged by the recovery objectives)." if in_fault else ""
    return judge(slo, p95, f"p95 over {len(outside)} seconds of the stream job's worst per-second lag (event creation to processing), for events created after the warm-up and neither created nor processed in the fault window; {sum(s.events for s in outside)} events.{fault_text}")


# --- Flink -------------------------------------------------------------------------------


@checker("flink.leader_election")
def leader_election(history: History, slo: Slo) -> Outcome:
    fault = _first(history, ("flink.kill_jobmanager",))
    if fault is None:
        return judge(slo, None, "No JobManager kill in the history.")
    old = _detail_value(fault, "leader")
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


def _output_end(history: History) -> list[tuple[float, int]]:
    """(t, sum of the job output's end offsets) per tick where every partition answered."""
    by_t: dict[float, list[KafkaOffsetsSample]] = {}
    for s in history.of(KafkaOffsetsSample):
        if s.topic == OUTPUT_TOPIC:
            by_t.setdefault(s.t, []).append(s)
    return [(t, sum(s.end for s in tick)) for t, tick in sorted(by_t.items()) if all(s.end >= 0 for s in tick)]


@checker("flink.recovery")
def recovery(history: History, slo: Slo) -> Outcome:
    fault = _first(history, FLINK_FAULTS)
    if fault is None:
        return judge(slo, None, "No JobManager or TaskManager kill in the history.")
    samples = sorted((s for s in history.of(FlinkSample) if s.t >= fault.t), key=lambda s: s.t)
    ends = [(t, e) for t, e in _output_end(history) if t >= fault.t]
    if not samples or not ends:
        return judge(slo, None, "No Flink samples or output offsets after the fault.")
    healthy = lambda s: s.state == "RUNNING" and s.tasks_running and not s.error  # noqa: E731
    disrupted = next((s for s in samples if not healthy(s)), None)
    if disrupted is None:
        return judge(slo, None, f"The job never looked disrupted after {fault.component} was killed (no task was lost?): nothing to time.")
    running = next((s for s in samples if s.t > disrupted.t and healthy(s)), None)
    if running is None:
        return fail_at_least(slo, samples[-1].t - fault.t, f"The job was not RUNNING with all tasks again in the {samples[-1].t - fault.t:.1f} s watched (last state {samples[-1].state or samples[-1].error}).")
    before = [e for t, e in ends if t <= running.t]
    base = before[-1] if before else ends[0][1]
    progress = next((t for t, e in ends if t >= running.t and e > base), None)
    if progress is None:
        return fail_at_least(slo, ends[-1][0] - fault.t, "The job was RUNNING again but wrote no output afterwards.")
    return judge(slo, progress - fault.t, f"First seen disrupted {disrupted.t - fault.t:.2f} s after {fault.component} was killed ({disrupted.state or disrupted.error}); all tasks RUNNING again at {running.t - fault.t:.2f} s, writing output again at {progress - fault.t:.2f} s.")


@checker("flink.checkpoint_interval")
def checkpoint_cadence(history: History, slo: Slo) -> Outcome:
    """Spacing of completed checkpoints, by the instant each was triggered (a checkpoint's
    own duration would otherwise add its jitter), to 0.1 s: the plan's 'every 30 s' is not
    a millisecond claim. The gap across a fault (until the first checkpoint after it) is
    flink.recovery's; a newest checkpoint clearly overdue at the end of the watch fails."""
    fault = _first(history, FLINK_FAULTS + KAFKA_FAULTS)
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


# --- data integrity and freshness ---------------------------------------------------------


def _finished_audit(history: History, slo: Slo) -> IntegrityAudit | Outcome:
    """The last audit if it measured every count, else the `unknown` outcome saying why."""
    audits = history.of(IntegrityAudit)
    if not audits:
        return judge(slo, None, "No audit in the history.")
    a = audits[-1]
    counts = (a.lost_in_topic, a.lost_in_output, a.lost_in_archive, a.duplicated_in_output, a.duplicated_in_archive)
    if a.error or a.acknowledged < 0 or min(counts) < 0:
        return judge(slo, None, f"The audit did not finish: {a.error or 'it left some counts unmeasured'}")
    if a.acknowledged == 0:
        return judge(slo, None, "No acknowledged events to audit.")
    return a


@checker("data.events_lost")
def events_lost(history: History, slo: Slo) -> Outcome:
    a = _finished_audit(history, slo)
    if isinstance(a, Outcome):
        return a
    worst = max(a.lost_in_topic, a.lost_in_output, a.lost_in_archive)
    sample = f" e.g. {', '.join(a.lost_sample[:5])}." if a.lost_sample else ""
    return judge(slo, float(worst), f"{a.acknowledged} events acknowledged: {a.lost_in_topic} missing from supplier.raw, {a.lost_in_output} from the job's committed output, {a.lost_in_archive} from the raw events lake (after waiting {a.waited_s:.0f} s).{sample}")


@checker("data.events_duplicated")
def events_duplicated(history: History, slo: Slo) -> Outcome:
    a = _finished_audit(history, slo)
    if isinstance(a, Outcome):
        return a
    worst = max(a.duplicated_in_output, a.duplicated_in_archive)
    return judge(slo, float(worst), f"Of {a.acknowledged} acknowledged events: {a.duplicated_in_output} twice or more in the job's committed output, {a.duplicated_in_archive} in the lake; {a.duplicated_in_topic} in supplier.raw itself (which the job deduplicates).")


@checker("freshness.searchable")
def freshness(history: History, slo: Slo) -> Outcome:
    window = history.fault_window()
    canaries = [c for c in history.of(CanarySample) if not c.error and c.t >= measuring_from(history)]
    outside = [c for c in canaries if not inside(window, c.t, (c.seen_at or c.gave_up_at))]
    if len(outside) < 3:
        return judge(slo, None, f"Only {len(outside)} canary updates outside the fault window; at least 3 are needed.")
    unseen = [c for c in outside if not c.seen_at]
    delays = sorted(c.seen_at - c.t for c in outside if c.seen_at)
    if unseen:
        return fail_at_least(slo, max(c.gave_up_at - c.t for c in unseen), f"{len(unseen)} of {len(outside)} canary price updates never showed in search results before the canary gave up.")
    median = delays[len(delays) // 2]
    return judge(slo, delays[-1], f"{len(delays)} canary price updates, produced into supplier.raw and searched for through the load balancer: median {median:.2f} s, worst {delays[-1]:.2f} s from produce to the API returning the new price.")
