"""Ingestion adapters: the simulated suppliers, one adapter process per AZ (see flightsearch.ingest).

Suppliers are dealt round-robin to the AZs (15 suppliers: 5 per AZ). Ack logs, sequence
reservations and status files live in `<lab home>/data/ingest/`, which a new lab empties.
A process is healthy when its status file is fresh and, once it has produced, it has
had an acknowledgement in the last few seconds.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from flightsearch.ingest import supplier_ids
from flightsearch.statusfile import read_status
from gameday.lab.components import ComponentSpec
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext
from gameday.lab.tiers.kafka import TOPIC, bootstrap_servers
from gameday.target import Role

STALE_S = 5.0


def process_name(az: str) -> str:
    return f"ingest-{az[-1]}"


def ack_dir(ctx: LabContext) -> Path:
    return ctx.home / "data" / "ingest"


def assignment(ctx: LabContext) -> dict[str, list[str]]:
    """AZ -> the suppliers its adapter hosts."""
    out: dict[str, list[str]] = {az: [] for az in AZS}
    for i, s in enumerate(supplier_ids(ctx.profile.get("ingest.suppliers"))):
        out[AZS[i % len(AZS)]].append(s)
    return out


def _health(out_dir: Path, process: str):
    def check() -> str | None:
        status = read_status(out_dir, process)
        if status is None:
            return f"{process}: no status file yet"
        now = time.time()
        if now - status["t"] > STALE_S:
            return f"{process}: status is {now - status['t']:.0f} s old"
        last_ack = max((s["last_ack"] for s in status["suppliers"].values()), default=0.0)
        if status["produced"] > 0 and now - last_ack > STALE_S:
            since = f"for {now - last_ack:.0f} s" if last_ack > 0 else "since it started"
            return f"{process}: no acknowledgement {since} ({status['in_flight']} in flight)"
        return None

    return check


def specs(ctx: LabContext) -> list[ComponentSpec]:
    p = ctx.profile
    out_dir = ack_dir(ctx)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for az, suppliers in assignment(ctx).items():
        if not suppliers:
            continue
        name = process_name(az)
        argv = [
            sys.executable, "-m", "flightsearch.ingest",
            "--process", name,
            "--bootstrap", bootstrap_servers(ctx),
            "--topic", TOPIC,
            "--suppliers", ",".join(suppliers),
            "--rate", str(p.get("ingest.rate_per_supplier")),
            "--acks", str(p.get("kafka.acks")),
            "--dir", str(out_dir),
            "--fsync-ms", str(p.get("ingest.fsync_ms")),
            "--stall-exit-s", str(p.get("ingest.stall_exit_s")),
            "--seed", str(p.get("timetable.seed")),
            "--flights", str(p.get("timetable.flights")),
        ] + (["--kafka-debug", p.get("ingest.kafka_debug")] if p.get("ingest.kafka_debug") else [])  # fmt: skip
        out.append(ComponentSpec(name, "ingest", az, argv, _health(out_dir, name), ctx.topology.address(az), 0, role=Role.INGEST))
    return out


def prepare(ctx: LabContext) -> None:
    """A new lab starts with empty ack logs (they must match this lab's supplier.raw)."""
    shutil.rmtree(ack_dir(ctx), ignore_errors=True)
