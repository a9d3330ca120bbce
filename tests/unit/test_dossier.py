"""The audit dossier at the head of a run's report (made-up runs: the dossier's own logic):
objectives in the plan's words with plain outcomes, every fail, unknown and halt in the
deviations register with fields to fill, the participants, sign-off lines, and the
programme's clauses."""

from __future__ import annotations

from dataclasses import replace

from gameday.checkers.verdicts import Verdict
from gameday.drill.summary import RunSummary
from gameday.evidence.provenance import Provenance
from gameday.reports import dossier
from gameday.reports.render import render_run
from tests.unit.test_reports import make_run


def _prov(approver: str = "") -> Provenance:
    return Provenance("git:abc", "c" * 64, "p" * 64, "host-1", "alice", 1.0, approver)


def test_every_fail_unknown_and_halt_is_a_deviation_to_assign(tmp_path):
    s = RunSummary.read(make_run(tmp_path / "r") / "verdicts.json")
    halted = replace(s, status="halted", reason="stop condition searches-failing held for 10 s")
    d = dossier.build(halted, _prov("bob"), "Redis primary failover", "faults injected: kill-redis-primary")
    kinds = [x.kind for x in d.deviations]
    assert kinds[0] == "halt" and kinds.count("fail") == sum(v.verdict is Verdict.FAIL for v in s.verdicts)
    assert kinds.count("unknown") == sum(v.verdict is Verdict.UNKNOWN for v in s.verdicts)
    assert [x.ref for x in d.deviations] == [f"D{i}" for i in range(1, len(kinds) + 1)] and not any(x.owner for x in d.deviations)
    assert d.approver == "bob" and d.operator == "alice" and "not met" in d.conclusion.lower()
    assert {f.name.split()[0] for f in d.programme} == {"ISO", "SOC", "DORA", "PCI"}


def test_a_run_that_met_everything_has_an_empty_register_and_says_so(tmp_path):
    s = RunSummary.read(make_run(tmp_path / "r") / "verdicts.json")
    ok = replace(s, verdicts=[replace(v, verdict=Verdict.PASS, measured=v.measured or 1.0) for v in s.verdicts], status="carried_out")
    d = dossier.build(ok, None, "t", "")
    assert d.deviations == () and d.conclusion.startswith("The platform met all") and d.operator == "not recorded"


def test_both_reports_lead_with_the_dossier(tmp_path):
    run = make_run(tmp_path / "r")
    _prov("bob").write(run)
    html_path, md_path, _ = render_run(run)
    html, md = html_path.read_text(), md_path.read_text()
    assert html.index("Audit dossier") < html.index("SLO verdicts") and md.index("## Audit dossier") < md.index("## SLO verdicts")
    for text in (html, md):
        assert "ISO 22301" in text and "DORA" in text and "PCI DSS" in text and "SOC 2" in text and "bob" in text
    assert "Deviations register" in html and "________" in html and "Sign-off" in html
