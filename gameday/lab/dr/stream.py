"""The streaming side of the pilot light (a lab with the stream tier and the dr tier):

- `region-sync` (gameday.lab.dr.sync), in the primary region: the lake's committed files and
  the job's checkpoints and savepoints, copied to the region's object storage;
- `dr-flink-jm`: an idle JobManager in the region (no ZooKeeper there: one JobManager, no
  HA), started with the pilot light; `dr-flink-tm`: its TaskManager, standby;
- the promotion's `resume: stream` (`resume`): starts the TaskManager and submits the job
  there, reading the region's mirror of supplier.raw and writing the region's lake and its
  own prices.normalized, then starts `stream-apply-dr`, the price applier of the region (its
  store node, its promoted cache through its Sentinel, its restored index). The applier's
  writes are idempotent (the store's write time and the index document's version are the
  supplier's timestamp), so what the region reads again is not applied twice.

Where the resumed job starts, per partition of the region's mirror: where the region's
lake ends, translated into the mirror's offsets. The lake's records carry the primary's
(partition, offset); the first offset the replicated lake lacks is mapped through the offset
syncs MirrorMaker 2 keeps in the region (`mm2-offset-syncs.primary.internal`: upstream ->
downstream pairs, at least every `offset.lag.max` records), the way MirrorMaker 2 translates:
at the sync's downstream offset when it names that very record, one past it otherwise, so a
few records may be read twice but none skipped. Not from the job's checkpoint: its source
state holds the primary cluster's offsets, which address other records in the mirror (or
none). Not from the consumer group's offsets MirrorMaker 2 translated either (recorded for
comparison): the job commits them at a checkpoint while its lake keeps the last 10-15 s in
a part file that commits at the next one, so starting there skipped that band of the lake
(389 events acknowledged 11-22 s before the loss, in a run of 2026-12-03).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from flightsearch import OUTPUT_TOPIC, RAW_TOPIC
from gameday.errors import LabError
from gameday.lab import network
from gameday.lab.components import ComponentSpec
from gameday.lab.network import AZS, DR_AZ
from gameday.lab.tiers import LabContext, flink
from gameday.lab.tiers import stream as stream_tier
from gameday.target import Role

JOBMANAGER = "dr-flink-jm"
TASKMANAGER = "dr-flink-tm"
APPLIER = "stream-apply-dr"
SYNC_AZ = AZS[0]
JOB_START_S = 180.0


def storage(ctx: LabContext) -> Path:
    """The region's object storage stand-in: the lake's and Flink's replicated copies, and
    the resumed job's own checkpoints."""
    return ctx.data_dir("dr-storage")


def lake_dir(ctx: LabContext) -> Path:
    return storage(ctx) / "lake" / RAW_TOPIC


def replicated_flink(ctx: LabContext) -> Path:
    return storage(ctx) / "flink"


def own_flink(ctx: LabContext) -> Path:
    return storage(ctx) / "flink-dr"


def _config(ctx: LabContext, role: str, resource_id: str = "") -> dict[str, Any]:
    p = ctx.profile
    conf = flink.render_config(ctx, DR_AZ, role, resource_id)
    for key in [k for k in conf if k.startswith("high-availability")]:
        del conf[key]
    own = own_flink(ctx)
    conf.update({
        "high-availability.type": "NONE",
        "execution.checkpointing.dir": (own / "checkpoints").as_uri(),
        "execution.checkpointing.savepoint-dir": (own / "savepoints").as_uri(),
        "jobmanager.memory.heap.size": f"{p.get('dr.jobmanager_heap_mb')}m",
        "taskmanager.memory.process.size": f"{p.get('dr.taskmanager_process_mb')}m",
        "taskmanager.numberOfTaskSlots": len(AZS),
    })  # fmt: skip
    return conf


def rest_url(ctx: LabContext) -> str:
    return f"http://{ctx.topology.address(DR_AZ)}:{ctx.profile.get('flink.rest_port')}"


def _jm_health(url: str) -> Callable[[], str | None]:
    def check() -> str | None:
        try:
            flink.rest_get(f"{url}/overview", 1.0)
        except (OSError, ValueError) as exc:
            return f"{JOBMANAGER} REST {url}: {exc}"
        return None

    return check


def _tm_health(url: str) -> Callable[[], str | None]:
    def check() -> str | None:
        try:
            tms = flink.rest_get(f"{url}/taskmanagers", 1.0).get("taskmanagers", [])
        except (OSError, ValueError) as exc:
            return f"{JOBMANAGER} REST {url}: {exc}"
        return None if any(tm.get("id") == TASKMANAGER for tm in tms) else f"{TASKMANAGER} is not registered with {JOBMANAGER}"

    return check


def _sync_health(status: Path, every_s: float) -> Callable[[], str | None]:
    from gameday.lab.dr import sync

    def check() -> str | None:
        st = sync.read_status(status)
        if st is None:
            return f"{sync.NAME}: no status yet"
        age = time.time() - st["t"]
        if age > 3 * every_s + 5:
            return f"{sync.NAME}: last pass {age:.0f} s ago"
        return f"{sync.NAME}: {st['error']}" if st.get("error") else None

    return check


def specs(ctx: LabContext) -> list[ComponentSpec]:
    """The region-sync (in the primary region), the idle JobManager and the standby TaskManager."""
    import sys

    from gameday.lab.dr import sync

    p = ctx.profile
    pyflink = flink.ensure_flink()
    for d in (lake_dir(ctx), replicated_flink(ctx), own_flink(ctx)):
        d.mkdir(parents=True, exist_ok=True)
    every = float(p.get("dr.sync_interval_s"))
    argv = [sys.executable, "-m", "gameday.lab.dr.sync", "--lake", str(stream_tier.archive_dir(ctx)), str(lake_dir(ctx)),
            "--flink", str(flink.storage_dirs(ctx)["checkpoints"].parent), str(replicated_flink(ctx)),
            "--every", f"{every:g}", "--status", str(storage(ctx))]  # fmt: skip
    out = [ComponentSpec(sync.NAME, "dr", SYNC_AZ, argv, _sync_health(storage(ctx), every), ctx.topology.address(SYNC_AZ), 0, role=Role.REGION_SYNC)]
    url, addr, rest = rest_url(ctx), ctx.topology.address(DR_AZ), p.get("flink.rest_port")
    conf = flink.write_conf_dir(ctx, JOBMANAGER, pyflink, _config(ctx, "jobmanager"))
    out.append(ComponentSpec(JOBMANAGER, "dr", DR_AZ, ["bash", str(pyflink / "bin" / "jobmanager.sh"), "start-foreground"], _jm_health(url), addr, rest,
                             env=flink.process_env(ctx, JOBMANAGER, conf), role=Role.DR_JOBMANAGER))  # fmt: skip
    conf = flink.write_conf_dir(ctx, TASKMANAGER, pyflink, _config(ctx, "taskmanager", TASKMANAGER))
    out.append(ComponentSpec(TASKMANAGER, "dr", DR_AZ, ["bash", str(pyflink / "bin" / "taskmanager.sh"), "start-foreground"], _tm_health(url), addr, 0,
                             env=flink.process_env(ctx, TASKMANAGER, conf), role=Role.DR_TASKMANAGER, standby=True))  # fmt: skip
    out.append(_applier_spec(ctx))
    return out


def _applier_spec(ctx: LabContext) -> ComponentSpec:
    from gameday.lab.tiers import dr

    p, addr = ctx.profile, ctx.topology.address(DR_AZ)
    search = []
    if "search" in ctx.tiers:
        from gameday.lab.dr import index

        search = [index.url(ctx)]
    out = ctx.data_dir(APPLIER)
    argv = stream_tier.applier_argv(ctx, name=APPLIER, bootstrap=dr.bootstrap(ctx), sentinels=[f"{addr}:{p.get('redis.sentinel.port')}"], stores=[addr], out=out,
                                    search_urls=search)  # fmt: skip
    return ComponentSpec(APPLIER, "dr", DR_AZ, argv, stream_tier.applier_health(out, APPLIER), addr, 0, role=Role.DR_APPLIER, standby=True)


# --- the promotion's step -----------------------------------------------------------------


def translated_offsets(bootstrap: str, group: str, topic: str, timeout_s: float = 10) -> dict[int, int]:
    """The group's committed offsets in the region (MirrorMaker 2's translation): partition ->
    offset; empty when it translated none."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    from gameday.clients.kafka import admin

    futures = admin(bootstrap).list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=timeout_s)
    result = futures[group].result(timeout=timeout_s)
    return {tp.partition: tp.offset for tp in result.topic_partitions if tp.topic == topic and tp.offset >= 0}


def ensure_topic(bootstrap: str, topic: str, partitions: int, timeout_s: float = 30) -> bool:
    """Create `topic` in the region (one replica) unless it is there; True when created."""
    from confluent_kafka.admin import NewTopic

    from gameday.clients.kafka import admin

    client = admin(bootstrap, 3000)
    if topic in client.list_topics(timeout=timeout_s).topics:
        return False
    client.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)], request_timeout=timeout_s)[topic].result(timeout=timeout_s)
    return True


def job_settings(ctx: LabContext) -> dict[str, str]:
    from gameday.lab.tiers import dr

    return {
        "GAMEDAY_KAFKA": dr.bootstrap(ctx),
        "GAMEDAY_ARCHIVE": lake_dir(ctx).as_uri(),
        "GAMEDAY_PARALLELISM": str(len(AZS)),
    }


def running_job(url: str) -> dict[str, Any] | None:
    """The stream job on the region's JobManager when all its tasks run, else None."""
    try:
        jobs = [j for j in flink.rest_get(f"{url}/jobs/overview").get("jobs", []) if j.get("name") == stream_tier.JOB_NAME and j.get("state") == "RUNNING"]
        if not jobs:
            return None
        detail = flink.rest_get(f"{url}/jobs/{jobs[0]['jid']}")
    except (OSError, ValueError):
        return None
    return detail if all(v.get("status") == "RUNNING" for v in detail.get("vertices", [])) else None


def lake_ends(lake: Path) -> dict[int, int]:
    """Per primary partition, the first offset the region's lake lacks (its first hole, or
    one past its last record): the lake is whole below it."""
    import json

    from gameday.lab.dr.sync import committed_files

    seen: dict[int, set[int]] = {}
    for rel in committed_files(lake):
        for line in (lake / rel).read_text().splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e.get("kafka_partition"), int) and isinstance(e.get("kafka_offset"), int):
                seen.setdefault(e["kafka_partition"], set()).add(e["kafka_offset"])
    out = {}
    for p, offsets in seen.items():
        o = min(offsets)
        while o in offsets:
            o += 1
        out[p] = o
    return out


def to_mirror(syncs: list[tuple[int, int]], upstream: int) -> int:
    """The mirror's offset from which every record at or after primary offset `upstream` is
    read: the newest (upstream, downstream) sync at or below it gives its downstream offset
    when it names that record, one past it otherwise; no sync below it: the mirror's start."""
    below = [(u, d) for u, d in syncs if u <= upstream]
    if not below:
        return 0
    u, d = max(below)
    return d if u == upstream else d + 1


def offset_syncs(bootstrap: str, topic: str, timeout_s: float = 20) -> dict[int, list[tuple[int, int]]]:
    """MirrorMaker 2's offset syncs for `topic` in the region: partition -> [(upstream,
    downstream)]. Its records are a STRING topic and an INT32 partition (key), two INT64
    offsets (value), as Kafka's OffsetSync writes them."""
    import struct

    from confluent_kafka import Consumer, TopicPartition

    from gameday.clients.kafka import _QUIET

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "gameday-dr-resume", "enable.auto.commit": False, "logger": _QUIET})
    try:
        md = consumer.list_topics(timeout=timeout_s)
        names = [t for t in md.topics if t.startswith("mm2-offset-syncs.") and t.endswith(".internal")]
        if not names:
            return {}
        parts = list(md.topics[names[0]].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(names[0], p), timeout=timeout_s)[1] for p in parts}
        consumer.assign([TopicPartition(names[0], p, 0) for p in parts if ends[p] > 0])
        out: dict[int, list[tuple[int, int]]] = {}
        pending, deadline = {p for p in parts if ends[p] > 0}, time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            m = consumer.poll(1.0)
            if m is None or m.error():
                continue
            key, value = m.key(), m.value()
            n = struct.unpack(">h", key[:2])[0]
            if key[2 : 2 + n].decode() == topic:
                partition = struct.unpack(">i", key[2 + n : 6 + n])[0]
                out.setdefault(partition, []).append(struct.unpack(">qq", value[:16]))
            if m.offset() + 1 >= ends[m.partition()]:
                pending.discard(m.partition())
        if pending:
            raise LabError(f"could not read MirrorMaker 2's offset syncs ({names[0]}) to their end in {timeout_s:.0f} s")
        return out
    finally:
        consumer.close()


def start_offsets(partitions: list[int], lake_end: dict[int, int], syncs: dict[int, list[tuple[int, int]]]) -> dict[int, int]:
    """Where the resumed job reads each partition of the mirror from (pure)."""
    return {p: to_mirror(syncs.get(p, []), lake_end[p]) if p in lake_end else 0 for p in partitions}


def resume(lab, st, ctx: LabContext) -> str:  # noqa: ANN001 - the promotion's step
    if "stream" not in ctx.tiers:
        return "nothing to resume: this lab has no stream tier"
    from gameday.lab.dr import sync
    from gameday.lab.dr.status import end_offsets
    from gameday.lab.tiers import dr

    network.assert_routed_locally(ctx.topology, dr.address(ctx))
    boot = dr.bootstrap(ctx)
    ends = end_offsets(boot, RAW_TOPIC)
    lake_end = lake_ends(lake_dir(ctx))
    start = start_offsets(sorted(ends), lake_end, offset_syncs(boot, RAW_TOPIC))
    try:  # for comparison only: a group MirrorMaker 2 never translated must not stop the step
        group = translated_offsets(boot, stream_tier.JOB_GROUP, RAW_TOPIC)
    except Exception:  # the admin client raises KafkaException and several others
        group = {}
    created = ensure_topic(boot, OUTPUT_TOPIC, ctx.profile.get("kafka.partitions"))
    tm_s = lab.start_standby(TASKMANAGER, timeout_s=120)
    settings = {**job_settings(ctx), "GAMEDAY_START_OFFSETS": ";".join(f"partition:{p},offset:{o}" for p, o in sorted(start.items()))}
    submit_s = stream_tier.submit(ctx, lambda _m: None, conf_dir=ctx.conf_dir(JOBMANAGER), settings=settings)
    url, began = rest_url(ctx), time.monotonic()
    while (job := running_job(url)) is None:
        if time.monotonic() - began > JOB_START_S:
            raise LabError(f"the stream job did not run on {JOBMANAGER} within {JOB_START_S:.0f} s of its submission", hint=f"see logs/{JOBMANAGER}.log")
        time.sleep(1)
    applier_s = lab.start_standby(APPLIER, timeout_s=60)
    replay = sum(max(0, end - start.get(p, 0)) for p, end in ends.items())
    where = ", ".join(f"p{p} {start[p]}/{ends[p]}" + (f" (group {group[p]})" if p in group else "") for p in sorted(ends))
    newest = (sync.read_status(storage(ctx)) or {}).get("newest_checkpoint") or "none"
    return (f"{TASKMANAGER} registered in {tm_s:.1f} s; job {job['jid']} submitted in {submit_s:.1f} s and running on {JOBMANAGER}, "
            f"reading the mirror from where the region's lake ends ({where}: {replay} records to read; the lake held {len(lake_end)} partitions); "
            f"{'created ' + OUTPUT_TOPIC + ' there; ' if created else ''}the newest replicated checkpoint ({newest}) is not restored: "
            f"its source offsets are the primary cluster's; {APPLIER} applies its output to the region's store, cache{' and index' if 'search' in ctx.tiers else ''} "
            f"(healthy in {applier_s:.1f} s)")  # fmt: skip
