"""What a lab component is: how to start it and how to tell it is healthy."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gameday.target import Role

HealthCheck = Callable[[], str | None]  # None = healthy, else what is wrong


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    tier: str
    az: str  # "" = the host (shared services: load balancer, metrics)
    argv: list[str]
    health: HealthCheck
    address: str = ""
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    role: Role | None = None  # what it is to the drills (gameday.target.Role)
    # Runs in the host's network namespace on its AZ's loopback address, not inside the AZ.
    host_network: bool = False
    # Not started at `lab up`: the DR region's serving path, started by its promotion.
    standby: bool = False
    # Started again this many times when it exits while starting at `lab up` (a Cassandra
    # node that found its seed not yet up to gossip with).
    start_retries: int = 0


def http_check(url: str, timeout_s: float = 1.0) -> HealthCheck:
    def check() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                return None if resp.status == 200 else f"{url} answered {resp.status}"
        except OSError as exc:
            return f"{url}: {exc}"

    return check


def wait_healthy(spec: ComponentSpec, timeout_s: float, alive: Callable[[], bool]) -> float:
    """Seconds until the component is healthy; raises TimeoutError with the last problem."""
    start = time.monotonic()
    problem = "not checked yet"
    while time.monotonic() - start < timeout_s:
        if not alive():
            raise RuntimeError(f"{spec.name} exited while starting")
        problem = spec.health()
        if problem is None:
            return time.monotonic() - start
        time.sleep(0.25)
    raise TimeoutError(f"{spec.name} not healthy after {timeout_s:.0f} s: {problem}")
