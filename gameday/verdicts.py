"""Verdicts: what a checker concludes about one SLO, and the run summary."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gameday.spec import Slo


class Verdict(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"  # no measurement, or the checker crashed: never a pass


@dataclass(frozen=True)
class Outcome:
    slo: str
    clause: str
    threshold: str  # e.g. "<= 10 s", as the spec catalog states it
    measured: float | None
    unit: str
    verdict: Verdict
    detail: str


def judge(slo: Slo, measured: float | None, detail: str) -> Outcome:
    """Compare a measurement with the catalog threshold. No measurement, no pass."""
    if measured is None:
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.PASS if slo.met_by(measured) else Verdict.FAIL
        if verdict is Verdict.FAIL:
            detail = f"{detail} Misses the plan by {abs(slo.margin(measured)):.3g} {slo.unit}.".strip()
    return Outcome(
        slo=slo.id,
        clause=slo.clause,
        threshold=slo.target_text,
        measured=None if measured is None else round(measured, 3),
        unit=slo.unit,
        verdict=verdict,
        detail=detail,
    )


def fail_at_least(slo: Slo, lower_bound: float, detail: str) -> Outcome:
    """A failure known only as a lower bound (the event never happened while we watched)."""
    outcome = judge(slo, lower_bound, detail)
    return outcome if outcome.verdict is Verdict.FAIL else judge(slo, None, detail + " (inconclusive)")


@dataclass(frozen=True)
class LoadSummary:
    requested_rate: float
    achieved_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    requests: int
    errors: int
    generator_saturated: bool


@dataclass
class RunSummary:
    """What verdicts.json holds: times in epoch seconds, latencies in ms."""

    run_id: str
    experiment: str
    target: str
    started_at: float
    ended_at: float
    exit_code: int
    status: str  # carried_out | not_carried_out | deviated | interrupted
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
        data = json.loads(path.read_text())
        data["verdicts"] = [Outcome(**{**v, "verdict": Verdict(v["verdict"])}) for v in data["verdicts"]]
        data["load"] = LoadSummary(**data["load"]) if data.get("load") else None
        return cls(**data)
