"""Measurements the monitors, the load generator and the audit record, by tier."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from gameday.delivery import Delivery
from gameday.history.record import Record

# --- what the drill ran against ------------------------------------------------------------------


@dataclass(frozen=True)
class Inventory(Record):
    """The components of one role the target listed when the drill started (the counts a
    checker expects to have sampled, e.g. every Sentinel)."""

    kind: ClassVar[str] = "topology"
    role: str
    components: tuple[str, ...]


# --- Redis and the search API ---------------------------------------------------------------


@dataclass(frozen=True)
class RedisRoleSample(Record):
    """What one Redis server says it is (ROLE). role "down" = did not answer."""

    kind: ClassVar[str] = "redis.role"
    node: str
    role: str  # master | slave | down
    master: str = ""  # for a replica: the node it replicates from


@dataclass(frozen=True)
class SentinelSample(Record):
    """Which node one Sentinel names as primary ("" = it did not answer)."""

    kind: ClassVar[str] = "sentinel.primary"
    sentinel: str
    primary: str


@dataclass(frozen=True)
class WriteSample(Record):
    """One client write through Sentinel discovery, as an application does it."""

    kind: ClassVar[str] = "redis.write"
    ok: bool
    latency_ms: float
    node: str = ""
    error: str = ""


@dataclass(frozen=True)
class LoadSecond(Record):
    """Search requests completed in the second starting at `t`, by one load worker.

    `hist` is an HdrHistogram of latencies in microseconds, base64-encoded, so
    windows and workers merge exactly instead of averaging percentiles.
    """

    kind: ClassVar[str] = "load.second"
    worker: str
    requests: int  # completed in this second
    failures: int
    hist: str
    offered: int = 0  # arrivals the open-model generator issued in this second
    dropped: int = 0  # arrivals it could not issue (too many requests in flight)
    lag_ms: float = 0.0  # worst lateness of its arrival clock in this second


@dataclass(frozen=True)
class CacheCounters(Record):
    """Cumulative price-lookup counters of one API instance."""

    kind: ClassVar[str] = "api.cache"
    instance: str
    hits: float
    misses: float
    errors: float


@dataclass(frozen=True)
class ServerLatency(Record):
    """Cumulative latency histogram of one API instance, as it times its own handler:
    platform latency without the network, the load balancer or the load generator."""

    kind: ClassVar[str] = "api.latency"
    instance: str
    bounds_s: tuple[float, ...]  # bucket upper bounds (the last one is +inf)
    counts: tuple[float, ...]  # cumulative counts per bucket


@dataclass(frozen=True)
class BalancerSample(Record):
    """One API instance's state in the load balancer: "UP" is in rotation; "DOWN" (or
    "MAINT") out; "UP 1/3" and the like are the balancer's counting of failed checks
    (still in rotation); "" when the balancer did not answer."""

    kind: ClassVar[str] = "lb.server"
    server: str
    status: str

    @property
    def in_rotation(self) -> bool:
        return self.status.startswith("UP")


@dataclass(frozen=True)
class StorePathLatency(Record):
    """Cumulative latency histogram of one API instance's searches that read the store (a
    listing or a price the cache did not have): the plan's cache-miss path."""

    kind: ClassVar[str] = "api.store_latency"
    instance: str
    bounds_s: tuple[float, ...]
    counts: tuple[float, ...]


@dataclass(frozen=True)
class StoreWrite(Record):
    """One write of the drill's store client (a supplier's price update of one flight, a
    value unique in the run) at `consistency`: acknowledged (`ok`) or not, with its latency."""

    kind: ClassVar[str] = "store.write"
    key: str
    value: int
    ok: bool
    latency_ms: float
    consistency: str
    error: str = ""


@dataclass(frozen=True)
class StoreReadBack(Record):
    """The run's acknowledged store writes read back after the restore, through one node as
    the coordinator, at `consistency`: how many were asked, how many did not show the
    acknowledged value at the first read, and the keys that still did not (or whose reads
    failed) when the read-back gave up; `settled_after_s` = seconds until every one showed
    (-1: never). `error` set = the node could not be asked at all (not a measurement).
    `judged`: the read at the strong (critical-path) level the verdict stands on; the others
    are one pass at the search path's level, made first, before the strong reads repair
    what they find stale, to show what a search would have read."""

    kind: ClassVar[str] = "store.read_back"
    node: str
    consistency: str
    checked: int
    missing: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    error: str = ""
    missing_first: int = 0
    settled_after_s: float = 0.0
    judged: bool = True


# --- capacity under AZ loss ---------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityMeasured(Record):
    """One step-up capacity search inside a drill (`gameday capacity`'s, same budget):
    `label` names the platform's state ("all-azs", "one-az-down"); `capacity_rps` is the
    highest held step below the end of the search (gameday.load.capacity.read_steps; -1: the
    first step ended it); `stopped_by` why the step that ended it missed ("" when the steps
    ran out: the capacity is then a lower bound); `generator_limited`: that miss was the load
    generator's, not the platform's; `az_cpu_cores`: each AZ's CPU cap (0: none);
    `transients`: rates of lone misses with a held step above them."""

    kind: ClassVar[str] = "capacity.measured"
    label: str
    capacity_rps: float
    first_rate: float
    step: float
    steps_run: int
    stopped_by: str = ""
    generator_limited: bool = False
    az_cpu_cores: float = 0.0
    azs_up: tuple[str, ...] = ()
    transients: tuple[float, ...] = ()
    # How long the search waited for the AZs' groups to stop being throttled while idle
    # (probes.capacity.wait_for_quiet_azs), and the share of periods throttled in the last
    # window before it started (above 2 %: it started anyway, at the bound).
    quiet_after_s: float = 0.0
    throttled_at_start_pct: float = 0.0


# --- split brain: writes to every side that claims to lead ------------------------------------


@dataclass(frozen=True)
class LeaderWrite(Record):
    """One write sent straight to a component that claimed, at that moment, to be its tier's
    leader (a Redis server answering ROLE with master), as a client that still believes in
    it would. `acked`: the write was acknowledged as the tier's client is told to require
    (for Redis with `replicas` > 0: WAIT saw that many replicas take it). `error`: why not."""

    kind: ClassVar[str] = "split_brain.write"
    tier: str
    node: str
    key: str
    acked: bool
    replicas: int = 0
    error: str = ""


@dataclass(frozen=True)
class LeaderReadBack(Record):
    """The acknowledged `LeaderWrite`s of one tier read back after the heal from the leader
    the majority then named (`node`): how many were asked and the keys that were gone.
    `error` set = nothing could be read (not a measurement)."""

    kind: ClassVar[str] = "split_brain.read_back"
    tier: str
    node: str
    checked: int
    missing: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class LeaderClaim(Record):
    """One member's own view of who leads its tier, asked of it alone: a search node's elected
    cluster manager (`_cat/cluster_manager?local=true`), the active KRaft controller a Kafka
    broker forwards to (DescribeQuorum through it), a ZooKeeper node serving as leader (`srvr`),
    a Flink JobManager's dispatcher holding the
    leadership as its own log tells. `leader` "" = it named none; a member
    that did not answer records nothing. A member naming itself claims the lead."""

    kind: ClassVar[str] = "split_brain.claim"
    tier: str
    node: str
    leader: str


# --- streaming tiers: Kafka, Flink, the data path -----------------------------------------------


@dataclass(frozen=True)
class KafkaPartitionSample(Record):
    """Leader and in-sync replicas of one partition as the cluster's metadata gives them.
    leader -1 = no leader; an empty isr with leader -1 and error set = metadata unavailable."""

    kind: ClassVar[str] = "kafka.partition"
    topic: str
    partition: int
    leader: int
    isr: tuple[int, ...]
    replicas: tuple[int, ...]
    error: str = ""


@dataclass(frozen=True)
class KafkaClusterSample(Record):
    """Brokers the cluster metadata lists (empty with error set = metadata unavailable),
    and the active KRaft controller (-1 = not known: brokers do not report it in metadata)."""

    kind: ClassVar[str] = "kafka.cluster"
    brokers: tuple[int, ...]
    controller: int = -1
    error: str = ""


@dataclass(frozen=True)
class KafkaTopicConfig(Record):
    """A topic's replication settings as the cluster describes them (error set = no answer):
    partitions, the smallest replica count, and the effective topic config."""

    kind: ClassVar[str] = "kafka.topic_config"
    topic: str
    partitions: int = -1
    replication_factor: int = -1
    min_insync_replicas: int = -1
    retention_ms: int = -1
    unclean_leader_election: bool = False
    error: str = ""


@dataclass(frozen=True)
class KafkaOffsetsSample(Record):
    """A consumer group's committed offset and the partition's end (high watermark).
    Lag in messages is end - committed; lag in seconds is how long ago the end first
    passed `committed` (a checker reads it from the run of samples). -1 = unknown."""

    kind: ClassVar[str] = "kafka.offsets"
    group: str
    topic: str
    partition: int
    end: int
    committed: int


@dataclass(frozen=True)
class FlinkFailure(Record):
    """One entry of the job's exception history as the JobManager leader kept it at the end
    of the run (`t` = when the job failed): why a recovery took as long as it did."""

    kind: ClassVar[str] = "flink.failure"
    job: str
    exception: str  # first line of the root cause
    task: str = ""  # the failing task, "" for a global failure


@dataclass(frozen=True)
class SearchHealthSample(Record):
    """The search index's health as one node reports it (`_cluster/health`): status green,
    yellow or red, or "down" when the node did not answer."""

    kind: ClassVar[str] = "search.health"
    node: str
    status: str  # green | yellow | red | down
    nodes: int = 0
    unassigned_shards: int = 0
    cluster_manager: bool = True  # False: the node knows of no elected cluster manager


@dataclass(frozen=True)
class FlinkSample(Record):
    """The Flink JobManager leader ZooKeeper names ("" = none known), and the state of the
    job as that leader reports it ("" = no answer), with its latest completed checkpoint
    (id -1 = none; `checkpoint_at` = when it completed, epoch seconds, 0 = none)."""

    kind: ClassVar[str] = "flink.job"
    leader: str
    job: str = ""
    state: str = ""
    checkpoint_id: int = -1
    checkpoint_at: float = 0.0
    error: str = ""
    tasks_running: bool = False  # every task of the job RUNNING (not just the job's state)
    checkpoint_triggered_at: float = 0.0  # when the latest completed checkpoint started (0 = unknown)
    pending_triggered_at: float = 0.0  # when the newest checkpoint still in progress started (0 = none)


class CanaryPath(enum.Enum):
    """What of a canary update the search answer was watched for."""

    PRICE = "price"  # its price (flights[].price.amount_pence): the store and the hot cache
    INDEX = "index"  # its seats as the search index lists them (flights[].seats)


@dataclass(frozen=True)
class CanarySample(Record):
    """One canary supplier update: produced into supplier.raw at `t`, and the first instant
    the search API showed it (`seen_at`, 0 = not seen before `gave_up_at`): its price, or,
    on a lab with a search index, its seats as the index lists them (`via`)."""

    kind: ClassVar[str] = "canary"
    flight_id: str
    amount_pence: int
    seen_at: float = 0.0
    gave_up_at: float = 0.0  # also the instant the run stopped, for a canary still pending then
    polls: int = 0
    error: str = ""
    pending: bool = False  # not seen yet when the run stopped: unseen for at least gave_up_at - t
    via: CanaryPath = CanaryPath.PRICE  # histories written before the index was watched: price
    seats: int = -1  # the update's seats (-1: not recorded)


@dataclass(frozen=True)
class StreamDelivery(Record):
    """The lab's delivery mode as the run started (profile `stream.delivery`, fixed at lab
    up): which of the plan's two readings the run measured, and how freshness was watched."""

    kind: ClassVar[str] = "stream.delivery"
    mode: Delivery
    sink: str  # the job's sink.delivery-guarantee
    isolation: str  # the applier's isolation.level
    checkpoint_interval_s: float
    index_kept: bool  # the applier keeps the search index current (the lab has one)

    def describe(self) -> str:
        index = "the applier keeps the search index current" if self.index_kept else "no search index: freshness is read from the price"
        return f"Delivery {self.mode.value} (job sink {self.sink}, applier {self.isolation}): {self.mode.visibility(self.checkpoint_interval_s)}; {index}"


@dataclass(frozen=True)
class IngestSecond(Record):
    """The adapters' deliveries in one second (by acknowledgement or failure time):
    acknowledged, failed, and the longest event-creation-to-ack time among the acked."""

    kind: ClassVar[str] = "ingest.second"
    acked: int
    failed: int
    max_ack_latency_s: float
    # A failed delivery never arrived: its lag is at least the producer's delivery timeout
    # (None in histories written before it was recorded).
    failed_lag_floor_s: float | None = None


@dataclass(frozen=True)
class StreamLagSecond(Record):
    """Processing lag of the stream job for events produced in one second: from the
    event's creation to the job processing it (first time seen in its output).
    `processed_until`: when the last of them was processed (None in older histories)."""

    kind: ClassVar[str] = "stream.lag"
    events: int
    p95_s: float
    max_s: float
    processed_until: float | None = None


@dataclass(frozen=True)
class IntegrityAudit(Record):
    """Events the adapters saw acknowledged up to `cutoff`, against supplier.raw, the
    job's committed output and the raw events lake. `error` set = the audit could not
    finish (its counts are then not a measurement)."""

    kind: ClassVar[str] = "integrity.audit"
    cutoff: float
    acknowledged: int
    lost_in_topic: int = -1
    duplicated_in_topic: int = -1
    lost_in_output: int = -1
    duplicated_in_output: int = -1
    lost_in_archive: int = -1
    duplicated_in_archive: int = -1
    waited_s: float = 0.0
    lost_sample: tuple[str, ...] = ()
    duplicated_sample: tuple[str, ...] = ()
    error: str = ""
    # The counts above judge the events acknowledged from `judged_from` to `cutoff` (this
    # run's); the ones acknowledged earlier in the lab's life are only counted here.
    judged_from: float = 0.0
    earlier_acknowledged: int = 0
    earlier_lost: int = 0
