"""A fake `gameday` command line for the suite runner's own logic, in isolation: no lab, no
drill. `lab status|up|down` keep a state file; `run EXP --out DIR` writes a run directory
whose verdicts follow FAKE_PLAN ({experiment stem: [exit code, status]}); a stem listed in
FAKE_BLOCK waits (writing DIR/started) until SIGINT, then records an interrupted run."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

STATE = Path(os.environ["FAKE_STATE"])  # the fake lab: absent, "up", "sick"
LOG = STATE.with_suffix(".log")


def log(line: str) -> None:
    with LOG.open("a") as fh:
        fh.write(line + "\n")


def lab(cmd: str) -> int:
    log(f"lab {cmd}")
    if cmd == "status":
        if not STATE.exists():
            return 2
        return 0 if STATE.read_text() == "up" else 1
    if cmd == "up":
        if os.environ.get("FAKE_LAB_FAILS"):
            print("lab up failed: sentinel-a not healthy after 180 s")
            return 2
        STATE.write_text("up")
        return 0
    STATE.unlink(missing_ok=True)
    return 0


def summary(stem: str, code: int, status: str, t0: float) -> dict:
    verdict = {0: "pass", 1: "fail"}.get(code, "unknown")
    return {"run_id": f"fake-{stem}", "experiment": f"{stem}.json", "target": "lab", "started_at": t0, "ended_at": time.time(), "exit_code": code,
            "status": status, "reason": f"fake {status}", "load": None,
            "verdicts": [{"slo": "redis.promotion_time", "verdict": verdict, "measured": 1.5 if verdict != "unknown" else None, "unit": "s",
                          "threshold": "<= 10 s", "clause": "a replica is promoted within 10 s", "detail": f"fake {verdict}"}]}


def run(argv: list[str]) -> int:
    exp = Path(argv[0])
    out = Path(argv[argv.index("--out") + 1])
    stem = exp.stem
    log("run " + " ".join([stem] + argv[1:]))
    out.mkdir(parents=True)
    (out / "experiment.json").write_text(json.dumps({"title": f"Fake {stem}"}))
    t0 = time.time()
    plan = json.loads(os.environ.get("FAKE_PLAN", "{}"))
    code, status = plan.get(stem, [0, "carried_out"])
    if stem in os.environ.get("FAKE_BLOCK", "").split(","):
        interrupted = []
        signal.signal(signal.SIGINT, lambda s, f: interrupted.append(1))
        (out / "started").write_text("")
        deadline = time.monotonic() + 30
        while not interrupted and time.monotonic() < deadline:
            time.sleep(0.02)
        code, status = 2, "interrupted"
    if os.environ.get("FAKE_SICK_AFTER") == stem:
        STATE.write_text("sick")
    if code == 99:  # crashed before it wrote a record
        print("Traceback: boom")
        return 2
    (out / "verdicts.json").write_text(json.dumps(summary(stem, code, status, t0)))
    (out / "report.html").write_text("<html><body>fake</body></html>")
    return code


def main() -> int:
    args = sys.argv[1:]
    if args[0] == "lab":
        return lab(args[1])
    if args[0] == "run":
        return run(args[1:])
    return 2


if __name__ == "__main__":
    sys.exit(main())
