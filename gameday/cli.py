"""The gameday command line. One error boundary maps failures to exit codes:
0 every SLO in scope passed, 1 an SLO failed or the steady state deviated,
2 the drill could not be carried out or measured (including bad input, and any error
gameday did not foresee: one line names it and where its traceback was written)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from gameday.drill.summary import RunSummary
from gameday.errors import GamedayError
from gameday.lab import DEFAULT_TIERS

AZ_NAMES = ("az-a", "az-b", "az-c")  # the lab's (gameday.lab.network.AZS; the CLI imports no lab module up front)
FAULTS = {"kill": signal.SIGKILL, "stop": signal.SIGTERM, "freeze": signal.SIGSTOP, "resume": signal.SIGCONT}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gameday", description="Chaos and disaster-recovery drills against the HA and Scaling Plan.")
    sub = p.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("lab", help="the local lab: a miniature of the production topology").add_subparsers(dest="lab_command", required=True)
    up = lab.add_parser("up", help="start the lab (idempotent when it is already up)")
    up.add_argument("--profile", type=Path, help="YAML file overriding lab settings (see gameday/profile/defaults.yaml)")
    up.add_argument("--tiers", default=",".join(DEFAULT_TIERS), help="comma-separated tiers to start (dependencies are added)")
    st = lab.add_parser("status", help="health of every lab process")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    others = [st, lab.add_parser("down", help="stop every lab process by PID and remove the lab network (idempotent)")]
    for name, sig in FAULTS.items():
        f = lab.add_parser(name, help=f"send {sig.name} to a component, or to every process of an AZ (az-a, az-b, az-c)")
        f.add_argument("component")
        others.append(f)
    rs = lab.add_parser("restart", help="start a stopped component again")
    rs.add_argument("component")
    part = lab.add_parser("partition", help="cut an AZ off the network, its processes running (needs the namespace lab)")
    part.add_argument("az", choices=AZ_NAMES)
    part.add_argument("--mode", choices=("peers", "all"), default="peers",
                      help="peers: from the other AZs, clients on the host still reach it; all: from everything (default: peers)")
    heal = lab.add_parser("heal", help="remove an AZ's partition (idempotent)")
    heal.add_argument("az", choices=AZ_NAMES)
    for cmd in others + [rs, part, heal]:
        cmd.add_argument("--profile", type=Path, help="a profile whose lab.home names the lab (default: the default home)")

    dr = sub.add_parser("dr", help="the pilot-light DR region: its state, and promoting it by hand").add_subparsers(dest="dr_command", required=True)
    dr_status = dr.add_parser("status", help="the region's processes, how far its log is behind, its cache replica, its index snapshot, lake and checkpoints, the promotion's record")
    dr_promote = dr.add_parser("promote", help="run the DR promotion plan now, as an operator (dr.plan; once per lab)")
    dr_promote.add_argument("--force", action="store_true", help="promote even while the primary region still serves (refused otherwise: two regions would take writes)")
    for cmd in (dr_status, dr_promote):
        cmd.add_argument("--profile", type=Path, help="a profile whose lab.home names the lab (default: the default home)")

    run = sub.add_parser("run", help="run a drill: experiment under load, checkers, report")
    run.add_argument("experiment", type=Path)
    run.add_argument("--profile", type=Path, help="lab settings for this run (live-changeable ones are applied, then put back)")
    run.add_argument("--out", type=Path, help="run directory (default runs/<run-id>)")
    run.add_argument("--rate", type=float, help="search requests/s (overrides the experiment's load.rate)")
    run.add_argument("--shape", choices=["steady", "surge", "step"], help="load shape (overrides the experiment's load.shape); surge = 10x the rate")
    run.add_argument("--processes", type=int, help="load generator processes (Locust master/worker when > 1)")
    run.add_argument("--operator", default="", help="who runs the drill, for the record (default: $GAMEDAY_OPERATOR, else the login name)")
    run.add_argument("--pdf", action="store_true", help="also print the report as report.pdf (about 6 s)")
    run.add_argument("--approver", default="", help="who approved the drill, for the report's audit dossier")
    run.add_argument("--sign-key", default="", help="Ed25519 private key that signs the run's manifest (default: $GAMEDAY_SIGNING_KEY; unset: unsigned)")

    suite = sub.add_parser("suite", help="run a game day: the suite file's drills in order, its labs started once, one consolidated report, PDF and JUnit")
    suite.add_argument("suite_file", type=Path)
    suite.add_argument("--out", type=Path, help="suite directory (default runs/<time>-suite-<name>)")
    suite.add_argument("--resume", type=Path, metavar="SUITE_DIR", help="continue an interrupted suite from the drill it stopped at")
    suite.add_argument("--plan", action="store_true", help="check the suite file and print what it would run, with a time estimate; start nothing")
    suite.add_argument("--operator", default="", help="who runs the game day (default: $GAMEDAY_OPERATOR, else the login name)")
    suite.add_argument("--approver", default="", help="who approved it, for the audit dossier")
    suite.add_argument("--sign-key", default="", help="Ed25519 private key signing every run and the suite (default: $GAMEDAY_SIGNING_KEY)")
    suite.add_argument("--no-pdf", action="store_true", help="skip suite.pdf")
    suite.add_argument("--run-pdfs", action="store_true", help="also print each run's report.pdf")

    cap = sub.add_parser("capacity", help="find the highest rate that keeps p95 <= 40 ms and errors within budget (step-up load, no faults)")
    cap.add_argument("--start", type=float, default=250, help="first step, req/s (default 250)")
    cap.add_argument("--step", type=float, default=250, help="increase per step, req/s (default 250)")
    cap.add_argument("--step-s", type=float, default=20, help="seconds per step (default 20; the first 5 s of each are settling)")
    cap.add_argument("--max", type=float, default=4000, help="last step, req/s (default 4000)")
    cap.add_argument("--processes", type=int, help="load generator processes")
    cap.add_argument("--out", type=Path, help="output directory (default runs/<time>-capacity)")
    cap.add_argument("--profile", type=Path, help="the run's profile (load.*, host.*, lab.home: see gameday/profile/defaults.yaml)")

    check = sub.add_parser("check", help="re-run the checkers on a saved run directory")
    check.add_argument("run_dir", type=Path)
    report = sub.add_parser("report", help="re-render a run directory's reports and seal it again (refused when its files no longer match its seal)")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--pdf", action="store_true", help="also print report.pdf (kept up to date once a run has one)")
    report.add_argument("--reseal", action="store_true", help="seal a record whose files changed since it was sealed; its seal history says so")
    report.add_argument("--sign-key", default="", help="Ed25519 private key to sign with (default: $GAMEDAY_SIGNING_KEY)")
    report.add_argument("--operator", default="", help="who reseals it, for the record (default: $GAMEDAY_OPERATOR, else the login name)")
    keygen = sub.add_parser("keygen", help="make an Ed25519 key pair for signing runs")
    keygen.add_argument("--out", type=Path, default=Path("~/.config/gameday").expanduser(), help="directory for the key pair (default ~/.config/gameday)")
    keygen.add_argument("--name", default="gameday-signing", help="file name stem: NAME.pem (private, mode 0600) and NAME.pub")
    keygen.add_argument("--force", action="store_true", help="replace an existing key pair")
    verify = sub.add_parser("verify", help="check a run directory against its manifest and signature: exit 0 intact, 1 changed (each file named), 2 cannot check")
    verify.add_argument("run_dir", type=Path)
    verify.add_argument("--pubkey", type=Path, help="the signer's public key (default: $GAMEDAY_SIGNING_PUBKEY); without one the signature is checked against the key the record names")
    trend_cmd = sub.add_parser("trend", help="successive drills side by side: each SLO's value per run, regressions flagged (exit 1 when any)")
    trend_cmd.add_argument("run_dirs", type=Path, nargs="+", help="run directories (ordered by when they started)")
    trend_cmd.add_argument("--out", type=Path, help="also write an HTML page with a plot per SLO")
    trend_cmd.add_argument("--regression-pct", type=float, default=30.0, help="flag a value this much worse than the previous drill's (default 30)")
    val = sub.add_parser("validate", help="validate an experiment file without running it")
    val.add_argument("experiment", type=Path)
    return p


def _lab(args) -> int:
    from gameday.lab import Lab, stderr_progress
    from gameday.profile import load_profile

    lab = Lab(load_profile(getattr(args, "profile", None)), stderr_progress(time.monotonic()))
    if args.lab_command == "up":
        tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
        try:
            lab.up(tiers)
        except KeyboardInterrupt:
            print("gameday: interrupted: stopping what was started", file=sys.stderr)
            lab.down()
            return 130
        return 0
    if args.lab_command == "down":
        lab.down()
        return 0
    if args.lab_command == "status":
        rows = lab.status()
        if args.json:
            print(json.dumps([r.__dict__ for r in rows], indent=2))
        else:
            for r in rows:
                restarted = f"restarted {r.restarts}x " if r.restarts else ""
                print(f"{r.name:16} {r.tier:10} {r.az or 'host':6} pid {r.pid:<8} {r.state:10} {restarted}{r.problem}".rstrip())
            keeper = lab.keeper()
            if keeper is not None:
                print(f"keeper: pid {keeper.pid}, {'running' if keeper.alive() else 'DEAD: dead API instances and adapters stay dead'} (restart policy: always)")
            promoter = lab.helper("dr-promoter")
            if promoter is not None:
                print(f"dr-promoter: pid {promoter.pid}, {'watching the primary region' if promoter.alive() else 'ended: see gameday dr status and logs/dr-promoter.log'}")
            snapshotter = lab.helper("dr-snapshots")
            if snapshotter is not None:
                print(f"dr-snapshots: pid {snapshotter.pid}, {'snapshotting the index' if snapshotter.alive() else 'ended: see logs/dr-snapshots.log'}")
        return 0 if all(r.state == "healthy" for r in rows) else 1
    if args.lab_command == "partition":
        lab.partition_az(args.az, args.mode)
        print(f"{args.az} cut off ({args.mode}); `gameday lab heal {args.az}` removes it")
        return 0
    if args.lab_command == "heal":
        lab.heal_az(args.az)
        print(f"{args.az}: no partition")
        return 0
    if args.lab_command == "restart":
        waited = lab.restart(args.component)
        print(f"{args.component} healthy again after {waited:.1f} s")
        return 0
    sig = FAULTS[args.lab_command]
    if args.component.startswith("az-"):
        _, names = lab.kill_az(args.component, sig)
        print(f"sent {sig.name} to {', '.join(names) or 'nothing (no live process in that AZ)'}")
    else:
        lab.send(args.component, sig)
        print(f"sent {sig.name} to {args.component}")
    return 0


def _dr(args) -> int:
    from gameday.profile import load_profile
    from gameday.target import resolve

    target = resolve(profile=load_profile(args.profile))
    if args.dr_command == "status":
        for line in target.dr_status():
            print(line)
        return 0
    ok = target.dr_promote(lambda m: print(m, flush=True), force=args.force)
    print("DR region promoted" if ok else "DR promotion FAILED: see `gameday dr status`")
    return 0 if ok else 1


def print_summary(summary: RunSummary) -> None:
    print(f"{summary.run_id}: {summary.status} - {summary.reason} (exit {summary.exit_code})")
    for v in summary.verdicts:
        measured = "-" if v.measured is None else f"{v.measured:g} {v.unit}"
        print(f"  {v.verdict.value.upper():8} {v.slo:32} {measured:>14}  (plan {v.threshold})  {v.detail}")
    if summary.load:
        ld = summary.load
        print(f"  load: requested {ld.requested_rate:g} req/s, achieved {ld.achieved_rate:g} req/s, p50 {ld.p50_ms} ms, p95 {ld.p95_ms} ms, p99 {ld.p99_ms} ms, {ld.errors} errors, generator saturated: {ld.generator_saturated}")


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "lab":
        return _lab(args)
    if args.command == "dr":
        return _dr(args)
    if args.command == "validate":
        from gameday.drill.experiment import load_experiment

        exp = load_experiment(args.experiment)
        print(f"{args.experiment}: valid ({exp.title}; SLOs: {', '.join(exp.drill.slos)})")
        return 0
    if args.command == "run":
        from gameday.drill.runner import RunRequest, run

        summary = run(RunRequest(args.experiment, args.profile, args.out, args.rate, args.shape, args.processes, operator=args.operator, approver=args.approver, sign_key=args.sign_key, pdf=args.pdf))
        print_summary(summary)
        run_dir = args.out or Path("runs") / summary.run_id
        print(f"report: {run_dir / 'report.html'}")
        return summary.exit_code
    if args.command == "suite":
        return _suite(args)
    if args.command == "capacity":
        from gameday.load.capacity import find_capacity, main_summary

        result = find_capacity(args.start, args.step, args.step_s, args.max, args.out, args.processes, say=lambda m: print(m, file=sys.stderr, flush=True), profile_path=args.profile)
        main_summary(result)
        return 0 if result.capacity_rps is not None else 1
    if args.command == "check":
        from gameday.drill.runner import recheck

        fresh = recheck(args.run_dir)
        saved = RunSummary.read(args.run_dir / "verdicts.json")
        print_summary(fresh)
        same = [(v.slo, v.verdict, v.measured) for v in fresh.verdicts] == [(v.slo, v.verdict, v.measured) for v in saved.verdicts]
        print("verdicts match the saved ones" if same else "verdicts DIFFER from the saved verdicts.json")
        return fresh.exit_code
    if args.command == "report":
        from gameday.drill.runner import rerender
        from gameday.evidence import signing

        key = signing.configured_key(args.sign_key)
        entry = rerender(args.run_dir, key, args.reseal, args.operator, args.pdf)
        if entry and entry["action"] == "resealed":
            print(f"RESEALED by {entry['operator']} ({len(entry['problems'])} files had changed: see seal-history.jsonl and the report)", file=sys.stderr)
        print(f"rendered {args.run_dir / 'report.html'}" + (f", signed with key {signing.key_fingerprint(key)}" if key else ", unsigned"))
        return 0
    if args.command == "keygen":
        from gameday.evidence import signing

        private, public, fp = signing.keygen(args.out, args.name, args.force)
        print(f"private key {private} (keep it secret), public key {public}, fingerprint {fp}")
        print(f"sign runs with it: export {signing.KEY_ENV}={private}; auditors check them with: gameday verify RUN_DIR --pubkey {public}")
        return 0
    if args.command == "verify":
        return _verify(args)
    if args.command == "trend":
        from gameday.errors import InputError
        from gameday.reports import trend

        if len(args.run_dirs) < 2 or args.regression_pct <= 0:
            raise InputError("trend: give at least two run directories and a --regression-pct above 0")
        runs = trend.load(args.run_dirs)
        found = trend.trends(runs, args.regression_pct)
        print(trend.text(found))
        if args.out:
            print(f"trend page: {trend.write_html(found, runs, args.out, args.regression_pct)}")
        flagged = sum(len(t.regressions) for t in found)
        print(f"{flagged} regression(s) over {len(runs)} drills" if flagged else f"no regression over {len(runs)} drills (threshold {args.regression_pct:g} %)")
        return 1 if flagged else 0
    return 2


def _suite(args) -> int:
    from gameday.suite import SuiteRequest, load_suite, plan_lines, run_suite

    if args.plan:
        suite = load_suite(args.suite_file)
        for line in plan_lines(suite):
            print(line)
        return 0
    if args.resume is not None and args.out is not None:
        raise GamedayError("--resume and --out: a resumed suite continues in its own directory; give one of them")
    result = run_suite(SuiteRequest(args.suite_file, args.out, args.resume, args.operator, args.approver, args.sign_key, pdf=not args.no_pdf, run_pdfs=args.run_pdfs))
    for rec in result.state.drills:
        last = rec.last
        shown = rec.outcome.value.upper() if rec.outcome else rec.status.value.upper().replace("_", " ")
        print(f"  {shown:12} {rec.key:40} " + (f"exit {last.exit_code}, {last.run_dir}" if last else rec.note))
    print(f"suite {result.state.name}: exit {result.exit_code}" + (f" ({result.state.stopped})" if result.state.stopped else ""))
    print(f"report: {result.suite_dir / 'suite.html'}; JUnit: {result.suite_dir / 'junit.xml'}")
    return result.exit_code


def _verify(args) -> int:
    from gameday.evidence import seal, signing

    pubkey_path = args.pubkey or (Path(os.environ[signing.PUBKEY_ENV]) if os.environ.get(signing.PUBKEY_ENV) else None)
    public = signing.load_public(pubkey_path) if pubkey_path else None
    result = seal.verify(args.run_dir, public)
    for problem in result.problems:
        print(f"{args.run_dir}: {problem}")
    if not result.intact:
        print(f"NOT INTACT: {len(result.problems)} problem(s) in {args.run_dir}", file=sys.stderr)
        return 1
    if result.signature is None:
        how = "not signed: the manifest proves the files are as listed, not who listed them"
    elif result.authenticated:
        how = f"{result.signature.detail}, the key given"
    else:
        how = f"{result.signature.detail} (the key the record names: compare its fingerprint, or give --pubkey)"
    history = seal.seal_history(args.run_dir)
    resealed = [h for h in history if h.get("action") == "resealed"]
    print(f"intact: {result.files} files match the manifest; {how}" + (f"; RESEALED {len(resealed)} time(s) after the run (seal-history.jsonl)" if resealed else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    """The error boundary: exit 1 stays reserved for a failed SLO or hypothesis."""
    try:
        return _main(argv)
    except GamedayError as exc:
        print(f"gameday: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"gameday: hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gameday: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a failure gameday did not foresee: one line, the traceback kept
        where = _save_traceback(exc)
        print(f"gameday: internal error: {type(exc).__name__}: {exc} (traceback in {where})", file=sys.stderr)
        return 2


def _save_traceback(exc: BaseException) -> Path:
    with tempfile.NamedTemporaryFile("w", prefix="gameday-traceback-", suffix=".txt", delete=False) as fh:
        fh.write(f"gameday {' '.join(sys.argv[1:])}\n")
        traceback.print_exception(exc, file=fh)
    return Path(fh.name)


if __name__ == "__main__":
    sys.exit(main())
