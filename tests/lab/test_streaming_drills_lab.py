"""The streaming drills, for real, in both directions.

On the default lab (the plan's settings) each drill passes: Kafka broker loss, the leader
dying with lagging followers, Flink JobManager loss, Flink TaskManager loss, an ingestion
adapter's loss; the steady-state drill measures freshness and fails it, as the plan's own
checkpoint interval implies. Then on a lab configured to miss the plan (ZooKeeper session
timeout 60 s; acks=1, min ISR 1, unclean leader election; no restart policy) the JobManager
drill fails on leader election, the lagging-followers drill fails on data loss, with the lost
events counted, and the adapter drill fails on its restart and its suppliers' ingest lag.

Each drill runs the full pipeline: search load, ingestion, the stream job, the applier,
the streaming monitor and the audit. The figures go to stderr (pytest -s, or the CI log).

Both labs run a one-node store (RF 1), not the plan's three: the store is only the applier's
sink here, and on the 2-core host the plan's three Cassandra nodes beside three Kafka brokers,
three ZooKeepers, three JobManagers and three TaskManagers took lab up from about 195 s to
325 s and left the host saturated (STREAM_STORE). The store's own drill runs on the serving
labs (tests/lab/test_serving_lab.py).
"""

from __future__ import annotations

import re

import pytest

from flightsearch import RAW_TOPIC
from gameday.clients.flink import rest_get
from gameday.lab.tiers import zookeeper
from gameday.profile import load_profile
from gameday.target import Role, resolve
from tests.lab.labutil import drill, gameday, healthy_drill, passed, up

pytestmark = pytest.mark.lab

TIERS = "stream,ingest,api"
STREAM_STORE = "cassandra:\n  nodes: 1\n  replication_factor: 1\n"


@pytest.fixture(scope="module")
def plan_lab(tmp_path_factory):
    profile = tmp_path_factory.mktemp("plan") / "plan-one-store-node.yaml"
    profile.write_text(STREAM_STORE)
    up(TIERS, profile, missing_the_plan=False)
    yield


@pytest.fixture(scope="module")
def missed_lab(tmp_path_factory):
    profile = tmp_path_factory.mktemp("miss") / "miss-the-plan.yaml"
    profile.write_text(
        "zookeeper:\n  session_timeout_ms: 60000\n"
        "kafka:\n  acks: \"1\"\n  min_insync_replicas: 1\n  unclean_leader_election: true\n"
        "lab:\n  restart:\n    policy: never\n" + STREAM_STORE
    )
    up(TIERS, profile)
    yield profile
    assert gameday("lab", "down").returncode == 0


def test_the_lab_has_the_plans_topology(plan_lab):
    """Three brokers, one per AZ; supplier.raw with RF 3, min ISR 2, 7-day retention, no
    unclean election, leaderships spread; a ZooKeeper quorum with one leader; the Flink
    leader sees every TaskManager and runs the stream job. Asked through the lab target,
    as the probes ask it."""
    target, profile = resolve(), load_profile()
    brokers = target.components(Role.KAFKA)
    assert brokers == ["kafka-a", "kafka-b", "kafka-c"] and {target.az_of(b) for b in brokers} == set(target.azs())
    topic = target.kafka_topic(RAW_TOPIC)
    assert topic.brokers == (1, 2, 3) and len(topic.partitions) == profile.get("kafka.partitions")
    for pid, part in topic.partitions.items():
        assert sorted(part.replicas) == sorted(part.isr) == [1, 2, 3], pid
    assert set(topic.leader_counts()) == {1, 2, 3}
    assert topic.min_insync_replicas == 2
    assert topic.config["retention.ms"] == str(7 * 24 * 3600 * 1000)
    assert topic.config["unclean.leader.election.enable"] == "false"
    assert target.kafka_controller() in (1, 2, 3)
    zk_port = profile.get("zookeeper.client_port")
    hosts = [h.rsplit(":", 1)[0] for h in target.zk_quorum().split(",")]
    assert sorted(zookeeper.mode(h, zk_port) or "down" for h in hosts) == ["follower", "follower", "leader"]
    leader = target.flink_leader()
    assert leader is not None and target.flink_component(leader) in target.components(Role.JOBMANAGER)
    overview = rest_get(f"{leader}/overview")
    # A spare slot on each: the job (parallelism 3) restarts at once when one TaskManager is lost.
    assert overview["taskmanagers"] == 3 and overview["slots-total"] == 3 * profile.get("flink.slots_per_taskmanager") == 9
    job = target.stream_job()
    assert job is not None and job.state == "RUNNING" and job.tasks_running
    assert sum(target.stream_job_tasks().values()) > 0
    status = gameday("lab", "status")
    assert status.returncode == 0, status.stdout


def test_kafka_broker_loss_passes_on_the_plan(plan_lab, tmp_path):
    code, v, _ = healthy_drill(lambda out: drill("kafka-broker-loss", out), tmp_path / "run")
    assert code == 0
    passed(v, "kafka.leader_reelection", "kafka.min_isr", "ingest.lag", "data.events_lost", "data.events_duplicated", "api.error_rate")
    assert v["data.events_lost"]["measured"] == 0 and "events acknowledged" in v["data.events_lost"]["detail"]


def test_leader_dying_with_lagging_followers_loses_nothing_on_the_plan(plan_lab, tmp_path):
    code, v, _ = healthy_drill(lambda out: drill("kafka-leader-loss-lagging-followers", out), tmp_path / "run")
    assert code == 0
    passed(v, "data.events_lost", "data.events_duplicated")


def test_flink_jobmanager_loss_passes_on_the_plan(plan_lab, tmp_path):
    code, v, _ = healthy_drill(lambda out: drill("flink-jobmanager-loss", out), tmp_path / "run")
    assert code == 0
    passed(v, "flink.leader_election", "flink.recovery", "data.events_lost", "data.events_duplicated")
    assert v["flink.leader_election"]["measured"] < 5


@pytest.mark.suite  # make test's hour (no counterpart that fails here; about 3 minutes); make suite runs it
def test_flink_taskmanager_loss_passes_on_the_plan(plan_lab, tmp_path):
    code, v, run_dir = healthy_drill(lambda out: drill("flink-taskmanager-loss", out), tmp_path / "run")
    assert code == 0
    passed(v, "flink.recovery", "data.events_lost", "data.events_duplicated")
    # the saved run re-checks to the same verdicts
    again = gameday("check", str(run_dir))
    assert again.returncode == 0, again.stdout


@pytest.mark.suite
def test_freshness_misses_the_plan_with_its_own_30_s_checkpoints(plan_lab, tmp_path):
    """Supplier updates reach search only when the job's exactly-once output commits at a
    checkpoint: with the plan's 30 s interval that is seconds to tens of seconds, not 1 s.
    The drill must say so (exit 1), while lag, cadence and integrity pass. In the suite (`make
    suite`): make test reached 59.5 minutes with it (173 s); tests/lab/test_freshness_lab.py
    proves the same miss through the index, beside the at-least-once reading."""
    must_pass = ("kafka.consumer_lag_p95", "ingest.lag", "flink.checkpoint_interval", "data.events_lost", "data.events_duplicated")

    def as_expected(code: int, v: dict) -> bool:
        return code == 1 and v["freshness.searchable"]["verdict"] == "fail" and all(v[s]["verdict"] == "pass" for s in must_pass)

    code, v, _ = healthy_drill(lambda out: drill("stream-steady-state", out), tmp_path / "run", expected=as_expected)
    assert code == 1
    fresh = v["freshness.searchable"]
    assert fresh["verdict"] == "fail" and fresh["measured"] > 1, fresh
    passed(v, *must_pass)


def test_ingest_adapter_loss_passes_on_the_plan(plan_lab, tmp_path):
    """The keeper restarts the adapter; what its suppliers sent meanwhile arrives late but
    within the plan's 30 s, and nothing acknowledged is lost."""
    code, v, _ = healthy_drill(lambda out: drill("ingest-adapter-loss", out), tmp_path / "run")
    assert code == 0
    passed(v, "ingest.adapter_restart", "ingest.lag", "data.events_lost", "data.events_duplicated")
    assert v["ingest.lag"]["measured"] > 1, v["ingest.lag"]  # the backlog waited for the restart
    assert re.search(r"ingest-a .* restarted [1-9]x", gameday("lab", "status").stdout)


def test_jobmanager_drill_fails_with_a_long_zookeeper_session(missed_lab, tmp_path):
    code, v = drill("flink-jobmanager-loss", tmp_path / "run")
    assert code == 1
    assert v["flink.leader_election"]["verdict"] == "fail"
    assert v["flink.leader_election"]["measured"] > 20  # the session must expire first


def test_lagging_followers_lose_acknowledged_events_with_acks_1(missed_lab, tmp_path):
    config = resolve().kafka_topic(RAW_TOPIC).config
    assert (config["min.insync.replicas"], config["unclean.leader.election.enable"]) == ("1", "true")
    code, v = drill("kafka-leader-loss-lagging-followers", tmp_path / "run")
    assert code == 1
    lost = v["data.events_lost"]
    assert lost["verdict"] == "fail" and lost["measured"] > 0, lost


def test_ingest_adapter_loss_fails_without_a_restart_policy(missed_lab, tmp_path):
    """Nothing restarts the adapter; the rollback does after 45 s, and its suppliers' backlog
    then arrives 45 s late."""
    code, v = drill("ingest-adapter-loss", tmp_path / "run")
    assert code == 1
    restart, lag = v["ingest.adapter_restart"], v["ingest.lag"]
    assert restart["verdict"] == "fail" and restart["measured"] >= 30 and "did not restart" in restart["detail"], restart
    assert lag["verdict"] == "fail" and lag["measured"] >= 30, lag
    # Nothing acknowledged is lost in this run; the 250 or so the lagging-followers drill lost
    # earlier in the same lab (acks=1) are named in the detail but not judged as this run's.
    lost = v["data.events_lost"]
    assert lost["verdict"] == "pass" and lost["measured"] == 0, lost
