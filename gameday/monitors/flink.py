"""Flink sampler: the leading JobManager as ZooKeeper names it, the job's state as that
leader's REST API reports it, and the job's latest completed checkpoint.

One ZooKeeper session for the whole run (kazoo reconnects by itself), so sampling does
not open a session per tick. A tick where ZooKeeper or the REST API does not answer is
recorded with what was missing, never skipped.
"""

from __future__ import annotations

import time
import urllib.error

from gameday.clients.flink import read_leader_record, rest_get
from gameday.history import FlinkFailure, FlinkSample, Recorder
from gameday.monitors import Sampler

TIMEOUT_S = 1.0


def sampler(recorder: Recorder, zk_quorum: str, leader_path: str, interval_s: float = 0.5, job_name: str = "") -> Sampler:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=zk_quorum, timeout=TIMEOUT_S * 4)
    client.logger.disabled = True
    state: dict = {"started": False, "leader": "", "job": "", "since": time.time()}

    def sample() -> None:
        # Each sample is stamped when its last answer arrived: a state seen is the state at
        # that instant or before, so times to recovery are never shortened by a slow call.
        if not state["started"]:
            client.start(timeout=TIMEOUT_S * 2)
            state["started"] = True
        try:
            data, _ = client.get(leader_path)
            leader = (read_leader_record(data) or "") if data else ""
        except Exception as exc:  # kazoo raises many types when the quorum is away
            recorder.add(FlinkSample(t=time.time(), leader="", error=f"zookeeper: {type(exc).__name__}"))
            return
        if not leader:
            recorder.add(FlinkSample(t=time.time(), leader="", error="no leader in zookeeper"))
            return
        base = leader.rstrip("/")
        try:
            jobs = rest_get(f"{base}/jobs/overview", TIMEOUT_S).get("jobs", [])
            jobs = [j for j in jobs if not job_name or j.get("name") == job_name]
            if not jobs:
                recorder.add(FlinkSample(t=time.time(), leader=leader, error="no job"))
                return
            job = max(jobs, key=lambda j: j.get("start-time", 0))
            state["leader"], state["job"] = base, job["jid"]
            checkpoints = rest_get(f"{base}/jobs/{job['jid']}/checkpoints", TIMEOUT_S)
            cp = checkpoints.get("latest", {}).get("completed") or {}
            pending = max((float(h.get("trigger_timestamp", 0)) / 1000 for h in checkpoints.get("history", [])
                           if h.get("status") == "IN_PROGRESS"), default=0.0)
            vertices = rest_get(f"{base}/jobs/{job['jid']}", TIMEOUT_S).get("vertices", [])
            recorder.add(
                FlinkSample(
                    t=time.time(), leader=leader, job=job["jid"], state=job.get("state", ""),
                    checkpoint_id=int(cp.get("id", -1)), checkpoint_at=float(cp.get("latest_ack_timestamp", 0)) / 1000,
                    tasks_running=bool(vertices) and all(v.get("status") == "RUNNING" for v in vertices),
                    checkpoint_triggered_at=float(cp.get("trigger_timestamp", 0)) / 1000,
                    pending_triggered_at=pending,
                )
            )  # fmt: skip
        except urllib.error.HTTPError as exc:  # the leader's REST server answers, not ready yet
            recorder.add(FlinkSample(t=time.time(), leader=leader, error=f"http {exc.code}: {exc.reason}"))
        except (OSError, ValueError) as exc:  # nobody answers at that address
            recorder.add(FlinkSample(t=time.time(), leader=leader, error=f"rest: {exc}"))

    s = Sampler("flink", interval_s, sample)
    stop = s.stop

    def stop_and_close() -> None:
        stop()
        record_failures(recorder, state["leader"], state["job"], state["since"])
        try:
            client.stop()
            client.close()
        except Exception:
            pass

    s.stop = stop_and_close  # type: ignore[method-assign]
    return s


def record_failures(recorder: Recorder, leader: str, job: str, since: float) -> int:
    """Record the job's failures since `since` from the leader's exception history (a new
    leader's history starts empty, so failures before a JobManager failover are not there).
    Diagnostic only: no verdict rests on it, and an unanswered call records nothing."""
    if not leader or not job:
        return 0
    try:
        entries = rest_get(f"{leader}/jobs/{job}/exceptions?maxExceptions=50", TIMEOUT_S * 3)
        entries = entries.get("exceptionHistory", {}).get("entries", [])
    except (OSError, ValueError):
        return 0
    count = 0
    for e in entries:
        at = float(e.get("timestamp", 0)) / 1000
        if at < since:
            continue
        first_line = (e.get("stacktrace") or e.get("exceptionName") or "").strip().splitlines()
        recorder.add(FlinkFailure(t=at, job=job, exception=(first_line[0] if first_line else "")[:300],
                                  task=e.get("taskName") or ""))
        count += 1
    return count
