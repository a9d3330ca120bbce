"""The keeper: the lab's stand-in for an orchestrator's restart policy.

The plan counts on Kubernetes restarting failed API pods and on the autoscaler restarting
ingestion tasks. Kubernetes restarts a dead container (restartPolicy: Always) after a
backoff that doubles with each restart and resets once the container has run a while.
When `lab.restart.policy` is `always`, `gameday lab up` starts one keeper for the lab (a
helper: `lab down` ends it before anything else). It watches the PIDs of the API
instances and the ingestion adapters and starts a dead one again as `gameday lab restart`
does, recording each restart in the state file. A frozen process is alive: as for a pod
whose process hangs, only a liveness probe would see it, and the keeper has none (an
adapter that cannot reach Kafka exits by itself: `ingest.stall_exit_s`).

A dead adapter whose AZ is lost or cut off is started in another AZ instead (as a pod is
rescheduled off a node the orchestrator lost), the one with the fewest adapters; it stays
there. Dead API instances there wait for their AZ: HAProxy knows them by address.

    python -m gameday.lab.keeper --home LAB_HOME
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass

from gameday.errors import LabError
from gameday.lab import state
from gameday.target import Role

# The plan's stateless tiers, which an orchestrator restarts.
RESTARTED_ROLES = (Role.API.value, Role.INGEST.value)
NAME = "keeper"
POLL_S = 0.5
HEALTHY_WITHIN_S = 30.0  # a restart that is not healthy by then is left running, and logged


@dataclass(frozen=True)
class Backoff:
    """Kubernetes' crash-loop backoff, scaled to a drill: `base_s` after the first death,
    doubled for each restart in the `reset_after_s` before this death, at most `max_s`."""

    base_s: float
    max_s: float
    reset_after_s: float

    def delay(self, restarts: list[float], died_at: float) -> float:
        recent = sum(1 for t in restarts if 0 <= died_at - t < self.reset_after_s)
        return min(self.base_s * 2**recent, self.max_s)


def backoff_of(profile) -> Backoff:  # noqa: ANN001 - gameday.profile.Profile
    return Backoff(profile.get("lab.restart.backoff_s"), profile.get("lab.restart.max_backoff_s"), profile.get("lab.restart.reset_after_s"))


def moved_roles() -> tuple[str, ...]:
    from gameday.lab.supervisor import MOVABLE_ROLES

    return tuple(r.value for r in MOVABLE_ROLES)


def new_home(live_azs: list[str], unusable: set[str]) -> str | None:
    """Where a component of a lost or cut-off AZ is started: a usable AZ with the fewest live
    components of its kind (`live_azs`: their AZs), the first by name on a tie."""
    from gameday.lab.network import AZS

    usable = [az for az in AZS if az not in unusable]
    return min(usable, key=lambda az: (live_azs.count(az), az)) if usable else None


def _reap() -> None:
    """Collect the exited children this keeper started (they are tracked by PID, not waited on)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} keeper: {message}", flush=True)


def keep(home) -> int:  # noqa: ANN001 - pathlib.Path
    """Watch until the lab's state file is gone (or SIGTERM); 0 when the lab went away."""
    from gameday.lab.supervisor import Lab
    from gameday.profile import Profile, with_defaults

    dead_since: dict[str, float] = {}
    moved = moved_roles()
    while True:
        _reap()
        st = state.load(home)
        if st is None:
            log("the lab is gone: stopping")
            return 0
        # An AZ that is lost has no nodes to restart on (the drill regains it): what can move
        # is started elsewhere, the rest waits.
        unusable = set(st.lost_azs) | set(st.partitioned)
        dead = [name for name, t in st.components.items()
                if t.role in RESTARTED_ROLES and not t.alive() and (t.az not in st.lost_azs or t.role in moved)]  # fmt: skip
        for name in set(dead_since) - set(dead):
            dead_since.pop(name)
        if not dead:  # the usual poll: no profile to build (its YAML parse was most of the keeper's CPU)
            time.sleep(POLL_S)
            continue
        profile = Profile(with_defaults(st.profile), "lab state")
        backoff = backoff_of(profile)
        now = time.time()
        for name in dead:
            tracked = st.components[name]
            died = dead_since.setdefault(name, now)
            wait = backoff.delay(st.restarts.get(name, []), died)
            if now - died < wait:
                continue
            move_to = None
            if tracked.role in moved and tracked.az in unusable:
                move_to = new_home([t.az for t in st.components.values() if t.role == tracked.role and t.alive()], unusable)
                if move_to is None:  # every AZ lost or cut off: nowhere to go
                    continue
            why = "lost" if tracked.az in st.lost_azs else "cut off"
            log(f"{name} (pid {tracked.pid}) died {now - died:.1f} s ago: "
                + (f"its AZ {tracked.az} is {why}: starting it in {move_to}" if move_to else "restarting it") + f" (backoff {wait:g} s)")
            restarted_at = time.time()
            state.update(home, lambda s, n=name: s.restarts.setdefault(n, []).append(restarted_at))
            try:
                lab = Lab(profile)
                healthy = lab.reschedule(name, move_to, timeout_s=HEALTHY_WITHIN_S) if move_to else lab.restart(name, timeout_s=HEALTHY_WITHIN_S)
                log(f"{name} healthy {healthy:.1f} s after its restart" + (f" in {move_to}" if move_to else ""))
            except LabError as exc:
                log(f"{name} restarted but {exc}")
            dead_since.pop(name, None)
        time.sleep(POLL_S)


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m gameday.lab.keeper", description="restart the lab's dead API instances and ingestion adapters")
    parser.add_argument("--home", required=True, type=Path, help="the lab's home (its state file)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(f"watching {', '.join(RESTARTED_ROLES)} processes of the lab in {args.home}")
    return keep(args.home)


if __name__ == "__main__":
    sys.exit(main())
