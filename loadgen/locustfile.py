"""Flight-search load: Locust users querying /search with the timetable's search mix.

    GAMEDAY_RATE=3000 GAMEDAY_LOAD_OUT=runs/x/load-{worker}.jsonl \\
        locust -f loadgen/locustfile.py --headless -u 2 -r 2 --processes 2 -t 60s -H http://127.0.0.1:8080

Open model: one user per worker process (-u = number of processes) issues its share
of the shape's arrival rate (see SearchUser and gameday.load.shapes).

Environment (the same timetable parameters as the seeded store, so queries hit routes):
  GAMEDAY_TIMETABLE_SEED/_AIRPORTS/_FLIGHTS/_DAYS/_START   timetable (defaults as timetable.DEFAULTS)
  GAMEDAY_RATE      total target req/s over all workers (the shape's base rate)
  GAMEDAY_SHAPE     steady | surge | step; GAMEDAY_SHAPE_<PARAM> sets a shape parameter
                    (e.g. GAMEDAY_SHAPE_FACTOR=10, GAMEDAY_SHAPE_STEP_S=20)
  GAMEDAY_USERS     total users the rate is split over; default the master's/local -u.
                    (Workers never see -u: the value reaches them as the custom argument
                    --gameday-users, which Locust forwards from the master.)
  GAMEDAY_MAX_CONNECTIONS / GAMEDAY_MAX_IN_FLIGHT   per-worker limits (500 / 2000)
  GAMEDAY_LOAD_OUT  file to append one LoadSecond JSON line per elapsed second; "{worker}"
                    is replaced by the worker name (one file per worker process)
  GAMEDAY_WORKER    worker name in the records (default hostname-pid)
  GAMEDAY_LOAD_SEED optional seed of the users' query streams (default: random)

Latency is Locust's response_time (ms, request sent to body read), recorded per
wall-clock second of completion in an HdrHistogram so seconds and workers merge exactly.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from datetime import date
from typing import Any

import gevent
import gevent.pool
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner

from flightsearch import timetable
from gameday.history import LoadSecond, to_json
from gameday.load import latency, shapes

log = logging.getLogger("gameday.loadgen")


def worker_name() -> str:
    """Asked per process: `locust --processes N` imports this file once, then forks."""
    return os.environ.get("GAMEDAY_WORKER") or f"{socket.gethostname()}-{os.getpid()}"


def _mix_from_env() -> timetable.SearchMix:
    env, d = os.environ.get, timetable.DEFAULTS
    return timetable.search_mix(
        seed=int(env("GAMEDAY_TIMETABLE_SEED", d["seed"])),
        airports=int(env("GAMEDAY_TIMETABLE_AIRPORTS", d["airports"])),
        flights=int(env("GAMEDAY_TIMETABLE_FLIGHTS", d["flights"])),
        days=int(env("GAMEDAY_TIMETABLE_DAYS", d["days"])),
        start=date.fromisoformat(env("GAMEDAY_TIMETABLE_START", d["start"].isoformat())))


MIX = _mix_from_env()


class PerSecondWriter:
    """Aggregates request events per wall-clock second; writes each finished second."""

    def __init__(self, path: str, worker: str) -> None:
        self.worker = worker
        # O_APPEND + one os.write per line: workers sharing a file never interleave lines.
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._seconds: dict[int, list[Any]] = {}  # second -> [requests, failures, hist, offered, dropped, lag_ms]
        self._next: int | None = None  # first second not written yet
        self._lock = threading.Lock()  # events come from greenlets; close() may come from a signal
        self._ticker: gevent.Greenlet | None = None

    def start(self) -> None:
        with self._lock:
            if self._next is None:
                self._next = int(time.time())
        if self._ticker is None:
            self._ticker = gevent.spawn(self._tick)

    def record(self, latency_ms: float, failed: bool) -> None:
        sec = int(time.time())
        with self._lock:
            if self._next is None:
                self._next = sec
            sec = max(sec, self._next)  # never into a second already written
            bucket = self._bucket(sec)
            bucket[0] += 1
            bucket[1] += failed
            latency.record_ms(bucket[2], latency_ms)

    def _bucket(self, sec: int) -> list[Any]:
        bucket = self._seconds.get(sec)
        if bucket is None:
            bucket = self._seconds[sec] = [0, 0, latency.new_histogram(), 0, 0, 0.0]
        return bucket

    def record_tick(self, offered: int, dropped: int, lag_ms: float) -> None:
        """What the arrival clock did in one tick: issued, could not issue, how late it woke."""
        with self._lock:
            if self._next is None:
                return
            bucket = self._bucket(max(int(time.time()), self._next))
            bucket[3] += offered
            bucket[4] += dropped
            bucket[5] = max(bucket[5], lag_ms)

    def _tick(self) -> None:
        while True:
            gevent.sleep(1.0 - time.time() % 1.0 + 0.01)  # just after each second boundary
            self.flush(int(time.time()))

    def flush(self, upto: int) -> None:
        """Write every second before ``upto`` (empty seconds too: a stall shows as 0)."""
        with self._lock:
            if self._next is None or self._fd < 0:
                return
            lines = []
            for sec in range(self._next, upto):
                n, failed, hist, offered, dropped, lag = self._seconds.pop(sec, None) or [0, 0, latency.new_histogram(), 0, 0, 0.0]
                record = LoadSecond(float(sec), self.worker, n, failed, latency.encode(hist), offered, dropped, round(lag, 2))
                lines.append(to_json(record) + "\n")
            self._next = max(self._next, upto)
            if lines:
                os.write(self._fd, "".join(lines).encode())

    def stop(self) -> None:
        """Write what is left, including the current partial second; ready for a new test."""
        if self._ticker is not None and self._ticker is not gevent.getcurrent():
            self._ticker.kill(block=False)
        self._ticker = None
        with self._lock:
            last = max([int(time.time()), *self._seconds]) + 1 if self._next is not None else 0
        self.flush(last)
        with self._lock:
            self._next = None

    def close(self) -> None:
        self.stop()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


WRITER: PerSecondWriter | None = None


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument("--gameday-rate", type=float, env_var="GAMEDAY_RATE", default=0.0,
                        help="total target req/s (0: unpaced)")
    parser.add_argument("--gameday-users", type=int, env_var="GAMEDAY_USERS", default=0,
                        help="total users the rate is split over (default: -u)")


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    global WRITER
    opts = environment.parsed_options
    if opts is not None and not opts.gameday_users and getattr(opts, "num_users", None):
        opts.gameday_users = opts.num_users  # forwarded to workers with the spawn message
    if isinstance(environment.runner, MasterRunner):
        return  # the master makes no requests; each worker writes its own seconds
    out = os.environ.get("GAMEDAY_LOAD_OUT")
    if not out:
        log.warning("GAMEDAY_LOAD_OUT not set: per-second load records are not written")
        return
    worker = worker_name()
    WRITER = PerSecondWriter(out.replace("{worker}", worker), worker)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    if WRITER is not None:
        WRITER.start()


@events.request.add_listener
def _on_request(name: str, response_time: float, exception: BaseException | None, **_: Any) -> None:
    if WRITER is not None and name == "/search":
        WRITER.record(response_time, exception is not None)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    if WRITER is not None:
        WRITER.stop()


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    if WRITER is not None:
        WRITER.close()


class SearchUser(FastHttpUser):
    """Open model: one user per worker process issues that process's share of the
    shape's arrival rate, whatever the response times, so a slow platform shows up as
    latency and not as fewer requests (no coordinated omission).

    The arrival clock ticks every TICK_S; each tick spawns the arrivals due since the
    last one. How late a tick wakes (`lag_ms`) and arrivals that could not be issued
    because MAX_IN_FLIGHT requests were outstanding (`dropped`) are written per second,
    so the harness can tell generator trouble from platform latency.
    """

    TICK_S = 0.005
    MAX_IN_FLIGHT = int(os.environ.get("GAMEDAY_MAX_IN_FLIGHT", "2000"))
    # Connections per worker: enough that no request waits for one (that wait would be
    # counted as latency by Locust's timer).
    concurrency = int(os.environ.get("GAMEDAY_MAX_CONNECTIONS", "500"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opts = self.environment.parsed_options
        rate = float(getattr(opts, "gameday_rate", 0.0) or 0.0)
        users = int(getattr(opts, "gameday_users", 0) or getattr(opts, "num_users", 0) or 1)
        self._share = 1.0 / users
        self._shape = shapes.make_shape(os.environ.get("GAMEDAY_SHAPE", "steady"), rate or 1.0, **_shape_params())
        seed = os.environ.get("GAMEDAY_LOAD_SEED")
        # Independent query streams per worker: identical ones would inflate the hit ratio.
        self._rng = random.Random(f"{seed}-{worker_name()}-{id(self)}") if seed else random.Random()

    def wait_time(self) -> float:
        return 0.0

    @task
    def arrivals(self) -> None:
        pool = gevent.pool.Pool(self.MAX_IN_FLIGHT)
        start = time.monotonic()
        prev, carry = 0.0, 0.0
        while True:
            planned = prev + self.TICK_S
            gevent.sleep(max(0.0, start + planned - time.monotonic()))
            now = time.monotonic() - start
            if self._shape.tick(now) is None:
                raise StopUser()
            due, carry = shapes.arrivals_due(self._shape, prev, now, carry, self._share)
            issued = min(due, self.MAX_IN_FLIGHT - len(pool))
            for _ in range(issued):
                pool.spawn(self.search)
            if WRITER is not None:
                WRITER.record_tick(issued, due - issued, (now - planned) * 1000.0)
            prev = now

    def search(self) -> None:
        origin, destination, day = MIX.sample(self._rng)
        url = f"/search?origin={origin}&destination={destination}&date={day}"
        with self.client.get(url, name="/search", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")


def _shape_params() -> dict[str, float]:
    """GAMEDAY_SHAPE_<PARAM>=value environment entries, e.g. GAMEDAY_SHAPE_STEP_S=20."""
    prefix = "GAMEDAY_SHAPE_"
    return {k[len(prefix):].lower(): float(v) for k, v in os.environ.items() if k.startswith(prefix)}
