"""`gameday suite`: run a game day's drills in order, each as its own `gameday run` (a separate
process, as an SRE would run it), starting each lab once for the drills that share it.

Ctrl-C stops the drill in progress (its rollback runs), stops the lab the suite started, and
leaves a suite directory that `--resume` continues from the drill that was interrupted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import yaml

from gameday.drill.summary import RunSummary
from gameday.errors import InputError
from gameday.evidence import provenance, seal, signing
from gameday.reports import manifest
from gameday.suite.spec import Action, DrillSpec, LabSpec, Outcome, Suite, estimate_lab_s, load_suite
from gameday.suite.state import Attempt, DrillRecord, DrillStatus, LabStart, SuiteState

GAMEDAY = [sys.executable, "-m", "gameday.cli"]
# `gameday lab status` exit codes: 0 every process healthy, 1 some not, 2 no lab running.
LAB_HEALTHY, LAB_ABSENT = 0, 2
# What the record keeps of a drill's output when it left no verdicts.json.
TAIL_LINES = 30
INTERRUPTED = 130


@dataclass(frozen=True)
class SuiteRequest:
    suite_file: Path
    out_dir: Path | None = None  # default runs/<time>-suite-<name>
    resume: Path | None = None  # a suite directory to continue
    operator: str = ""
    approver: str = ""
    sign_key: str = ""  # "" = GAMEDAY_SIGNING_KEY (unset: unsigned)
    pdf: bool = True  # suite.pdf
    run_pdfs: bool = False  # each run's report.pdf too


@dataclass
class SuiteResult:
    suite_dir: Path
    state: SuiteState
    interrupted: bool

    @property
    def exit_code(self) -> int:
        return INTERRUPTED if self.interrupted else self.state.exit_code()


def say(message: str) -> None:
    print(f"gameday suite: {message}", file=sys.stderr, flush=True)


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


class Interrupts:
    """The first Ctrl-C is passed to the child at work (a drill rolls back, a lab start
    stops what it started) and ends the suite after it; later ones only say to wait."""

    def __init__(self) -> None:
        self.count = 0
        self.child: subprocess.Popen | None = None

    def handler(self, signum, frame) -> None:  # noqa: ANN001, ARG002
        self.count += 1
        if self.count == 1:
            say("interrupted: the drill in progress rolls back, then the suite stops (resume it with --resume)")
            if self.child is not None and self.child.poll() is None:
                self.child.send_signal(signal.SIGINT)
        else:
            say("still stopping: please wait for the rollback and the lab to stop")

    @property
    def stopped(self) -> bool:
        return self.count > 0

    @contextmanager
    def installed(self) -> Iterator[None]:
        previous = signal.signal(signal.SIGINT, self.handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def _run_child(args: list[str], interrupts: Interrupts, timeout_s: float) -> tuple[int, list[str]]:
    """Run `gameday ARGS` in its own session (Ctrl-C reaches it only through the suite, once),
    its output passed to stderr, indented; (exit code, its last lines)."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(GAMEDAY + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
    interrupts.child = proc

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            sys.stderr.write("  " + line)
            sys.stderr.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        say(f"`gameday {' '.join(args[:2])}` ran past {timeout_s:.0f} s: interrupting it")
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    finally:
        interrupts.child = None
    reader.join(timeout=10)
    return code, list(tail)


def _profile_args(path: Path | None) -> list[str]:
    return ["--profile", str(path)] if path else []


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def run_profile(suite: Suite, drill: DrillSpec, suite_dir: Path) -> Path | None:
    """The drill's run profile: its lab's (which names the lab's home), the suite's, then its
    own, merged into the suite directory when more than one applies."""
    layers = [p for p in ((suite.labs[drill.lab].profile if drill.lab else None), suite.profile, drill.profile) if p is not None]
    if len(layers) <= 1:
        return layers[0] if layers else None
    merged: dict = {}
    for path in layers:
        merged = _merge(merged, yaml.safe_load(path.read_text()) or {})
    out = suite_dir / "profiles" / f"{drill.key}.yaml"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"# merged from {', '.join(map(str, layers))}\n" + yaml.safe_dump(merged, sort_keys=False))
    return out


def outcome_of(code: int, status: str) -> Outcome:
    if status == "halted":
        return Outcome.HALT
    return {0: Outcome.PASS, 1: Outcome.FAIL}.get(code, Outcome.UNKNOWN)


class SuiteRun:
    def __init__(self, suite: Suite, suite_dir: Path, state: SuiteState, req: SuiteRequest, interrupts: Interrupts) -> None:
        self.suite, self.dir, self.state, self.req, self.interrupts = suite, suite_dir, state, req, interrupts
        self.current_lab: LabSpec | None = None
        self.began = time.monotonic()
        self.spent_s = 0.0  # drills run in this session: actual vs estimated seconds
        self.estimated_s = 0.0

    # -- the lab -------------------------------------------------------------------------

    def lab_status(self, lab: LabSpec) -> int:
        return subprocess.run(GAMEDAY + ["lab", "status", *_profile_args(lab.profile)], capture_output=True, text=True, timeout=120).returncode

    def lab_down(self, lab: LabSpec) -> None:
        say(f"stopping lab {lab.name!r}")
        code, tail = _run_child(["lab", "down", *_profile_args(lab.profile)], Interrupts(), 600)
        if code != 0:
            say(f"lab down for {lab.name!r} exited {code}: {' / '.join(tail[-3:])}")
        self.current_lab = None

    def lab_up(self, lab: LabSpec, reason: str) -> bool:
        say(f"starting lab {lab.name!r} (tiers {', '.join(lab.tiers)}; about {clock(estimate_lab_s(lab))}): {reason}")
        began = time.time()
        code, tail = _run_child(["lab", "up", "--tiers", ",".join(lab.tiers), *_profile_args(lab.profile)], self.interrupts, 1800)
        took = time.time() - began
        self.state.labs.append(LabStart(lab.name, list(lab.tiers), began, round(took, 1), code, reason if code == 0 else f"{reason}; FAILED: {' / '.join(tail[-3:])}"))
        self.state.save(self.dir)
        if code != 0:
            say(f"lab {lab.name!r} did not start (exit {code}) after {clock(took)}")
            self.lab_down(lab)  # what it half-started
            return False
        say(f"lab {lab.name!r} up in {clock(took)}")
        self.current_lab = lab
        return True

    def ensure_lab(self, drill: DrillSpec) -> bool:
        """The drill's lab, up and healthy: started when the previous drill used another, and
        started again when a drill left it unhealthy (a region failover leaves the primary down)."""
        lab = self.suite.labs[drill.lab]
        if self.current_lab is not None and self.current_lab.name != lab.name:
            self.lab_down(self.current_lab)
        if self.current_lab is None:
            return self.lab_up(lab, f"for {drill.key}")
        code = self.lab_status(lab)
        if code == LAB_HEALTHY:
            return True
        self.lab_down(lab)
        return self.lab_up(lab, f"for {drill.key}: the lab was {'not running' if code == LAB_ABSENT else 'not healthy'} after the drill before")

    # -- the drills ----------------------------------------------------------------------

    def left_s(self, from_index: int) -> float:
        ratio = min(max(self.spent_s / self.estimated_s, 0.5), 3.0) if self.estimated_s else 1.0
        todo = [d for d in self.suite.drills if d.index >= from_index and self.record(d).status in (DrillStatus.PENDING, DrillStatus.INTERRUPTED)]
        labs, prev = 0.0, self.current_lab.name if self.current_lab else None
        for d in todo:
            if d.lab and d.lab != prev:
                labs += estimate_lab_s(self.suite.labs[d.lab])
                prev = d.lab
        return sum(d.estimate_s for d in todo) * ratio + labs

    def record(self, drill: DrillSpec) -> DrillRecord:
        return self.state.drills[drill.index - 1]

    def run_drill(self, drill: DrillSpec) -> Outcome:
        rec = self.record(drill)
        n = len(rec.attempts) + 1
        run_dir = self.dir / (drill.key if n == 1 else f"{drill.key}.attempt{n}")
        total = len(self.suite.drills)
        say(f"[{drill.index}/{total}] {drill.experiment.path.stem}" + (f" (attempt {n})" if n > 1 else "")
            + f": starting; {clock(time.monotonic() - self.began)} elapsed, about {clock(self.left_s(drill.index))} left")  # fmt: skip
        args = ["run", str(drill.experiment.path), "--out", str(run_dir), *_profile_args(run_profile(self.suite, drill, self.dir))]
        args += ["--rate", f"{drill.rate:g}"] if drill.rate is not None else []
        args += ["--shape", drill.shape] if drill.shape else []
        args += ["--processes", str(drill.processes)] if drill.processes else []
        args += ["--operator", provenance.operator(self.req.operator)]
        args += ["--approver", self.req.approver] if self.req.approver else []
        args += ["--sign-key", self.req.sign_key] if self.req.sign_key else []
        args += ["--pdf"] if self.req.run_pdfs else []
        began = time.time()
        code, tail = _run_child(args, self.interrupts, drill.experiment.drill.max_duration_s + 900)
        ended = time.time()
        try:
            summary = RunSummary.read(run_dir / "verdicts.json")
            status, reason = summary.status, summary.reason
        except InputError:
            status, reason = "no_record", "the run left no verdicts.json: " + " / ".join(tail[-5:])
        rec.attempts.append(Attempt(os.path.relpath(run_dir, self.dir), began, ended, code, status, reason[:2000]))
        if self.interrupts.stopped or status == "interrupted":
            rec.status, rec.outcome = DrillStatus.INTERRUPTED, None
        else:
            rec.status, rec.outcome = DrillStatus.DONE, outcome_of(code, status)
            if status == "carried_out":  # a drill that ended early says nothing of how long drills take
                self.spent_s += ended - began
                self.estimated_s += drill.estimate_s
        self.state.save(self.dir)
        shown = rec.outcome.value.upper() if rec.outcome else "INTERRUPTED"
        say(f"[{drill.index}/{total}] {drill.experiment.path.stem}: {shown} (exit {code}, {status}) in {clock(ended - began)}"
            + ("" if self.interrupts.stopped else f"; about {clock(self.left_s(drill.index + 1))} left"))  # fmt: skip
        return rec.outcome or Outcome.UNKNOWN

    def not_run(self, drills: list[DrillSpec], note: str) -> None:
        for d in drills:
            rec = self.record(d)
            if rec.status in (DrillStatus.PENDING, DrillStatus.INTERRUPTED):
                rec.status, rec.note = DrillStatus.NOT_RUN, note
        self.state.save(self.dir)

    def run(self) -> None:
        todo = [d for d in self.suite.drills if self.record(d).status in (DrillStatus.PENDING, DrillStatus.INTERRUPTED, DrillStatus.NOT_RUN)]
        for d in todo:  # a resume runs again what a stop left unrun
            rec = self.record(d)
            if rec.status is DrillStatus.NOT_RUN:
                rec.status = DrillStatus.PENDING
            rec.note = ""
        self.state.stopped = ""
        failed_lab: str | None = None
        for drill in todo:
            if self.interrupts.stopped:
                break
            if self.suite.manage_lab:
                if failed_lab == drill.lab:
                    self.not_run([drill], f"lab {drill.lab!r} did not start")
                    continue
                if not self.ensure_lab(drill):
                    if self.interrupts.stopped:
                        break
                    failed_lab = drill.lab
                    self.not_run([drill], f"lab {drill.lab!r} did not start: see suite.json's labs and `gameday lab up` output above")
                    outcome = Outcome.UNKNOWN
                    if self.suite.policy.after(outcome) is Action.STOP:
                        self._stop(drill, outcome)
                        return
                    continue
            outcome = self.run_drill(drill)
            if self.interrupts.stopped:
                break
            if self.suite.policy.after(outcome) is Action.STOP:
                self._stop(drill, outcome)
                return

    def _stop(self, drill: DrillSpec, outcome: Outcome) -> None:
        self.state.stopped = f"stopped after {drill.key}: its outcome was {outcome.value} and the suite's policy for {outcome.value} is stop"
        say(self.state.stopped)
        self.not_run([d for d in self.suite.drills if d.index > drill.index], f"not run: {self.state.stopped}")


def _fresh_dir(req: SuiteRequest, suite: Suite) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    suite_dir = (req.out_dir or Path("runs") / f"{stamp}-suite-{suite.name}").resolve()
    if suite_dir.exists() and any(suite_dir.iterdir()):
        raise InputError(f"suite directory {suite_dir} is not empty", hint="choose another --out, or continue it with --resume " + str(suite_dir))
    suite_dir.mkdir(parents=True, exist_ok=True)
    return suite_dir


def _check_resumable(suite: Suite, suite_dir: Path) -> SuiteState:
    state = SuiteState.read(suite_dir)
    if state.suite_sha256 != suite.sha256:
        raise InputError(f"{suite.path} changed since suite {suite_dir.name} started (sha256 {state.suite_sha256[:12]}..., now {suite.sha256[:12]}...)",
                         hint="resume with the suite file it started with (a copy is suite.yaml in the suite directory)")  # fmt: skip
    if [d.key for d in state.drills] != [d.key for d in suite.drills]:
        raise InputError(f"{suite_dir}/suite.json does not list the drills of {suite.path}")
    if (suite_dir / manifest.MANIFEST).exists():
        problems = seal.verify(suite_dir).problems
        if problems:
            raise InputError(f"{suite_dir} no longer matches its seal: " + "; ".join(map(str, problems[:10])),
                             hint="a resume never builds on changed evidence: `gameday verify` names what changed")  # fmt: skip
    if all(d.status is DrillStatus.DONE for d in state.drills):
        raise InputError(f"suite {suite_dir.name} has run every drill: nothing to resume", hint=f"gameday suite {suite.path} starts a new one")
    return state


def _refuse_running_labs(suite: Suite) -> None:
    """A managed suite starts its own labs: one already running would be taken over silently."""
    for lab in {(lab.profile or Path()): lab for lab in suite.labs.values()}.values():
        code = subprocess.run(GAMEDAY + ["lab", "status", *_profile_args(lab.profile)], capture_output=True, text=True, timeout=120).returncode
        if code != LAB_ABSENT:
            raise InputError(f"a lab is already running{' (lab home of ' + str(lab.profile) + ')' if lab.profile else ''}; suite {suite.name} starts and stops its own labs",
                             hint="stop it with `gameday lab down`, or set manage_lab: false in the suite to run on the running lab")  # fmt: skip


def plan_lines(suite: Suite) -> list[str]:
    """What the suite will do, in order, with the first estimate of its time."""
    lines, prev, total = [], None, 0.0
    for d in suite.drills:
        if d.lab and d.lab != prev:
            lab = suite.labs[d.lab]
            total += estimate_lab_s(lab)
            lines.append(f"lab {lab.name}: tiers {', '.join(lab.tiers)}" + (f", profile {lab.profile}" if lab.profile else "") + f" (about {clock(estimate_lab_s(lab))} to start)")
            prev = d.lab
        total += d.estimate_s
        extra = [f"{k} {v}" for k, v in (("rate", d.rate), ("shape", d.shape), ("processes", d.processes), ("profile", d.profile)) if v is not None]
        lines.append(f"  [{d.index}/{len(suite.drills)}] {d.experiment.path.name}: {len(d.experiment.drill.slos)} SLOs" + (f" ({'; '.join(extra)})" if extra else "")
                     + f", about {clock(d.estimate_s)}")  # fmt: skip
    lines.append(f"policy: fail {suite.policy.fail.value}, unknown {suite.policy.unknown.value}, halt {suite.policy.halt.value}; "
                 f"{'the suite starts and stops the labs' if suite.manage_lab else 'runs on the running target'}; about {clock(total)} in all")  # fmt: skip
    return lines


def run_suite(req: SuiteRequest, on_ready: Callable[[Path], None] | None = None) -> SuiteResult:
    """Everything that can be wrong with the input is refused before anything starts."""
    from gameday.suite.report import finish_suite

    suite = load_suite(req.suite_file)
    key = signing.configured_key(req.sign_key)
    if req.resume is not None:
        suite_dir = req.resume.resolve()
        state = _check_resumable(suite, suite_dir)
    else:
        suite_dir, state = None, None
    if suite.manage_lab:
        _refuse_running_labs(suite)
    if suite_dir is None:
        suite_dir = _fresh_dir(req, suite)
        shutil.copyfile(suite.path, suite_dir / "suite.yaml")
        provenance.record(suite_dir, suite_dir / "suite.yaml", req.operator, req.approver)
        state = SuiteState(suite.name, str(suite.path), suite.sha256, time.time(), [DrillRecord(d.key, d.experiment.path.name, d.lab) for d in suite.drills])
    assert state is not None
    action = "resumed" if req.resume is not None else "started"
    state.sessions.append({"t": time.time(), "action": action, "operator": provenance.operator(req.operator)})
    state.finished_at = None
    state.save(suite_dir)
    say(f"suite {suite.name} {action}: {suite_dir}")
    for line in plan_lines(suite):
        say(line)
    if on_ready:
        on_ready(suite_dir)
    interrupts = Interrupts()
    runner = SuiteRun(suite, suite_dir, state, req, interrupts)
    with interrupts.installed():
        try:
            runner.run()
        finally:
            if runner.current_lab is not None:
                runner.lab_down(runner.current_lab)
            if interrupts.stopped:
                state.stopped = f"interrupted (Ctrl-C); continue it with: gameday suite {req.suite_file} --resume {suite_dir}"
                say(state.stopped)
            state.finished_at = time.time()
            state.save(suite_dir)
            finish_suite(suite_dir, state, key, pdf=req.pdf)
    return SuiteResult(suite_dir, state, interrupts.stopped)
