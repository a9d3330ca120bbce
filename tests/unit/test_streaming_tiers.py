"""Config rendering of the streaming tiers (Kafka, ZooKeeper, Flink), without starting a JVM."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gameday.clients import kafka as kafka_client
from gameday.errors import InputError
from gameday.lab.network import Isolation, Topology
from gameday.lab.tiers import TIERS, LabContext, depth, flink, kafka, with_dependencies, zookeeper
from gameday.profile import load_profile


def _ctx(tmp_path: Path, overrides: dict | None = None, isolation: Isolation = Isolation.NETNS) -> LabContext:
    profile = load_profile(overrides=overrides)
    return LabContext(profile, Topology(isolation, "10.213.0.0/24", "gd-br0"), tmp_path)


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_streaming_tiers_registered_with_dependencies_no_jvm():
    assert {"kafka", "zookeeper", "flink"} <= set(TIERS)
    assert set(with_dependencies(["flink"])) == {"flink", "zookeeper", "kafka"}
    assert depth("kafka") == depth("zookeeper") == 0 < depth("flink")
    # The existing tiers keep their order: api starts after redis and cassandra.
    assert depth("redis") == depth("cassandra") == depth("metrics") == 0 < depth("api")


def test_kafka_broker_properties_no_jvm(tmp_path):
    ctx = _ctx(tmp_path)
    props = _props(kafka.render_properties(ctx, "az-b", tmp_path / "log"))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == "1@10.213.0.11:9093,2@10.213.0.12:9093,3@10.213.0.13:9093"
    assert props["listeners"] == "PLAINTEXT://10.213.0.12:9092,CONTROLLER://10.213.0.12:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://10.213.0.12:9092"
    assert props["min.insync.replicas"] == "2"
    assert props["default.replication.factor"] == "3"
    assert props["unclean.leader.election.enable"] == "false"
    assert props["auto.create.topics.enable"] == "false"
    assert props["auto.leader.rebalance.enable"] == "false"  # the harness settles leaderships between drills
    assert props["log.retention.ms"] == str(7 * 24 * 3600 * 1000)
    assert kafka.bootstrap_servers(ctx) == "10.213.0.11:9092,10.213.0.12:9092,10.213.0.13:9092"


def test_kafka_miss_the_plan_knobs_no_jvm(tmp_path):
    ctx = _ctx(tmp_path, {"kafka": {"min_insync_replicas": 1, "unclean_leader_election": True, "acks": "1", "partitions": 3}})
    props = _props(kafka.render_properties(ctx, "az-a", tmp_path / "log"))
    assert props["min.insync.replicas"] == "1"
    assert props["unclean.leader.election.enable"] == "true"
    assert kafka.topic_config(ctx) == {"min.insync.replicas": "1", "retention.ms": "604800000", "unclean.leader.election.enable": "true"}


def test_kafka_profile_rejects_unknown_and_mistyped_keys_no_jvm():
    with pytest.raises(InputError, match="kafka.partition"):
        load_profile(overrides={"kafka": {"partition": 3}})
    with pytest.raises(InputError, match="kafka.partitions"):
        load_profile(overrides={"kafka": {"partitions": "many"}})


def test_kafka_cluster_id_is_stable_within_a_lab_no_jvm(tmp_path):
    ctx = _ctx(tmp_path)
    first = kafka.cluster_id(ctx)
    assert len(first) == 22 and first == kafka.cluster_id(ctx)
    kafka.prepare(ctx)  # a new lab: new id
    assert kafka.cluster_id(ctx) != first


def test_zookeeper_config_no_jvm(tmp_path):
    ctx = _ctx(tmp_path)
    cfg = _props(zookeeper.render_config(ctx, "az-c"))
    assert cfg["clientPortAddress"] == "10.213.0.13"
    assert cfg["server.1"] == "10.213.0.11:2888:3888"
    assert cfg["server.3"] == "10.213.0.13:2888:3888"
    assert int(cfg["minSessionTimeout"]) <= 5000 <= int(cfg["maxSessionTimeout"])
    assert zookeeper.quorum(ctx) == "10.213.0.11:2181,10.213.0.12:2181,10.213.0.13:2181"


def test_zookeeper_grants_a_long_session_timeout_no_jvm(tmp_path):
    # Without a wider maxSessionTimeout, a 60 s request would silently become 40 s.
    ctx = _ctx(tmp_path, {"zookeeper": {"session_timeout_ms": 60000}})
    assert int(_props(zookeeper.render_config(ctx, "az-a"))["maxSessionTimeout"]) >= 60000


def test_flink_config_no_jvm(tmp_path):
    ctx = _ctx(tmp_path, {"flink": {"checkpoint_interval_s": 10}, "zookeeper": {"session_timeout_ms": 7000}})
    jm = flink.render_config(ctx, "az-b", "jobmanager")
    assert jm["high-availability.type"] == "zookeeper"
    assert jm["high-availability.zookeeper.quorum"] == zookeeper.quorum(ctx)
    assert jm["high-availability.zookeeper.client.session-timeout"] == 7000
    assert jm["rest.address"] == jm["jobmanager.rpc.address"] == "10.213.0.12"
    assert jm["execution.checkpointing.interval"] == "10s"
    assert jm["execution.checkpointing.dir"].startswith("file:///")
    assert "taskmanager.host" not in jm
    assert "--add-opens=java.base/java.util=ALL-UNNAMED" in jm["env.java.opts.all"]  # the dist's Java 17 flags are kept
    tm = flink.render_config(ctx, "az-c", "taskmanager", resource_id="flink-tm-c")
    assert tm["taskmanager.host"] == "10.213.0.13" and tm["taskmanager.resource-id"] == "flink-tm-c"
    yaml.safe_load(yaml.safe_dump(jm))  # config.yaml must be plain YAML
    assert [n for n, _ in flink.taskmanager_names(ctx)] == ["flink-tm-a", "flink-tm-b", "flink-tm-c"]


def test_flink_leader_record_parsing_no_jvm():
    # ObjectOutputStream: magic, version, block data holding writeUTF(address), then the UUID object.
    address = b"http://10.213.0.12:8081"
    record = b"\xac\xed\x00\x05\x77" + bytes([2 + len(address)]) + len(address).to_bytes(2, "big") + address + b"\x73\x72\x00\x0ejava.util.UUID"
    from gameday.clients.flink import read_leader_record

    assert read_leader_record(record) == "http://10.213.0.12:8081"
    assert read_leader_record(b"garbage") is None


def test_kafka_records_round_trip_no_jvm():
    from gameday.history import KafkaClusterSample, KafkaOffsetsSample, KafkaPartitionSample, from_json, to_json

    for rec in (
        KafkaPartitionSample(t=1.0, topic="supplier.raw", partition=3, leader=2, isr=(1, 2), replicas=(2, 3, 1)),
        KafkaClusterSample(t=1.0, brokers=(1, 2, 3)),
        KafkaOffsetsSample(t=1.0, group="g", topic="supplier.raw", partition=0, end=10, committed=7),
    ):
        assert from_json(to_json(rec)) == rec


def test_output_progress_counts_only_ticks_where_every_partition_answered_no_jvm():
    from gameday.history import KafkaOffsetsSample
    from gameday.measures.stream import output_ends

    s = lambda t, p, end, topic="prices.normalized": KafkaOffsetsSample(t=t, group="g", topic=topic, partition=p, end=end, committed=0)
    samples = [s(0, 0, 5), s(0, 1, 7), s(1, 0, 8), s(1, 1, -1), s(2, 0, 9), s(2, 1, 9), s(2, 0, 99, topic="other")]
    assert output_ends(samples) == [(0, 12), (2, 18)]


@pytest.mark.parametrize("fmt", ["csv", "xml", "json"])
def test_supplier_formats_convert_to_canonical_no_jvm(fmt):
    from flightsearch.ingest import canonical_event, render_native, to_canonical

    native = render_native(fmt, "FR100-20261201", 11799, "GBP", 63, 1764000000.125)
    fields = to_canonical(fmt, native)
    assert fields == {"flight_id": "FR100-20261201", "amount_pence": 11799, "currency": "GBP", "seats": 63, "supplier_ts": pytest.approx(1764000000.125, abs=1e-3)}
    event = canonical_event("sup-07", 42, fields)
    assert event["event_id"] == "sup-07-000042" and event["seq"] == 42 and event["supplier"] == "sup-07"


def test_sequence_numbers_never_reused_across_restarts_no_jvm(tmp_path):
    from flightsearch.ingest import SEQ_BLOCK, SeqAllocator

    first = SeqAllocator(tmp_path / "sup-01.seq")
    taken = [first.take() for _ in range(5)]
    assert taken == [1, 2, 3, 4, 5]
    again = SeqAllocator(tmp_path / "sup-01.seq")  # a crash after 5: the rest of the block is skipped
    assert again.take() == 1 + SEQ_BLOCK


def test_ingest_tier_deals_15_suppliers_over_the_azs_no_jvm(tmp_path):
    from flightsearch.ingest import supplier_format
    from gameday.lab.tiers import ingest

    ctx = _ctx(tmp_path)
    deal = ingest.assignment(ctx)
    assert [len(v) for v in deal.values()] == [5, 5, 5]
    assert {supplier_format(s) for s in deal["az-a"]} == {"csv", "xml", "json"}
    specs = ingest.specs(ctx)
    assert [s.name for s in specs] == ["ingest-a", "ingest-b", "ingest-c"]
    argv = specs[0].argv
    assert argv[argv.index("--acks") + 1] == "all"
    assert argv[argv.index("--bootstrap") + 1] == kafka.bootstrap_servers(ctx)
    assert "--kafka-debug" not in argv  # only when the profile asks


def test_an_adapters_request_in_flight_is_retried_within_its_events_delivery_timeout_no_jvm():
    """The adapters' producer gives up on a request in flight (a leader cut off answers
    nothing) after the broker's own timeout, and early enough in the delivery timeout that a
    retry to a leader elected 7-10 s later still delivers (at librdkafka's default, 60 s
    capped by the event's time left, it never could)."""
    from flightsearch.ingest import producer_config

    config = producer_config("kafka:9092", "all")
    in_flight, broker, delivery = config["socket.timeout.ms"], config["request.timeout.ms"], config["message.timeout.ms"]
    assert broker < in_flight <= delivery - 20_000, (broker, in_flight, delivery)


def test_describe_quorum_wire_format_no_jvm():
    req = kafka_client.describe_quorum_request(correlation_id=7, client_id="gd")
    assert int.from_bytes(req[:4], "big") == len(req) - 4
    assert req[4:6] == (55).to_bytes(2, "big") and req[6:8] == b"\x00\x00" and req[8:12] == (7).to_bytes(4, "big")
    assert b"__cluster_metadata" in req
    # correlation 7, no header tags, error 0, 1 topic, name, 1 partition, index 0, error 0, leader 2, epoch 5 ...
    topic = b"__cluster_metadata"
    resp = (7).to_bytes(4, "big") + b"\x00" + b"\x00\x00" + b"\x02" + bytes([len(topic) + 1]) + topic + b"\x02"
    resp += (0).to_bytes(4, "big") + b"\x00\x00" + (2).to_bytes(4, "big") + (5).to_bytes(4, "big")
    assert kafka_client.parse_quorum_leader(resp) == 2


def test_only_in_sync_preferred_replicas_get_their_leadership_back_no_jvm():
    state = {
        ("supplier.raw", 0): (1, (1, 2, 3), (1, 2, 3)),  # at rest
        ("supplier.raw", 1): (3, (2, 3, 1), (3, 1, 2)),  # moved by a broker loss: goes back
        ("supplier.raw", 2): (1, (3, 1, 2), (1, 2)),  # preferred replica not in sync: stays
        ("__consumer_offsets", 4): (2, (1, 2, 3), (2, 3, 1)),  # internal topics too
    }
    assert kafka_client.off_preferred(state) == [("__consumer_offsets", 4), ("supplier.raw", 1)]


def test_metadata_wire_format_no_jvm():
    req = kafka_client.metadata_request(correlation_id=3)
    assert req[4:8] == (3).to_bytes(2, "big") + (4).to_bytes(2, "big")  # Metadata v4
    broker = lambda nid, host: nid.to_bytes(4, "big") + len(host).to_bytes(2, "big") + host + (9092).to_bytes(4, "big") + (-1).to_bytes(2, "big", signed=True)
    resp = (3).to_bytes(4, "big") + (0).to_bytes(4, "big") + (2).to_bytes(4, "big") + broker(1, b"10.213.0.11") + broker(3, b"10.213.0.13")
    assert kafka_client.parse_metadata_brokers(resp) == [1, 3]


def test_kafka_leader_and_isr_recovery_measurements_no_jvm():
    from gameday.history import KafkaPartitionSample
    from gameday.measures.kafka import isr_restored_s, leaders_back_s

    def tick(t, rows):
        return [KafkaPartitionSample(t=t, topic="x", partition=p, leader=l, isr=tuple(isr), replicas=(1, 2, 3)) for p, (l, isr) in enumerate(rows)]

    samples = (
        tick(9.0, [(2, [1, 2, 3]), (1, [1, 2, 3])])
        + tick(10.5, [(2, [1, 2, 3]), (1, [1, 2, 3])])  # broker 2 killed at 10: not yet fenced
        + tick(19.0, [(-1, [1, 3]), (1, [1, 3])])
        + tick(20.0, [(3, [1, 3]), (1, [1, 3])])  # every partition led by a live broker
        + tick(30.0, [(3, [1, 2, 3]), (1, [1, 3])])
        + tick(31.0, [(3, [1, 2, 3]), (1, [1, 3, 2])])
    )
    assert leaders_back_s(samples, 10.0, dead=2) == 10.0
    assert isr_restored_s(samples, 25.0, want=3) == 6.0
    assert leaders_back_s(samples[:6], 10.0, dead=2) is None


def test_flink_measurements_no_jvm():
    from gameday.history import FlinkSample, from_json, to_json
    from gameday.measures.flink import checkpoint_age, leader_elected, recovery

    a, b = "http://10.213.0.11:8081", "http://10.213.0.12:8081"
    samples = [
        FlinkSample(t=9.0, leader=a, job="j", state="RUNNING", checkpoint_id=3, checkpoint_at=5.0, tasks_running=True),
        FlinkSample(t=11.0, leader=a, error="rest: refused"),
        FlinkSample(t=14.0, leader=b, job="j", state="RESTARTING", checkpoint_id=3, checkpoint_at=5.0),
        FlinkSample(t=16.0, leader=b, job="j", state="RUNNING", checkpoint_id=3, checkpoint_at=5.0, tasks_running=True),
        FlinkSample(t=21.0, leader=b, job="j", state="RUNNING", checkpoint_id=4, checkpoint_at=20.5, tasks_running=True),
    ]
    assert all(from_json(to_json(s)) == s for s in samples)
    elected = leader_elected(samples, 10.0, a)
    assert elected is not None and elected.t - 10.0 == 4.0
    # RUNNING with all tasks at 16 is not yet progress: the output moves past 100 only at 19.
    r = recovery(samples, [(12.0, 100), (16.0, 100), (19.0, 130)], 10.0)
    assert (r.disrupted.t, r.running.t, r.writing_at) == (11.0, 16.0, 19.0)
    assert recovery(samples, [(12.0, 100), (20.0, 100)], 10.0).writing_at is None
    assert checkpoint_age(samples[-1]) == 0.5 and checkpoint_age(samples[1]) is None


def test_streaming_tiers_yield_the_cpu_to_the_serving_path_no_jvm():
    from gameday.lab.components import ComponentSpec
    from gameday.lab.supervisor import Lab

    lab = Lab(load_profile())
    spec = lambda tier: ComponentSpec(f"{tier}-a", tier, "az-a", ["true"], lambda: None)  # noqa: E731
    assert [lab.base_nice(spec(t)) for t in ("kafka", "zookeeper", "flink", "ingest", "stream")] == [5] * 5
    assert [lab.base_nice(spec(t)) for t in ("redis", "cassandra", "api", "metrics")] == [0] * 4
    assert Lab(load_profile(overrides={"lab": {"streaming_nice": 0}})).base_nice(spec("kafka")) == 0


def test_kafka_cluster_id_never_starts_with_a_dash_no_jvm(monkeypatch):
    """CI run 9: a lab up drew "-4kz-N9iSlW5Cqy0kMnkaA", and kafka-storage read it as an option."""
    import uuid

    drawn = iter([uuid.UUID(bytes=b"\xf8" + b"\x00" * 15), uuid.UUID(bytes=b"\x10" * 16)])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(drawn))
    assert kafka.new_cluster_id() == "EBAQEBAQEBAQEBAQEBAQEA"  # the dashed draw was skipped


@pytest.mark.parametrize(("mode", "sink", "isolation"), [("exactly_once", "exactly-once", "read_committed"), ("at_least_once", "at-least-once", "read_uncommitted")])
def test_the_delivery_mode_sets_the_jobs_sink_and_the_appliers_isolation_together_no_jvm(tmp_path, mode, sink, isolation):
    from gameday.lab.tiers import stream

    ctx = _ctx(tmp_path, {"stream": {"delivery": mode}})
    assert stream.job_env(ctx)["GAMEDAY_DELIVERY"] == sink
    argv = stream.specs(ctx)[0].argv
    assert argv[argv.index("--isolation") + 1] == isolation


def test_the_applier_keeps_the_index_only_in_a_lab_with_search_no_jvm(tmp_path):
    from flightsearch.stream_apply import _args
    from gameday.lab.tiers import search, stream

    ctx = _ctx(tmp_path)
    assert "--search" not in stream.specs(ctx)[0].argv
    argv = stream.specs(ctx, search.urls(ctx))[0].argv
    assert argv[argv.index("--search") + 1] == ",".join(search.urls(ctx))
    assert argv[argv.index("--search-index") + 1] == ctx.profile.get("search.index")
    # The applier rebuilds the documents from the very timetable the index was seeded with.
    a = _args(argv[argv.index("flightsearch.stream_apply") + 1:])
    t = ctx.profile.get("timetable")
    assert (a.timetable_seed, a.timetable_airports, a.timetable_flights, a.timetable_days, a.timetable_start.isoformat()) == (t["seed"], t["airports"], t["flights"], t["days"], t["start"])


def test_search_nodes_publish_with_the_profiles_timeout(tmp_path):
    """A manager elected without the cut-off node waits `search.publish_timeout_s` for it, not
    OpenSearch's 30 s, before its first state applies."""
    import json

    from gameday.lab.tiers import search

    def conf(overrides=None):
        text = search.render_config(_ctx(tmp_path, overrides), "az-b", tmp_path / "data", tmp_path / "logs")
        return {k: json.loads(v) for k, v in (line.split(": ", 1) for line in text.splitlines())}

    assert conf()["cluster.publish.timeout"] == "10s"
    assert conf({"search": {"publish_timeout_s": 30}})["cluster.publish.timeout"] == "30s"
