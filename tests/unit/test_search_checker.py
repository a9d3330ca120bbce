"""search.green_on_az_failure on hand-made histories (no lab): red seconds decide, a node
that does not answer is not a vote, and too few samples is unknown; an election (no cluster manager, copies all there) is reported, not red."""

from __future__ import annotations

from gameday.checkers import run_checkers
from gameday.checkers.verdicts import Verdict
from gameday.faults import Fault
from gameday.history import FaultEvent, FaultPhase, History, SearchHealthSample

T0 = 1_800_000_000.0
NODES = ("search-a", "search-b", "search-c")


def history(status_of, seconds: float = 30, restored_at: float | None = 20) -> History:
    """`status_of(node, dt)` -> what the node reports dt seconds after search-b is killed: a
    status, or (status, whether it knows of an elected cluster manager)."""
    records = [FaultEvent(t=T0, phase=FaultPhase.INJECTED, fault=Fault.SEARCH_KILL_NODE.value, component="search-b", az="az-b")]
    if restored_at is not None:
        records.append(FaultEvent(t=T0 + restored_at, phase=FaultPhase.REVERTED, fault=Fault.SEARCH_KILL_NODE.value, component="search-b"))
    for i in range(int(seconds / 0.5)):
        for node in NODES:
            said = status_of(node, i * 0.5)
            status, manager = said if isinstance(said, tuple) else (said, True)
            records.append(SearchHealthSample(t=T0 + i * 0.5 + 0.01, node=node, status=status, cluster_manager=manager))
    return History.of_records(sorted(records, key=lambda r: r.t))


def outcome(h: History):
    (o,) = run_checkers(h, ["search.green_on_az_failure"])
    return o


def test_fake_history_yellow_while_the_node_is_gone_passes_and_says_when_green_came_back():
    o = outcome(history(lambda node, dt: "down" if node == "search-b" and dt < 20 else ("yellow" if dt < 24 else "green")))
    assert o.verdict is Verdict.PASS and o.measured == 0
    assert "yellow 24 s" in o.detail and "Green again 4.0 s after it was restored" in o.detail


def test_fake_history_a_red_half_second_fails():
    o = outcome(history(lambda node, dt: "down" if node == "search-b" else ("red" if node == "search-a" and 5 <= dt < 8 else "yellow"), restored_at=None))
    assert o.verdict is Verdict.FAIL and o.measured == 3.0
    assert "not restored" in o.detail


def test_fake_history_no_node_answering_counts_as_red():
    o = outcome(history(lambda node, dt: "down" if dt < 2 else "green"))
    assert o.verdict is Verdict.FAIL and o.measured == 2.0


def test_fake_history_the_killed_nodes_own_view_is_not_a_vote():
    o = outcome(history(lambda node, dt: "red" if node == "search-b" else "green"))
    assert o.verdict is Verdict.PASS


def test_fake_history_too_few_samples_is_unknown():
    o = outcome(history(lambda node, dt: "green", seconds=5))
    assert o.verdict is Verdict.UNKNOWN and "at least 20" in o.detail


def test_fake_history_an_election_is_reported_and_not_red():
    # What a real search-manager-loss drill recorded: for 0.5 s the survivors answered 503
    # "red" because neither knew of a cluster manager, then yellow under the new one.
    o = outcome(history(lambda node, dt: "down" if node == "search-b" and dt < 20 else (("red", False) if dt < 1 else "yellow")))
    assert o.verdict is Verdict.PASS and o.measured == 0
    assert "no cluster manager elected 1 s" in o.detail


def test_fake_history_red_under_an_elected_manager_fails_after_an_election():
    # Without replicas, the new manager finds the killed node's primaries gone: red.
    o = outcome(history(lambda node, dt: "down" if node == "search-b" else (("red", False) if dt < 1 else "red"), restored_at=None))
    assert o.verdict is Verdict.FAIL and o.measured == 29.0


def skewed_history(gap_s: float) -> History:
    """search-b lost; search-a answers green every 0.5 s except for `gap_s` seconds around
    10 s, when it has no sample at all (its sampler waiting out a slow request), while
    search-c's request times out and it is recorded "down" in that gap."""
    records = [FaultEvent(t=T0, phase=FaultPhase.INJECTED, fault=Fault.SEARCH_KILL_NODE.value, component="search-b", az="az-b")]
    for i in range(60):
        dt = i * 0.5
        in_gap = 10 <= dt < 10 + gap_s
        if not in_gap:
            records.append(SearchHealthSample(t=T0 + dt + 0.01, node="search-a", status="green"))
        records.append(SearchHealthSample(t=T0 + dt + 0.02, node="search-c", status="down" if in_gap else "green"))
    return History.of_records(sorted(records, key=lambda r: r.t))


def test_fake_history_a_node_without_a_sample_in_an_interval_stands_by_its_last_answer():
    # Two lab runs of 2026-12-01 were judged red for 0.5-1 s this way: one node's timed-out
    # sample alone in an interval, the other node green just before and after it.
    o = outcome(skewed_history(gap_s=1.0))
    assert o.verdict is Verdict.PASS and o.measured == 0, o.detail


def test_fake_history_a_last_answer_older_than_the_carry_does_not_stand():
    o = outcome(skewed_history(gap_s=4.0))
    assert o.verdict is Verdict.FAIL and o.measured == 2.0, o.detail
