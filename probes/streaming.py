"""Chaos Toolkit providers for the streaming tiers: Kafka brokers, Flink JobManagers and
TaskManagers. Victims are found by asking the cluster (through the target: metadata, the
KRaft quorum, ZooKeeper, Flink's REST API), never assumed. Every fault returns plain data
that gameday's control records in the run's history."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from flightsearch import RAW_TOPIC
from gameday.errors import TargetError
from gameday.faults import KAFKA_FAULTS, Fault, fault_output
from gameday.history import FaultPhase
from gameday.target import Role, Topic, resolve
from probes import restart_killed, wait_for_platform_restart

_killed: list[tuple[Fault, str]] = []  # (fault, component) this process killed
_killed_at: dict[str, float] = {}  # component -> when this process killed it


# --- Kafka ------------------------------------------------------------------------------


def _most_leaders(topic: Topic) -> tuple[int, int]:
    counts = topic.leader_counts()
    if not counts:
        raise RuntimeError(f"no partition of {topic.name} has a leader")
    broker = max(sorted(counts), key=lambda b: counts[b])
    return broker, counts[broker]


def all_partitions_writable(configuration: dict | None = None) -> bool:
    """Steady state: every partition of supplier.raw has a leader and at least
    min.insync.replicas in sync, so acks=all writes succeed (true again once a lost
    broker's partitions have moved; the full ISR after the rollback is kafka.min_isr's)."""
    topic = resolve(configuration).kafka_topic(RAW_TOPIC)
    need = topic.min_insync_replicas
    return bool(topic.partitions) and all(p.leader >= 0 and len(p.isr) >= need for p in topic.partitions.values())


def kill_broker(role: str = "most_leaders", configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL the broker that leads the most supplier.raw partitions (role "most_leaders")
    or the active KRaft controller (role "controller")."""
    target = resolve(configuration)
    topic = target.kafka_topic(RAW_TOPIC)
    if role == "controller":
        broker = target.kafka_controller()
        led = topic.leader_counts().get(broker, 0)
        why = "active KRaft controller"
    elif role == "most_leaders":
        broker, led = _most_leaders(topic)
        why = "leads the most supplier.raw partitions"
    else:
        raise ValueError(f"role must be most_leaders or controller, got {role!r}")
    name = target.kafka_broker(broker)
    at = target.kill(name)
    _killed.append((Fault.KAFKA_KILL_BROKER, name))
    return fault_output(FaultPhase.INJECTED, Fault.KAFKA_KILL_BROKER, name, at, target.az_of(name), f"broker={broker} leads={led} role={role} ({why}) SIGKILL")


def kill_leader_after_lagging_followers(lag_s: float = 5.0, configuration: dict | None = None) -> dict[str, Any]:
    """Jepsen's classic: freeze the other brokers (SIGSTOP) so they stop replicating, let the
    leader take writes alone for `lag_s`, SIGKILL it, thaw the others. Under the plan's
    settings (acks=all, min ISR 2) nothing written in that time was acknowledged; with
    acks=1 the leader acknowledged writes only it held."""
    target = resolve(configuration)
    broker, led = _most_leaders(target.kafka_topic(RAW_TOPIC))
    leader = target.kafka_broker(broker)
    followers = [n for n in target.components(Role.KAFKA) if n != leader]
    frozen_at = time.time()
    for name in followers:
        target.freeze(name)
    try:
        time.sleep(lag_s)
        at = target.kill(leader)
    finally:
        for name in followers:
            target.resume(name)
    _killed.append((Fault.KAFKA_LAGGING_FOLLOWERS, leader))
    return fault_output(FaultPhase.INJECTED, Fault.KAFKA_LAGGING_FOLLOWERS, leader, at, target.az_of(leader), f"broker={broker} leads={led} followers {','.join(followers)} frozen {at - frozen_at:.1f} s before the SIGKILL, then thawed")


def wait_for_partition_leaders(timeout_s: float = 90, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until every partition has a leader that is not a killed broker."""
    target = resolve(configuration)
    dead = {target.kafka_broker_id(name) for fault, name in _killed if fault in KAFKA_FAULTS}
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            parts = target.kafka_topic(RAW_TOPIC).partitions
            last = {pid: p.leader for pid, p in parts.items()}
            if all(p.leader >= 0 and p.leader not in dead for p in parts.values()):
                return {"leaders": last}
        except (TargetError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
        time.sleep(2)  # each look is a short-lived process: keep the CPU for the platform
    return {"leaders": last, "timed_out_after_s": timeout_s}


# --- Flink -------------------------------------------------------------------------------


def _flink_leader(target) -> str:
    leader = target.flink_leader()
    if not leader:
        raise RuntimeError("ZooKeeper names no Flink JobManager leader")
    return leader


def stream_job_running(configuration: dict | None = None, attempts: int = 3) -> bool:
    """Steady state: the stream job is RUNNING with every task running on the leader.
    A REST call that times out on a busy JobManager is asked again (up to `attempts`,
    2 s apart) before the answer is "no"."""
    target = resolve(configuration)
    for attempt in range(attempts):
        job = target.stream_job()
        if job is not None and job.tasks_running:
            return True
        if attempt + 1 < attempts:
            time.sleep(2)
    return False


def kill_jobmanager_leader(configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL the JobManager that ZooKeeper names leader."""
    target = resolve(configuration)
    leader = _flink_leader(target)
    name = target.flink_component(leader)
    at = target.kill(name)
    _killed.append((Fault.FLINK_KILL_JOBMANAGER, name))
    return fault_output(FaultPhase.INJECTED, Fault.FLINK_KILL_JOBMANAGER, name, at, target.az_of(name), f"leader={leader} SIGKILL")


def kill_taskmanager_with_tasks(configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL a TaskManager that runs tasks of the stream job (the one running most)."""
    target = resolve(configuration)
    _flink_leader(target)
    job = target.stream_job()
    if job is None:
        raise RuntimeError("the stream job is not running")
    counts = target.stream_job_tasks()
    if not counts:
        raise RuntimeError(f"no TaskManager runs tasks of job {job.jid}")
    name = max(sorted(counts), key=lambda t: counts[t])
    if name not in target.components(Role.TASKMANAGER):
        raise RuntimeError(f"TaskManager {name} is not a component of the target")
    at = target.kill(name)
    _killed.append((Fault.FLINK_KILL_TASKMANAGER, name))
    return fault_output(FaultPhase.INJECTED, Fault.FLINK_KILL_TASKMANAGER, name, at, target.az_of(name), f"tasks={counts[name]} job={job.jid} SIGKILL")


def wait_for_job_running(timeout_s: float = 120, stable_s: float = 15, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until the stream job has been RUNNING with all tasks for `stable_s` without a
    break. The first RUNNING is not the end of a TaskManager loss: until the dead one's
    heartbeat times out (10 s), the leader can deploy the restarted job onto its slots and
    fail over once more (seen twice: the hypothesis after the method then found it RESTARTING)."""
    began = time.monotonic()
    since: float | None = None
    while time.monotonic() - began < timeout_s:
        try:
            running = stream_job_running(configuration, attempts=1)
        except Exception:
            running = False
        now = time.monotonic()
        since = (since or now) if running else None
        if since is not None and now - since >= stable_s:
            return {"running": True, "stable_for_s": stable_s, "after_s": round(since - began, 1)}
        time.sleep(0.5)
    return {"running": False, "timed_out_after_s": timeout_s}


# --- ingestion adapters ----------------------------------------------------------------------


def kill_ingest_adapter(adapter: str = "", configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL one ingestion adapter: `adapter` when named, else the first (az-a's)."""
    target = resolve(configuration)
    adapters = target.components(Role.INGEST)
    if not adapters:
        raise RuntimeError("the target runs no ingestion adapter")
    if adapter and adapter not in adapters:
        raise ValueError(f"no ingestion adapter named {adapter!r}; adapters: {', '.join(adapters)}")
    name = adapter or adapters[0]
    at = target.kill(name)
    _killed.append((Fault.INGEST_KILL_ADAPTER, name))
    _killed_at[name] = at
    return fault_output(FaultPhase.INJECTED, Fault.INGEST_KILL_ADAPTER, name, at, target.az_of(name), "SIGKILL")


def all_adapters_healthy(configuration: dict | None = None) -> bool:
    """Steady state: every ingestion adapter runs, reports and has its events acknowledged."""
    target = resolve(configuration)
    return bool(target.components(Role.INGEST)) and not target.unhealthy(["ingest"])


def wait_for_adapter_restart(timeout_s: float = 35, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until the platform restarted the adapter this drill killed and it is healthy
    again (its status fresh and Kafka acknowledging its events); bounded."""
    target = resolve(configuration)
    return wait_for_platform_restart(target, _killed, _killed_at, lambda name: not any(u.split()[0] == name for u in target.unhealthy(["ingest"])), timeout_s)


# --- rollback -------------------------------------------------------------------------------


def restore_killed(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: start every component this drill killed again (same config, same data)."""
    return restart_killed(resolve(configuration), _killed)