"""Reports and the evidence manifest, on hand-made run directories (no lab)."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gameday.checkers.verdicts import Outcome, Verdict, judge
from gameday.drill.summary import RunSummary
from gameday.history import ActivityEvent, FaultEvent, FaultPhase, History, LoadSecond, Marker, Record
from gameday.load import latency
from gameday.load.run import LoadSummary
from gameday.reports.manifest import MANIFEST, read_manifest, verify_manifest, write_manifest
from gameday.reports.render import render_run
from gameday.reports.series import series
from gameday.spec import catalog

T0 = 1_754_300_000.0  # whole second, so LoadSecond buckets line up with offsets


def load_second(t: float, worker: str, latencies_ms: list[float], failures: int = 0) -> LoadSecond:
    hist = latency.new_histogram()
    for ms in latencies_ms:
        latency.record_ms(hist, ms)
    return LoadSecond(t=t, worker=worker, requests=len(latencies_ms), failures=failures, hist=latency.encode(hist))


def synthetic_history(seconds: int = 60, rate: int = 300, fault: tuple[int, int] | None = (20, 45), seed: int = 7) -> History:
    """Two workers at ~rate/2 each; inside the fault, a latency spike that decays, and some errors."""
    rng = random.Random(seed)
    records: list[Record] = [Marker(t=T0, name="load.started", detail=f"{rate} req/s, 2 workers")]
    for i in range(seconds):
        for worker in ("w1", "w2"):
            n = rate // 2 + rng.randint(-8, 8)
            base, failures = 11.0, 0
            if fault and fault[0] <= i < fault[1]:
                since = i - fault[0]
                base = 11.0 + 300.0 * (0.55**since)  # failover spike, then recovery
                n = int(n * (0.4 if since < 3 else 0.95))
                failures = rng.randint(5, 20) if since < 3 else 0
            latencies = [rng.lognormvariate(0, 0.35) * base for _ in range(n)]
            records.append(load_second(T0 + i, worker, latencies, failures))
    if fault:
        records += [
            ActivityEvent(t=T0 + fault[0] - 0.2, name="kill-redis-primary", activity_type="action", phase="start"),
            FaultEvent(t=T0 + fault[0], phase=FaultPhase.INJECTED, fault="redis.kill_primary", component="redis-a", az="az-a"),
            ActivityEvent(t=T0 + fault[0] + 0.1, name="kill-redis-primary", activity_type="action", phase="end", status="succeeded"),
            FaultEvent(t=T0 + fault[1], phase=FaultPhase.REVERTED, fault="redis.kill_primary", component="redis-a", az="az-a"),
        ]
    return History.of_records(records)


def outcomes() -> list[Outcome]:
    spec = catalog()
    return [
        judge(spec["api.p95_latency"], 18.5, "p95 of 9000 requests outside the fault window."),
        judge(spec["api.p95_latency_during_fault"], 212.0, "p95 inside the fault window <script>alert(1)</script> | pipe."),
        judge(spec["cache.hit_ratio"], None, "No cache counters in the history."),
    ]


def make_run(run_dir: Path, history: History | None = None, load: bool = True, status: str = "carried_out", exit_code: int = 1) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    history = synthetic_history() if history is None else history
    RunSummary(
        run_id=run_dir.name,
        experiment="experiments/redis-primary-failover.json",
        target="lab",
        started_at=T0,
        ended_at=T0 + 60,
        exit_code=exit_code,
        status=status,
        reason="api.p95_latency_during_fault failed",
        verdicts=outcomes(),
        load=LoadSummary(300, 281.4, 11.2, 19.8, 240.5, 16884, 61, False) if load else None,
    ).write(run_dir / "verdicts.json")
    history.write(run_dir / "history.jsonl")
    journal = {
        "experiment": {"title": "Redis primary failover under load", "description": "Kill the Redis primary.", "extensions": []},
        "status": "completed",
        "deviated": False,
        "start": "2025-08-04T09:33:20.000000",
        "end": "2025-08-04T09:34:20.000000",
        "steady_states": {
            "before": {"steady_state_met": True, "probes": [{"activity": {"name": "api-healthy", "type": "probe"}, "status": "succeeded", "output": True, "tolerance_met": True}]},
            "after": {"steady_state_met": True, "probes": []},
            "during": [],
        },
        "run": [{"activity": {"name": "kill-redis-primary", "type": "action"}, "status": "succeeded", "start": "2025-08-04T09:33:40.000000", "end": "2025-08-04T09:33:40.100000", "output": {"killed": "redis-a"}}],
        "rollbacks": [{"activity": {"name": "restart-redis-a", "type": "action"}, "status": "succeeded", "start": "2025-08-04T09:34:05.000000", "end": "2025-08-04T09:34:06.000000", "output": None}],
    }
    (run_dir / "journal.json").write_text(json.dumps(journal))
    (run_dir / "runbook.md").write_text("# Redis failover\n\n1. Check `SENTINEL get-master-addr-by-name` <b>now</b>\n")
    (run_dir / "logs").mkdir(exist_ok=True)
    (run_dir / "logs" / "redis-a.log").write_text("ready to accept connections\n")
    return run_dir


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "20250804T093320Z-redis")


def test_render_writes_the_three_reports(run_dir: Path) -> None:
    paths = render_run(run_dir)
    assert [p.name for p in paths] == ["report.html", "report.md", "junit.xml"]
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_html_has_verdict_rows_plot_and_escapes(run_dir: Path) -> None:
    html = (render_run(run_dir)[0]).read_text()
    for o in outcomes():
        assert o.slo in html
    assert len(re.findall(r'<tr class="(pass|fail|unknown)">', html)) == 3
    assert "<svg" in html and "<polyline" in html
    threshold = catalog()["api.p95_latency"].threshold
    assert f"p95 SLO {threshold:g} ms" in html
    assert "redis.kill_primary" in html and 'class="window"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;now&lt;/b&gt;" in html  # runbook is text, never markup
    assert "Redis primary failover under load" in html


def test_html_is_self_contained(run_dir: Path) -> None:
    html = render_run(run_dir)[0].read_text()
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<script|<link|<img|@import|url\(", html, re.IGNORECASE)


def test_markdown_has_the_essentials(run_dir: Path) -> None:
    md = render_run(run_dir)[1].read_text()
    assert "| `api.p95_latency_during_fault` |" in md and "**FAIL**" in md and "**UNKNOWN**" in md
    assert "281.4 req/s" in md and "redis.kill_primary @ redis-a (az-a)" in md
    assert "&lt;script>" in md and "\\| pipe" in md  # no raw HTML, no broken table


def test_junit_counts_and_shape(run_dir: Path) -> None:
    root = ET.parse(render_run(run_dir)[2]).getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "Redis primary failover under load"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("3", "1", "1", "0")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"api.p95_latency", "api.p95_latency_during_fault", "cache.hit_ratio"}
    assert all(c.get("classname") == "gameday.redis-primary-failover" and c.get("time") == "0" for c in cases.values())
    assert list(cases["api.p95_latency"]) == []
    failure = cases["api.p95_latency_during_fault"].find("failure")
    assert failure is not None and failure.get("message") == "measured 212 ms, threshold <= 40 ms"
    assert "<script>" in (failure.text or "")  # escaped on disk, intact once parsed
    assert cases["cache.hit_ratio"].find("error") is not None and not list(suite.iter("skipped"))
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["run_id"] == run_dir.name and props["target"] == "lab" and props["exit_code"] == "1"


def test_junit_flags_a_run_that_was_not_carried_out(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", status="not_carried_out", exit_code=2)
    suite = ET.parse(render_run(run)[2]).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("errors")) == ("4", "2")


def test_empty_history_and_no_load_still_render(tmp_path: Path) -> None:
    run = make_run(tmp_path / "empty", history=History(()), load=False)
    html = render_run(run)[0].read_text()
    assert "No load data" in html and "<svg" not in html
    assert '<td class="muted">journal</td>' in html  # activities fall back to the journal
    (run / "history.jsonl").unlink()
    (run / "journal.json").unlink()
    (run / "runbook.md").unlink()
    html = render_run(run)[0].read_text()
    assert "history.jsonl is missing" in html and "No runbook.md" in html
    assert "No faults, activities or markers were recorded." in html


def test_series_merges_workers_per_second() -> None:
    history = History.of_records(
        [
            load_second(T0 + 0.0, "w1", [10.0] * 90, failures=1),
            load_second(T0 + 0.0, "w2", [100.0] * 10),
            load_second(T0 + 1.0, "w1", [5.0] * 50),
            FaultEvent(t=T0 + 0.5, phase=FaultPhase.INJECTED, fault="f", component="c"),
            FaultEvent(t=T0 + 1.5, phase=FaultPhase.REVERTED, fault="f", component="c"),
        ]
    )
    ts = series(history, start=T0)
    assert ts.offsets == (0.0, 1.0) and ts.rps == (100.0, 50.0) and ts.errors_per_s == (1.0, 0.0)
    # p95 over the merged 100 requests lands in w2's 100 ms tail; averaging per-worker p95s would say 55.
    assert ts.p95_ms[0] == pytest.approx(100.0, rel=0.01) and ts.p50_ms[0] == pytest.approx(10.0, rel=0.01)
    assert ts.window == (0.5, 1.5) and [m.phase for m in ts.faults] == ["injected", "reverted"]


def test_manifest_passes_sha256sum_and_catches_tampering(run_dir: Path) -> None:
    render_run(run_dir)
    (run_dir / "logs" / "name with space.log").write_text("x\n")
    (run_dir / "logs" / "back\\slash.log").write_text("y\n")
    write_manifest(run_dir)
    listed = read_manifest(run_dir)
    assert MANIFEST not in listed and "report.html" in listed and "logs/redis-a.log" in listed
    assert verify_manifest(run_dir) == []
    if shutil.which("sha256sum"):
        done = subprocess.run(["sha256sum", "-c", "--strict", MANIFEST], cwd=run_dir, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    (run_dir / "logs" / "redis-a.log").write_text("edited\n")
    (run_dir / "runbook.md").unlink()
    (run_dir / "logs" / "late.log").write_text("z")
    assert verify_manifest(run_dir) == ["changed: logs/redis-a.log", "missing: runbook.md", "unlisted: logs/late.log"]
    html = render_run(run_dir)[0].read_text()
    assert "CHANGED since manifest" in html and "NOT in manifest" in html


def test_verdicts_round_trip_used_by_the_fixture(run_dir: Path) -> None:
    summary = RunSummary.read(run_dir / "verdicts.json")
    assert [o.verdict for o in summary.verdicts] == [Verdict.PASS, Verdict.FAIL, Verdict.UNKNOWN]


def test_reports_show_the_plans_coverage(run_dir: Path) -> None:
    """Which clauses this run judged, which other drills judge, and which no drill here can."""
    html_path, md_path, _ = render_run(run_dir)
    md, html = md_path.read_text(), html_path.read_text()
    assert "## Coverage of the plan" in md and 'id="coverage"' in html
    assert "| `api.p95_latency_during_fault` |" in md.split("## Coverage of the plan")[1]
    assert "| this run | **FAIL** |" in md
    assert "| `kafka.leader_reelection` |" in md and "kafka-broker-loss" in md.split("## Coverage of the plan")[1]
    assert "| `dr.drill_cadence` |" in md and "| not measured | A schedule, not a property of the platform" in md
