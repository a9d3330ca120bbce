"""Chaos Toolkit providers for the region drill: the whole primary region is lost, and the
pilot-light DR region is promoted by the platform's own promoter (or not: the drill
measures whatever happens). The target decides the mechanism."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from gameday.faults import Fault, fault_output
from gameday.history import FaultPhase, PromotionPhase, plan_lacks
from gameday.target import Role, resolve

_lost_at: list[float] = []


def lose_region(configuration: dict | None = None) -> dict[str, Any]:
    """Every process of every primary AZ dies at once; the DR region and the global entry
    point stay. Nothing is restarted: the promoter decides."""
    target = resolve(configuration)
    at, names = target.lose_region()
    _lost_at.append(at)
    return fault_output(FaultPhase.INJECTED, Fault.REGION_LOSS, "primary", at, "", f"processes={len(names)} azs={','.join(target.azs())} components={','.join(names)} SIGKILL")


def wait_for_promotion(timeout_s: float = 0, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until the DR promotion after the loss finished (every step done, or one
    failed); bounded by `timeout_s` (0: the decision wait plus 10 minutes)."""
    target = resolve(configuration)
    since = _lost_at[-1] if _lost_at else time.time()
    timeout_s = timeout_s or float(target.profile.get("dr.decision_wait_s")) + 600
    deadline, last_say = time.monotonic() + timeout_s, 0.0
    while time.monotonic() < deadline:
        events = [e for e in target.dr_promotion() if e.t >= since]
        end = next((e for e in events if e.phase in (PromotionPhase.PROMOTED, PromotionPhase.FAILED)), None)
        if end is not None:
            return {"phase": end.phase.value, "after_s": round(end.t - since, 1), "step": end.step, "detail": end.detail}
        if time.monotonic() - last_say > 30:
            last_say = time.monotonic()
            seen = events[-1].phase.value if events else "nothing yet"
            print(f"[dr] {time.time() - since:.0f} s after the loss; promotion: {seen}", flush=True)
        time.sleep(1)
    return {"phase": "none", "timed_out_after_s": timeout_s}


def missing_steps(events: list[Any]) -> list[str]:
    """The steps the region's serving path needs that the promotion's plan left out (from
    the decision's record), once the promotion has ended: nothing will serve then."""
    decided = next((e for e in events if e.phase is PromotionPhase.DECIDED), None)
    ended = any(e.phase in (PromotionPhase.PROMOTED, PromotionPhase.FAILED) for e in events)
    if decided is None or not ended:
        return []
    return plan_lacks(decided.plan, [n.strip() for n in decided.needs.split(",") if n.strip()])


def wait_for_region_search(timeout_s: float = 120, configuration: dict | None = None) -> dict[str, Any]:
    """Blocks until the global entry point answers a search with flights from an API
    instance outside the primary region's AZs; bounded. Gives up at once when the promotion
    ended with a plan that leaves out a step the serving path needs (waiting longer would
    only add to the drill's time: dr.rto names the step either way)."""
    target = resolve(configuration)
    outside = lambda name: target.az_of(name) not in target.azs()  # noqa: E731
    since = _lost_at[-1] if _lost_at else time.time()
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        missing = missing_steps([e for e in target.dr_promotion() if e.t >= since])
        if missing:
            return {"served_by": "", "plan_lacks": ", ".join(missing)}
        try:
            with urllib.request.urlopen(f"{target.lb_url()}/health", timeout=2) as resp:
                instance = resp.headers.get("X-Gameday-Instance", "") or json.loads(resp.read() or b"{}").get("instance", "")
            if instance and instance in target.components(Role.API) and outside(instance):
                return {"served_by": instance}
            last = f"served by {instance or '?'}"
        except (OSError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    return {"served_by": "", "timed_out_after_s": timeout_s, "last": last}
