"""Chaos Toolkit providers for the search API: through the load balancer, and its instances."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from gameday.faults import Fault, fault_output
from gameday.history import FaultPhase
from gameday.target import Role, resolve
from probes import restart_killed

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
    """Blocks until the platform itself (the lab's keeper, an orchestrator) restarted every
    instance this drill killed and the balancer has it back in rotation; the restart is the
    fault's revert (`by=platform`), at the instant the platform restarted it. Bounded: on a platform that
    does not restart it, returns {"restarted": [], ...} and the rollback restores it."""
    target = resolve(configuration)
    began = time.time()
    deadline = time.monotonic() + timeout_s
    waiting = [name for _, name in _killed]
    while waiting and time.monotonic() < deadline:
        view = target.balancer_view()
        for name in list(waiting):
            restarts = [t for t in target.restarts_of(name) if t >= _killed_at.get(name, began)]
            if restarts and name not in target.down_components() and view.get(name) == "UP":  # not "UP 2/3": failing checks
                waiting.remove(name)
                _killed[:] = [(f, n) for f, n in _killed if n != name]
                last = restarts[-1]
                if not waiting:
                    return fault_output(FaultPhase.REVERTED, Fault.API_KILL_INSTANCE, name, last, target.az_of(name),
                                        f"by=platform back_in_rotation_after_s={time.time() - last:.1f}")
        time.sleep(0.25)
    return {"restarted": [], "not_restarted": waiting, "timed_out_after_s": timeout_s}


def restore_killed(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: start every instance this drill killed that the platform did not restart."""
    return restart_killed(resolve(configuration), _killed)
