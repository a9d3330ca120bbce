"""`gameday run`: validate, run the Chaos Toolkit experiment with load and monitors,
check, report. Every failure becomes a recorded outcome and an exit code."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from gameday import session as sessions
from gameday.checkers import run_checkers
from gameday.errors import InputError, LabError
from gameday.evidence import save_prometheus_view
from gameday.experiment import Experiment, load_experiment
from gameday.history import FaultPhase, History, Marker
from gameday.lab.profile import Profile, load_profile
from gameday.lab.supervisor import Lab
from gameday.load import summarize
from gameday.shapes import ShapeKind
from gameday.target.lab import LabTarget
from gameday import tuning
from gameday.verdicts import RunSummary, Verdict


def say(message: str) -> None:
    print(f"gameday: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class RunRequest:
    experiment: Path
    profile: Path | None = None
    out_dir: Path | None = None
    rate: float | None = None
    shape: str | None = None
    processes: int | None = None


@contextmanager
def first_interrupt_only() -> Iterator[None]:
    """The first Ctrl-C stops the drill (rollbacks still run); later ones are ignored
    until cleanup is done, so the platform is always put back."""
    count = 0

    def handler(signum, frame):  # noqa: ARG001
        nonlocal count
        count += 1
        if count == 1:
            say("interrupted: rolling back and putting the lab back; please wait")
            raise KeyboardInterrupt
        say("still cleaning up (the rollback is running); please wait")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def prepare(req: RunRequest) -> tuple[Experiment, Profile, LabTarget, dict]:
    """Everything that can be wrong with the input or the target, checked before anything starts."""
    exp = load_experiment(req.experiment)
    if req.rate is not None:
        if req.rate <= 0:
            raise InputError(f"--rate must be positive, got {req.rate:g}")
        exp.drill.rate = req.rate
    if req.shape is not None:
        exp.drill.shape = ShapeKind(req.shape)
        exp.drill.shape_params = {}
    if req.processes is not None:
        if req.processes < 1:
            raise InputError(f"--processes must be at least 1, got {req.processes}")
        exp.drill.processes = req.processes
    profile = load_profile(req.profile)
    lab = Lab(profile)
    st = lab.require_state()
    missing = [t for t in exp.drill.tiers if t not in st.tiers]
    if missing:
        raise LabError(f"the lab runs tiers {', '.join(st.tiers)} but {req.experiment} needs {', '.join(missing)}", hint="gameday lab down && gameday lab up")
    unhealthy = [s for s in lab.status() if s.state != "healthy" and s.tier in exp.drill.tiers]
    if unhealthy:
        listing = "; ".join(f"{s.name} {s.state} {s.problem}".strip() for s in unhealthy)
        raise LabError(f"the lab is not healthy: {listing}", hint="gameday lab status; or gameday lab down && gameday lab up")
    changes = tuning.plan_changes(st.profile, profile.data, str(req.profile)) if req.profile else {}
    return exp, profile, LabTarget(lab, st), changes


def run(req: RunRequest) -> RunSummary:
    exp, profile, target, changes = prepare(req)
    started = time.time()
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-" + exp.path.stem
    run_dir = (req.out_dir or Path("runs") / run_id).resolve()
    if run_dir.exists() and any(run_dir.iterdir()):
        raise LabError(f"run directory {run_dir} is not empty", hint="choose another --out")
    say(f"run {run_id}: {exp.title}")
    say(f"run directory: {run_dir}")
    lab = target.lab
    log_offsets = {p: p.stat().st_size for p in (lab.home / "logs").glob("*.log")}
    session = sessions.Session(run_dir, target, exp.drill, say=say)
    sessions.current = session
    journal: dict = {}
    service = target.redis_service()
    original = {k: target.ctx.profile.get(k) for k in changes}
    try:
        with first_interrupt_only():
            if changes:
                say("applying live profile settings: " + ", ".join(f"{k}={v}" for k, v in changes.items()))
                tuning.apply_sentinel(target.sentinels(), service, changes)
                session.mark("profile.applied", json.dumps(changes))
            journal = _run_chaos(exp, run_dir)
    except KeyboardInterrupt:
        journal = journal or {"status": "interrupted"}
    finally:
        with _ignoring_interrupts():
            _put_back(target, session, changes, original, service)
    ended = time.time()
    (run_dir / "journal.json").write_text(json.dumps(journal, indent=2, default=str))
    history = History.read(run_dir / "history.jsonl")
    summary = judge_run(run_id, exp.path.name, exp.drill.slos, target.name, started, ended, journal, history)
    _collect(exp, run_dir, lab.home / "logs", log_offsets)
    if "metrics" in target.lab.require_state().tiers:
        say(save_prometheus_view(f"http://127.0.0.1:{target.ctx.profile.get('prometheus.port')}", started, ended, run_dir / "prometheus.json"))
    finish(run_dir, summary)
    return summary


@contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, lambda s, f: say("cleanup in progress; please wait"))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_chaos(exp: Experiment, run_dir: Path) -> dict:
    """Rollbacks always run, even after Ctrl-C. Chaos Toolkit's own log goes to the run directory."""
    from chaoslib.experiment import run_experiment

    logger = logging.getLogger("chaostoolkit")
    handler = logging.FileHandler(run_dir / "chaostoolkit.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    settings = {"runtime": {"rollbacks": {"strategy": "always"}}}
    try:
        return run_experiment(json.loads(json.dumps(exp.data)), settings=settings)
    finally:
        logger.removeHandler(handler)
        handler.close()


def _put_back(target: LabTarget, session: sessions.Session, changes: dict, original: dict, service: str) -> None:
    """Whatever happened, the lab ends as it began: settings restored, killed components back."""
    if session.running:
        session.stop()
    if changes:
        try:
            tuning.apply_sentinel(target.sentinels(), service, original)
        except LabError as exc:
            say(f"could not restore Sentinel settings: {exc}")
    for name in target.down_components():
        say(f"{name} is still down after the rollbacks: restarting it")
        try:
            target.restart(name)
        except Exception as exc:  # report and go on: the rest must still be put back
            say(f"could not restart {name}: {exc}")


def judge_run(run_id: str, experiment: str, slos: list[str], target: str, started: float, ended: float, journal: dict, history: History) -> RunSummary:
    outcomes = run_checkers(history, slos)
    status, reason, code = _classify(journal, history)
    if code == 0:
        verdicts = {o.verdict for o in outcomes}
        if Verdict.FAIL in verdicts:
            code, reason = 1, "at least one SLO failed"
        elif Verdict.UNKNOWN in verdicts:
            code, reason = 2, "at least one SLO could not be measured"
        else:
            reason = "every SLO in scope passed"
    return RunSummary(run_id, experiment, target, started, ended, code, status, reason, outcomes, summarize(history))


def _classify(journal: dict, history: History) -> tuple[str, str, int]:
    """Chaos Toolkit's outcome, without its pitfalls (a failed hypothesis or action still exits 0 there)."""
    status = journal.get("status")
    if status == "interrupted":
        return "interrupted", "the drill was interrupted before it finished", 2
    before = (journal.get("steady_states") or {}).get("before") or {}
    if before and not before.get("steady_state_met", False):
        return "deviated", "the steady-state hypothesis did not hold before the fault", 1
    failed = [r["activity"]["name"] for r in journal.get("run", []) if r.get("status") != "succeeded" and r.get("activity", {}).get("type") == "action"]
    injected = [f for f in history.faults() if f.phase is FaultPhase.INJECTED]
    fault_free = any(m.name == sessions.STEADY_STATE_ONLY for m in history.of(Marker))
    if failed or not (injected or fault_free):
        names = ", ".join(failed) or "none recorded"
        return "not_carried_out", f"the fault was not injected (failed actions: {names})", 2
    if status not in ("completed", "failed") and status is not None:
        return str(status), f"chaos toolkit ended with status {status}", 2
    if journal.get("deviated"):
        return "deviated", "the steady-state hypothesis did not hold after the fault", 1
    return "carried_out", "", 0


def _collect(exp: Experiment, run_dir: Path, logs: Path, offsets: dict[Path, int]) -> None:
    """The runbook and what each lab component logged during the run."""
    if exp.runbook_path.is_file():
        shutil.copyfile(exp.runbook_path, run_dir / "runbook.md")
    shutil.copyfile(exp.path, run_dir / "experiment.json")
    out = run_dir / "logs"
    out.mkdir(exist_ok=True)
    for log in sorted(logs.glob("*.log")):
        with log.open("rb") as fh:
            fh.seek(offsets.get(log, 0))
            (out / log.name).write_bytes(fh.read()[-2_000_000:])


def finish(run_dir: Path, summary: RunSummary) -> None:
    """verdicts.json, the reports, then the manifest over everything."""
    from gameday.manifest import write_manifest
    from reports.render import render_run

    summary.write(run_dir / "verdicts.json")
    render_run(run_dir)
    write_manifest(run_dir)


def recheck(run_dir: Path) -> RunSummary:
    """Re-run the checkers on a saved run: same history, same verdicts."""
    for name in ("verdicts.json", "history.jsonl", "journal.json"):
        if not (run_dir / name).is_file():
            raise InputError(f"{run_dir}: {name} is missing; is this a gameday run directory?")
    old = RunSummary.read(run_dir / "verdicts.json")
    history = History.read(run_dir / "history.jsonl")
    journal = json.loads((run_dir / "journal.json").read_text())
    slos = [v.slo for v in old.verdicts]
    return judge_run(old.run_id, old.experiment, slos, old.target, old.started_at, old.ended_at, journal, history)
