"""The harness side of a region drill: searches through the global entry point every second
(what clients saw, and which region served them), the promotion's own record folded into
the run's history, and after the drill the region audits: the log's
(gameday.monitors.region_audit) and the store's (`store_audit`: the drill's store writes
acknowledged before the loss, read back from the DR region's store node)."""

from __future__ import annotations

import json
import random
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from flightsearch import timetable
from gameday import procs
from gameday.faults import Fault
from gameday.history import EntrySearch, FaultPhase, History, Record, Recorder, RegionLakeAudit, RegionStoreAudit, StoreReadBack, StoreWrite
from gameday.monitors import Sampler
from gameday.monitors.stream_watch import read_records
from gameday.profile import Profile
from gameday.target import Target

# SLOs a region drill measures here.
MEASURED = {"dr.rpo", "dr.rto", "dr.promote_after"}
QUERIES = 50  # routes with flights, searched in turn
STORE_SETTLE_S = 15.0


def wanted(tiers: list[str]) -> bool:
    return "dr" in tiers


def queries(profile: Profile, n: int = QUERIES) -> list[tuple[str, str, str]]:
    """(origin, destination, date) of flights the timetable has: a correct answer lists some."""
    tt = timetable.from_settings(profile.get("timetable"))
    rng = random.Random(11)
    picked = rng.sample(tt.flights, min(n, len(tt.flights)))
    return [(f.origin, f.destination, f.date.isoformat()) for f in picked]


def entry_sampler(recorder: Recorder, target: Target, profile: Profile, interval_s: float = 1.0) -> Sampler:
    base = target.lb_url()
    asked = queries(profile)
    turn = iter(range(10**9))

    def sample() -> None:
        origin, dest, day = asked[next(turn) % len(asked)]
        began = time.time()
        try:
            with urllib.request.urlopen(f"{base}/search?origin={origin}&destination={dest}&date={day}", timeout=2.0) as resp:
                body = json.loads(resp.read())
                instance = resp.headers.get("X-Gameday-Instance", "")
            flights = len(body.get("flights") or [])
            recorder.add(EntrySearch(t=began, ok=flights > 0, instance=instance, flights=flights, latency_s=time.time() - began,
                                     error="" if flights else "no flights in the answer"))  # fmt: skip
        except urllib.error.HTTPError as exc:
            recorder.add(EntrySearch(t=began, ok=False, latency_s=time.time() - began, error=f"HTTP {exc.code}"))
        except (OSError, ValueError) as exc:
            recorder.add(EntrySearch(t=began, ok=False, latency_s=time.time() - began, error=f"{type(exc).__name__}: {exc}"[:200]))

    return Sampler("entry-search", interval_s, sample)


def region_lost_at(history: History) -> float | None:
    """The instant the run lost the primary region, from its history (None: it did not)."""
    lost = [f.t for f in history.faults() if f.fault == Fault.REGION_LOSS.value and f.phase is FaultPhase.INJECTED]
    return min(lost) if lost else None


def writes_store(slos: list[str] | tuple[str, ...] | set[str]) -> bool:
    """A region drill judging the RPO writes the store (gameday.monitors.store's writer):
    what the primary acknowledged is then looked for in the DR region's store node."""
    return "dr.rpo" in slos


def acked_before(writes: list[StoreWrite], lost_at: float) -> dict[str, tuple[int, float]]:
    """key -> (value, acknowledged at) of every write acknowledged before the loss."""
    out = {}
    for w in writes:
        acked = w.t + w.latency_ms / 1000.0
        if w.ok and acked < lost_at:
            out[w.key] = (w.value, acked)
    return out


def store_audit(writes: list[StoreWrite], read: StoreReadBack, lost_at: float) -> RegionStoreAudit:
    """The store's share of the RPO from the writes and their read-back in the DR region.
    Pure: the same history gives the same audit."""
    acked = acked_before(writes, lost_at)
    if read.error:
        return RegionStoreAudit(t=read.t, lost_at=lost_at, node=read.node, consistency=read.consistency, acknowledged=len(acked), error=read.error)
    missing = sorted((k for k in read.missing if k in acked), key=lambda k: acked[k][1])
    return RegionStoreAudit(
        t=read.t, lost_at=lost_at, node=read.node, consistency=read.consistency, acknowledged=len(acked), missing=len(missing),
        failed=len([k for k in read.failed if k in acked]), window_s=round(max((lost_at - acked[k][1] for k in missing), default=0.0), 3),
        missing_sample=tuple(missing[:20]),
    )  # fmt: skip


def audit_store(target: Target, profile: Profile, history: History, lost_at: float, say: Callable[[str], None]) -> RegionStoreAudit:
    from gameday.monitors.store import read_back

    writes = history.of(StoreWrite)
    acked = acked_before(writes, lost_at)
    node = target.dr_store_node()
    level = profile.get("cassandra.read_consistency")  # what the region's API reads at
    if not acked:
        return RegionStoreAudit(t=time.time(), lost_at=lost_at, node=", ".join(node), consistency=level, acknowledged=0,
                                error="no store write was acknowledged before the loss" if writes else "the store writer recorded no write")  # fmt: skip
    say(f"reading back {len(acked)} store writes acknowledged before the loss through the DR region's store node at {level}")
    began = time.monotonic()
    # Nothing can reach the region's node from a lost primary: the settle time only covers
    # reads that time out on a busy host.
    (read,) = read_back(node, profile.get("cassandra.keyspace"), level, {k: v for k, (v, _) in acked.items()}, settle_s=STORE_SETTLE_S)
    audit = store_audit(writes, read, lost_at)
    say(f"store audit in {time.monotonic() - began:.1f} s: " + (audit.error or f"{audit.missing} of {audit.acknowledged} missing, {audit.failed} unreadable"))
    return audit


def measure(target: Target, profile: Profile, history_path: Path, run_dir: Path, since: float, say: Callable[[str], None], audit: bool) -> list[Record]:
    """The promotion's records since the run began, and (`audit`) the region audits."""
    out: list[Record] = [e for e in target.dr_promotion() if e.t >= since]
    history = History.read(history_path)
    lost_at = region_lost_at(history)
    if not audit or lost_at is None:
        return out
    try:
        out.append(audit_store(target, profile, history, lost_at, say))
    except Exception as exc:  # a crashed audit is no measurement: dr.rpo reads unknown
        out.append(RegionStoreAudit(t=time.time(), lost_at=lost_at, error=f"{type(exc).__name__}: {exc}"[:500]))
    path, log = run_dir / "region-audit.jsonl", run_dir / "region-audit.log"
    argv = [sys.executable, "-m", "gameday.monitors.region_audit", "--out", str(path), "--bootstrap", target.dr_kafka_bootstrap(),
            "--ack-dir", str(target.ingest_ack_dir()), "--lost-at", f"{lost_at:.3f}"]  # fmt: skip
    lake, lake_wait = target.dr_lake_dir(), float(profile.get("dr.lake_wait_s"))
    if lake is not None:
        argv += ["--lake", str(lake), "--lake-wait", f"{lake_wait:g}"]
    say("auditing every event acknowledged before the loss against the DR region's copy of supplier.raw" + (" and its raw events lake" if lake else ""))
    tracked = procs.spawn("region-audit", argv, log, tier="monitor")
    target.track_helper(tracked)
    try:
        if not tracked.wait_gone(300 + (lake_wait if lake else 0)):
            tracked.end(2)
    finally:
        target.forget_helper(tracked.name)
    found = read_records(path)
    if lake is not None and not any(isinstance(r, RegionLakeAudit) for r in found):  # the audit died before its lake record
        found.append(RegionLakeAudit(t=time.time(), lost_at=lost_at, error=f"the region audit recorded no lake audit (see {log})"))
    return out + found
