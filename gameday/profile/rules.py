"""What a profile's values may be: a value outside these is refused (exit 2) naming the file
and the key, before anything starts. Types are checked against defaults.yaml; these are the
ranges and forms that types cannot say."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

from gameday.delivery import CHOICES as DELIVERY_CHOICES
from gameday.errors import InputError

# Counts: (lowest, highest). Three AZs bound what the lab can place.
COUNTS: dict[str, tuple[int, int]] = {
    "cassandra.nodes": (1, 3),
    "cassandra.replication_factor": (1, 3),
    "search.nodes": (1, 3),
    "search.shards": (1, 30),
    "search.replicas": (0, 2),
    "kafka.partitions": (1, 1000),
    "kafka.replication_factor": (1, 3),
    "kafka.min_insync_replicas": (1, 3),
    "redis.sentinel.quorum": (1, 3),
    "redis.sentinel.parallel_syncs": (1, 2),
    "redis.min_replicas_to_write": (0, 2),
    "redis.client_wait_replicas": (0, 2),
    "api.instances_per_az": (1, 8),
    "flink.taskmanagers_per_az": (1, 4),
    "flink.slots_per_taskmanager": (1, 16),
    "ingest.suppliers": (1, 100),
    "load.processes": (1, 64),
    "lab.restart_nice": (0, 19),
    "lab.streaming_nice": (0, 19),
    "timetable.airports": (2, 10_000),
    "timetable.flights": (1, 10_000_000),
    "timetable.days": (1, 3650),
}
# Numbers that must be above 0 (every other number may be 0, none negative).
POSITIVE = {
    "lab.start_timeout_s", "redis.maxmemory_mb", "redis.ttl_s", "redis.sentinel.down_after_ms",
    "redis.sentinel.failover_timeout_ms", "redis.min_replicas_max_lag_s", "cassandra.heap_mb", "haproxy.check_interval_ms", "haproxy.check_timeout_ms", "haproxy.check_fall",
    "prometheus.scrape_interval_s", "kafka.heap_mb", "kafka.broker_session_timeout_ms",
    "kafka.replica_lag_time_max_ms", "zookeeper.tick_ms", "zookeeper.heap_mb",
    "zookeeper.session_timeout_ms", "flink.jobmanager_heap_mb", "flink.taskmanager_process_mb",
    "flink.checkpoint_interval_s", "ingest.rate_per_supplier", "ingest.fsync_ms",
    "search.heap_mb", "search.refresh_interval_s", "search.publish_timeout_s", "lab.restart.backoff_s", "lab.restart.max_backoff_s", "load.store_writes_per_s",
    "dr.kafka_heap_mb", "dr.mirror_heap_mb", "dr.cassandra_heap_mb", "dr.decision_wait_s",
    "dr.sync_interval_s", "dr.jobmanager_heap_mb", "dr.taskmanager_process_mb", "dr.lake_wait_s",
}
PERCENT = {"host.settle_pressure_pct"}
# Cassandra's levels for one datacenter (the driver's ConsistencyLevel names).
CONSISTENCY_LEVELS = ("ONE", "TWO", "THREE", "QUORUM", "LOCAL_ONE", "LOCAL_QUORUM", "ALL")
CHOICES: dict[str, tuple[str, ...]] = {
    "lab.isolation": ("auto", "netns", "loopback"),
    "lab.restart.policy": ("always", "never"),
    "kafka.acks": ("all", "1", "0"),
    "cassandra.write_consistency": CONSISTENCY_LEVELS,
    "cassandra.read_consistency": CONSISTENCY_LEVELS,
    "cassandra.strong_consistency": CONSISTENCY_LEVELS,
    "flink.state_backend": ("rocksdb", "hashmap"),
    "stream.delivery": DELIVERY_CHOICES,
    "dr.promoter": ("auto", "manual"),
    "redis.maxmemory_policy": ("allkeys-lfu", "allkeys-lru", "volatile-lfu", "volatile-lru", "allkeys-random", "volatile-random", "volatile-ttl", "noeviction"),
}
# librdkafka's debug contexts (its CONFIGURATION.md, `debug`).
KAFKA_DEBUG = ("generic", "broker", "topic", "metadata", "feature", "queue", "msg", "protocol", "cgrp", "security",
               "fetch", "interceptor", "plugin", "consumer", "admin", "eos", "mock", "assignor", "conf", "telemetry", "all")  # fmt: skip
# Every lab interface name starts with this (`lab down` deletes the bridge by name).
IFACE_PREFIX = "gd-"
_IFACE = re.compile(r"^[a-z0-9-]{1,15}$")


def check(flat: dict[str, Any], source: str) -> None:
    """InputError naming the first key whose value is out of its range or form."""
    for key, value in flat.items():
        problem = _problem(key, value, flat)
        if problem:
            raise InputError(f"{source}: '{key}' {problem}", hint="the documented values are in gameday/profile/defaults.yaml")


def _problem(key: str, value: Any, flat: dict[str, Any]) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _number(key, value, flat)
    if key in CHOICES and value not in CHOICES[key]:
        return f"must be one of {', '.join(CHOICES[key])}, got {value!r}"
    if key == "ingest.kafka_debug":
        unknown = [c for c in str(value).split(",") if c and c not in KAFKA_DEBUG]
        return f"has unknown contexts {', '.join(map(repr, unknown))}; known: {', '.join(KAFKA_DEBUG)}" if unknown else None
    if key == "lab.bridge":
        return _bridge(value)
    if key == "lab.subnet":
        return _subnet(value)
    if key == "lab.dr_subnet":
        problem = _subnet(value)
        if problem is None and "lab.subnet" in flat and not _subnet(flat["lab.subnet"]):
            if ipaddress.IPv4Network(value).overlaps(ipaddress.IPv4Network(flat["lab.subnet"])):
                return f"must not overlap lab.subnet ({flat['lab.subnet']}), got {value}"
        return problem
    if key == "dr.plan" and value and not Path(value).expanduser().is_file():
        return f"must name a promotion plan file (YAML), and {value!r} is not one"
    if key == "lab.home":
        return _home(Path(value).expanduser())
    if key == "timetable.start":
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"must be a date (YYYY-MM-DD), got {value!r}"
    return None


def _number(key: str, value: float, flat: dict[str, Any]) -> str | None:
    if not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if key.endswith("port") and not 1 <= value <= 65535:
        return f"must be a port (1 to 65535), got {value!r}"
    if key == "lab.az_cpu_cores" and value and not 0.05 <= value <= (os.cpu_count() or 1):
        return f"must be 0 (no cap) or 0.05 to this host's {os.cpu_count() or 1} cores, got {value!r}"
    if key in COUNTS:
        low, high = COUNTS[key]
        if key == "kafka.min_insync_replicas":
            high = min(high, flat.get("kafka.replication_factor", high))
        if not low <= value <= high:
            return f"must be {low} to {high}, got {value!r}"
    elif key in PERCENT and not 0 <= value <= 100:
        return f"must be a percentage (0 to 100), got {value!r}"
    elif key in POSITIVE and value <= 0:
        return f"must be above 0, got {value!r}"
    elif value < 0:
        return f"must not be negative, got {value!r}"
    return None


def _bridge(name: str) -> str | None:
    if not name.startswith(IFACE_PREFIX) or not _IFACE.match(name):
        return f"must be an interface name of the lab's own, '{IFACE_PREFIX}' and up to 12 more of a-z, 0-9, '-' (gameday lab down deletes it), got {name!r}"
    return None


def _subnet(text: str) -> str | None:
    try:
        net = ipaddress.IPv4Network(text)
    except ValueError:
        return f"must be an IPv4 network such as 10.213.0.0/24, got {text!r}"
    if not net.is_private or net.is_loopback or net.is_link_local or net.prefixlen > 28:
        return f"must be a private network (RFC 1918) of at least 16 addresses, not {text}"
    return None


def _home(home: Path) -> str | None:
    """A lab home holds state the harness acts on (PIDs it signals): it must be the user's."""
    try:
        st = home.stat()
    except FileNotFoundError:
        return None  # created by the lab, as the user
    except OSError as exc:
        return f"cannot be read ({exc})"
    if st.st_uid != os.geteuid():
        return f"is owned by another user (uid {st.st_uid}): the lab's home must be yours"
    if st.st_mode & 0o002:
        return f"is writable by every user ({home}): choose a folder of your own, e.g. {home}/gameday-lab"
    return None
