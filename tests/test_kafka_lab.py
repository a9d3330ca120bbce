"""The real Kafka tier: three KRaft brokers, one per AZ, and supplier.raw with RF 3 and min ISR 2.

Starts `gameday lab up --tiers kafka` (a lab already running is stopped first, as the
other lab tests do), checks the cluster through the brokers themselves, then `lab down`.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gameday.lab import network, state
from gameday.lab.profile import load_profile
from gameday.lab.tiers import kafka

from tests.labutil import fresh_lab, gameday

pytestmark = pytest.mark.lab





@pytest.fixture(scope="module")
def kafka_lab():
    fresh_lab()
    began = time.monotonic()
    up = gameday("lab", "up", "--tiers", "kafka")
    assert up.returncode == 0, up.stderr[-2000:]
    print(f"\nkafka lab up took {time.monotonic() - began:.1f} s", file=sys.stderr)
    profile = load_profile()
    st = state.load(profile.home)
    assert st is not None
    yield st
    down = gameday("lab", "down")
    assert down.returncode == 0, down.stderr[-2000:]


def test_three_brokers_one_per_az(kafka_lab):
    st = kafka_lab
    brokers = {name: t for name, t in st.components.items() if t.tier == "kafka"}
    assert sorted(brokers) == ["kafka-a", "kafka-b", "kafka-c"]
    assert {t.az for t in brokers.values()} == set(network.AZS)
    assert all(t.alive() for t in brokers.values())
    status = gameday("lab", "status")
    assert status.returncode == 0, status.stdout + status.stderr


def test_supplier_raw_has_rf3_and_min_isr2(kafka_lab):
    st = kafka_lab
    profile = load_profile()
    for az in network.AZS:
        network.assert_routed_locally(st.topology, st.topology.address(az))
    port = profile.get("kafka.port")
    bootstrap = ",".join(f"{st.topology.address(az)}:{port}" for az in network.AZS)
    info = kafka.describe_topic(bootstrap)
    assert info["brokers"] == [1, 2, 3]
    assert len(info["partitions"]) == profile.get("kafka.partitions")
    for pid, part in info["partitions"].items():
        assert sorted(part["replicas"]) == [1, 2, 3], pid
        assert sorted(part["isr"]) == [1, 2, 3], pid
        assert part["leader"] in (1, 2, 3), pid
    # Leaderships are spread: every broker leads some partition.
    assert {p["leader"] for p in info["partitions"].values()} == {1, 2, 3}
    assert info["config"]["min.insync.replicas"] == "2"
    assert info["config"]["retention.ms"] == str(7 * 24 * 3600 * 1000)
    assert info["config"]["unclean.leader.election.enable"] == "false"


def test_idempotent_acks_all_round_trip(kafka_lab):
    """An idempotent acks=all producer writes and reads back through the real cluster."""
    from confluent_kafka import Producer

    st = kafka_lab
    port = load_profile().get("kafka.port")
    bootstrap = ",".join(f"{st.topology.address(az)}:{port}" for az in network.AZS)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    acked = []
    producer.produce(kafka.TOPIC, key=b"supplier-01", value=b'{"seq": 1}', partition=0, on_delivery=lambda err, msg: acked.append((err, msg.offset())))
    assert producer.flush(15) == 0
    assert acked and acked[0][0] is None
    # Read back in a child process: a librdkafka group consumer destroyed in this process
    # crashed the test run with SIGSEGV (rd_kafka_cgrp_op) in about half of the runs.
    script = (
        "import sys; from confluent_kafka import Consumer, TopicPartition\n"
        f"c = Consumer({{'bootstrap.servers': '{bootstrap}', 'group.id': 'test-kafka-lab', 'enable.auto.commit': False}})\n"
        f"c.assign([TopicPartition('{kafka.TOPIC}', 0, {acked[0][1]})])\n"
        "m = c.poll(15)\n"
        "print(m.value().decode() if m is not None and m.error() is None else 'NONE', flush=True)\n"
        "c.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60).stdout
    assert out.splitlines()[:1] == ['{"seq": 1}']


def test_monitor_samples_leaders_isr_and_offsets(kafka_lab, tmp_path):
    from gameday.history import History, KafkaClusterSample, KafkaOffsetsSample, KafkaPartitionSample

    st = kafka_lab
    profile = load_profile()
    port = profile.get("kafka.port")
    bootstrap = ",".join(f"{st.topology.address(az)}:{port}" for az in network.AZS)
    # The samplers run in a child process that exits without destructors: librdkafka
    # admin clients crashed this test run with SIGSEGV (rd_kafka_cgrp_op) in about half
    # of the runs when they lived in the pytest process. A known open problem (issue 3).
    path = tmp_path / "history.jsonl"
    script = (
        "import os, time; from pathlib import Path\n"
        "from gameday.history import Recorder; from gameday.monitors import kafka as km\n"
        f"r = Recorder(Path({str(path)!r}))\n"
        f"ss = [s.start() for s in km.samplers(r, {bootstrap!r}, {kafka.TOPIC!r}, 'gameday-test', {profile.get('kafka.partitions')}, 0.3)]\n"
        "time.sleep(2)\n"
        "[s.stop() for s in ss]; r.close(); os._exit(0)\n"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr[-2000:]
    history = History.read(path)
    assert history.of(KafkaClusterSample) and all(c.brokers == (1, 2, 3) for c in history.of(KafkaClusterSample))
    parts = history.of(KafkaPartitionSample)
    assert {p.partition for p in parts} == set(range(profile.get("kafka.partitions")))
    assert all(len(p.isr) == 3 and p.leader in (1, 2, 3) for p in parts)
    offsets = history.of(KafkaOffsetsSample)
    assert offsets and all(o.end >= 0 for o in offsets)
    assert kafka.active_controller(st.topology.address("az-a"), port) in (1, 2, 3)
