"""`gameday trend` on made-up run directories (the trend's own logic): values per drill in
the order the drills started, and regressions flagged in both directions of a threshold,
from zero, and as a verdict turning from pass to fail; a steady series flags nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gameday.checkers.verdicts import Verdict
from gameday.cli import main
from gameday.drill.summary import RunSummary
from gameday.reports import trend
from gameday.spec import catalog
from tests.unit.test_reports import make_run

SLO = "dr.rto"  # <= 900 s


def _run(tmp_path: Path, name: str, started: float, values: dict[str, float | None]) -> Path:
    run = make_run(tmp_path / name)
    s = RunSummary.read(run / "verdicts.json")
    verdicts = []
    for slo, value in values.items():
        spec = catalog().slos[slo]
        verdict = Verdict.UNKNOWN if value is None else (Verdict.PASS if spec.met_by(value) else Verdict.FAIL)
        verdicts.append(replace(s.verdicts[0], slo=slo, measured=value, verdict=verdict, unit=spec.unit, threshold=spec.target_text))
    replace(s, run_id=name, started_at=started, verdicts=verdicts).write(run / "verdicts.json")
    return run


def test_a_steady_series_flags_nothing_and_keeps_the_drills_order(tmp_path, capsys):
    dirs = [_run(tmp_path, f"q{i}", 1000.0 + i, {SLO: 305.0 + i, "dr.promote_after": 300.5}) for i in (3, 1, 2)]
    assert main(["trend", *map(str, dirs)]) == 0
    out = capsys.readouterr().out
    assert "306(p)  307(p)  308(p)" in out and "no regression over 3 drills" in out


def test_an_injected_regression_is_flagged_with_the_run_and_how_much(tmp_path, capsys):
    dirs = [_run(tmp_path, "q1", 1.0, {SLO: 300.0}), _run(tmp_path, "q2", 2.0, {SLO: 310.0}), _run(tmp_path, "q3", 3.0, {SLO: 420.0})]
    page = tmp_path / "trend.html"
    assert main(["trend", *map(str, dirs), "--out", str(page)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION in q3: 35 % worse than q2 (310 -> 420 s)" in out
    html = page.read_text()
    assert "REGRESSION" in html and 'class="dot flagged"' in html and "<polyline" in html


def test_regressions_follow_the_thresholds_direction_from_zero_and_to_a_fail():
    slo = catalog().slos
    pts = lambda *vs: [trend.Point(f"r{i}", float(i), v, Verdict.PASS if v is None or slo["dr.promote_after"].met_by(v) else Verdict.FAIL) for i, v in enumerate(vs)]  # noqa: E731
    # a lower bound (>= 300 s): lower is worse, and falling under it is a fail
    (r,) = trend.regressions(slo["dr.promote_after"], pts(310.0, None, 290.0), 30)
    assert r.run_id == "r2" and r.previous_run == "r0" and "fails now" in r.why
    rpo = slo["dr.rpo"]  # < 5 s, from 0
    zero = [trend.Point("a", 1, 0.0, Verdict.PASS), trend.Point("b", 2, 2.0, Verdict.PASS), trend.Point("c", 3, 2.2, Verdict.PASS)]  # 40 % of 5 s, then 10 % worse
    (r,) = trend.regressions(rpo, zero, 30)
    assert r.run_id == "b" and "from 0" in r.why
    assert trend.regressions(rpo, zero[:1] + [trend.Point("b", 2, 0.5, Verdict.PASS)], 30) == []  # 10 % of the threshold


def test_trend_refuses_what_it_cannot_compare(tmp_path, capsys):
    one = _run(tmp_path, "q1", 1.0, {SLO: 300.0})
    assert main(["trend", str(one)]) == 2
    assert main(["trend", str(one), str(tmp_path / "nowhere")]) == 2
    assert "no verdicts.json" in capsys.readouterr().err
