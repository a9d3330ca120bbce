"""Kafka and ingestion: leader re-election and ISR after a broker dies, ingest lag, and the
stream job's processing lag (the plan's "Kafka processing lag < 5 s at p95")."""

from __future__ import annotations

from flightsearch import RAW_TOPIC
from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, fail_at_least, judge
from gameday.checkers.windows import inside, measuring_from
from gameday.faults import KAFKA_FAULTS, detail_value, first
from gameday.history import FaultPhase, History, IngestSecond, KafkaPartitionSample, KafkaTopicConfig, StreamLagSecond
from gameday.measures import nearest_rank
from gameday.measures.kafka import isr_restored_s, leaders_back_s
from gameday.measures.kafka import ticks as kafka_ticks
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
    if len({s.t for s in after}) < slo.evidence.min_samples:
        return judge(slo, None, f"Only {len({s.t for s in after})} metadata ticks after the fault; at least {slo.evidence.min_samples} are needed.")
    last_before = max((s.t for s in samples if s.t < fault.t), default=None)
    led = sum(1 for s in samples if s.t == last_before and s.leader == int(broker))
    back = leaders_back_s(samples, fault.t, int(broker))
    if back is None:
        return fail_at_least(slo, after[-1].t - fault.t, f"Some partition of supplier.raw still had no live leader {after[-1].t - fault.t:.1f} s after broker {broker} was killed.")
    return judge(slo, back, f"Every partition of supplier.raw had a live leader again {back:.2f} s after broker {broker} ({fault.component}, leading {led} partitions) was killed.")


def _topic_config(history: History, slo: Slo) -> KafkaTopicConfig | Outcome:
    """The newest answered config sample of supplier.raw, or the `unknown` saying why not."""
    configs = [c for c in history.of(KafkaTopicConfig) if c.topic == RAW_TOPIC and not c.error]
    if not configs:
        return judge(slo, None, f"The cluster's config of {RAW_TOPIC} was never read in this run.")
    return configs[-1]


@checker("kafka.min_isr")
def isr_after_rollback(history: History, slo: Slo) -> Outcome:
    """The smaller of the configured min.insync.replicas and the smallest ISR of the last
    tick in which every partition answered, after a broker was restored."""
    config = _topic_config(history, slo)
    if isinstance(config, Outcome):
        return config
    revert = first(history.faults(), KAFKA_FAULTS, FaultPhase.REVERTED)
    if revert is None:
        return judge(slo, None, f"No broker was restored in this run; min.insync.replicas is {config.min_insync_replicas}, but the ISR after a restore is what this SLO judges.")
    samples = history.of(KafkaPartitionSample)
    partitions = {s.partition for s in samples}
    by_t = kafka_ticks([s for s in samples if s.t >= revert.t])
    complete = [t for t in sorted(by_t) if {s.partition for s in by_t[t]} == partitions and not any(s.error for s in by_t[t])]
    need = slo.evidence.min_samples
    if len(complete) < need:
        return judge(slo, None, f"Only {len(complete)} ticks after {revert.component} was restored in which every partition answered; at least {need} are needed.")
    final = by_t[complete[-1]]
    replicas = len(final[0].replicas)
    # Partitions that answered in later, incomplete ticks still show how the ISR stood.
    later = [x for t in by_t if t > complete[-1] for x in by_t[t] if not x.error]
    smallest = min(len(x.isr) for x in final + later)
    unanswered = len(by_t) - len(complete)
    ok = [s for s in samples if not s.error]
    back = isr_restored_s(ok, revert.t, int(slo.threshold))
    full = isr_restored_s(ok, revert.t, replicas)
    when = f"every partition's ISR held {int(slo.threshold)}+ replicas {back:.2f} s after {revert.component} was restored" if back is not None else f"ISRs were still short of {int(slo.threshold)} at the end of the run"
    when += f", all {replicas} after {full:.2f} s" if full is not None else f", not all {replicas} by the end of the run"
    gaps = f" {unanswered} ticks after the restore had partitions that did not answer." if unanswered else ""
    return judge(slo, float(min(smallest, config.min_insync_replicas)), f"min.insync.replicas of {RAW_TOPIC} is {config.min_insync_replicas}; smallest ISR at the end: {smallest} of {replicas} replicas; {when}.{gaps}")


@checker("kafka.replication_factor")
def replication_factor(history: History, slo: Slo) -> Outcome:
    config = _topic_config(history, slo)
    if isinstance(config, Outcome):
        return config
    return judge(slo, float(config.replication_factor), f"{RAW_TOPIC}: {config.partitions} partitions, the fewest replicas of any is {config.replication_factor} (as the cluster describes it).")


@checker("kafka.retention")
def retention(history: History, slo: Slo) -> Outcome:
    config = _topic_config(history, slo)
    if isinstance(config, Outcome):
        return config
    if config.retention_ms < 0:
        return judge(slo, None, f"{RAW_TOPIC} keeps its events without a time limit (retention.ms -1) or the cluster did not say: not a 7-day policy to judge.")
    return judge(slo, config.retention_ms / 1000, f"retention.ms of {RAW_TOPIC} is {config.retention_ms} ({config.retention_ms / 86_400_000:g} days).")


@checker("ingest.lag")
def ingest_lag(history: History, slo: Slo) -> Outcome:
    """The longest creation-to-ack time; a failed delivery never arrived and counts as at
    least the producer's delivery timeout."""
    seconds = [s for s in history.of(IngestSecond) if s.t >= measuring_from(history)]
    acked, failed = sum(s.acked for s in seconds), sum(s.failed for s in seconds)
    if acked < slo.evidence.min_events:
        return judge(slo, None, f"Only {acked} supplier events acknowledged after the warm-up; at least {slo.evidence.min_events} are needed (is the ingest tier up and the audit run?).")
    worst = max(s.max_ack_latency_s for s in seconds)
    failing = [s for s in seconds if s.failed]
    window = f"failed deliveries from {failing[0].t - seconds[0].t:.0f} s to {failing[-1].t - seconds[0].t + 1:.0f} s into the run ({failing[-1].t + 1 - failing[0].t:.0f} s)" if failing else "no failed deliveries"
    text = f"{acked} events acknowledged, {failed} failed; longest creation-to-ack {worst:.2f} s; producers' error window: {window}."
    if not failing:
        return judge(slo, worst, text)
    floors = [s.failed_lag_floor_s for s in failing]
    if any(f is None for f in floors):
        return judge(slo, None, f"{text} The history does not bound the lag of the failed deliveries.")
    return judge(slo, max(worst, *floors), f"{text} A failed delivery counts as at least the producer's {max(floors):g} s delivery timeout.")


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
    if len(outside) < slo.evidence.min_seconds:
        return judge(slo, None, f"Only {len(outside)} seconds of processing lag outside the fault window; at least {slo.evidence.min_seconds} are needed.")
    p95 = nearest_rank([s.max_s for s in outside], 95)
    fault_text = f" Events created or processed inside the fault window peaked at {max(s.max_s for s in in_fault):.1f} s (judged by the recovery objectives)." if in_fault else ""
    return judge(slo, p95, f"p95 over {len(outside)} seconds of the stream job's worst per-second lag (event creation to processing), for events created after the warm-up and neither created nor processed in the fault window; {sum(s.events for s in outside)} events.{fault_text}")
