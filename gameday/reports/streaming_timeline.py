"""What the streaming tiers did around the fault: a compact timeline and the worst values.

Offsets here are seconds from the first fault injection (the run start when the
run injected none), because "how long after the kill" is what a reader asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from gameday.history import MONITOR_RESTARTED, FaultPhase, FlinkSample, History, IntegrityAudit, Marker
from gameday.measures.quorum import zookeeper_seconds
from gameday.reports.streaming_series import PartitionTick, Series, StreamingSeries

T = TypeVar("T")


@dataclass(frozen=True)
class StreamEvent:
    t: float
    offset: float  # seconds from the origin (first fault injection, else run start)
    kind: str  # fault | kafka | flink | zookeeper | ingest | monitor | audit
    what: str
    detail: str


@dataclass(frozen=True)
class Worst:
    measure: str
    value: float
    unit: str
    offset: float | None  # from the origin; None for totals
    note: str = ""


def origin(history: History, run_start: float) -> tuple[float, str]:
    injected = [f.t for f in history.faults() if f.phase is FaultPhase.INJECTED]
    return (min(injected), "fault injection") if injected else (run_start, "run start")


def _runs(items: Sequence[T], bad: Callable[[T], bool]) -> list[tuple[list[T], T | None]]:
    """Maximal runs of consecutive bad items, each with the first good item after it (None = none)."""
    out: list[tuple[list[T], T | None]] = []
    current: list[T] = []
    for item in items:
        if bad(item):
            current.append(item)
        elif current:
            out.append((current, item))
            current = []
    if current:
        out.append((current, None))
    return out


def _fault_events(history: History, t0: float) -> list[StreamEvent]:
    out = []
    for f in history.faults():
        where = f.component + (f" ({f.az})" if f.az else "")
        out.append(StreamEvent(f.t, f.t - t0, "fault", f"fault {f.phase.value}: {f.fault} @ {where}", f.detail))
    return out


def _partition_events(ticks: Sequence[PartitionTick], t0: float) -> list[StreamEvent]:
    out = []
    for run, back in _runs(ticks, lambda k: k.leaderless > 0):
        first = run[0]
        worst = max(k.leaderless for k in run)
        out.append(StreamEvent(first.t, first.t - t0, "kafka", "Kafka partitions without a live leader", f"up to {worst} of {first.partitions} partitions of {first.topic}"))
        if back is not None:
            out.append(StreamEvent(back.t, back.t - t0, "kafka", "Kafka: every partition has a live leader again", f"leaderless for {back.t - first.t:.1f} s as sampled"))
    for run, back in _runs(ticks, lambda k: k.under_replicated > 0):
        first = run[0]
        smallest = min(k.min_isr for k in run)
        out.append(StreamEvent(first.t, first.t - t0, "kafka", "Kafka ISR shrank", f"{first.under_replicated} of {first.partitions} partitions under-replicated; smallest ISR {smallest}"))
        if back is not None:
            out.append(StreamEvent(back.t, back.t - t0, "kafka", "Kafka ISR restored", f"every ISR is its full replica set again; short for {back.t - first.t:.1f} s as sampled"))
    return out


def _leader_events(history: History, t0: float) -> list[StreamEvent]:
    out, previous = [], None
    for s in history.of(FlinkSample):
        if previous is not None and s.leader != previous:
            out.append(StreamEvent(s.t, s.t - t0, "flink", "Flink leader changed", f"{previous or 'none known'} → {s.leader or 'none known'}"))
        previous = s.leader
    return out


def _zookeeper_events(history: History, t0: float, stale_s: float) -> list[StreamEvent]:
    """When ZooKeeper (Flink's election and HA store) lost and regained its quorum, and when
    each member left and rejoined it (gameday.measures.quorum)."""
    members, seconds = zookeeper_seconds(history, stale_s)
    out = []
    for run, back in _runs(seconds, lambda q: not q.has_quorum):
        out.append(StreamEvent(run[0].t, run[0].t - t0, "zookeeper", "ZooKeeper without a quorum", f"{len(run[0].serving)} of {len(members)} members serving"))
        if back is not None:
            out.append(StreamEvent(back.t, back.t - t0, "zookeeper", "ZooKeeper has a quorum again", f"none for {back.t - run[0].t} s"))
    for m in members:
        for run, back in _runs(seconds, lambda q, m=m: m not in q.serving):
            if run[0] is seconds[0]:
                continue  # not serving since before the first answer: not a change the run saw
            out.append(StreamEvent(run[0].t, run[0].t - t0, "zookeeper", f"ZooKeeper: {m} out of the quorum", f"no leader/follower answer for {stale_s:g} s"))
            if back is not None:
                out.append(StreamEvent(back.t, back.t - t0, "zookeeper", f"ZooKeeper: {m} serving again", f"out of the quorum for {back.t - run[0].t} s"))
    return out


def _job_events(ss: StreamingSeries, t0: float) -> list[StreamEvent]:
    out, down_since = [], None
    for j in ss.job_states:
        if not j.running:
            down_since = j.t
            reason = f"state {j.state}" if j.state else f"no answer: {j.error}" if j.error else "no answer"
            out.append(StreamEvent(j.t, j.t - t0, "flink", "Flink job not RUNNING", reason))
        elif down_since is not None:
            tasks = "every task running" if j.tasks_running else "not every task running yet"
            out.append(StreamEvent(j.t, j.t - t0, "flink", "Flink job RUNNING again", f"not RUNNING for {j.t - down_since:.1f} s as sampled; {tasks}"))
    return out


def _checkpoint_event(history: History, t0: float) -> list[StreamEvent]:
    """The first checkpoint completed after the fault, at its completion time (not when it was seen)."""
    injected = [f.t for f in history.faults() if f.phase is FaultPhase.INJECTED]
    if not injected:
        return []
    s = next((s for s in history.of(FlinkSample) if s.checkpoint_at > injected[0]), None)
    if s is None:
        return []
    return [StreamEvent(s.checkpoint_at, s.checkpoint_at - t0, "flink", "First Flink checkpoint after the fault", f"checkpoint {s.checkpoint_id}, reported {s.t - s.checkpoint_at:.1f} s later")]


def _ingest_events(ss: StreamingSeries, t0: float) -> list[StreamEvent]:
    # One span for all failing seconds: sporadic failures would otherwise flood the table.
    failing = [(o, n) for o, n in zip(ss.failed_deliveries.offsets, ss.failed_deliveries.values) if n]
    if not failing:
        return []
    first, last = ss.start + failing[0][0], ss.start + failing[-1][0] + 1
    total = int(sum(n for _, n in failing if n is not None))
    return [
        StreamEvent(first, first - t0, "ingest", "Ingest deliveries failing", f"{total} failed in {len(failing)} seconds"),
        StreamEvent(last, last - t0, "ingest", "Ingest: end of the last second with a failed delivery", f"{last - first:.0f} s after the first"),
    ]


def _marker_events(history: History, t0: float) -> list[StreamEvent]:
    return [StreamEvent(m.t, m.t - t0, "monitor", "Streaming monitor restarted", m.detail) for m in history.of(Marker) if m.name == MONITOR_RESTARTED]


def audit_text(a: IntegrityAudit) -> str:
    if a.error:
        return f"did not finish: {a.error}"
    return (
        f"{a.acknowledged} acknowledged events; lost {a.lost_in_topic} in supplier.raw, {a.lost_in_output} in the job's output, "
        f"{a.lost_in_archive} in the lake; duplicated {a.duplicated_in_topic} / {a.duplicated_in_output} / {a.duplicated_in_archive}"
    )


def _audit_events(history: History, t0: float) -> list[StreamEvent]:
    return [StreamEvent(a.t, a.t - t0, "audit", "Integrity audit", audit_text(a)) for a in history.of(IntegrityAudit)]


def streaming_timeline(history: History, ss: StreamingSeries, t0: float, quorum_stale_s: float) -> tuple[StreamEvent, ...]:
    events = (
        _fault_events(history, t0) + _partition_events(ss.partitions, t0) + _leader_events(history, t0)
        + _zookeeper_events(history, t0, quorum_stale_s) + _job_events(ss, t0)
        + _checkpoint_event(history, t0) + _ingest_events(ss, t0) + _marker_events(history, t0) + _audit_events(history, t0)
    )  # fmt: skip
    return tuple(sorted(events, key=lambda e: e.t))


def _peak(series: Series, ss: StreamingSeries, t0: float, measure: str, note: str) -> list[Worst]:
    points = [(v, o) for o, v in zip(series.offsets, series.values) if v is not None]
    if not points:
        return []
    value, offset = max(points, key=lambda p: p[0])
    return [Worst(measure, value, "s", ss.start + offset - t0, note)]


def worst_values(ss: StreamingSeries, t0: float) -> tuple[Worst, ...]:
    # Lag is filed under the second its events were created, so its peak can precede the fault.
    out = _peak(ss.lag_max_s, ss, t0, "Processing lag (event creation to the job's output)", "timed by event creation")
    out += _peak(ss.ack_latency_max_s, ss, t0, "Ingest ack latency (event creation to Kafka ack)", "timed by acknowledgement")
    failed = [v for v in ss.failed_deliveries.values if v]
    if ss.failed_deliveries.offsets:
        out.append(Worst("Failed ingest deliveries", sum(v for v in failed if v is not None), "events", None, f"in {len(failed)} seconds" if failed else "none"))
    out += _peak(ss.checkpoint_age_s, ss, t0, "Flink checkpoint age", "")
    if ss.canaries:
        # An unseen canary's freshness is at least how long it was looked for.
        delay = lambda c: c.gave_up_after_s if c.freshness_s is None else c.freshness_s  # noqa: E731
        c = max(ss.canaries, key=delay)
        seen = sum(1 for x in ss.canaries if x.freshness_s is not None)
        note = f"{seen} of {len(ss.canaries)} canaries seen" + ("; this one never was (a lower bound)" if c.freshness_s is None else "")
        out.append(Worst("Canary freshness (produce to searchable)", delay(c), "s", c.t - t0, note))
    return tuple(out)
