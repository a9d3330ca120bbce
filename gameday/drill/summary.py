"""verdicts.json: what a run concluded, its verdicts and its load, as plain data."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gameday.checkers.verdicts import Outcome, Verdict
from gameday.errors import InputError
from gameday.load.run import LoadSummary


@dataclass
class RunSummary:
    """What verdicts.json holds: times in epoch seconds, latencies in ms."""

    run_id: str
    experiment: str
    target: str
    started_at: float
    ended_at: float
    exit_code: int
    status: str  # carried_out | not_carried_out | deviated | interrupted | halted
    reason: str
    verdicts: list[Outcome] = field(default_factory=list)
    load: LoadSummary | None = None

    def to_json(self) -> str:
        data = asdict(self)
        for v in data["verdicts"]:
            v["verdict"] = Verdict(v["verdict"]).value
        return json.dumps(data, indent=2)

    def write(self, path: Path) -> None:
        path.write_text(self.to_json() + "\n")

    @classmethod
    def read(cls, path: Path) -> "RunSummary":
        """InputError naming the file when it is missing or not a run summary."""
        if not path.is_file():
            raise InputError(f"{path} does not exist", hint="is this a gameday run directory?")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["verdicts"] = [Outcome(**{**v, "verdict": Verdict(v["verdict"])}) for v in data["verdicts"]]
            data["load"] = LoadSummary(**data["load"]) if data.get("load") else None
            return cls(**data)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise InputError(f"{path} is not a gameday run summary ({type(exc).__name__}: {exc})"[:500]) from None
