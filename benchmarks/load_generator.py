"""Load-generator benchmark against the running lab. Prints figures; asserts nothing.

    .venv/bin/gameday lab up
    .venv/bin/python benchmarks/load_generator.py [--seconds 15] [--hold-rate 3000] [--hold-s 60]

1. The most one Locust process (gameday's open-model user) completes per second against a
   static endpoint (HAProxy answering itself) and against the search API behind HAProxy,
   side by side with wrk against the same URLs in the same run.
2. A hold at --hold-rate for --hold-s against the API: requested, offered and achieved
   rate, client-side p50/p95/p99, the generator's CPU and stalls, and the API's own
   server-side p95 (from its latency histogram), which separates platform latency from
   latency the generator or the machine adds.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from gameday.history import History
from gameday.load import latency
from gameday.load.run import LoadPlan, LoadRun, generator_problem, stall_share, timetable_env
from gameday.load.shapes import ShapeKind
from gameday.monitors.api import LATENCY, read_metrics
from gameday.target import resolve
from gameday.target.lab import LabTarget

SEARCH = "/search?origin={o}&destination={d}&date={day}"


def lab_target() -> LabTarget:
    target = resolve()
    assert isinstance(target, LabTarget), "this benchmark measures the local lab"
    return target


def locust_run(target: LabTarget, base_url: str, rate: float, seconds: float) -> dict:
    out = Path(tempfile.mkdtemp(prefix="gameday-bench-"))
    plan = LoadPlan(
        rate=rate, target_url=base_url, max_duration_s=int(seconds) + 30,
        timetable=timetable_env(target.profile),
        shape=ShapeKind.STEADY,
    )  # fmt: skip
    run = LoadRun(plan, out, target)
    run.start()
    time.sleep(seconds + 2)  # + Locust's start-up
    run.stop()
    records = sorted(run.records(), key=lambda r: r.t)[1:-1]  # drop the partial first and last seconds
    history = History.of_records([*records, run.marker()])
    hist = latency.merged(r.hist for r in records)
    n = max(len(records), 1)
    return {
        "requested": rate,
        "offered": sum(r.offered for r in records) / n,
        "achieved": sum(r.requests for r in records) / n,
        "p50": latency.percentile_ms(hist, 50),
        "p95": latency.percentile_ms(hist, 95),
        "p99": latency.percentile_ms(hist, 99),
        "errors": sum(r.failures for r in records),
        "cpu": run.cpu,
        "stall": stall_share(records),
        "issue": generator_problem(history, records) or "none",
    }


def wrk_run(url: str, seconds: float, connections: int = 64) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url], capture_output=True, text=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    pct = dict(re.findall(r"^\s+(50|90|99)%\s+([\d.]+\w+)", out, re.M))
    return {"achieved": float(rate.group(1)) if rate else None, "p50": pct.get("50"), "p90": pct.get("90"), "p99": pct.get("99")}


def server_histogram(target: LabTarget) -> tuple[tuple[float, ...], list[float]]:
    """The API's latency histogram (bounds, cumulative counts), summed over instances."""
    bounds: tuple[float, ...] = ()
    total: list[float] = []
    for url in target.api_instances().values():
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as resp:
            bounds, counts = read_metrics(resp.read().decode())[1][LATENCY]
        total = [a + b for a, b in zip(total, counts)] if total else list(counts)
    return bounds, total


def server_quantiles(before, after) -> dict[str, float | None]:
    bounds, delta = after[0], [b - a for a, b in zip(before[1], after[1])]
    return {f"p{int(q * 100)}": latency.bucket_quantile_ms(bounds, delta, q) for q in (0.5, 0.95, 0.99)}


def fmt(d: dict) -> str:
    return "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--hold-rate", type=float, default=3000)
    ap.add_argument("--hold-s", type=float, default=60)
    args = ap.parse_args()
    target = lab_target()
    static, api = target.static_url(), target.lb_url()
    search = api + SEARCH.format(o="LHR", d="JFK", day="2026-12-02")
    print(f"# machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; one Locust process; {args.seconds:g} s per measurement")
    print("static endpoint (HAProxy answers itself):")
    print("  locust  " + fmt(locust_run(target, static, 30000, args.seconds)))
    print("  wrk     " + fmt(wrk_run(static + "/", args.seconds)))
    print("search API behind HAProxy:")
    print("  locust  " + fmt(locust_run(target, api, 6000, args.seconds)))
    print("  wrk     " + fmt(wrk_run(search, args.seconds)) + "  (one URL: always a cache hit)")
    print(f"hold {args.hold_rate:g} req/s for {args.hold_s:g} s against the API:")
    before = server_histogram(target)
    result = locust_run(target, api, args.hold_rate, args.hold_s)
    after = server_histogram(target)
    print("  client  " + fmt(result))
    print("  server  " + fmt(server_quantiles(before, after)) + "  (the API's own histogram, all instances)")


if __name__ == "__main__":
    main()
