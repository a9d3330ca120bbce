"""The real Flink tier: ZooKeeper quorum, three JobManagers in ZooKeeper HA, TaskManagers.

Starts `gameday lab up --tiers flink` (which brings ZooKeeper and Kafka too; a lab
already running is stopped first, as the other lab tests do), checks that ZooKeeper
names a leader whose REST API sees every TaskManager, kills that leader and checks that
another JobManager takes over, then `lab down`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from gameday.lab import network, state
from gameday.lab.profile import load_profile
from gameday.lab.tiers import LabContext, flink, zookeeper

from tests.labutil import REPO, fresh_lab, gameday

pytestmark = pytest.mark.lab





@pytest.fixture(scope="module")
def flink_lab(tmp_path_factory):
    fresh_lab()
    began = time.monotonic()
    profile = tmp_path_factory.mktemp("flink") / "fast-checkpoints.yaml"
    profile.write_text("flink:\n  checkpoint_interval_s: 5\n")
    up = gameday("lab", "up", "--tiers", "flink", "--profile", str(profile))
    assert up.returncode == 0, up.stderr[-2000:]
    print(f"\nflink lab up took {time.monotonic() - began:.1f} s", file=sys.stderr)
    st = state.load(load_profile().home)
    assert st is not None
    for az in network.AZS:
        network.assert_routed_locally(st.topology, st.topology.address(az))
    yield st
    down = gameday("lab", "down")
    assert down.returncode == 0, down.stderr[-2000:]


def _quorum(st) -> str:
    port = load_profile().get("zookeeper.client_port")
    return ",".join(f"{st.topology.address(az)}:{port}" for az in network.AZS)


def test_zookeeper_quorum_has_one_leader(flink_lab):
    st = flink_lab
    port = load_profile().get("zookeeper.client_port")
    modes = sorted(zookeeper.mode(st.topology.address(az), port) or "down" for az in network.AZS)
    assert modes == ["follower", "follower", "leader"]


def test_one_leader_sees_every_taskmanager(flink_lab):
    st = flink_lab
    assert sorted(n for n, t in st.components.items() if t.tier == "flink") == [
        "flink-jm-a", "flink-jm-b", "flink-jm-c", "flink-tm-a", "flink-tm-b", "flink-tm-c"
    ]  # fmt: skip
    leader = flink.rest_leader(_quorum(st))
    assert leader and leader.startswith("http://10.213.0.1")
    overview = flink.rest_get(f"{leader.rstrip('/')}/overview")
    assert overview["taskmanagers"] == 3 and overview["slots-total"] == 6
    status = gameday("lab", "status")
    assert status.returncode == 0, status.stdout


def test_a_kafka_source_job_runs_and_checkpoints(flink_lab):
    st = flink_lab
    profile = load_profile()
    ctx = LabContext(profile, st.topology, profile.home)
    argv, env = flink.client_command(ctx, REPO / "tests" / "data" / "flink_smoke_job.py")
    env["GAMEDAY_KAFKA"] = ",".join(f"{st.topology.address(az)}:{profile.get('kafka.port')}" for az in network.AZS)
    proc = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and "Job has been submitted" in proc.stdout, (proc.stdout + proc.stderr)[-3000:]
    leader = flink.rest_leader(_quorum(st)).rstrip("/")
    deadline = time.monotonic() + 90
    counts: dict = {}
    while time.monotonic() < deadline:
        jobs = flink.rest_get(f"{leader}/jobs/overview")["jobs"]
        if jobs and jobs[0]["state"] == "RUNNING":
            counts = flink.rest_get(f"{leader}/jobs/{jobs[0]['jid']}/checkpoints")["counts"]
            if counts["completed"] >= 1:
                break
        time.sleep(1)
    assert counts.get("completed", 0) >= 1, counts
    assert any((profile.home / "data" / "flink-storage" / "checkpoints").iterdir())


def test_killing_the_leader_elects_another(flink_lab, tmp_path):
    st = flink_lab
    zk = _quorum(st)
    old = flink.rest_leader(zk)
    victim = f"flink-jm-{network.AZS[[st.topology.address(az) for az in network.AZS].index(old.split('//')[1].split(':')[0])][-1]}"
    from gameday.history import FlinkSample, Recorder
    from gameday.monitors.flink import leader_elected_s, sampler

    recorder = Recorder(tmp_path / "history.jsonl")
    monitor = sampler(recorder, zk, 0.25).start()
    time.sleep(1)
    killed_at, fault_t = time.monotonic(), time.time()
    assert gameday("lab", "kill", victim).returncode == 0
    new = None
    while time.monotonic() - killed_at < 60:
        new = flink.rest_leader(zk, timeout_s=1)
        if new and new != old:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - killed_at
    print(f"\nnew JobManager leader {new} named {elapsed:.1f} s after killing {victim}", file=sys.stderr)
    assert new and new != old
    # The job the previous test submitted comes back RUNNING under the new leader.
    jobs = []
    while time.monotonic() - killed_at < 90:
        try:
            jobs = flink.rest_get(f"{new.rstrip('/')}/jobs/overview", 1)["jobs"]
        except (OSError, ValueError):
            jobs = []
        if jobs and jobs[0]["state"] == "RUNNING":
            break
        time.sleep(0.5)
    print(f"job {jobs[0]['state'] if jobs else 'missing'} {time.monotonic() - killed_at:.1f} s after the kill", file=sys.stderr)
    assert jobs and jobs[0]["state"] == "RUNNING"
    time.sleep(1)
    monitor.stop()
    recorder.close()
    samples = recorder.history().of(FlinkSample)
    elected = leader_elected_s(samples, fault_t, old)
    print(f"monitor: leader elected after {elected} s; states seen {sorted({x.state for x in samples})}", file=sys.stderr)
    assert elected is not None and samples[0].leader == old and samples[0].state == "RUNNING"
    assert gameday("lab", "restart", victim).returncode == 0
