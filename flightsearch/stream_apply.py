"""The price applier: delivers the stream job's output to what the API serves.

Reads `prices.normalized` with the delivery mode's isolation level (gameday.delivery):
read_committed sees only what the job committed at a checkpoint (each event once);
read_uncommitted sees what the at-least-once job wrote at once (and again after a restore).
For every price:

  - upserts it into the durable store, written with the supplier's timestamp as the
    Cassandra write time, so replays and out-of-order deliveries are idempotent (the
    newest supplier update wins, however often it is written);
  - deletes the flight's hot-cache entry (`price:<flight>`), an idempotent invalidation,
    so the next search reads the new price from the store.

Offsets are committed only after a batch is in the store and the cache: a crash replays
the batch, which the idempotent writes absorb. Failed writes are retried until they
succeed; the applier never skips an event.

`<dir>/status-<name>.json` is rewritten every second (the lab's health check reads it).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

from flightsearch import APPLIER_GROUP as GROUP
from flightsearch import OUTPUT_TOPIC
from flightsearch.statusfile import write_status

POLL_BATCH = 500


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m flightsearch.stream_apply", description="apply the stream job's prices to the store and the hot cache")
    p.add_argument("--name", default="stream-apply")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", default=OUTPUT_TOPIC)
    p.add_argument("--sentinels", required=True, help="HOST:PORT[,HOST:PORT...]")
    p.add_argument("--service", default="lab-cache")
    p.add_argument("--cassandra", required=True, help="HOST[,HOST...]")
    p.add_argument("--cassandra-port", type=int, default=9042)
    p.add_argument("--keyspace", default="flights")
    p.add_argument("--dir", required=True, help="where the status file goes")
    p.add_argument("--isolation", choices=("read_committed", "read_uncommitted"), default="read_committed",
                   help="read_committed for an exactly-once job's output, read_uncommitted for an at-least-once one's")
    return p.parse_args(argv)


class Store:
    def __init__(self, hosts: list[str], port: int, keyspace: str) -> None:
        from cassandra.cluster import Cluster
        from cassandra.policies import RoundRobinPolicy

        from flightsearch.api.store import connection_class

        self.cluster = Cluster(hosts, port=port, connection_class=connection_class(), load_balancing_policy=RoundRobinPolicy())
        self.session = self.cluster.connect(keyspace)
        self.upsert = self.session.prepare(
            "INSERT INTO prices (flight_id, amount_pence, currency, seats, updated_at) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"
        )

    def write(self, prices: list[dict[str, Any]]) -> None:
        from datetime import datetime, timezone

        from cassandra.concurrent import execute_concurrent_with_args

        rows = [
            (p["flight_id"], int(p["amount_pence"]), p["currency"], int(p["seats"]), datetime.fromtimestamp(p["supplier_ts"], timezone.utc), int(p["supplier_ts"] * 1_000_000))
            for p in prices
        ]
        execute_concurrent_with_args(self.session, self.upsert, rows, concurrency=32, raise_on_first_error=True)


class Cache:
    def __init__(self, sentinels: list[tuple[str, int]], service: str) -> None:
        from redis.sentinel import Sentinel

        self.sentinel = Sentinel(sentinels, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.service = service

    def invalidate(self, flights: set[str]) -> None:
        if flights:
            self.sentinel.master_for(self.service, socket_timeout=0.5).delete(*(f"price:{f}" for f in sorted(flights)))


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import Consumer

    quiet = logging.getLogger("flightsearch.stream_apply.kafka")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap, "group.id": GROUP, "isolation.level": args.isolation,
        "enable.auto.commit": False, "auto.offset.reset": "earliest", "logger": quiet,
        "socket.connection.setup.timeout.ms": 2000, "reconnect.backoff.max.ms": 1000,
    })  # fmt: skip
    consumer.subscribe([args.topic])
    store = _retrying("store connect", lambda: Store(args.cassandra.split(","), args.cassandra_port, args.keyspace))
    cache = Cache([(h, int(p)) for h, p in (x.rsplit(":", 1) for x in args.sentinels.split(","))], args.service)
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    stats = {"applied": 0, "batches": 0, "retries": 0, "last_applied_at": 0.0, "last_lag_s": None}
    last_status = 0.0
    while not stop["now"]:
        msgs = [m for m in consumer.consume(POLL_BATCH, 0.05) if not m.error()]
        if msgs:
            prices = [json.loads(m.value()) for m in msgs]
            stats["retries"] += _until_done(lambda: store.write(prices), stop)
            stats["retries"] += _until_done(lambda: cache.invalidate({p["flight_id"] for p in prices}), stop)
            if stop["now"]:
                break  # not committed: the batch is replayed after a restart
            consumer.commit(asynchronous=False)
            now = time.time()
            stats.update(applied=stats["applied"] + len(prices), batches=stats["batches"] + 1, last_applied_at=now, last_lag_s=now - prices[-1]["produced_at"])
        if time.monotonic() - last_status >= 1.0:
            _write_status(out, args.name, stats)
            last_status = time.monotonic()
    consumer.close()
    _write_status(out, args.name, stats)
    return 0


def _until_done(fn, stop: dict) -> int:
    """Call fn until it succeeds (or the process is told to stop); return the retries."""
    retries = 0
    while True:
        try:
            fn()
            return retries
        except Exception:
            retries += 1
            if stop["now"]:
                return retries
            time.sleep(min(1.0, 0.05 * 2**retries))


def _retrying(what: str, fn):
    deadline = time.monotonic() + 60
    while True:
        try:
            return fn()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _write_status(out: Path, name: str, stats: dict[str, Any]) -> None:
    write_status(out, name, {"t": time.time(), **stats})


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run(_args(argv)))


if __name__ == "__main__":
    main()
