"""Render a run directory to report.html, report.md and junit.xml.

Everything is read back from the files of the run directory (never from the
live run), so a report can be re-rendered later from archived evidence and
shows exactly what the evidence says. Missing or unreadable parts become a
visible warning on the page, not a crash: the report of a broken run is the one
most needed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from gameday.checkers.verdicts import Verdict
from gameday.drill.summary import RunSummary
from gameday.evidence.provenance import Provenance
from gameday.evidence.seal import seal_history
from gameday.history import ActivityEvent, FaultEvent, History, Marker, StopTripped
from gameday.reports import dossier, manifest
from gameday.reports.coverage import coverage
from gameday.reports.junit import write_junit
from gameday.reports.plot import build_plot
from gameday.reports.series import series
from gameday.reports.streaming import streaming_section
from gameday.spec import catalog

OUTPUTS = ("report.html", "report.md", "junit.xml", "report.pdf")
EXIT_MEANING = {
    0: "every SLO in scope passed",
    1: "an SLO failed, the steady state deviated, or a stop condition halted the drill",
    2: "the drill could not be carried out or measured",
}
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_OUTPUT_CHARS = 400  # journal outputs can be whole HTTP bodies; the journal keeps them in full


@dataclass(frozen=True)
class TimelineEntry:
    t: float
    offset: float
    source: str  # history | journal
    kind: str  # fault | activity | marker
    what: str
    phase: str
    detail: str


@dataclass(frozen=True)
class Evidence:
    path: str
    size: int
    sha256: str
    note: str


def utc(t: float | None) -> str:
    if t is None:
        return "—"
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration_text(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{secs:.1f} s" if minutes == 0 else f"{int(minutes)} min {secs:04.1f} s"


def _journal_time(text: Any) -> float | None:
    """Chaos Toolkit writes naive ISO times that are UTC (utcnow); newer versions add the offset."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= _OUTPUT_CHARS else text[:_OUTPUT_CHARS] + f"… ({len(text)} chars, full text in journal.json)"


def _read_history(run_dir: Path, warnings: list[str]) -> History:
    path = run_dir / "history.jsonl"
    if not path.exists():
        warnings.append("history.jsonl is missing: no time series or fault timeline from the monitors.")
        return History(())
    try:
        return History.read(path)
    except (ValueError, KeyError, TypeError) as exc:
        warnings.append(f"history.jsonl could not be read ({type(exc).__name__}: {exc}); it is shown as empty.")
        return History(())


def _read_journal(run_dir: Path, warnings: list[str]) -> dict[str, Any]:
    path = run_dir / "journal.json"
    if not path.exists():
        warnings.append("journal.json is missing: no Chaos Toolkit activities or steady-state results.")
        return {}
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        warnings.append(f"journal.json could not be parsed ({exc}).")
        return {}
    return data if isinstance(data, dict) else {}


def _activities(journal: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for section in ("run", "rollbacks"):
        for item in journal.get(section) or []:
            if not isinstance(item, dict):
                continue
            activity = item.get("activity") or {}
            start, end = _journal_time(item.get("start")), _journal_time(item.get("end"))
            rows.append(
                {
                    "section": "method" if section == "run" else "rollback",
                    "name": str(activity.get("name", "?")),
                    "type": str(activity.get("type", "")),
                    "status": str(item.get("status", "")),
                    "start": start,
                    "end": end,
                    "duration": None if start is None or end is None else end - start,
                    "output": _short(item.get("output")),
                    "exception": _short("".join(item["exception"]) if isinstance(item.get("exception"), list) else item.get("exception")),
                }
            )
    return rows


def _steady_states(journal: dict[str, Any]) -> list[dict[str, Any]]:
    states = journal.get("steady_states") or {}
    out = []
    for when in ("before", "during", "after"):
        state = states.get(when)
        if not isinstance(state, dict):
            if when != "during":
                out.append({"when": when, "met": None, "probes": []})
            continue
        probes = [
            {
                "name": str((p.get("activity") or {}).get("name", "?")),
                "status": str(p.get("status", "")),
                "tolerance_met": p.get("tolerance_met"),
                "output": _short(p.get("output")),
            }
            for p in state.get("probes") or []
            if isinstance(p, dict)
        ]
        out.append({"when": when, "met": state.get("steady_state_met"), "probes": probes})
    return out


def _timeline(history: History, activities: list[dict[str, Any]], start: float) -> list[TimelineEntry]:
    entries = []
    for r in history.records:
        if isinstance(r, FaultEvent):
            where = r.component + (f" ({r.az})" if r.az else "")
            entries.append(TimelineEntry(r.t, r.t - start, "history", "fault", f"{r.fault} @ {where}", r.phase.value, r.detail))
        elif isinstance(r, ActivityEvent):
            phase = r.phase + (f" ({r.status})" if r.status else "")
            entries.append(TimelineEntry(r.t, r.t - start, "history", "activity", f"{r.activity_type} {r.name}", phase, r.detail))
        elif isinstance(r, Marker):
            entries.append(TimelineEntry(r.t, r.t - start, "history", "marker", r.name, "", r.detail))
        elif isinstance(r, StopTripped):
            entries.append(TimelineEntry(r.t, r.t - start, "history", "halt", f"stop condition {r.condition}", "tripped", r.describe()))
    # gameday's control records activities in the history; only a run without
    # it (or whose history was lost) needs them from the journal, and twice would mislead.
    if not history.of(ActivityEvent):
        for a in activities:
            for phase, t in (("start", a["start"]), (f"end ({a['status']})", a["end"])):
                if t is not None:
                    what = f"{a['type']} {a['name']}" + (" [rollback]" if a["section"] == "rollback" else "")
                    entries.append(TimelineEntry(t, t - start, "journal", "activity", what, phase, ""))
    return sorted(entries, key=lambda e: e.t)


def _evidence(run_dir: Path, warnings: list[str]) -> tuple[list[Evidence], bool]:
    """Files of the run with their SHA-256; notes say where a file disagrees with the manifest."""
    try:
        listed = manifest.read_manifest(run_dir)
    except ValueError as exc:
        warnings.append(str(exc))
        listed = {}
    rows = []
    for rel in manifest.run_files(run_dir) + ([manifest.MANIFEST] if (run_dir / manifest.MANIFEST).exists() else []):
        if rel in OUTPUTS:  # being rewritten now; the manifest written after rendering covers them
            continue
        path = run_dir / rel
        digest = manifest.sha256_file(path)
        if rel == manifest.MANIFEST:
            note = "the manifest itself"
        elif not listed:
            note = "hashed at render time"
        elif rel not in listed:
            note = "NOT in manifest"
        elif listed[rel] != digest:
            note = f"CHANGED since manifest (listed {listed[rel]})"
        else:
            note = "matches manifest"
        rows.append(Evidence(rel, path.stat().st_size, digest, note))
    return rows, bool(listed)


def _md_cell(value: Any) -> str:
    """One Markdown table cell: a "|" or newline would end the cell, raw HTML would be rendered.

    Only a "<" that could open a tag is escaped, so "<= 40 ms" stays readable as plain text.
    """
    text = _TAG_OPEN.sub("&lt;", str(value))
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "svg"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["utc"] = utc
    env.filters["md"] = _md_cell
    env.filters["num"] = lambda v, fmt="g": "—" if v is None else format(v, fmt)
    return env


def context(run_dir: Path) -> dict[str, Any]:
    """Everything the templates show, read from the run directory."""
    summary = RunSummary.read(run_dir / "verdicts.json")
    warnings: list[str] = []
    history = _read_history(run_dir, warnings)
    journal = _read_journal(run_dir, warnings)
    experiment = journal.get("experiment") if isinstance(journal.get("experiment"), dict) else {}
    threshold = catalog()["api.p95_latency"].threshold
    ts = series(history, start=summary.started_at, end=summary.ended_at)
    activities = _activities(journal)
    evidence, has_manifest = _evidence(run_dir, warnings)
    history_of_seals = seal_history(run_dir)
    prov = Provenance.read(run_dir)
    for h in history_of_seals:
        if h.get("action") == "resealed":
            warnings.append(f"RESEALED on {utc(h['t'])} by {h.get('operator')}: {len(h.get('problems', []))} file(s) no longer matched the manifest the run was sealed with "
                            f"({'; '.join(h.get('problems', [])[:5])}). The evidence below is as resealed, not as the run left it.")  # fmt: skip
    runbook = run_dir / "runbook.md"
    counts = {v.value: sum(1 for o in summary.verdicts if o.verdict is v) for v in Verdict}
    return {
        "summary": summary,
        "title": str(experiment.get("title") or Path(summary.experiment).stem or summary.run_id),
        "description": str(experiment.get("description") or ""),
        "journal_status": journal.get("status"),
        "deviated": journal.get("deviated"),
        "exit_meaning": EXIT_MEANING.get(summary.exit_code, "unknown exit code"),
        "duration": duration_text(summary.ended_at - summary.started_at),
        "counts": counts,
        "load": summary.load,
        "series": ts,
        "plot": build_plot(ts, threshold) if ts.has_load else None,
        "threshold_ms": threshold,
        "streaming": streaming_section(history, summary.started_at, summary.ended_at),
        "coverage": coverage(summary, catalog()),
        "timeline": _timeline(history, activities, summary.started_at),
        "activities": activities,
        "steady_states": _steady_states(journal),
        "runbook": runbook.read_text(errors="replace") if runbook.exists() else None,
        "evidence": evidence,
        "has_manifest": has_manifest,
        "provenance": prov,
        "dossier": dossier.build(summary, prov, str(experiment.get("title") or summary.run_id),
                                 "faults injected: " + ", ".join(a["name"] for a in activities if a["section"] == "method" and a["type"] == "action") if activities else ""),
        "seal_history": history_of_seals,
        "warnings": warnings,
        "generated_at": utc(datetime.now(timezone.utc).timestamp()),
    }


def render_run(run_dir: Path) -> list[Path]:
    """Write report.html, report.md and junit.xml into run_dir; return their paths.

    Call gameday.reports.manifest.write_manifest(run_dir) afterwards so the reports are
    covered by the manifest too.
    """
    run_dir = Path(run_dir)
    ctx = context(run_dir)
    env = environment()
    html = run_dir / "report.html"
    html.write_text(env.get_template("report.html").render(ctx), encoding="utf-8")
    md = run_dir / "report.md"
    md.write_text(env.get_template("report.md").render(ctx), encoding="utf-8")
    junit = write_junit(ctx["summary"], ctx["title"], run_dir / "junit.xml")
    return [html, md, junit]
