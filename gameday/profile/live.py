"""What a run's profile may change on a running lab, and what needs a new lab.

Every key of defaults.yaml is one of:
- per run: settings of the harness itself (load, host settling, timeouts of the lab's
  supervisor, the lab's home), which simply take effect for the run;
- live: settings the running system takes without a restart (Sentinel's, and Redis's
  min-replicas pair), applied by the
  target for the run and put back after it;
- lab: everything else, fixed when the lab starts; a run asking for another value is
  refused, naming the key and saying it needs `gameday lab up --profile`.
"""

from __future__ import annotations

from typing import Any

from gameday.errors import InputError
from gameday.profile import Profile, flatten

# profile key -> Sentinel parameter set with SENTINEL SET <service> <param> <value>
SENTINEL_LIVE = {
    "redis.sentinel.down_after_ms": "down-after-milliseconds",
    "redis.sentinel.failover_timeout_ms": "failover-timeout",
    "redis.sentinel.parallel_syncs": "parallel-syncs",
    "redis.sentinel.quorum": "quorum",
}
# profile key -> Redis server parameter set with CONFIG SET on every server
REDIS_LIVE = {
    "redis.min_replicas_to_write": "min-replicas-to-write",
    "redis.min_replicas_max_lag_s": "min-replicas-max-lag",
}
LIVE = tuple(SENTINEL_LIVE) + tuple(REDIS_LIVE)
# Keys of the harness, not of the running system: a run's value simply applies.
PER_RUN_SECTIONS = ("load.", "host.")
PER_RUN_KEYS = ("lab.home", "lab.start_timeout_s", "lab.stop_grace_s", "lab.restart_nice", "cassandra.strong_consistency", "redis.client_wait_replicas")


def per_run(key: str) -> bool:
    return key.startswith(PER_RUN_SECTIONS) or key in PER_RUN_KEYS


def plan_changes(lab: dict[str, Any], run: Profile) -> dict[str, Any]:
    """The live changes a run's profile asks of the running lab; InputError naming the
    first key that differs and can only change with a new lab."""
    have = flatten(lab)
    changes = {}
    for key, value in run.overrides.items():
        if per_run(key) or have.get(key) == value:
            continue
        if key not in LIVE:
            raise InputError(
                f"{run.source}: '{key}' is {value!r} but the running lab has {have.get(key)!r}; it needs `gameday lab up --profile`",
                hint=f"restart the lab with it: gameday lab down && gameday lab up --profile {run.source}",
            )
        changes[key] = value
    return changes
