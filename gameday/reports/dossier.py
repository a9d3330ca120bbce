"""The audit dossier at the head of a run's report, for a reader who is not an SRE: what the
drill set out to show (the plan's clauses it judged), who took part, what it covered, the
results against each threshold, a register of every deviation (each fail, unknown and halt,
with fields for its owner, remediation and due date), sign-off lines, and where the record
sits in a resilience-testing programme. Built from the run's files alone."""

from __future__ import annotations

from dataclasses import dataclass

from gameday.checkers.verdicts import Verdict
from gameday.drill.summary import RunSummary
from gameday.evidence.provenance import Provenance


@dataclass(frozen=True)
class Framework:
    name: str
    clause: str
    how: str  # what this record shows for it


# What a drill record is evidence of, clause by clause (the record does not make an
# organisation compliant: it is the exercise's evidence those clauses ask for).
PROGRAMME: tuple[Framework, ...] = (
    Framework("ISO 22301:2019", "§8.5 Exercise programme", "an exercise of the business continuity procedures against stated objectives, with its results, a post-exercise record and the deviations to act on"),
    Framework("SOC 2 (2017 TSC)", "A1.3 Recovery plan testing; CC7.5 Recovery from identified incidents", "a test of the recovery procedures on a representative system, the recovery times and data loss measured, and the follow-up of what failed"),
    Framework("DORA (EU 2022/2554)", "Art. 24-26 Digital operational resilience testing", "a scenario-based resilience test of ICT systems supporting critical functions, its findings classified and assigned for remediation"),
    Framework("PCI DSS v4.0", "12.10.2 Incident response plan reviewed and tested at least once every 12 months", "a test of the response procedures for the failure scenario, dated and signed off"),
)

PLAIN = {Verdict.PASS: "met", Verdict.FAIL: "NOT met", Verdict.UNKNOWN: "not shown (no valid measurement)"}


@dataclass(frozen=True)
class Objective:
    slo: str
    clause: str
    target: str
    measured: str
    outcome: str  # PLAIN words


@dataclass(frozen=True)
class Deviation:
    ref: str  # D1, D2, ...
    kind: str  # "fail", "unknown", "halt"
    subject: str
    finding: str
    owner: str = ""
    remediation: str = ""
    due: str = ""


@dataclass(frozen=True)
class Dossier:
    conclusion: str
    objectives: tuple[Objective, ...]
    operator: str
    approver: str
    scope: str
    target: str
    deviations: tuple[Deviation, ...]
    programme: tuple[Framework, ...] = PROGRAMME


def build(summary: RunSummary, provenance: Provenance | None, title: str, fault: str) -> Dossier:
    objectives = tuple(
        Objective(v.slo, v.clause, v.threshold, "—" if v.measured is None else f"{v.measured:g} {v.unit}", PLAIN[v.verdict]) for v in summary.verdicts
    )
    devs = [(v.verdict.value, v.slo, v.detail) for v in summary.verdicts if v.verdict is not Verdict.PASS]
    if summary.status == "halted":
        devs.insert(0, ("halt", "the drill", summary.reason))
    deviations = tuple(Deviation(f"D{i}", kind, subject, finding[:600]) for i, (kind, subject, finding) in enumerate(devs, 1))
    met = sum(1 for v in summary.verdicts if v.verdict is Verdict.PASS)
    if not summary.verdicts:
        conclusion = "The drill judged no objective."
    elif met == len(summary.verdicts):
        conclusion = f"The platform met all {met} objectives this drill judged."
    else:
        failed = sum(1 for v in summary.verdicts if v.verdict is Verdict.FAIL)
        conclusion = (f"The platform met {met} of {len(summary.verdicts)} objectives; {failed} not met and {len(summary.verdicts) - met - failed} not shown. "
                      f"{len(deviations)} deviation(s) are registered below for an owner to remediate.")  # fmt: skip
    return Dossier(
        conclusion=conclusion, objectives=objectives, operator=provenance.operator if provenance else "not recorded",
        approver=(provenance.approver if provenance and provenance.approver else "not recorded"),
        scope=f"{title}: {fault}" if fault else title, target=summary.target, deviations=deviations,
    )  # fmt: skip
