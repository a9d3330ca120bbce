"""The region audit, in a process of its own (it runs a Kafka consumer: see
gameday.monitors.streaming for why those stay out of the harness process).

Every event an adapter saw acknowledged up to the instant the primary region was lost must
be in the DR region's copy of supplier.raw. What is missing is the data the region lost;
its window is how long before the loss the oldest missing event was acknowledged (the
plan's RPO: "< 5 seconds data loss maximum"). The suppliers' own ack logs say what was
acknowledged: they outlive the region, as a supplier's records would.

With `--lake DIR` (a lab with the stream job), the same events against the DR region's raw
events lake: the audit trail the plan keeps "during incidents". The region's lake is the
primary's committed files that had been replicated before the loss plus what the job
resumed in the region wrote; the audit waits (up to `--lake-wait`) for that job's commits.

    python -m gameday.monitors.region_audit --out F --bootstrap DR_KAFKA --ack-dir D --lost-at T [--lake DIR --lake-wait S]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from flightsearch import RAW_TOPIC
from gameday.history import Recorder, RegionAudit, RegionLakeAudit
from gameday.monitors.audit import Key, acked_until, counts, read_archive, read_events

LAKE_POLL_S = 5.0


def window(acked: dict[tuple[str, int], float], missing: set[tuple[str, int]], lost_at: float) -> float:
    """Seconds before the loss at which the oldest missing event was acknowledged (0: none missing)."""
    return max((lost_at - acked[k] for k in missing), default=0.0)


def lake_audit(acked: dict[Key, float], in_lake: dict[Key, int], lost_at: float, files: int, waited_s: float) -> RegionLakeAudit:
    """The lake's share of the RPO, from what was acknowledged and what the lake holds (key ->
    copies). Pure."""
    missing = set(acked) - in_lake.keys()
    return RegionLakeAudit(
        t=time.time(), lost_at=lost_at, acknowledged=len(acked), missing=len(missing), window_s=round(window(acked, missing, lost_at), 3),
        twice=len([k for k in acked if in_lake.get(k, 0) > 1]), files=files, waited_s=round(waited_s, 1),
        missing_sample=tuple(f"{s}-{q:06d}" for s, q in sorted(missing, key=lambda k: acked[k])[:20]),
    )  # fmt: skip


def audit_lake(lake: Path, acked: dict[Key, float], lost_at: float, wait_s: float) -> RegionLakeAudit:
    """Read the region's lake until it holds every acknowledged event or `wait_s` has passed."""
    began = time.monotonic()
    while True:
        files = [p for p in lake.rglob("*") if p.is_file() and not p.name.startswith(".")] if lake.is_dir() else []
        in_lake = counts(read_archive(lake)) if lake.is_dir() else {}
        audit = lake_audit(acked, in_lake, lost_at, len(files), time.monotonic() - began)
        if audit.missing == 0 or time.monotonic() - began >= wait_s:
            return audit
        time.sleep(LAKE_POLL_S)


def run(args: argparse.Namespace) -> None:
    recorder = Recorder(Path(args.out))
    began = time.time()
    try:
        acked = acked_until(Path(args.ack_dir), args.lost_at)
        in_region = counts(read_events(args.bootstrap, RAW_TOPIC, committed=False, timeout_s=args.timeout))
        missing = set(acked) - in_region.keys()
        recorder.add(RegionAudit(
            t=time.time(), lost_at=args.lost_at, acknowledged=len(acked), missing_in_log=len(missing),
            window_s=round(window(acked, missing, args.lost_at), 3), newest_ack_before_loss=max(acked.values(), default=0.0),
            missing_sample=tuple(f"{s}-{q:06d}" for s, q in sorted(missing, key=lambda k: acked[k])[:20]), waited_s=time.time() - began,
        ))  # fmt: skip
    except Exception as exc:
        recorder.add(RegionAudit(t=time.time(), lost_at=args.lost_at, waited_s=time.time() - began, error=f"{type(exc).__name__}: {exc}"[:500]))
    if args.lake:
        try:
            recorder.add(audit_lake(Path(args.lake), acked_until(Path(args.ack_dir), args.lost_at), args.lost_at, args.lake_wait))
        except Exception as exc:
            recorder.add(RegionLakeAudit(t=time.time(), lost_at=args.lost_at, error=f"{type(exc).__name__}: {exc}"[:500]))
    recorder.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gameday.monitors.region_audit")
    p.add_argument("--out", required=True)
    p.add_argument("--bootstrap", required=True, help="the DR region's Kafka")
    p.add_argument("--ack-dir", required=True)
    p.add_argument("--lost-at", type=float, required=True, help="the instant the primary region was lost (epoch s)")
    p.add_argument("--timeout", type=float, default=120.0, help="longest read of the region's topic (s)")
    p.add_argument("--lake", help="the DR region's raw events lake (a directory)")
    p.add_argument("--lake-wait", type=float, default=120.0, help="longest wait for the lake to hold every acknowledged event (s)")
    run(p.parse_args(argv))
    os._exit(0)  # see gameday.monitors.streaming: no librdkafka teardown


if __name__ == "__main__":
    main()
