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
from pathlib import Path

from flightsearch import APPLIER_GROUP, OUTPUT_TOPIC, RAW_TOPIC
from gameday.history import CanarySample, Recorder

CANARY_SUPPLIER = "canary"


def canary_loop(recorder: Recorder, bootstrap: str, api_url: str, flight, stop: threading.Event, every_s: float, give_up_s: float, poll_s: float = 0.05) -> None:
    """Produce a canary update every `every_s` (whether or not the last one showed yet),
    and poll search for the flight every `poll_s`. An update counts as searchable the first
    time the API returns its price or a later canary's (later updates supersede it: the
    store keeps the newest supplier timestamp). Each is recorded once, seen or given up."""
    from confluent_kafka import Producer

    from flightsearch.ingest import producer_config

    producer = Producer(producer_config(bootstrap, "all"))
    query = urllib.parse.urlencode({"origin": flight.origin, "destination": flight.destination, "date": flight.date.isoformat()})
    url = f"{api_url.rstrip('/')}/search?{query}"
    pending: list[dict] = []  # canaries produced and not yet seen or given up, oldest first
    seq_of: dict[int, int] = {}  # amount -> canary seq
    seq, next_at, polls = 0, time.time(), 0
    while not stop.is_set():
        now = time.time()
        if now >= next_at:
            seq += 1
            amount = 900_001 + 2 * seq  # odd pence above any seeded fare: unmistakable
            event = {
                "event_id": f"{CANARY_SUPPLIER}-{int(now * 1000)}", "supplier": CANARY_SUPPLIER, "seq": seq, "type": "price",
                "flight_id": flight.flight_id, "amount_pence": amount, "currency": flight.price.currency, "seats": 9,
                "supplier_ts": now, "produced_at": now,
            }  # fmt: skip
            try:
                producer.produce(RAW_TOPIC, key=CANARY_SUPPLIER.encode(), value=json.dumps(event).encode())
                producer.flush(5)
                pending.append({"seq": seq, "amount": amount, "t": now, "polls": 0})
                seq_of[amount] = seq
            except Exception as exc:
                recorder.add(CanarySample(t=now, flight_id=flight.flight_id, amount_pence=amount, error=f"produce: {exc}"[:200]))
            next_at = now + every_s
        if pending:
            polls += 1
            shown = _shown_price(url, flight.flight_id)
            now = time.time()
            newest_seen = seq_of.get(shown, 0) if shown is not None else 0
            for c in list(pending):
                c["polls"] += 1
                if c["seq"] <= newest_seen:
                    recorder.add(CanarySample(t=c["t"], flight_id=flight.flight_id, amount_pence=c["amount"], seen_at=now, polls=c["polls"]))
                    pending.remove(c)
                elif now - c["t"] > give_up_s:
                    recorder.add(CanarySample(t=c["t"], flight_id=flight.flight_id, amount_pence=c["amount"], gave_up_at=now, polls=c["polls"]))
                    pending.remove(c)
        stop.wait(poll_s)
    # Canaries still unseen when the run stops were unseen for at least their age: a stall
    # in the last minute of a run must show (the checker weighs them against the threshold).
    now = time.time()
    for c in pending:
        recorder.add(CanarySample(t=c["t"], flight_id=flight.flight_id, amount_pence=c["amount"], gave_up_at=now, polls=c["polls"], pending=True))


def _shown_price(url: str, flight_id: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    price = next((f.get("price") for f in body.get("flights", []) if f.get("flight_id") == flight_id), None)
    return price.get("amount_pence") if price else None


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
    p.add_argument("--canary-every", type=float, default=5.0)
    p.add_argument("--canary-give-up", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--flights", type=int, default=54000)
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
        from flightsearch.timetable import generate

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
