"""Streaming checkers and the audit's pure helpers on fabricated histories and files: every
checker passes, fails, and says unknown without data. xfail(strict) tests pin known bugs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from flightsearch.ingest import read_ack_lines, read_nacks
from gameday.checkers import run_checkers
from gameday.checkers.verdicts import Outcome, Verdict
from gameday.history import (
    CanarySample,
    FaultEvent,
    FaultPhase,
    FlinkFailure,
    FlinkSample,
    History,
    IngestSecond,
    IntegrityAudit,
    KafkaOffsetsSample,
    KafkaPartitionSample,
    KafkaTopicConfig,
    Marker,
    StreamLagSecond,
)  # fmt: skip
from gameday.measures.stream import epoch, processing_lag
from gameday.monitors import audit

T0 = 1_800_000_000.0
FAULT = T0 + 60.0
OLD, NEW = "http://10.213.0.11:8081", "http://10.213.0.12:8081"


def check(slo_id: str, records: list) -> Outcome:
    [outcome] = run_checkers(History.of_records(records), [slo_id])
    assert not outcome.detail.startswith("Checker crashed"), outcome.detail
    return outcome


def verdict(o: Outcome, want: Verdict, measured: float | None) -> None:
    assert o.verdict is want, o
    assert o.measured == (None if measured is None else pytest.approx(measured, abs=1e-3)), o


def fault(name: str, at: float, component: str, detail: str = "", phase: FaultPhase = FaultPhase.INJECTED) -> FaultEvent:
    return FaultEvent(t=at, phase=phase, fault=name, component=component, az="az-" + component[-1], detail=detail)


BROKER_KILL = fault("kafka.kill_broker", FAULT, "kafka-b", "broker=2 leads=1 role=most_leaders (most leaders) SIGKILL")
JM_KILL = fault("flink.kill_jobmanager", FAULT, "flink-jm-a", f"leader={OLD} SIGKILL")
TM_KILL = fault("flink.kill_taskmanager", FAULT, "flink-tm-b")


# --- Kafka --------------------------------------------------------------------------------


def tick(t: float, isrs, leaders=(1, 2, 3), error: str = "") -> list[KafkaPartitionSample]:
    return [KafkaPartitionSample(t=t, topic="supplier.raw", partition=p, leader=leaders[p], isr=isrs[p], replicas=(1, 2, 3), error=error) for p in range(3)]


def reelection(back_s: float | None, watch_s: int = 60, start: int = -3) -> list:
    """Broker 2 (leader of partition 1) killed at FAULT; metadata names it until back_s."""
    recs = []
    for i in range(start, watch_s + 1):
        dead_named = i < 0 or back_s is None or i < back_s
        recs += tick(FAULT + i, [(1, 2, 3) if i < 0 else (1, 3)] * 3, (1, 2, 3) if dead_named else (1, 3, 3))
    recs += tick(FAULT + 1.5, [()] * 3, (-1, -1, -1), error="KafkaError: _TRANSPORT")  # an unanswered tick
    return recs


def test_fake_history_leader_reelection_pass_fail_and_never():
    ok = check("kafka.leader_reelection", [BROKER_KILL, *reelection(4)])
    verdict(ok, Verdict.PASS, 4.0)
    assert "leading 1 partitions" in ok.detail
    verdict(check("kafka.leader_reelection", [BROKER_KILL, *reelection(45)]), Verdict.FAIL, 45.0)
    never = check("kafka.leader_reelection", [BROKER_KILL, *reelection(None, watch_s=40)])
    verdict(never, Verdict.FAIL, 40.0)
    assert "still had no live leader" in never.detail


@pytest.mark.parametrize(
    "records, why",
    [
        (reelection(4), "No broker kill"),
        ([fault("kafka.kill_broker", FAULT, "kafka-b", "SIGKILL"), *reelection(4)], "does not name the broker"),
        ([BROKER_KILL, *tick(FAULT - 1, [(1, 2, 3)] * 3)], "Only 0 metadata ticks after the fault"),
        ([BROKER_KILL, *reelection(None, watch_s=10)], "inconclusive"),  # 10 s without a leader: no proof of >= 30
    ],
)
def test_fake_history_leader_reelection_unknown(records, why):
    o = check("kafka.leader_reelection", records)
    verdict(o, Verdict.UNKNOWN, None)
    assert why in o.detail


def config(min_isr: int = 2, t: float = FAULT - 5, **kw) -> KafkaTopicConfig:
    return KafkaTopicConfig(t=t, topic="supplier.raw", partitions=3, replication_factor=3, min_insync_replicas=min_isr, retention_ms=604_800_000, **kw)


def test_fake_history_min_isr_pass_fail_unknown():
    revert = fault("kafka.kill_broker", FAULT + 20, "kafka-b", phase=FaultPhase.REVERTED)
    healed = [*tick(FAULT, [(1, 3)] * 3)] + [r for i in range(5) for r in tick(FAULT + 21 + i, [(1, 2, 3)] * 3)]
    ok = check("kafka.min_isr", [config(), BROKER_KILL, revert, *healed])
    verdict(ok, Verdict.PASS, 2.0)  # the configured minimum, 2, is the smaller figure
    assert "min.insync.replicas of supplier.raw is 2" in ok.detail and "smallest ISR at the end: 3 of 3" in ok.detail
    short = [*tick(FAULT, [(1, 3)] * 3)] + [r for i in range(5) for r in tick(FAULT + 30 + i, [(1, 3), (3,), (1, 3)])]
    verdict(check("kafka.min_isr", [config(), BROKER_KILL, revert, *short]), Verdict.FAIL, 1.0)
    no_restore = check("kafka.min_isr", [config(), BROKER_KILL, *short])
    verdict(no_restore, Verdict.UNKNOWN, None)
    assert "No broker was restored" in no_restore.detail
    verdict(check("kafka.min_isr", [BROKER_KILL, revert, *healed]), Verdict.UNKNOWN, None)  # config never read
    verdict(check("kafka.min_isr", [config(), BROKER_KILL, revert, *tick(FAULT + 21, [(1, 2, 3)] * 3)]), Verdict.UNKNOWN, None)  # one tick
    # a topic that allows acks=all with one replica fails, however full its ISRs are
    verdict(check("kafka.min_isr", [config(min_isr=1), BROKER_KILL, revert, *healed]), Verdict.FAIL, 1.0)
    # a partition that did not answer at the end is not dropped: the last complete tick is
    # judged, with what the other partitions said after it
    partial = lambda isr: [KafkaPartitionSample(t=FAULT + 40, topic="supplier.raw", partition=p, leader=1, isr=isr if p else (), replicas=(1, 2, 3), error="" if p else "timed out") for p in range(3)]  # noqa: E731
    judged = check("kafka.min_isr", [config(), BROKER_KILL, revert, *healed, *partial((1, 2, 3))])
    verdict(judged, Verdict.PASS, 2.0)
    assert "1 ticks after the restore had partitions that did not answer" in judged.detail
    verdict(check("kafka.min_isr", [config(), BROKER_KILL, revert, *healed, *partial((1,))]), Verdict.FAIL, 1.0)


def ingest(latencies: list[float], acked: int = 100, failing: tuple[int, ...] = (), floor: float | None = 30.0) -> list:
    recs = [Marker(t=T0, name="warmup.end"), IngestSecond(t=T0 - 5, acked=50, failed=0, max_ack_latency_s=99.0)]
    return recs + [IngestSecond(t=T0 + i, acked=acked, failed=5 if i in failing else 0, max_ack_latency_s=lat, failed_lag_floor_s=floor) for i, lat in enumerate(latencies)]


def test_fake_history_ingest_lag_pass_fail_unknown():
    ok = check("ingest.lag", ingest([0.2, 0.3, 2.5, 0.2]))  # the 99 s second is in the warm-up
    verdict(ok, Verdict.PASS, 2.5)
    assert "400 events acknowledged, 0 failed" in ok.detail and "no failed deliveries" in ok.detail
    bad = check("ingest.lag", ingest([0.2, 31.0, 0.2, 0.2, 0.2, 0.2, 0.2], failing=(4, 5, 6)))
    verdict(bad, Verdict.FAIL, 31.0)
    assert "from 4 s to 7 s into the run (3 s)" in bad.detail
    failed = check("ingest.lag", ingest([0.2, 0.3, 0.2], failing=(1,)))
    verdict(failed, Verdict.FAIL, 30.0)  # a failed delivery is at least the producer's timeout
    assert "at least the producer's 30 s delivery timeout" in failed.detail
    verdict(check("ingest.lag", ingest([0.2, 0.3, 0.2], failing=(1,), floor=None)), Verdict.UNKNOWN, None)  # an older history
    verdict(check("ingest.lag", ingest([30.0, 0.1])), Verdict.FAIL, 30.0)  # "< 30 s" is strict
    verdict(check("ingest.lag", ingest([0.1, 0.1], acked=0, failing=(0, 1))), Verdict.UNKNOWN, None)
    verdict(check("ingest.lag", ingest([])), Verdict.UNKNOWN, None)  # acks only in the warm-up


def stream_lag(outside: list[float], warmup: float = 0.0) -> list:
    """30 s of lag seconds; fault window [T0+10, T0+20) holds 50 s lags; `outside` fills the rest."""
    recs = [Marker(t=T0 + warmup, name="warmup.end"), fault("flink.kill_taskmanager", T0 + 10, "flink-tm-b"),
            fault("flink.kill_taskmanager", T0 + 20, "flink-tm-b", phase=FaultPhase.REVERTED)]  # fmt: skip
    values = iter(outside)
    for i in range(30):
        lag = 50.0 if 10 <= i < 20 else next(values)
        recs.append(StreamLagSecond(t=T0 + i, events=10, p95_s=lag, max_s=lag))
    return recs


def test_fake_history_consumer_lag_p95_pass_fail_unknown():
    ok = check("kafka.consumer_lag_p95", stream_lag([1.0] * 19 + [9.0]))  # one outlier in 20 is above p95
    verdict(ok, Verdict.PASS, 1.0)
    assert "p95 over 20 seconds" in ok.detail and "peaked at 50.0 s" in ok.detail
    verdict(check("kafka.consumer_lag_p95", stream_lag([1.0] * 18 + [9.0, 9.0])), Verdict.FAIL, 9.0)
    verdict(check("kafka.consumer_lag_p95", stream_lag([5.0] * 20)), Verdict.FAIL, 5.0)  # strict
    short = check("kafka.consumer_lag_p95", stream_lag([1.0] * 20, warmup=21))
    verdict(short, Verdict.UNKNOWN, None)
    assert "Only 9 seconds" in short.detail



def test_fake_history_consumer_lag_events_in_flight_at_the_fault_are_the_faults():
    # Created in the two seconds before the kill, processed 11 s later (they waited for the
    # new leader): the fault's lag, not the steady state's. CI saw exactly this judged as
    # steady-state lag (p95 11.0 s) before processed_until existed.
    def lag_second(i: int, lag: float) -> StreamLagSecond:
        return StreamLagSecond(t=T0 + i, events=10, p95_s=lag, max_s=lag, processed_until=T0 + i + 1 + lag)

    base = [Marker(t=T0, name="warmup.end"), fault("kafka.kill_broker", T0 + 20, "kafka-a"),
            fault("kafka.kill_broker", T0 + 30, "kafka-a", phase=FaultPhase.REVERTED)]  # fmt: skip
    lags = {i: 0.5 for i in range(50)} | {18: 11.0, 19: 11.0} | {i: 10.0 for i in range(20, 30)}
    ok = check("kafka.consumer_lag_p95", base + [lag_second(i, v) for i, v in lags.items()])
    verdict(ok, Verdict.PASS, 0.5)
    assert "p95 over 38 seconds" in ok.detail and "peaked at 11.0 s" in ok.detail
    # The same platform still failing to drain after the restore is the steady state's problem.
    slow = lags | {i: 8.0 for i in range(30, 34)}
    verdict(check("kafka.consumer_lag_p95", base + [lag_second(i, v) for i, v in slow.items()]), Verdict.FAIL, 8.0)

# --- Flink --------------------------------------------------------------------------------


def election(new_at: float | None, watch_s: float = 20.0) -> list:
    recs = [JM_KILL, FlinkSample(t=FAULT, leader=OLD, job="j", state="RUNNING", tasks_running=True)]  # not yet dead
    for k in range(1, int(watch_s * 2) + 1):
        t, s = FAULT + k / 2, k / 2
        if new_at is not None and s >= new_at:
            recs.append(FlinkSample(t=t, leader=NEW, job="j", state="RESTARTING"))
        elif s < 2:
            recs.append(FlinkSample(t=t, leader=OLD, error="rest: connection refused"))
        else:
            recs.append(FlinkSample(t=t, leader=NEW, error="rest: timed out"))  # named, REST not up yet
    return recs


def test_fake_history_flink_leader_election_pass_fail_unknown():
    ok = check("flink.leader_election", election(3.5))
    verdict(ok, Verdict.PASS, 3.5)
    assert NEW in ok.detail and OLD in ok.detail
    verdict(check("flink.leader_election", election(7.0)), Verdict.FAIL, 7.0)
    verdict(check("flink.leader_election", election(None)), Verdict.FAIL, 20.0)
    verdict(check("flink.leader_election", election(None, watch_s=4)), Verdict.UNKNOWN, None)  # inconclusive
    for records in (election(3.5)[1:], [JM_KILL, FlinkSample(t=FAULT - 1, leader=OLD)]):  # no fault; no samples after it
        verdict(check("flink.leader_election", records), Verdict.UNKNOWN, None)


def recovery(running_at: int | None, progress_at: int | None, down: str = "RESTARTING", offsets: bool = True, watch: int = 60) -> list:
    """TaskManager killed at FAULT; job down from +1 s until running_at; output flat from the
    fault and growing again from progress_at (per-second ticks, two partitions)."""
    recs = [TM_KILL]
    for i in range(-5, watch + 1):
        t = FAULT + i
        healthy = i < 1 or (running_at is not None and i >= running_at)
        recs.append(FlinkSample(t=t, leader=NEW, job="j", state="RUNNING" if healthy else down, tasks_running=healthy))
        total = 1000 + 50 * min(i, 0) + (50 * (i - progress_at + 1) if progress_at is not None and i >= progress_at else 0)
        if offsets:
            recs += [KafkaOffsetsSample(t=t, group="g", topic="prices.normalized", partition=p, end=total // 2 + p * (total % 2), committed=0) for p in (0, 1)]
    return recs


def test_fake_history_flink_recovery_pass_and_fail():
    verdict(check("flink.recovery", recovery(8, 10)), Verdict.PASS, 10.0)
    verdict(check("flink.recovery", recovery(8, 10, down="RUNNING")), Verdict.PASS, 10.0)  # RUNNING, tasks not
    verdict(check("flink.recovery", recovery(8, 3)), Verdict.PASS, 9.0)  # output before RUNNING is not recovery
    verdict(check("flink.recovery", recovery(28, 33)), Verdict.FAIL, 33.0)
    stuck = check("flink.recovery", recovery(None, None))
    verdict(stuck, Verdict.FAIL, 60.0)
    assert "last state RESTARTING" in stuck.detail
    idle = check("flink.recovery", recovery(8, None))
    verdict(idle, Verdict.FAIL, 60.0)
    assert "wrote no output" in idle.detail


def test_fake_history_flink_recovery_names_the_restarts_that_made_it_long():
    slow = recovery(28, 33) + [FlinkFailure(t=FAULT + dt, job="j", exception="java.util.concurrent.TimeoutException: slot request", task="Source (1/3)")
                               for dt in (2.0, 5.0, 11.0)] + [FlinkFailure(t=FAULT - 100, job="j", exception="before the fault")]
    outcome = check("flink.recovery", slow)
    verdict(outcome, Verdict.FAIL, 33.0)
    assert "failed 3 time(s)" in outcome.detail and "3 x java.util.concurrent.TimeoutException" in outcome.detail
    assert "before the fault" not in outcome.detail
    assert "failed" not in check("flink.recovery", recovery(8, 10)).detail  # none recorded: nothing said


def test_fake_history_flink_recovery_unknown():
    never_down = check("flink.recovery", recovery(0, 0))
    verdict(never_down, Verdict.UNKNOWN, None)
    assert "never looked disrupted" in never_down.detail
    verdict(check("flink.recovery", recovery(8, 10, offsets=False)), Verdict.UNKNOWN, None)
    verdict(check("flink.recovery", recovery(8, 10)[1:]), Verdict.UNKNOWN, None)  # no fault
    unknown_end = [r if not isinstance(r, KafkaOffsetsSample) or r.partition else KafkaOffsetsSample(t=r.t, group="g", topic=r.topic, partition=0, end=-1, committed=-1) for r in recovery(8, 10)]
    verdict(check("flink.recovery", unknown_end), Verdict.UNKNOWN, None)  # no tick where every partition answered
    verdict(check("flink.recovery", recovery(None, None, watch=10)), Verdict.UNKNOWN, None)  # inconclusive


def checkpoints(completed: list[float], *faults: FaultEvent, until: float | None = None) -> list:
    recs = list(faults) + [FlinkSample(t=T0 - 1, leader=NEW, job="j", state="RUNNING")]  # no checkpoint yet
    for k, at in enumerate(completed, start=1):
        nxt = completed[k] if k < len(completed) else (until or at + 5)
        recs += [FlinkSample(t=t, leader=NEW, job="j", state="RUNNING", checkpoint_id=k, checkpoint_at=T0 + at) for t in (T0 + at + 0.5, T0 + (at + nxt) / 2)]
    return recs


def test_fake_history_checkpoint_interval_pass_fail_unknown():
    fault_at = fault("flink.kill_taskmanager", T0 + 35, "flink-tm-b")
    ok = check("flink.checkpoint_interval", checkpoints([0, 10, 20, 30, 80, 90], fault_at))
    verdict(ok, Verdict.PASS, 10.0)  # the 50 s gap across the fault is flink.recovery's
    assert "6 checkpoints" in ok.detail and "judged by flink.recovery" in ok.detail
    verdict(check("flink.checkpoint_interval", checkpoints([0, 30.04, 60.08])), Verdict.PASS, 30.0)  # to 0.1 s
    verdict(check("flink.checkpoint_interval", checkpoints([0, 10, 20, 65, 75])), Verdict.FAIL, 45.0)
    verdict(check("flink.checkpoint_interval", checkpoints([0, 10, 20, 65, 75], fault("kafka.kill_broker", T0 + 25, "kafka-b", "broker=2"))), Verdict.PASS, 10.0)
    for records in (checkpoints([5]), checkpoints([]), checkpoints([0, 50], fault("flink.kill_taskmanager", T0 + 10, "flink-tm-b"))):
        verdict(check("flink.checkpoint_interval", records), Verdict.UNKNOWN, None)  # one; none; only the gap across the fault


def test_fake_history_checkpoints_that_stop_completing_fail():
    # Checkpoints every 10 s, then none: the last sample (at 90 s) sees the newest 60 s old.
    verdict(check("flink.checkpoint_interval", checkpoints([0, 10, 20, 30], until=150)), Verdict.FAIL, 60.0)


def test_fake_history_a_checkpoint_in_progress_at_the_end_is_no_miss():
    """CI, run 7: every 30.0 s, and at the end of the watch the newest was 31.3 s old because
    the next one, triggered on time, was still being written."""
    base = checkpoints([0, 30, 60, 90], until=121.3)
    last = max(r.t for r in base if isinstance(r, FlinkSample))
    tail = FlinkSample(t=T0 + 121.3, leader=NEW, job="j", state="RUNNING", checkpoint_id=4, checkpoint_at=T0 + 90)
    verdict(check("flink.checkpoint_interval", base + [tail]), Verdict.FAIL, 31.3)  # nothing says one is under way
    writing = FlinkSample(t=T0 + 121.3, leader=NEW, job="j", state="RUNNING", checkpoint_id=4, checkpoint_at=T0 + 90, pending_triggered_at=T0 + 120)
    on_time = check("flink.checkpoint_interval", base + [writing])
    verdict(on_time, Verdict.PASS, 30.0)
    assert "in progress" in on_time.detail and last < T0 + 121.3
    late = FlinkSample(t=T0 + 121.3, leader=NEW, job="j", state="RUNNING", checkpoint_id=4, checkpoint_at=T0 + 90, pending_triggered_at=T0 + 118)
    verdict(check("flink.checkpoint_interval", base + [late]), Verdict.PASS, 30.0)  # triggered early: fine
    stuck = [r for r in checkpoints([0, 30, 60, 90], until=181)] + [
        FlinkSample(t=T0 + 181, leader=NEW, job="j", state="RUNNING", checkpoint_id=4, checkpoint_at=T0 + 90, pending_triggered_at=T0 + 120)]
    verdict(check("flink.checkpoint_interval", stuck), Verdict.FAIL, 61.0)  # in progress for a minute: a miss


# --- integrity and freshness ----------------------------------------------------------------


def audited(**fields) -> list:
    base = dict(cutoff=T0 + 100, acknowledged=1000, lost_in_topic=0, duplicated_in_topic=0, lost_in_output=0, duplicated_in_output=0, lost_in_archive=0, duplicated_in_archive=0, waited_s=12.0)
    return [IntegrityAudit(t=T0 + 90, **{**base, "lost_in_output": 99}), IntegrityAudit(t=T0 + 120, **{**base, **fields})]  # the last audit counts


@pytest.mark.parametrize("slo", ["data.events_lost", "data.events_duplicated"])
def test_fake_history_integrity_pass_and_unknown(slo):
    verdict(check(slo, audited(duplicated_in_topic=5)), Verdict.PASS, 0.0)  # the job deduplicates supplier.raw
    for records in ([], audited(acknowledged=0)):
        verdict(check(slo, records), Verdict.UNKNOWN, None)
    failed = check(slo, audited(acknowledged=-1, error="TimeoutError: could not read partitions [0]"))
    verdict(failed, Verdict.UNKNOWN, None)
    assert "TimeoutError" in failed.detail


def test_fake_history_integrity_fail():
    lost = check("data.events_lost", audited(lost_in_archive=3, lost_sample=("sup-01-000007", "sup-02-000009")))
    verdict(lost, Verdict.FAIL, 3.0)
    assert "e.g. sup-01-000007, sup-02-000009" in lost.detail
    verdict(check("data.events_lost", audited(lost_in_topic=2)), Verdict.FAIL, 2.0)
    verdict(check("data.events_duplicated", audited(duplicated_in_output=4, duplicated_in_archive=2)), Verdict.FAIL, 4.0)


def test_fake_history_an_earlier_drills_loss_is_named_not_judged():
    """The lab lost 250 events in an earlier drill: this run's audit says so, and passes on its own."""
    ok = check("data.events_lost", audited(judged_from=T0 - 30, earlier_acknowledged=69000, earlier_lost=250))
    verdict(ok, Verdict.PASS, 0.0)
    assert "69000 events acknowledged earlier" in ok.detail and "250 of them missing" in ok.detail


@pytest.mark.parametrize("slo, unmeasured", [("data.events_lost", "lost_in_output"), ("data.events_duplicated", "duplicated_in_archive")])
def test_fake_history_integrity_unmeasured_count_is_unknown(slo, unmeasured):
    verdict(check(slo, audited(**{unmeasured: -1})), Verdict.UNKNOWN, None)


def canaries(delays: list[float | None], pending: tuple[float, ...] = ()) -> list:
    """Canaries every 2 s from T0 (outside the fault window [T0+20, T0+40) while fewer than 10),
    then from T0+40; None = never seen; `pending`: ages of canaries unseen when the run stopped."""
    recs = [Marker(t=T0, name="warmup.end"), fault("flink.kill_taskmanager", T0 + 20, "flink-tm-b"),
            fault("flink.kill_taskmanager", T0 + 40, "flink-tm-b", phase=FaultPhase.REVERTED),
            CanarySample(t=T0 - 5, flight_id="FR1", amount_pence=1, seen_at=T0 + 4),  # in the warm-up
            CanarySample(t=T0 + 25, flight_id="FR1", amount_pence=2, seen_at=T0 + 34),  # in the fault window
            CanarySample(t=T0 + 1, flight_id="FR1", amount_pence=3, error="produce failed")]  # fmt: skip
    for k, d in enumerate(delays):
        t = T0 + 2 * k + (30 if k >= 10 else 0)
        recs.append(CanarySample(t=t, flight_id="FR1", amount_pence=100 + k, seen_at=t + d if d is not None else 0.0, gave_up_at=t + 8))
    stop = T0 + 200
    recs += [CanarySample(t=stop - age, flight_id="FR1", amount_pence=900 + k, gave_up_at=stop, pending=True) for k, age in enumerate(pending)]
    return recs


def test_fake_history_freshness_pass_fail_unknown():
    ten = [0.3, 0.4, 0.5, 0.6, 0.8, 0.3, 0.4, 0.5, 0.6, 0.5]
    ok = check("freshness.searchable", canaries(ten))
    verdict(ok, Verdict.PASS, 0.8)
    assert "10 canary price updates" in ok.detail and "median 0.50 s" in ok.detail
    verdict(check("freshness.searchable", canaries([*ten[:9], 1.5])), Verdict.FAIL, 1.5)
    unseen = check("freshness.searchable", canaries([None, *ten[1:]]))
    verdict(unseen, Verdict.FAIL, 8.0)
    assert "1 of 10 canary" in unseen.detail
    short = check("freshness.searchable", canaries([0.3, 0.4, 0.5]))
    verdict(short, Verdict.UNKNOWN, None)
    assert "Only 3 canary" in short.detail and "at least 10" in short.detail
    # a stall in the last minute: canaries still unseen when the run stopped count at their age
    stalled = check("freshness.searchable", canaries(ten, pending=(45.0, 20.0, 0.4)))
    verdict(stalled, Verdict.FAIL, 45.0)
    assert "2 of them still pending when the run stopped" in stalled.detail
    verdict(check("freshness.searchable", canaries(ten, pending=(0.4,))), Verdict.PASS, 0.8)  # too young to judge
    # a seen canary that took longer than an unseen one's age is the figure (it was not, once)
    slow = check("freshness.searchable", canaries([*ten, 29.0], pending=(3.2,)))
    verdict(slow, Verdict.FAIL, 29.0)
    assert "The 11 seen: median 0.50 s, worst 29.00 s" in slow.detail


# --- audit and ingest helpers (files in tmp_path) -------------------------------------------

B = datetime(2026, 11, 25, 20, 0, 0, tzinfo=timezone.utc).timestamp()


def test_fake_files_ack_log_readers(tmp_path):
    acks = tmp_path / "sup-01.acks"
    acks.write_text("1 0 10\n2 1 11 100.500 100.250\n3 0 12 100.9")  # old format, new format, partial line
    assert read_ack_lines(acks) == [(1, 0, 10, 0.0, 0.0), (2, 1, 11, 100.5, 100.25)]
    nacks = tmp_path / "sup-01.nacks"
    nacks.write_text("5 101.500 _MSG_TIMED_OUT\n6 101.7")
    assert read_nacks(nacks) == [(5, 101.5, "_MSG_TIMED_OUT")]
    assert read_ack_lines(tmp_path / "none.acks") == [] and read_nacks(tmp_path / "none.nacks") == []


def test_fake_files_partial_last_line_is_skipped_whatever_its_fields(tmp_path):
    acks = tmp_path / "sup-01.acks"
    acks.write_text("2 1 11 100.500 100.250\n3 0 12 100.900 10")  # created_t cut short: "10"
    assert read_ack_lines(acks) == [(2, 1, 11, 100.5, 100.25)]


def test_fake_files_acked_until_and_ingest_seconds(tmp_path):
    (tmp_path / "sup-01.acks").write_text("1 0 10 100.500 100.200\n2 0 11 100.900 99.900\n3 1 5 102.100 102.000\n4 1 6 250.000 249.000\n5 0 12 20")
    (tmp_path / "sup-02.acks").write_text("7 2 3\n8 2 4 101.200 0\n")  # old format; creation time not recorded
    (tmp_path / "sup-01.nacks").write_text("8 101.500 _MSG_TIMED_OUT\n9 101.700 LOCAL_QUEUE_FULL\n10 300.000 _MSG_TIMED_OUT\n")
    (tmp_path / "sup-03.seq").write_text("2001\n")
    acked = audit.acked_until(tmp_path, 150.0)
    assert set(acked) == {("sup-01", 1), ("sup-01", 2), ("sup-01", 3), ("sup-02", 7), ("sup-02", 8)}
    # The run's own events from 101 s on; the earlier ones (an earlier drill's) are not judged.
    assert audit.split_at(acked, 101.0) == ({("sup-01", 3), ("sup-02", 8)}, {("sup-01", 1), ("sup-01", 2), ("sup-02", 7)})
    got = [(s.t, s.acked, s.failed, round(s.max_ack_latency_s, 3)) for s in audit.ingest_seconds(tmp_path, 100.0, 200.0)]
    assert got == [(100.0, 2, 0, 1.0), (101.0, 0, 2, 0.0), (102.0, 1, 0, 0.1)]


def test_fake_files_read_archive_skips_in_progress_files(tmp_path):
    bucket = tmp_path / "2026-11-25--20"
    bucket.mkdir()
    (bucket / "part-a-0").write_text('{"supplier": "sup-01", "seq": 1}\n\n{"supplier": "sup-01", "seq": 2}\n')
    (bucket / ".part-a-1.inprogress.0e2f").write_text('{"supplier": "sup-01", "seq": 3}\n')
    (tmp_path / "part-b-0").write_text('{"supplier": "sup-02", "seq": 1}\n')
    assert sorted((e["supplier"], e["seq"]) for e in audit.read_archive(tmp_path)) == [("sup-01", 1), ("sup-01", 2), ("sup-02", 1)]


def test_fake_events_counts_and_compare():
    events = [{"supplier": "sup-01", "seq": 1}, {"supplier": "sup-01", "seq": 2}, {"supplier": "sup-01", "seq": "2"},
              {"supplier": "sup-01", "seq": 3}, {"supplier": "sup-09", "seq": 9}, {"supplier": "sup-09", "seq": 9}, {"seq": 4}]  # fmt: skip
    seen = audit.counts(events)
    assert seen == {("sup-01", 1): 1, ("sup-01", 2): 2, ("sup-01", 3): 1, ("sup-09", 9): 2}
    acked = {("sup-01", 1), ("sup-01", 2), ("sup-01", 3), ("sup-02", 1)}
    assert audit.compare(acked, seen) == ([("sup-02", 1)], [("sup-01", 2)])  # sup-09 was never acked: not judged


def test_fake_events_the_lake_is_judged_per_raw_record():
    """An event the producer wrote twice (two offsets) is in the lake twice, rightly; one raw
    record archived twice (same offset) is the archive's duplicate."""
    lake = [
        {"supplier": "sup-01", "seq": 1, "kafka_partition": 0, "kafka_offset": 10},
        {"supplier": "sup-01", "seq": 1, "kafka_partition": 0, "kafka_offset": 11},  # the producer's duplicate
        {"supplier": "sup-01", "seq": 2, "kafka_partition": 0, "kafka_offset": 12},
        {"supplier": "sup-01", "seq": 2, "kafka_partition": 0, "kafka_offset": 12},  # archived twice
        {"supplier": "sup-02", "seq": 1, "kafka_partition": 3, "kafka_offset": 5},
    ]
    acked = {("sup-01", 1), ("sup-01", 2), ("sup-02", 1)}
    assert audit.compare(acked, audit.archived_twice(lake))[1] == [("sup-01", 2)]
    assert audit.compare(acked, audit.counts(lake))[0] == []  # nothing lost


def test_fake_events_lag_seconds_first_processing_counts():
    events = [
        {"event_id": "a-1", "produced_at": B + 0.2, "processed_at": "2026-11-25 20:00:05.000Z"},  # a replay
        {"event_id": "a-1", "produced_at": B + 0.2, "processed_at": "2026-11-25 20:00:00.700Z"},
        {"event_id": "a-2", "produced_at": B + 0.9, "processed_at": "2026-11-25 20:00:02.400Z"},
        {"event_id": "a-3", "produced_at": B + 1.1, "processed_at": "2026-11-25 20:00:01.000Z"},  # clock skew: 0
        {"event_id": "a-4", "produced_at": B + 1.2},
        {"event_id": "a-5", "produced_at": B + 1.3, "processed_at": "garbage"},
        {"event_id": "a-6", "produced_at": B + 500, "processed_at": "2026-11-25 20:08:20.500Z"},  # after `until`
    ]
    got = [(s.t, s.events, round(s.p95_s, 3), round(s.max_s, 3)) for s in processing_lag(events, B, B + 100)]
    assert got == [(B, 2, 1.5, 1.5), (B + 1, 1, 0.0, 0.0)]
    assert [s.processed_until for s in processing_lag(events, B, B + 100)] == [B + 2.4, B + 1.0]


def test_fake_values_epoch():
    assert epoch("2026-11-25 20:00:01.250Z") == B + 1.25
    assert epoch("2026-11-25T20:00:01.25Z") == B + 1.25
    assert epoch(12.5) == 12.5 and epoch(3) == 3.0
    with pytest.raises(ValueError):
        epoch("25/11/2026 20:00")


def test_fake_values_epoch_whole_second():
    assert epoch("2026-11-25 20:00:01Z") == B + 1.0


def test_fake_files_ack_with_unknown_offset_is_still_an_ack(tmp_path):
    # librdkafka reports no offset (None) for a retried batch the broker already had.
    from flightsearch.ingest import read_ack_lines

    (tmp_path / "sup-01.acks").write_text("7 2 None 100.5 100.1\n8 2 -1 101.0 100.9\n")
    assert read_ack_lines(tmp_path / "sup-01.acks") == [(7, 2, -1, 100.5, 100.1), (8, 2, -1, 101.0, 100.9)]


def test_events_acknowledged_before_the_settling_moved_kafka_leaders_are_reported_not_judged():
    """With acks=1 (a lab built to miss the plan) the preferred-leader election that puts the
    platform back at rest before a drill can lose what an old leader had acknowledged and not
    replicated (CI, 2026-12-01: 1 event, in an adapter-loss drill that touches no broker).
    The run's window starts one checkpoint interval before the run, but not before the
    settling: such an event is the earlier drill's aftermath, named beside the run."""
    from gameday.monitors import audit, stream_watch

    since, settled = 1000.0, 995.0
    acked = {("sup-15", 1248): 985.0, ("sup-15", 1300): 996.0}
    judged, earlier = audit.split_at(acked, stream_watch.judged_from(since, 30.0, settled))
    assert judged == {("sup-15", 1300)} and earlier == {("sup-15", 1248)}
    # Nothing moved back: the window is the checkpoint interval before the run, as before.
    judged, earlier = audit.split_at(acked, stream_watch.judged_from(since, 30.0, None))
    assert judged == set(acked) and earlier == set()
