"""Object storage's cross-region replication, as the lab stands it in: the primary region's
raw events lake and the stream job's checkpoints and savepoints, copied to the DR region's
object storage every `dr.sync_interval_s` (the plan: the lake's "disaster recovery via
cross-region sync"; the pilot light's "idle Flink JM" with its state replicated).

It is a component of the primary region (az-a's namespace), not a helper of the host: a
bucket's replication is done by its source region and stops when that region is lost, so the
region drill's SIGKILL of every primary process ends it, and the DR copy is what had been
copied by then. What it copies:

- the lake's committed files (a name starting with a dot is a part file still being written);
  committed files never change, so each is copied once;
- each complete checkpoint and savepoint (a directory holding `_metadata`): its other files
  first, `_metadata` last, so a copy with `_metadata` is whole; the newest `KEPT` per job
  stay in the region.

Every copy lands under a temporary name and is renamed into place: a reader in the region
never sees half a file. After each pass it writes `status-region-sync.json` (atomically).

    python -m gameday.lab.dr.sync --lake SRC DST --flink SRC DST --every S --status DIR
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

NAME = "region-sync"
METADATA = "_metadata"
KEPT = 3


@dataclass(frozen=True)
class SyncPass:
    """One pass: what it copied, and what the region holds after it."""

    t: float
    lake_copied: int
    lake_files: int
    snapshots_copied: int
    newest_checkpoint: str  # "JOB/chk-N" ("" before the first)
    savepoints: int
    took_s: float


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.sync-tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def committed_files(root: Path) -> list[Path]:
    """The lake's committed files, relative to `root` (no path part starts with a dot)."""
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def sync_lake(src: Path, dst: Path) -> int:
    """Copy the committed files `dst` lacks; the number copied."""
    copied = 0
    for rel in committed_files(src):
        if not (dst / rel).exists():
            _copy(src / rel, dst / rel)
            copied += 1
    return copied


def complete_snapshots(root: Path) -> list[Path]:
    """Checkpoint (JOB/chk-N) and savepoint (savepoint-*) directories that hold `_metadata`,
    relative to `root`."""
    if not root.is_dir():
        return []
    return sorted(p.parent.relative_to(root) for p in root.rglob(METADATA) if p.is_file())


def _checkpoint_number(rel: Path) -> int:
    return int(rel.name.split("-", 1)[1]) if rel.name.startswith("chk-") and rel.name[4:].isdigit() else -1


def _newest(snapshots: list[Path], kept: int) -> list[Path]:
    """Every savepoint, and the newest `kept` checkpoints of each job (older ones would be
    pruned again at once)."""
    by_job: dict[Path, list[Path]] = {}
    for rel in snapshots:
        if rel.name.startswith("chk-"):
            by_job.setdefault(rel.parent, []).append(rel)
    newest = {rel for chks in by_job.values() for rel in sorted(chks, key=_checkpoint_number)[-kept:]}
    return [rel for rel in snapshots if not rel.name.startswith("chk-") or rel in newest]


def sync_snapshots(src: Path, dst: Path, kept: int = KEPT) -> int:
    """Copy each complete snapshot `dst` lacks (and the job's shared state files it may
    reference), `_metadata` last; keep the newest `kept` checkpoints per job. The number of
    snapshots copied."""
    copied = 0
    for rel in _newest(complete_snapshots(src), kept):
        if (dst / rel / METADATA).exists():
            continue
        for shared in ("shared", "taskowned"):  # incremental checkpoints' files, beside chk-N
            base = src / rel.parent / shared
            if rel.name.startswith("chk-") and base.is_dir():
                for f in base.rglob("*"):
                    target = dst / f.relative_to(src)
                    if f.is_file() and not target.exists():
                        _copy(f, target)
        files = [f for f in (src / rel).rglob("*") if f.is_file()]
        for f in sorted(files, key=lambda f: f.name == METADATA):
            _copy(f, dst / f.relative_to(src))
        copied += 1
    for job in {rel.parent for rel in complete_snapshots(dst) if rel.name.startswith("chk-")}:
        chks = sorted((p for p in (dst / job).iterdir() if p.is_dir() and p.name.startswith("chk-")), key=lambda p: _checkpoint_number(p.relative_to(dst)))
        for old in chks[:-kept]:
            shutil.rmtree(old, ignore_errors=True)
    return copied


def newest_checkpoint(root: Path) -> str:
    chks = [rel for rel in complete_snapshots(root) if rel.name.startswith("chk-")]
    if not chks:
        return ""
    newest = max(chks, key=lambda rel: ((root / rel / METADATA).stat().st_mtime, _checkpoint_number(rel)))
    return str(newest)


def one_pass(lake: tuple[Path, Path], flink: tuple[Path, Path] | None) -> SyncPass:
    """`lake`: the lake and its copy; `flink`: the Flink storage root (checkpoints/,
    savepoints/) and its copy, when the lab runs the stream job."""
    began = time.monotonic()
    lake_copied = sync_lake(*lake)
    snaps = sum(sync_snapshots(flink[0] / d, flink[1] / d) for d in ("checkpoints", "savepoints")) if flink else 0
    return SyncPass(
        t=time.time(), lake_copied=lake_copied, lake_files=len(committed_files(lake[1])), snapshots_copied=snaps,
        newest_checkpoint=newest_checkpoint(flink[1] / "checkpoints") if flink else "",
        savepoints=len(complete_snapshots(flink[1] / "savepoints")) if flink else 0, took_s=round(time.monotonic() - began, 3),
    )  # fmt: skip


def status_file(directory: Path) -> Path:
    return directory / f"status-{NAME}.json"


def write_status(directory: Path, done: SyncPass | None, error: str = "") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".status-{NAME}.tmp"
    tmp.write_text(json.dumps({**(asdict(done) if done else {"t": time.time()}), "error": error}))
    os.replace(tmp, status_file(directory))


def read_status(directory: Path) -> dict | None:
    try:
        return json.loads(status_file(directory).read_text())
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gameday.lab.dr.sync", description="copy the lake and the stream job's snapshots to the DR region's object storage")
    p.add_argument("--lake", nargs=2, type=Path, metavar=("SRC", "DST"), required=True)
    p.add_argument("--flink", nargs=2, type=Path, metavar=("SRC", "DST"), help="the Flink storage root (checkpoints/, savepoints/) and its copy")
    p.add_argument("--every", type=float, required=True, help="seconds between passes")
    p.add_argument("--status", type=Path, required=True, help="directory of the status file")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    flink = (args.flink[0], args.flink[1]) if args.flink else None
    while True:
        began = time.monotonic()
        try:
            done = one_pass((args.lake[0], args.lake[1]), flink)
            write_status(args.status, done)
            if done.lake_copied or done.snapshots_copied:
                print(f"{time.strftime('%H:%M:%S')} {NAME}: {done.lake_copied} lake file(s), {done.snapshots_copied} snapshot(s) in {done.took_s:.2f} s; "
                      f"the region holds {done.lake_files} lake files, newest checkpoint {done.newest_checkpoint or 'none'}", flush=True)  # fmt: skip
        except OSError as exc:  # a file the job removed mid-copy (an old checkpoint): next pass
            write_status(args.status, None, error=f"{type(exc).__name__}: {exc}"[:300])
        time.sleep(max(0.2, args.every - (time.monotonic() - began)))


if __name__ == "__main__":
    sys.exit(main())
