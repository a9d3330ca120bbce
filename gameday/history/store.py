"""The run history: one timestamped stream of typed records, in memory and on disk.

Client measurements, monitor samples and fault events share one history (the Jepsen
way), so a checker sees what was injected and what was observed on one clock. On disk it
is JSON Lines, one record a line, tagged with its kind; a saved history can be re-read and
re-checked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

from gameday.history.events import FaultEvent, FaultPhase
from gameday.history.record import Record, from_json, to_json
from gameday.history.samples import Inventory

R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class History:
    records: tuple[Record, ...]

    @classmethod
    def of_records(cls, records: Iterable[Record]) -> "History":
        return cls(tuple(sorted(records, key=lambda r: r.t)))

    def of(self, cls: type[R]) -> list[R]:
        return [r for r in self.records if isinstance(r, cls)]

    def faults(self) -> list[FaultEvent]:
        return self.of(FaultEvent)

    def topology(self, role: str) -> tuple[str, ...] | None:
        """The components of a role the target listed at the start (None: not recorded)."""
        return next((r.components for r in self.of(Inventory) if r.role == role), None)

    def fault_window(self) -> tuple[float, float] | None:
        """From the first injected fault to the last revert (or the end of the history)."""
        faults = self.faults()
        injected = [f.t for f in faults if f.phase is FaultPhase.INJECTED]
        if not injected:
            return None
        start = min(injected)
        reverted = [f.t for f in faults if f.phase is FaultPhase.REVERTED and f.t >= start]
        end = max(reverted) if reverted else self.records[-1].t
        return start, end

    def write(self, path: Path) -> None:
        path.write_text("".join(to_json(r) + "\n" for r in self.records))

    @classmethod
    def read(cls, path: Path) -> "History":
        """ValueError naming the file and line of the first line that is not a record."""
        return cls.of_records(_records(path))


def _records(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield from_json(line)
                except ValueError as exc:
                    raise ValueError(f"{path}: line {number}: {exc}") from None


class Recorder:
    """Thread-safe append-only sink that monitors, load and faults write into.

    Every record is flushed to disk as it arrives, so a harness killed mid-run
    still leaves the history it had gathered.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fh = path.open("a")

    def add(self, record: Record) -> None:
        line = to_json(record) + "\n"
        with self._lock:
            if not self._fh.closed:
                self._fh.write(line)
                self._fh.flush()

    def extend(self, records: Iterable[Record]) -> None:
        for r in records:
            self.add(r)

    def close(self) -> None:
        with self._lock:
            self._fh.close()
