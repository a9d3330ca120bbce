"""Exit codes from Chaos Toolkit journals (faked journals: the runner's own logic in isolation).

gameday must not inherit chaostoolkit's pitfalls: a failed pre-fault hypothesis and
an action that raised both exit 0 there."""

from __future__ import annotations

from gameday.drill.runner import judge_run
from gameday.history import History
from tests.unit.histories import failover

SLOS = ["redis.promotion_time", "api.p95_latency"]


def journal(status="completed", before_met=True, deviated=False, action_status="succeeded") -> dict:
    return {
        "status": status,
        "deviated": deviated,
        "steady_states": {"before": {"steady_state_met": before_met}},
        "run": [{"activity": {"name": "kill-redis-primary", "type": "action"}, "status": action_status}],
    }


def judge(j: dict, history: History | None = None):
    return judge_run("r", "exp.json", SLOS, "lab", 0.0, 1.0, j, history or failover())


def test_healthy_drill_exits_0():
    s = judge(journal())
    assert (s.exit_code, s.status) == (0, "carried_out")


def test_failed_slo_exits_1():
    s = judge(journal(), failover(promotion_s=31, write_gap_s=31, revert_after_s=45))
    assert s.exit_code == 1 and "SLO failed" in s.reason


def test_steady_state_not_met_before_the_fault_exits_1_not_0():
    s = judge(journal(status="failed", before_met=False))
    assert (s.exit_code, s.status) == (1, "deviated")


def test_action_that_raised_is_a_fault_not_injected_exit_2():
    s = judge(journal(action_status="failed"))
    assert (s.exit_code, s.status) == (2, "not_carried_out")


def test_no_fault_in_history_is_exit_2_even_if_chaos_says_completed():
    h = failover()
    no_fault = History(tuple(r for r in h.records if r.kind != "fault"))
    assert judge(journal(), no_fault).exit_code == 2


def test_interrupted_is_exit_2():
    assert judge(journal(status="interrupted")).exit_code == 2


def test_deviated_after_exits_1():
    assert judge(journal(deviated=True)).exit_code == 1


def test_unmeasured_slo_is_exit_2():
    s = judge_run("r", "exp.json", SLOS + ["dr.rto"], "lab", 0.0, 1.0, journal(), failover())
    assert s.exit_code == 2 and "could not be measured" in s.reason
