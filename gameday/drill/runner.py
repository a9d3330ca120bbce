"""`gameday run`: validate, run the Chaos Toolkit experiment with load and monitors,
check, report. Every failure becomes a recorded outcome and an exit code."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Iterator

import yaml

from gameday.drill import session as sessions
from gameday.drill.experiment import Experiment, load_experiment
from gameday.drill.judge import judge_run
from gameday.drill.summary import RunSummary
from gameday.errors import InputError, TargetError
from gameday.evidence import provenance, seal, signing
from gameday.history import PROFILE_APPLIED, History
from gameday.load.run import MAX_PROCESSES
from gameday.load.shapes import ShapeKind, make_shape
from gameday.profile import Profile, flatten, load_profile
from gameday.profile.live import plan_changes
from gameday.reports import manifest
from gameday.reports.evidence import save_prometheus_view
from gameday.spec import catalog
from gameday.target import PROFILE_KEY, TARGET_KEY, Target, resolve


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
    operator: str = ""  # who runs it (provenance.json); "" = GAMEDAY_OPERATOR or the login name
    approver: str = ""  # who approved the drill, for the dossier's sign-off
    sign_key: str = ""  # the Ed25519 key sealing the run; "" = GAMEDAY_SIGNING_KEY (unset: unsigned)
    pdf: bool = False  # also print report.pdf


def in_finalizer(frame: FrameType | None) -> bool:
    """Whether the code a signal interrupted runs inside a `__del__`: Python prints and drops
    an exception raised there (a Redis client collected mid-poll swallowed a Ctrl-C)."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


# How soon a Ctrl-C that landed in a finalizer is delivered again.
REDELIVER_S = 0.05


@contextmanager
def first_interrupt_only() -> Iterator[None]:
    """The first Ctrl-C stops the drill (rollbacks still run); later ones are ignored
    until cleanup is done, so the platform is always put back."""
    count = 0

    def handler(signum, frame):  # noqa: ARG001
        nonlocal count
        if in_finalizer(frame):  # the KeyboardInterrupt would be lost: deliver it again
            threading.Timer(REDELIVER_S, os.kill, (os.getpid(), signal.SIGINT)).start()
            return
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


@dataclass(frozen=True)
class Prepared:
    """A run, checked before anything starts: the experiment, the run's one profile, the
    target it acts on, and the live settings it changes for the run."""

    experiment: Experiment
    profile: Profile
    target: Target
    changes: dict[str, Any]
    sign_key: Any = None  # an Ed25519PrivateKey, or None (not signed)


# The AZ drills' override of the AZ they lose or cut off (their configuration key reads it).
AZ_KEY, AZ_ENV = "gameday_az", "GAMEDAY_AZ"


def prepare(req: RunRequest) -> Prepared:
    """Everything that can be wrong with the input or the target, checked before anything starts."""
    exp = load_experiment(req.experiment)
    key = signing.configured_key(req.sign_key)  # a bad key is refused before anything starts
    drives_own_load = exp.drill.rate == 0  # e.g. the capacity drill: its method runs the load
    if drives_own_load and (req.rate is not None or req.shape is not None):
        raise InputError("--rate/--shape: this drill drives its own load (its load.rate is 0)")
    if req.rate is not None:
        exp.drill.rate = req.rate
    if req.shape is not None:
        exp.drill.shape = ShapeKind(req.shape)
        exp.drill.shape_params = {}
    if not drives_own_load:
        try:
            make_shape(exp.drill.shape, exp.drill.rate, **exp.drill.shape_params)
        except (TypeError, ValueError) as exc:
            raise InputError(f"--rate/--shape: {exc}") from None
    if req.processes is not None:
        if not 1 <= req.processes <= MAX_PROCESSES:
            raise InputError(f"--processes must be 1 to {MAX_PROCESSES}, got {req.processes}")
        exp.drill.processes = req.processes
    requested = load_profile(req.profile)
    target = resolve({TARGET_KEY: exp.target}, requested)
    profile = target.profile
    az = os.environ.get(AZ_ENV, "") if AZ_KEY in (exp.data.get("configuration") or {}) else ""
    if az and az not in target.azs():
        raise InputError(f"{AZ_ENV}={az}: {req.experiment} loses an AZ the {target.name} target does not have", hint=f"AZs: {', '.join(target.azs())}; unset {AZ_ENV} for the default choice")
    changes = plan_changes(target.settings(), requested)
    refused = {f: why for f, why in target.cannot_inject().items() if f in exp.functions}
    if refused:
        f, why = next(iter(refused.items()))
        raise TargetError(f"{req.experiment} calls {f}: {why}", hint="run it on the namespace lab: as root, gameday lab down && gameday lab up")
    missing = [t for t in exp.drill.tiers if t not in target.tiers()]
    if missing:
        raise TargetError(f"the {target.name} target runs tiers {', '.join(target.tiers())} but {req.experiment} needs {', '.join(missing)}", hint="gameday lab down && gameday lab up --tiers " + ",".join(exp.drill.tiers))
    unhealthy = target.unhealthy(exp.drill.tiers)
    if unhealthy:
        raise TargetError(f"the {target.name} target is not healthy: {'; '.join(unhealthy)}", hint="gameday lab status; or gameday lab down && gameday lab up")
    return Prepared(exp, profile, target, changes, key)


def run(req: RunRequest) -> RunSummary:
    prep = prepare(req)
    exp, target, changes = prep.experiment, prep.target, prep.changes
    started = time.time()
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-" + exp.path.stem
    run_dir = (req.out_dir or Path("runs") / run_id).resolve()
    if run_dir.exists() and any(run_dir.iterdir()):
        raise InputError(f"run directory {run_dir} is not empty", hint="choose another --out")
    say(f"run {run_id}: {exp.title}")
    say(f"run directory: {run_dir}")
    log_offsets = {p: p.stat().st_size for p in target.component_logs()}
    session = sessions.Session(run_dir, target, exp.drill, prep.profile, say=say)
    sessions.current = session
    profile_file = run_dir / "profile.yaml"  # the run's profile, for the probes and as evidence
    profile_file.write_text(yaml.safe_dump(prep.profile.data, sort_keys=False))
    prov = provenance.record(run_dir, profile_file, req.operator, req.approver)
    say(f"operator {prov.operator} on {prov.host}, code {prov.code_version}" + (f", sealed with key {signing.key_fingerprint(prep.sign_key)}" if prep.sign_key else ", unsigned (no signing key)"))
    journal: dict = {}
    lab_values = flatten(target.settings())
    original = {k: lab_values[k] for k in changes}  # what puts the live settings back
    try:
        with first_interrupt_only():
            if changes:
                say("applying live profile settings: " + ", ".join(f"{k}={v}" for k, v in changes.items()))
                target.apply_live(changes)
                session.mark(PROFILE_APPLIED, json.dumps(changes))
            journal = _run_chaos(exp, run_dir, {PROFILE_KEY: str(profile_file)})
    except KeyboardInterrupt:
        journal = journal or {"status": "interrupted"}
    finally:
        with _ignoring_interrupts():
            _put_back(target, session, original)
    ended = time.time()
    (run_dir / "journal.json").write_text(json.dumps(journal, indent=2, default=str))
    history = History.read(run_dir / "history.jsonl")
    summary = judge_run(run_id, exp.path.name, exp.drill.slos, target.name, started, ended, journal, history)
    _collect(exp, run_dir, target.component_logs(), log_offsets)
    prometheus = target.prometheus_url()
    if prometheus:
        say(save_prometheus_view(prometheus, started, ended, run_dir / "prometheus.json"))
    finish(run_dir, summary, prep.sign_key, pdf=req.pdf)
    return summary


@contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, lambda s, f: say("cleanup in progress; please wait"))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_chaos(exp: Experiment, run_dir: Path, configuration: dict[str, str]) -> dict:
    """Rollbacks always run, even after Ctrl-C. The probes get the run's profile through the
    experiment's configuration. Chaos Toolkit's own log goes to the run directory."""
    from chaoslib.experiment import run_experiment

    logger = logging.getLogger("chaostoolkit")
    handler = logging.FileHandler(run_dir / "chaostoolkit.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    settings = {"runtime": {"rollbacks": {"strategy": "always"}}}
    try:
        data = json.loads(json.dumps(exp.data))
        data["configuration"] = {**(data.get("configuration") or {}), **configuration}
        return run_experiment(data, settings=settings)
    finally:
        logger.removeHandler(handler)
        handler.close()


def _put_back(target: Target, session: sessions.Session, original: dict[str, Any]) -> None:
    """Whatever happened, the system ends as it began: settings restored, killed components back."""
    if session.running:
        session.stop()
    if original:
        try:
            target.apply_live(original)
        except TargetError as exc:
            say(f"could not restore the live settings {', '.join(original)}: {exc}")
    left = set(target.failed_away_from())
    if left:
        say(f"the DR region was promoted: the primary region's {len(left)} dead processes stay down (failback is by hand: runbooks/region-failover.md)")
    for name in target.down_components():
        if name in left:
            continue
        say(f"{name} is still down after the rollbacks: restarting it")
        try:
            target.restart(name)
        except Exception as exc:  # report and go on: the rest must still be put back
            say(f"could not restart {name}: {exc}")


def _collect(exp: Experiment, run_dir: Path, logs: list[Path], offsets: dict[Path, int]) -> None:
    """The runbook and what each component logged during the run."""
    if exp.runbook_path.is_file():
        shutil.copyfile(exp.runbook_path, run_dir / "runbook.md")
    shutil.copyfile(exp.path, run_dir / "experiment.json")
    out = run_dir / "logs"
    out.mkdir(exist_ok=True)
    for log in logs:
        with log.open("rb") as fh:
            fh.seek(offsets.get(log, 0))
            (out / log.name).write_bytes(fh.read()[-2_000_000:])


def finish(run_dir: Path, summary: RunSummary, key: Any = None, pdf: bool = False) -> None:
    """verdicts.json, the reports (and the PDF when asked), then the manifest over
    everything, signed with `key`."""
    from gameday.reports.render import render_run

    summary.write(run_dir / "verdicts.json")
    render_run(run_dir)
    if pdf:
        from gameday.reports.pdf import write_pdf

        write_pdf(run_dir)
    seal.seal(run_dir, key)


def rerender(run_dir: Path, key: Any = None, reseal: bool = False, operator: str = "", pdf: bool = False) -> dict | None:
    """`gameday report`: render a saved run's reports again and seal it. Changed evidence is
    never blessed silently: a record that no longer matches its manifest (or signature) is
    refused unless `reseal`, and a signed record is re-signed only with a key (or resealed
    unsigned). Every re-seal of a sealed record is appended to its seal history, which is
    sealed with the rest. Returns that entry (None: the record had no seal yet)."""
    summary = RunSummary.read(run_dir / "verdicts.json")  # refuses what is not a run directory
    sealed = (run_dir / manifest.MANIFEST).exists() or (run_dir / manifest.SIGNATURE).exists()
    problems = seal.verify(run_dir).problems if sealed else []
    if problems and not reseal:
        raise InputError(f"{run_dir} no longer matches its seal: " + "; ".join(map(str, problems[:10])) + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""),
                         hint="gameday report does not re-bless changed evidence: `gameday verify` names what changed; --reseal seals it anyway, and the record then says so")  # fmt: skip
    if (run_dir / manifest.SIGNATURE).exists() and key is None and not reseal:
        raise InputError(f"{run_dir} is signed: rendering it again rewrites its reports, and its signature with them",
                         hint=f"give the signing key (--sign-key or {signing.KEY_ENV}), or --reseal to seal it unsigned (the record says so)")  # fmt: skip
    entry = seal.record_reseal(run_dir, provenance.operator(operator), problems, signed=key is not None) if sealed else None
    finish(run_dir, summary, key, pdf=pdf or (run_dir / "report.pdf").exists())
    return entry


def recheck(run_dir: Path) -> RunSummary:
    """Re-run the checkers on a saved run: same history, same verdicts."""
    for name in ("verdicts.json", "history.jsonl", "journal.json"):
        if not (run_dir / name).is_file():
            raise InputError(f"{run_dir}: {name} is missing; is this a gameday run directory?")
    old = RunSummary.read(run_dir / "verdicts.json")
    try:
        history = History.read(run_dir / "history.jsonl")
        journal = json.loads((run_dir / "journal.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{run_dir}: cannot re-check: {exc}"[:500]) from None
    if not isinstance(journal, dict):
        raise InputError(f"{run_dir}/journal.json: not a Chaos Toolkit journal (a JSON object)")
    slos = [v.slo for v in old.verdicts]
    unknown = [s for s in slos if s not in catalog().slos]
    if unknown:
        raise InputError(f"{run_dir}/verdicts.json: SLO(s) {', '.join(unknown)} are not in the spec catalog", hint="the run was judged against another catalog")
    return judge_run(old.run_id, old.experiment, slos, old.target, old.started_at, old.ended_at, journal, history)
