"""ZooKeeper quorum for Flink JobManager HA: one node per AZ, from Maven Central jars.

Started as `java -cp <jars>/* org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg`
in the foreground, so the harness owns the PID. A node is healthy when it answers the
`srvr` four-letter word as the quorum's leader or a follower (i.e. it is in a quorum).

The knob that decides how fast a dead JobManager's leadership is given up is the ZooKeeper
*session timeout*, a client setting (Flink's high-availability.zookeeper.client.
session-timeout) that the server clamps to [minSessionTimeout, maxSessionTimeout]
(by default 2x..20x tickTime = 4..40 s). `zookeeper.session_timeout_ms` in the profile
sets the client side, and the server bounds are widened so the value asked for is the
value granted (Flink's own default, 60 s, silently becomes 40 s otherwise).
"""

from __future__ import annotations

import shutil
import socket

from gameday.lab.components import ComponentSpec
from gameday.lab.jvm import maven
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext
from gameday.target import Role

MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


def node_name(az: str) -> str:
    return f"zookeeper-{az[-1]}"


def quorum(ctx: LabContext) -> str:
    """The connect string every client (Flink, monitors) uses."""
    port = ctx.profile.get("zookeeper.client_port")
    return ",".join(f"{ctx.topology.address(az)}:{port}" for az in AZS)


def four_letter(host: str, port: int, word: str, timeout_s: float = 1.0) -> str:
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(word.encode())
        chunks = []
        while True:
            data = sock.recv(4096)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def mode(host: str, port: int, timeout_s: float = 1.0) -> str | None:
    """leader | follower | standalone | None (not serving: no quorum, or down)."""
    try:
        out = four_letter(host, port, "srvr", timeout_s)
    except OSError:
        return None
    for line in out.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def _health(host: str, port: int):
    def check() -> str | None:
        m = mode(host, port)
        if m in ("leader", "follower"):
            return None
        return f"zookeeper {host}:{port} is not serving in a quorum (mode: {m or 'no answer'})"

    return check


def render_config(ctx: LabContext, az: str) -> str:
    p, topo = ctx.profile, ctx.topology
    tick = p.get("zookeeper.tick_ms")
    session = p.get("zookeeper.session_timeout_ms")
    lines = [
        f"tickTime={tick}",
        "initLimit=10",
        "syncLimit=5",
        f"dataDir={ctx.data_dir(node_name(az))}",
        f"clientPortAddress={topo.address(az)}",
        f"clientPort={p.get('zookeeper.client_port')}",
        # Let the session timeout asked for in the profile be the one granted.
        f"minSessionTimeout={min(2 * tick, session)}",
        f"maxSessionTimeout={max(20 * tick, session)}",
        "4lw.commands.whitelist=srvr,stat,mntr,ruok,conf",
        "admin.enableServer=false",
        "autopurge.purgeInterval=0",
        # Leader election must not wait on reverse DNS of lab addresses.
        "quorumListenOnAllIPs=false",
        "standaloneEnabled=false",
    ]
    peer, election = p.get("zookeeper.peer_port"), p.get("zookeeper.election_port")
    for index, other in enumerate(AZS, start=1):
        lines.append(f"server.{index}={topo.address(other)}:{peer}:{election}")
    return "\n".join(lines) + "\n"


def _logback_xml(ctx: LabContext, name: str) -> str:
    path = ctx.conf_dir(name) / "logback.xml"
    path.write_text(
        """<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{ISO8601} %-5level [%thread] %logger{1} - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.zookeeper.server.NIOServerCnxn" level="WARN"/>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
"""
    )
    return str(path)


def specs(ctx: LabContext) -> list[ComponentSpec]:
    p, topo = ctx.profile, ctx.topology
    jars = maven.ensure_jars("zookeeper", "zookeeper-3*.jar")
    port = p.get("zookeeper.client_port")
    heap = p.get("zookeeper.heap_mb")
    out = []
    for index, az in enumerate(AZS, start=1):
        name, addr = node_name(az), topo.address(az)
        (ctx.data_dir(name) / "myid").write_text(f"{index}\n")
        conf = ctx.conf_dir(name) / "zoo.cfg"
        conf.write_text(render_config(ctx, az))
        argv = [
            "java", "-Xms32m", f"-Xmx{heap}m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.net.preferIPv4Stack=true",
            f"-Dlogback.configurationFile={_logback_xml(ctx, name)}",
            "-Dzookeeper.admin.enableServer=false",
            "-cp", f"{jars}/*", MAIN_CLASS, str(conf),
        ]  # fmt: skip
        out.append(ComponentSpec(name, "zookeeper", az, argv, _health(addr, port), addr, port, role=Role.ZOOKEEPER))
    return out


def prepare(ctx: LabContext) -> None:
    """A new lab starts from empty ZooKeeper data (no stale Flink HA state)."""
    for az in AZS:
        shutil.rmtree(ctx.home / "data" / node_name(az), ignore_errors=True)


def fetch() -> None:
    maven.ensure_jars("zookeeper", "zookeeper-3*.jar")
