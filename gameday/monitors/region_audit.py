"""The region audit, in a process of its own (it runs a Kafka consumer: see
gameday.monitors.streaming for why those stay out of the harness process).

Every event an adapter saw acknowledged up to the instant the primary region was lost must
be in the DR region's copy of supplier.raw. What is missing is the data the region lost;
its window is how long before the loss the oldest missing event was acknowledged (the
plan's RPO: "< 5 seconds data loss maximum"). The suppliers' own ack logs say what was
acknowledged: they outlive the region, as a supplier's records would.

    python -m gameday.monitors.region_audit --out F --bootstrap DR_KAFKA --ack-dir D --lost-at T
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from flightsearch import RAW_TOPIC
from gameday.history import Recorder, RegionAudit
from gameday.monitors.audit import acked_until, counts, read_events


def window(acked: dict[tuple[str, int], float], missing: set[tuple[str, int]], lost_at: float) -> float:
    """Seconds before the loss at which the oldest missing event was acknowledged (0: none missing)."""
    return max((lost_at - acked[k] for k in missing), default=0.0)


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
    recorder.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gameday.monitors.region_audit")
    p.add_argument("--out", required=True)
    p.add_argument("--bootstrap", required=True, help="the DR region's Kafka")
    p.add_argument("--ack-dir", required=True)
    p.add_argument("--lost-at", type=float, required=True, help="the instant the primary region was lost (epoch s)")
    p.add_argument("--timeout", type=float, default=120.0, help="longest read of the region's topic (s)")
    run(p.parse_args(argv))
    os._exit(0)  # see gameday.monitors.streaming: no librdkafka teardown


if __name__ == "__main__":
    main()
