"""The AZ drills on the full lab, for real: a whole AZ's processes die at once (az-outage),
and an AZ is cut off the network with its processes running (az-partition), in both
directions for split brain. One full lab serves them all.

Suite tests (`make suite`): the full lab takes 200-240 s to start on the 2-core host and each
drill 6-8 minutes, so they stay out of `make test`'s hour.

What it shows: the AZ chosen (the Redis primary's), every tier's own loss recorded at the same
instant as the outage, nothing restarted there while the AZ is lost, every tier judged (no
verdict left unknown for want of a fault), the AZ regained and the whole lab healthy again.
Which verdicts pass on this host is in the run's report and the issue's note: the full lab
saturates two cores, so the latency clauses are not part of this drill's SLOs.
"""

from __future__ import annotations

import json
import sys

import pytest

from gameday.faults import Fault
from gameday.history import FaultPhase, History
from tests.lab.labutil import drill, gameday, lab_up

pytestmark = [pytest.mark.lab, pytest.mark.suite]

ALL_TIERS = "redis,cassandra,search,api,metrics,kafka,zookeeper,flink,ingest,stream"


@pytest.fixture(scope="module")
def full_lab():
    took = lab_up("--tiers", ALL_TIERS)
    print(f"\nlab up --tiers {ALL_TIERS}: {took:.1f} s", file=sys.stderr)
    yield
    assert gameday("lab", "down").returncode == 0


def test_az_outage_loses_every_tier_at_once_and_regains_them(full_lab, tmp_path):
    run = tmp_path / "run"
    code, v = drill("az-outage", run)
    summary = json.loads((run / "verdicts.json").read_text())
    assert summary["status"] in ("carried_out", "deviated", "halted"), summary["reason"]
    assert code in (0, 1), summary["reason"]
    history = History.read(run / "history.jsonl")
    injected = [f for f in history.faults() if f.phase is FaultPhase.INJECTED]
    [outage] = [f for f in injected if f.fault == Fault.AZ_OUTAGE.value]
    assert "holds the Redis primary" in outage.detail, outage
    at_once = {f.fault for f in injected if f.t == outage.t and f.az == outage.az}
    for fault in (Fault.REDIS_KILL_PRIMARY, Fault.KAFKA_KILL_BROKER, Fault.FLINK_KILL_TASKMANAGER, Fault.STORE_KILL_NODE, Fault.API_KILL_INSTANCE, Fault.INGEST_KILL_ADAPTER):
        assert fault.value in at_once, (fault, at_once)
    assert at_once & {Fault.SEARCH_KILL_NODE.value, Fault.SEARCH_KILL_CLUSTER_MANAGER.value}
    reverted = [f for f in history.faults() if f.phase is FaultPhase.REVERTED and f.fault == Fault.AZ_OUTAGE.value]
    assert reverted and reverted[0].t > outage.t
    for slo in ("redis.promotion_time", "search.green_on_az_failure", "kafka.leader_reelection", "flink.recovery", "data.events_lost", "store.write_availability"):
        assert v[slo]["measured"] is not None, v[slo]  # judged on the outage, pass or fail
    status = gameday("lab", "status")
    assert status.returncode == 0, status.stdout  # the AZ is back: every process healthy


def _partition(name: str, run, *extra: str):
    code, v = drill(name, run, *extra)
    summary = json.loads((run / "verdicts.json").read_text())
    assert summary["status"] in ("carried_out", "deviated", "halted") and code in (0, 1), summary["reason"]
    history = History.read(run / "history.jsonl")
    [cut] = [f for f in history.faults() if f.phase is FaultPhase.INJECTED and f.fault == Fault.AZ_PARTITION.value]
    healed = [f for f in history.faults() if f.phase is FaultPhase.REVERTED and f.fault == Fault.AZ_PARTITION.value]
    assert healed and healed[0].t > cut.t
    for slo in ("redis.promotion_time", "kafka.leader_reelection", "store.write_availability", "search.green_on_az_failure"):
        assert v[slo]["measured"] is not None, v[slo]  # judged on the partition, pass or fail
    assert gameday("lab", "status").returncode == 0  # healed: every process healthy
    return v


def test_a_partitioned_primary_that_refuses_unreplicated_writes_loses_none(full_lab, tmp_path):
    """Defaults: min-replicas-to-write 1, and clients count a write once WAIT saw a replica."""
    v = _partition("az-partition", tmp_path / "run")
    for slo in ("consistency.split_brain_writes_lost", "consistency.single_leader"):
        assert (v[slo]["verdict"], v[slo]["measured"]) == ("pass", 0), v[slo]


def test_a_partitioned_primary_that_acknowledges_alone_is_split_brain_and_loses_writes(full_lab, tmp_path):
    """Missing the plan: Redis's defaults (no min-replicas) and clients content with the
    primary's OK. The old primary takes writes its AZ's clients send for the whole partition."""
    profile = tmp_path / "split-brain.yaml"
    profile.write_text("redis:\n  min_replicas_to_write: 0\n  client_wait_replicas: 0\n")
    v = _partition("az-partition", tmp_path / "run", "--profile", str(profile))
    lost, leaders = v["consistency.split_brain_writes_lost"], v["consistency.single_leader"]
    assert lost["verdict"] == "fail" and lost["measured"] > 0 and "gone from" in lost["detail"], lost
    assert leaders["verdict"] == "fail" and leaders["measured"] > 5, leaders


def test_an_az_cut_off_from_everything_is_lost_to_clients_and_heals(full_lab, tmp_path):
    """Clients cannot reach the old primary either: nobody writes to it, nothing is lost."""
    v = _partition("az-partition-all", tmp_path / "run")
    for slo in ("consistency.split_brain_writes_lost", "consistency.single_leader"):
        assert (v[slo]["verdict"], v[slo]["measured"]) == ("pass", 0), v[slo]


def test_an_az_outage_with_sentinel_quorum_3_never_promotes(full_lab, tmp_path):
    """Missing the plan: a quorum of 3 Sentinels cannot be met with one of three lost with its
    AZ, so no replica is promoted (live: SENTINEL SET, put back after the run)."""
    profile = tmp_path / "quorum-3.yaml"
    profile.write_text("redis:\n  sentinel:\n    quorum: 3\n")
    code, v = drill("az-outage", tmp_path / "run", "--profile", str(profile))
    assert code == 1
    promotion = v["redis.promotion_time"]
    assert promotion["verdict"] == "fail" and promotion["measured"] > 10 and "No promotion observed" in promotion["detail"], promotion
