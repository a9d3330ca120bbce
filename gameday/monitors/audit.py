"""The post-drill audit, Jepsen-style, in a process of its own (it runs Kafka consumers;
see gameday.monitors.streaming for why they stay out of the harness process).

Every event an adapter saw acknowledged up to the cutoff must be:
  - in supplier.raw (read uncommitted: the adapters do not use transactions),
  - in the stream job's output exactly once (read_committed: what a consumer of the
    job's exactly-once output sees),
  - in the raw events lake, each of its supplier.raw records exactly once (committed
    files only; in-progress ones start with a dot). The lake is the audit trail of
    supplier.raw: an event the producer wrote twice (librdkafka's idempotent producer can,
    on a leader change: confluentinc/librdkafka#4953) is rightly there twice; a record the
    archive wrote twice is its own exactly-once failure.
The job commits its output and its archive at checkpoints, so the audit waits (bounded)
for the events to arrive before counting what is still missing as lost.

It also turns the adapters' ack and nack logs into per-second ingest records, and the
job's uncommitted output (which it writes as it processes) into per-second processing lag.
Writes its records as JSONL into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from pathlib import Path

from flightsearch import OUTPUT_TOPIC, RAW_TOPIC
from flightsearch.ingest import producer_config, read_ack_lines, read_nacks
from gameday.history import IngestSecond, IntegrityAudit, Recorder
from gameday.measures.stream import processing_lag

Key = tuple[str, int]
# A delivery the adapters' producer gave up on waited at least this long (its message timeout).
DELIVERY_TIMEOUT_S = producer_config("", "all")["message.timeout.ms"] / 1000


def acked_until(ack_dir: Path, cutoff: float) -> dict[Key, float]:
    """Every event acknowledged up to `cutoff` -> the time of its acknowledgement."""
    out: dict[Key, float] = {}
    for path in sorted(ack_dir.glob("*.acks")):
        for seq, _, _, ack_t, _ in read_ack_lines(path):
            if ack_t <= cutoff:
                out[(path.stem, seq)] = ack_t
    return out


def split_at(acked: dict[Key, float], judged_from: float) -> tuple[set[Key], set[Key]]:
    """(judged, earlier): the events acknowledged from `judged_from` on are this run's; the
    ones before belong to the lab's earlier life (an earlier drill's loss is not this run's)."""
    judged = {k for k, t in acked.items() if t >= judged_from}
    return judged, set(acked) - judged


def ingest_seconds(ack_dir: Path, since: float, until: float) -> list[IngestSecond]:
    acked: dict[int, int] = {}
    failed: dict[int, int] = {}
    worst: dict[int, float] = {}
    for path in sorted(ack_dir.glob("*.acks")):
        for _, _, _, ack_t, created in read_ack_lines(path):
            if since <= ack_t <= until and created > 0:
                sec = int(ack_t)
                acked[sec] = acked.get(sec, 0) + 1
                worst[sec] = max(worst.get(sec, 0.0), ack_t - created)
    for path in sorted(ack_dir.glob("*.nacks")):
        for _, t, _ in read_nacks(path):
            if since <= t <= until:
                failed[int(t)] = failed.get(int(t), 0) + 1
    return [IngestSecond(t=float(s), acked=acked.get(s, 0), failed=failed.get(s, 0), max_ack_latency_s=worst.get(s, 0.0), failed_lag_floor_s=DELIVERY_TIMEOUT_S) for s in sorted(set(acked) | set(failed))]


def read_events(bootstrap: str, topic: str, committed: bool, timeout_s: float = 120) -> list[dict]:
    """Every event in the topic up to each partition's end at the time of the call."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"gameday-audit-{uuid.uuid4()}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "isolation.level": "read_committed" if committed else "read_uncommitted",
    })  # fmt: skip
    md = consumer.list_topics(topic, timeout=10)
    parts = sorted(md.topics[topic].partitions)
    # For read_committed the end is the last stable offset, which is what the call returns.
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    pending = {p for p in parts if ends[p] > 0}
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    out: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        msgs = consumer.consume(2000, 0.5)
        for msg in msgs:
            if msg.error():
                continue
            p = msg.partition()
            if msg.offset() < ends[p]:
                out.append(json.loads(msg.value()))
            if msg.offset() >= ends[p] - 1:
                pending.discard(p)
        if not msgs and committed:
            # Transaction markers occupy offsets: an idle read_committed consumer at the
            # end has no message left to show, so check its position instead.
            for tp in consumer.position([TopicPartition(topic, p) for p in list(pending)]):
                if tp.offset >= ends[tp.partition] - 1:
                    pending.discard(tp.partition)
    if pending:
        raise TimeoutError(f"could not read partitions {sorted(pending)} of {topic} to their end in {timeout_s:.0f} s")
    return out


def read_archive(archive: Path) -> list[dict]:
    out = []
    for path in sorted(archive.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            for line in path.read_text().splitlines():
                if line.strip():
                    out.append(json.loads(line))
    return out


def counts(events: list[dict]) -> dict[Key, int]:
    seen: dict[Key, int] = {}
    for e in events:
        if e.get("supplier") is not None and e.get("seq") is not None:
            key = (e["supplier"], int(e["seq"]))
            seen[key] = seen.get(key, 0) + 1
    return seen


def archived_twice(events: list[dict]) -> dict[Key, int]:
    """Events with a supplier.raw record (partition, offset) the lake holds more than once:
    {event: 2} for each, the shape `compare` reads as duplicated."""
    copies: dict[tuple[Key, object, object], int] = {}
    for e in events:
        if e.get("supplier") is not None and e.get("seq") is not None:
            record = ((e["supplier"], int(e["seq"])), e.get("kafka_partition"), e.get("kafka_offset"))
            copies[record] = copies.get(record, 0) + 1
    return {key: 2 for (key, _, _), n in copies.items() if n > 1}


def compare(acked: set[Key], seen: dict[Key, int]) -> tuple[list[Key], list[Key]]:
    """(lost, duplicated) among the acknowledged events."""
    return sorted(acked - seen.keys()), sorted(k for k in acked if seen.get(k, 0) > 1)


def run(args: argparse.Namespace) -> None:
    recorder = Recorder(Path(args.out))
    ack_dir, archive = Path(args.ack_dir), Path(args.archive)
    began = time.time()
    try:
        recorder.extend(ingest_seconds(ack_dir, args.since, args.cutoff))
        acked, earlier = split_at(acked_until(ack_dir, args.cutoff), args.judged_from)
        # An event missing from supplier.raw is lost at Kafka and will never reach the job's
        # output or the lake: wait only for the ones the topic holds.
        topic = counts(read_events(args.bootstrap, RAW_TOPIC, committed=False))
        expected = acked & topic.keys()
        # Wait for the job to commit what was acknowledged (bounded), then count.
        deadline = time.monotonic() + args.wait
        while True:
            output = read_events(args.bootstrap, args.output_topic, committed=True)
            archived = read_archive(archive)
            in_output, in_archive = counts(output), counts(archived)
            missing = len(expected - in_output.keys()) + len(expected - in_archive.keys())
            if missing == 0 or time.monotonic() > deadline:
                break
            time.sleep(3)
        raw_output = read_events(args.bootstrap, args.output_topic, committed=False)
        recorder.extend(processing_lag(raw_output, args.since, args.cutoff))
        lost_t, dup_t = compare(acked, topic)
        lost_o, dup_o = compare(acked, in_output)
        lost_a, _ = compare(acked, in_archive)
        _, dup_a = compare(acked, archived_twice(archived))
        earlier_lost = {k for k in earlier if k not in topic or k not in in_output or k not in in_archive}
        fmt = lambda keys: tuple(f"{s}-{q:06d}" for s, q in keys[:20])  # noqa: E731
        recorder.add(IntegrityAudit(
            t=time.time(), cutoff=args.cutoff, acknowledged=len(acked),
            lost_in_topic=len(lost_t), duplicated_in_topic=len(dup_t),
            lost_in_output=len(lost_o), duplicated_in_output=len(dup_o),
            lost_in_archive=len(lost_a), duplicated_in_archive=len(dup_a),
            waited_s=time.time() - began,
            lost_sample=fmt(sorted(set(lost_t) | set(lost_o) | set(lost_a))), duplicated_sample=fmt(sorted(set(dup_o) | set(dup_a) | set(dup_t))),
            judged_from=args.judged_from, earlier_acknowledged=len(earlier), earlier_lost=len(earlier_lost),
        ))  # fmt: skip
    except Exception as exc:
        recorder.add(IntegrityAudit(t=time.time(), cutoff=args.cutoff, acknowledged=-1, waited_s=time.time() - began, error=f"{type(exc).__name__}: {exc}"[:500]))
    recorder.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gameday.monitors.audit")
    p.add_argument("--out", required=True)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--ack-dir", required=True)
    p.add_argument("--archive", required=True)
    p.add_argument("--output-topic", default=OUTPUT_TOPIC)
    p.add_argument("--since", type=float, required=True, help="start of the run (epoch s)")
    p.add_argument("--cutoff", type=float, required=True, help="acks up to this instant are audited (epoch s)")
    p.add_argument("--judged-from", type=float, default=0.0, help="acks from this instant on are the run's own (epoch s; default: all)")
    p.add_argument("--wait", type=float, default=75.0, help="longest wait for the job to commit them (s)")
    run(p.parse_args(argv))
    os._exit(0)  # see gameday.monitors.streaming: no librdkafka teardown


if __name__ == "__main__":
    main()
