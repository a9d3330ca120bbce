"""The real ingest path: 15 simulated suppliers into the real 3-broker Kafka, a broker
lost mid-stream, and the Jepsen-style audit: every acknowledged event is in supplier.raw
exactly once (acks=all, idempotent producer, RF 3, min ISR 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from gameday.ingest import audit
from gameday.lab import network, state
from gameday.lab.profile import load_profile
from gameday.lab.tiers import ingest, kafka

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[1]
GAMEDAY = [sys.executable, "-m", "gameday.cli"]


def gameday(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(GAMEDAY + list(args), cwd=REPO, capture_output=True, text=True, timeout=timeout)
    sys.stderr.write(proc.stderr[-3000:])
    return proc


@pytest.fixture(scope="module")
def ingest_lab():
    if os.geteuid() != 0:
        pytest.skip("the lab's network namespaces need root")
    gameday("lab", "down")
    up = gameday("lab", "up", "--tiers", "ingest")
    assert up.returncode == 0, up.stderr[-2000:]
    st = state.load(load_profile().home)
    assert st is not None
    for az in network.AZS:
        network.assert_routed_locally(st.topology, st.topology.address(az))
    yield st
    down = gameday("lab", "down")
    assert down.returncode == 0, down.stderr[-2000:]


def test_no_acknowledged_event_lost_when_the_busiest_leader_dies(ingest_lab):
    st = ingest_lab
    profile = load_profile()
    bootstrap = ",".join(f"{st.topology.address(az)}:{profile.get('kafka.port')}" for az in network.AZS)
    time.sleep(5)
    leaders = Counter(p["leader"] for p in kafka.describe_topic(bootstrap)["partitions"].values())
    victim = f"kafka-{'abc'[leaders.most_common(1)[0][0] - 1]}"
    assert gameday("lab", "kill", victim).returncode == 0
    time.sleep(15)
    assert gameday("lab", "restart", victim).returncode == 0
    time.sleep(3)
    for az in network.AZS:
        assert gameday("lab", "stop", ingest.process_name(az)).returncode == 0
    for name in ("ingest-a", "ingest-b", "ingest-c"):
        assert st.components[name].wait_gone(15), f"{name} did not stop"
    result = audit(bootstrap, ingest.ack_dir(ingest.LabContext(profile, st.topology, profile.home)))
    print(f"\nkilled {victim}: {result}", file=sys.stderr)
    assert result.acknowledged > 15 * 10 * 15  # ~25 s at 150 events/s, minus the stall
    assert result.lost == 0, result.lost_ids
    assert result.duplicated == 0, result.duplicated_ids
