"""The run history: one timestamped stream of typed records.

Client measurements, monitor samples and fault events share one history (the
Jepsen way), so a checker sees what was injected and what was observed on one
clock. On disk it is JSON Lines, one record a line, tagged with its kind; a
saved history can be re-read and re-checked.
"""

from __future__ import annotations

import enum
import json
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar, Iterable, Iterator, TypeVar


@dataclass(frozen=True)
class Record:
    kind: ClassVar[str] = "record"
    t: float  # seconds since the epoch (time.time()), one clock for every record


class FaultPhase(str, enum.Enum):
    INJECTED = "injected"
    REVERTED = "reverted"


@dataclass(frozen=True)
class FaultEvent(Record):
    """A fault the nemesis injected or reverted. `t` is the instant it took effect."""

    kind: ClassVar[str] = "fault"
    phase: FaultPhase
    fault: str  # semantic name, e.g. "redis.kill_primary"
    component: str  # e.g. "redis-a"
    az: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ActivityEvent(Record):
    """A Chaos Toolkit activity starting or ending (from gameday's control)."""

    kind: ClassVar[str] = "activity"
    name: str
    activity_type: str  # "action" | "probe"
    phase: str  # "start" | "end"
    status: str = ""  # chaostoolkit's status on "end": succeeded | failed
    detail: str = ""


@dataclass(frozen=True)
class Marker(Record):
    """A run milestone (load started, steady state checked, run ended...)."""

    kind: ClassVar[str] = "marker"
    name: str
    detail: str = ""


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


RECORD_TYPES: dict[str, type[Record]] = {
    cls.kind: cls
    for cls in (FaultEvent, ActivityEvent, Marker, RedisRoleSample, SentinelSample, WriteSample, LoadSecond, CacheCounters, ServerLatency)
}

R = TypeVar("R", bound=Record)


def to_json(record: Record) -> str:
    data = asdict(record)
    for key, value in data.items():
        if isinstance(value, enum.Enum):
            data[key] = value.value
    return json.dumps({"kind": record.kind, **data}, separators=(",", ":"))


def from_json(line: str) -> Record:
    data = json.loads(line)
    cls = RECORD_TYPES[data.pop("kind")]
    kwargs = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            if f.type in ("FaultPhase", FaultPhase):
                value = FaultPhase(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
    return cls(**kwargs)


@dataclass(frozen=True)
class History:
    records: tuple[Record, ...]

    @classmethod
    def of_records(cls, records: Iterable[Record]) -> "History":
        return cls(tuple(sorted(records, key=lambda r: r.t)))

    def of(self, cls: type[R]) -> list[R]:
        return [r for r in self.records if isinstance(r, cls)]

    def faults(self) -> list[FaultEvent]:
        return self.of(FaultEvent)

    def fault_window(self) -> tuple[float, float] | None:
        """From the first injected fault to the last revert (or the end of the history)."""
        faults = self.faults()
        injected = [f.t for f in faults if f.phase is FaultPhase.INJECTED]
        if not injected:
            return None
        start = min(injected)
        reverted = [f.t for f in faults if f.phase is FaultPhase.REVERTED and f.t >= start]
        end = max(reverted) if reverted else self.records[-1].t
        return start, end

    def write(self, path: Path) -> None:
        path.write_text("".join(to_json(r) + "\n" for r in self.records))

    @classmethod
    def read(cls, path: Path) -> "History":
        return cls.of_records(from_json(line) for line in _lines(path))


def _lines(path: Path) -> Iterator[str]:
    with path.open() as fh:
        for line in fh:
            if line.strip():
                yield line


class Recorder:
    """Thread-safe append-only sink that monitors, load and faults write into.

    Every record is flushed to disk as it arrives, so a harness killed mid-run
    still leaves the history it had gathered.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._fh = path.open("a")

    def add(self, record: Record) -> None:
        line = to_json(record) + "\n"
        with self._lock:
            self._records.append(record)
            if not self._fh.closed:
                self._fh.write(line)
                self._fh.flush()

    def extend(self, records: Iterable[Record]) -> None:
        for r in records:
            self.add(r)

    def history(self) -> History:
        with self._lock:
            return History.of_records(self._records)

    def close(self) -> None:
        with self._lock:
            self._fh.close()


# --- streaming tier records (Kafka) ------------------------------------------------------


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


RECORD_TYPES.update({cls.kind: cls for cls in (KafkaPartitionSample, KafkaClusterSample, KafkaOffsetsSample)})


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


RECORD_TYPES[FlinkSample.kind] = FlinkSample


# --- streaming data path: freshness, ingest, lag, integrity --------------------------------


@dataclass(frozen=True)
class CanarySample(Record):
    """One canary price update: produced into supplier.raw at `t`, and the first instant
    the search API returned that price (`seen_at`, 0 = not seen before `gave_up_at`)."""

    kind: ClassVar[str] = "canary"
    flight_id: str
    amount_pence: int
    seen_at: float = 0.0
    gave_up_at: float = 0.0
    polls: int = 0
    error: str = ""


@dataclass(frozen=True)
class IngestSecond(Record):
    """The adapters' deliveries in one second (by acknowledgement or failure time):
    acknowledged, failed, and the longest event-creation-to-ack time among the acked."""

    kind: ClassVar[str] = "ingest.second"
    acked: int
    failed: int
    max_ack_latency_s: float


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


RECORD_TYPES.update({cls.kind: cls for cls in (CanarySample, IngestSecond, StreamLagSecond, IntegrityAudit)})
