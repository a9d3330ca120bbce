"""Verdicts: what a checker concludes about one SLO."""

from __future__ import annotations

import enum
from dataclasses import dataclass

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
