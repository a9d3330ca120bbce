"""The suite runner's own logic against a fake `gameday` (tests/unit/fake_gameday.py): no lab
and no drill run here. What it shows: labs started once and again only when needed, the
policies, the aggregated exit code, Ctrl-C then --resume, the consolidated record (reports,
JUnit, a seal `gameday verify` accepts), and the refusals before anything starts. The real
suite runs against the lab in tests/lab/test_redis_drill_lab.py."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gameday.cli import main
from gameday.errors import InputError
from gameday.evidence import seal
from gameday.suite import SuiteRequest, run_suite
from gameday.suite import runner as suite_runner
from gameday.suite.state import DrillStatus, SuiteState

REPO = Path(__file__).resolve().parents[2]
EXP = REPO / "experiments"
FAKE = Path(__file__).with_name("fake_gameday.py")


@pytest.fixture()
def fake(tmp_path, monkeypatch):
    monkeypatch.setattr(suite_runner, "GAMEDAY", [sys.executable, str(FAKE)])
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "lab.state"))
    for name in ("FAKE_PLAN", "FAKE_BLOCK", "FAKE_SICK_AFTER", "FAKE_LAB_FAILS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "lab.log"


def suite_file(tmp_path: Path, policy: str = "", drills: tuple[str, ...] = ("redis-primary-failover", "api-instance-loss", "store-node-loss")) -> Path:
    path = tmp_path / "game.yaml"
    body = "".join(f"  - experiment: {EXP / d}.json\n    lab: core\n" for d in drills)
    path.write_text(f"name: game\n{policy}labs:\n  core:\n    tiers: [redis, cassandra, api, metrics, kafka]\ndrills:\n{body}")
    return path


def plan(monkeypatch, **stems) -> None:
    monkeypatch.setenv("FAKE_PLAN", json.dumps({k.replace("_", "-"): v for k, v in stems.items()}))


def test_three_drills_share_one_lab_and_a_failure_does_not_stop_the_rest(fake, tmp_path, monkeypatch):
    plan(monkeypatch, api_instance_loss=[1, "carried_out"])
    result = run_suite(SuiteRequest(suite_file(tmp_path), tmp_path / "out"))
    assert result.exit_code == 1
    st = result.state
    assert [d.outcome.value for d in st.drills] == ["pass", "fail", "pass"]
    assert [lab.lab for lab in st.labs] == ["core"], "one lab start serves every drill"
    lines = fake.read_text().splitlines()
    assert lines[0] == "lab status" and lines[1] == "lab up" and lines[-1] == "lab down", "refuses a running lab, starts it, stops it"
    assert sum(line.startswith("run ") for line in lines) == 3
    out = result.suite_dir
    junit = ET.parse(out / "junit.xml").getroot()
    assert [s.get("name").split(":")[0] for s in junit.findall("testsuite")] == ["01-redis-primary-failover", "02-api-instance-loss", "03-store-node-loss"]
    assert junit.get("failures") == "1" and junit.get("tests") == "3"
    html = (out / "suite.html").read_text()
    assert 'class="pill fail">fail<' in html and "02-api-instance-loss/report.html" in html, "badges carry the outcome in words"
    assert "Deviations register" in html and "02-api-instance-loss: redis.promotion_time" in html
    assert "**FAIL**" in (out / "suite.md").read_text()
    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(out / "suite.pdf").pages)
    assert "Game day: game" in text and "02-api-instance-loss" in text, "suite.pdf prints the consolidated report"
    verified = seal.verify(out)
    assert verified.intact and verified.files > 10, verified.problems
    assert main(["verify", str(out)]) == 0
    (out / "02-api-instance-loss" / "verdicts.json").write_text("{}")
    assert main(["verify", str(out)]) == 1, "a changed byte in any run of the suite is caught"


def test_policy_stop_leaves_the_rest_not_run_and_skipped_in_junit(fake, tmp_path, monkeypatch):
    plan(monkeypatch, redis_primary_failover=[1, "carried_out"])
    result = run_suite(SuiteRequest(suite_file(tmp_path, "policy:\n  fail: stop\n"), tmp_path / "out", pdf=False))
    assert result.exit_code == 1
    assert [d.status for d in result.state.drills] == [DrillStatus.DONE, DrillStatus.NOT_RUN, DrillStatus.NOT_RUN]
    assert "policy for fail is stop" in result.state.stopped
    junit = ET.parse(result.suite_dir / "junit.xml").getroot()
    assert junit.get("skipped") == "2" and junit.get("failures") == "1"


def test_a_halt_stops_by_default_and_an_unknown_does_not(fake, tmp_path, monkeypatch):
    plan(monkeypatch, redis_primary_failover=[2, "not_carried_out"], api_instance_loss=[1, "halted"])
    result = run_suite(SuiteRequest(suite_file(tmp_path), tmp_path / "out", pdf=False))
    assert [d.outcome and d.outcome.value for d in result.state.drills] == ["unknown", "halt", None]
    assert result.exit_code == 1


def test_a_run_that_left_no_record_is_unknown_with_its_last_lines(fake, tmp_path, monkeypatch):
    plan(monkeypatch, api_instance_loss=[99, ""])
    result = run_suite(SuiteRequest(suite_file(tmp_path), tmp_path / "out", pdf=False))
    rec = result.state.drills[1]
    assert rec.outcome.value == "unknown" and rec.last.status == "no_record" and "Traceback: boom" in rec.last.reason
    assert result.exit_code == 2


def test_a_drill_that_leaves_the_lab_unhealthy_gets_a_fresh_lab_for_the_next(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SICK_AFTER", "api-instance-loss")
    result = run_suite(SuiteRequest(suite_file(tmp_path), tmp_path / "out", pdf=False))
    assert len(result.state.labs) == 2 and "not healthy" in result.state.labs[1].reason
    assert result.exit_code == 0


def test_a_lab_that_does_not_start_leaves_its_drills_not_run(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_LAB_FAILS", "1")
    result = run_suite(SuiteRequest(suite_file(tmp_path), tmp_path / "out", pdf=False))
    assert [d.status for d in result.state.drills] == [DrillStatus.NOT_RUN] * 3
    assert "sentinel-a not healthy" in result.state.labs[0].reason and result.exit_code == 2
    assert "run " not in fake.read_text()


def test_a_running_lab_is_refused_before_anything_starts(fake, tmp_path):
    (tmp_path / "lab.state").write_text("up")
    with pytest.raises(InputError, match="a lab is already running"):
        run_suite(SuiteRequest(suite_file(tmp_path), tmp_path / "out", pdf=False))
    assert not (tmp_path / "out").exists()


def test_ctrl_c_stops_the_drill_and_the_lab_and_resume_runs_the_rest(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_BLOCK", "api-instance-loss")
    path, out = suite_file(tmp_path), tmp_path / "out"

    def interrupt_when_started() -> None:
        deadline = time.monotonic() + 30
        while not (out / "02-api-instance-loss" / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C reaches the suite

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    first = run_suite(SuiteRequest(path, out, pdf=False))
    assert first.interrupted and first.exit_code == 130
    assert [d.status for d in first.state.drills] == [DrillStatus.DONE, DrillStatus.INTERRUPTED, DrillStatus.PENDING]
    assert first.state.drills[1].last.status == "interrupted", "the drill got the Ctrl-C and recorded it"
    assert "--resume" in first.state.stopped and fake.read_text().splitlines()[-1] == "lab down"
    assert seal.verify(out).intact, "the interrupted suite is sealed as it stands"

    monkeypatch.delenv("FAKE_BLOCK")
    second = run_suite(SuiteRequest(path, resume=out, pdf=False))
    assert second.exit_code == 0 and not second.interrupted
    st = SuiteState.read(out)
    assert [len(d.attempts) for d in st.drills] == [1, 2, 1], "the completed drill is not run again"
    assert st.drills[1].attempts[1].run_dir == "02-api-instance-loss.attempt2" and (out / "02-api-instance-loss" / "verdicts.json").exists()
    assert [s["action"] for s in st.sessions] == ["started", "resumed"]
    with pytest.raises(InputError, match="nothing to resume"):
        run_suite(SuiteRequest(path, resume=out, pdf=False))


def test_resume_refuses_a_changed_suite_file_or_changed_evidence(fake, tmp_path, monkeypatch):
    plan(monkeypatch, redis_primary_failover=[1, "carried_out"])
    path, out = suite_file(tmp_path, "policy:\n  fail: stop\n"), tmp_path / "out"
    run_suite(SuiteRequest(path, out, pdf=False))
    (out / "01-redis-primary-failover" / "verdicts.json").write_text("{}")
    with pytest.raises(InputError, match="no longer matches its seal"):
        run_suite(SuiteRequest(path, resume=out, pdf=False))
    path.write_text(path.read_text() + "# changed\n")
    with pytest.raises(InputError, match="changed since suite out started"):
        run_suite(SuiteRequest(path, resume=out, pdf=False))


def test_run_profiles_merge_the_labs_the_suites_and_the_drills(fake, tmp_path):
    (tmp_path / "lab.yaml").write_text("lab:\n  home: /tmp/x\nredis:\n  sentinel:\n    down_after_ms: 5000\n")
    (tmp_path / "slow.yaml").write_text("redis:\n  sentinel:\n    down_after_ms: 30000\n")
    path = tmp_path / "g.yaml"
    path.write_text(f"labs:\n  core:\n    tiers: [redis, cassandra, api, metrics]\n    profile: lab.yaml\n"
                    f"drills:\n  - {{experiment: {EXP}/redis-primary-failover.json, profile: slow.yaml, rate: 300, processes: 2}}\n")  # fmt: skip
    result = run_suite(SuiteRequest(path, tmp_path / "out", pdf=False))
    merged = (result.suite_dir / "profiles" / "01-redis-primary-failover.yaml").read_text()
    assert "home: /tmp/x" in merged and "down_after_ms: 30000" in merged
    run_line = [line for line in fake.read_text().splitlines() if line.startswith("run ")][0]
    assert "--rate 300" in run_line and "--processes 2" in run_line and str(result.suite_dir / "profiles") in run_line
