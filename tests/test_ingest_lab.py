"""The real ingest path: 15 simulated suppliers into the real 3-broker Kafka, brokers lost
mid-stream, and the Jepsen-style audit: is every acknowledged event in supplier.raw
exactly once? In both directions:

- the plan (acks=all, idempotent producer, RF 3, min ISR 2): nothing acknowledged is lost,
  neither when the busiest leader is killed nor when it dies ahead of frozen followers;
- "miss the plan" (acks=1, min ISR 1, unclean leader election): a leader that acked writes
  its followers never fetched (they were frozen) dies, and those events are lost.

A plain SIGKILL of a leader loses nothing even with acks=1 at this rate (followers are
milliseconds behind), which is why the losing fault freezes the followers first.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import pytest

from gameday.ingest import audit
from gameday.lab import network, state
from gameday.lab.profile import load_profile
from gameday.lab.tiers import LabContext, ingest, kafka

from tests.labutil import fresh_lab, gameday

pytestmark = pytest.mark.lab

MISS_THE_PLAN = 'kafka:\n  acks: "1"\n  min_insync_replicas: 1\n  unclean_leader_election: true\n'




@pytest.fixture(scope="module", params=["plan", "miss"])
def ingest_lab(request, tmp_path_factory):
    fresh_lab()
    args = ["lab", "up", "--tiers", "ingest"]
    if request.param == "miss":
        profile = tmp_path_factory.mktemp("miss") / "miss-the-plan.yaml"
        profile.write_text(MISS_THE_PLAN)
        args += ["--profile", str(profile)]
    up = gameday(*args)
    assert up.returncode == 0, up.stderr[-2000:]
    st = state.load(load_profile().home)
    assert st is not None
    for az in network.AZS:
        network.assert_routed_locally(st.topology, st.topology.address(az))
    yield request.param, st
    down = gameday("lab", "down")
    assert down.returncode == 0, down.stderr[-2000:]


def _bootstrap(st) -> str:
    return ",".join(f"{st.topology.address(az)}:{load_profile().get('kafka.port')}" for az in network.AZS)


def _busiest_leader(st) -> int:
    leaders = Counter(p["leader"] for p in kafka.describe_topic(_bootstrap(st))["partitions"].values())
    return leaders.most_common(1)[0][0]


def _stop_adapters_and_audit(st):
    for az in network.AZS:
        assert gameday("lab", "stop", ingest.process_name(az)).returncode == 0
    current = state.load(load_profile().home)
    for az in network.AZS:
        assert current.components[ingest.process_name(az)].wait_gone(15)
    profile = load_profile()
    return audit(_bootstrap(st), ingest.ack_dir(LabContext(profile, st.topology, profile.home)))


def test_no_acknowledged_event_lost_when_the_busiest_leader_dies(ingest_lab):
    direction, st = ingest_lab
    if direction != "plan":
        pytest.skip("runs on the plan's settings")
    time.sleep(5)
    victim = f"kafka-{'abc'[_busiest_leader(st) - 1]}"
    assert gameday("lab", "kill", victim).returncode == 0
    time.sleep(15)
    assert gameday("lab", "restart", victim).returncode == 0
    time.sleep(3)
    result = _stop_adapters_and_audit(st)
    print(f"\nkilled {victim}: {result}", file=sys.stderr)
    assert result.acknowledged > 15 * 10 * 15  # ~25 s at 150 events/s, minus the stall
    assert result.lost == 0, result.lost_ids
    assert result.duplicated == 0, result.duplicated_ids
    for az in network.AZS:  # the next test needs them producing again
        assert gameday("lab", "restart", ingest.process_name(az)).returncode == 0


def test_a_leader_ahead_of_frozen_followers_dies(ingest_lab):
    direction, st = ingest_lab
    time.sleep(5)
    leader = _busiest_leader(st)
    victim = f"kafka-{'abc'[leader - 1]}"
    followers = [f"kafka-{'abc'[i - 1]}" for i in (1, 2, 3) if i != leader]
    for name in followers:
        assert gameday("lab", "freeze", name).returncode == 0
    time.sleep(10)  # acks=1: the leader acknowledges what nobody replicates
    assert gameday("lab", "kill", victim).returncode == 0
    for name in followers:
        assert gameday("lab", "resume", name).returncode == 0
    time.sleep(20)  # the thawed pair fences the dead leader and elects new leaders
    assert gameday("lab", "restart", victim).returncode == 0
    time.sleep(5)
    result = _stop_adapters_and_audit(st)
    print(f"\n[{direction}] froze {followers}, killed {victim}: {result}", file=sys.stderr)
    assert result.acknowledged > 0 and result.duplicated == 0, result.duplicated_ids
    if direction == "plan":
        assert result.lost == 0, result.lost_ids
    else:
        assert result.lost > 0, "acks=1 with a leader ahead of its followers must lose acknowledged events"
