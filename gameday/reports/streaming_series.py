"""Streaming-tier series from a history: pure data, no rendering.

Offsets are seconds from the run start, like gameday.reports.series, so the streaming
plot shares its time axis with the load plot.
"""

from __future__ import annotations

from dataclasses import dataclass

from gameday.history import (
    CanarySample,
    FlinkSample,
    History,
    IngestSecond,
    IntegrityAudit,
    KafkaClusterSample,
    KafkaOffsetsSample,
    KafkaPartitionSample,
    Record,
    StreamLagSecond,
)
from gameday.measures.flink import checkpoint_age
from gameday.measures.kafka import dead_brokers, has_live_leader
from gameday.measures.kafka import ticks as kafka_ticks
from gameday.reports.series import FaultMark, fault_marks

STREAMING_TYPES: tuple[type[Record], ...] = (
    KafkaPartitionSample, KafkaClusterSample, KafkaOffsetsSample, FlinkSample,
    IngestSecond, StreamLagSecond, CanarySample, IntegrityAudit,
)  # fmt: skip


@dataclass(frozen=True)
class Series:
    """One value per offset; None = not measurable there (drawn as a gap, never as 0)."""

    offsets: tuple[float, ...]
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class PartitionTick:
    """Every partition sampled at one metadata instant (samples with an error are left out)."""

    t: float
    offset: float
    topic: str
    partitions: int
    leaderless: int  # no leader, or led by a broker a fault had killed
    min_isr: int
    under_replicated: int  # ISR smaller than the replica set


@dataclass(frozen=True)
class JobState:
    """A change of the Flink job between RUNNING and anything else (including no answer)."""

    t: float
    offset: float
    running: bool
    state: str  # "" = the leader did not answer
    error: str
    tasks_running: bool


@dataclass(frozen=True)
class CanaryFreshness:
    t: float
    offset: float  # when it was produced
    flight_id: str
    freshness_s: float | None  # produce to searchable; None = never seen
    gave_up_after_s: float  # for an unseen canary: how long it was looked for


@dataclass(frozen=True)
class StreamingSeries:
    start: float  # epoch seconds that offset 0 stands for
    lag_max_s: Series  # per second of event creation
    ack_latency_max_s: Series  # per second of acknowledgement
    failed_deliveries: Series
    checkpoint_age_s: Series  # per Flink sample
    job_states: tuple[JobState, ...]
    partitions: tuple[PartitionTick, ...]
    canaries: tuple[CanaryFreshness, ...]
    window: tuple[float, float] | None
    faults: tuple[FaultMark, ...]
    end_offset: float


def has_streaming(history: History) -> bool:
    return any(isinstance(r, STREAMING_TYPES) for r in history.records)


def lag_max(history: History, start: float) -> Series:
    seconds = history.of(StreamLagSecond)
    return Series(tuple(s.t - start for s in seconds), tuple(s.max_s if s.events else None for s in seconds))


def ack_latency_max(history: History, start: float) -> Series:
    # A second with no acknowledgement has no latency: its 0 would read as "instant".
    seconds = history.of(IngestSecond)
    return Series(tuple(s.t - start for s in seconds), tuple(s.max_ack_latency_s if s.acked else None for s in seconds))


def failed_deliveries(history: History, start: float) -> Series:
    seconds = history.of(IngestSecond)
    return Series(tuple(s.t - start for s in seconds), tuple(float(s.failed) for s in seconds))


def checkpoint_ages(history: History, start: float) -> Series:
    samples = history.of(FlinkSample)
    return Series(tuple(s.t - start for s in samples), tuple(checkpoint_age(s) for s in samples))


def job_states(history: History, start: float) -> tuple[JobState, ...]:
    """The first sample, then every sample whose RUNNING-ness differs from the one before."""
    out: list[JobState] = []
    for s in history.of(FlinkSample):
        running = s.state == "RUNNING"
        if not out or out[-1].running != running:
            out.append(JobState(s.t, s.t - start, running, s.state, s.error, s.tasks_running))
    return tuple(out)


def partition_ticks(history: History, start: float) -> tuple[PartitionTick, ...]:
    """Per metadata instant: partitions without a live leader and the smallest ISR.

    Until the controller fences a killed broker, metadata still names it leader, so a
    partition led by a broker a fault had killed counts as leaderless (as the checker does)."""
    dead = dead_brokers(history)
    by_t = kafka_ticks([s for s in history.of(KafkaPartitionSample) if not s.error])
    ticks = []
    for t in sorted(by_t):
        tick = by_t[t]
        down = {b for b, t0, t1 in dead if t0 <= t < t1}
        ticks.append(
            PartitionTick(
                t=t,
                offset=t - start,
                topic=tick[0].topic,
                partitions=len(tick),
                leaderless=sum(1 for s in tick if not has_live_leader(s, down)),
                min_isr=min(len(s.isr) for s in tick),
                under_replicated=sum(1 for s in tick if len(s.isr) < len(s.replicas)),
            )
        )
    return tuple(ticks)


def canaries(history: History, start: float) -> tuple[CanaryFreshness, ...]:
    # A canary that failed to produce was never a freshness measurement.
    return tuple(
        CanaryFreshness(c.t, c.t - start, c.flight_id, c.seen_at - c.t if c.seen_at else None, c.gave_up_at - c.t if not c.seen_at else 0.0)
        for c in history.of(CanarySample)
        if not c.error
    )


def streaming_series(history: History, start: float, end: float | None = None) -> StreamingSeries:
    records = history.records
    window = history.fault_window()
    last = max([records[-1].t - start if records else 0.0] + ([end - start] if end is not None else []))
    return StreamingSeries(
        start=start,
        lag_max_s=lag_max(history, start),
        ack_latency_max_s=ack_latency_max(history, start),
        failed_deliveries=failed_deliveries(history, start),
        checkpoint_age_s=checkpoint_ages(history, start),
        job_states=job_states(history, start),
        partitions=partition_ticks(history, start),
        canaries=canaries(history, start),
        window=None if window is None else (window[0] - start, window[1] - start),
        faults=fault_marks(history, start),
        end_offset=last,
    )
