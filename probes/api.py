"""Chaos Toolkit providers for the search API: through the load balancer, and its instances."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from gameday.faults import Fault, fault_output
from gameday.history import FaultPhase
from gameday.target import Role, resolve
from probes import restart_killed, wait_for_platform_restart

# Instances this process killed, so the rollback knows what to bring back.
_killed: list[tuple[Fault, str]] = []
_killed_at: dict[str, float] = {}


def search_succeeds(origin: str = "", destination: str = "", date: str = "", configuration: dict | None = None) -> bool:
    """Steady state: the load balancer answers a search with 200 and a flight list."""
    target = resolve(configuration)
    if not origin:
        return _health(target.lb_url())
    url = f"{target.lb_url()}/search?origin={origin}&destination={destination}&date={date}"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200 and "flights" in json.loads(resp.read())
    except (OSError, ValueError):
        return False


def all_in_rotation(configuration: dict | None = None) -> bool:
    """Steady state: the load balancer has every API instance in rotation, checks passing."""
    target = resolve(configuration)
    view = target.balancer_view()
    return bool(view) and all(view.get(i) == "UP" for i in target.components(Role.API))


def _health(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def kill_api_instance(instance: str = "", configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL one API instance: `instance` when named, else the first the load balancer has
    in rotation (a dead one out of rotation would test nothing)."""
    target = resolve(configuration)
    instances = target.components(Role.API)
    if instance and instance not in instances:
        raise ValueError(f"no API instance named {instance!r}; instances: {', '.join(instances)}")
    if not instance:
        view = target.balancer_view()
        serving = [i for i in instances if view.get(i, "").startswith("UP")]
        if not serving:
            raise RuntimeError(f"the load balancer has no API instance in rotation ({view or 'no answer'})")
        instance = serving[0]
    at = target.kill(instance)
    _killed.append((Fault.API_KILL_INSTANCE, instance))
    _killed_at[instance] = at
    return fault_output(FaultPhase.INJECTED, Fault.API_KILL_INSTANCE, instance, at, target.az_of(instance), "SIGKILL")


def wait_for_restart(timeout_s: float = 30, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until the platform restarted the instance this drill killed and the load
    balancer has it back in rotation with its checks passing ("UP", not "UP 2/3"); bounded."""
    target = resolve(configuration)
    return wait_for_platform_restart(target, _killed, _killed_at, lambda name: target.balancer_view().get(name) == "UP", timeout_s)


def restore_killed(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: start every instance this drill killed that the platform did not restart."""
    return restart_killed(resolve(configuration), _killed)
