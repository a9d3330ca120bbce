"""The report's Streaming section on a fabricated history (no lab): derived series, timeline,
worst values, plot geometry, and the section appearing only when streaming records exist.

Times are whole or binary fractions of a second from T0 so every derived value compares exactly."""

from __future__ import annotations

from pathlib import Path

from gameday.history import (
    CanarySample,
    FaultEvent,
    FaultPhase,
    FlinkSample,
    History,
    IngestSecond,
    IntegrityAudit,
    KafkaPartitionSample,
    Marker,
    Record,
    StreamLagSecond,
)  # fmt: skip
from gameday.reports.render import render_run
from gameday.reports.streaming import streaming_section
from gameday.reports.streaming_plot import build_streaming_plot
from gameday.reports.streaming_series import Series, has_streaming, streaming_series
from gameday.reports.streaming_timeline import origin, streaming_timeline, worst_values
from tests.unit.test_reports import T0, make_run

OLD, NEW = "http://jm-a:8081", "http://jm-b:8081"
KILL, REVERT = T0 + 10, T0 + 30


def partitions(t: float, p0: tuple[int, tuple[int, ...]], p1: tuple[int, tuple[int, ...]]) -> list[Record]:
    return [KafkaPartitionSample(t=t, topic="supplier.raw", partition=i, leader=leader, isr=isr, replicas=(1, 2, 3)) for i, (leader, isr) in enumerate((p0, p1))]


def streaming_records() -> list[Record]:
    """Broker 1 (leader of p0) killed at +10 s; the Flink leader fails over at the same time."""
    full, short = (1, 2, 3), (2, 3)
    records: list[Record] = [
        FaultEvent(t=KILL, phase=FaultPhase.INJECTED, fault="kafka.kill_broker", component="kafka-a", az="az-a", detail="broker=1 leads=1 SIGKILL"),
        FaultEvent(t=REVERT, phase=FaultPhase.REVERTED, fault="kafka.kill_broker", component="kafka-a"),
        # p0 still names the dead broker 1 at +10.5 s: leaderless all the same.
        *partitions(T0 + 8, (1, full), (2, full)),
        *partitions(T0 + 10.5, (1, full), (2, full)),
        *partitions(T0 + 12, (-1, short), (2, short)),
        *partitions(T0 + 12.5, (2, short), (2, short)),
        KafkaPartitionSample(t=T0 + 13, topic="supplier.raw", partition=0, leader=-1, isr=(), replicas=(1, 2, 3), error="metadata unavailable"),
        *partitions(T0 + 31, (2, short), (2, short)),
        *partitions(T0 + 32, (2, full), (2, full)),
        FlinkSample(t=T0 + 9, leader=OLD, job="j", state="RUNNING", checkpoint_id=5, checkpoint_at=T0 + 1, tasks_running=True),
        FlinkSample(t=T0 + 11, leader=OLD, error="rest: refused"),
        FlinkSample(t=T0 + 12, leader="", error="zookeeper: NoNodeError"),
        FlinkSample(t=T0 + 13, leader=NEW, job="j", state="RESTARTING"),
        FlinkSample(t=T0 + 14, leader=NEW, job="j", state="RUNNING", checkpoint_id=5, checkpoint_at=T0 + 1, tasks_running=True),
        FlinkSample(t=T0 + 15, leader=NEW, job="j", state="RUNNING", checkpoint_id=6, checkpoint_at=T0 + 14.5, tasks_running=True),
        IngestSecond(t=T0 + 9, acked=10, failed=0, max_ack_latency_s=0.25),
        IngestSecond(t=T0 + 10, acked=0, failed=3, max_ack_latency_s=0.0),
        IngestSecond(t=T0 + 11, acked=5, failed=1, max_ack_latency_s=2.5),
        StreamLagSecond(t=T0 + 9, events=10, p95_s=0.25, max_s=0.5),
        StreamLagSecond(t=T0 + 10, events=0, p95_s=0.0, max_s=0.0),
        StreamLagSecond(t=T0 + 11, events=4, p95_s=5.0, max_s=6.0),
        CanarySample(t=T0 + 9, flight_id="F1", amount_pence=900001, seen_at=T0 + 9.5, polls=3),
        CanarySample(t=T0 + 11, flight_id="F1", amount_pence=900003, gave_up_at=T0 + 16, polls=90),
        CanarySample(t=T0 + 12, flight_id="F1", amount_pence=900005, error="produce: broker down"),
        Marker(t=T0 + 10.75, name="monitor.restarted", detail="streaming monitor pid 42 ended unexpectedly (restart 1)"),
        IntegrityAudit(t=T0 + 40, cutoff=T0 + 35, acknowledged=15, lost_in_topic=0, duplicated_in_topic=1, lost_in_output=0, duplicated_in_output=0, lost_in_archive=2, duplicated_in_archive=0),
    ]
    return records


def history() -> History:
    return History.of_records(streaming_records())


def test_fake_history_lag_and_ingest_series() -> None:
    ss = streaming_series(history(), start=T0)
    # A second with no processed event or no acknowledgement has no lag: a gap, never 0.
    assert ss.lag_max_s == Series((9.0, 10.0, 11.0), (0.5, None, 6.0))
    assert ss.ack_latency_max_s == Series((9.0, 10.0, 11.0), (0.25, None, 2.5))
    assert ss.failed_deliveries == Series((9.0, 10.0, 11.0), (0.0, 3.0, 1.0))
    assert ss.window == (10.0, 30.0) and ss.end_offset == 40.0
    assert [(m.offset, m.phase) for m in ss.faults] == [(10.0, "injected"), (30.0, "reverted")]


def test_fake_history_checkpoint_age_and_job_states() -> None:
    ss = streaming_series(history(), start=T0)
    assert ss.checkpoint_age_s == Series((9.0, 11.0, 12.0, 13.0, 14.0, 15.0), (8.0, None, None, None, 13.0, 0.5))
    assert [(j.offset, j.running, j.state, j.error) for j in ss.job_states] == [
        (9.0, True, "RUNNING", ""),
        (11.0, False, "", "rest: refused"),
        (14.0, True, "RUNNING", ""),
    ]


def test_fake_history_partition_ticks() -> None:
    ticks = streaming_series(history(), start=T0).partitions
    # The +13 s tick has only an errored sample: unknown, so left out rather than counted.
    assert [(k.offset, k.partitions, k.leaderless, k.min_isr, k.under_replicated) for k in ticks] == [
        (8.0, 2, 0, 3, 0),
        (10.5, 2, 1, 3, 0),
        (12.0, 2, 1, 2, 2),
        (12.5, 2, 0, 2, 2),
        (31.0, 2, 0, 2, 2),
        (32.0, 2, 0, 3, 0),
    ]


def test_fake_history_canary_freshness() -> None:
    canaries = streaming_series(history(), start=T0).canaries
    assert [(c.offset, c.freshness_s, c.gave_up_after_s) for c in canaries] == [(9.0, 0.5, 0.0), (11.0, None, 5.0)]


def test_fake_history_timeline_rows() -> None:
    h = history()
    t0, name = origin(h, T0)
    assert (t0, name) == (KILL, "fault injection")
    rows = [(e.offset, e.what, e.detail) for e in streaming_timeline(h, streaming_series(h, start=T0), t0, 2.0)]
    assert rows == [
        (0.0, "fault injected: kafka.kill_broker @ kafka-a (az-a)", "broker=1 leads=1 SIGKILL"),
        (0.0, "Ingest deliveries failing", "4 failed in 2 seconds"),
        (0.5, "Kafka partitions without a live leader", "up to 1 of 2 partitions of supplier.raw"),
        (0.75, "Streaming monitor restarted", "streaming monitor pid 42 ended unexpectedly (restart 1)"),
        (1.0, "Flink job not RUNNING", "no answer: rest: refused"),
        (2.0, "Kafka ISR shrank", "2 of 2 partitions under-replicated; smallest ISR 2"),
        (2.0, "Flink leader changed", f"{OLD} → none known"),
        (2.0, "Ingest: end of the last second with a failed delivery", "2 s after the first"),
        (2.5, "Kafka: every partition has a live leader again", "leaderless for 2.0 s as sampled"),
        (3.0, "Flink leader changed", f"none known → {NEW}"),
        (4.0, "Flink job RUNNING again", "not RUNNING for 3.0 s as sampled; every task running"),
        (4.5, "First Flink checkpoint after the fault", "checkpoint 6, reported 0.5 s later"),
        (20.0, "fault reverted: kafka.kill_broker @ kafka-a", ""),
        (22.0, "Kafka ISR restored", "every ISR is its full replica set again; short for 20.0 s as sampled"),
        (30.0, "Integrity audit", "15 acknowledged events; lost 0 in supplier.raw, 0 in the job's output, 2 in the lake; duplicated 1 / 0 / 0"),
    ]


def test_fake_history_worst_values() -> None:
    h = history()
    worst = worst_values(streaming_series(h, start=T0), KILL)
    assert [(w.measure.split(" (")[0], w.value, w.unit, w.offset, w.note) for w in worst] == [
        ("Processing lag", 6.0, "s", 1.0, "timed by event creation"),
        ("Ingest ack latency", 2.5, "s", 1.0, "timed by acknowledgement"),
        ("Failed ingest deliveries", 4.0, "events", None, "in 2 seconds"),
        ("Flink checkpoint age", 13.0, "s", 4.0, ""),
        ("Canary freshness", 5.0, "s", 1.0, "1 of 2 canaries seen; this one never was (a lower bound)"),
    ]


def test_fake_history_without_fault_counts_from_run_start() -> None:
    h = History.of_records([r for r in streaming_records() if not isinstance(r, FaultEvent)])
    assert origin(h, T0) == (T0, "run start")
    rows = [(e.offset, e.what) for e in streaming_timeline(h, streaming_series(h, start=T0), T0, 2.0)]
    assert (10.5, "Kafka partitions without a live leader") not in rows  # no killed broker: broker 1 still leads
    assert not any(what.startswith("First Flink checkpoint") for _, what in rows)


def test_fake_history_streaming_plot_geometry() -> None:
    ss = streaming_series(history(), start=T0, end=T0 + 60)
    plot = build_streaming_plot(ss, lag_threshold_s=5, checkpoint_threshold_s=30)
    assert plot is not None and [p.y_label for p in plot.panels] == ["lag, s", "checkpoint age, s"]
    lag, checkpoint = plot.panels
    assert [(line.css, len(line.segments)) for line in lag.lines] == [("lag", 2), ("ack", 2)]  # split at the empty second
    assert [d.css for d in lag.dots] == ["canary", "canary-lost"]
    assert [len(line.segments) for line in checkpoint.lines] == [2] and checkpoint.threshold_label == "checkpoint interval 30 s"
    assert plot.shade is not None and len(plot.marks) == 2
    no_checkpoint = History.of_records([r for r in streaming_records() if not isinstance(r, FlinkSample)])
    only_lag = build_streaming_plot(streaming_series(no_checkpoint, start=T0), 5, 30)
    assert only_lag is not None and [p.y_label for p in only_lag.panels] == ["lag, s"]


def test_fake_history_without_streaming_records_has_no_section() -> None:
    h = History.of_records([r for r in streaming_records() if isinstance(r, (FaultEvent, Marker))])
    assert not has_streaming(h) and streaming_section(h, T0) is None
    audit_only = History.of_records([r for r in streaming_records() if isinstance(r, IntegrityAudit)])
    section = streaming_section(audit_only, T0)
    assert section is not None and section.plot is None and [e.what for e in section.timeline] == ["Integrity audit"]


def test_fake_history_reports_show_the_section_only_with_streaming_records(tmp_path: Path) -> None:
    plain = make_run(tmp_path / "plain")
    html, md = (p.read_text() for p in render_run(plain)[:2])
    assert 'id="streaming"' not in html and "streaming-plot-title" not in html and "## Streaming" not in md

    streaming = make_run(tmp_path / "streaming", history=history())
    html, md = (p.read_text() for p in render_run(streaming)[:2])
    assert '<section id="streaming">' in html and 'id="streaming-plot-title"' in html
    assert html.count("<svg") == 1  # no load data in this history: only the streaming plot
    assert 'class="series lag"' in html and 'class="dot canary-lost"' in html
    assert "Kafka partitions without a live leader" in html and "Offset from fault injection" in html
    assert "http://" not in html.replace(OLD, "").replace(NEW, "")  # still self-contained
    assert "## Streaming" in md
    assert "| +0.5 s | " in md and "| Kafka partitions without a live leader | up to 1 of 2 partitions of supplier.raw |" in md
    assert "| Processing lag (event creation to the job's output) | 6.00 s | +1.0 s | timed by event creation |" in md


def test_fake_history_zookeeper_quorum_on_the_timeline() -> None:
    """zookeeper-a stops answering leader/follower 10 s after the cut and answers again at
    40 s; b and c serve throughout; then b and c stop for 5 s (no quorum). Claims every
    0.5 s, as the asker makes them (fake history)."""
    from gameday.history import LeaderClaim

    def claims(node: str, spans: list[tuple[float, float]]) -> list[LeaderClaim]:
        return [LeaderClaim(t=KILL + a + i * 0.5, tier="zookeeper", node=node, leader="") for a, b in spans for i in range(int((b - a) * 2))]

    cut = FaultEvent(t=KILL, phase=FaultPhase.INJECTED, fault="az.partition", component="az-a", az="az-a")
    h = History.of_records(sorted([cut] + claims("zookeeper-a", [(0, 10), (40, 80)]) + claims("zookeeper-b", [(0, 60), (66, 80)])
                                  + claims("zookeeper-c", [(0, 60), (66, 80)]), key=lambda r: r.t))  # fmt: skip
    rows = [(e.offset, e.what, e.detail) for e in streaming_timeline(h, streaming_series(h, start=T0), KILL, 2.0) if e.kind == "zookeeper"]
    assert rows == [
        (12.0, "ZooKeeper: zookeeper-a out of the quorum", "no leader/follower answer for 2 s"),
        (40.0, "ZooKeeper: zookeeper-a serving again", "out of the quorum for 28 s"),
        (62.0, "ZooKeeper without a quorum", "1 of 3 members serving"),
        (62.0, "ZooKeeper: zookeeper-b out of the quorum", "no leader/follower answer for 2 s"),
        (62.0, "ZooKeeper: zookeeper-c out of the quorum", "no leader/follower answer for 2 s"),
        (66.0, "ZooKeeper has a quorum again", "none for 4 s"),
        (66.0, "ZooKeeper: zookeeper-b serving again", "out of the quorum for 4 s"),
        (66.0, "ZooKeeper: zookeeper-c serving again", "out of the quorum for 4 s"),
    ], rows
