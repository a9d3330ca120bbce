"""Split brain: acknowledged writes a healed partition lost, and two leaders at once.

Both read the split-brain writer's records (gameday.monitors.split_brain): a write sent
straight to every Redis server that answered `master`, and its read-back after the heal.
"""

from __future__ import annotations

from collections import defaultdict

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, judge
from gameday.history import History, IntegrityAudit, LeaderClaim, LeaderReadBack, LeaderWrite, RedisRoleSample, StoreReadBack
from gameday.measures.quorum import zookeeper_seconds
from gameday.spec import Slo


@checker("consistency.split_brain_writes_lost")
def split_brain_writes_lost(history: History, slo: Slo) -> Outcome:
    """Redis: acknowledged keys gone from the primary the majority names after the heal;
    the store's acknowledged writes some node still did not return, and the supplier events
    Kafka acknowledged that the audit did not find in the log, are added when the run
    measured them (the same losses, judged on their own by store.acknowledged_writes_readable
    and data.events_lost)."""
    writes = history.of(LeaderWrite)
    acked = [w for w in writes if w.acked]
    back = next((r for r in history.of(LeaderReadBack) if r.tier == "redis"), None)
    if not writes:
        return judge(slo, None, "The split-brain writer recorded no write: no Redis server answered master, or the writer never ran.")
    if len(acked) < slo.evidence.min_writes:
        return judge(slo, None, f"Only {len(acked)} acknowledged Redis writes (at least {slo.evidence.min_writes} make a measurement).")
    if back is None:
        return judge(slo, None, f"{len(acked)} Redis writes were acknowledged but never read back after the heal.")
    if back.error:
        return judge(slo, None, f"The Redis read-back failed: {back.error}")
    by_node: dict[str, int] = defaultdict(int)
    where = {w.key: w.node for w in acked}
    for key in back.missing:
        by_node[where.get(key, "?")] += 1
    refused = len(writes) - len(acked)
    parts = [f"Redis: {len(back.missing)} of {back.checked} acknowledged writes gone from {back.node}"
             + (f" ({', '.join(f'{n} acknowledged {c}' for n, c in sorted(by_node.items()))})" if by_node else "")
             + f"; {refused} writes not acknowledged (refused, or no replica took them)"]
    store = [r for r in history.of(StoreReadBack) if r.judged and not r.error]
    store_lost = len(set().union(*(r.missing + r.failed for r in store))) if store else 0
    if store:
        parts.append(f"store: {store_lost} acknowledged writes some node did not return")
    audit = next((a for a in reversed(history.of(IntegrityAudit)) if not a.error and a.acknowledged > 0 and a.lost_in_topic >= 0), None)
    log_lost = audit.lost_in_topic if audit else 0
    if audit:  # a leader in the minority that acknowledged supplier events the majority never got
        parts.append(f"Kafka: {log_lost} of {audit.acknowledged} acknowledged supplier events missing from supplier.raw")
    return judge(slo, len(back.missing) + store_lost + log_lost, ". ".join(parts) + ".")


def _overlaps(seconds: dict[int, set[str]]) -> list[tuple[int, int, frozenset[str]]]:
    """Runs of consecutive seconds in which two or more servers acknowledged writes."""
    runs: list[tuple[int, int, frozenset[str]]] = []
    for s in sorted(k for k, v in seconds.items() if len(v) > 1):
        if runs and runs[-1][1] == s - 1:
            start, _, nodes = runs[-1]
            runs[-1] = (start, s, nodes | seconds[s])
        else:
            runs.append((s, s, frozenset(seconds[s])))
    return runs


def _masters_at_once(history: History) -> float:
    """Seconds during which two or more servers reported role master (context: a server
    that is master but refuses writes is no second leader for clients)."""
    roles: dict[str, str] = {}
    total, since = 0.0, None
    for r in history.of(RedisRoleSample):
        roles[r.node] = r.role
        two = sum(v == "master" for v in roles.values()) > 1
        if two and since is None:
            since = r.t
        elif not two and since is not None:
            total, since = total + r.t - since, None
    return total


CLAIMED = {"search": "cluster manager", "kafka": "KRaft controller", "flink": "leading JobManager", "zookeeper": "ZooKeeper leader"}


def _claims_at_once(history: History, t0: float) -> str:
    """Per tier, seconds in which two members each named itself leader (context: these tiers
    elect by quorum, so a leader left in the minority cannot commit; it only believes)."""
    by_tier: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    asked: dict[str, set[str]] = defaultdict(set)
    for c in history.of(LeaderClaim):
        asked[c.tier].add(c.node)
        if c.leader == c.node:
            by_tier[c.tier][int(c.t)].add(c.node)
    parts = []
    for tier in sorted(asked):
        what = CLAIMED.get(tier, "leader")
        runs = _overlaps(by_tier[tier])
        if not runs:
            parts.append(f"{tier}: never two members naming themselves {what} in the same second ({len(asked[tier])} answered)")
            continue
        total = sum(end - start + 1 for start, end, _ in runs)
        spans = "; ".join(f"{' and '.join(sorted(nodes))} from t+{start - t0:.0f} s to t+{end + 1 - t0:.0f} s" for start, end, nodes in runs[:3])
        parts.append(f"{tier}: two members each named itself {what} for {total} s ({spans}); elected by quorum, the minority's cannot commit")
    return (" Other tiers, each member asked who leads: " + ". ".join(parts) + ".") if parts else ""


def _zookeeper_quorum(history: History, t0: float, stale_s: float) -> str:
    """Context: the seconds ZooKeeper (Flink's leader election and its HA store) had no quorum
    serving, and each member's seconds out of it (gameday.measures.quorum)."""
    members, seconds = zookeeper_seconds(history, stale_s)
    if not seconds:
        return ""
    no_quorum = [q.t for q in seconds if not q.has_quorum]
    out_of = {m: sum(m not in q.serving for q in seconds) for m in members}
    lost = f"no quorum for {len(no_quorum)} s (from t+{no_quorum[0] - t0:.0f} s)" if no_quorum else "a quorum served throughout"
    outside = ", ".join(f"{m} {n} s" for m, n in out_of.items() if n)
    return f" ZooKeeper ({len(members)} members, asked every 0.5 s): {lost}" + (f"; out of the quorum: {outside}." if outside else ".")


@checker("consistency.single_leader")
def single_leader(history: History, slo: Slo) -> Outcome:
    writes = history.of(LeaderWrite)
    if not writes:
        return judge(slo, None, "The split-brain writer recorded no write, so no leader was observed.")
    seconds: dict[int, set[str]] = defaultdict(set)
    for w in writes:
        if w.acked:
            seconds[int(w.t)].add(w.node)
    acked = sum(w.acked for w in writes)
    if acked < max(slo.evidence.min_writes, 1):
        return judge(slo, None, f"Only {acked} acknowledged Redis writes: too few to see who led (at least {slo.evidence.min_writes}).")
    runs = _overlaps(seconds)
    measured = float(sum(end - start + 1 for start, end, _ in runs))
    masters = _masters_at_once(history)
    faults = history.faults()
    t0 = faults[0].t if faults else min(w.t for w in writes)
    context = f" Two or more servers reported role master for {masters:.1f} s (a master refusing writes leads no client)." if masters else ""
    context += _claims_at_once(history, t0) + _zookeeper_quorum(history, t0, slo.evidence.stale_s)
    if not runs:
        leaders = sorted({w.node for w in writes if w.acked})
        return judge(slo, 0.0, f"Writes were acknowledged by {', '.join(leaders)}, never by two in the same second.{context}")
    described = "; ".join(f"{', '.join(sorted(nodes))} from t+{start - t0:.0f} s to t+{end + 1 - t0:.0f} s" for start, end, nodes in runs[:3])
    return judge(slo, measured, f"Two Redis servers acknowledged writes in the same second for {measured:.0f} s: {described}.{context}")
