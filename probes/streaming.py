"""Chaos Toolkit providers for the streaming tiers: Kafka brokers, Flink JobManagers and
TaskManagers. Victims are found by asking the cluster (metadata, the KRaft quorum,
ZooKeeper, Flink's REST API), never assumed. Every fault returns plain data that
gameday's control records in the run's history."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

from gameday.control import fault_output
from gameday.history import FaultPhase
from gameday.target import resolve

KILL_BROKER = "kafka.kill_broker"
LAGGING_FOLLOWERS = "kafka.kill_leader_after_lagging_followers"
KILL_JM = "flink.kill_jobmanager"
KILL_TM = "flink.kill_taskmanager"
_killed: list[tuple[str, str]] = []  # (fault, component) this process killed


# --- Kafka ------------------------------------------------------------------------------


def describe(configuration: dict | None = None, topic: str = "supplier.raw") -> dict[str, Any]:
    target = resolve(configuration)
    proc = subprocess.run([sys.executable, "-m", "gameday.kafka_query", target.kafka_bootstrap(), topic], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-500:] or f"kafka_query exited {proc.returncode}")
    return json.loads(proc.stdout)


def _broker_component(target, broker_id: int) -> str:
    from gameday.lab.network import AZS
    from gameday.lab.tiers.kafka import node_id, node_name

    for az in AZS:
        if node_id(az) == broker_id:
            return node_name(az)
    raise RuntimeError(f"no lab component for broker {broker_id}")


def _most_leaders(info: dict[str, Any]) -> tuple[int, int]:
    counts: dict[int, int] = {}
    for part in info["partitions"].values():
        if part["leader"] >= 0:
            counts[part["leader"]] = counts.get(part["leader"], 0) + 1
    if not counts:
        raise RuntimeError("no partition of supplier.raw has a leader")
    broker = max(sorted(counts), key=lambda b: counts[b])
    return broker, counts[broker]


def all_partitions_writable(configuration: dict | None = None) -> bool:
    """Steady state: every partition of supplier.raw has a leader and at least
    min.insync.replicas in sync, so acks=all writes succeed (true again once a lost
    broker's partitions have moved; the full ISR after the rollback is kafka.min_isr's)."""
    info = describe(configuration)
    need = int(info["config"].get("min.insync.replicas", "1"))
    return bool(info["partitions"]) and all(p["leader"] >= 0 and len(p["isr"]) >= need for p in info["partitions"].values())


def kill_broker(role: str = "most_leaders", configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL the broker that leads the most supplier.raw partitions (role "most_leaders")
    or the active KRaft controller (role "controller")."""
    target = resolve(configuration)
    info = describe(configuration)
    if role == "controller":
        from gameday.lab.tiers.kafka import active_controller

        host, port = target.kafka_bootstrap().split(",")[0].rsplit(":", 1)
        broker = active_controller(host, int(port))
        led = sum(1 for p in info["partitions"].values() if p["leader"] == broker)
        why = "active KRaft controller"
    elif role == "most_leaders":
        broker, led = _most_leaders(info)
        why = "leads the most supplier.raw partitions"
    else:
        raise ValueError(f"role must be most_leaders or controller, got {role!r}")
    name = _broker_component(target, broker)
    at = target.kill(name)
    _killed.append((KILL_BROKER, name))
    return fault_output(FaultPhase.INJECTED, KILL_BROKER, name, at, target.az_of(name), f"broker={broker} leads={led} role={role} ({why}) SIGKILL")


def kill_leader_after_lagging_followers(lag_s: float = 5.0, configuration: dict | None = None) -> dict[str, Any]:
    """Jepsen's classic: freeze the other brokers (SIGSTOP) so they stop replicating, let the
    leader take writes alone for `lag_s`, SIGKILL it, thaw the others. Under the plan's
    settings (acks=all, min ISR 2) nothing written in that time was acknowledged; with
    acks=1 the leader acknowledged writes only it held."""
    target = resolve(configuration)
    broker, led = _most_leaders(describe(configuration))
    leader = _broker_component(target, broker)
    followers = [n for n in target.components_of("kafka") if n != leader]
    frozen_at = time.time()
    for name in followers:
        target.lab.send(name, signal.SIGSTOP)
    try:
        time.sleep(lag_s)
        at = target.kill(leader)
    finally:
        for name in followers:
            target.lab.send(name, signal.SIGCONT)
    _killed.append((LAGGING_FOLLOWERS, leader))
    return fault_output(FaultPhase.INJECTED, LAGGING_FOLLOWERS, leader, at, target.az_of(leader), f"broker={broker} leads={led} followers {','.join(followers)} frozen {at - frozen_at:.1f} s before the SIGKILL, then thawed")


def wait_for_partition_leaders(timeout_s: float = 90, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until every partition has a leader that is not a killed broker."""
    from gameday.lab.tiers.kafka import node_id

    target = resolve(configuration)
    dead = {node_id(target.az_of(name)) for _, name in _killed if name.startswith("kafka-")}
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            parts = describe(configuration)["partitions"]
            last = {pid: p["leader"] for pid, p in parts.items()}
            if all(p["leader"] >= 0 and p["leader"] not in dead for p in parts.values()):
                return {"leaders": last}
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
        time.sleep(2)  # each look is a short-lived process: keep the CPU for the platform
    return {"leaders": last, "timed_out_after_s": timeout_s}


# --- Flink -------------------------------------------------------------------------------


def _rest_leader(target) -> str:
    from gameday.lab.tiers import flink

    leader = flink.rest_leader(target.zk_quorum())
    if not leader:
        raise RuntimeError("ZooKeeper names no Flink JobManager leader")
    return leader.rstrip("/")


def stream_job_running(configuration: dict | None = None, attempts: int = 3) -> bool:
    """Steady state: the stream job is RUNNING with every task running on the leader.
    A REST call that times out on a busy JobManager is asked again (up to `attempts`,
    2 s apart) before the answer is "no"."""
    from gameday.lab.tiers import stream

    target = resolve(configuration)
    for attempt in range(attempts):
        job = stream.stream_job(target.ctx)
        if job is not None and stream.running_tasks(target.ctx, job):
            return True
        if attempt + 1 < attempts:
            time.sleep(2)
    return False


def kill_jobmanager_leader(configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL the JobManager that ZooKeeper names leader."""
    target = resolve(configuration)
    leader = _rest_leader(target)
    from gameday.lab.network import AZS
    from gameday.lab.tiers.flink import jobmanager_name

    host = leader.split("//", 1)[1].rsplit(":", 1)[0]
    azs = [az for az in AZS if target.st.topology.address(az) == host]
    if not azs:
        raise RuntimeError(f"the leader {leader} is not at a lab AZ address")
    name = jobmanager_name(azs[0])
    at = target.kill(name)
    _killed.append((KILL_JM, name))
    return fault_output(FaultPhase.INJECTED, KILL_JM, name, at, target.az_of(name), f"leader={leader} SIGKILL")


def kill_taskmanager_with_tasks(configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL a TaskManager that runs tasks of the stream job (the one running most)."""
    from gameday.lab.tiers import flink, stream

    target = resolve(configuration)
    base = _rest_leader(target)
    job = stream.stream_job(target.ctx)
    if job is None:
        raise RuntimeError("the stream job is not running")
    counts: dict[str, int] = {}
    for vertex in flink.rest_get(f"{base}/jobs/{job['jid']}").get("vertices", []):
        for tm in flink.rest_get(f"{base}/jobs/{job['jid']}/vertices/{vertex['id']}/taskmanagers").get("taskmanagers", []):
            tid = tm.get("taskmanager-id", "")
            counts[tid] = counts.get(tid, 0) + sum(tm.get("status-counts", {}).values())
    if not counts:
        raise RuntimeError(f"no TaskManager runs tasks of job {job['jid']}")
    name = max(sorted(counts), key=lambda t: counts[t])
    if name not in target.components_of("flink"):
        raise RuntimeError(f"TaskManager {name} is not a lab component")
    at = target.kill(name)
    _killed.append((KILL_TM, name))
    return fault_output(FaultPhase.INJECTED, KILL_TM, name, at, target.az_of(name), f"tasks={counts[name]} job={job['jid']} SIGKILL")


def wait_for_job_running(timeout_s: float = 120, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until the stream job is RUNNING with all tasks again."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if stream_job_running(configuration, attempts=1):
                return {"running": True}
        except Exception:
            pass
        time.sleep(0.5)
    return {"running": False, "timed_out_after_s": timeout_s}


# --- rollback -------------------------------------------------------------------------------


def restore_killed(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: start every component this drill killed again (same config, same data)."""
    target = resolve(configuration)
    down = set(target.down_components())
    restored = []
    fault = ""
    for f, name in list(_killed):
        if name in down:
            target.restart(name)
            restored.append(name)
            fault = f
    _killed.clear()
    if not restored:
        return {"restored": []}
    return fault_output(FaultPhase.REVERTED, fault, ",".join(restored), time.time(), detail="restarted with the same config and data")
