"""gameday's Chaos Toolkit control: load and monitors around the experiment, and every
activity and fault recorded in the same history as the measurements.

Experiments declare it as {"name": "gameday", "provider": {"type": "python", "module": "gameday.drill.control"}}.
"""

from __future__ import annotations

import json
import time
from typing import Any

from gameday.drill import session as sessions
from gameday.faults import fault_events
from gameday.history import ActivityEvent


def _session() -> "sessions.Session | None":
    return sessions.current


def before_experiment_control(context: dict, **kwargs: Any) -> None:
    s = _session()
    if s is not None:
        s.start()


def after_experiment_control(context: dict, state: dict, **kwargs: Any) -> None:
    s = _session()
    if s is not None:
        s.stop()


def before_method_control(context: dict, **kwargs: Any) -> None:
    s = _session()
    if s is not None:
        s.arm_stops()


def after_method_control(context: dict, state: Any = None, **kwargs: Any) -> None:
    s = _session()
    if s is not None:
        s.disarm_stops()


def before_rollback_control(context: Any = None, **kwargs: Any) -> None:
    """Also here: an interrupted method may skip its after-control, and a halt must never
    cut a rollback short."""
    s = _session()
    if s is not None:
        s.disarm_stops()


def before_activity_control(context: dict, **kwargs: Any) -> None:
    s = _session()
    if s is not None:
        s.recorder.add(ActivityEvent(t=time.time(), name=context.get("name", "?"), activity_type=context.get("type", "?"), phase="start"))


def after_activity_control(context: dict, state: dict, **kwargs: Any) -> None:
    s = _session()
    if s is None:
        return
    output = state.get("output") if isinstance(state, dict) else None
    detail = state.get("exception") if isinstance(state, dict) else None
    s.recorder.add(
        ActivityEvent(
            t=time.time(),
            name=context.get("name", "?"),
            activity_type=context.get("type", "?"),
            phase="end",
            status=state.get("status", "") if isinstance(state, dict) else "",
            detail=("".join(detail)[-300:] if isinstance(detail, list) else json.dumps(output, default=str)[:300]) if (detail or output is not None) else "",
        )
    )
    status = state.get("status", "?") if isinstance(state, dict) else "?"
    events = fault_events(output)
    s.say(f"{context.get('type', 'activity')} {context.get('name', '?')}: {status}" + (f" ({json.dumps(output, default=str)[:120]})" if output is not None and not events else ""))
    for event in events:
        s.recorder.add(event)
        s.say(f"fault {event.fault} {event.phase.value} on {event.component}" + (f" ({event.az})" if event.az else "") + (f": {event.detail}" if event.detail else ""))
