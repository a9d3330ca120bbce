"""Stateless instances: the load balancer taking a dead API instance out of rotation, and
the platform's restart policy bringing it back (the plan: "Kubernetes restarts failed pods;
load balancer excludes unhealthy instances"; "launches or restarts ingestion tasks")."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, judge
from gameday.faults import Fault, detail_value, first
from gameday.history import BalancerSample, FaultEvent, FaultPhase, History
from gameday.spec import Slo

KILLS = (Fault.API_KILL_INSTANCE,)
ADAPTER_KILLS = (Fault.INGEST_KILL_ADAPTER,)


def _reverts(history: History, fault: FaultEvent) -> tuple[FaultEvent | None, FaultEvent | None]:
    """(the platform's own restart, the drill's rollback) of the killed instance, if any."""
    reverts = [f for f in history.faults() if f.fault == fault.fault and f.phase is FaultPhase.REVERTED and f.t >= fault.t]
    platform = next((f for f in reverts if detail_value(f, "by") == "platform"), None)
    rollback = next((f for f in reverts if detail_value(f, "by") != "platform"), None)
    return platform, rollback


def _restarted_after(platform: FaultEvent, fault: FaultEvent) -> float:
    """Seconds from the death to the platform's restart (the revert itself is when the
    component was serving again)."""
    value = detail_value(platform, "restarted_after_s")
    return float(value) if value else platform.t - fault.t


def _not_restarted(slo: Slo, fault: FaultEvent, rollback: FaultEvent | None) -> Outcome:
    """The platform did not restart it: judged by how long it stayed dead until the drill's
    rollback restored it (unknown if that was sooner than the threshold, or never)."""
    if rollback is None:
        return judge(slo, None, f"{fault.component} was neither restarted by the platform nor restored by the drill in the run.")
    waited = rollback.t - fault.t
    text = f"The platform did not restart {fault.component}: the drill restored it after {waited:.1f} s."
    return judge(slo, waited if waited >= slo.threshold else None, text if waited >= slo.threshold else text + " Too short a wait to judge.")


def _views(history: History, fault: FaultEvent) -> list[BalancerSample]:
    return [s for s in history.of(BalancerSample) if s.server == fault.component and s.t >= fault.t]


@checker("api.dead_instance_in_rotation")
def dead_in_rotation(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), KILLS)
    if fault is None:
        return judge(slo, None, "No API instance killed in the history.")
    views = _views(history, fault)
    if len(views) < slo.evidence.min_samples:
        return judge(slo, None, f"Only {len(views)} samples of the load balancer's view of {fault.component} after it was killed; at least {slo.evidence.min_samples} are needed.")
    out = next((s for s in views if not s.in_rotation), None)
    platform, rollback = _reverts(history, fault)
    # Running again: when the platform restarted it (its revert is when it served again), or
    # when the drill's rollback did.
    running = [fault.t + _restarted_after(platform, fault)] if platform else []
    back = min(running + ([rollback.t] if rollback else []), default=None)
    ends = [(out.t, f"the load balancer took it out ({out.status}) {out.t - fault.t:.1f} s after its death")] if out else []
    if back is not None:
        ends.append((back, f"it was running again {back - fault.t:.1f} s after its death, {'restarted by the platform' if running and back == running[0] else 'restored by the drill'}"
                           + ("" if out and out.t <= back else ", before the balancer had taken it out")))
    if not ends:
        watched = views[-1].t - fault.t
        if watched < slo.threshold:
            return judge(slo, None, f"{fault.component} was still dead and in rotation when sampling ended, {watched:.1f} s after its death: too short a watch to judge.")
        return judge(slo, watched, f"{fault.component} was dead and still in the load balancer's rotation for the whole {watched:.1f} s watched.")
    t, how = min(ends)
    return judge(slo, t - fault.t, f"{fault.component} ({fault.az}) killed: {how}.")


@checker("api.instance_restart")
def instance_restart(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), KILLS)
    if fault is None:
        return judge(slo, None, "No API instance killed in the history.")
    platform, rollback = _reverts(history, fault)
    if platform is None:
        return _not_restarted(slo, fault, rollback)
    restarted = _restarted_after(platform, fault)
    back = next((s for s in _views(history, fault) if s.t >= fault.t + restarted and s.status == "UP"), None)  # not "UP 2/3": failing checks
    if back is None:
        return judge(slo, None, f"The platform restarted {fault.component} {restarted:.1f} s after its death, but no sample shows it back in the load balancer's rotation.")
    return judge(slo, back.t - fault.t, f"The platform restarted {fault.component} {restarted:.1f} s after its death; back in the load balancer's rotation {back.t - fault.t:.1f} s after it.")


@checker("ingest.adapter_restart")
def adapter_restart(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), ADAPTER_KILLS)
    if fault is None:
        return judge(slo, None, "No ingestion adapter killed in the history.")
    platform, rollback = _reverts(history, fault)
    if platform is None:
        return _not_restarted(slo, fault, rollback)
    back = platform.t - fault.t
    return judge(slo, back, f"The platform restarted {fault.component} ({fault.az}) {_restarted_after(platform, fault):.1f} s after its death; healthy again (producing, Kafka acknowledging) {back:.1f} s after it.")
