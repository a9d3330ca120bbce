"""What every lab test module shares: the repo, and running the gameday CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GAMEDAY = [sys.executable, "-m", "gameday.cli"]


def gameday(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run `gameday ARGS` in the repo; its output is echoed so a failing test shows it."""
    proc = subprocess.run(GAMEDAY + list(args), cwd=REPO, capture_output=True, text=True, timeout=timeout)
    sys.stderr.write(proc.stderr[-4000:])
    sys.stdout.write(proc.stdout)
    return proc


def fresh_lab() -> None:
    """Skip without root (the AZs are network namespaces); otherwise stop any lab first."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("the lab's network namespaces need root")
    gameday("lab", "down")
