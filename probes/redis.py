"""Chaos Toolkit providers for the Redis hot cache. Targets decide the mechanism."""

from __future__ import annotations

import time
from typing import Any

import redis

from gameday.control import fault_output
from gameday.history import FaultPhase
from gameday.target import resolve

KILL_PRIMARY = "redis.kill_primary"
_TIMEOUT_S = 0.5
# Components this process killed, so the rollback knows what to bring back.
_killed: list[str] = []


def _ask_sentinels(target) -> list[str]:
    """The primary each answering Sentinel names, as component names."""
    views = []
    for host, port in target.sentinels().values():
        client = redis.Redis(host=host, port=port, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S, decode_responses=True)
        try:
            addr = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", target.redis_service())
        except redis.RedisError:
            continue
        if addr:
            views.append(target.node_at(addr[0], int(addr[1])))
    return views


def current_primary(configuration: dict | None = None) -> str:
    """The primary a majority of Sentinels name (found by asking, never assumed)."""
    target = resolve(configuration)
    views = _ask_sentinels(target)
    quorum = len(target.sentinels()) // 2 + 1
    for name in set(views):
        if views.count(name) >= quorum:
            return name
    raise RuntimeError(f"no primary named by a majority of Sentinels (views: {views or 'none answered'})")


def sentinels_agree_on_primary(configuration: dict | None = None) -> bool:
    """Steady state: every Sentinel answers and names the same primary."""
    target = resolve(configuration)
    views = _ask_sentinels(target)
    return len(views) == len(target.sentinels()) and len(set(views)) == 1


def kill_primary(configuration: dict | None = None) -> dict[str, Any]:
    target = resolve(configuration)
    primary = current_primary(configuration)
    at = target.kill(primary)
    _killed.append(primary)
    return fault_output(FaultPhase.INJECTED, KILL_PRIMARY, primary, at, target.az_of(primary), "SIGKILL")


def wait_for_new_primary(timeout_s: float = 90, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until a majority of Sentinels name a primary other than the killed one."""
    target = resolve(configuration)
    killed = set(_killed)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            primary = current_primary(configuration)
        except RuntimeError:
            primary = None
        if primary and primary not in killed:
            return {"primary": primary}
        time.sleep(0.2)
    return {"primary": None, "timed_out_after_s": timeout_s, "killed": sorted(killed)}


def restore_killed(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: bring every node this drill killed back, as a replica of the current primary."""
    target = resolve(configuration)
    down = [n for n in target.down_components() if n.startswith("redis-")]
    if not down:
        return {"restored": []}
    restored = []
    for name in down:
        target.restart(name)  # the target brings a Redis node back as a replica of the current primary
        restored.append(name)
    at = time.time()
    _killed.clear()
    return fault_output(FaultPhase.REVERTED, KILL_PRIMARY, ",".join(restored), at, detail="restarted as replicas of the current primary")
