"""Kafka, the distributed log: three brokers in KRaft mode, one per AZ, from Maven Central jars.

Each node is a combined broker + controller (`process.roles=broker,controller`) on the
same ports at its own AZ address, with a static three-voter controller quorum. Storage
is formatted with `kafka.tools.StorageTool format` (what `kafka-storage.sh format` runs)
before the first start, and the broker runs in the foreground as `java ... kafka.Kafka
server.properties`, so the harness owns the PID.

When the brokers are up, `ready()` creates the topic the plan names, `supplier.raw`, with
replication factor 3, `min.insync.replicas` 2 and 7-day retention, and waits until every
partition has a leader and a full ISR.

The Python client is confluent-kafka (librdkafka in a binary wheel): it has a real admin
API (topic configs, ISR, the active controller), an idempotent producer with acks=all, and
it costs far less CPU per message than a pure-Python client, which matters on 2 cores.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from flightsearch import OUTPUT_TOPIC
from flightsearch import RAW_TOPIC as TOPIC
from gameday.clients.kafka import admin, broker_metadata, describe_topic
from gameday.errors import LabError, TargetError
from gameday.lab import network
from gameday.lab.components import ComponentSpec
from gameday.lab.jvm import maven
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext
from gameday.target import Role

TOPICS = (TOPIC, OUTPUT_TOPIC)
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
RETENTION_MS = 7 * 24 * 3600 * 1000  # the plan: 7-day retention for replayability



def node_name(az: str) -> str:
    return f"kafka-{az[-1]}"


def node_id(az: str) -> int:
    return AZS.index(az) + 1


def bootstrap_servers(ctx: LabContext) -> str:
    port = ctx.profile.get("kafka.port")
    return ",".join(f"{ctx.topology.address(az)}:{port}" for az in AZS)


def topic_config(ctx: LabContext) -> dict[str, str]:
    p = ctx.profile
    return {
        "min.insync.replicas": str(p.get("kafka.min_insync_replicas")),
        "retention.ms": str(RETENTION_MS),
        "unclean.leader.election.enable": str(p.get("kafka.unclean_leader_election")).lower(),
    }


def node_properties(nid: int, voters: str, addr: str, port: int, cport: int) -> dict[str, Any]:
    """A combined broker + controller node's identity and listeners, at one address."""
    return {
        "process.roles": "broker,controller",
        "node.id": nid,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{addr}:{port},CONTROLLER://{addr}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{addr}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    }


def render_properties(ctx: LabContext, az: str, data_dir: Path) -> str:
    p, topo = ctx.profile, ctx.topology
    port, cport = p.get("kafka.port"), p.get("kafka.controller_port")
    addr = topo.address(az)
    voters = ",".join(f"{node_id(other)}@{topo.address(other)}:{cport}" for other in AZS)
    props: dict[str, Any] = {
        **node_properties(node_id(az), voters, addr, port, cport),
        "log.dirs": str(data_dir),
        # Durability settings the drills turn (see gameday/profile/defaults.yaml, kafka:).
        "default.replication.factor": p.get("kafka.replication_factor"),
        "min.insync.replicas": p.get("kafka.min_insync_replicas"),
        "unclean.leader.election.enable": str(p.get("kafka.unclean_leader_election")).lower(),
        "offsets.topic.replication.factor": p.get("kafka.replication_factor"),
        "transaction.state.log.replication.factor": p.get("kafka.replication_factor"),
        "transaction.state.log.min.isr": min(2, p.get("kafka.replication_factor")),
        "auto.create.topics.enable": "false",
        "log.retention.ms": RETENTION_MS,
        # How long the active controller waits for a broker's heartbeat before fencing it
        # and moving its partition leaderships (what a broker-loss drill measures).
        "broker.session.timeout.ms": p.get("kafka.broker_session_timeout_ms"),
        "broker.heartbeat.interval.ms": min(2000, p.get("kafka.broker_session_timeout_ms") // 3),
        "replica.lag.time.max.ms": p.get("kafka.replica_lag_time_max_ms"),
        # Leaderships a broker-loss drill moved go back when the next drill starts
        # (Target.settle), not on the brokers' 300 s timer: that timer landed inside a later
        # drill's steady state and stalled the stream job's transactional producer for 5 s.
        "auto.leader.rebalance.enable": "false",
        # A 2-core machine: few threads, few internal partitions, no rebalance delay.
        "num.network.threads": 2,
        "num.io.threads": 2,
        "num.replica.fetchers": 1,
        "background.threads": 2,
        "log.cleaner.threads": 1,
        "num.recovery.threads.per.data.dir": 1,
        "offsets.topic.num.partitions": 6,
        "transaction.state.log.num.partitions": 6,
        "group.initial.rebalance.delay.ms": 0,
        "share.coordinator.state.topic.replication.factor": p.get("kafka.replication_factor"),
        "share.coordinator.state.topic.min.isr": min(2, p.get("kafka.replication_factor")),
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


_LOG4J2 = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
"""


def new_cluster_id() -> str:
    """A KRaft cluster id as `kafka-storage random-uuid` makes one: URL-safe base64 of a
    random UUID that does not start with "-" (the storage tool would read such an id as an
    option: "argument --cluster-id/-t: expected one argument", one lab up in 64)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def cluster_id(ctx: LabContext) -> str:
    """One KRaft cluster id per lab, kept beside the configs (restarts must reuse it). An id
    starting with "-" (written before new_cluster_id) never formatted a broker: replaced."""
    path = ctx.conf_dir("kafka") / "cluster.id"
    if not path.exists() or path.read_text().strip().startswith("-"):
        path.write_text(new_cluster_id() + "\n")
    return path.read_text().strip()


def jvm_opts(heap_mb: int) -> list[str]:
    return [
        f"-Xms{min(heap_mb, 128)}m", f"-Xmx{heap_mb}m",
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true",
        # C1 only, as the other streaming JVMs: in a full lab's first four minutes a broker's C2
        # compiler thread took 16 of its 40 CPU seconds; the lab's feed needs no peak code.
        "-XX:TieredStopAtLevel=1",
    ]  # fmt: skip


def _format(jars: Path, props: Path, cid: str, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            ["java", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", f"{jars}/*", STORAGE_TOOL, "format", "-t", cid, "-c", str(props), "--ignore-formatted"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip


def specs(ctx: LabContext) -> list[ComponentSpec]:
    p, topo = ctx.profile, ctx.topology
    jars = maven.ensure_jars("kafka", "kafka_2.13-*.jar")
    port = p.get("kafka.port")
    cid = cluster_id(ctx)
    out, formats = [], []
    for az in AZS:
        name, addr = node_name(az), topo.address(az)
        conf_dir, data = ctx.conf_dir(name), ctx.data_dir(name) / "log"
        props = conf_dir / "server.properties"
        props.write_text(render_properties(ctx, az, data))
        log4j = conf_dir / "log4j2.properties"
        log4j.write_text(_LOG4J2)
        if not (data / "meta.properties").exists():
            formats.append((name, _format(jars, props, cid, conf_dir / "format.log")))
        argv = ["java", *jvm_opts(p.get("kafka.heap_mb")), f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={ctx.data_dir(name)}", "-cp", f"{jars}/*", MAIN_CLASS, str(props)]
        out.append(ComponentSpec(name, "kafka", az, argv, _health(addr, port, node_id(az)), addr, port, role=Role.KAFKA))
    for name, proc in formats:  # formatted in parallel: ~1.5 s of JVM each
        if proc.wait(timeout=120) != 0:
            raise LabError(f"formatting {name}'s Kafka storage failed", hint=f"see {ctx.conf_dir(name) / 'format.log'}")
    return out


def prepare(ctx: LabContext) -> None:
    """A new lab starts from empty logs and a new cluster id."""
    shutil.rmtree(ctx.home / "conf" / "kafka", ignore_errors=True)
    for az in AZS:
        shutil.rmtree(ctx.home / "data" / node_name(az), ignore_errors=True)


# --- client side -------------------------------------------------------------------------


def _health(host: str, port: int, nid: int) -> Callable[[], str | None]:
    """Healthy = this broker itself answers a metadata request and lists itself (registered
    and not fenced). A raw request, so the answer surely comes from this broker (a client
    library would route it to whichever broker it likes)."""

    def check() -> str | None:
        try:
            brokers = broker_metadata(host, port, timeout_s=1.0)
        except (OSError, TargetError) as exc:
            return f"kafka {host}:{port}: {exc}"
        if nid not in brokers:
            return f"kafka {host}:{port}: broker {nid} is not registered (brokers: {sorted(brokers)})"
        return None

    return check


def create_topic(ctx: LabContext, timeout_s: float = 60, topic: str = TOPIC) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewTopic

    p = ctx.profile
    bootstrap = bootstrap_servers(ctx)
    new = NewTopic(topic, num_partitions=p.get("kafka.partitions"), replication_factor=p.get("kafka.replication_factor"), config=topic_config(ctx))
    deadline = time.monotonic() + timeout_s
    client = admin(bootstrap)  # keep a reference: a collected client cancels its futures
    while True:
        try:
            client.create_topics([new], operation_timeout=10)[topic].result(timeout=15)
            return
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if err is not None and err.name() == "TOPIC_ALREADY_EXISTS":
                return
            if time.monotonic() > deadline:
                raise LabError(f"could not create {topic}: {err.str() if err else exc}") from None
            time.sleep(0.5)


def ready(ctx: LabContext, say: Callable[[str], None], timeout_s: float = 90) -> None:
    """After the brokers are healthy: create supplier.raw and prices.normalized, wait for
    full ISRs everywhere (supplier.raw is described; both are created the same way)."""
    for az in AZS:
        network.assert_routed_locally(ctx.topology, ctx.topology.address(az))
    began = time.monotonic()
    for topic in TOPICS:
        create_topic(ctx, timeout_s, topic)
    want = ctx.profile.get("kafka.replication_factor")
    last = "not described yet"
    while time.monotonic() - began < timeout_s:
        try:
            info = describe_topic(bootstrap_servers(ctx))
            short = [pid for pid, part in info["partitions"].items() if part["leader"] < 0 or len(part["isr"]) < want]
            if not short and len(info["partitions"]) == ctx.profile.get("kafka.partitions"):
                say(f"topic {TOPIC}: {len(info['partitions'])} partitions, RF {want}, min ISR {info['config'].get('min.insync.replicas')}, all in sync after {time.monotonic() - began:.1f} s")
                return
            last = f"partitions without a leader or a full ISR: {short}"
        except Exception as exc:  # the client raises several types while metadata settles
            last = str(exc)
        time.sleep(0.5)
    raise LabError(f"topic {TOPIC} not fully replicated after {timeout_s:.0f} s: {last}")


def fetch() -> None:
    maven.ensure_jars("kafka", "kafka_2.13-*.jar")
