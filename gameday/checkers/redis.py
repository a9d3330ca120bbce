"""Redis hot-cache failover: promotion time and client write recovery."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, fail_at_least, judge
from gameday.faults import Fault, first
from gameday.history import History, RedisRoleSample, SentinelSample, WriteSample
from gameday.spec import Slo

# A write recovery counts once this many writes in a row succeed.
STABLE_WRITES = 5


@checker("redis.promotion_time")
def promotion_time(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), (Fault.REDIS_KILL_PRIMARY,))
    if fault is None:
        return judge(slo, None, "No primary kill in the history.")
    old = fault.component
    views: dict[str, str] = {}  # latest primary each Sentinel names
    roles: dict[str, str] = {}
    sentinels = {s.sentinel for s in history.of(SentinelSample)}
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
        named = set(views.values())
        if sentinels and len(views) == len(sentinels) and len(named) == 1:
            (primary,) = named
            if primary and primary != old and roles.get(primary) == "master":
                return judge(
                    slo,
                    record.t - fault.t,
                    f"All {len(sentinels)} Sentinels name {primary} primary (was {old}) and it reports role master.",
                )
    if last_seen is None:
        return judge(slo, None, "No Sentinel or Redis samples after the fault.")
    return fail_at_least(slo, last_seen - fault.t, f"No promotion observed in the {last_seen - fault.t:.1f} s watched after {old} was killed.")


@checker("redis.client_write_recovery")
def client_write_recovery(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), (Fault.REDIS_KILL_PRIMARY,))
    if fault is None:
        return judge(slo, None, "No primary kill in the history.")
    after = [w for w in history.of(WriteSample) if w.t >= fault.t]
    if not after:
        return judge(slo, None, "No client writes sampled after the fault.")
    failed = sum(not w.ok for w in after)
    for i, write in enumerate(after):
        run = after[i : i + STABLE_WRITES]
        if all(w.ok for w in run) and (len(run) == STABLE_WRITES or i + len(run) == len(after)):
            return judge(
                slo,
                write.t - fault.t,
                f"{failed} of {len(after)} writes after the fault failed; writes resumed on {write.node or '?'}.",
            )
    return fail_at_least(slo, after[-1].t - fault.t, f"Writes never recovered: {failed} of {len(after)} failed.")
