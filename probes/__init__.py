"""Chaos Toolkit providers: each asks the target for its victim and returns the fault as data."""

from __future__ import annotations

import time
from typing import Any, Callable

from gameday.faults import Fault, fault_output
from gameday.history import FaultPhase


def restart_killed(target: Any, killed: list[tuple[Fault, str]]) -> dict[str, Any]:
    """Start every component in `killed` that is still down (same config, same data), empty
    the list, and return the revert as data (the last fault restored names it)."""
    down = set(target.down_components())
    restored: list[str] = []
    fault: Fault | None = None
    for f, name in list(killed):
        if name in down:
            target.restart(name)
            restored.append(name)
            fault = f
    killed.clear()
    if fault is None:
        return {"restored": []}
    return fault_output(FaultPhase.REVERTED, fault, ",".join(restored), time.time(), detail="restarted with the same config and data")



def wait_for_platform_restart(target: Any, killed: list[tuple[Fault, str]], killed_at: dict[str, float], ready: Callable[[str], bool], timeout_s: float) -> dict[str, Any]:
    """Blocks until the platform itself (the lab's keeper, an orchestrator) restarted every
    component in `killed` after its death and `ready(name)` holds; each is then dropped from
    `killed` (the rollback leaves it be). That is the fault's revert (`by=platform`): the fault
    lasts until the platform has the component serving again, and `restarted_after_s` says
    when it restarted it. Bounded: on a platform that does not restart it, returns
    {"not_restarted": [...]} and the rollback restores it."""
    deadline = time.monotonic() + timeout_s
    waiting = {name: fault for fault, name in killed}
    last: tuple[Fault, str, float, float] | None = None  # fault, name, restarted at, ready at
    while waiting and time.monotonic() < deadline:
        for name, fault in list(waiting.items()):
            restarts = [t for t in target.restarts_of(name) if t >= killed_at.get(name, 0.0)]
            if restarts and name not in target.down_components() and ready(name):
                del waiting[name]
                killed[:] = [(f, n) for f, n in killed if n != name]
                last = (fault, name, restarts[-1], time.time())
        time.sleep(0.25)
    if waiting or last is None:
        return {"not_restarted": sorted(waiting), "timed_out_after_s": timeout_s}
    fault, name, restarted, ready = last
    return fault_output(FaultPhase.REVERTED, fault, name, ready, target.az_of(name), f"by=platform restarted_after_s={restarted - killed_at.get(name, restarted):.2f}")
