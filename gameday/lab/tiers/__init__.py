"""One module per platform tier: each renders its configs and returns component specs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gameday.lab.network import Topology
from gameday.profile import Profile
from gameday.target import TIERS

# The tiers each tier needs running (the others need none); start order is TIERS's.
NEEDS: dict[str, tuple[str, ...]] = {
    "api": ("redis", "cassandra"),
    "flink": ("zookeeper", "kafka"),
    "ingest": ("kafka",),
    "stream": ("flink", "redis", "cassandra"),
    # The DR region mirrors the log and the cache and switches the entry point (HAProxy);
    # its store node is one of the cassandra tier's (a datacenter of the same cluster).
    "dr": ("kafka", "redis", "cassandra", "api"),
}
# Tiers the serving path does not wait on (see Lab.base_nice).
STREAMING_TIERS = ("kafka", "zookeeper", "flink", "ingest", "stream", "dr")
# What `gameday lab up` starts when not told.
DEFAULT_TIERS = ("redis", "cassandra", "api", "metrics")


@dataclass(frozen=True)
class LabContext:
    profile: Profile
    topology: Topology
    home: Path
    tiers: tuple[str, ...] = ()  # the lab's tiers (a tier renders differently beside some)

    def conf_dir(self, name: str) -> Path:
        path = self.home / "conf" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def data_dir(self, name: str) -> Path:
        path = self.home / "data" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def scratch_env(self, name: str) -> dict[str, str]:
        return scratch_env(self.home, name)


def scratch_root(home: Path) -> Path:
    return home / "tmp"


def scratch_env(home: Path, name: str) -> dict[str, str]:
    """Environment that keeps a process's temporary files under the lab's home: left to
    default, Flink, Kafka's clients and Cassandra wrote 6 GB into /tmp over a day of drills
    (TaskManager blob caches, native libraries, JAAS files) that `lab down` never saw.
    A JVM ignores TMPDIR, hence JAVA_TOOL_OPTIONS (an argv -Djava.io.tmpdir still wins)."""
    path = scratch_root(home) / name
    path.mkdir(parents=True, exist_ok=True)
    return {"TMPDIR": str(path), "JAVA_TOOL_OPTIONS": f"-Djava.io.tmpdir={path}"}


def depth(tier: str) -> int:
    """Start wave of a tier: 0 needs nothing, otherwise one more than its deepest need."""
    return 1 + max((depth(d) for d in NEEDS.get(tier, ())), default=-1)


def with_dependencies(tiers: list[str]) -> list[str]:
    wanted: set[str] = set()

    def add(tier: str) -> None:
        wanted.add(tier)
        for dep in NEEDS.get(tier, ()):
            add(dep)

    for tier in tiers:
        add(tier)
    return [t for t in TIERS if t in wanted]
