"""Chaos Toolkit providers for the search index. The target decides the mechanism."""

from __future__ import annotations

import time
from typing import Any

from gameday.faults import Fault, fault_output
from gameday.history import FaultPhase
from gameday.monitors.search import health
from gameday.target import resolve
from probes import restart_killed

# Components this process killed, so the rollback knows what to bring back.
_killed: list[tuple[Fault, str]] = []


def _statuses(configuration: dict | None) -> dict[str, str]:
    return {name: health(url).status for name, url in resolve(configuration).search_nodes().items()}


def index_green(configuration: dict | None = None) -> bool:
    """Steady state: every node answers and reports the cluster green."""
    statuses = _statuses(configuration)
    return bool(statuses) and all(s == "green" for s in statuses.values())


def index_not_red(configuration: dict | None = None) -> bool:
    """During the fault: every node still answering reports green or yellow (every shard has
    a copy), and at least one answers."""
    answering = [s for s in _statuses(configuration).values() if s != "down"]
    return bool(answering) and all(s in ("green", "yellow") for s in answering)


def kill_search_node(role: str = "data", configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL one node: role "data" takes the node holding the most copies of the index,
    preferring one that is not the elected cluster manager,
    "cluster_manager" the elected one (a new election too)."""
    target = resolve(configuration)
    manager = target.search_cluster_manager()
    if manager is None:
        raise RuntimeError("no node names an elected cluster manager: the index is not at rest")
    copies = target.search_copies()
    if role == "cluster_manager":
        victim, fault = manager, Fault.SEARCH_KILL_CLUSTER_MANAGER
    elif role == "data":
        # Most copies first (without replicas, the primary's node: the loss the plan's
        # replica is there for), and among equals not the manager (that is the other drill).
        ranked = sorted(copies, key=lambda n: (-copies[n], n == manager, n))
        victim, fault = ranked[0], Fault.SEARCH_KILL_NODE
    else:
        raise ValueError(f"role must be 'data' or 'cluster_manager', got {role!r}")
    at = target.kill(victim)
    _killed.append((fault, victim))
    return fault_output(FaultPhase.INJECTED, fault, victim, at, target.az_of(victim), f"role={role} copies={copies.get(victim, 0)} manager={manager} SIGKILL")


def wait_for_cluster_manager(timeout_s: float = 60, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until a live node is the elected cluster manager (at once unless it was killed)."""
    target = resolve(configuration)
    killed = {name for _, name in _killed}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        manager = target.search_cluster_manager()
        if manager and manager not in killed:
            return {"cluster_manager": manager}
        time.sleep(0.5)
    return {"cluster_manager": None, "timed_out_after_s": timeout_s}


def restore_killed(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: start every component this drill killed again (same config, same data)."""
    return restart_killed(resolve(configuration), _killed)


def wait_for_green(timeout_s: float = 120, configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: blocks until every node reports green (its copies recovered), bounded."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if index_green(configuration):
            return {"green": True, "after_s": round(time.monotonic() - began, 1)}
        time.sleep(0.5)
    return {"green": False, "timed_out_after_s": timeout_s}
