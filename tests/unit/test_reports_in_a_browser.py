"""The reports as a person sees them: run, suite and trend pages opened in Debian's headless
Chromium (tests/unit/browser.py). No console error, exception or failed load; every plot
drawn with its marks; every verdict badge a word (readable without colour) whose text stands
out from its background at WCAG AA contrast (4.5:1, a luminance ratio, so in greyscale too).
A page with those faults is shown to be caught."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from gameday.reports import trend
from gameday.reports.render import render_run
from tests.unit.browser import Chromium, PageView, contrast
from tests.unit.test_reports import make_run

# Every badge says its verdict in words (the steady state's: met, not met, not checked).
WORDS = {"pass", "fail", "unknown", "halt", "interrupted", "not run", "met", "not met", "not checked"}
AA = 4.5


@pytest.fixture(scope="module")
def browser():
    chromium = Chromium()
    yield chromium
    chromium.close()


def looks_right(view: PageView, plots: int) -> None:
    assert view.errors == [], view.errors
    assert view.probe["brokenImages"] == []
    drawn = [p for p in view.probe["plots"] if p["width"] > 300 and p["height"] > 100 and p["marks"] >= 5]
    assert len(drawn) >= plots, f"plots drawn: {view.probe['plots']}"
    assert view.probe["badges"], "verdict badges"
    for b in view.probe["badges"]:
        assert b["text"].lower() in WORDS and b["visible"], b
        assert contrast(b["fg"], b["bg"]) >= AA, f"badge {b['text']!r}: contrast {contrast(b['fg'], b['bg']):.2f} < {AA}"
    from PIL import Image

    shot = Image.open(io.BytesIO(view.screenshot)).convert("L")
    shades = shot.getcolors(maxcolors=256)
    assert shot.width >= 1000 and shades is not None and len(shades) > 50, "the screenshot shows a rendered page, not a blank one"


def test_a_run_report_renders_in_chromium(browser, tmp_path):
    run = make_run(tmp_path / "run")
    render_run(run)
    view = browser.open(run / "report.html")
    looks_right(view, plots=1)
    assert "Redis primary failover" in view.probe["title"] and view.probe["text"] > 2000


def test_a_suite_report_renders_in_chromium(browser, tmp_path, monkeypatch):
    from gameday.suite import SuiteRequest, run_suite
    from gameday.suite import runner as suite_runner

    exp = Path(__file__).resolve().parents[2] / "experiments"
    monkeypatch.setattr(suite_runner, "GAMEDAY", [sys.executable, str(Path(__file__).with_name("fake_gameday.py"))])
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "lab.state"))
    monkeypatch.setenv("FAKE_PLAN", json.dumps({"api-instance-loss": [1, "carried_out"], "store-node-loss": [2, "not_carried_out"]}))
    path = tmp_path / "s.yaml"
    path.write_text("policy: {unknown: stop}\ndrills:\n" + "".join(f"  - {exp / n}.json\n" for n in ("redis-primary-failover", "api-instance-loss", "store-node-loss", "search-node-loss")))
    result = run_suite(SuiteRequest(path, tmp_path / "suite", pdf=False))
    view = browser.open(result.suite_dir / "suite.html")
    looks_right(view, plots=1)
    assert {b["text"].lower() for b in view.probe["badges"]} >= {"pass", "fail", "unknown", "not run"}


def test_a_trend_page_renders_in_chromium(browser, tmp_path):
    runs = [make_run(tmp_path / f"2025080{i}T093320Z-redis") for i in (1, 2, 3)]
    summaries = trend.load(runs)
    page = trend.write_html(trend.trends(summaries, 30.0), summaries, tmp_path / "trend.html", 30.0)
    view = browser.open(page)
    assert view.errors == [], view.errors
    assert [p for p in view.probe["plots"] if p["width"] > 100 and p["marks"] >= 3], view.probe["plots"]


def test_the_browser_check_catches_a_broken_page(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<html><head><title>broken</title><style>.pill{color:#999;background:#bbb}</style></head><body>'
                    '<span class="pill">PASS</span><span class="pill">✓</span><img src="missing.png">'
                    '<script>console.error("a report script failed"); undefined_function();</script></body></html>')  # fmt: skip
    view = browser.open(page)
    joined = " ".join(view.errors)
    assert "a report script failed" in joined and "undefined_function" in joined and "missing.png" in joined, view.errors
    assert view.probe["brokenImages"] and view.probe["plots"] == []
    with pytest.raises(AssertionError):
        looks_right(view, plots=0)
    low = view.probe["badges"][0]
    assert contrast(low["fg"], low["bg"]) < AA
    assert contrast([0, 0, 0], [255, 255, 255]) == pytest.approx(21)
