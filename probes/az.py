"""Chaos Toolkit providers for a whole-AZ outage and an AZ partition. The target decides
the mechanism.

The outage is one instant on the run's timeline, recorded twice over: once as `az.outage`,
and once per tier as the fault that tier suffered (the Redis primary, a Kafka broker, the
leading JobManager when it lived there, a TaskManager, a search node, a store node, an API
instance, an adapter), with the facts each tier's checker reads. So every tier is judged
against the catalog exactly as its own drill judges it, on one timeline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from gameday.faults import Fault, fault_output, together
from gameday.history import FaultPhase
from gameday.target import Role, Target, resolve

RAW_TOPIC = "supplier.raw"


@dataclass(frozen=True)
class TierLoss:
    fault: Fault
    component: str
    detail: str


# The AZ this process took down or cut off, what each tier lost there (for the rollback's
# reverts), and which fault it was.
_lost: list[tuple[str, list[TierLoss], Fault]] = []
# AZs healed in this run: what dies there of having been cut off, after the heal, is
# restarted while the rollback waits for the platform to be whole (wait_until_whole).
_healed: list[str] = []


def _pop(fault: Fault) -> tuple[str, list[TierLoss]] | None:
    for i in range(len(_lost) - 1, -1, -1):
        if _lost[i][2] is fault:
            az, losses, _ = _lost.pop(i)
            return az, losses
    return None


def choose_az(target: Target, az: str = "") -> tuple[str, str]:
    """The AZ to lose and why: the one named, else the Redis primary's (the cache's writes
    stop until a promotion), else the leading JobManager's, else the first."""
    if az:
        if az not in target.azs():
            raise ValueError(f"no AZ {az!r}; AZs: {', '.join(target.azs())}")
        return az, "named by the experiment"
    tiers = target.tiers()
    primary = target.redis_primary() if "redis" in tiers else None
    if primary:
        return target.az_of(primary), f"holds the Redis primary {primary}"
    leader = target.flink_leader() if "flink" in tiers else None
    if leader:
        name = target.flink_component(leader)
        return target.az_of(name), f"holds the leading JobManager {name}"
    return target.azs()[0], "the first AZ"


def _asked(answer: Callable[[], Any], default: Any) -> Any:
    """A lookup the outage must not wait on: a busy tier that does not answer leaves its facts
    as '?' in the record, and the AZ is lost anyway (as a real one would be)."""
    try:
        return answer()
    except Exception:  # noqa: BLE001 - any failed lookup is the same missing fact
        return default


def tier_losses(target: Target, az: str) -> list[TierLoss]:
    """What each tier loses with the AZ, asked of the running system before the kill."""
    tiers, losses = target.tiers(), []
    here = set(target.components(az=az))
    if "redis" in tiers:
        primary = _asked(target.redis_primary, None)
        if primary in here:
            losses.append(TierLoss(Fault.REDIS_KILL_PRIMARY, primary, "in the lost AZ"))
    if "kafka" in tiers:
        leaders = _asked(lambda: target.kafka_topic(RAW_TOPIC).leader_counts(), None)
        controller = _asked(target.kafka_controller, None)
        for name in target.components(Role.KAFKA, az=az):
            broker = target.kafka_broker_id(name)
            role = "?" if controller is None else "controller" if broker == controller else "broker"
            led = "?" if leaders is None else leaders.get(broker, 0)
            losses.append(TierLoss(Fault.KAFKA_KILL_BROKER, name, f"broker={broker} leads={led} role={role} (in the lost AZ)"))
    if "flink" in tiers:
        leader = _asked(target.flink_leader, None)
        if leader and target.flink_component(leader) in here:
            losses.append(TierLoss(Fault.FLINK_KILL_JOBMANAGER, target.flink_component(leader), f"leader={leader}"))
        tasks, job = _asked(target.stream_job_tasks, {}), _asked(target.stream_job, None)
        for name in target.components(Role.TASKMANAGER, az=az):
            losses.append(TierLoss(Fault.FLINK_KILL_TASKMANAGER, name, f"tasks={tasks.get(name, '?')} job={job.jid if job else '?'}"))
    if "search" in tiers:
        copies, manager = _asked(target.search_copies, {}), _asked(target.search_cluster_manager, None)
        for name in target.components(Role.SEARCH, az=az):
            fault = Fault.SEARCH_KILL_CLUSTER_MANAGER if name == manager else Fault.SEARCH_KILL_NODE
            losses.append(TierLoss(fault, name, f"role={'cluster_manager' if name == manager else 'data'} copies={copies.get(name, '?')} manager={manager or '?'}"))
    for role, fault in ((Role.STORE, Fault.STORE_KILL_NODE), (Role.API, Fault.API_KILL_INSTANCE), (Role.INGEST, Fault.INGEST_KILL_ADAPTER)):
        for name in target.components(role, az=az):
            losses.append(TierLoss(fault, name, "in the lost AZ"))
    return losses


def lose_az(az: str = "", configuration: dict | None = None) -> dict[str, Any]:
    """Every process of one AZ dies at once (the Redis primary's AZ unless `az` names one),
    and the platform restarts nothing there until the rollback regains it."""
    target = resolve(configuration)
    chosen, why = choose_az(target, az)
    losses = tier_losses(target, chosen)
    at, names = target.lose_az(chosen)
    _lost.append((chosen, losses, Fault.AZ_OUTAGE))
    outage = fault_output(FaultPhase.INJECTED, Fault.AZ_OUTAGE, chosen, at, chosen, f"processes={len(names)} components={','.join(names)} ({why}) SIGKILL")
    return together([outage] + [fault_output(FaultPhase.INJECTED, x.fault, x.component, at, chosen, f"{x.detail} SIGKILL") for x in losses])


def wait_for_redis_promotion(timeout_s: float = 90, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until a majority of Sentinels name a primary outside the lost AZ (at once when
    the primary was elsewhere); bounded."""
    target = resolve(configuration)
    az = _lost[-1][0] if _lost else ""  # the AZ lost or cut off last
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        primary = target.redis_primary()
        if primary and target.az_of(primary) != az:
            return {"primary": primary}
        time.sleep(0.2)
    return {"primary": None, "timed_out_after_s": timeout_s}


def regain_az(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: the AZ is back; its processes start again, dependencies first. Each tier's
    fault is reverted when the whole AZ is serving again."""
    popped = _pop(Fault.AZ_OUTAGE)
    if popped is None:
        return {"regained": []}
    target = resolve(configuration)
    az, losses = popped
    began = time.time()
    started = target.regain_az(az)
    at = time.time()
    outage = fault_output(FaultPhase.REVERTED, Fault.AZ_OUTAGE, az, at, az, f"restarted={len(started)} in_s={at - began:.1f}: {','.join(started)}")
    return together([outage] + [fault_output(FaultPhase.REVERTED, x.fault, x.component, at, az, "restarted with the AZ") for x in losses])


# What the majority side loses when an AZ is cut off: every stateful tier's member there.
# API instances and adapters are lost only when clients cannot reach them either ("all").
REACHABLE_IN_PEERS = (Fault.API_KILL_INSTANCE, Fault.INGEST_KILL_ADAPTER)


def partition_az(az: str = "", mode: str = "peers", configuration: dict | None = None) -> dict[str, Any]:
    """The AZ (the Redis primary's unless `az` names one) is cut off the network with its
    processes running: from the other AZs (mode "peers", clients still reach it) or from
    everything ("all"). Each tier's member there is recorded as that tier's fault (the
    majority side lost it), so every tier is judged as in its own drill."""
    target = resolve(configuration)
    chosen, why = choose_az(target, az)
    losses = [x for x in tier_losses(target, chosen) if mode != "peers" or x.fault not in REACHABLE_IN_PEERS]
    names = target.components(az=chosen)
    at = target.partition_az(chosen, mode)
    _lost.append((chosen, losses, Fault.AZ_PARTITION))
    cut = fault_output(FaultPhase.INJECTED, Fault.AZ_PARTITION, chosen, at, chosen, f"mode={mode} components={','.join(names)} ({why})")
    return together([cut] + [fault_output(FaultPhase.INJECTED, x.fault, x.component, at, chosen, f"{x.detail} partitioned mode={mode}") for x in losses])


def heal_az(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: the partition is removed; each tier's fault is reverted at that instant, and
    what died while cut off is started again."""
    popped = _pop(Fault.AZ_PARTITION)
    if popped is None:
        return {"healed": []}
    target = resolve(configuration)
    az, losses = popped
    at = target.heal_az(az)
    # What died while cut off (a TaskManager whose ZooKeeper session expired exits) starts
    # again, as the orchestrator would restart its pod; the lab's keeper restarts only the
    # stateless tiers.
    died = [name for name in target.down_components() if target.az_of(name) == az]
    for name in died:
        target.restart(name)
    _healed.append(az)
    healed = fault_output(FaultPhase.REVERTED, Fault.AZ_PARTITION, az, at, az, "partition removed" + (f"; restarted what died while cut off: {','.join(died)}" if died else ""))
    return together([healed] + [fault_output(FaultPhase.REVERTED, x.fault, x.component, at, az, "healed with the AZ") for x in losses])


def wait_until_whole(timeout_s: float = 300, configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: blocks until every component of every tier is healthy and, with the stream
    tier, the job runs all its tasks; bounded. How long the platform took to be whole again."""
    target = resolve(configuration)
    began = time.monotonic()
    problems: list[str] = []
    healed, restarted = (_healed[-1] if _healed else ""), []
    _healed.clear()
    while time.monotonic() - began < timeout_s:
        # A TaskManager cut off exits when it is back and finds its ZooKeeper session expired,
        # seconds after the heal: the orchestrator restarts that pod as it would any other.
        # Only in the healed AZ: a component that dies elsewhere is the platform's failure,
        # reported below as not whole.
        for name in target.down_components() if healed else ():
            if target.az_of(name) == healed and restarted.count(name) < 2:
                target.restart(name)
                restarted.append(name)
        problems = target.unhealthy(target.tiers())
        if not problems and "stream" in target.tiers():
            job = target.stream_job()
            problems = [] if job is not None and job.tasks_running else ["the stream job is not running all its tasks"]
        if not problems:
            return {"whole": True, "after_s": round(time.monotonic() - began, 1)} | ({"restarted_after_heal": restarted} if restarted else {})
        time.sleep(3.0)  # each look asks every component: not a load to add every second
    return {"whole": False, "timed_out_after_s": timeout_s, "still": problems[:5]} | ({"restarted_after_heal": restarted} if restarted else {})
