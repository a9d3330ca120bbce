"""Profile settings a running lab can take without a restart, applied for one run and put back."""

from __future__ import annotations

from typing import Any

import redis

from gameday.errors import InputError, LabError

# profile key -> Sentinel parameter set with SENTINEL SET <service> <param> <value>
SENTINEL_LIVE = {
    "redis.sentinel.down_after_ms": "down-after-milliseconds",
    "redis.sentinel.failover_timeout_ms": "failover-timeout",
    "redis.sentinel.parallel_syncs": "parallel-syncs",
    "redis.sentinel.quorum": "quorum",
}
# Keys that describe the harness, not the running lab.
HARNESS_ONLY = ("lab.start_timeout_s", "lab.stop_grace_s", "load.processes")


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def plan_changes(running: dict[str, Any], wanted: dict[str, Any], source: str) -> dict[str, Any]:
    """The live changes a run needs; InputError for a difference that needs a lab restart."""
    have, want = _flatten(running), _flatten(wanted)
    changes = {}
    for key, value in want.items():
        if have.get(key) == value or key in HARNESS_ONLY:
            continue
        if key not in SENTINEL_LIVE:
            raise InputError(
                f"{source}: '{key}' is {value!r} but the running lab has {have.get(key)!r}, and it cannot change live",
                hint=f"restart the lab with it: gameday lab down && gameday lab up --profile {source}",
            )
        changes[key] = value
    return changes


def apply_sentinel(sentinels: dict[str, tuple[str, int]], service: str, changes: dict[str, Any]) -> None:
    for name, (host, port) in sentinels.items():
        client = redis.Redis(host=host, port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)
        for key, value in changes.items():
            try:
                client.execute_command("SENTINEL", "SET", service, SENTINEL_LIVE[key], str(value))
            except redis.RedisError as exc:
                raise LabError(f"could not set {key}={value} on {name}: {exc}") from None
