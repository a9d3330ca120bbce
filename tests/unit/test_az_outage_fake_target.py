"""The AZ outage's choice of AZ and its one-timeline record of every tier's loss, against a
fake target (the probes' own logic in isolation; the lab drill is in tests/lab)."""

from __future__ import annotations

import pytest

import probes.az as az_probes
from gameday.faults import Fault, fault_events
from gameday.history import FaultPhase
from gameday.target import Partition, Role, StreamJob, Topic

AZS = ("az-a", "az-b", "az-c")
ROLES = {Role.REDIS: "redis", Role.KAFKA: "kafka", Role.TASKMANAGER: "flink-tm", Role.JOBMANAGER: "flink-jm",
         Role.SEARCH: "search", Role.STORE: "cassandra", Role.API: "api", Role.INGEST: "ingest"}  # fmt: skip


class FakeTarget:
    def __init__(self, primary: str = "redis-b", flink_leader_az: str = "az-c", manager: str = "search-b") -> None:
        self.primary, self.manager = primary, manager
        self.leader = f"http://{flink_leader_az}:8081"
        self.lost: list[str] = []
        self.regained: list[str] = []

    def tiers(self) -> list[str]:
        return ["redis", "cassandra", "search", "api", "kafka", "zookeeper", "flink", "ingest", "stream"]

    def azs(self) -> tuple[str, ...]:
        return AZS

    def components(self, role: Role | None = None, az: str | None = None) -> list[str]:
        roles = [role] if role else list(ROLES)
        return [f"{ROLES[r]}-{a[-1]}" for r in roles for a in AZS if az in (None, a)]

    def az_of(self, component: str) -> str:
        return f"az-{component[-1]}"

    def redis_primary(self) -> str:
        return self.primary

    def kafka_topic(self, topic: str) -> Topic:
        parts = {i: Partition(leader=i % 3 + 1, replicas=(1, 2, 3), isr=(1, 2, 3)) for i in range(6)}
        return Topic(topic, (1, 2, 3), parts, {})

    def kafka_controller(self) -> int:
        return 1

    def kafka_broker_id(self, component: str) -> int:
        return "abc".index(component[-1]) + 1

    def flink_leader(self) -> str:
        return self.leader

    def flink_component(self, rest_url: str) -> str:
        return f"flink-jm-{rest_url.split(':')[1][-1]}"

    def stream_job_tasks(self) -> dict[str, int]:
        return {"flink-tm-a": 2, "flink-tm-b": 2, "flink-tm-c": 2}

    def stream_job(self) -> StreamJob:
        return StreamJob("j1", "RUNNING", True)

    def search_copies(self) -> dict[str, int]:
        return {"search-a": 1, "search-b": 1, "search-c": 0}

    def search_cluster_manager(self) -> str:
        return self.manager

    def lose_az(self, az: str) -> tuple[float, list[str]]:
        self.lost.append(az)
        return 1000.0, self.components(az=az)

    def regain_az(self, az: str) -> list[str]:
        self.regained.append(az)
        return self.components(az=az)


@pytest.fixture
def fake(monkeypatch):
    target = FakeTarget()
    monkeypatch.setattr(az_probes, "resolve", lambda configuration=None: target)
    az_probes._lost.clear()
    return target


def test_the_default_az_is_the_redis_primarys_and_an_override_is_checked(fake):
    assert az_probes.choose_az(fake) == ("az-b", "holds the Redis primary redis-b")
    assert az_probes.choose_az(fake, "az-c")[0] == "az-c"
    with pytest.raises(ValueError, match="no AZ 'az-d'; AZs: az-a, az-b, az-c"):
        az_probes.choose_az(fake, "az-d")


def test_losing_an_az_records_every_tiers_loss_at_the_same_instant(fake):
    events = fault_events(az_probes.lose_az())
    assert fake.lost == ["az-b"]
    assert {e.t for e in events} == {1000.0} and all(e.phase is FaultPhase.INJECTED and e.az == "az-b" for e in events)
    by_fault = {e.fault: e for e in events}
    assert set(by_fault) == {
        Fault.AZ_OUTAGE.value, Fault.REDIS_KILL_PRIMARY.value, Fault.KAFKA_KILL_BROKER.value, Fault.FLINK_KILL_TASKMANAGER.value,
        Fault.SEARCH_KILL_CLUSTER_MANAGER.value, Fault.STORE_KILL_NODE.value, Fault.API_KILL_INSTANCE.value, Fault.INGEST_KILL_ADAPTER.value,
    }  # the JobManager leader lives in az-c: no JobManager fault for az-b
    assert "broker=2 leads=2 role=broker" in by_fault["kafka.kill_broker"].detail
    assert "tasks=2 job=j1" in by_fault["flink.kill_taskmanager"].detail
    assert "holds the Redis primary" in by_fault["az.outage"].detail


def test_the_leaders_fault_is_recorded_only_when_it_lived_in_the_az(fake):
    fake.leader = "http://az-b:8081"
    fake.manager = "search-a"
    faults = {e.fault for e in fault_events(az_probes.lose_az())}
    assert Fault.FLINK_KILL_JOBMANAGER.value in faults and Fault.SEARCH_KILL_NODE.value in faults
    assert Fault.SEARCH_KILL_CLUSTER_MANAGER.value not in faults


def test_regaining_reverts_every_tiers_fault_and_says_how_long(fake):
    injected = fault_events(az_probes.lose_az("az-a"))
    reverted = fault_events(az_probes.regain_az())
    assert fake.regained == ["az-a"]
    assert sorted(e.fault for e in reverted) == sorted(e.fault for e in injected)
    assert all(e.phase is FaultPhase.REVERTED for e in reverted)
    assert az_probes.regain_az() == {"regained": []}  # nothing lost: nothing to regain


def test_a_tier_that_does_not_answer_leaves_its_facts_unknown_and_the_az_is_lost_anyway(fake, monkeypatch):
    def busy():
        raise TimeoutError("no search-index node answered _cat/shards")

    monkeypatch.setattr(fake, "search_copies", busy)
    monkeypatch.setattr(fake, "kafka_topic", lambda topic: busy())
    events = {e.fault: e for e in fault_events(az_probes.lose_az())}
    assert fake.lost == ["az-b"]
    assert "copies=?" in events["search.kill_cluster_manager"].detail
    assert "broker=2 leads=? role=broker" in events["kafka.kill_broker"].detail


# --- redis.promotion_time with a Sentinel lost with its AZ (fake histories) -----------------


def _sentinel_a_dead(with_outage: bool):
    from gameday.checkers import run_checkers
    from gameday.history import FaultEvent, History, SentinelSample
    from tests.unit.histories import KILL, failover

    h = failover(promotion_s=6.2, revert_after_s=40)
    records = [r for r in h.records if not (isinstance(r, SentinelSample) and r.sentinel == "sentinel-a" and KILL <= r.t < KILL + 40)]
    records += [SentinelSample(t=r.t, sentinel="sentinel-a", primary="") for r in h.records
                if isinstance(r, SentinelSample) and r.sentinel == "sentinel-b" and KILL <= r.t < KILL + 40]  # fmt: skip
    if with_outage:
        records += [FaultEvent(t=KILL, phase=FaultPhase.INJECTED, fault=Fault.AZ_OUTAGE.value, component="az-a", az="az-a",
                               detail="processes=2 components=redis-a,sentinel-a (holds the Redis primary redis-a) SIGKILL"),
                    FaultEvent(t=KILL + 40, phase=FaultPhase.REVERTED, fault=Fault.AZ_OUTAGE.value, component="az-a", az="az-a")]  # fmt: skip
    [out] = run_checkers(History.of_records(records), ["redis.promotion_time"])
    return out


def test_promotion_is_judged_by_the_sentinels_outside_a_lost_az():
    out = _sentinel_a_dead(with_outage=True)
    assert out.verdict.value == "pass" and 6 <= out.measured < 7 and "outside the lost AZ (sentinel-b, sentinel-c)" in out.detail


def test_a_sentinel_that_is_silent_without_an_az_outage_still_counts():
    out = _sentinel_a_dead(with_outage=False)
    assert (out.verdict.value, out.measured) == ("fail", 40.0), out  # agreement waits for sentinel-a to answer again
    assert out.detail.startswith("All 3 Sentinels")


# --- the AZ partition's probes (fake target) ---------------------------------------------------


def _partitioning(fake):
    fake.cut: list[tuple[str, str]] = []
    fake.healed: list[str] = []
    fake.restarted: list[str] = []
    fake.partition_az = lambda az, mode: fake.cut.append((az, mode)) or 2000.0
    fake.heal_az = lambda az: fake.healed.append(az) or 2100.0
    fake.down_components = lambda: ["flink-tm-c", "api-b"]
    fake.restart = lambda name: fake.restarted.append(name) or 30.0


def test_a_peers_partition_loses_the_stateful_tiers_but_not_what_clients_still_reach(fake):
    _partitioning(fake)
    events = fault_events(az_probes.partition_az(mode="peers"))
    assert fake.cut == [("az-b", "peers")]
    faults = {e.fault for e in events}
    assert Fault.AZ_PARTITION.value in faults and Fault.REDIS_KILL_PRIMARY.value in faults and Fault.STORE_KILL_NODE.value in faults
    assert Fault.API_KILL_INSTANCE.value not in faults and Fault.INGEST_KILL_ADAPTER.value not in faults
    assert all("partitioned mode=peers" in e.detail for e in events if e.fault != Fault.AZ_PARTITION.value)
    assert Fault.AZ_OUTAGE.value not in faults


def test_an_all_partition_loses_the_api_and_adapters_too_and_heal_reverts_everything(fake):
    _partitioning(fake)
    injected = fault_events(az_probes.partition_az("az-c", mode="all"))
    assert {Fault.API_KILL_INSTANCE.value, Fault.INGEST_KILL_ADAPTER.value} <= {e.fault for e in injected}
    assert az_probes.regain_az() == {"regained": []}  # a partition is healed, not regained
    reverted = fault_events(az_probes.heal_az())
    assert fake.healed == ["az-c"] and sorted(e.fault for e in reverted) == sorted(e.fault for e in injected)
    assert fake.restarted == ["flink-tm-c"]  # what died in the cut-off AZ, not elsewhere
    assert "restarted what died while cut off: flink-tm-c" in next(e.detail for e in reverted if e.fault == Fault.AZ_PARTITION.value)
    assert az_probes.heal_az() == {"healed": []}


def test_the_rollback_restarts_what_dies_in_the_healed_az_after_the_heal_and_reports_the_rest(fake, monkeypatch):
    _partitioning(fake)
    az_probes.partition_az("az-c", mode="peers")
    fake.down_components = lambda: []
    az_probes.heal_az()
    dead = {"flink-tm-c", "stream-apply-b"}  # the TaskManager exits after the heal; the applier crashed elsewhere

    def restart(name: str) -> float:
        dead.discard(name)
        fake.restarted.append(name)
        return 1.0

    fake.down_components = lambda: sorted(dead)
    fake.restart = restart
    fake.unhealthy = lambda tiers: [f"{n} is dead" for n in sorted(dead)]
    monkeypatch.setattr(az_probes.time, "sleep", lambda s: None)
    out = az_probes.wait_until_whole(timeout_s=0.2)
    assert fake.restarted == ["flink-tm-c"]  # the orchestrator's restart, in the healed AZ only
    assert out["whole"] is False and out["still"] == ["stream-apply-b is dead"] and out["restarted_after_heal"] == ["flink-tm-c"]
