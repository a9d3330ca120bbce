"""The restart policy and the API-instance-loss checkers, without a lab: the keeper's
crash-loop backoff, state updates that do not undo each other, HAProxy's CSV read, and
the two verdicts on hand-made histories (FAKE balancer samples), both ways."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from gameday.checkers.verdicts import Verdict
from gameday.faults import Fault
from gameday.history import BalancerSample, FaultEvent, FaultPhase, LoadSecond
from gameday.lab import state
from gameday.lab.keeper import Backoff
from gameday.lab.network import Isolation, Topology
from gameday.lab.state import LabState
from gameday.lab.tiers.api import backend_states
from gameday.procs import Tracked
from tests.unit.histories import T0, check_one, hist_of

KILL = T0 + 20


def test_backoff_doubles_per_recent_restart_and_resets():
    b = Backoff(base_s=1, max_s=16, reset_after_s=60)
    assert b.delay([], died_at=100) == 1
    assert b.delay([95], died_at=100) == 2
    assert b.delay([70, 80, 90, 95], died_at=100) == 16  # capped
    assert b.delay([10, 20, 30], died_at=100) == 1  # ran a minute since: reset


def _writer(home: str, n: int) -> None:
    for i in range(50):
        state.update(Path(home), lambda s, i=i: s.restarts.setdefault(f"w{n}", []).append(float(i)))


def test_state_updates_from_several_processes_are_all_kept(tmp_path):
    state.save(tmp_path, LabState(Topology(Isolation.LOOPBACK, "10.213.0.0/24", "gd-br0"), {}, [], 0.0))
    procs = [multiprocessing.Process(target=_writer, args=(str(tmp_path), n)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    st = state.load(tmp_path)
    assert {k: len(v) for k, v in st.restarts.items()} == {"w0": 50, "w1": 50, "w2": 50}


def test_state_round_trips_restarts_and_reads_an_older_file(tmp_path):
    st = LabState(Topology(Isolation.LOOPBACK, "10.213.0.0/24", "gd-br0"), {}, ["api"], 1.0,
                  components={"api-a": Tracked("api-a", 1, 2, ["x"], "log", role="api")}, restarts={"api-a": [5.0]})
    state.save(tmp_path, st)
    assert state.load(tmp_path).restarts == {"api-a": [5.0]}
    older = state.state_path(tmp_path).read_text().replace('"restarts": {\n    "api-a": [\n      5.0\n    ]\n  }', '"x": 0').replace(',\n  "x": 0', "")
    state.state_path(tmp_path).write_text(older)
    assert state.load(tmp_path).restarts == {}


CSV = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight
search,FRONTEND,,,0,1,4000,5,,,0,0,0,,,,,OPEN,
api,api-a,0,0,0,1,,2,,,,0,,0,0,0,0,UP,1
api,api-b,0,0,0,1,,2,,,,0,,0,0,0,0,DOWN,1
api,api-c,0,0,0,1,,2,,,,0,,0,0,0,0,UP 1/3,1
api,BACKEND,0,0,0,1,400,5,,,0,0,,0,0,0,0,UP,2
"""


def test_backend_states_reads_haproxys_csv():
    assert backend_states(CSV) == {"api-a": "UP", "api-b": "DOWN", "api-c": "UP 1/3"}
    assert backend_states("") == {} and backend_states("<html>") == {}


def history(out_after: float | None, restarted_after: float | None, up_after: float | None, rollback_after: float | None = None, seconds: float = 40) -> list:
    """api-b killed at KILL; the balancer takes it out after `out_after` s, the platform
    restarts it after `restarted_after` s, the balancer has it UP again after `up_after` s."""
    recs: list = [FaultEvent(t=KILL, phase=FaultPhase.INJECTED, fault=Fault.API_KILL_INSTANCE.value, component="api-b", az="az-b")]
    if restarted_after is not None:
        # The platform's revert is when the instance served again; the restart is in the detail.
        ready = up_after if up_after is not None else restarted_after
        recs.append(FaultEvent(t=KILL + ready, phase=FaultPhase.REVERTED, fault=Fault.API_KILL_INSTANCE.value, component="api-b", detail=f"by=platform restarted_after_s={restarted_after}"))
    if rollback_after is not None:
        recs.append(FaultEvent(t=KILL + rollback_after, phase=FaultPhase.REVERTED, fault=Fault.API_KILL_INSTANCE.value, component="api-b", detail="restarted with the same config and data"))
    for i in range(int(seconds / 0.5)):
        dt = i * 0.5 - 10
        if dt < 0 or (up_after is not None and dt >= up_after):
            status = "UP"
        elif out_after is not None and dt >= out_after:
            status = "DOWN"
        else:
            status = "UP 1/3"
        recs.append(BalancerSample(t=KILL + dt + 0.01, server="api-b", status=status))
        recs.append(BalancerSample(t=KILL + dt + 0.01, server="api-a", status="UP"))
    for s in range(int(seconds)):
        recs.append(LoadSecond(t=KILL - 10 + s, worker="w1", requests=150, failures=0, hist=hist_of(5.0, 150)))
    return sorted(recs, key=lambda r: r.t)


def test_fake_balancer_out_in_1_5_s_and_restarted_passes_both():
    recs = history(out_after=1.5, restarted_after=1.6, up_after=3.0)
    excl, restart = check_one("api.dead_instance_in_rotation", recs), check_one("api.instance_restart", recs)
    assert excl.verdict is Verdict.PASS and 1.4 <= excl.measured <= 1.6, excl.detail
    assert "took it out (DOWN)" in excl.detail
    assert restart.verdict is Verdict.PASS and 2.9 <= restart.measured <= 3.1, restart.detail


def test_fake_restart_before_the_balancer_noticed_ends_the_dead_time():
    excl = check_one("api.dead_instance_in_rotation", history(out_after=None, restarted_after=1.0, up_after=1.5))
    assert excl.verdict is Verdict.PASS and excl.measured == 1.0 and "before the balancer had taken it out" in excl.detail


def test_fake_slow_balancer_fails_exclusion():
    excl = check_one("api.dead_instance_in_rotation", history(out_after=10.0, restarted_after=None, up_after=None, rollback_after=29))
    assert excl.verdict is Verdict.FAIL and 9.9 <= excl.measured <= 10.1


def test_fake_no_restart_policy_fails_restart_with_the_time_it_stayed_dead():
    restart = check_one("api.instance_restart", history(out_after=1.5, restarted_after=None, up_after=None, rollback_after=36))
    assert restart.verdict is Verdict.FAIL and restart.measured == 36 and "did not restart" in restart.detail


def test_fake_no_kill_or_no_samples_is_unknown():
    recs = [r for r in history(1.5, 1.6, 3.0) if not isinstance(r, FaultEvent)]
    assert check_one("api.instance_restart", recs).verdict is Verdict.UNKNOWN
    recs = [r for r in history(1.5, 1.6, 3.0) if not isinstance(r, BalancerSample)]
    assert check_one("api.dead_instance_in_rotation", recs).verdict is Verdict.UNKNOWN


def test_missed_events_fill_the_gap_since_the_last_acknowledged_event(tmp_path):
    from flightsearch.ingest import missed_events

    assert missed_events(tmp_path, ["sup-01", "sup-02"], rate=10, now=1000.0) == []  # a first start
    (tmp_path / "sup-01.acks").write_text("1 0 5 990.2 990.0\n2 0 6 990.4 990.1\n")
    (tmp_path / "sup-02.acks").write_text("1 1 5 990.5 990.3\n")
    out = missed_events(tmp_path, ["sup-01", "sup-02"], rate=10, now=1000.3)
    assert len(out) == 200 and {s for s, _ in out} == {"sup-01", "sup-02"}  # 10 s x 10/s x 2 suppliers
    assert out[0][1] > 990.3 and out[-1][1] <= 1000.3 and [c for _, c in out] == sorted(c for _, c in out)
    assert missed_events(tmp_path, ["sup-01", "sup-02"], rate=10, now=990.31) == []  # no gap


def adapter_history(restarted_after: float | None, ready_after: float = 2.0, rollback_after: float | None = None) -> list:
    recs: list = [FaultEvent(t=KILL, phase=FaultPhase.INJECTED, fault=Fault.INGEST_KILL_ADAPTER.value, component="ingest-a", az="az-a")]
    if restarted_after is not None:
        recs.append(FaultEvent(t=KILL + restarted_after + ready_after, phase=FaultPhase.REVERTED, fault=Fault.INGEST_KILL_ADAPTER.value, component="ingest-a", detail=f"by=platform restarted_after_s={restarted_after}"))
    if rollback_after is not None:
        recs.append(FaultEvent(t=KILL + rollback_after, phase=FaultPhase.REVERTED, fault=Fault.INGEST_KILL_ADAPTER.value, component="ingest-a", detail="restarted with the same config and data"))
    return recs


def test_fake_adapter_restarted_by_the_platform_passes_and_counts_until_healthy():
    o = check_one("ingest.adapter_restart", adapter_history(restarted_after=1.5, ready_after=2.5))
    assert o.verdict is Verdict.PASS and o.measured == 4.0


def test_fake_adapter_only_the_rollback_restored_fails():
    o = check_one("ingest.adapter_restart", adapter_history(restarted_after=None, rollback_after=45))
    assert o.verdict is Verdict.FAIL and o.measured == 45 and "did not restart" in o.detail
    assert check_one("ingest.adapter_restart", adapter_history(None)).verdict is Verdict.UNKNOWN


def test_a_component_of_a_lost_or_cut_off_az_moves_to_the_usable_az_with_the_fewest():
    from gameday.lab.keeper import new_home

    assert new_home(["az-b", "az-c", "az-c"], {"az-a"}) == "az-b"
    assert new_home(["az-b", "az-c"], {"az-a"}) == "az-b"  # a tie: the first by name
    assert new_home(["az-b"], {"az-a", "az-b"}) == "az-c"
    assert new_home([], {"az-a", "az-b", "az-c"}) is None  # nowhere to go


def test_an_adapter_gives_up_only_with_events_waiting_and_no_acknowledgement_for_the_whole_stall():
    from flightsearch.ingest import stalled

    assert stalled(now=111.0, last_progress=100.0, in_flight=5, stall_s=10)
    assert not stalled(now=109.0, last_progress=100.0, in_flight=5, stall_s=10)  # not long enough
    assert not stalled(now=200.0, last_progress=100.0, in_flight=0, stall_s=10)  # nothing waits: an idle feed
    assert not stalled(now=200.0, last_progress=100.0, in_flight=5, stall_s=0)  # turned off
