"""Kafka and ingestion: leader re-election and ISR after a broker dies, ingest lag, and the
stream job's processing lag (the plan's "Kafka processing lag < 5 s at p95")."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, fail_at_least, judge
from gameday.checkers.windows import inside, measuring_from
from gameday.faults import KAFKA_FAULTS, detail_value, first
from gameday.history import FaultPhase, History, IngestSecond, KafkaPartitionSample, StreamLagSecond
from gameday.measures import nearest_rank
from gameday.measures.kafka import isr_restored_s, leaders_back_s
from gameday.spec import Slo


@checker("kafka.leader_reelection")
def leader_reelection(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), KAFKA_FAULTS)
    if fault is None:
        return judge(slo, None, "No broker kill in the history.")
    broker = detail_value(fault, "broker")
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
    revert = first(history.faults(), KAFKA_FAULTS, FaultPhase.REVERTED)
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
    p95 = nearest_rank([s.max_s for s in outside], 95)
    fault_text = f" Events created or processed inside the fault window peaked at {max(s.max_s for s in in_fault):.1f} s (judged by the recovery objectives)." if in_fault else ""
    return judge(slo, p95, f"p95 over {len(outside)} seconds of the stream job's worst per-second lag (event creation to processing), for events created after the warm-up and neither created nor processed in the fault window; {sum(s.events for s in outside)} events.{fault_text}")
