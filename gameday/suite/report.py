"""A suite's consolidated record: suite.html and suite.md (an audit dossier over every drill,
then each drill's verdicts, a timeline plot, the lab starts and attempts), junit.xml (a test
suite per drill), suite.pdf, then the manifest over the whole directory, signed when a key
is given. Built from the suite directory alone, so it can be rebuilt."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gameday.checkers.verdicts import Outcome as SloOutcome
from gameday.checkers.verdicts import Verdict
from gameday.drill.summary import RunSummary
from gameday.errors import InputError
from gameday.evidence import seal
from gameday.evidence.provenance import Provenance
from gameday.reports import dossier as dossiers
from gameday.reports.junit import junit_xml
from gameday.reports.render import duration_text, environment, utc
from gameday.suite.state import DrillRecord, DrillStatus, SuiteState

HTML, MD, JUNIT, PDF = "suite.html", "suite.md", "junit.xml", "suite.pdf"


@dataclass(frozen=True)
class DrillView:
    record: DrillRecord
    title: str
    summary: RunSummary | None  # the last attempt's verdicts (None: no record)
    report: str  # the last attempt's report.html, relative to the suite directory ("" when none)
    badge: str  # pass | fail | unknown | halt | interrupted | not run

    @property
    def verdicts(self) -> list[SloOutcome]:
        return self.summary.verdicts if self.summary else []


@dataclass(frozen=True)
class Bar:
    """A span on the suite's timeline plot (a lab start or a drill attempt)."""

    label: str
    start: float
    end: float
    kind: str  # lab | pass | fail | unknown | halt | interrupted


@dataclass
class SuiteDossier:
    conclusion: str
    operator: str
    approver: str
    objectives: list[tuple[str, dossiers.Objective]] = field(default_factory=list)  # (drill key, objective)
    deviations: list[dossiers.Deviation] = field(default_factory=list)
    programme: tuple[dossiers.Framework, ...] = dossiers.PROGRAMME


def _badge(rec: DrillRecord) -> str:
    if rec.status is DrillStatus.DONE and rec.outcome is not None:
        return rec.outcome.value
    return "interrupted" if rec.status is DrillStatus.INTERRUPTED else "not run"


def _view(suite_dir: Path, rec: DrillRecord) -> DrillView:
    summary, report, title = None, "", rec.experiment
    if rec.last is not None:
        run_dir = suite_dir / rec.last.run_dir
        try:
            summary = RunSummary.read(run_dir / "verdicts.json")
        except InputError:
            summary = None
        if (run_dir / "report.html").is_file():
            report = f"{rec.last.run_dir}/report.html"
        title = _title(run_dir) or title
    return DrillView(rec, title, summary, report, _badge(rec))


def _title(run_dir: Path) -> str:
    try:
        return str(json.loads((run_dir / "experiment.json").read_text()).get("title") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def build_dossier(views: list[DrillView], state: SuiteState, prov: Provenance | None) -> SuiteDossier:
    d = SuiteDossier(conclusion="", operator=prov.operator if prov else "not recorded", approver=(prov.approver if prov and prov.approver else "not recorded"))
    devs: list[tuple[str, str, str]] = []
    for v in views:
        for o in v.verdicts:
            d.objectives.append((v.record.key, dossiers.Objective(o.slo, o.clause, o.threshold, "—" if o.measured is None else f"{o.measured:g} {o.unit}", dossiers.PLAIN[o.verdict])))
            if o.verdict is not Verdict.PASS:
                devs.append((o.verdict.value, f"{v.record.key}: {o.slo}", o.detail))
        if v.badge == "halt" and v.summary:
            devs.append(("halt", v.record.key, v.summary.reason))
        elif v.badge == "unknown" and not v.verdicts:
            devs.append(("unknown", v.record.key, v.record.last.reason if v.record.last else "no record"))
        elif v.badge in ("interrupted", "not run"):
            devs.append((v.badge.replace(" ", "_"), v.record.key, v.record.note or "interrupted before it finished"))
    d.deviations = [dossiers.Deviation(f"D{i}", kind, subject, finding[:600]) for i, (kind, subject, finding) in enumerate(devs, 1)]
    counts = {b: sum(1 for v in views if v.badge == b) for b in ("pass", "fail", "unknown", "halt", "interrupted", "not run")}
    met = sum(1 for _, o in d.objectives if o.outcome == dossiers.PLAIN[Verdict.PASS])
    parts = [f"{counts['pass']} of {len(views)} drills met every objective they judged"]
    parts += [f"{n} {name}" for name, n in (("failed", counts["fail"]), ("halted", counts["halt"]), ("could not be carried out or measured", counts["unknown"]),
                                            ("were interrupted", counts["interrupted"]), ("were not run", counts["not run"])) if n]  # fmt: skip
    d.conclusion = "; ".join(parts) + f". {met} of {len(d.objectives)} objectives were met" + (f"; {len(d.deviations)} deviation(s) are registered below for an owner to remediate." if d.deviations else ".")
    if state.stopped:
        d.conclusion += f" The suite {state.stopped}."
    return d


def timeline(views: list[DrillView], state: SuiteState) -> list[Bar]:
    bars = [Bar(f"lab {lab.lab}", lab.started_at, lab.started_at + lab.took_s, "lab") for lab in state.labs]
    for v in views:
        for i, a in enumerate(v.record.attempts, 1):
            kind = v.badge if i == len(v.record.attempts) else ("interrupted" if a.status == "interrupted" else "unknown")
            bars.append(Bar(v.record.key + (f" #{i}" if len(v.record.attempts) > 1 else ""), a.started_at, a.ended_at, kind.replace(" ", "-")))
    return sorted(bars, key=lambda b: b.start)


def plot_svg(bars: list[Bar]) -> str | None:
    """A Gantt chart of the suite: one row per lab start or drill attempt, labelled with its
    outcome in words (readable without colour)."""
    if not bars:
        return None
    from markupsafe import escape

    t0, t1 = min(b.start for b in bars), max(b.end for b in bars)
    span = max(t1 - t0, 1.0)
    left, width, row = 260, 620, 22
    height = 30 + row * len(bars)
    out = [f'<svg class="plot gantt" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {left + width + 110} {height}" width="{left + width + 110}" height="{height}" role="img" aria-label="suite timeline">']
    for minute in range(0, int(span // 60) + 1, max(1, int(span // 60) // 8 or 1)):
        x = left + width * minute * 60 / span
        out.append(f'<line class="grid" x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{height}"/><text class="tick" x="{x:.1f}" y="12" text-anchor="middle">{minute} min</text>')
    for i, b in enumerate(bars):
        y = 22 + i * row
        x = left + width * (b.start - t0) / span
        w = max(width * (b.end - b.start) / span, 2)
        out.append(f'<text class="axis" x="{left - 8}" y="{y + 13}" text-anchor="end">{escape(b.label)}</text>')
        out.append(f'<rect class="bar {b.kind}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 6}"/>')
        out.append(f'<text class="bar-text" x="{x + w + 6:.1f}" y="{y + 13}">{escape(b.kind.replace("-", " ").upper())} · {duration_text(b.end - b.start)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def context(suite_dir: Path, state: SuiteState) -> dict[str, Any]:
    views = [_view(suite_dir, rec) for rec in state.drills]
    prov = Provenance.read(suite_dir)
    bars = timeline(views, state)
    code = state.exit_code()
    started = min((s["t"] for s in state.sessions), default=state.created_at)
    ended = state.finished_at or max((b.end for b in bars), default=started)
    return {
        "state": state, "views": views, "provenance": prov, "dossier": build_dossier(views, state, prov),
        "exit_code": code, "plot": plot_svg(bars), "started": started, "ended": ended, "duration": duration_text(ended - started),
        "counts": {b: sum(1 for v in views if v.badge == b) for b in ("pass", "fail", "unknown", "halt", "interrupted", "not run")},
        "generated_at": utc(datetime.now(timezone.utc).timestamp()),
    }  # fmt: skip


def junit(suite_dir: Path, state: SuiteState, views: list[DrillView] | None = None) -> ET.ElementTree:
    """One <testsuite> per drill: its SLO testcases (gameday.reports.junit), or one testcase
    saying why it has none (interrupted, not run, no record)."""
    views = views or [_view(suite_dir, rec) for rec in state.drills]
    root = ET.Element("testsuites", name=f"gameday suite {state.name}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for v in views:
        if v.summary is not None and v.record.status is DrillStatus.DONE:
            suite_el = junit_xml(v.summary, f"{v.record.key}: {v.title}").getroot().find("testsuite")
            assert suite_el is not None
            suite_el.set("name", f"{v.record.key}: {v.title}")
        else:
            suite_el = ET.Element("testsuite", name=f"{v.record.key}: {v.title}", tests="1", time="0")
            case = ET.SubElement(suite_el, "testcase", classname=f"gameday.{Path(v.record.experiment).stem}", name="run", time="0")
            if v.record.status is DrillStatus.NOT_RUN:
                ET.SubElement(case, "skipped", message=v.record.note or "not run")
                suite_el.set("skipped", "1")
                suite_el.set("failures", "0")
                suite_el.set("errors", "0")
            else:
                reason = v.record.last.reason if v.record.last else "no record"
                ET.SubElement(case, "error", message=f"{v.badge}: {reason}"[:1000], type=f"run.{v.badge.replace(' ', '_')}")
                suite_el.set("errors", "1")
                suite_el.set("failures", "0")
                suite_el.set("skipped", "0")
        for k in totals:
            totals[k] += int(suite_el.get(k, "0"))
        root.append(suite_el)
    for k, n in totals.items():
        root.set(k, str(n))
    ET.indent(root)
    return ET.ElementTree(root)


def finish_suite(suite_dir: Path, state: SuiteState, key: Any = None, pdf: bool = True) -> list[Path]:
    """The reports, then the seal over every file of the suite directory (the runs' own
    manifests and signatures among them)."""
    ctx = context(suite_dir, state)
    env = environment()
    written = []
    for name in (HTML, MD):
        path = suite_dir / name
        path.write_text(env.get_template(name).render(ctx), encoding="utf-8")
        written.append(path)
    junit(suite_dir, state, ctx["views"]).write(suite_dir / JUNIT, encoding="utf-8", xml_declaration=True)
    written.append(suite_dir / JUNIT)
    if pdf:
        from gameday.reports.pdf import write_pdf

        written.append(write_pdf(suite_dir, HTML, PDF))
    seal.seal(suite_dir, key)
    return written
