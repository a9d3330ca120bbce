"""Flink: three JobManagers in ZooKeeper HA (one per AZ) and TaskManagers.

Flink comes from the apache-flink PyPI wheel (its apache-flink-libraries dependency
ships flink-dist and the bin/ scripts), installed into a virtualenv of its own under
~/.cache/gameday: apache-flink pins apache-beam, pandas, pyarrow and an older redis
client, which would clash with gameday's own environment. ~850 MB installed.

Each process is started with the wheel's `bin/jobmanager.sh start-foreground` /
`bin/taskmanager.sh start-foreground`, which exec the JVM (the PID the harness records
is the JVM's), with a per-process FLINK_CONF_DIR holding its own config.yaml.

Checkpoints and HA metadata go to local directories standing in for object storage.
A JobManager is healthy when its REST API answers and ZooKeeper names a leader; a
TaskManager when the leader's REST API lists it (by its fixed resource id).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from gameday.clients.flink import rest_get, rest_leader, rest_leader_path
from gameday.errors import LabError
from gameday.lab.components import ComponentSpec
from gameday.lab.jvm import maven
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext
from gameday.lab.tiers.zookeeper import quorum
from gameday.target import Role

FLINK_VERSION = "2.3.0"
HA_ROOT = "/flink"
CLUSTER_ID = "gameday-lab"
REST_LEADER_PATH = rest_leader_path(HA_ROOT, CLUSTER_ID)
_MARKER = ".complete"

# From the distribution's conf/config.yaml (env.java.opts.all), which the lab's own
# config.yaml replaces: without them Java 17 refuses Flink's reflection (e.g. job
# submission fails with InaccessibleObjectException on java.util.Collections$UnmodifiableMap).
JPMS_OPTS: tuple[str, ...] = (
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.text=ALL-UNNAMED",
    "--add-opens=java.base/java.time=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
)
# Lab choices: die on OOM (the harness sees it), C1 only (far less JIT CPU on 2 cores).
LAB_JVM_OPTS: tuple[str, ...] = ("-XX:+ExitOnOutOfMemoryError", "-Djava.net.preferIPv4Stack=true", "-XX:TieredStopAtLevel=1")


def venv_dir(cache: Path | None = None) -> Path:
    return (cache or maven.cache_dir()) / f"flink-venv-{FLINK_VERSION}"


def ensure_flink(cache: Path | None = None, timeout_s: float = 1800) -> Path:
    """The installed `pyflink` directory (bin/, lib/, conf/); installs it on first use."""
    venv = venv_dir(cache)
    marker = venv / _MARKER
    if not marker.is_file():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        base = getattr(sys, "_base_executable", sys.executable)
        steps = [[base, "-m", "venv", str(venv)], [str(venv / "bin" / "pip"), "install", "-q", f"apache-flink=={FLINK_VERSION}"]]
        for cmd in steps:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
            if proc.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                raise LabError(f"installing Flink failed: {' '.join(cmd)}\n{(proc.stdout + proc.stderr)[-2000:]}")
        marker.write_text(FLINK_VERSION + "\n")
    found = sorted(venv.glob("lib/python3*/site-packages/pyflink"))
    if not found or not (found[-1] / "bin" / "jobmanager.sh").exists():
        raise LabError(f"no pyflink/bin/jobmanager.sh under {venv}", hint=f"rm -rf {venv} and try again")
    return found[-1]


# What a JobManager's dispatcher logs when it gains and loses the leadership (Flink 2.x
# DefaultDispatcherRunner), and the first line of a new JobManager process in the same log.
# (A job's JobMaster logs a grant in the same words: only the dispatcher runner's count.)
GRANTED = "DefaultDispatcherRunner was granted leadership with leader id"
REVOKED = "DefaultDispatcherRunner was revoked the leadership with leader id"
STARTING = "Starting StandaloneSessionClusterEntrypoint"


@dataclass
class LeadershipLog:
    """A JobManager's belief that it leads, read from its log as the log grows."""

    path: Path
    offset: int = 0
    leading: bool = False

    def read_on(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1  # a line still being written is read next time
        for line in chunk[:end].decode("utf-8", "replace").splitlines():
            if GRANTED in line:
                self.leading = True
            elif REVOKED in line or STARTING in line:
                self.leading = False
        self.offset += end
        return self.leading


def jobmanager_name(az: str) -> str:
    return f"flink-jm-{az[-1]}"


def taskmanager_names(ctx: LabContext) -> list[tuple[str, str]]:
    n = ctx.profile.get("flink.taskmanagers_per_az")
    return [(f"flink-tm-{az[-1]}{i}" if n > 1 else f"flink-tm-{az[-1]}", az) for az in AZS for i in range(n)]


def storage_dirs(ctx: LabContext) -> dict[str, Path]:
    """Local stand-ins for object storage: HA metadata, checkpoints, savepoints."""
    root = ctx.data_dir("flink-storage")
    return {k: root / k for k in ("ha", "checkpoints", "savepoints")}


def render_config(ctx: LabContext, az: str, role: str, resource_id: str = "") -> dict[str, Any]:
    p, topo = ctx.profile, ctx.topology
    addr = topo.address(az)
    dirs = storage_dirs(ctx)
    conf: dict[str, Any] = {
        "jobmanager.rpc.address": addr,
        "jobmanager.rpc.port": p.get("flink.rpc_port"),
        "jobmanager.bind-host": addr,
        "rest.address": addr,
        "rest.bind-address": addr,
        "rest.port": p.get("flink.rest_port"),
        "blob.server.port": str(p.get("flink.blob_port")),
        "high-availability.type": "zookeeper",
        "high-availability.zookeeper.quorum": quorum(ctx),
        "high-availability.zookeeper.path.root": HA_ROOT,
        "high-availability.cluster-id": CLUSTER_ID,
        "high-availability.storageDir": dirs["ha"].as_uri(),
        "high-availability.zookeeper.client.session-timeout": p.get("zookeeper.session_timeout_ms"),
        "high-availability.zookeeper.client.connection-timeout": min(15000, max(5000, p.get("zookeeper.session_timeout_ms"))),
        # Leadership is lost when the session expires, not on every connection hiccup.
        "high-availability.zookeeper.client.tolerate-suspended-connections": True,
        "execution.checkpointing.interval": f"{p.get('flink.checkpoint_interval_s')}s",
        "execution.checkpointing.dir": dirs["checkpoints"].as_uri(),
        "execution.checkpointing.savepoint-dir": dirs["savepoints"].as_uri(),
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "state.backend.type": p.get("flink.state_backend"),
        "restart-strategy.type": "exponential-delay",
        "jobmanager.memory.heap.size": f"{p.get('flink.jobmanager_heap_mb')}m",
        "jobmanager.memory.off-heap.size": "64m",
        "jobmanager.memory.jvm-metaspace.size": "192m",
        "jobmanager.memory.jvm-overhead.min": "64m",
        "taskmanager.memory.process.size": f"{p.get('flink.taskmanager_process_mb')}m",
        "taskmanager.memory.managed.fraction": 0.2,
        "taskmanager.memory.jvm-metaspace.size": "192m",
        "taskmanager.memory.jvm-overhead.min": "64m",
        "taskmanager.numberOfTaskSlots": p.get("flink.slots_per_taskmanager"),
        # One subtask per TaskManager where the slots allow, as an orchestrator's anti-affinity
        # would: with spare slots the job otherwise fills one TaskManager first, and losing an
        # AZ then lost no task at all, or all of them.
        "taskmanager.load-balance.mode": "SLOTS",
        # A 2-core machine: keep background threads and heartbeats modest.
        "cluster.io-pool.size": 2,
        "heartbeat.interval": 2000,
        "heartbeat.timeout": 10000,
        "env.java.opts.all": " ".join(JPMS_OPTS + LAB_JVM_OPTS),
    }
    if role == "taskmanager":
        conf.update({"taskmanager.host": addr, "taskmanager.bind-host": addr, "taskmanager.resource-id": resource_id})
    return conf


def write_conf_dir(ctx: LabContext, name: str, pyflink: Path, conf: dict[str, Any]) -> Path:
    d = ctx.conf_dir(name)
    for f in ("log4j-console.properties", "log4j.properties", "log4j-cli.properties", "logback-console.xml"):
        src = pyflink / "conf" / f
        if src.exists():
            shutil.copy(src, d / f)
    (d / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))
    return d


def process_env(ctx: LabContext, name: str, conf_dir: Path) -> dict[str, str]:
    run = ctx.data_dir(name)
    return {"FLINK_CONF_DIR": str(conf_dir), "FLINK_LOG_DIR": str(run / "log"), "FLINK_PID_DIR": str(run / "pid"), "FLINK_IDENT_STRING": name}


# --- leader and REST -------------------------------------------------------------------


def _jm_health(ctx: LabContext, addr: str, port: int) -> Callable[[], str | None]:
    zk = quorum(ctx)

    def check() -> str | None:
        try:
            rest_get(f"http://{addr}:{port}/config", 1.0)
        except (OSError, ValueError) as exc:
            return f"JobManager REST {addr}:{port}: {exc}"
        if rest_leader(zk, REST_LEADER_PATH) is None:
            return "no JobManager leader named in ZooKeeper"
        return None

    return check


def _tm_health(ctx: LabContext, resource_id: str) -> Callable[[], str | None]:
    zk = quorum(ctx)

    def check() -> str | None:
        leader = rest_leader(zk, REST_LEADER_PATH)
        if leader is None:
            return "no JobManager leader named in ZooKeeper"
        try:
            tms = rest_get(f"{leader.rstrip('/')}/taskmanagers", 1.0).get("taskmanagers", [])
        except (OSError, ValueError) as exc:
            return f"leader REST {leader}: {exc}"
        if not any(tm.get("id") == resource_id for tm in tms):
            return f"TaskManager {resource_id} is not registered with the leader {leader}"
        return None

    return check


def specs(ctx: LabContext) -> list[ComponentSpec]:
    p, topo = ctx.profile, ctx.topology
    pyflink = ensure_flink()
    for d in storage_dirs(ctx).values():
        d.mkdir(parents=True, exist_ok=True)
    rest = p.get("flink.rest_port")
    out = []
    for az in AZS:
        name, addr = jobmanager_name(az), topo.address(az)
        conf = write_conf_dir(ctx, name, pyflink, render_config(ctx, az, "jobmanager"))
        argv = ["bash", str(pyflink / "bin" / "jobmanager.sh"), "start-foreground"]
        out.append(ComponentSpec(name, "flink", az, argv, _jm_health(ctx, addr, rest), addr, rest, env=process_env(ctx, name, conf), role=Role.JOBMANAGER))
    for name, az in taskmanager_names(ctx):
        conf = write_conf_dir(ctx, name, pyflink, render_config(ctx, az, "taskmanager", resource_id=name))
        argv = ["bash", str(pyflink / "bin" / "taskmanager.sh"), "start-foreground"]
        out.append(ComponentSpec(name, "flink", az, argv, _tm_health(ctx, name), topo.address(az), 0, env=process_env(ctx, name, conf), role=Role.TASKMANAGER))
    return out


def prepare(ctx: LabContext) -> None:
    """A new lab starts with no HA metadata, checkpoints or savepoints of an earlier one."""
    shutil.rmtree(ctx.home / "data" / "flink-storage", ignore_errors=True)


def ready(ctx: LabContext, say: Callable[[str], None], timeout_s: float = 60) -> None:
    began = time.monotonic()
    leader, last = None, ""
    want = len(taskmanager_names(ctx)) * ctx.profile.get("flink.slots_per_taskmanager")
    while time.monotonic() - began < timeout_s:
        leader = rest_leader(quorum(ctx), REST_LEADER_PATH)
        if leader:
            try:
                overview = rest_get(f"{leader.rstrip('/')}/overview")
                if overview.get("slots-total", 0) >= want:
                    say(f"flink: leader {leader}, {overview.get('taskmanagers')} TaskManagers, {overview.get('slots-total')} slots")
                    return
                last = f"{overview.get('slots-total')} of {want} slots registered"
            except (OSError, ValueError) as exc:
                last = str(exc)
        else:
            last = "no leader in ZooKeeper"
        time.sleep(0.5)
    raise LabError(f"flink not ready after {timeout_s:.0f} s: {last}")


def connector_jars() -> list[Path]:
    """Jars a lab job ships with `flink run -j` (the Kafka connector), from lab/flink/pom.xml."""
    jars = maven.ensure_jars("flink", "flink-sql-connector-kafka-*.jar")
    return sorted(jars.glob("*.jar"))


def client_command(ctx: LabContext, job_py: Path, *, detached: bool = True, conf_dir: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """argv and environment that submit a PyFlink job to the HA cluster (the client finds
    the leading JobManager through ZooKeeper, with a JobManager's config), or to the cluster
    whose config is in `conf_dir` (the DR region's)."""
    pyflink = ensure_flink()
    argv = ["bash", str(pyflink / "bin" / "flink"), "run", *(["-d"] if detached else []), "-py", str(job_py)]
    for jar in connector_jars():
        argv += ["-j", str(jar)]
    log_dir = ctx.data_dir("flink-client")
    env = {
        "FLINK_CONF_DIR": str(conf_dir or ctx.conf_dir(jobmanager_name(AZS[0]))),
        "FLINK_LOG_DIR": str(log_dir),
        "PYFLINK_CLIENT_EXECUTABLE": str(venv_dir() / "bin" / "python"),
    }
    return argv, env


def fetch() -> None:
    ensure_flink()
    connector_jars()
