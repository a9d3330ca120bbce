"""Redis hot-cache failover: promotion time and client write recovery."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, fail_at_least, judge
from gameday.faults import Fault, first, lost_with_an_az
from gameday.history import History, RedisRoleSample, SentinelSample, WriteSample
from gameday.spec import Slo


@checker("redis.promotion_time")
def promotion_time(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), (Fault.REDIS_KILL_PRIMARY,))
    if fault is None:
        return judge(slo, None, "No primary kill in the history.")
    old = fault.component
    role = slo.evidence.every
    sentinels = set(history.topology(role) or ())
    if not sentinels:
        return judge(slo, None, f"The history does not say which {role}s the topology has, so agreement among them cannot be judged.")
    unsampled = sorted(sentinels - {s.sentinel for s in history.of(SentinelSample) if s.t >= fault.t})
    if unsampled:
        return judge(slo, None, f"{', '.join(unsampled)} of the topology's {len(sentinels)} {role}s never sampled after the fault.")
    faults = history.faults()  # once: the loop below visits every sample
    views: dict[str, str] = {}  # latest primary each Sentinel names
    roles: dict[str, str] = {}
    last_seen = None
    for record in history.records:
        if isinstance(record, SentinelSample):
            views[record.sentinel] = record.primary
        elif isinstance(record, RedisRoleSample):
            roles[record.node] = record.role
        else:
            continue
        if record.t < fault.t:
            continue
        last_seen = record.t
        # A Sentinel lost with its whole AZ cannot answer: the others must all agree.
        asked = sentinels - lost_with_an_az(faults, record.t)
        named = {views.get(name, "") for name in asked}
        if len(named) == 1 and len(asked) > len(sentinels) // 2:
            (primary,) = named
            if primary and primary != old and roles.get(primary) == "master":
                who = f"All {len(sentinels)} Sentinels" if asked == sentinels else f"All {len(asked)} Sentinels outside the lost AZ ({', '.join(sorted(asked))})"
                return judge(slo, record.t - fault.t, f"{who} name {primary} primary (was {old}) and it reports role master.")
    if last_seen is None:
        return judge(slo, None, "No Sentinel or Redis samples after the fault.")
    return fail_at_least(slo, last_seen - fault.t, f"No promotion observed in the {last_seen - fault.t:.1f} s watched after {old} was killed.")


@checker("redis.client_write_recovery")
def client_write_recovery(history: History, slo: Slo) -> Outcome:
    """Recovered at the first write of the unbroken run of successes that lasts to the end
    of the watch: writes that succeed and then fail again have not recovered."""
    fault = first(history.faults(), (Fault.REDIS_KILL_PRIMARY,))
    if fault is None:
        return judge(slo, None, "No primary kill in the history.")
    after = [w for w in history.of(WriteSample) if w.t >= fault.t]
    if not after:
        return judge(slo, None, "No client writes sampled after the fault.")
    failed = sum(not w.ok for w in after)
    watched = after[-1].t - fault.t
    if not after[-1].ok:
        return fail_at_least(slo, watched, f"Writes were still failing at the end of the {watched:.1f} s watched: {failed} of {len(after)} failed.")
    start = len(after)
    while start > 0 and after[start - 1].ok:
        start -= 1
    first_ok, run = after[start], len(after) - start
    if run < slo.evidence.min_writes:
        text = f"Only the last {run} writes succeeded (at least {slo.evidence.min_writes} in a row make a recovery); {failed} of {len(after)} failed."
        return fail_at_least(slo, first_ok.t - fault.t, text) if first_ok.t - fault.t > slo.threshold else judge(slo, None, text)
    return judge(slo, first_ok.t - fault.t, f"{failed} of {len(after)} writes after the fault failed; writes resumed on {first_ok.node or '?'} and the last {run} all succeeded.")
