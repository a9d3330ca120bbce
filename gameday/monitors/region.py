"""The harness side of a region drill: searches through the global entry point every second
(what clients saw, and which region served them), the promotion's own record folded into
the run's history, and the region audit (gameday.monitors.region_audit) after the drill."""

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
from gameday.history import EntrySearch, FaultPhase, History, Record, Recorder
from gameday.monitors import Sampler
from gameday.monitors.stream_watch import read_records
from gameday.profile import Profile
from gameday.target import Target

# SLOs a region drill measures here.
MEASURED = {"dr.rpo", "dr.rto", "dr.promote_after"}
QUERIES = 50  # routes with flights, searched in turn


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


def region_lost_at(history_path: Path) -> float | None:
    """The instant the run lost the primary region, from its history (None: it did not)."""
    lost = [f.t for f in History.read(history_path).faults() if f.fault == Fault.REGION_LOSS.value and f.phase is FaultPhase.INJECTED]
    return min(lost) if lost else None


def measure(target: Target, history_path: Path, run_dir: Path, since: float, say: Callable[[str], None], audit: bool) -> list[Record]:
    """The promotion's records since the run began, and (`audit`) the region audit."""
    out: list[Record] = [e for e in target.dr_promotion() if e.t >= since]
    lost_at = region_lost_at(history_path)
    if not audit or lost_at is None:
        return out
    path, log = run_dir / "region-audit.jsonl", run_dir / "region-audit.log"
    argv = [sys.executable, "-m", "gameday.monitors.region_audit", "--out", str(path), "--bootstrap", target.dr_kafka_bootstrap(),
            "--ack-dir", str(target.ingest_ack_dir()), "--lost-at", f"{lost_at:.3f}"]  # fmt: skip
    say("auditing every event acknowledged before the loss against the DR region's copy of supplier.raw")
    tracked = procs.spawn("region-audit", argv, log, tier="monitor")
    target.track_helper(tracked)
    try:
        if not tracked.wait_gone(300):
            tracked.end(2)
    finally:
        target.forget_helper(tracked.name)
    return out + read_records(path)
