"""The plan's coverage, as a report shows it: every clause of the catalog, and whether this
run judged it, another drill judges it, or no drill here can (and why)."""

from __future__ import annotations

from dataclasses import dataclass

from gameday.drill.summary import RunSummary
from gameday.spec import Catalog


@dataclass(frozen=True)
class CoverageRow:
    slo: str
    clause: str
    threshold: str
    where: str  # "this run" | "other drills" | "not measured"
    note: str  # the verdict here, the drills that judge it, or why none does


def coverage(summary: RunSummary, spec: Catalog) -> tuple[CoverageRow, ...]:
    judged = {o.slo: o for o in summary.verdicts}
    rows = []
    for slo in spec.slos.values():
        if slo.id in judged:
            rows.append(CoverageRow(slo.id, slo.clause, slo.target_text, "this run", judged[slo.id].verdict.value))
        elif slo.drills:
            rows.append(CoverageRow(slo.id, slo.clause, slo.target_text, "other drills", ", ".join(slo.drills)))
        else:
            rows.append(CoverageRow(slo.id, slo.clause, slo.target_text, "not measured", slo.not_measured))
    order = {"this run": 0, "other drills": 1, "not measured": 2}
    return tuple(sorted(rows, key=lambda r: order[r.where]))
