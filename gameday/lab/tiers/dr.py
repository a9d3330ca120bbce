"""The pilot-light DR region: what runs there before any disaster, and the standby serving
path a promotion starts (gameday.lab.dr.promote).

Always running, in the region's namespace (network.DR_AZ):
- `dr-kafka`: a one-node Kafka (KRaft, broker and controller) that holds the mirror of
  supplier.raw: the plan's "asynchronous log replication";
- `dr-mirror`: MirrorMaker 2 in dedicated mode (org.apache.kafka.connect.mirror.MirrorMaker,
  from Maven Central's connect-mirror), primary -> dr for supplier.raw, keeping the topic's
  name (IdentityReplicationPolicy); its Connect state lives in the DR cluster;
- `dr-redis`: a replica of the primary's Redis, `replica-priority 0` so the primary's
  Sentinels never elect it (they do repoint it at each new primary): the read-only shard;
- the store node `cassandra-dr` (see tiers/cassandra.py), a datacenter of its own.

Standby (ComponentSpec.standby): `dr-sentinel` and `api-dr`, started by the promotion, and
in a lab with the search tier `search-dr`, into which the promotion restores the index's
newest snapshot (gameday.lab.dr.index).

In a lab with the stream tier (gameday.lab.dr.stream): `region-sync` (the lake's and the
job's checkpoints' cross-region replication, a process of the primary region), the idle
`dr-flink-jm`, and the standby `dr-flink-tm` on which the promotion resumes the job.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Callable

import redis

from gameday.clients import redis as redis_client
from gameday.clients.kafka import broker_metadata
from gameday.errors import LabError, TargetError
from gameday.lab import network
from gameday.lab.components import ComponentSpec, http_check
from gameday.lab.jvm import maven
from gameday.lab.network import DR_AZ
from gameday.lab.tiers import LabContext, kafka
from gameday.lab.tiers.redis import PRIMARY_AZ, announce, redis_health
from gameday.target import Role

KAFKA = "dr-kafka"
MIRROR = "dr-mirror"
CACHE = "dr-redis"
SENTINEL = "dr-sentinel"
API = "api-dr"
MIRROR_MAIN = "org.apache.kafka.connect.mirror.MirrorMaker"
DR_NODE_ID = 1
# The topics the region mirrors: the raw supplier feed, the platform's log of record.
MIRRORED = (kafka.TOPIC,)


def address(ctx: LabContext) -> str:
    return ctx.topology.address(DR_AZ)


def bootstrap(ctx: LabContext) -> str:
    return f"{address(ctx)}:{ctx.profile.get('kafka.port')}"


def _kafka_properties(ctx: LabContext, data_dir) -> str:
    p, addr = ctx.profile, address(ctx)
    port, cport = p.get("kafka.port"), p.get("kafka.controller_port")
    props = {
        **kafka.node_properties(DR_NODE_ID, f"{DR_NODE_ID}@{addr}:{cport}", addr, port, cport),
        "log.dirs": str(data_dir),
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "log.retention.ms": kafka.RETENTION_MS,
        "num.network.threads": 2,
        "num.io.threads": 2,
        "background.threads": 2,
        "log.cleaner.threads": 1,
        "num.recovery.threads.per.data.dir": 1,
        "offsets.topic.num.partitions": 3,
        "transaction.state.log.num.partitions": 3,
        "group.initial.rebalance.delay.ms": 0,
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def stream_group() -> str:
    from gameday.lab.tiers.stream import JOB_GROUP

    return JOB_GROUP.replace(".", "\\\\.")


def mirror_properties(ctx: LabContext) -> str:
    """MirrorMaker 2's configuration: one flow, primary -> dr."""
    p = ctx.profile
    throttle_kb = p.get("dr.mirror_fetch_kb")
    props = {
        "clusters": "primary, dr",
        "primary.bootstrap.servers": kafka.bootstrap_servers(ctx),
        "dr.bootstrap.servers": bootstrap(ctx),
        "primary->dr.enabled": "true",
        "dr->primary.enabled": "false",
        "primary->dr.topics": "|".join(t.replace(".", "\\\\.") for t in MIRRORED),
        # The same topic name in the region (the default policy would name it primary.supplier.raw).
        "replication.policy.class": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        "tasks.max": 1,
        "replication.factor": 1,
        "offset-syncs.topic.location": "target",
        "offset-syncs.topic.replication.factor": 1,
        "checkpoints.topic.replication.factor": 1,
        "heartbeats.topic.replication.factor": 1,
        "config.storage.replication.factor": 1,
        "offset.storage.replication.factor": 1,
        "status.storage.replication.factor": 1,
        # The stream job's consumer group (the offsets it commits at each checkpoint),
        # translated into the region's own offsets: the mirror's offsets differ from the
        # primary's, and a job resumed there starts from these (gameday.lab.dr.stream). An
        # offset sync at least every 10 records per partition bounds what it replays.
        "groups": stream_group(),
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": 5,
        "emit.checkpoints.interval.seconds": 5,
        "refresh.groups.interval.seconds": 10,
        "offset.lag.max": 10,
        "emit.heartbeats.enabled": "false",
        "sync.topic.acls.enabled": "false",
        "refresh.topics.interval.seconds": 10,
        "offset.flush.interval.ms": 5000,
        # Every record the region holds is acknowledged by it (one node: acks=all is acks=1).
        "dr.producer.acks": "all",
        "dr.producer.linger.ms": 0,
        # Once the primary region is lost, Kafka 4's default (rebootstrap) had the source
        # connector's admin client rebootstrap in a tight loop: 76,000 log lines and a busy
        # core in the 40 s after a loss, on the region that is being promoted. "none" has the
        # primary's clients retry their brokers at the reconnect backoff instead.
        "primary.metadata.recovery.strategy": "none",
        "primary.admin.metadata.recovery.strategy": "none",
        "primary.consumer.metadata.recovery.strategy": "none",
    }
    if throttle_kb > 0:  # throttled: a few KB per partition, one fetch a second per broker
        props["primary.consumer.max.partition.fetch.bytes"] = int(throttle_kb * 1024)
        props["primary.consumer.fetch.min.bytes"] = 1024 * 1024
        props["primary.consumer.fetch.max.wait.ms"] = 1000
    return "".join(f"{k} = {v}\n" for k, v in props.items())


def specs(ctx: LabContext) -> list[ComponentSpec]:
    p, addr = ctx.profile, address(ctx)
    port = p.get("kafka.port")
    jars = maven.ensure_jars("kafka", "kafka_2.13-*.jar")
    conf = ctx.conf_dir(KAFKA)
    data = ctx.data_dir(KAFKA) / "log"
    props = conf / "server.properties"
    props.write_text(_kafka_properties(ctx, data))
    log4j = conf / "log4j2.properties"
    log4j.write_text(kafka._LOG4J2)
    if not (data / "meta.properties").exists():
        proc = kafka._format(jars, props, kafka.new_cluster_id(), conf / "format.log")
        if proc.wait(timeout=120) != 0:
            raise LabError("formatting the DR region's Kafka storage failed", hint=f"see {conf / 'format.log'}")
    out = [ComponentSpec(KAFKA, "dr", DR_AZ, ["java", *kafka.jvm_opts(p.get("dr.kafka_heap_mb")), f"-Dlog4j2.configurationFile={log4j}",
                                              f"-Dkafka.logs.dir={ctx.data_dir(KAFKA)}", "-cp", f"{jars}/*", kafka.MAIN_CLASS, str(props)],
                         kafka._health(addr, port, DR_NODE_ID), addr, port, role=Role.DR_KAFKA)]  # fmt: skip
    mirror_jars = maven.ensure_jars("mirror", "connect-mirror-*.jar")
    mconf = ctx.conf_dir(MIRROR)
    (mconf / "mm2.properties").write_text(mirror_properties(ctx))
    (mconf / "log4j2.properties").write_text(kafka._LOG4J2 + "logger.connect.name = org.apache.kafka.connect\nlogger.connect.level = WARN\n"
                                             "logger.mirror.name = org.apache.kafka.connect.mirror\nlogger.mirror.level = WARN\n"
                                             "logger.clients.name = org.apache.kafka.clients\nlogger.clients.level = WARN\n")
    argv = ["java", *kafka.jvm_opts(p.get("dr.mirror_heap_mb")), f"-Dlog4j2.configurationFile={mconf / 'log4j2.properties'}",
            "-cp", f"{mirror_jars}/*", MIRROR_MAIN, str(mconf / "mm2.properties"), "--clusters", "dr"]  # fmt: skip
    out.append(ComponentSpec(MIRROR, "dr", DR_AZ, argv, _mirror_health(ctx), addr, 0, role=Role.MIRROR))
    out.append(_cache_spec(ctx))
    out += standby_specs(ctx)
    if "stream" in ctx.tiers:  # the lake's and the job's replicated copies, an idle JobManager
        from gameday.lab.dr import stream

        out += stream.specs(ctx)
    if "search" in ctx.tiers:
        from gameday.lab.dr import index

        out.append(index.node_spec(ctx))
    return out


def _cache_spec(ctx: LabContext) -> ComponentSpec:
    p, addr = ctx.profile, address(ctx)
    port = p.get("redis.port")
    lines = [
        f"bind {addr}", f"port {port}", "protected-mode no", 'save ""', "appendonly no",
        f"maxmemory {p.get('redis.maxmemory_mb')}mb", f"maxmemory-policy {p.get('redis.maxmemory_policy')}",
        f"dir {ctx.data_dir(CACHE)}", "replica-serve-stale-data yes", "replica-read-only yes",
        # Never elected by the primary region's Sentinels; repointed by them at each new primary.
        "replica-priority 0",
        f"replicaof {ctx.topology.address(PRIMARY_AZ)} {port}",
        *announce(addr),
    ]  # fmt: skip
    conf = ctx.conf_dir(CACHE) / "redis.conf"
    conf.write_text("\n".join(lines) + "\n")
    return ComponentSpec(CACHE, "dr", DR_AZ, ["redis-server", str(conf)], redis_health(addr, port), addr, port, role=Role.DR_CACHE)


def standby_specs(ctx: LabContext) -> list[ComponentSpec]:
    """What the promotion starts: a Sentinel of the region's own for its (promoted) cache,
    and the region's API instance, on the region's cache and store node."""
    from gameday.lab.tiers.cassandra import DR_NODE  # noqa: F401  (the store node the API reads)

    p, addr = ctx.profile, address(ctx)
    sport, service = p.get("redis.sentinel.port"), p.get("redis.sentinel.service")
    conf = ctx.conf_dir(SENTINEL) / "sentinel.conf"
    conf.write_text("\n".join([
        f"bind {addr}", f"port {sport}", "protected-mode no", f"dir {ctx.data_dir(SENTINEL)}", *announce(addr, sentinel=True),
        f"sentinel monitor {service} {addr} {p.get('redis.port')} 1",
        f"sentinel down-after-milliseconds {service} {p.get('redis.sentinel.down_after_ms')}",
    ]) + "\n")  # fmt: skip
    sentinel = ComponentSpec(SENTINEL, "dr", DR_AZ, ["redis-server", str(conf), "--sentinel"], _sentinel_health(addr, sport, service), addr, sport,
                             role=Role.DR_SENTINEL, standby=True)  # fmt: skip
    port = p.get("api.port")
    argv = [
        sys.executable, "-m", "flightsearch.api", "--listen", f"{addr}:{port}", "--instance", API,
        "--sentinels", f"{addr}:{sport}", "--service", service,
        "--cassandra", addr, "--cassandra-port", str(p.get("cassandra.native_port")), "--keyspace", p.get("cassandra.keyspace"),
        "--consistency", p.get("cassandra.read_consistency"), "--ttl", str(p.get("redis.ttl_s")),
    ]  # fmt: skip
    if "search" in ctx.tiers:  # the region's own index, restored by the promotion
        from gameday.lab.dr import index

        argv += ["--search", index.url(ctx), "--search-index", p.get("search.index")]
    api = ComponentSpec(API, "dr", DR_AZ, argv, http_check(f"http://{addr}:{port}/health"), addr, port, role=Role.API, standby=True)
    return [sentinel, api]


def _sentinel_health(host: str, port: int, service: str) -> Callable[[], str | None]:
    def check() -> str | None:
        try:
            named = redis_client.primary_named_by(redis_client.client(host, port, 0.5), service)
        except redis.RedisError as exc:
            return f"sentinel {host}:{port}: {exc}"
        return None if named else f"sentinel {host}:{port} names no primary for {service}"

    return check


def _mirror_health(ctx: LabContext) -> Callable[[], str | None]:
    """Healthy = the region's Kafka holds every mirrored topic with all its partitions (MirrorMaker
    creates them when its source task starts)."""
    host, port = address(ctx), ctx.profile.get("kafka.port")
    want = ctx.profile.get("kafka.partitions")

    def check() -> str | None:
        from gameday.clients.kafka import describe_topic

        try:
            broker_metadata(host, port, timeout_s=1.0)
            for topic in MIRRORED:
                parts = describe_topic(f"{host}:{port}", topic)["partitions"]
                if len(parts) != want:
                    return f"{topic} has {len(parts)} of {want} partitions in the DR region"
        except (OSError, TargetError) as exc:
            return f"DR kafka {host}:{port}: {exc}"
        except Exception as exc:  # the client raises several types while a topic is created
            return f"{MIRROR}: {type(exc).__name__}: {exc}"
        return None

    return check


def ready(ctx: LabContext, say: Callable[[str], None], timeout_s: float = 120) -> None:
    """After the region's processes are healthy: every record already in the primary's
    supplier.raw is in the region's copy (the mirror caught up once), so a drill starts
    from a pilot light that works. A throttled mirror (dr.mirror_fetch_kb) never catches
    up: then only its first records are waited for."""
    from gameday.lab.dr.status import log_lag

    network.assert_routed_locally(ctx.topology, address(ctx))
    throttled = ctx.profile.get("dr.mirror_fetch_kb") > 0
    began, last = time.monotonic(), "not measured"
    while time.monotonic() - began < timeout_s:
        try:
            lag = log_lag(kafka.bootstrap_servers(ctx), bootstrap(ctx), kafka.TOPIC)
            if lag.behind == 0 or (throttled and lag.dr_end > 0):
                say(f"DR region: {kafka.TOPIC} mirrored, {lag.describe()}{' (throttled: dr.mirror_fetch_kb)' if throttled else ''}; cache replica and store node up")
                if "search" in ctx.tiers:
                    _first_snapshot(ctx, say)
                return
            last = f"{lag.behind} records behind"
        except Exception as exc:  # metadata settling on either side
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    raise LabError(f"the DR region's mirror of {kafka.TOPIC} did not catch up in {timeout_s:.0f} s: {last}", hint=f"see the {MIRROR} log")


def _first_snapshot(ctx: LabContext, say: Callable[[str], None]) -> None:
    """The index's first snapshot, so a promotion always has one to restore (the helper
    dr-snapshots takes the next ones)."""
    from gameday.lab.dr import index
    from gameday.lab.tiers import search

    node = search.urls(ctx)[0]
    index.register(node, ctx, readonly=False)
    snap, took = index.take(node, ctx.profile.get("search.index"), ctx.profile.get("dr.snapshots_kept"))
    say(f"DR region: index snapshot {snap.name} in {took:.1f} s ({index.repo_dir(ctx)}); the next every {ctx.profile.get('dr.snapshot_interval_s'):g} s")


def prepare(ctx: LabContext) -> None:
    """A new lab's region starts empty, with no promotion recorded."""
    for name in (KAFKA, MIRROR, CACHE, SENTINEL, "dr-storage", "dr-flink-jm", "dr-flink-tm", "stream-apply-dr"):
        shutil.rmtree(ctx.home / "data" / name, ignore_errors=True)
    shutil.rmtree(ctx.home / "conf" / KAFKA, ignore_errors=True)
    shutil.rmtree(ctx.home / "dr", ignore_errors=True)


def fetch() -> None:
    maven.ensure_jars("mirror", "connect-mirror-*.jar")
