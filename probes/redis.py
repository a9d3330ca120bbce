"""Chaos Toolkit providers for the Redis hot cache. The target decides the mechanism."""

from __future__ import annotations

import time
from typing import Any

from gameday.faults import Fault, fault_output
from gameday.history import FaultPhase
from gameday.target import Role, resolve

# Components this process killed, so the rollback knows what to bring back.
_killed: list[str] = []


def current_primary(configuration: dict | None = None) -> str:
    """The primary a majority of Sentinels name (found by asking, never assumed)."""
    target = resolve(configuration)
    primary = target.redis_primary()
    if primary is None:
        views = [v for v in target.sentinel_views().values() if v]
        raise RuntimeError(f"no primary named by a majority of Sentinels (views: {views or 'none answered'})")
    return primary


def sentinels_agree_on_primary(configuration: dict | None = None) -> bool:
    """Steady state: every Sentinel answers and names the same primary."""
    views = list(resolve(configuration).sentinel_views().values())
    return all(views) and len(set(views)) == 1


def sentinel_majority_agrees_on_primary(configuration: dict | None = None) -> bool:
    """Steady state with an AZ gone or cut off: a majority of the Sentinels name one primary
    (the lost AZ's Sentinel cannot answer; a cut-off one still names the primary it knew)."""
    views = list(resolve(configuration).sentinel_views().values())
    answering = [v for v in views if v]
    return any(answering.count(v) > len(views) // 2 for v in set(answering))


def kill_primary(configuration: dict | None = None) -> dict[str, Any]:
    target = resolve(configuration)
    primary = current_primary(configuration)
    at = target.kill(primary)
    _killed.append(primary)
    return fault_output(FaultPhase.INJECTED, Fault.REDIS_KILL_PRIMARY, primary, at, target.az_of(primary), "SIGKILL")


def wait_for_new_primary(timeout_s: float = 90, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until a majority of Sentinels name a primary other than the killed one."""
    target = resolve(configuration)
    killed = set(_killed)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        primary = target.redis_primary()
        if primary and primary not in killed:
            return {"primary": primary}
        time.sleep(0.2)
    return {"primary": None, "timed_out_after_s": timeout_s, "killed": sorted(killed)}


def restore_killed(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: bring every Redis node that is down back, as a replica of the current primary."""
    target = resolve(configuration)
    down = [n for n in target.down_components() if n in target.components(Role.REDIS)]
    if not down:
        return {"restored": []}
    for name in down:
        target.restart(name)  # the target brings a Redis node back as a replica of the current primary
    _killed.clear()
    return fault_output(FaultPhase.REVERTED, Fault.REDIS_KILL_PRIMARY, ",".join(down), time.time(), detail="restarted as replicas of the current primary")
