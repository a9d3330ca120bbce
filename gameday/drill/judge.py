"""A run's outcome, from its Chaos Toolkit journal and its history: pure, so a saved run
is judged again exactly as it was (`gameday check`)."""

from __future__ import annotations

from gameday.checkers import run_checkers
from gameday.checkers.verdicts import Verdict
from gameday.drill.summary import RunSummary
from gameday.history import STEADY_STATE_ONLY, FaultPhase, History, Marker, StopTripped
from gameday.load.run import summarize


def judge_run(run_id: str, experiment: str, slos: list[str], target: str, started: float, ended: float, journal: dict, history: History) -> RunSummary:
    outcomes = run_checkers(history, slos)
    status, reason, code = _classify(journal, history)
    if code == 0:
        verdicts = {o.verdict for o in outcomes}
        if Verdict.FAIL in verdicts:
            code, reason = 1, "at least one SLO failed"
        elif Verdict.UNKNOWN in verdicts:
            code, reason = 2, "at least one SLO could not be measured"
        else:
            reason = "every SLO in scope passed"
    return RunSummary(run_id, experiment, target, started, ended, code, status, reason, outcomes, summarize(history))


def _classify(journal: dict, history: History) -> tuple[str, str, int]:
    """Chaos Toolkit's outcome, without its pitfalls (a failed hypothesis or action still exits 0 there)."""
    status = journal.get("status")
    halts = history.of(StopTripped)
    if halts:  # Chaos Toolkit calls it interrupted; the drill ended as its owners asked
        return "halted", f"halted by stop condition {halts[0].describe()}; the rollbacks ran", 1
    if status == "interrupted":
        return "interrupted", "the drill was interrupted before it finished", 2
    before = (journal.get("steady_states") or {}).get("before") or {}
    if before and not before.get("steady_state_met", False):
        return "deviated", "the steady-state hypothesis did not hold before the fault", 1
    failed = [r["activity"]["name"] for r in journal.get("run", []) if r.get("status") != "succeeded" and r.get("activity", {}).get("type") == "action"]
    injected = [f for f in history.faults() if f.phase is FaultPhase.INJECTED]
    fault_free = any(m.name == STEADY_STATE_ONLY for m in history.of(Marker))
    if failed or not (injected or fault_free):
        names = ", ".join(failed) or "none recorded"
        return "not_carried_out", f"the fault was not injected (failed actions: {names})", 2
    if status not in ("completed", "failed") and status is not None:
        return str(status), f"chaos toolkit ended with status {status}", 2
    if journal.get("deviated"):
        return "deviated", "the steady-state hypothesis did not hold after the fault", 1
    return "carried_out", "", 0
