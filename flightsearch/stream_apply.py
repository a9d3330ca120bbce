"""The price applier: delivers the stream job's output to what the API serves.

Reads `prices.normalized` with the delivery mode's isolation level (gameday.delivery):
read_committed sees only what the job committed at a checkpoint (each event once);
read_uncommitted sees what the at-least-once job wrote at once (and again after a restore).
For every price:

  - upserts it into the durable store, written with the supplier's timestamp as the
    Cassandra write time, so replays and out-of-order deliveries are idempotent (the
    newest supplier update wins, however often it is written);
  - deletes the flight's hot-cache entry (`price:<flight>`), an idempotent invalidation,
    so the next search reads the new price from the store;
  - with a search index (--search): writes the flight's seats into its document, versioned
    by the supplier's timestamp, and once a refresh made it searchable deletes the API's
    cached index answers it made stale (flightsearch.stream_index). This half runs in
    threads, each batch's request waiting for the index's refresh, so one batch's wait
    never delays the next batch's store write or index request.

A batch's offsets are committed only after it, and every batch before it, is in the store,
the cache and the index: a crash replays what was not committed, which the idempotent
writes absorb. Failed writes are retried until they succeed; the applier never skips an
event (an index document the index refuses outright, e.g. malformed, is counted in the
status as `index_rejected`: retrying it could never succeed).

`<dir>/status-<name>.json` is rewritten every second (the lab's health check reads it).
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable

from flightsearch import APPLIER_GROUP as GROUP
from flightsearch import OUTPUT_TOPIC
from flightsearch.cachekeys import price_key
from flightsearch.statusfile import write_status

POLL_BATCH = 500
# Index requests under way at once, each waiting up to one refresh interval: batches arrive
# every ~50 ms from an at-least-once job, so ~20 would wait at once on a 1 s refresh.
INDEX_WORKERS = 24
# Batches consumed and not yet committed before the applier waits for the oldest: how far the
# store and the price cache may run ahead of an index that does not take writes (~13 s of
# at-least-once batches, one per ~50 ms; minutes of exactly-once ones, a burst per checkpoint).
# Beyond it the price path waits too: a batch is committed only once it is everywhere.
MAX_PENDING = 256


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
    p.add_argument("--consistency", default="LOCAL_QUORUM", help="Cassandra write consistency level (the driver's name)")
    p.add_argument("--dir", required=True, help="where the status file goes")
    _index_args(p)
    return p.parse_args(argv)


def _index_args(p: argparse.ArgumentParser) -> None:
    from flightsearch.timetable import DEFAULTS

    p.add_argument("--isolation", choices=("read_committed", "read_uncommitted"), default="read_committed",
                   help="read_committed for an exactly-once job's output, read_uncommitted for an at-least-once one's")
    p.add_argument("--search", default="", help="URL[,URL...] of the search index's nodes (none: the index is not kept)")
    p.add_argument("--search-index", default="flights")
    for name in ("seed", "airports", "flights", "days"):
        p.add_argument(f"--timetable-{name}", type=int, default=DEFAULTS[name], help="the timetable the index was seeded from")
    p.add_argument("--timetable-start", type=date.fromisoformat, default=DEFAULTS["start"])


class Store:
    def __init__(self, hosts: list[str], port: int, keyspace: str, consistency: str = "LOCAL_QUORUM") -> None:
        from cassandra import ConsistencyLevel
        from cassandra.cluster import Cluster
        from cassandra.policies import RoundRobinPolicy

        from flightsearch.api.store import connection_class

        self.cluster = Cluster(hosts, port=port, connection_class=connection_class(), load_balancing_policy=RoundRobinPolicy())
        self.session = self.cluster.connect(keyspace)
        self.upsert = self.session.prepare(
            "INSERT INTO prices (flight_id, amount_pence, currency, seats, updated_at) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"
        )
        self.upsert.consistency_level = getattr(ConsistencyLevel, consistency)

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
        # One client, shared by the index threads: its pool asks Sentinel for the primary
        # on every new connection and drops a connection to a primary that was demoted.
        self.primary = self.sentinel.master_for(service, socket_timeout=0.5)

    def delete(self, keys: Iterable[str]) -> None:
        keys = sorted(set(keys))
        if keys:
            self.primary.delete(*keys)


class InOrder:
    """Batches in the order they were consumed, each with its index half (a future of
    "done", None when there is none): a batch's offsets may be committed once it and every
    batch before it are done, though index halves finish in any order."""

    def __init__(self) -> None:
        self.batches: deque[tuple[dict[tuple[str, int], int], Future | None]] = deque()

    def __len__(self) -> int:
        return len(self.batches)

    def add(self, offsets: dict[tuple[str, int], int], done: Future | None) -> None:
        self.batches.append((offsets, done))

    def committable(self) -> dict[tuple[str, int], int]:
        """The offsets to commit now ((topic, partition) -> next offset), from the batches
        done at the head of the line, which leave it. A batch whose index half gave up (the
        process is stopping) is never committed, nor anything after it."""
        out: dict[tuple[str, int], int] = {}
        while self.batches:
            offsets, done = self.batches[0]
            if done is not None and not (done.done() and done.result()):
                break
            self.batches.popleft()
            out.update(offsets)
        return out

    def waiting(self) -> bool:
        """The oldest batch's index half is still under way."""
        return bool(self.batches) and self.batches[0][1] is not None and not self.batches[0][1].done()

    def wait_oldest(self, timeout_s: float) -> None:
        if self.batches and self.batches[0][1] is not None:
            try:
                self.batches[0][1].result(timeout_s)
            except Exception:
                pass


def next_offsets(consumed: Iterable[tuple[str, int, int]], positions: Iterable[tuple[str, int, int]] = ()) -> dict[tuple[str, int], int]:
    """The offset to commit per partition after a batch: past its last message, and past what
    the consumer skipped after it (a read_committed reader's position passes transaction
    markers: committing it, as a commit without offsets would, leaves no phantom lag of one)."""
    out: dict[tuple[str, int], int] = {}
    for topic, partition, offset in consumed:
        out[(topic, partition)] = max(out.get((topic, partition), 0), offset + 1)
    for topic, partition, position in positions:
        if (topic, partition) in out and position > out[(topic, partition)]:
            out[(topic, partition)] = position
    return out


def batch_offsets(consumer: Any, msgs: list[Any]) -> dict[tuple[str, int], int]:
    """next_offsets of a batch just consumed: nothing later has been consumed yet, so the
    consumer's positions are this batch's."""
    positions = [(tp.topic, tp.partition, tp.offset) for tp in consumer.position(consumer.assignment())]
    return next_offsets(((m.topic(), m.partition(), m.offset()) for m in msgs), positions)


class Redeletes:
    """Cache keys to delete once more, when due (flightsearch.stream_index, step 5)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, tuple[str, ...]]] = []
        self._n = 0
        self._lock = threading.Lock()

    def add(self, keys: Iterable[str], at: float) -> None:
        keys = tuple(keys)
        if keys:
            with self._lock:
                self._n += 1
                heapq.heappush(self._heap, (at, self._n, keys))

    def due(self, now: float) -> list[str]:
        out: list[str] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                out += heapq.heappop(self._heap)[2]
        return out


class IndexHalf:
    """The index half of each batch (flightsearch.stream_index), in a thread pool."""

    def __init__(self, writer: Any, cache: Cache, stop: dict, redeletes: Redeletes) -> None:
        self.writer, self.cache, self.stop, self.redeletes = writer, cache, stop, redeletes
        self.pool = ThreadPoolExecutor(INDEX_WORKERS, thread_name_prefix="index")
        self.lock = threading.Lock()
        self.stats = {"indexed": 0, "index_superseded": 0, "index_rejected": 0, "index_unknown_flights": 0, "index_retries": 0, "last_indexed_at": 0.0}
        self.last_rejection = ""

    def submit(self, prices: list[dict[str, Any]]) -> Future:
        return self.pool.submit(self._run, prices)

    def _run(self, prices: list[dict[str, Any]]) -> bool:
        from flightsearch.stream_index import REDELETE_S, SeatsUpdate

        try:
            outcome = self.writer.apply([SeatsUpdate.of(p) for p in prices], lambda: self.stop["now"])
            if outcome is None:
                return False
            stale = self.writer.stale_keys(outcome)
            ok, retries = _attempt_until_done(lambda: self.cache.delete(stale), self.stop)
            self.redeletes.add(stale, time.time() + REDELETE_S)
        except Exception as exc:  # a bug: the batch stays uncommitted (replayed after a restart)
            logging.getLogger("flightsearch.stream_apply").exception("index half failed: %s", exc)
            return False
        with self.lock:
            s = self.stats
            s["indexed"] += len(outcome.applied)
            s["index_superseded"] += len(outcome.superseded)
            s["index_rejected"] += len(outcome.rejected)
            s["index_unknown_flights"] += len(outcome.unknown)
            s["index_retries"] += outcome.attempts - 1 + retries
            s["last_indexed_at"] = time.time()
            if outcome.rejected:
                self.last_rejection = f"{outcome.rejected[0][0]}: {outcome.rejected[0][1]}"
        return ok

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {**self.stats, **({"index_last_rejection": self.last_rejection} if self.last_rejection else {})}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _index_half(args: argparse.Namespace, cache: Cache, stop: dict, redeletes: Redeletes) -> IndexHalf | None:
    if not args.search:
        return None
    from flightsearch.stream_index import IndexWriter, Reference
    from flightsearch.timetable import generate

    tt = generate(args.timetable_seed, args.timetable_airports, args.timetable_flights, args.timetable_days, args.timetable_start)
    writer = IndexWriter([u for u in args.search.split(",") if u], args.search_index, Reference.of(tt))
    return IndexHalf(writer, cache, stop, redeletes)


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    quiet = logging.getLogger("flightsearch.stream_apply.kafka")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap, "group.id": GROUP, "isolation.level": args.isolation,
        "enable.auto.commit": False, "auto.offset.reset": "earliest", "logger": quiet,
        "socket.connection.setup.timeout.ms": 2000, "reconnect.backoff.max.ms": 1000,
    })  # fmt: skip
    consumer.subscribe([args.topic])
    store = _retrying("store connect", lambda: Store(args.cassandra.split(","), args.cassandra_port, args.keyspace, args.consistency))
    cache = Cache([(h, int(p)) for h, p in (x.rsplit(":", 1) for x in args.sentinels.split(","))], args.service)
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    redeletes = Redeletes()
    index = _index_half(args, cache, stop, redeletes)
    order = InOrder()
    stats = {"applied": 0, "batches": 0, "retries": 0, "commits_lost_to_rebalance": 0, "last_applied_at": 0.0, "last_lag_s": None,
             "isolation": args.isolation, "index": bool(index)}  # fmt: skip

    # The group rebalanced under a commit (its coordinator moved: a broker cut off in an AZ
    # partition): the applier stays up. Its writes are idempotent, so whatever the next owner
    # of a partition gets again from the last committed offset is applied twice, harmlessly.
    # Before, ILLEGAL_GENERATION here ended the process, and nothing restarted it.
    rebalanced = (KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS)

    def commit() -> None:
        ready = order.committable()
        if ready:
            try:
                consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in ready.items()], asynchronous=False)
            except KafkaException as exc:
                if exc.args[0].code() not in rebalanced:
                    raise
                stats["commits_lost_to_rebalance"] += 1
                print(f"{args.name}: commit of {len(ready)} partition offset(s) refused ({exc.args[0].name()}): the group rebalanced; "
                      "the next owner replays from the last committed offset", flush=True)

    last_status = 0.0

    def housekeeping() -> None:
        nonlocal last_status
        again = redeletes.due(time.time())
        if again:
            try:
                cache.delete(again)
            except Exception:  # Redis failing over: try again shortly
                redeletes.add(again, time.time() + 0.5)
        if time.monotonic() - last_status >= 1.0:
            _write_status(out, args.name, {**stats, **(index.snapshot() if index else {})})
            last_status = time.monotonic()

    while not stop["now"]:
        msgs = [m for m in consumer.consume(POLL_BATCH, 0.05) if not m.error()]
        if msgs:
            prices = [json.loads(m.value()) for m in msgs]
            stats["retries"] += _until_done(lambda: store.write(prices), stop)
            stats["retries"] += _until_done(lambda: cache.delete(price_key(p["flight_id"]) for p in prices), stop)
            if stop["now"]:
                break  # not committed: the batch is replayed after a restart
            order.add(batch_offsets(consumer, msgs), index.submit(prices) if index else None)
            now = time.time()
            stats.update(applied=stats["applied"] + len(prices), batches=stats["batches"] + 1, last_applied_at=now, last_lag_s=now - prices[-1]["produced_at"])
        commit()
        while len(order) >= MAX_PENDING and not stop["now"]:  # the index is behind: wait for it
            order.wait_oldest(0.5)
            commit()
            housekeeping()
        housekeeping()
    if index is not None:  # what finishes within a few seconds is committed; the rest is replayed
        deadline = time.monotonic() + 5
        while order.waiting() and time.monotonic() < deadline:
            order.wait_oldest(max(0.0, deadline - time.monotonic()))
            commit()
        index.close()
    consumer.close()
    _write_status(out, args.name, {**stats, **(index.snapshot() if index else {})})
    return 0


def _attempt_until_done(fn: Callable[[], Any], stop: dict) -> tuple[bool, int]:
    """Call fn until it succeeds (or the process is told to stop): (succeeded, retries)."""
    retries = 0
    while True:
        try:
            fn()
            return True, retries
        except Exception:
            retries += 1
            if stop["now"]:
                return False, retries
            time.sleep(min(1.0, 0.05 * 2**retries))


def _until_done(fn: Callable[[], Any], stop: dict) -> int:
    """Call fn until it succeeds (or the process is told to stop); return the retries."""
    return _attempt_until_done(fn, stop)[1]


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
