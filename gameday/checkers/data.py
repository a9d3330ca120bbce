"""The data path: acknowledged events lost or duplicated (the audit), and freshness (a
canary supplier update until search shows it). Both say which delivery mode (gameday.delivery)
the run measured, when the history records it: the plan's two readings meet different clauses."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, fail_at_least, judge
from gameday.checkers.windows import inside, measuring_from
from gameday.delivery import Delivery
from gameday.history import CanaryPath, CanarySample, History, IntegrityAudit, StreamDelivery
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


def _earlier(a: IntegrityAudit) -> str:
    """What the audit left out: events the lab acknowledged before this run's window."""
    if not a.earlier_acknowledged:
        return ""
    lost = f", {a.earlier_lost} of them missing (an earlier drill's loss)" if a.earlier_lost else ""
    return f" Not judged here: {a.earlier_acknowledged} events acknowledged earlier in the lab's life, before this run's window{lost}."


@checker("data.events_lost")
def events_lost(history: History, slo: Slo) -> Outcome:
    a = _finished_audit(history, slo)
    if isinstance(a, Outcome):
        return a
    worst = max(a.lost_in_topic, a.lost_in_output, a.lost_in_archive)
    sample = f" e.g. {', '.join(a.lost_sample[:5])}." if a.lost_sample else ""
    return judge(slo, float(worst), f"{a.acknowledged} events acknowledged: {a.lost_in_topic} missing from supplier.raw, {a.lost_in_output} from the job's committed output, {a.lost_in_archive} from the raw events lake (after waiting {a.waited_s:.0f} s).{sample}{_earlier(a)}")


def delivery_of(history: History) -> StreamDelivery | None:
    """The run's delivery mode (None: a history from before it was recorded)."""
    found = history.of(StreamDelivery)
    return found[-1] if found else None


# What a repeat in the job's output means, per mode: precisely what the audit counts and what not.
_REPEATS = {
    Delivery.EXACTLY_ONCE: (
        " Delivery exactly_once: the applier reads the output read_committed, so each of these counts is an event it was"
        " given twice. Not counted: a batch the applier itself replays after a crash before committing its offsets"
        " (absorbed by its idempotent writes)."
    ),
    Delivery.AT_LEAST_ONCE: (
        " Delivery at_least_once: the output holds what the job wrote, without transactions, and the applier reads all of"
        " it, so each of these counts is an event delivered to the applier more than once (after a restore the job writes"
        " again what it wrote since its last checkpoint). Such repeats are absorbed by the applier's idempotent writes"
        " (store write time and index document version = the supplier's timestamp: a repeat rewrites the same values),"
        " which the audit does not read back; this SLO judges the exactly-once clause, which at_least_once does not promise."
    ),
}


@checker("data.events_duplicated")
def events_duplicated(history: History, slo: Slo) -> Outcome:
    a = _finished_audit(history, slo)
    if isinstance(a, Outcome):
        return a
    worst = max(a.duplicated_in_output, a.duplicated_in_archive)
    topic = f"; {a.duplicated_in_topic} written twice into supplier.raw by the adapters' producer (the job deduplicates them; the lake keeps them, as the audit trail of supplier.raw)" if a.duplicated_in_topic else "; none twice in supplier.raw"
    delivery = delivery_of(history)
    output = "the job's output" if delivery is not None and delivery.mode is Delivery.AT_LEAST_ONCE else "the job's committed output"
    mode = _REPEATS[delivery.mode] if delivery is not None else ""
    return judge(slo, float(worst), f"Of {a.acknowledged} acknowledged events: {a.duplicated_in_output} twice or more in {output}, {a.duplicated_in_archive} with a supplier.raw record the lake holds twice{topic}.{mode}")


# How each canary path is watched, in the verdict's words: (what was updated, what showed it).
_WATCHED = {
    CanaryPath.INDEX: ("seat", "the search index listing the flight's new seats (flights[].seats)"),
    CanaryPath.PRICE: ("price", "the API returning the new price (flights[].price)"),
}


@checker("freshness.searchable")
def freshness(history: History, slo: Slo) -> Outcome:
    """Every canary update outside the fault window, from produce until search shows it. One
    that never showed, or was still unseen when the run stopped, counts as at least its age;
    one younger than the threshold when the run stopped proves nothing either way. Through the
    index when the run watched it (what is searchable), else through the price."""
    window = history.fault_window()
    canaries = [c for c in history.of(CanarySample) if not c.error and c.t >= measuring_from(history)]
    via = CanaryPath.INDEX if any(c.via is CanaryPath.INDEX for c in canaries) else CanaryPath.PRICE
    what, shown = _WATCHED[via]
    canaries = [c for c in canaries if c.via is via]
    outside = [c for c in canaries if not inside(window, c.t, (c.seen_at or c.gave_up_at))]
    judged = [c for c in outside if not (c.pending and c.gave_up_at - c.t <= slo.threshold)]
    delivery = delivery_of(history)
    mode = f" Delivery {delivery.mode.value}: {delivery.mode.visibility(delivery.checkpoint_interval_s)}." if delivery is not None else ""
    if len(judged) < slo.evidence.min_canaries:
        return judge(slo, None, f"Only {len(judged)} canary updates outside the fault window; at least {slo.evidence.min_canaries} are needed.")
    unseen = [c for c in judged if not c.seen_at]
    delays = sorted(c.seen_at - c.t for c in judged if c.seen_at)
    if unseen:
        pending = sum(c.pending for c in unseen)
        why = f" ({pending} of them still pending when the run stopped)" if pending else ""
        # The worst of all: an unseen one's age is a lower bound, but a seen one may have taken longer.
        worst = max([c.gave_up_at - c.t for c in unseen] + delays)
        seen = f" The {len(delays)} seen: median {delays[len(delays) // 2]:.2f} s, worst {delays[-1]:.2f} s." if delays else ""
        return fail_at_least(slo, worst, f"{len(unseen)} of {len(judged)} canary {what} updates never reached {shown} while watched{why}.{seen}{mode}")
    median = delays[len(delays) // 2]
    return judge(slo, delays[-1], f"{len(delays)} canary {what} updates, produced into supplier.raw and searched for through the load balancer: median {median:.2f} s, worst {delays[-1]:.2f} s from produce to {shown}.{mode}")
