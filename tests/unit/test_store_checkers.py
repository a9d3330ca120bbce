"""store.write_availability and store.acknowledged_writes_readable on hand-made (fake)
histories, no lab: failed writes in the fault window decide; an acknowledged write some node
does not return fails; a node that could not be asked, or no read-back, is unknown."""

from __future__ import annotations

from gameday.checkers import run_checkers
from gameday.checkers.verdicts import Verdict
from gameday.faults import Fault
from gameday.history import FaultEvent, FaultPhase, History, Inventory, StoreReadBack, StoreWrite

T0 = 1_800_000_000.0
NODES = ("cassandra-a", "cassandra-b", "cassandra-c")


def history(failed_at=lambda dt: False, *, writes_s: float = 60, backs=None, restored_at: float | None = 40) -> History:
    """Writes every 0.05 s from 10 s before the kill; `failed_at(dt)` says which failed."""
    records: list = [Inventory(t=T0 - 20, role="store", components=NODES),
                     FaultEvent(t=T0, phase=FaultPhase.INJECTED, fault=Fault.STORE_KILL_NODE.value, component="cassandra-a", az="az-a")]  # fmt: skip
    if restored_at is not None:
        records.append(FaultEvent(t=T0 + restored_at, phase=FaultPhase.REVERTED, fault=Fault.STORE_KILL_NODE.value, component="cassandra-a"))
    acked = {}
    for i in range(int(writes_s / 0.05)):
        dt = -10 + i * 0.05
        bad = failed_at(dt)
        key = f"F{i}"
        records.append(StoreWrite(t=T0 + dt, key=key, value=9_000_000 + i, ok=not bad, latency_ms=3.0 if not bad else 2000.0,
                                  consistency="LOCAL_QUORUM", error="Unavailable: not enough replicas" if bad else ""))  # fmt: skip
        if not bad:
            acked[key] = 9_000_000 + i
    end = T0 + writes_s
    for rb in backs(acked) if backs else [StoreReadBack(t=end, node=n, consistency="LOCAL_QUORUM", checked=len(acked)) for n in NODES]:
        records.append(rb)
    return History.of_records(sorted(records, key=lambda r: r.t))


def outcomes(h: History) -> dict:
    return {o.slo: o for o in run_checkers(h, ["store.write_availability", "store.acknowledged_writes_readable"])}


def test_fake_history_every_write_acknowledged_and_read_back_passes():
    o = outcomes(history())
    assert o["store.write_availability"].verdict is Verdict.PASS and o["store.write_availability"].measured == 0
    assert "0 of 800 writes at LOCAL_QUORUM failed inside the fault window" in o["store.write_availability"].detail
    assert o["store.acknowledged_writes_readable"].verdict is Verdict.PASS
    assert "cassandra-b 1200/1200" in o["store.acknowledged_writes_readable"].detail


def test_fake_history_a_third_of_the_writes_failing_in_the_fault_fails():
    o = outcomes(history(lambda dt: 0 <= dt < 40 and int(dt / 0.05) % 3 == 0))
    w = o["store.write_availability"]
    assert w.verdict is Verdict.FAIL and 30 < w.measured < 36
    assert "Unavailable" in w.detail


def test_fake_history_failures_outside_the_fault_window_do_not_count_in_it():
    w = outcomes(history(lambda dt: dt > 45))["store.write_availability"]
    assert w.verdict is Verdict.PASS and "over the whole run" in w.detail


def test_fake_history_an_acknowledged_write_one_node_does_not_return_fails():
    def backs(acked):
        return [StoreReadBack(t=T0 + 70, node=n, consistency="LOCAL_QUORUM", checked=len(acked), missing=("F7", "F8") if n == "cassandra-a" else ()) for n in NODES]

    r = outcomes(history(backs=backs))["store.acknowledged_writes_readable"]
    assert r.verdict is Verdict.FAIL and r.measured == 2 and "F7" in r.detail


def test_fake_history_a_node_not_asked_or_no_read_back_is_unknown():
    def two_nodes(acked):
        return [StoreReadBack(t=T0 + 70, node=n, consistency="LOCAL_QUORUM", checked=len(acked)) for n in NODES[1:]]

    def refused(acked):
        return [StoreReadBack(t=T0 + 70, node=n, consistency="LOCAL_QUORUM", checked=0 if n == "cassandra-c" else len(acked), error="NoHostAvailable" if n == "cassandra-c" else "") for n in NODES]

    for backs in (two_nodes, refused):
        r = outcomes(history(backs=backs))["store.acknowledged_writes_readable"]
        assert r.verdict is Verdict.UNKNOWN and "cassandra-" in r.detail, r.detail
    assert outcomes(history(backs=lambda acked: []))["store.acknowledged_writes_readable"].verdict is Verdict.UNKNOWN


def test_fake_history_without_writes_or_fault_is_unknown():
    empty = History.of_records([FaultEvent(t=T0, phase=FaultPhase.INJECTED, fault=Fault.STORE_KILL_NODE.value, component="cassandra-a")])
    assert all(o.verdict is Verdict.UNKNOWN for o in outcomes(empty).values())
    no_fault = History.of_records([StoreWrite(t=T0 + i, key=f"F{i}", value=i, ok=True, latency_ms=1, consistency="ONE") for i in range(200)])
    assert outcomes(no_fault)["store.write_availability"].verdict is Verdict.UNKNOWN


def test_fake_history_stale_rows_at_the_weak_level_are_reported_not_judged():
    def backs(acked):
        weak = [StoreReadBack(t=T0 + 65, node=n, consistency="LOCAL_ONE", checked=len(acked), missing=("F7",) if n == "cassandra-a" else (),
                              missing_first=1 if n == "cassandra-a" else 0, settled_after_s=-1.0 if n == "cassandra-a" else 0.0, judged=False) for n in NODES]  # fmt: skip
        return weak + [StoreReadBack(t=T0 + 70, node=n, consistency="LOCAL_QUORUM", checked=len(acked)) for n in NODES]

    r = outcomes(history(backs=backs))["store.acknowledged_writes_readable"]
    assert r.verdict is Verdict.PASS and r.measured == 0
    assert "at LOCAL_QUORUM" in r.detail and "LOCAL_ONE" in r.detail and "cassandra-a did not return 1" in r.detail


def test_fake_history_too_few_writes_in_the_fault_window_is_unknown():
    # 10 s of writes before the kill, then the fault lasts 2 s: 40 writes in it, below the 100 needed
    w = outcomes(history(writes_s=12, restored_at=2))["store.write_availability"]
    assert w.verdict is Verdict.UNKNOWN and "Only 40 writes inside the fault window; at least 100" in w.detail, w.detail
