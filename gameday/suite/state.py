"""suite.json: where a suite stands, written atomically after every change so an interrupted
(or killed) suite can be resumed from its last completed drill and re-reported."""

from __future__ import annotations

import enum
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gameday.errors import InputError
from gameday.suite.spec import Outcome

FILE = "suite.json"


class DrillStatus(str, enum.Enum):
    PENDING = "pending"  # not run yet (a resume runs it)
    DONE = "done"  # ran to an outcome
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C: a resume runs it again
    NOT_RUN = "not_run"  # the suite stopped before it (policy), or its lab did not start


@dataclass
class Attempt:
    run_dir: str  # relative to the suite directory
    started_at: float
    ended_at: float
    exit_code: int
    status: str  # the run's own status (verdicts.json), or why there is none
    reason: str


@dataclass
class DrillRecord:
    key: str
    experiment: str
    lab: str
    status: DrillStatus = DrillStatus.PENDING
    outcome: Outcome | None = None
    attempts: list[Attempt] = field(default_factory=list)
    note: str = ""  # why it was not run

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


@dataclass
class LabStart:
    lab: str
    tiers: list[str]
    started_at: float
    took_s: float
    exit_code: int
    reason: str = ""  # "first drill", "after region-failover: the lab was not healthy", ...


@dataclass
class SuiteState:
    name: str
    suite_file: str
    suite_sha256: str
    created_at: float
    drills: list[DrillRecord]
    labs: list[LabStart] = field(default_factory=list)
    sessions: list[dict] = field(default_factory=list)  # each start or resume: {"t", "action", "operator"}
    stopped: str = ""  # why the suite ended before its last drill ("" when it did not)
    finished_at: float | None = None

    def save(self, suite_dir: Path) -> None:
        data = asdict(self)
        tmp = suite_dir / f".{FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=_plain) + "\n")
        os.replace(tmp, suite_dir / FILE)  # a reader never sees half a file

    @classmethod
    def read(cls, suite_dir: Path) -> "SuiteState":
        path = suite_dir / FILE
        if not path.is_file():
            raise InputError(f"{suite_dir}: no {FILE}; is this a gameday suite directory?")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["drills"] = [
                DrillRecord(**{**d, "status": DrillStatus(d["status"]), "outcome": Outcome(d["outcome"]) if d.get("outcome") else None,
                               "attempts": [Attempt(**a) for a in d.get("attempts", [])]})
                for d in data["drills"]
            ]  # fmt: skip
            data["labs"] = [LabStart(**lab) for lab in data.get("labs", [])]
            return cls(**data)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: not a gameday suite state ({type(exc).__name__}: {exc})"[:500]) from None

    def exit_code(self) -> int:
        """As for one run, aggregated: 1 when any drill failed (or halted), else 2 when any could
        not be carried out or measured (or was never run), else 0."""
        outcomes = [d.outcome for d in self.drills if d.status is DrillStatus.DONE]
        if any(o in (Outcome.FAIL, Outcome.HALT) for o in outcomes):
            return 1
        if any(o is Outcome.UNKNOWN for o in outcomes) or any(d.status is not DrillStatus.DONE for d in self.drills):
            return 2
        return 0


def _plain(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON")
