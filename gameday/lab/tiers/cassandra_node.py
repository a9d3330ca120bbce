"""Run Apache Cassandra 5.0 nodes for the chaos lab from Maven Central jars.

There is no Cassandra tarball here (no network except package registries), so the
jars come from the ``cassandra`` pom via Maven (``gameday.lab.jvm.maven``), and this module reproduces what
``bin/cassandra`` + ``conf/`` would normally provide: a cassandra.yaml, a logback.xml
and the JVM options from ``conf/jvm-server.options``/``conf/jvm17-server.options``.

The harness owns the process: :func:`command` returns a foreground argv that the
harness starts as a subprocess (and signals by PID); nothing here daemonizes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gameday.errors import LabError

MAIN_CLASS = "org.apache.cassandra.service.CassandraDaemon"
# The snitch's datacenter/rack file; its URL goes in a system property of this name.
RACKDC = "cassandra-rackdc.properties"

# From Cassandra 5.0's conf/jvm17-server.options (not shipped in the jar). Without the
# JPMS flags Cassandra dies on Java 17 with InaccessibleObjectException (jamm, Netty,
# Chronicle and its own reflection into java.base need them).
JVM17_OPTS: tuple[str, ...] = (
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports", "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports", "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports", "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports", "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports", "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
    # Netty: allow Unsafe direct buffers and undo the 4.1.75 allocator default changes.
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
)

# Upstream G1 settings minus -XX:G1HeapRegionSize=16m (it would leave a 512 MiB heap
# with only 32 regions) and minus -XX:+AlwaysPreTouch (it would make RSS = heap at
# once, which defeats packing several nodes onto one small machine).
GC_OPTS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:MaxTenuringThreshold=1",
    "-XX:G1RSetUpdatingPauseTimePercent=5",
    "-XX:MaxGCPauseMillis=300",
    "-XX:InitiatingHeapOccupancyPercent=70",
)

# From jvm-server.options, plus lab choices: exit on OOM (the harness sees the death)
# instead of writing heap dumps into the working directory.
GENERAL_OPTS: tuple[str, ...] = (
    "-ea",
    "-da:net.openhft...",  # Chronicle asserts run out of memory by design
    "-Xss256k",
    "-XX:+UseThreadPriorities",
    "-XX:+PerfDisableSharedMem",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.net.preferIPv4Stack=true",
    # bin/cassandra -f sets this; without it CassandraDaemon closes stdout/stderr.
    "-Dcassandra-foreground=yes",
    # A lab node must not sit out the default gossip settle wait (several seconds).
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
)


class CassandraSetupError(LabError):
    """Preparing or starting a node failed (exit 2 at the CLI, like every lab error)."""


def ring_tokens(node_count: int) -> list[str]:
    """Evenly spaced Murmur3 tokens, one per node (use with ``num_tokens=1``).

    Passing ``ring_tokens(n)[i]`` as node i's ``initial_token`` gives each node an
    equal share of the ring, so RF=1 data spreads evenly and start-up is deterministic.
    """
    return [str(-(2**63) + i * (2**64 // node_count)) for i in range(node_count)]


def _seed_list(seeds: Sequence[str], storage_port: int) -> str:
    # Every lab node uses the same storage port on its own address, so a bare address
    # gets that port; "host:port" entries are kept as given.
    return ",".join(s if ":" in s else f"{s}:{storage_port}" for s in seeds)


def node_settings(node_dir: Path, *, cluster_name: str, listen_address: str,
                  seeds: Sequence[str], native_port: int = 9042,
                  storage_port: int = 7000, num_tokens: int = 1,
                  initial_token: str | None = None, auto_bootstrap: bool = False,
                  rack: str | None = None,
                  overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the cassandra.yaml content (as a dict) for one lab node. With `rack` the node
    takes its datacenter and rack from cassandra-rackdc.properties (GossipingPropertyFileSnitch),
    so NetworkTopologyStrategy puts each replica of a row on another rack (AZ)."""
    node_dir = node_dir.resolve()
    settings: dict[str, Any] = {
        "cluster_name": cluster_name,
        # No allocate_tokens_for_local_replication_factor: the allocator first waits
        # a full ring delay (30 s) for schema, even on a lone seed. Balance instead
        # comes from initial_token (see ring_tokens) or random tokens.
        "num_tokens": num_tokens,
        "auto_bootstrap": auto_bootstrap,
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        # Without a rack: one DC "datacenter1", one rack "rack1".
        "endpoint_snitch": "GossipingPropertyFileSnitch" if rack else "SimpleSnitch",
        "seed_provider": [{
            "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
            "parameters": [{"seeds": _seed_list(seeds, storage_port)}],
        }],
        "listen_address": listen_address,
        "rpc_address": listen_address,
        "storage_port": storage_port,
        "native_transport_port": native_port,
        "start_native_transport": True,
        # Everything lives under node_dir, so wiping a node is `rm -rf node_dir/data`.
        "data_file_directories": [str(node_dir / "data" / "data")],
        "commitlog_directory": str(node_dir / "data" / "commitlog"),
        "saved_caches_directory": str(node_dir / "data" / "saved_caches"),
        "hints_directory": str(node_dir / "data" / "hints"),
        "cdc_raw_directory": str(node_dir / "data" / "cdc_raw"),
        "commitlog_sync": "periodic",
        "commitlog_sync_period": "10000ms",
        "commitlog_segment_size": "8MiB",
        "commitlog_total_space": "128MiB",
        # Tiny lab on 2 cores: small memory pools and few stage threads so that three
        # nodes fit on one machine next to the harness.
        "memtable_heap_space": "32MiB",
        "memtable_offheap_space": "32MiB",
        "memtable_allocation_type": "heap_buffers",
        "memtable_flush_writers": 1,
        "concurrent_reads": 16,  # reads are served from memory: threads only queue
        "concurrent_writes": 4,
        "concurrent_counter_writes": 4,
        "concurrent_materialized_view_writes": 2,
        "concurrent_compactors": 1,
        "concurrent_validations": 1,
        "native_transport_max_threads": 32,
        "key_cache_size": "8MiB",
        "counter_cache_size": "1MiB",
        "prepared_statements_cache_size": "8MiB",
        "file_cache_size": "32MiB",
        "networking_cache_size": "16MiB",
        # The seeder loads in unlogged batches of about 50 rows over as many partitions
        # (flightsearch.timetable.seed_store): not worth a warning per batch.
        "unlogged_batch_across_partitions_warn_threshold": 64,
        "batch_size_warn_threshold": "16KiB",
        # Chaos runs drop keyspaces all the time; snapshots would only eat disk and time.
        "auto_snapshot": False,
        "snapshot_before_compaction": False,
    }
    if initial_token is not None:
        settings["initial_token"] = initial_token
    settings.update(overrides or {})
    return settings


def _logback_xml(log_dir: Path) -> str:
    # Full INFO log in a size-capped file; only WARN+ on stdout, so a harness that
    # captures stdout gets the problems without a firehose.
    return f"""<configuration scan="false">
  <appender name="SYSTEMLOG" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>{log_dir}/system.log</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>{log_dir}/system.log.%i</fileNamePattern>
      <minIndex>1</minIndex><maxIndex>3</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>20MB</maxFileSize>
    </triggeringPolicy>
    <encoder><pattern>%-5level [%thread] %date{{ISO8601}} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter"><level>WARN</level></filter>
    <encoder><pattern>%-5level [%thread] %date{{ISO8601}} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="SYSTEMLOG"/>
    <appender-ref ref="STDOUT"/>
  </root>
</configuration>
"""


def write_node_config(node_dir: Path, *, cluster_name: str, listen_address: str,
                      seeds: Sequence[str], native_port: int = 9042,
                      storage_port: int = 7000, num_tokens: int = 1,
                      initial_token: str | None = None, auto_bootstrap: bool = False,
                      datacenter: str = "dc1", rack: str | None = None,
                      overrides: Mapping[str, Any] | None = None) -> Path:
    """Write ``node_dir/conf/{cassandra.yaml,logback.xml}``; return the yaml path.

    Data, commitlog, saved caches, hints and logs all go under ``node_dir``. For a
    multi-node lab give every node the same ports and its own ``listen_address``
    (127.0.0.x, or an address inside a network namespace) and the same ``seeds``.
    ``overrides`` are merged last (any cassandra.yaml key, 5.0 spelling).

    ``auto_bootstrap`` defaults to False because lab clusters are created fresh: there
    is nothing to stream, and bootstrapping nodes would have to join one at a time
    (started together, all but one die with "Other bootstrapping/leaving/moving nodes
    detected") after a ring-delay sleep each. Pass True only for a node added later to
    a cluster that already holds data. Restarts reuse stored tokens and never
    bootstrap. For an evenly split ring also pass ``initial_token=ring_tokens(N)[i]``
    (with the default ``num_tokens=1``). Measured on 2 cores: 3 nodes started ~1 s
    apart are all CQL-ready in ~13 s; started at once, ~15 s.
    """
    settings = node_settings(
        node_dir, cluster_name=cluster_name, listen_address=listen_address,
        seeds=seeds, native_port=native_port, storage_port=storage_port,
        num_tokens=num_tokens, initial_token=initial_token,
        auto_bootstrap=auto_bootstrap, rack=rack, overrides=overrides)
    conf = node_dir / "conf"
    log_dir = (node_dir / "logs").resolve()
    for d in (conf, log_dir, node_dir / "triggers"):
        d.mkdir(parents=True, exist_ok=True)
    yaml_path = conf / "cassandra.yaml"
    yaml_path.write_text(yaml.safe_dump(settings, sort_keys=False))
    (conf / "logback.xml").write_text(_logback_xml(log_dir))
    rackdc = conf / RACKDC
    if rack:
        rackdc.write_text(f"dc={datacenter}\nrack={rack}\n")
    else:
        rackdc.unlink(missing_ok=True)
    return yaml_path


def command(jars_dir: Path, node_dir: Path, *, heap_mb: int = 512,
            ring_delay_ms: int | None = 5000, jmx_port: int | None = None,
            java: str = "java", extra_jvm_opts: Sequence[str] = ()) -> list[str]:
    """Return the foreground ``java`` argv for the node configured in ``node_dir``.

    ``ring_delay_ms`` shortens Cassandra's 30 s RING_DELAY (bootstrap sleeps it once
    "for pending range setup"; None keeps the default). JMX is off unless
    ``jmx_port`` is given; then it listens on 127.0.0.1 only, so nodes sharing one
    machine need distinct ports. ``extra_jvm_opts`` go last before the main class
    (e.g. ``-Dcassandra.consistent.rangemovement=false``).
    """
    jars_dir, node_dir = jars_dir.resolve(), node_dir.resolve()
    conf = node_dir / "conf"
    jamm = sorted(jars_dir.glob("jamm-*.jar"))
    if not jamm:
        raise CassandraSetupError(f"no jamm jar in {jars_dir}: run ensure_jars first")
    # Cassandra mlockall()s at start-up (no switch to turn it off; root always may),
    # which pins everything committed by then. A small -Xms keeps that, and so RSS,
    # near what is really used instead of the whole -Xmx.
    argv = [java, f"-Xms{min(heap_mb, 64)}m", f"-Xmx{heap_mb}m",
            *GC_OPTS, *GENERAL_OPTS, *JVM17_OPTS,
            # Cassandra measures memtable sizes with jamm; bin/cassandra loads it as agent.
            f"-javaagent:{jamm[-1]}",
            f"-Dcassandra.config={(conf / 'cassandra.yaml').as_uri()}",
            f"-Dcassandra.storagedir={node_dir / 'data'}",
            f"-Dcassandra.logdir={node_dir / 'logs'}",
            f"-Dlogback.configurationFile={(conf / 'logback.xml').as_uri()}",
            f"-Dcassandra.triggers_dir={node_dir / 'triggers'}"]
    if (conf / RACKDC).is_file():
        argv.append(f"-D{RACKDC}={(conf / RACKDC).as_uri()}")
    if ring_delay_ms is not None:
        argv.append(f"-Dcassandra.ring_delay_ms={ring_delay_ms}")
    if jmx_port is not None:
        argv += [f"-Dcassandra.jmx.local.port={jmx_port}",
                 "-Dcom.sun.management.jmxremote.authenticate=false"]
    argv += [*extra_jvm_opts, "-cp", f"{jars_dir}/*", MAIN_CLASS]
    return argv


def wait_ready(host: str, port: int, timeout_s: float) -> float:
    """Block until ``host:port`` answers a real CQL query; return the seconds waited.

    Raises TimeoutError (with the last driver error) after ``timeout_s``.
    """
    from gameday.clients.cassandra import ping

    start = time.monotonic()
    last: Exception | None = None
    while (waited := time.monotonic() - start) < timeout_s:
        try:
            ping(host, port, timeout_s=2.0)
            return time.monotonic() - start
        except Exception as e:  # NoHostAvailable, OperationTimedOut, ... keep polling
            last = e
        time.sleep(min(0.5, max(0.0, timeout_s - waited)))
    raise TimeoutError(f"CQL at {host}:{port} not ready after {timeout_s}s: {last!r}")
