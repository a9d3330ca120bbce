"""Kafka samplers: partition leadership and ISR of supplier.raw, the brokers the cluster
lists, and a consumer group's committed offsets against each partition's end.

Each tick is one metadata request to every broker (leaders, ISR, brokers; the newest
leader epoch wins) and one offsets round (ListOffsets latest + the group's committed
offsets, through confluent-kafka). A tick that fails is recorded as such (error set), so a
checker sees "the cluster did not answer" rather than a gap.

The job's progress is the output's end offset (see gameday.measures.stream.output_ends).
"""

from __future__ import annotations

import time

from gameday.history import KafkaClusterSample, KafkaOffsetsSample, KafkaPartitionSample, KafkaTopicConfig, Recorder
from gameday.monitors import Sampler

TIMEOUT_S = 1.0


def _admin(bootstrap: str):
    from gameday.clients.kafka import admin

    return admin(bootstrap, timeout_ms=int(TIMEOUT_S * 1000))


def _addresses(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        out.append((host, int(port)))
    return out


def metadata_sampler(recorder: Recorder, bootstrap: str, topic: str, interval_s: float) -> Sampler:
    """Every broker is asked at once for its metadata of `topic`, and each partition is
    recorded as the broker with the newest leader epoch gives it (see
    gameday.clients.kafka.freshest): the cluster's view, not one broker's."""
    from concurrent.futures import ThreadPoolExecutor

    from gameday.clients.kafka import freshest, topic_metadata

    addresses = _addresses(bootstrap)
    pool = ThreadPoolExecutor(max_workers=len(addresses), thread_name_prefix="kafka-metadata")
    known: dict[int, tuple[int, ...]] = {}  # partition -> replicas, to report partitions when metadata fails

    def ask(address: tuple[str, int]):  # type: ignore[no-untyped-def]
        try:
            return topic_metadata(address[0], address[1], topic, TIMEOUT_S)
        except Exception as exc:  # refused, timed out, closed, bad answer
            return exc

    def sample() -> None:
        answers = list(pool.map(ask, addresses))
        now = time.time()  # stamped when the answers arrived
        good = [a for a in answers if not isinstance(a, BaseException) and a[1]]
        if not good:
            error = "; ".join(f"{h}:{p}: {type(a).__name__}: {a}" if isinstance(a, BaseException) else f"{h}:{p}: no partitions of {topic}"
                              for (h, p), a in zip(addresses, answers))[:300]  # fmt: skip
            recorder.add(KafkaClusterSample(t=now, brokers=(), error=error))
            for pid, replicas in sorted(known.items()):
                recorder.add(KafkaPartitionSample(t=now, topic=topic, partition=pid, leader=-1, isr=(), replicas=replicas, error=error))
            return
        newest = max(good, key=lambda a: sum(v.leader_epoch for v in a[1]))
        recorder.add(KafkaClusterSample(t=now, brokers=tuple(sorted(newest[0]))))
        for v in freshest([a[1] for a in good]):
            known[v.partition] = v.replicas
            error = f"error code {v.error}" if v.error else ""
            recorder.add(KafkaPartitionSample(t=now, topic=topic, partition=v.partition, leader=v.leader, isr=tuple(sorted(v.isr)), replicas=v.replicas, error=error))

    return Sampler(f"kafka-metadata-{topic}", interval_s, sample)


def config_sampler(recorder: Recorder, bootstrap: str, topic: str, interval_s: float) -> Sampler:
    """The topic's replication settings as the cluster states them: partitions, replicas,
    min.insync.replicas, retention and unclean election (what kafka.min_isr and the config
    SLOs judge, read from the cluster rather than from the profile)."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    client = _admin(bootstrap)

    def sample() -> None:
        try:
            md = client.list_topics(topic=topic, timeout=TIMEOUT_S).topics.get(topic)
            if md is None or md.error is not None:
                raise RuntimeError(f"topic {topic}: {md.error if md else 'missing'}")
            resource = ConfigResource(ResourceType.TOPIC, topic)
            config = client.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
        except Exception as exc:  # the client raises several types; each is "no answer"
            recorder.add(KafkaTopicConfig(t=time.time(), topic=topic, error=f"{type(exc).__name__}: {exc}"[:200]))
            return
        value = lambda key, default: config[key].value if key in config else default  # noqa: E731
        recorder.add(KafkaTopicConfig(
            t=time.time(), topic=topic, partitions=len(md.partitions),
            replication_factor=min((len(p.replicas) for p in md.partitions.values()), default=-1),
            min_insync_replicas=int(value("min.insync.replicas", "1")), retention_ms=int(value("retention.ms", "-1")),
            unclean_leader_election=value("unclean.leader.election.enable", "false") == "true",
        ))  # fmt: skip

    return Sampler(f"kafka-config-{topic}", interval_s, sample)


# A client whose watermark queries fail this many ticks in a row is replaced by a new one.
REOPEN_AFTER_TICKS = 6


def offsets_sampler(recorder: Recorder, bootstrap: str, topic: str, group: str, partitions: int, interval_s: float) -> Sampler:
    """End offset and `group`'s committed offset of every partition, each tick.

    Through a plain consumer that never joins the group (watermark and OffsetFetch
    requests): the admin client's list_offsets path tripped a librdkafka assertion
    (rd_kafka_enq_once_del_source_return: refcnt > 0) when a broker died mid-request."""
    from confluent_kafka import Consumer

    # read_uncommitted: the end is the high watermark, which moves as a transactional
    # writer appends (librdkafka's default, read_committed, would only move at commits).
    settings = {
        "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
        "isolation.level": "read_uncommitted", "socket.connection.setup.timeout.ms": 1000,
    }  # fmt: skip
    clients = [Consumer(settings)]
    failing = [0]  # consecutive ticks in which some partition did not answer

    def sample() -> None:
        from confluent_kafka import KafkaException, TopicPartition

        if failing[0] >= REOPEN_AFTER_TICKS:
            # Seen in an AZ outage: after the partitions' leader died, this client asked for
            # their watermarks in vain for 254 s, long after new leaders served them.
            clients[0].close()
            clients[0], failing[0] = Consumer(settings), 0
        client = clients[0]
        ends: dict[int, int] = {}
        for p in range(partitions):
            try:
                ends[p] = client.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S, cached=False)[1]
            except KafkaException:
                pass  # recorded as -1 below
        failing[0] = failing[0] + 1 if len(ends) < partitions else 0
        committed: dict[int, int] = {}
        try:
            for tp in client.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=TIMEOUT_S):
                committed[tp.partition] = tp.offset if tp.offset >= 0 else -1
        except KafkaException:
            pass
        now = time.time()  # stamped when the last answer arrived
        for p in range(partitions):
            recorder.add(KafkaOffsetsSample(t=now, group=group, topic=topic, partition=p, end=ends.get(p, -1), committed=committed.get(p, -1)))

    return Sampler(f"kafka-offsets-{group}", interval_s, sample)


def samplers(recorder: Recorder, bootstrap: str, topic: str, group: str, partitions: int, interval_s: float = 0.5) -> list[Sampler]:
    return [metadata_sampler(recorder, bootstrap, topic, interval_s), offsets_sampler(recorder, bootstrap, topic, group, partitions, interval_s)]
