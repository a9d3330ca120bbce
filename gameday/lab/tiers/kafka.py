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
import logging
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from gameday.errors import LabError
from gameday.lab import mavenjars, network
from gameday.lab.components import ComponentSpec
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext

TOPIC = "supplier.raw"
# The stream job's exactly-once output (Kafka transactions), read by the price applier.
OUTPUT_TOPIC = "prices.normalized"
TOPICS = (TOPIC, OUTPUT_TOPIC)
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
RETENTION_MS = 7 * 24 * 3600 * 1000  # the plan: 7-day retention for replayability

# librdkafka logs every refused connection at ERROR; probes of a dead broker are expected.
_QUIET = logging.getLogger("gameday.kafka.client")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


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


def render_properties(ctx: LabContext, az: str, data_dir: Path) -> str:
    p, topo = ctx.profile, ctx.topology
    port, cport = p.get("kafka.port"), p.get("kafka.controller_port")
    addr = topo.address(az)
    voters = ",".join(f"{node_id(other)}@{topo.address(other)}:{cport}" for other in AZS)
    props: dict[str, Any] = {
        "process.roles": "broker,controller",
        "node.id": node_id(az),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{addr}:{port},CONTROLLER://{addr}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{addr}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        # Durability settings the drills turn (see profile-defaults.yaml, kafka:).
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


def cluster_id(ctx: LabContext) -> str:
    """One KRaft cluster id per lab, kept beside the configs (restarts must reuse it)."""
    path = ctx.conf_dir("kafka") / "cluster.id"
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=") + "\n")
    return path.read_text().strip()


def jvm_opts(heap_mb: int) -> list[str]:
    return [
        f"-Xms{min(heap_mb, 128)}m", f"-Xmx{heap_mb}m",
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true",
    ]  # fmt: skip


def _format(jars: Path, props: Path, cid: str, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            ["java", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", f"{jars}/*", STORAGE_TOOL, "format", "-t", cid, "-c", str(props), "--ignore-formatted"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip


def specs(ctx: LabContext) -> list[ComponentSpec]:
    p, topo = ctx.profile, ctx.topology
    jars = mavenjars.ensure_jars("kafka", "kafka_2.13-*.jar")
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
        out.append(ComponentSpec(name, "kafka", az, argv, _health(addr, port, node_id(az)), addr, port))
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


# Every admin client ever made lives as long as the process. Destroying one while
# librdkafka still resolves a request of it (a timed-out list_offsets, say) crashed the
# interpreter with SIGSEGV; a handful of idle clients cost nothing.
_ADMINS: list = []


def admin(bootstrap: str, timeout_ms: int = 1500):
    from confluent_kafka.admin import AdminClient

    client = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": timeout_ms, "logger": _QUIET})
    _ADMINS.append(client)
    return client


def _health(host: str, port: int, nid: int) -> Callable[[], str | None]:
    """Healthy = this broker itself answers a metadata request and lists itself (registered
    and not fenced). A raw request, so the answer surely comes from this broker (a client
    library would route it to whichever broker it likes)."""

    def check() -> str | None:
        try:
            brokers = broker_metadata(host, port, timeout_s=1.0)
        except (OSError, LabError) as exc:
            return f"kafka {host}:{port}: {exc}"
        if nid not in brokers:
            return f"kafka {host}:{port}: broker {nid} is not registered (brokers: {sorted(brokers)})"
        return None

    return check


def describe_topic(bootstrap: str, topic: str = TOPIC, timeout_s: float = 5) -> dict[str, Any]:
    """Partitions with leader, replicas and ISR, plus the topic's effective config."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    client = admin(bootstrap)
    md = client.list_topics(topic=topic, timeout=timeout_s)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        raise LabError(f"topic {topic}: {t.error if t else 'missing'}")
    resource = ConfigResource(ResourceType.TOPIC, topic)
    config = client.describe_configs([resource], request_timeout=timeout_s)[resource].result(timeout=timeout_s)
    return {
        "brokers": sorted(md.brokers),
        "partitions": {pid: {"leader": p.leader, "replicas": list(p.replicas), "isr": list(p.isrs)} for pid, p in sorted(t.partitions.items())},
        "config": {k: v.value for k, v in config.items()},
    }


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
    mavenjars.ensure_jars("kafka", "kafka_2.13-*.jar")


# --- the active KRaft controller ------------------------------------------------------------
# Brokers in KRaft mode report a random live broker as "controller" in metadata, so the
# active controller comes from DescribeQuorum (API key 55, KIP-836), which a broker
# forwards to the controllers. confluent-kafka has no call for it: this is the v0
# request and the start of its response, by hand.

_DESCRIBE_QUORUM = 55


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_uvarint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def describe_quorum_request(correlation_id: int = 1, client_id: str = "gameday") -> bytes:
    topic = b"__cluster_metadata"
    header = _DESCRIBE_QUORUM.to_bytes(2, "big") + (0).to_bytes(2, "big") + correlation_id.to_bytes(4, "big")
    header += len(client_id).to_bytes(2, "big") + client_id.encode() + b"\x00"  # request header v2
    body = _uvarint(2) + _uvarint(len(topic) + 1) + topic  # one topic
    body += _uvarint(2) + (0).to_bytes(4, "big") + b"\x00"  # one partition: index 0, no tags
    body += b"\x00" + b"\x00"  # topic tags, request tags
    msg = header + body
    return len(msg).to_bytes(4, "big") + msg


def parse_quorum_leader(payload: bytes) -> int:
    """LeaderId from a DescribeQuorum v0 response (without its 4-byte size); raises on an error code."""
    i = 4  # correlation id
    _, i = _read_uvarint(payload, i)  # header tagged fields (none)
    error = int.from_bytes(payload[i : i + 2], "big", signed=True)
    i += 2
    if error:
        raise LabError(f"DescribeQuorum failed with error code {error}")
    _, i = _read_uvarint(payload, i)  # topics array length + 1
    name_len, i = _read_uvarint(payload, i)
    i += name_len - 1
    _, i = _read_uvarint(payload, i)  # partitions array length + 1
    i += 4  # partition index
    perror = int.from_bytes(payload[i : i + 2], "big", signed=True)
    i += 2
    if perror:
        raise LabError(f"DescribeQuorum failed for __cluster_metadata with error code {perror}")
    return int.from_bytes(payload[i : i + 4], "big", signed=True)


def _exchange(host: str, port: int, request: bytes, timeout_s: float) -> bytes:
    """Send one framed request; return the response payload (without its size)."""
    import socket

    def read(sock: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise LabError(f"{host}:{port} closed the connection")
            buf += chunk
        return buf

    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.settimeout(timeout_s)
        sock.sendall(request)
        return read(sock, int.from_bytes(read(sock, 4), "big"))


def active_controller(host: str, port: int, timeout_s: float = 2.0) -> int:
    """Node id of the active KRaft controller, asked through the broker at host:port."""
    return parse_quorum_leader(_exchange(host, port, describe_quorum_request(), timeout_s))


def metadata_request(correlation_id: int = 1, client_id: str = "gameday") -> bytes:
    """Metadata v4 (the oldest Kafka 4 serves), asking for no topics: brokers only."""
    msg = (3).to_bytes(2, "big") + (4).to_bytes(2, "big") + correlation_id.to_bytes(4, "big")
    msg += len(client_id).to_bytes(2, "big") + client_id.encode()  # request header v1
    msg += (0).to_bytes(4, "big") + b"\x00"  # topics: empty array; allow_auto_topic_creation false
    return len(msg).to_bytes(4, "big") + msg


def parse_metadata_brokers(payload: bytes) -> list[int]:
    i = 4 + 4  # correlation id, throttle time
    count = int.from_bytes(payload[i : i + 4], "big", signed=True)
    i += 4
    out = []
    for _ in range(max(0, count)):
        out.append(int.from_bytes(payload[i : i + 4], "big", signed=True))
        i += 4
        host_len = int.from_bytes(payload[i : i + 2], "big", signed=True)
        i += 2 + max(0, host_len) + 4  # host, port
        rack_len = int.from_bytes(payload[i : i + 2], "big", signed=True)
        i += 2 + max(0, rack_len)
    return out


def broker_metadata(host: str, port: int, timeout_s: float = 1.0) -> list[int]:
    """Ids of the brokers that the broker at host:port lists in its own metadata."""
    return parse_metadata_brokers(_exchange(host, port, metadata_request(), timeout_s))
