"""Chaos Toolkit providers for the durable store. The target decides the mechanism."""

from __future__ import annotations

import time
from typing import Any

from gameday.clients.cassandra import answers
from gameday.faults import Fault, fault_output
from gameday.history import FaultPhase
from gameday.target import resolve
from probes import restart_killed

# Components this process killed, so the rollback knows what to bring back.
_killed: list[tuple[Fault, str]] = []


def store_answers(configuration: dict | None = None) -> bool:
    """Steady state: every store node answers a query it coordinates."""
    nodes = resolve(configuration).store_nodes()
    return bool(nodes) and all(answers(*addr) for addr in nodes.values())


def store_serves(keys: int = 30, configuration: dict | None = None) -> bool:
    """During the fault: prices of `keys` flights spread over the timetable (and so over the
    token ring) all read at the store's read consistency, through any live node."""
    from flightsearch.timetable import from_settings
    from gameday.clients.cassandra import read_all

    target = resolve(configuration)
    flights = from_settings(target.profile.get("timetable")).flights
    sample = [f.flight_id for f in flights[:: max(1, len(flights) // keys)]][:keys]
    nodes = list(target.store_nodes().values())
    return bool(nodes) and read_all(nodes, target.profile.get("cassandra.keyspace"), target.profile.get("cassandra.read_consistency"), sample)


def kill_store_node(az: str = "", configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL the store node in `az`; by default the first contact point every client
    (API, applier, the drill's writer) connects to first, az-a's."""
    target = resolve(configuration)
    nodes = target.store_nodes()
    if not nodes:
        raise RuntimeError("the target runs no store nodes")
    if az:
        named = [n for n in nodes if target.az_of(n) == az]
        if not named:
            raise ValueError(f"no store node in {az!r}; store nodes: {', '.join(f'{n} ({target.az_of(n)})' for n in nodes)}")
        victim = named[0]
    else:
        victim = next(iter(nodes))
    at = target.kill(victim)
    _killed.append((Fault.STORE_KILL_NODE, victim))
    return fault_output(FaultPhase.INJECTED, Fault.STORE_KILL_NODE, victim, at, target.az_of(victim), f"nodes={len(nodes)} SIGKILL")


def restore_killed(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: start every node this drill killed again (same config, same data)."""
    return restart_killed(resolve(configuration), _killed)


def wait_for_store(timeout_s: float = 120, configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: blocks until every store node answers again, bounded."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if store_answers(configuration):
            return {"answering": True, "after_s": round(time.monotonic() - began, 1)}
        time.sleep(1.0)
    return {"answering": False, "timed_out_after_s": timeout_s}
