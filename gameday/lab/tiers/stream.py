"""The stream job and its applier: what turns supplier.raw into prices the API serves.

- The Flink job (flightsearch/jobs/price_stream.py) is submitted to the HA cluster when the
  tier comes up, and stopped with a savepoint at `lab down` (the plan: savepoints before
  any planned stop), into the savepoint directory.
- The price applier (flightsearch.stream_apply) is one process in az-b; it reads the job's
  output and writes the store, the search index (when the lab has one) and the hot cache
  idempotently.
- The delivery mode (`stream.delivery`, gameday.delivery) sets the job's sink guarantee and
  the applier's isolation level together: exactly-once with read_committed, or
  at-least-once with read_uncommitted.
- The raw events lake is a directory of JSON files the job commits at each checkpoint.

`stream_job()` finds the job by name on the current leader: faults and monitors ask the
cluster, they never assume.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import flightsearch.jobs
from flightsearch import OUTPUT_TOPIC, RAW_TOPIC
from gameday.delivery import Delivery
from gameday.errors import LabError
from gameday.lab.components import ComponentSpec
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext, flink
from gameday.lab.tiers.cassandra import store_addresses
from gameday.lab.tiers.kafka import bootstrap_servers
from gameday.lab.tiers.zookeeper import quorum
from gameday.target import Role

JOB_NAME = "gameday-price-stream"
# The consumer group the job commits its offsets to at each checkpoint: MirrorMaker 2
# translates them for the DR region (tiers/dr.py), where a resumed job starts from them.
JOB_GROUP = "gameday-stream"
JOB_PY = Path(flightsearch.jobs.__file__).with_name("price_stream.py")
APPLIER = "stream-apply"
APPLIER_AZ = AZS[1]
STALE_S = 5.0


def archive_dir(ctx: LabContext) -> Path:
    return ctx.home / "data" / "lake" / RAW_TOPIC


def status_dir(ctx: LabContext) -> Path:
    return ctx.home / "data" / "stream"


def applier_health(out: Path, name: str = APPLIER) -> Callable[[], str | None]:
    from flightsearch.statusfile import read_status

    def check() -> str | None:
        status = read_status(out, name)
        if status is None:
            return f"{name}: no status file yet"
        if time.time() - status["t"] > STALE_S:
            return f"{name}: status is {time.time() - status['t']:.0f} s old"
        return None

    return check


def delivery(ctx: LabContext) -> Delivery:
    return Delivery(ctx.profile.get("stream.delivery"))


def timetable_args(ctx: LabContext) -> list[str]:
    """The timetable the store and the index were seeded from: the applier rebuilds its
    flights' index documents (route, times) from it, as the search tier did at lab up."""
    t = ctx.profile.get("timetable")
    return ["--timetable-seed", str(t["seed"]), "--timetable-airports", str(t["airports"]), "--timetable-flights", str(t["flights"]),
            "--timetable-days", str(t["days"]), "--timetable-start", str(t["start"])]  # fmt: skip


def applier_argv(ctx: LabContext, *, name: str, bootstrap: str, sentinels: list[str], stores: list[str], out: Path, search_urls: list[str]) -> list[str]:
    """The price applier's command line: the primary's, or the DR region's (its own Kafka,
    Sentinel, store node and index)."""
    p = ctx.profile
    argv = [
        sys.executable, "-m", "flightsearch.stream_apply",
        "--name", name,
        "--bootstrap", bootstrap,
        "--topic", OUTPUT_TOPIC,
        "--sentinels", ",".join(sentinels),
        "--service", p.get("redis.sentinel.service"),
        "--cassandra", ",".join(stores),
        "--cassandra-port", str(p.get("cassandra.native_port")),
        "--keyspace", p.get("cassandra.keyspace"),
        "--consistency", p.get("cassandra.write_consistency"),
        "--dir", str(out),
        "--isolation", delivery(ctx).isolation,
    ]  # fmt: skip
    if search_urls:
        argv += ["--search", ",".join(search_urls), "--search-index", p.get("search.index"), *timetable_args(ctx)]
    return argv


def specs(ctx: LabContext, search_urls: list[str] | None = None) -> list[ComponentSpec]:
    """`search_urls`: the search index's nodes, when the lab has one (the applier then keeps
    the flights' seats in it current; without, it writes the store and the cache only)."""
    p, topo = ctx.profile, ctx.topology
    out = status_dir(ctx)
    out.mkdir(parents=True, exist_ok=True)
    archive_dir(ctx).mkdir(parents=True, exist_ok=True)
    argv = applier_argv(ctx, name=APPLIER, bootstrap=bootstrap_servers(ctx), sentinels=[f"{topo.address(az)}:{p.get('redis.sentinel.port')}" for az in AZS],
                        stores=store_addresses(ctx), out=out, search_urls=search_urls or [])  # fmt: skip
    return [ComponentSpec(APPLIER, "stream", APPLIER_AZ, argv, applier_health(out), topo.address(APPLIER_AZ), 0, role=Role.APPLIER)]


def prepare(ctx: LabContext) -> None:
    """A new lab starts with an empty lake and no applier status of an earlier one."""
    shutil.rmtree(ctx.home / "data" / "lake", ignore_errors=True)
    shutil.rmtree(status_dir(ctx), ignore_errors=True)


def leader_url(ctx: LabContext) -> str | None:
    leader = flink.rest_leader(quorum(ctx), flink.REST_LEADER_PATH)
    return leader.rstrip("/") if leader else None


def stream_job(ctx: LabContext) -> dict[str, Any] | None:
    """The stream job's overview entry on the leader (newest by start time), or None."""
    base = leader_url(ctx)
    if base is None:
        return None
    try:
        jobs = [j for j in flink.rest_get(f"{base}/jobs/overview").get("jobs", []) if j.get("name") == JOB_NAME]
    except (OSError, ValueError):
        return None
    return max(jobs, key=lambda j: j.get("start-time", 0)) if jobs else None


def job_env(ctx: LabContext) -> dict[str, str]:
    """The job's settings (it runs in Flink's Python and reads them from its environment)."""
    return {
        "GAMEDAY_KAFKA": bootstrap_servers(ctx),
        "GAMEDAY_ARCHIVE": archive_dir(ctx).as_uri(),
        "GAMEDAY_JOB_NAME": JOB_NAME,
        "GAMEDAY_JOB_GROUP": JOB_GROUP,
        "GAMEDAY_PARALLELISM": str(len(AZS)),
        "GAMEDAY_DELIVERY": delivery(ctx).sink_guarantee,
    }  # fmt: skip


def submit(ctx: LabContext, say: Callable[[str], None], conf_dir: Path | None = None, settings: dict[str, str] | None = None) -> float:
    """Submit the job (detached); return the seconds `flink run` took. `conf_dir` and
    `settings`: another cluster's config and the job's settings there (the DR region's)."""
    argv, env = flink.client_command(ctx, JOB_PY, conf_dir=conf_dir)
    env.update(job_env(ctx))
    env.update(settings or {})
    env.update(ctx.scratch_env("flink-client"))
    began = time.monotonic()
    proc = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or "Job has been submitted" not in proc.stdout:
        log = ctx.home / "logs" / "flink-client.log"
        log.write_text(proc.stdout + proc.stderr)
        raise LabError(f"submitting the stream job failed (exit {proc.returncode})", hint=f"see {log}")
    return time.monotonic() - began


def running_tasks(ctx: LabContext, job: dict[str, Any]) -> bool:
    base = leader_url(ctx)
    try:
        detail = flink.rest_get(f"{base}/jobs/{job['jid']}")
    except (OSError, ValueError, TypeError):
        return False
    return detail.get("state") == "RUNNING" and all(v.get("status") == "RUNNING" for v in detail.get("vertices", []))


def ready(ctx: LabContext, say: Callable[[str], None], timeout_s: float = 180) -> None:
    """Submit the stream job unless it already runs, and wait until all its tasks run."""
    job = stream_job(ctx)
    if job is None or job.get("state") != "RUNNING":
        took = submit(ctx, say)
        say(f"stream job {JOB_NAME} submitted in {took:.1f} s")
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        job = stream_job(ctx)
        if job is not None and running_tasks(ctx, job):
            say(f"stream job {JOB_NAME} ({job['jid']}) running with all tasks after {time.monotonic() - began:.1f} s")
            return
        time.sleep(1)
    raise LabError(f"stream job {JOB_NAME} not running after {timeout_s:.0f} s", hint="see the flink-jm-*.log files in the lab's logs/")


def before_down(ctx: LabContext, say: Callable[[str], None], timeout_s: float = 60) -> None:
    """Stop the job with a savepoint (best effort: a broken cluster must not block `lab down`)."""
    job = stream_job(ctx)
    base = leader_url(ctx)
    if job is None or base is None or job.get("state") != "RUNNING":
        return
    import json
    import urllib.request

    target = (ctx.home / "data" / "flink-storage" / "savepoints").as_uri()
    body = json.dumps({"targetDirectory": target, "drain": False}).encode()
    req = urllib.request.Request(f"{base}/jobs/{job['jid']}/stop", data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            trigger = json.loads(resp.read())["request-id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = flink.rest_get(f"{base}/jobs/{job['jid']}/savepoints/{trigger}")
            if result.get("status", {}).get("id") == "COMPLETED":
                op = result.get("operation", {})
                say(f"stream job stopped with savepoint {op.get('location') or op.get('failure-cause', {}).get('class', '?')}")
                return
            time.sleep(0.5)
        say("stream job: savepoint did not complete in time; stopping without it")
    except (OSError, ValueError, KeyError) as exc:
        say(f"stream job: could not stop with a savepoint ({exc}); stopping without it")
