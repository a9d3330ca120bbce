"""The index snapshots' schedule: a helper of the lab (`lab down` ends it) that snapshots the
primary's index to the object storage stand-in every `dr.snapshot_interval_s`, keeping the
newest `dr.snapshots_kept`. A failed snapshot (the primary cluster down or busy) is logged
and tried again at the next interval; once the region is promoted there is nothing to
snapshot from, and the helper ends.

    python -m gameday.lab.dr.snapshots --home LAB_HOME
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gameday.errors import LabError
from gameday.history import PromotionPhase
from gameday.lab import network, state
from gameday.lab.dr import helper, index
from gameday.lab.dr.status import promotion_events

NAME = "dr-snapshots"


log = helper.logger("snapshots")


def run(home: Path) -> int:
    from gameday.lab.tiers import search

    found = helper.lab_of(home, log)
    if found is None:
        return 0
    lab, st = found
    profile, ctx = lab.profile, lab.context(st)
    network.assert_routed_locally(st.topology, st.topology.host_address)
    urls, name = search.urls(ctx), profile.get("search.index")
    every, keep = float(profile.get("dr.snapshot_interval_s")), int(profile.get("dr.snapshots_kept"))
    log(f"snapshotting {name} to {index.repo_dir(ctx)} every {every:g} s, keeping {keep}")
    last = time.monotonic()
    while True:
        time.sleep(max(0.0, every - (time.monotonic() - last)))
        last = time.monotonic()
        if state.load(home) is None:
            log("the lab is gone: stopping")
            return 0
        if any(e.phase is PromotionPhase.DECIDED for e in promotion_events(home)):
            log("the region was promoted: stopping")
            return 0
        errors = []
        for node in urls:  # any node of the primary cluster coordinates a snapshot
            try:
                snap, took = index.take(node, name, keep)
                log(f"{snap.name}: {snap.shards_ok} shard(s) in {took:.1f} s")
                break
            except (OSError, LabError, ValueError) as exc:
                errors.append(f"{node}: {type(exc).__name__}: {exc}"[:200])
        else:
            log("no snapshot this time: " + "; ".join(errors))


def main(argv: list[str] | None = None) -> int:
    return helper.main("python -m gameday.lab.dr.snapshots", "snapshot the lab's index to the DR object storage on a schedule", run, log, argv)


if __name__ == "__main__":
    sys.exit(main())
