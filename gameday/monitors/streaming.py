"""The streaming monitors, in a process of their own.

librdkafka clients living in the harness process crashed it (SIGSEGV in
rd_kafka_cgrp_op on the rdk:main thread, about half of the runs), so every Kafka client
a drill needs runs here: the session starts this process as a tracked lab helper, and
folds the JSONL it writes into the run's history when it stops.

It samples supplier.raw's leaders and ISRs, the job output's end offsets (the job's
progress) and the applier's committed offsets, the Flink leader and job, and runs the
freshness canary: a price update for one flight, produced into supplier.raw like any
supplier's, then searched for through the load balancer until the API returns it.
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

from gameday.history import CanarySample, Recorder

CANARY_SUPPLIER = "canary"


def canary_loop(recorder: Recorder, bootstrap: str, api_url: str, flight, stop: threading.Event, every_s: float, give_up_s: float, poll_s: float = 0.05) -> None:
    """Produce one canary update every `every_s`, then poll search until its price shows
    (or `give_up_s` passes); record each as a CanarySample. Polls are bounded in count."""
    from confluent_kafka import Producer

    from gameday.ingest import producer_config

    producer = Producer(producer_config(bootstrap, "all"))
    query = urllib.parse.urlencode({"origin": flight.origin, "destination": flight.destination, "date": flight.date.isoformat()})
    url = f"{api_url.rstrip('/')}/search?{query}"
    seq = 0
    while not stop.is_set():
        seq += 1
        # A price no supplier sends (odd pence above any seeded fare), new each time.
        amount = 900_001 + 2 * (int(time.time() * 10) % 50_000)
        produced = time.time()
        event = {
            "event_id": f"{CANARY_SUPPLIER}-{int(produced * 1000)}", "supplier": CANARY_SUPPLIER, "seq": seq, "type": "price",
            "flight_id": flight.flight_id, "amount_pence": amount, "currency": flight.price.currency, "seats": 9,
            "supplier_ts": produced, "produced_at": produced,
        }  # fmt: skip
        error = ""
        try:
            producer.produce("supplier.raw", key=CANARY_SUPPLIER.encode(), value=json.dumps(event).encode())
            producer.flush(5)
        except Exception as exc:
            error = f"produce: {exc}"
        seen, polls, deadline = 0.0, 0, produced + give_up_s
        while not error and not stop.is_set() and time.time() < deadline:
            polls += 1
            try:
                with urllib.request.urlopen(url, timeout=1.0) as resp:
                    body = json.loads(resp.read())
                price = next((f.get("price") for f in body.get("flights", []) if f.get("flight_id") == flight.flight_id), None)
                if price and price.get("amount_pence") == amount:
                    seen = time.time()
                    break
            except (OSError, ValueError):
                pass
            stop.wait(poll_s)
        if stop.is_set() and not seen:
            return  # cut short by the end of the run: not a measurement
        recorder.add(CanarySample(t=produced, flight_id=flight.flight_id, amount_pence=amount, seen_at=seen, gave_up_at=0.0 if seen else time.time(), polls=polls, error=error))
        stop.wait(max(0.0, produced + every_s - time.time()))


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gameday.monitors.streaming")
    p.add_argument("--out", required=True)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--zk", default="")
    p.add_argument("--job-name", default="")
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--api-url", default="")
    p.add_argument("--canary-every", type=float, default=5.0)
    p.add_argument("--canary-give-up", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--flights", type=int, default=54000)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from gameday.monitors import kafka
    from gameday.monitors import flink

    args = _args(argv)
    recorder = Recorder(__import__("pathlib").Path(args.out))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness decides when we stop
    samplers = [kafka.metadata_sampler(recorder, args.bootstrap, "supplier.raw", args.interval)]
    samplers.append(kafka.offsets_sampler(recorder, args.bootstrap, "prices.normalized", "gameday-apply", args.partitions, args.interval))
    if args.zk:
        samplers.append(flink.sampler(recorder, args.zk, args.interval, job_name=args.job_name))
    for s in samplers:
        s.start()
    threads = []
    if args.api_url:
        from gameday.timetable import generate

        flights = generate(seed=args.seed, flights=args.flights).flights
        flight = flights[len(flights) // 2]
        t = threading.Thread(target=canary_loop, args=(recorder, args.bootstrap, args.api_url, flight, stop, args.canary_every, args.canary_give_up), daemon=True)
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
