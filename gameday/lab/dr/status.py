"""What the pilot-light region holds, asked of the running system: how far its copy of
the log is behind the primary's, whether its cache replica is linked, whether its store
node answers, and what the promotion has done (its record file)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from gameday.history import PromotionEvent, from_json

_CONSUMERS: dict[str, object] = {}


def _consumer(bootstrap: str):
    """One metadata-only consumer per cluster, kept: a health check asks every 0.25 s."""
    from confluent_kafka import Consumer

    from gameday.clients.kafka import _QUIET  # a dead primary must not print librdkafka's retries

    if bootstrap not in _CONSUMERS:
        _CONSUMERS[bootstrap] = Consumer({"bootstrap.servers": bootstrap, "group.id": "gameday-dr-status", "enable.auto.commit": False,
                                          "socket.connection.setup.timeout.ms": 1500, "logger": _QUIET})  # fmt: skip
    return _CONSUMERS[bootstrap]


def end_offsets(bootstrap: str, topic: str, timeout_s: float = 3.0) -> dict[int, int]:
    from confluent_kafka import TopicPartition

    consumer = _consumer(bootstrap)
    md = consumer.list_topics(topic, timeout=timeout_s)
    parts = md.topics[topic].partitions if topic in md.topics and md.topics[topic].error is None else {}
    if not parts:
        raise LookupError(f"{topic} does not exist at {bootstrap}")
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1] for p in sorted(parts)}


@dataclass(frozen=True)
class LogLag:
    primary_end: int  # records in the primary's topic (sum of partition ends)
    dr_end: int
    behind: int  # records the region's copy lacks, over all partitions

    def describe(self) -> str:
        return f"{self.behind} records behind ({self.dr_end} of {self.primary_end})"


def log_lag(primary: str, dr: str, topic: str) -> LogLag:
    """The region's copy against the primary's topic, partition by partition. The identity
    replication policy keeps partition numbers; the mirror's offsets can differ from the
    source's only where records were lost or repeated, so end offsets compare."""
    src, dst = end_offsets(primary, topic), end_offsets(dr, topic)
    behind = sum(max(0, end - dst.get(p, 0)) for p, end in src.items())
    return LogLag(sum(src.values()), sum(dst.values()), behind)


def promotion_file(home: Path) -> Path:
    return home / "dr" / "promotion.jsonl"


def promotion_events(home: Path) -> list[PromotionEvent]:
    """What the promotions of this lab recorded, oldest first (a line cut short is skipped)."""
    path, out = promotion_file(home), []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = from_json(line)
            except ValueError:
                continue
            if isinstance(rec, PromotionEvent):
                out.append(rec)
    return out


def _snapshot_line(ctx) -> str:  # noqa: ANN001 - LabContext
    """The newest snapshot of the index in the object storage, asked of whichever cluster
    answers (the primary's, or the region's once restored)."""
    from gameday.lab.dr import index
    from gameday.lab.tiers import search

    errors = []
    for node in [*search.urls(ctx), index.url(ctx)]:
        try:
            done = [s for s in index.snapshots(node) if s.complete]
        except Exception as exc:  # a cluster down, or the repository not registered there
            errors.append(f"{type(exc).__name__}")
            continue
        if not done:
            return f"no complete snapshot in {index.repo_dir(ctx)}"
        return f"newest snapshot {done[-1].name}, {time.time() - done[-1].end_s:.0f} s old ({len(done)} kept, every {ctx.profile.get('dr.snapshot_interval_s'):g} s)"
    return "snapshots not listed: no search cluster answered (" + ", ".join(sorted(set(errors))) + ")"


def status_lines(lab) -> list[str]:  # noqa: ANN001 - gameday.lab.supervisor.Lab
    """`gameday dr status`: the region's processes, how far its copy of the log is behind,
    its cache replica's link, and what the promotion did."""
    import redis

    from gameday.clients import redis as redis_client
    from gameday.lab.tiers import dr, kafka

    st = lab.require_state()
    if "dr" not in st.tiers:
        return ["this lab has no DR region (start it with --tiers ...,dr)"]
    ctx = lab.context(st)
    by_name = {c.name: c for c in lab.status()}
    out = []
    for spec in lab.specs_by_name(st).values():
        if spec.az != dr.DR_AZ:
            continue
        c = by_name.get(spec.name)
        state = c.state + (f" ({c.problem})" if c and c.problem else "") if c else "standby (started by the promotion)"
        out.append(f"{spec.name:14} {state}")
    try:
        out.append(f"log            {kafka.TOPIC}: {log_lag(kafka.bootstrap_servers(ctx), dr.bootstrap(ctx), kafka.TOPIC).describe()}")
    except Exception as exc:  # the primary is gone after a region loss: say so
        out.append(f"log            not compared ({type(exc).__name__}: {exc})")
    try:
        info = redis_client.client(dr.address(ctx), ctx.profile.get("redis.port"), 1.0).info("replication")
        role = info.get("role")
        out.append(f"cache          {dr.CACHE}: " + (f"replica of {info.get('master_host')}, link {info.get('master_link_status')}" if role == "slave" else "primary (promoted)"))
    except redis.RedisError as exc:
        out.append(f"cache          {dr.CACHE}: {exc}")
    if "search" in st.tiers:
        out.append("index          " + _snapshot_line(ctx))
    if "stream" in st.tiers:
        out += _stream_lines(ctx)
    events = promotion_events(lab.home)
    if not events:
        out.append(f"promotion      none yet (promoter: {ctx.profile.get('dr.promoter')}, decision wait {ctx.profile.get('dr.decision_wait_s'):g} s)")
    for e in events:
        clock = time.strftime("%H:%M:%S", time.localtime(e.t))
        out.append(f"promotion      {clock} {e.phase.value} {e.step} {e.by} {e.detail}".rstrip())
    return out


def _stream_lines(ctx) -> list[str]:  # noqa: ANN001 - LabContext
    """The replicated lake and checkpoints, and what the region's JobManager runs."""
    from gameday.lab.dr import stream, sync

    st = sync.read_status(stream.storage(ctx))
    if st is None:
        lines = ["lake           not replicated yet (no region-sync pass)"]
    else:
        age = time.time() - st["t"]
        lines = [f"lake           {st.get('lake_files', 0)} files in the region, last replicated {age:.0f} s ago" + (f" ({st['error']})" if st.get("error") else ""),
                 f"checkpoints    newest replicated: {st.get('newest_checkpoint') or 'none'}, {st.get('savepoints', 0)} savepoint(s)"]  # fmt: skip
    job = stream.running_job(stream.rest_url(ctx))
    lines.append(f"stream job     {'running on ' + stream.JOBMANAGER + ' (' + job['jid'] + ')' if job else 'not running in the region (its JobManager idles)'}")
    return lines
