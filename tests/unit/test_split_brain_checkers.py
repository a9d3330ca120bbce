"""Split brain judged from fake histories (the checkers' own logic; the lab drill is
tests/lab/test_az_lab.py)."""

from __future__ import annotations

from gameday.checkers import run_checkers
from gameday.history import FaultEvent, FaultPhase, History, LeaderClaim, LeaderReadBack, LeaderWrite, RedisRoleSample, StoreReadBack

CUT = 1000.0
SLOS = ["consistency.split_brain_writes_lost", "consistency.single_leader"]


def _writes(node: str, start: float, end: float, acked: bool = True) -> list[LeaderWrite]:
    out, t = [], start
    while t < end:
        out.append(LeaderWrite(t=t, tier="redis", node=node, key=f"k:{node}:{t:.1f}", acked=acked, replicas=int(acked)))
        t += 0.5
    return out


def _judge(records) -> dict[str, object]:
    cut = FaultEvent(t=CUT, phase=FaultPhase.INJECTED, fault="az.partition", component="az-a", az="az-a", detail="mode=peers")
    return {o.slo: o for o in run_checkers(History.of_records([cut, *records]), SLOS)}


def test_a_healthy_failover_loses_nothing_and_never_has_two_leaders():
    writes = _writes("redis-a", CUT - 20, CUT) + _writes("redis-a", CUT, CUT + 10, acked=False) + _writes("redis-b", CUT + 7, CUT + 60)
    back = LeaderReadBack(t=CUT + 90, tier="redis", node="redis-b", checked=sum(w.acked for w in writes))
    out = _judge(writes + [back])
    lost, leaders = out["consistency.split_brain_writes_lost"], out["consistency.single_leader"]
    assert (lost.verdict.value, lost.measured) == ("pass", 0) and "20 writes not acknowledged" in lost.detail
    assert (leaders.verdict.value, leaders.measured) == ("pass", 0.0)


def test_an_isolated_primary_that_keeps_acknowledging_is_two_leaders_and_lost_writes():
    writes = _writes("redis-a", CUT - 10, CUT + 60) + _writes("redis-b", CUT + 7, CUT + 60)
    gone = tuple(w.key for w in writes if w.node == "redis-a" and w.t >= CUT)
    back = LeaderReadBack(t=CUT + 90, tier="redis", node="redis-b", checked=len(writes), missing=gone)
    roles = [RedisRoleSample(t=CUT + 7, node="redis-b", role="master"), RedisRoleSample(t=CUT + 6, node="redis-a", role="master"),
             RedisRoleSample(t=CUT + 61, node="redis-a", role="slave")]  # fmt: skip
    out = _judge(writes + [back] + roles)
    lost, leaders = out["consistency.split_brain_writes_lost"], out["consistency.single_leader"]
    assert lost.verdict.value == "fail" and lost.measured == len(gone) == 120 and "redis-a acknowledged 120" in lost.detail
    assert leaders.verdict.value == "fail" and 52 <= leaders.measured <= 54 and "redis-a, redis-b from t+7 s" in leaders.detail
    assert "reported role master for 54.0 s" in leaders.detail


def test_store_writes_some_node_lost_are_counted_with_the_caches():
    writes = _writes("redis-a", CUT - 10, CUT)
    back = LeaderReadBack(t=CUT + 90, tier="redis", node="redis-a", checked=20)
    store = [StoreReadBack(t=CUT + 95, node=n, consistency="LOCAL_QUORUM", checked=50, missing=("f1", "f2")) for n in ("cassandra-a", "cassandra-b")]
    lost = _judge(writes + [back] + store)["consistency.split_brain_writes_lost"]
    assert (lost.verdict.value, lost.measured) == ("fail", 2) and "store: 2 acknowledged writes" in lost.detail


def test_no_writer_or_no_read_back_is_unknown_never_a_pass():
    out = _judge([])
    assert all(o.verdict.value == "unknown" for o in out.values())
    lost = _judge(_writes("redis-a", CUT, CUT + 10))["consistency.split_brain_writes_lost"]
    assert lost.verdict.value == "unknown" and "never read back" in lost.detail
    failed = _judge(_writes("redis-a", CUT, CUT + 10) + [LeaderReadBack(t=CUT + 9, tier="redis", node="", checked=10, error="no primary")])
    assert failed["consistency.split_brain_writes_lost"].verdict.value == "unknown"
    refused = _judge(_writes("redis-a", CUT, CUT + 5, acked=False))["consistency.single_leader"]
    assert refused.verdict.value == "unknown"


def test_below_the_catalogs_minimum_of_acknowledged_writes_is_unknown():
    few = _writes("redis-a", CUT, CUT + 5)  # 10 acknowledged writes, the catalog asks for 20
    out = _judge(few + [LeaderReadBack(t=CUT + 9, tier="redis", node="redis-a", checked=10)])
    assert all(o.verdict.value == "unknown" and "at least 20" in o.detail for o in out.values())
    enough = _judge(_writes("redis-a", CUT, CUT + 10) + [LeaderReadBack(t=CUT + 19, tier="redis", node="redis-a", checked=20)])
    assert all(o.verdict.value == "pass" for o in enough.values())


def _claims(tier: str, node: str, leader: str, start: float, end: float) -> list[LeaderClaim]:
    return [LeaderClaim(t=float(t), tier=tier, node=node, leader=leader) for t in range(int(start), int(end))]


def test_members_of_other_tiers_naming_themselves_leader_at_once_are_reported_with_the_interval_not_counted():
    """A search node cut off with its old managership believes it leads for 25 s after the
    majority elected another; a Kafka broker never does (fake history)."""
    writes = _writes("redis-a", CUT - 20, CUT) + _writes("redis-b", CUT + 7, CUT + 60)
    back = LeaderReadBack(t=CUT + 90, tier="redis", node="redis-b", checked=len(writes))
    claims = (_claims("search", "search-a", "search-a", CUT - 5, CUT + 30) + _claims("search", "search-b", "search-a", CUT - 5, CUT + 5)
              + _claims("search", "search-b", "search-b", CUT + 5, CUT + 60) + _claims("kafka", "kafka-a", "kafka-b", CUT - 5, CUT + 60)
              + _claims("kafka", "kafka-b", "kafka-b", CUT - 5, CUT + 60))  # fmt: skip
    leaders = _judge(writes + [back] + claims)["consistency.single_leader"]
    assert (leaders.verdict.value, leaders.measured) == ("pass", 0.0), leaders
    assert "search: two members each named itself cluster manager for 25 s (search-a and search-b from t+5 s to t+30 s)" in leaders.detail, leaders.detail
    assert "kafka: never two members naming themselves KRaft controller in the same second (2 answered)" in leaders.detail


def _zk(node: str, start: float, end: float, leads: bool = False) -> list[LeaderClaim]:
    """A ZooKeeper member's claims every 0.5 s while it serves in a quorum."""
    return [LeaderClaim(t=start + i * 0.5, tier="zookeeper", node=node, leader=node if leads else "") for i in range(int((end - start) * 2))]


def _zk_detail(claims) -> str:
    writes = _writes("redis-a", CUT - 20, CUT) + _writes("redis-b", CUT + 7, CUT + 60)
    back = LeaderReadBack(t=CUT + 90, tier="redis", node="redis-b", checked=len(writes))
    return _judge(writes + [back] + claims)["consistency.single_leader"].detail


def test_a_zookeeper_member_cut_off_is_reported_out_of_the_quorum_the_majority_still_serving():
    """zookeeper-a stops serving (no claim) for 40 s from the cut; b leads, c follows (fake
    history, claims every 0.5 s as the asker makes them)."""
    claims = (_zk("zookeeper-a", CUT - 10, CUT) + _zk("zookeeper-a", CUT + 40, CUT + 60) + _zk("zookeeper-b", CUT - 10, CUT + 60, leads=True)
              + _zk("zookeeper-c", CUT - 10, CUT + 60))  # fmt: skip
    detail = _zk_detail(claims)
    assert "ZooKeeper (3 members, asked every 0.5 s): a quorum served throughout; out of the quorum: zookeeper-a 38 s." in detail, detail


def test_zookeeper_without_a_majority_serving_is_no_quorum_with_when_it_began():
    claims = (_zk("zookeeper-a", CUT - 10, CUT + 60) + _zk("zookeeper-b", CUT - 10, CUT + 10) + _zk("zookeeper-b", CUT + 30, CUT + 60)
              + _zk("zookeeper-c", CUT - 10, CUT + 10) + _zk("zookeeper-c", CUT + 30, CUT + 60))  # fmt: skip
    detail = _zk_detail(claims)
    assert "no quorum for 18 s (from t+12 s)" in detail and "zookeeper-b 18 s, zookeeper-c 18 s" in detail, detail


def test_supplier_events_kafka_acknowledged_and_the_log_lost_count_as_split_brain_writes_lost():
    """A minority Kafka leader took acks from its AZ's adapter (fake audit): the loss is added."""
    from gameday.history import IntegrityAudit

    writes = _writes("redis-a", CUT - 20, CUT) + _writes("redis-b", CUT + 7, CUT + 60)
    back = LeaderReadBack(t=CUT + 90, tier="redis", node="redis-b", checked=len(writes))
    audit = IntegrityAudit(t=CUT + 120, cutoff=CUT + 60, acknowledged=3000, lost_in_topic=12, duplicated_in_topic=0, lost_in_output=12,
                           duplicated_in_output=0, lost_in_archive=12, duplicated_in_archive=0)  # fmt: skip
    lost = _judge(writes + [back, audit])["consistency.split_brain_writes_lost"]
    assert (lost.verdict.value, lost.measured) == ("fail", 12), lost
    assert "Kafka: 12 of 3000 acknowledged supplier events missing from supplier.raw" in lost.detail
    clean = _judge(writes + [back, IntegrityAudit(t=CUT + 120, cutoff=CUT + 60, acknowledged=3000, lost_in_topic=0)])["consistency.split_brain_writes_lost"]
    assert (clean.verdict.value, clean.measured) == ("pass", 0), clean
