"""The harness side of the streaming measurements: starts the streaming monitor process
(gameday.monitors.streaming) beside a drill and the audit process (gameday.monitors.audit)
after it, both as helpers the target tracks, and folds what they wrote into the history."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from gameday import procs
from gameday.delivery import Delivery
from gameday.history import MONITOR_RESTARTED, CanaryPath, Marker, Record, StreamDelivery, from_json
from gameday.profile import Profile
from gameday.target import Target

STREAM_TIERS = {"kafka", "flink", "stream", "ingest"}
# SLOs that need the post-drill audit (acks against topic, output and lake; lag; ingest).
AUDITED = {"data.events_lost", "data.events_duplicated", "ingest.lag", "kafka.consumer_lag_p95"}


def wanted(tiers: list[str]) -> bool:
    return bool(STREAM_TIERS & set(tiers))


class StreamMonitor:
    def __init__(self, target: Target, profile: Profile, run_dir: Path, canary: bool) -> None:
        self.target = target
        self.profile = profile
        self.out = run_dir / "streaming-monitor.jsonl"
        self.log = run_dir / "streaming-monitor.log"
        self.canary = canary
        self.tracked: procs.Tracked | None = None
        self.restarts = 0
        self.markers: list[Record] = []
        self._stop: threading.Event | None = None

    def start(self) -> None:
        self._spawn()
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watchdog, name="streaming-monitor-watchdog", daemon=True)
        self._watch.start()

    def _watchdog(self) -> None:
        """librdkafka has aborted this process when a broker died mid-request (an assertion
        in rd_kafka_enq_once_del_source_return): start it again, appending to the same
        file, and say so in the history. The gap shows as missing samples, never as data."""
        while not self._stop.wait(0.5):
            tr = self.tracked
            if tr is not None and not tr.alive():
                self.target.forget_helper(tr.name)
                self.restarts += 1
                self.markers.append(Marker(t=time.time(), name=MONITOR_RESTARTED, detail=f"streaming monitor pid {tr.pid} ended unexpectedly (restart {self.restarts}); see streaming-monitor.log"))
                self._spawn()

    def _spawn(self) -> None:
        t, p = self.target, self.profile
        argv = [sys.executable, "-m", "gameday.monitors.streaming", "--out", str(self.out), "--bootstrap", t.kafka_bootstrap(), "--partitions", str(p.get("kafka.partitions"))]
        if "flink" in t.tiers():
            argv += ["--zk", t.zk_quorum(), "--leader-path", t.flink_leader_path(), "--job-name", t.stream_job_name()]
        if self.canary:
            tt = p.get("timetable")
            argv += ["--api-url", t.lb_url(), "--canary-via", canary_via(t).value, "--seed", str(tt["seed"]), "--airports", str(tt["airports"]),
                     "--flights", str(tt["flights"]), "--days", str(tt["days"]), "--start", str(tt["start"])]  # fmt: skip
        self.tracked = procs.spawn("streaming-monitor", argv, self.log, tier="monitor")
        t.track_helper(self.tracked)

    def stop(self) -> list[Record]:
        if self._stop is not None:
            self._stop.set()
            self._watch.join(timeout=5)
        tr = self.tracked
        if tr is None:
            return list(self.markers)
        if tr.alive():
            tr.signal(signal.SIGTERM)
            if not tr.wait_gone(10):
                tr.end(2)
        self.target.forget_helper(tr.name)
        self.tracked = None
        return list(self.markers) + read_records(self.out)


def canary_via(target: Target) -> CanaryPath:
    """What the freshness canary watches: what is searchable, the index's seats, when the lab
    has a search index (the applier keeps it current); the price otherwise."""
    return CanaryPath.INDEX if {"search", "stream"} <= set(target.tiers()) else CanaryPath.PRICE


def delivery_record(target: Target, profile: Profile, t: float) -> StreamDelivery | None:
    """The lab's delivery mode, for the history (None: the lab runs no stream)."""
    tiers = target.tiers()
    if "stream" not in tiers:
        return None
    mode = Delivery(profile.get("stream.delivery"))
    return StreamDelivery(t=t, mode=mode, sink=mode.sink_guarantee, isolation=mode.isolation,
                          checkpoint_interval_s=float(profile.get("flink.checkpoint_interval_s")), index_kept="search" in tiers)


def judged_from(since: float, checkpoint_s: float, settled_at: float | None) -> float:
    """Where the run's own events begin: one checkpoint interval before the run (events the
    job had not yet committed when a fault in the run hit), but not before the platform was
    put back at rest for it. Settling moves Kafka leaders back to their preferred brokers,
    and with acks=1 (a lab built to miss the plan) a move loses what the old leader had
    acknowledged and not yet replicated: that is the earlier drill's aftermath and the
    settling's, not this run's fault, and it is reported beside the run, not judged in it."""
    start = since - checkpoint_s
    return max(start, settled_at) if settled_at is not None else start


def audit(target: Target, profile: Profile, run_dir: Path, since: float, cutoff: float, say: Callable[[str], None],
          settled_at: float | None = None) -> list[Record]:
    """Run the audit process to completion (bounded) and return its records. `settled_at`:
    when the settling before the run moved something back (see `judged_from`)."""
    out, log = run_dir / "audit.jsonl", run_dir / "audit.log"
    # Output commits at the next checkpoint; a lake file rolls within ~15 s and commits at
    # the checkpoint after that. Two intervals and a margin cover both, even across a restore.
    wait = 2 * profile.get("flink.checkpoint_interval_s") + 30
    first = judged_from(since, profile.get("flink.checkpoint_interval_s"), settled_at)
    argv = [
        sys.executable, "-m", "gameday.monitors.audit", "--out", str(out), "--bootstrap", target.kafka_bootstrap(),
        "--ack-dir", str(target.ingest_ack_dir()), "--archive", str(target.lake_dir()),
        "--since", f"{since:.3f}", "--cutoff", f"{cutoff:.3f}", "--judged-from", f"{first:.3f}", "--wait", str(wait),
    ]  # fmt: skip
    say(f"auditing acknowledged events against supplier.raw, the job's output and the lake (waits up to {wait} s for the job's commits)")
    began = time.monotonic()
    tracked = procs.spawn("audit", argv, log, tier="monitor")
    target.track_helper(tracked)
    try:
        if not tracked.wait_gone(wait + 240):
            tracked.end(2)
    finally:
        target.forget_helper(tracked.name)
    say(f"audit done in {time.monotonic() - began:.0f} s")
    return read_records(out)


def read_records(path: Path) -> list[Record]:
    """What a helper process wrote; a line cut short by its crash is skipped."""
    out: list[Record] = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                out.append(from_json(line))
            except (ValueError, KeyError, TypeError):
                continue
    return out
