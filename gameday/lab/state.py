"""The lab state file: every PID the lab started, and how the lab was laid out.

Written atomically after every change, so a harness killed at any moment
leaves a file `gameday lab down` can clean up from. Several processes change it (the
CLI, a run's probes, the keeper restarting what died): each change is `update`, a
read-modify-write under a lock, so no writer puts back a PID another has replaced.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from gameday.lab.network import Isolation, Topology
from gameday.procs import Tracked


@dataclass
class LabState:
    topology: Topology
    profile: dict[str, Any]
    tiers: list[str]
    started_at: float
    ready_at: float | None = None
    components: dict[str, Tracked] = field(default_factory=dict)
    # Processes a run started (load generators): ended by `lab down` too.
    helpers: dict[str, Tracked] = field(default_factory=dict)
    # Live settings a run changed and must put back (e.g. Sentinel down-after).
    tuned: dict[str, Any] = field(default_factory=dict)
    # Component -> when the keeper restarted it (seconds since the epoch), oldest first.
    restarts: dict[str, list[float]] = field(default_factory=dict)
    # AZs a drill took down whole: nothing runs there (the keeper restarts nothing) until regained.
    lost_azs: list[str] = field(default_factory=list)
    # AZ -> partition mode (gameday.lab.partition) while a drill has it cut off.
    partitioned: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["topology"]["isolation"] = self.topology.isolation.value
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "LabState":
        data = json.loads(text)
        topo = data.pop("topology")
        return cls(
            topology=Topology(Isolation(topo["isolation"]), topo["subnet"], topo["bridge"], topo.get("dr_subnet", "10.214.0.0/24")),
            components={k: Tracked(**v) for k, v in data.pop("components").items()},
            helpers={k: Tracked(**v) for k, v in data.pop("helpers").items()},
            **data,
        )


def state_path(home: Path) -> Path:
    return home / "state.json"


def load(home: Path) -> LabState | None:
    path = state_path(home)
    if not path.exists():
        return None
    return LabState.from_json(path.read_text())


def save(home: Path, state: LabState) -> None:
    home.mkdir(parents=True, exist_ok=True)
    path = state_path(home)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)


@contextmanager
def locked(home: Path) -> Iterator[None]:
    """Exclusive use of the state file while held (an flock on a file beside it)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "state.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def update(home: Path, change: Callable[[LabState], None]) -> LabState | None:
    """Apply `change` to the state as it is on disk now and save it; None when there is no
    lab (nothing changed)."""
    with locked(home):
        current = load(home)
        if current is None:
            return None
        change(current)
        save(home, current)
        return current


def remove(home: Path) -> None:
    state_path(home).unlink(missing_ok=True)
