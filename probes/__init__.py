"""Chaos Toolkit providers: each asks the target for its victim and returns the fault as data."""

from __future__ import annotations

import time
from typing import Any

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
