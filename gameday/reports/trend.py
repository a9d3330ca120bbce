"""Trends over successive drills (`gameday trend DIR...`): each SLO's measured value per run,
in the order the runs started, and regressions flagged, so a quarterly review sees drift
before it becomes a breach.

A regression, against the previous run that measured the SLO:
- a verdict that passed and now fails;
- a value worse by more than `pct` percent of the previous one (worse: higher for an upper
  bound, lower for a lower bound, further from the value for an exact one);
- from a previous value of 0, worse by more than `pct` percent of the threshold.
Pure over the runs' verdicts: the same directories give the same trend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gameday.checkers.verdicts import Verdict
from gameday.drill.summary import RunSummary
from gameday.errors import InputError
from gameday.spec import Comparator, Slo, catalog


@dataclass(frozen=True)
class Point:
    run_id: str
    started_at: float
    measured: float | None
    verdict: Verdict


@dataclass(frozen=True)
class Regression:
    run_id: str
    previous_run: str
    previous: float
    measured: float
    why: str


@dataclass(frozen=True)
class Trend:
    slo: str
    unit: str
    target: str  # "<= 900 s"
    points: tuple[Point, ...]
    regressions: tuple[Regression, ...]


def load(dirs: list[Path]) -> list[RunSummary]:
    """The runs' summaries, oldest first; InputError naming a directory that holds none."""
    out = []
    for d in dirs:
        if not (d / "verdicts.json").is_file():
            raise InputError(f"{d}: no verdicts.json; is this a gameday run directory?")
        out.append(RunSummary.read(d / "verdicts.json"))
    return sorted(out, key=lambda s: s.started_at)


def worse(slo: Slo, previous: float, measured: float) -> float:
    """How much worse `measured` is than `previous` (in the SLO's unit; <= 0: not worse)."""
    if slo.comparator is Comparator.GE:
        return previous - measured
    if slo.comparator is Comparator.EQ:
        return abs(measured - slo.threshold) - abs(previous - slo.threshold)
    return measured - previous


def regressions(slo: Slo, points: list[Point], pct: float) -> list[Regression]:
    out, last = [], None
    for p in points:
        if p.measured is None:
            continue
        if last is not None:
            by = worse(slo, last.measured, p.measured)
            if last.verdict is Verdict.PASS and p.verdict is Verdict.FAIL:
                out.append(Regression(p.run_id, last.run_id, last.measured, p.measured, f"passed in {last.run_id}, fails now"))
            elif last.measured != 0 and by > abs(last.measured) * pct / 100:
                out.append(Regression(p.run_id, last.run_id, last.measured, p.measured, f"{100 * by / abs(last.measured):.0f} % worse than {last.run_id}"))
            elif last.measured == 0 and slo.threshold and by > abs(slo.threshold) * pct / 100:
                out.append(Regression(p.run_id, last.run_id, last.measured, p.measured, f"from 0 to {p.measured:g} {slo.unit}, {100 * by / abs(slo.threshold):.0f} % of the threshold"))
        last = p
    return out


def trends(runs: list[RunSummary], pct: float = 30.0) -> list[Trend]:
    """One trend per SLO any run judged, in catalog order."""
    slos = catalog().slos
    out = []
    for slo_id, slo in slos.items():
        points = []
        for run in runs:
            for v in run.verdicts:
                if v.slo == slo_id:
                    points.append(Point(run.run_id, run.started_at, v.measured, v.verdict))
        if points:
            out.append(Trend(slo_id, slo.unit, slo.target_text, tuple(points), tuple(regressions(slo, points, pct))))
    return out


def text(trends_: list[Trend]) -> str:
    lines = []
    for t in trends_:
        values = "  ".join(f"{'-' if p.measured is None else format(p.measured, 'g')}({p.verdict.value[0]})" for p in t.points)
        lines.append(f"{t.slo:34} {t.target:>14}  {values}")
        lines += [f"{'':34} REGRESSION in {r.run_id}: {r.why} ({r.previous:g} -> {r.measured:g} {t.unit})" for r in t.regressions]
    return "\n".join(lines)


def write_html(trends_: list[Trend], runs: list[RunSummary], out: Path, pct: float) -> Path:
    from gameday.reports.render import environment

    page = environment().get_template("trend.html").render(trends=trends_, runs=runs, pct=pct, plots={t.slo: _plot(t) for t in trends_})
    out.write_text(page, encoding="utf-8")
    return out


def _plot(t: Trend, width: int = 520, height: int = 120) -> dict:
    """Polyline points and the threshold's y for a small SVG of one SLO over the runs."""
    threshold = catalog().slos[t.slo].threshold
    values = [p.measured for p in t.points if p.measured is not None] + [threshold]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    n = max(len(t.points) - 1, 1)

    def y(v: float) -> float:
        return round(height - 10 - (v - lo) / span * (height - 20), 1)

    dots = [(round(10 + i * (width - 20) / n, 1), y(p.measured), p) for i, p in enumerate(t.points) if p.measured is not None]
    flagged = {r.run_id for r in t.regressions}
    return {"width": width, "height": height, "line": " ".join(f"{x},{yy}" for x, yy, _ in dots), "threshold_y": y(threshold),
            "dots": [{"x": x, "y": yy, "run": p.run_id, "value": p.measured, "flagged": p.run_id in flagged, "verdict": p.verdict.value} for x, yy, p in dots]}  # fmt: skip
