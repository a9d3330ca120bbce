"""The data path: acknowledged events lost or duplicated (the audit), and freshness (a
canary supplier update until search shows it)."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, fail_at_least, judge
from gameday.checkers.windows import inside, measuring_from
from gameday.history import CanarySample, History, IntegrityAudit
from gameday.spec import Slo


def _finished_audit(history: History, slo: Slo) -> IntegrityAudit | Outcome:
    """The last audit if it measured every count, else the `unknown` outcome saying why."""
    audits = history.of(IntegrityAudit)
    if not audits:
        return judge(slo, None, "No audit in the history.")
    a = audits[-1]
    counts = (a.lost_in_topic, a.lost_in_output, a.lost_in_archive, a.duplicated_in_output, a.duplicated_in_archive)
    if a.error or a.acknowledged < 0 or min(counts) < 0:
        return judge(slo, None, f"The audit did not finish: {a.error or 'it left some counts unmeasured'}")
    if a.acknowledged < slo.evidence.min_events:
        return judge(slo, None, f"Only {a.acknowledged} acknowledged events to audit; at least {slo.evidence.min_events} are needed.")
    return a


@checker("data.events_lost")
def events_lost(history: History, slo: Slo) -> Outcome:
    a = _finished_audit(history, slo)
    if isinstance(a, Outcome):
        return a
    worst = max(a.lost_in_topic, a.lost_in_output, a.lost_in_archive)
    sample = f" e.g. {', '.join(a.lost_sample[:5])}." if a.lost_sample else ""
    return judge(slo, float(worst), f"{a.acknowledged} events acknowledged: {a.lost_in_topic} missing from supplier.raw, {a.lost_in_output} from the job's committed output, {a.lost_in_archive} from the raw events lake (after waiting {a.waited_s:.0f} s).{sample}")


@checker("data.events_duplicated")
def events_duplicated(history: History, slo: Slo) -> Outcome:
    a = _finished_audit(history, slo)
    if isinstance(a, Outcome):
        return a
    worst = max(a.duplicated_in_output, a.duplicated_in_archive)
    topic = f"; {a.duplicated_in_topic} written twice into supplier.raw by the adapters' producer (the job deduplicates them; the lake keeps them, as the audit trail of supplier.raw)" if a.duplicated_in_topic else "; none twice in supplier.raw"
    return judge(slo, float(worst), f"Of {a.acknowledged} acknowledged events: {a.duplicated_in_output} twice or more in the job's committed output, {a.duplicated_in_archive} with a supplier.raw record the lake holds twice{topic}.")


@checker("freshness.searchable")
def freshness(history: History, slo: Slo) -> Outcome:
    """Every canary update outside the fault window, from produce until search shows it. One
    that never showed, or was still unseen when the run stopped, counts as at least its age;
    one younger than the threshold when the run stopped proves nothing either way."""
    window = history.fault_window()
    canaries = [c for c in history.of(CanarySample) if not c.error and c.t >= measuring_from(history)]
    outside = [c for c in canaries if not inside(window, c.t, (c.seen_at or c.gave_up_at))]
    judged = [c for c in outside if not (c.pending and c.gave_up_at - c.t <= slo.threshold)]
    if len(judged) < slo.evidence.min_canaries:
        return judge(slo, None, f"Only {len(judged)} canary updates outside the fault window; at least {slo.evidence.min_canaries} are needed.")
    unseen = [c for c in judged if not c.seen_at]
    delays = sorted(c.seen_at - c.t for c in judged if c.seen_at)
    if unseen:
        pending = sum(c.pending for c in unseen)
        why = f" ({pending} of them still pending when the run stopped)" if pending else ""
        return fail_at_least(slo, max(c.gave_up_at - c.t for c in unseen), f"{len(unseen)} of {len(judged)} canary price updates never showed in search results while watched{why}.")
    median = delays[len(delays) // 2]
    return judge(slo, delays[-1], f"{len(delays)} canary price updates, produced into supplier.raw and searched for through the load balancer: median {median:.2f} s, worst {delays[-1]:.2f} s from produce to the API returning the new price.")
