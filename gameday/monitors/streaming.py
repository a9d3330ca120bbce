"""The streaming monitors, in a process of their own.

librdkafka clients living in the harness process crashed it (SIGSEGV in
rd_kafka_cgrp_op on the rdk:main thread, about half of the runs), so every Kafka client
a drill needs runs here: the session starts this process as a tracked lab helper, and
folds the JSONL it writes into the run's history when it stops.

It samples supplier.raw's leaders and ISRs, the job output's end offsets (the job's
progress) and the applier's committed offsets, the Flink leader and job, and runs the
freshness canary: a supplier update for one flight, produced into supplier.raw like any
supplier's, then searched for through the load balancer until the API shows it. On a lab
with a search index the canary watches what is searchable: its seats as the index lists
them (flights[].seats; each canary's seats are its own, CANARY_SEATS + its number); without
one, its price (flights[].price.amount_pence). Each update carries both.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from flightsearch import APPLIER_GROUP, OUTPUT_TOPIC, RAW_TOPIC
from gameday.history import CanaryPath, CanarySample, Recorder

CANARY_SUPPLIER = "canary"
CANARY_AMOUNT = 900_001  # odd pence above any seeded fare, 2 apart per canary: unmistakable
CANARY_SEATS = 10_000  # more seats than any aircraft (the timetable's are below 190)


@dataclass(frozen=True)
class Canary:
    """The n-th canary update of a run: both its price and its seats are its own."""

    n: int
    t: float

    @property
    def amount_pence(self) -> int:
        return CANARY_AMOUNT + 2 * self.n

    @property
    def seats(self) -> int:
        return CANARY_SEATS + self.n

    def watched(self, via: CanaryPath) -> int:
        """The value search shows once this update is searchable."""
        return self.seats if via is CanaryPath.INDEX else self.amount_pence

    def event(self, flight) -> dict:  # noqa: ANN001 - a flightsearch.timetable.Flight
        return {
            "event_id": f"{CANARY_SUPPLIER}-{int(self.t * 1000)}", "supplier": CANARY_SUPPLIER, "seq": self.n, "type": "price",
            "flight_id": flight.flight_id, "amount_pence": self.amount_pence, "currency": flight.price.currency, "seats": self.seats,
            "supplier_ts": self.t, "produced_at": self.t,
        }  # fmt: skip


def shown(body: dict, flight_id: str, via: CanaryPath) -> int | None:
    """What one search answer shows of the flight: its seats as the index lists them, or
    its price; None when the flight or the value is not in the answer."""
    flight = next((f for f in body.get("flights", []) if f.get("flight_id") == flight_id), None)
    if flight is None:
        return None
    if via is CanaryPath.INDEX:
        seats = flight.get("seats")
        return seats if isinstance(seats, int) and not isinstance(seats, bool) else None
    price = flight.get("price")
    return price.get("amount_pence") if isinstance(price, dict) else None


def canary_loop(recorder: Recorder, bootstrap: str, api_url: str, flight, stop: threading.Event, every_s: float, give_up_s: float,
                poll_s: float = 0.05, via: CanaryPath = CanaryPath.PRICE) -> None:  # fmt: skip
    """Produce a canary update every `every_s` (whether or not the last one showed yet),
    and poll search for the flight every `poll_s`. An update counts as searchable the first
    time the API shows its value (`via`) or a later canary's (later updates supersede it:
    store and index keep the newest supplier timestamp). Each is recorded once, seen or given up."""
    from confluent_kafka import Producer

    from flightsearch.ingest import producer_config

    producer = Producer(producer_config(bootstrap, "all"))
    query = urllib.parse.urlencode({"origin": flight.origin, "destination": flight.destination, "date": flight.date.isoformat()})
    url = f"{api_url.rstrip('/')}/search?{query}"
    pending: list[tuple[Canary, list[int]]] = []  # produced, not yet seen or given up, oldest first; with its polls
    n_of: dict[int, int] = {}  # watched value -> canary number
    n, next_at = 0, time.time()

    def sample(c: Canary, polls: int, **outcome) -> CanarySample:  # noqa: ANN003
        return CanarySample(t=c.t, flight_id=flight.flight_id, amount_pence=c.amount_pence, seats=c.seats, via=via, polls=polls, **outcome)

    while not stop.is_set():
        now = time.time()
        if now >= next_at:
            n += 1
            c = Canary(n, now)
            try:
                producer.produce(RAW_TOPIC, key=CANARY_SUPPLIER.encode(), value=json.dumps(c.event(flight)).encode())
                producer.flush(5)
                pending.append((c, [0]))
                n_of[c.watched(via)] = n
            except Exception as exc:
                recorder.add(sample(c, 0, error=f"produce: {exc}"[:200]))
            next_at = now + every_s
        if pending:
            value = _shown(url, flight.flight_id, via)
            now = time.time()
            newest_seen = n_of.get(value, 0) if value is not None else 0
            for c, polls in list(pending):
                polls[0] += 1
                if c.n <= newest_seen:
                    recorder.add(sample(c, polls[0], seen_at=now))
                    pending.remove((c, polls))
                elif now - c.t > give_up_s:
                    recorder.add(sample(c, polls[0], gave_up_at=now))
                    pending.remove((c, polls))
        stop.wait(poll_s)
    # Canaries still unseen when the run stops were unseen for at least their age: a stall
    # in the last minute of a run must show (the checker weighs them against the threshold).
    now = time.time()
    for c, polls in pending:
        recorder.add(sample(c, polls[0], gave_up_at=now, pending=True))


def _shown(url: str, flight_id: str, via: CanaryPath) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    return shown(body, flight_id, via)


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gameday.monitors.streaming")
    p.add_argument("--out", required=True)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--zk", default="")
    p.add_argument("--leader-path", default="", help="ZooKeeper node of the Flink REST leader record")
    p.add_argument("--job-name", default="")
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--interval", type=float, default=0.5)
    # Faster for Flink: its election is judged against 5 s, and a 0.5 s tick alone could
    # add half a second to the measurement.
    p.add_argument("--flink-interval", type=float, default=0.25)
    p.add_argument("--api-url", default="")
    # A canary every 3 s: the checker wants 10 outside any fault window, and a short freshness
    # drill (one per delivery mode in the lab tests) then needs only ~35 s of them.
    p.add_argument("--canary-every", type=float, default=3.0)
    p.add_argument("--canary-give-up", type=float, default=60.0)
    p.add_argument("--canary-via", choices=[v.value for v in CanaryPath], default=CanaryPath.PRICE.value,
                   help="index: watch the flight's seats as the search index lists them; price: its price")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--airports", type=int, default=120)
    p.add_argument("--flights", type=int, default=54000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", default="2026-12-01")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from gameday.monitors import flink, kafka

    args = _args(argv)
    recorder = Recorder(Path(args.out))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness decides when we stop
    samplers = [kafka.metadata_sampler(recorder, args.bootstrap, RAW_TOPIC, args.interval), kafka.config_sampler(recorder, args.bootstrap, RAW_TOPIC, 5.0)]
    samplers.append(kafka.offsets_sampler(recorder, args.bootstrap, OUTPUT_TOPIC, APPLIER_GROUP, args.partitions, args.interval))
    if args.zk and args.leader_path:
        samplers.append(flink.sampler(recorder, args.zk, args.leader_path, args.flink_interval, job_name=args.job_name))
    for s in samplers:
        s.start()
    threads = []
    if args.api_url:
        from datetime import date

        from flightsearch.timetable import generate

        flights = generate(seed=args.seed, airports=args.airports, flights=args.flights, days=args.days, start=date.fromisoformat(args.start)).flights
        flight = flights[len(flights) // 2]
        t = threading.Thread(target=canary_loop, args=(recorder, args.bootstrap, args.api_url, flight, stop, args.canary_every, args.canary_give_up),
                             kwargs={"via": CanaryPath(args.canary_via)}, daemon=True)  # fmt: skip
        t.start()
        threads.append(t)
    while not stop.is_set():
        stop.wait(0.5)
    for s in samplers:
        s.stop()
    for t in threads:
        t.join(timeout=3)
    recorder.close()
    # librdkafka's teardown is where it crashed: leave without running destructors.
    os._exit(0)


if __name__ == "__main__":
    main()
