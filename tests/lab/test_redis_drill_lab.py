"""The real Redis failover drill against the real lab, in both directions.

These tests start the lab (Redis, Sentinel, Cassandra, the API behind HAProxy,
Prometheus) and take it over: a lab already running is stopped first. The whole module
runs on a lab whose `lab.home` is not the default one, named by `--profile` in every
command, so a non-default home is exercised end to end.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gameday.lab import Lab
from gameday.profile import load_profile
from tests.lab.labutil import GAMEDAY, REPO, gameday, healthy_drill, lab_up, passed_or_only_slow, warn_if_failed

pytestmark = pytest.mark.lab

EXPERIMENT = REPO / "experiments" / "redis-primary-failover.json"




@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A profile naming a lab home of this module's own (not ~/.gameday/lab)."""
    root = tmp_path_factory.mktemp("redis-lab")
    profile = root / "home.yaml"
    profile.write_text(f"lab:\n  home: {root / 'lab-home'}\n")
    return profile


@pytest.fixture(scope="module")
def lab(home):
    took = lab_up("--profile", str(home))
    print(f"\nlab up took {took:.1f} s", file=sys.stderr)
    lab = Lab(load_profile(home))
    assert lab.state() is not None and str(lab.home).startswith(str(home.parent)), "the lab lives in the profile's home"
    yield lab
    gameday("lab", "down", "--profile", str(home))


def verdicts(run_dir: Path) -> dict:
    data = json.loads((run_dir / "verdicts.json").read_text())
    return data | {"by_slo": {v["slo"]: v for v in data["verdicts"]}}


def test_drill_passes_on_the_default_lab(lab, home, tmp_path):
    def run(out: Path) -> tuple[int, dict]:
        proc = gameday("run", str(EXPERIMENT), "--profile", str(home), "--out", str(out))
        v = verdicts(out)
        print(json.dumps(v["verdicts"], indent=1), file=sys.stderr)
        return proc.returncode, v["by_slo"]

    # The search p95 inside the failover window (40 ms) is the one clause this host does not
    # always hold since the store runs three nodes: a CI run of 2026-11-30 measured 185 ms
    # (generator stalled: unknown), 89 and 49 ms in three attempts, every other verdict passing.
    # It stays in the report as measured and the test warns with it; any other miss fails.
    # Three attempts: the first drill after `lab up` often meets a store still settling (cache-
    # miss p95 400-950 ms in two CI runs of the same day, 74-236 ms in the attempt after it).
    must = ("redis.promotion_time", "redis.client_write_recovery", "api.p95_latency", "api.error_rate", "cache.hit_ratio", "store.cache_miss_p95")
    expected = passed_or_only_slow("api.p95_latency_during_fault", *must)
    code, by_slo, run_dir = healthy_drill(run, tmp_path / "healthy", attempts=3, expected=expected)
    v = verdicts(run_dir)
    assert expected(code, by_slo), v["reason"]
    warn_if_failed(by_slo, "api.p95_latency_during_fault", "a failover's cache misses on a busy 2-core host")
    promo = v["by_slo"]["redis.promotion_time"]
    assert promo["verdict"] == "pass" and 0 < promo["measured"] <= 10
    assert v["load"]["achieved_rate"] > 0
    history = (run_dir / "history.jsonl").read_text()  # the experiment's stop conditions were watched, and held off
    assert '"name":"drill.stops_armed"' in history and "searches-failing" in history and '"kind":"drill.halt"' not in history
    for name in ("journal.json", "history.jsonl", "report.html", "report.md", "junit.xml", "manifest.sha256"):
        assert (run_dir / name).is_file(), name
    assert subprocess.run(["sha256sum", "--quiet", "-c", "manifest.sha256"], cwd=run_dir).returncode == 0
    again = gameday("check", str(run_dir))
    assert again.returncode == code and "verdicts match the saved ones" in again.stdout
    assert all(s.state == "healthy" for s in lab.status()), "the rollback must leave the lab healthy"


def test_drill_fails_with_sentinel_default_down_after(lab, home, tmp_path):
    """The run's profile changes Sentinel live (and puts it back), and its per-run keys take
    effect for the run: two load generator processes, no wait for the host to settle."""
    profile = tmp_path / "slow-sentinel.yaml"
    profile.write_text(
        home.read_text()
        + "redis:\n  sentinel:\n    down_after_ms: 30000\n"
        + "load:\n  processes: 2\n"
        + "host:\n  settle_max_wait_s: 0\n"
    )
    run_dir = tmp_path / "slow"
    assert gameday("keygen", "--out", str(tmp_path / "keys")).returncode == 0
    key, pub = tmp_path / "keys" / "gameday-signing.pem", tmp_path / "keys" / "gameday-signing.pub"
    proc = gameday("run", str(EXPERIMENT), "--profile", str(profile), "--out", str(run_dir), "--sign-key", str(key), "--operator", "lab test")
    v = verdicts(run_dir)
    assert proc.returncode == 1, v["reason"]
    # The failing run's record is signed; turning its verdict into a pass is caught, naming the file.
    assert '"operator": "lab test"' in (run_dir / "provenance.json").read_text()
    assert gameday("verify", str(run_dir), "--pubkey", str(pub)).returncode == 0
    forged = tmp_path / "forged"
    shutil.copytree(run_dir, forged)
    (forged / "verdicts.json").write_text((forged / "verdicts.json").read_text().replace('"verdict": "fail"', '"verdict": "pass"'))
    tampered = gameday("verify", str(forged), "--pubkey", str(pub))
    assert tampered.returncode == 1 and "changed: verdicts.json" in tampered.stdout, tampered.stdout
    assert len(list(run_dir.glob("load-*.jsonl"))) == 2, "load.processes: 2 gives two generator processes"
    history = (run_dir / "history.jsonl").read_text()
    assert '"name":"host.settled"' not in history and '"name":"host.busy"' not in history, "host.settle_max_wait_s: 0 skips the wait"
    assert "down_after_ms: 30000" in (run_dir / "profile.yaml").read_text()
    promo = v["by_slo"]["redis.promotion_time"]
    assert promo["verdict"] == "fail" and promo["measured"] > 30
    assert v["status"] != "halted", v["reason"]  # the API serves from the store meanwhile: no stop condition holds
    assert "Misses the plan by" in promo["detail"]
    assert "Misses the plan by" in (run_dir / "report.md").read_text()
    # The run put the lab's own setting back.
    import redis

    host, port = lab.require_state().topology.address("az-a"), 26379
    master = redis.Redis(host=host, port=port, decode_responses=True).execute_command("SENTINEL", "MASTER", "lab-cache")
    state = dict(zip(master[::2], master[1::2])) if isinstance(master, list) else master
    assert int(state["down-after-milliseconds"]) == 5000


def _wait_for(path: Path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared in {path}")


@pytest.mark.suite  # make test's hour: three drill runs, about 4 minutes (238 s in a local CI run); make suite runs it
def test_a_suite_stopped_by_ctrl_c_in_a_fault_window_rolls_back_and_resumes(lab, home, tmp_path):
    """A real game day of two drills on the module's lab (`manage_lab: false`): Ctrl-C in the
    second drill's fault window rolls that drill back and stops the suite (exit 130); --resume
    runs it again, not the first; one signed record covers both, with a JUnit test suite per
    drill. (A suite that starts its own labs runs in the closing notes' figures: each lab
    start costs minutes.)"""
    suite, out = tmp_path / "game.yaml", tmp_path / "game"
    suite.write_text(f"name: lab-test\nmanage_lab: false\nprofile: {home}\npolicy: {{fail: continue}}\ndrills:\n"
                     f"  - {REPO / 'experiments' / 'store-node-loss.json'}\n  - {REPO / 'experiments' / 'api-instance-loss.json'}\n")  # fmt: skip
    assert gameday("keygen", "--out", str(tmp_path / "keys")).returncode == 0
    key, pub = tmp_path / "keys" / "gameday-signing.pem", tmp_path / "keys" / "gameday-signing.pub"
    began = time.monotonic()
    proc = subprocess.Popen(GAMEDAY + ["suite", str(suite), "--out", str(out), "--sign-key", str(key), "--no-pdf"], cwd=REPO, text=True)
    _wait_for(out / "02-api-instance-loss" / "history.jsonl", '"phase":"injected"', 600)
    proc.send_signal(signal.SIGINT)  # as Ctrl-C reaches the suite
    assert proc.wait(timeout=300) == 130
    print(f"\nsuite interrupted after {time.monotonic() - began:.0f} s", file=sys.stderr)
    interrupted = out / "02-api-instance-loss"
    history = (interrupted / "history.jsonl").read_text()
    assert '"phase":"reverted"' in history, "the rollback must run after Ctrl-C"
    assert verdicts(interrupted)["status"] == "interrupted"
    assert all(s.state == "healthy" for s in lab.status())
    state = json.loads((out / "suite.json").read_text())
    assert [d["status"] for d in state["drills"]] == ["done", "interrupted"] and "--resume" in state["stopped"]

    resumed = gameday("suite", str(suite), "--resume", str(out), "--sign-key", str(key), timeout=1200)
    print(f"suite done after {time.monotonic() - began:.0f} s in all", file=sys.stderr)
    state = json.loads((out / "suite.json").read_text())
    assert [len(d["attempts"]) for d in state["drills"]] == [1, 2], "the completed drill is not run again"
    assert [d["status"] for d in state["drills"]] == ["done", "done"]
    assert all(d["attempts"][-1]["status"] == "carried_out" for d in state["drills"]), state["drills"]
    expected = max(d["attempts"][-1]["exit_code"] for d in state["drills"])
    assert resumed.returncode == expected and expected in (0, 1), resumed.stdout
    junit = ET.parse(out / "junit.xml").getroot()
    assert [s.get("name").split(":")[0] for s in junit.findall("testsuite")] == ["01-store-node-loss", "02-api-instance-loss"]
    assert int(junit.get("tests")) >= 8
    assert "02-api-instance-loss.attempt2/report.html" in (out / "suite.html").read_text()
    verified = gameday("verify", str(out), "--pubkey", str(pub))
    assert verified.returncode == 0 and "signed by key" in verified.stdout, verified.stdout


def test_open_model_load_with_two_worker_processes_holds_its_rate(lab, tmp_path):
    """One real short run of the load generator alone: Locust master/worker, merged seconds."""
    from gameday.history import History
    from gameday.load.run import LoadPlan, LoadRun, summarize, timetable_env
    from gameday.target import resolve

    target = resolve(profile=lab.profile)
    plan = LoadPlan(
        rate=400, target_url=target.lb_url(), max_duration_s=60, processes=2,
        timetable=timetable_env(target.profile),
    )  # fmt: skip
    run = LoadRun(plan, tmp_path, target)
    run.start()
    time.sleep(15)
    run.stop()
    records = run.records()
    assert len({r.worker for r in records}) == 2, "each worker process writes its own seconds"
    summary = summarize(History.of_records([*records, run.marker()]))
    print(f"\n2 workers at 400 req/s: {summary}", file=sys.stderr)
    # The claim is the generator's: it offers 400 req/s from two processes and merges their
    # seconds. 400 req/s is above what the 2-core lab serves within its timeouts since the
    # store runs three nodes (a run of 2026-11-30: 7 of 5,651 failed, p95 2.7 s), so the
    # lab's answers are only required to be nearly all there.
    assert summary is not None and summary.requests > 0 and summary.errors <= 0.01 * summary.requests, summary
    steady = [r for r in records if r.offered]
    assert sum(r.offered for r in steady) / len({int(r.t) for r in steady}) == pytest.approx(400, rel=0.1)


def test_lab_down_cleans_up_after_a_killed_harness(lab, home, tmp_path):
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(GAMEDAY + ["run", str(EXPERIMENT), "--profile", str(home), "--out", str(run_dir)], cwd=REPO)
    _wait_for(run_dir / "history.jsonl", "load.started", 120)
    proc.kill()
    proc.wait()
    st = lab.require_state()
    tracked = list(st.components.values()) + list(st.helpers.values())
    assert any(t.name == "locust" and t.alive() for t in st.helpers.values()), "the load generator outlives a killed harness"
    assert all(t.alive() for t in st.components.values())
    assert gameday("lab", "down", "--profile", str(home)).returncode == 0
    assert [t.name for t in tracked if t.alive()] == []
    assert "gd-az" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "gameday_guard" not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert "gd-br0" not in subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
    assert gameday("lab", "down", "--profile", str(home)).returncode == 0  # idempotent
