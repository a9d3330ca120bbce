"""Targets: the only way from the harness to the system under test.

Experiments name the fault ("kill the Redis primary"), never the mechanism; probes,
monitors and the drill ask a `Target` for components, addresses and the cluster's own
answers (who leads partition 3, which JobManager leads, which node Sentinel promoted),
and inject faults through it. A new target (Kubernetes, AWS) is one module implementing
this protocol; docs/targets.md says what each operation must do. Only `lab`, the local
lab of real processes, exists so far.

Lookups ask the running system, never assume a topology: the lab answers them exactly as
a real deployment would be asked (Sentinel, Kafka's admin API, ZooKeeper, Flink's REST API).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gameday.errors import InputError
from gameday.procs import Tracked
from gameday.profile import Profile, load_profile

Address = tuple[str, int]

# The platform's tiers, as experiments name them; each target maps them to its deployment.
TIERS = ("redis", "cassandra", "search", "api", "metrics", "kafka", "zookeeper", "flink", "ingest", "stream", "dr")
TARGETS = ("lab", "kubernetes", "aws")
# Keys of an experiment's Chaos Toolkit configuration that gameday's runner sets.
TARGET_KEY = "gameday_target"
PROFILE_KEY = "gameday_profile"


class Role(str, enum.Enum):
    """What a component is, whatever the target calls it."""

    REDIS = "redis"
    SENTINEL = "sentinel"
    STORE = "store"
    SEARCH = "search"
    API = "api"
    LOAD_BALANCER = "load-balancer"
    METRICS = "metrics"
    KAFKA = "kafka"
    ZOOKEEPER = "zookeeper"
    JOBMANAGER = "jobmanager"
    TASKMANAGER = "taskmanager"
    INGEST = "ingest"
    APPLIER = "applier"
    # The pilot-light DR region's own (never counted among the primary region's roles).
    DR_KAFKA = "dr-kafka"
    MIRROR = "mirror"
    DR_CACHE = "dr-cache"
    DR_SENTINEL = "dr-sentinel"
    DR_STORE = "dr-store"
    DR_JOBMANAGER = "dr-jobmanager"  # idle until a promotion resumes the stream job there
    DR_TASKMANAGER = "dr-taskmanager"
    DR_APPLIER = "dr-applier"
    # Object storage's cross-region replication (lake, checkpoints): a process of the
    # primary region, which stops with it.
    REGION_SYNC = "region-sync"


@dataclass(frozen=True)
class Partition:
    leader: int  # broker id, -1 = none
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class Topic:
    """A topic as the cluster describes it: partitions and the effective config."""

    name: str
    brokers: tuple[int, ...]
    partitions: dict[int, Partition]
    config: dict[str, str]

    @property
    def min_insync_replicas(self) -> int:
        return int(self.config.get("min.insync.replicas", "1"))

    def leader_counts(self) -> dict[int, int]:
        """Partitions led per broker (partitions without a leader left out)."""
        counts: dict[int, int] = {}
        for p in self.partitions.values():
            if p.leader >= 0:
                counts[p.leader] = counts.get(p.leader, 0) + 1
        return counts


@dataclass(frozen=True)
class StreamJob:
    """The stream job as the leading JobManager reports it."""

    jid: str
    state: str
    tasks_running: bool  # every task RUNNING, not just the job's state


class Target(Protocol):
    name: str
    # The platform runs on this machine: its CPU pressure is the drill's (see drill.hostload).
    runs_locally: bool
    # The run's profile: the target's own settings with the run's keys over them.
    profile: Profile

    def settings(self) -> dict[str, Any]:
        """The profile the target runs with (what a run's profile is compared with)."""

    # --- what runs ------------------------------------------------------------------------
    def tiers(self) -> list[str]: ...
    def azs(self) -> tuple[str, ...]: ...
    def components(self, role: Role | None = None, az: str | None = None) -> list[str]: ...
    def az_of(self, component: str) -> str: ...
    def unhealthy(self, tiers: list[str]) -> list[str]:
        """'name state problem' of every component of these tiers that is not healthy."""
    def down_components(self) -> list[str]: ...
    def restarts_of(self, component: str) -> list[float]:
        """When the platform's own restart policy (an orchestrator; the lab's keeper)
        restarted the component, oldest first; [] for never."""
    def settle(self, tiers: list[str]) -> list[str]:
        """Put back what an earlier drill left moved (Kafka leaderships off their preferred
        replicas), so each drill starts from the platform at rest; one line per thing done."""

    # --- faults: each returns the instant (epoch s) it took effect; restart, seconds to healthy
    def kill(self, component: str) -> float: ...
    def stop(self, component: str) -> float: ...
    def freeze(self, component: str) -> float: ...
    def resume(self, component: str) -> float: ...
    def restart(self, component: str) -> float: ...
    def lose_az(self, az: str) -> tuple[float, list[str]]:
        """The whole AZ fails at once: every process in it, and the platform restarts nothing
        there until it is regained. The instant, and the components lost."""
    def regain_az(self, az: str) -> list[str]:
        """The AZ is back: its components started again, dependencies first, each healthy
        before the next; returns them in that order."""
    def az_cpu_caps(self) -> dict[str, float | None]:
        """Each AZ's CPU cap in cores as the platform enforces it (None: no cap of its own)."""
    def az_cpu_throttling(self) -> dict[str, tuple[int, int] | None]:
        """Per AZ with a cap: (enforcement periods, periods in which it was throttled) so far."""
    def cannot_inject(self) -> dict[str, str]:
        """Faults this target cannot carry out as it runs (by the name an experiment's action
        calls, e.g. `partition_az`), with the reason: a run naming one is refused before
        anything starts."""
    def partition_az(self, az: str, mode: str) -> float:
        """Cut the AZ off the network, its processes running: mode "peers" (from the other
        AZs; clients still reach it) or "all" (from everything). The instant it held."""
    def heal_az(self, az: str) -> float:
        """Remove the AZ's partition (idempotent); the instant."""
    def lose_region(self) -> tuple[float, list[str]]:
        """The whole primary region fails at once (every AZ's processes; the platform restarts
        nothing there). The instant, and the components lost."""

    # --- the pilot-light DR region ---------------------------------------------------------------
    def dr_status(self) -> list[str]:
        """The DR region as it stands: its processes, replication, promotion (lines to print)."""
    def dr_promote(self, say: Any, force: bool = False) -> bool:
        """Run the DR promotion plan now (as an operator would); True when every step was done.
        Refused (TargetError or LabError) while the primary region still serves, unless forced."""
    def dr_promotion(self) -> list[Any]:
        """What the promotions of this deployment recorded (gameday.history.PromotionEvent)."""
    def dr_kafka_bootstrap(self) -> str:
        """The DR region's Kafka (its copy of the log)."""
    def dr_store_node(self) -> dict[str, Address]:
        """The DR region's store node (the global replica's datacenter): name -> (host, port)."""
    def dr_lake_dir(self) -> Path | None:
        """The DR region's copy of the raw events lake (None: no stream job to keep one)."""
    def failed_away_from(self) -> list[str]:
        """Dead components of a region the platform failed over from (DR promoted): a drill
        leaves them down, as restarting them would bring back a second primary."""

    # --- addresses ---------------------------------------------------------------------------
    def lb_url(self) -> str: ...
    def api_instances(self) -> dict[str, str]: ...
    def balancer_view(self) -> dict[str, str]:
        """API instance -> its state in the load balancer: "UP" (in rotation), "DOWN" (out),
        or the balancer's word for a state between; {} when the balancer does not answer."""
    def redis_nodes(self) -> dict[str, Address]: ...
    def sentinels(self) -> dict[str, Address]: ...
    def redis_service(self) -> str: ...
    def node_at(self, address: Address) -> str: ...
    def store_nodes(self) -> dict[str, Address]:
        """Durable-store node component -> its client (CQL) address; any node coordinates
        any request."""
    def search_nodes(self) -> dict[str, str]:
        """Search-index node component -> its HTTP URL (any node answers any search)."""
    def kafka_brokers(self) -> dict[str, Address]:
        """Kafka broker component -> its client address (empty without the kafka tier)."""
    def search_manager_seen_by(self, node: str, timeout_s: float) -> str:
        """The cluster manager the search node itself follows (its local view; "" for none);
        raises when it does not answer."""
    def flink_leadership_seen_by(self, jobmanager: str, timeout_s: float) -> str:
        """The JobManager itself if its dispatcher holds the leadership as far as it knows
        (granted and not since revoked), else ""; raises when it is not running."""
    def zookeeper_leader_seen_by(self, node: str, timeout_s: float) -> str:
        """The ZooKeeper node itself if it serves as the quorum's leader, "" as a follower;
        raises when it does not serve (down, or no quorum)."""
    def kafka_controller_seen_by(self, broker: str, timeout_s: float) -> str:
        """The broker component the Kafka broker forwards controller requests to (its own
        view of the active controller; "" for none); raises when it does not answer."""
    def search_copies(self) -> dict[str, int]:
        """Search-index node -> shard copies of the flights index it holds (0 for none)."""
    def search_cluster_manager(self) -> str | None:
        """The search-index node the cluster elected to manage it, as the nodes report it."""
    def kafka_bootstrap(self) -> str: ...
    def zk_quorum(self) -> str: ...
    def flink_leader_path(self) -> str: ...
    def prometheus_url(self) -> str | None: ...

    # --- the system's own answers ------------------------------------------------------------
    def sentinel_views(self) -> dict[str, str]:
        """Sentinel -> the component it names primary ("" = no answer or none named)."""
    def redis_primary(self) -> str | None:
        """The primary a majority of Sentinels name, or None."""
    def kafka_topic(self, topic: str) -> Topic: ...
    def kafka_broker(self, broker_id: int) -> str: ...
    def kafka_broker_id(self, component: str) -> int: ...
    def kafka_controller(self) -> int: ...
    def flink_leader(self) -> str | None:
        """The leading JobManager's REST URL, as Flink's HA records it."""
    def flink_component(self, rest_url: str) -> str: ...
    def stream_job(self) -> StreamJob | None: ...
    def stream_job_tasks(self) -> dict[str, int]:
        """TaskManager component -> tasks of the stream job it runs."""
    def stream_job_name(self) -> str: ...

    # --- what a drill reads and leaves ---------------------------------------------------------
    def ingest_ack_dir(self) -> Path: ...
    def lake_dir(self) -> Path: ...
    def component_logs(self) -> list[Path]: ...
    def apply_live(self, settings: dict[str, Any]) -> None:
        """Apply settings (profile keys) the running system takes without a restart (the
        runner puts them back with the values of `settings()`)."""
    def track_helper(self, tracked: Tracked) -> None:
        """A process the harness started for this target (load, monitors), ended with it."""
    def forget_helper(self, name: str) -> None: ...


def target_name(configuration: dict[str, Any] | None) -> str:
    name = (configuration or {}).get(TARGET_KEY, "lab")
    if name not in TARGETS:
        raise InputError(f"unknown target {name!r}", hint=f"targets: {', '.join(TARGETS)}")
    return name


def resolve(configuration: dict[str, Any] | None = None, profile: Profile | None = None) -> Target:
    """The target an experiment's configuration names (default `lab`), with the run's
    profile: the one given, else the file the runner wrote into the configuration."""
    name = target_name(configuration)
    if name != "lab":
        raise InputError(f"target {name!r} is not implemented yet", hint="only the local lab target exists; run with GAMEDAY_TARGET=lab (the default)")
    from gameday.target.lab import LabTarget

    if profile is None:
        path = (configuration or {}).get(PROFILE_KEY)
        profile = load_profile(Path(path) if path else None)
    return LabTarget.open(profile)
