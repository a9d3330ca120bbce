"""What the DR region's helper processes (the promoter, the index snapshots) share: a
timestamped log line, the lab they serve read from its state file, and one entry point that
ends on SIGTERM (`lab down`) and turns a LabError into exit 2."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from gameday.errors import LabError
from gameday.lab import state


def logger(tag: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {tag}: {message}", flush=True)

    return log


def lab_of(home: Path, log: Callable[[str], None]):  # noqa: ANN201 - (Lab, LabState) or None
    """The lab at `home` as its state file has it, or None (no lab: the helper has nothing to do)."""
    from gameday.lab.supervisor import Lab
    from gameday.profile import Profile, with_defaults

    st = state.load(home)
    if st is None:
        log("no lab: stopping")
        return None
    return Lab(Profile(with_defaults(st.profile), "lab state"), log), st


def main(prog: str, description: str, run: Callable[[Path], int], log: Callable[[str], None], argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--home", required=True, type=Path, help="the lab's home (its state file)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return run(args.home)
    except LabError as exc:
        log(f"stopped: {exc}")
        return 2
