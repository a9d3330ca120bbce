"""The region drill: RPO (acknowledged events the DR region lacks), RTO (loss to correct
searches served from the DR region through the global entry point, in phases), and the
plan's decision rule (promote once the primary has been down 5 minutes, not before).

The plan's decision wait is read from the catalog (dr.promote_after's threshold), never
from here: a run whose promoter waited less is not comparable, and says so."""

from __future__ import annotations

from dataclasses import dataclass

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, Verdict, fail_at_least, judge
from gameday.faults import Fault
from gameday.history import EntrySearch, FaultPhase, History, PromotionEvent, PromotionPhase, RegionAudit, RegionLakeAudit, RegionStoreAudit, plan_lacks
from gameday.spec import Slo, catalog


def lost_at(history: History) -> float | None:
    lost = [f.t for f in history.faults() if f.fault == Fault.REGION_LOSS.value and f.phase is FaultPhase.INJECTED]
    return min(lost) if lost else None


@dataclass(frozen=True)
class Phases:
    """Seconds after the loss (None: it did not happen while watched)."""

    detected: float | None
    decided: float | None
    promoted: float | None
    failed_step: str
    failure: str
    first_search: float | None
    served_by: str
    by: str
    decision_wait_s: float | None
    plan: str
    steps: tuple[tuple[str, float], ...]  # step, seconds it took
    needs: tuple[str, ...] = ()  # the steps the region's serving path needs (from the decision's record)

    def describe(self) -> str:
        def at(x: float | None) -> str:
            return f"{x:.1f} s" if x is not None else "never"

        steps = ", ".join(f"{s} {d:.1f} s" for s, d in self.steps)
        parts = [f"detection {at(self.detected)}", f"decision {at(self.decided)}" + (f" ({self.by}, wait {self.decision_wait_s:g} s)" if self.decided is not None else ""),
                 f"promotion done {at(self.promoted)}" + (f" ({steps})" if steps else ""), f"first correct search from the DR region {at(self.first_search)}"]  # fmt: skip
        if self.failed_step:
            parts.append(f"promotion FAILED at {self.failed_step}: {self.failure}")
        return "; ".join(parts)


def phases(history: History, t0: float) -> Phases:
    events = [e for e in history.of(PromotionEvent) if e.t >= t0]
    first = lambda phase: next((e for e in events if e.phase is phase), None)  # noqa: E731
    down, decided, promoted, failed = (first(p) for p in (PromotionPhase.PRIMARY_DOWN, PromotionPhase.DECIDED, PromotionPhase.PROMOTED, PromotionPhase.FAILED))
    started = {e.step: e.t for e in events if e.phase is PromotionPhase.STEP_STARTED}
    steps = tuple((e.step, e.t - started.get(e.step, e.t)) for e in events if e.phase is PromotionPhase.STEP_DONE)
    primary = set(history.topology("api") or ())
    served = next((s for s in history.of(EntrySearch) if s.t >= t0 and s.ok and s.instance and s.instance not in primary), None)
    rel = lambda e: None if e is None else e.t - t0  # noqa: E731
    return Phases(
        detected=rel(down), decided=rel(decided), promoted=rel(promoted), failed_step=failed.step if failed else "", failure=failed.detail if failed else "",
        first_search=None if served is None else served.t - t0, served_by=served.instance if served else "", by=decided.by if decided else "",
        decision_wait_s=decided.decision_wait_s if decided else None, plan=decided.plan if decided else "", steps=steps,
        needs=tuple(n.strip() for n in decided.needs.split(",") if n.strip()) if decided else (),
    )  # fmt: skip


def _plan_wait() -> float:
    return catalog()["dr.promote_after"].threshold


@checker("dr.rto")
def rto(history: History, slo: Slo) -> Outcome:
    t0 = lost_at(history)
    if t0 is None:
        return judge(slo, None, "The run lost no region.")
    ph = phases(history, t0)
    searches = [s for s in history.of(EntrySearch) if s.t >= t0]
    if not searches:
        return judge(slo, None, f"No search through the global entry point was recorded after the loss. {ph.describe()}.")
    plan_wait = _plan_wait()
    if ph.first_search is None:
        watched = searches[-1].t - t0
        # A record from before the decision named its needs: the API and the switch.
        missing = plan_lacks(ph.plan, ph.needs or ("start api", "switch entry")) if ph.plan else []
        why = (f" The promotion plan ({ph.plan}) has no step {' or '.join(missing)}: nothing in the DR region could serve." if missing
               else f" The promotion failed at {ph.failed_step}." if ph.failed_step else " No promotion finished." if ph.promoted is None else "")  # fmt: skip
        finished = ph.promoted is not None or bool(ph.failed_step)
        if not finished and ph.decision_wait_s is not None and ph.decision_wait_s < plan_wait and watched < slo.threshold:
            return judge(slo, None, f"No correct search from the DR region in the {watched:.0f} s watched, and no promotion finished.{why} {ph.describe()}.")
        # A promotion that finished (or failed) without the region serving will not serve by
        # waiting longer: the RTO is at least what was watched, however short the wait.
        outcome = judge(slo, watched, f"No correct search from the DR region in the {watched:.0f} s watched after the loss.{why} {ph.describe()}.")
        if finished and outcome.verdict is not Verdict.FAIL:
            return Outcome(slo.id, slo.clause, slo.target_text, round(watched, 3), slo.unit, Verdict.FAIL, f"{outcome.detail} The promotion ended without the region serving: it would not serve by waiting longer.")
        return outcome if outcome.verdict is Verdict.FAIL else fail_at_least(slo, watched, outcome.detail)
    detail = f"Region lost; {ph.describe()} (served by {ph.served_by})."
    if ph.by == "promoter" and ph.decision_wait_s is not None and ph.decision_wait_s < plan_wait:
        return judge(slo, None, f"RTO {ph.first_search:.1f} s, not comparable with the plan: the promoter waited {ph.decision_wait_s:g} s, "
                                f"the plan's decision wait is {plan_wait:g} s (dr.decision_wait_s shortened for a faster run). {detail}")  # fmt: skip
    return judge(slo, ph.first_search, detail)


@checker("dr.promote_after")
def promote_after(history: History, slo: Slo) -> Outcome:
    """Promotion begins once the primary has been down the plan's 5 minutes: at or after the
    threshold, and within the evidence's resolution after it (a promoter that waits much
    longer misses the rule as surely as one that does not wait)."""
    t0 = lost_at(history)
    if t0 is None:
        return judge(slo, None, "The run lost no region.")
    ph = phases(history, t0)
    if ph.decided is None:
        end = history.records[-1].t - t0 if history.records else 0.0
        if end < slo.threshold:
            return judge(slo, None, f"No promotion in the {end:.0f} s watched, shorter than the decision wait: nothing to judge. {ph.describe()}.")
        return Outcome(slo.id, slo.clause, slo.target_text, round(end, 3), slo.unit, Verdict.FAIL, f"No promotion in the {end:.0f} s watched after the loss (at least {end - slo.threshold:.0f} s past the decision wait). {ph.describe()}.")
    if ph.by != "promoter":
        return judge(slo, None, f"Promoted by an {ph.by or 'unknown actor'} {ph.decided:.1f} s after the loss: the automated decision was not exercised. {ph.describe()}.")
    late = slo.evidence.resolution_s
    detail = f"Promotion decided {ph.decided:.1f} s after the loss (detection {ph.detected:.1f} s, wait {ph.decision_wait_s:g} s)." if ph.detected is not None else f"Promotion decided {ph.decided:.1f} s after the loss."
    if ph.decided > slo.threshold + late:
        return Outcome(slo.id, slo.clause, slo.target_text, round(ph.decided, 3), slo.unit, Verdict.FAIL, f"{detail} More than {late:g} s after the plan's {slo.threshold:g} s: the region stayed down longer than the rule says.")
    if ph.decision_wait_s is not None and ph.decision_wait_s < slo.threshold:
        return judge(slo, None, f"{detail} Not comparable: the promoter's decision wait was shortened to {ph.decision_wait_s:g} s (dr.decision_wait_s).")
    return judge(slo, ph.decided, detail)


@dataclass(frozen=True)
class RpoPart:
    """One copy of the data in the DR region, judged: its loss window (None: not measured)."""

    window_s: float | None
    detail: str


def _unmeasured(copy: str, error: str, acknowledged: int, missing: int, slo: Slo, what: str = "acknowledged events") -> RpoPart | None:
    """The copy's audit measured nothing: it crashed, or too little was acknowledged to judge."""
    if error or acknowledged < 0 or missing < 0:
        return RpoPart(None, f"{copy}: the audit did not finish: {error or 'counts unmeasured'}.")
    if acknowledged < slo.evidence.min_events:
        return RpoPart(None, f"{copy}: only {acknowledged} {what} before the loss; at least {slo.evidence.min_events} are needed.")
    return None


def _oldest(sample: tuple[str, ...]) -> str:
    return f" Oldest missing: {', '.join(sample[:5])}." if sample else ""


def _log_part(history: History, slo: Slo) -> RpoPart:
    audits = history.of(RegionAudit)
    if not audits:
        return RpoPart(None, "Log: no region audit in the history.")
    a = audits[-1]
    if (none := _unmeasured("Log", a.error, a.acknowledged, a.missing_in_log, slo)) is not None:
        return none
    fresh = a.lost_at - a.newest_ack_before_loss
    return RpoPart(a.window_s, f"Log: {a.acknowledged} events acknowledged to suppliers before the loss (the last {fresh:.2f} s before it), {a.missing_in_log} missing from the DR region's supplier.raw, "
                               f"the oldest acknowledged {a.window_s:.2f} s before the loss.{_oldest(a.missing_sample)}")  # fmt: skip


def _store_part(history: History, slo: Slo) -> RpoPart:
    audits = history.of(RegionStoreAudit)
    if not audits:
        return RpoPart(None, "Store: no store audit in the history.")
    a = audits[-1]
    if (none := _unmeasured("Store", a.error, a.acknowledged, a.missing, slo, "writes acknowledged")) is not None:
        return none
    said = (f"Store: {a.acknowledged} writes acknowledged in the primary region before the loss, {a.missing} missing from {a.node} at {a.consistency}, "
            f"the oldest acknowledged {a.window_s:.2f} s before the loss.{_oldest(a.missing_sample)}")  # fmt: skip
    if a.failed:  # an unread key may be missing: a measured miss stands, a pass cannot
        return RpoPart(a.window_s if a.missing else None, f"{said} {a.failed} could not be read.")
    return RpoPart(a.window_s, said)


def _lake_part(history: History, slo: Slo) -> RpoPart | None:
    """None: the lab ran no stream job, so the region keeps no lake to judge."""
    audits = history.of(RegionLakeAudit)
    if not audits:
        return None
    a = audits[-1]
    if (none := _unmeasured("Raw events lake", a.error, a.acknowledged, a.missing, slo)) is not None:
        return none
    twice = f" {a.twice} of them are there twice (read again by the job resumed in the region)." if a.twice else ""
    return RpoPart(a.window_s, f"Raw events lake (the audit trail): {a.missing} of the {a.acknowledged} missing from the DR region's lake ({a.files} files, "
                               f"after waiting {a.waited_s:.0f} s for the resumed job's commits), the oldest acknowledged {a.window_s:.2f} s before the loss."
                               f"{_oldest(a.missing_sample)}{twice}")  # fmt: skip


@checker("dr.rpo")
def rpo(history: History, slo: Slo) -> Outcome:
    """The worst loss window over the region's copies of the data: the log, the store and (a
    lab with the stream job) the raw events lake. A copy not measured leaves the verdict
    unknown, unless a measured one already misses the plan."""
    lake = _lake_part(history, slo)
    parts = [_log_part(history, slo), _store_part(history, slo)] + ([lake] if lake else [])
    detail = " ".join(p.detail for p in parts) + ("" if lake else " Raw events lake: not judged (the lab ran no stream job, so the region keeps no lake).")
    measured = [p.window_s for p in parts if p.window_s is not None]
    worst = max(measured, default=None)
    if len(measured) < len(parts):
        missed = judge(slo, worst, detail) if worst is not None else None
        return missed if missed is not None and missed.verdict is Verdict.FAIL else judge(slo, None, detail)
    return judge(slo, worst, detail)
