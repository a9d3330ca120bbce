"""Ingestion adapters: simulated suppliers producing canonical JSON into supplier.raw.

One process per AZ hosts a share of the suppliers (15 by default). Each supplier speaks
its own wire format (semicolon CSV, an XML fragment, or nested JSON), and the adapter
turns every message into the platform's canonical JSON event, keyed by supplier so one
supplier's events stay in order on one partition:

    {"event_id": "sup-07-000042", "supplier": "sup-07", "seq": 42, "type": "price",
     "flight_id": "FR100-20261201", "amount_pence": 11799, "currency": "GBP", "seats": 63,
     "supplier_ts": 1764000000.123, "produced_at": 1764000000.125}

Producers use acks=all with the idempotent producer (the profile's kafka.acks may turn
that down for the "miss the plan" drill; idempotence needs acks=all). Every event carries
a per-supplier sequence number. Sequence numbers are never reused, even across a crash:
blocks of them are reserved durably before use (a restart skips to the next block).

The durable ack log: `<dir>/<supplier>.acks`, one line per acknowledged event,
"seq partition offset ack_t created_t" (epoch seconds), fsynced at least every `fsync_ms`. Failed deliveries go to
`<supplier>.nacks` ("seq t error"). `<dir>/status-<process>.json` is rewritten every
second with counters (the health check reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from flightsearch import RAW_TOPIC
from flightsearch.statusfile import write_status

FORMATS = ("csv", "xml", "json")
SEQ_BLOCK = 1000
BACKLOG_BATCH = 50  # backlog events produced between two polls of the producer
MAX_BACKLOG_S = 600.0  # a supplier's feed keeps at most this much while no adapter reads it


def supplier_ids(n: int) -> list[str]:
    return [f"sup-{i:02d}" for i in range(1, n + 1)]


def supplier_format(supplier: str) -> str:
    """sup-01..05 speak CSV, 06..10 XML, 11..15 JSON (so every AZ's adapter sees all three)."""
    return FORMATS[(int(supplier.rsplit("-", 1)[1]) - 1) // 5 % len(FORMATS)]


# --- supplier wire formats and the canonical conversion --------------------------------


def render_native(fmt: str, flight_id: str, amount_pence: int, currency: str, seats: int, ts: float) -> str:
    if fmt == "csv":
        return f"{flight_id};{amount_pence};{currency};{seats};{ts:.3f}"
    if fmt == "xml":
        return f'<fare flight="{flight_id}" pence="{amount_pence}" cur="{currency}" seats="{seats}" at="{ts:.3f}"/>'
    return json.dumps({"offer": {"flight": flight_id, "price": {"amount": amount_pence / 100, "currency": currency}, "availability": seats}, "ts_ms": int(ts * 1000)})


def to_canonical(fmt: str, native: str) -> dict[str, Any]:
    """Parse one supplier message into the canonical fields (without id, seq, produced_at)."""
    if fmt == "csv":
        flight, pence, cur, seats, ts = native.split(";")
        return {"flight_id": flight, "amount_pence": int(pence), "currency": cur, "seats": int(seats), "supplier_ts": float(ts)}
    if fmt == "xml":
        import xml.etree.ElementTree as ET

        el = ET.fromstring(native)
        return {"flight_id": el.get("flight"), "amount_pence": int(el.get("pence")), "currency": el.get("cur"), "seats": int(el.get("seats")), "supplier_ts": float(el.get("at"))}
    data = json.loads(native)
    offer = data["offer"]
    return {
        "flight_id": offer["flight"],
        "amount_pence": round(offer["price"]["amount"] * 100),
        "currency": offer["price"]["currency"],
        "seats": int(offer["availability"]),
        "supplier_ts": data["ts_ms"] / 1000,
    }


def canonical_event(supplier: str, seq: int, fields: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": f"{supplier}-{seq:06d}", "supplier": supplier, "seq": seq, "type": "price", **fields, "produced_at": time.time()}


# --- durable sequence numbers and the ack log --------------------------------------------


class SeqAllocator:
    """Per-supplier sequence numbers, unique across restarts: a block is reserved on disk
    (written and fsynced) before any number in it is used."""

    def __init__(self, path: Path) -> None:
        self.path = path
        start = int(path.read_text()) if path.exists() else 1
        self.next = start
        self.limit = start
        self._reserve()

    def _reserve(self) -> None:
        self.limit = self.next + SEQ_BLOCK
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            fh.write(str(self.limit))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def take(self) -> int:
        if self.next >= self.limit:
            self._reserve()
        seq = self.next
        self.next += 1
        return seq


@dataclass
class Supplier:
    name: str
    fmt: str
    seqs: SeqAllocator
    acks: TextIO
    nacks: TextIO
    acked: int = 0
    failed: int = 0
    last_ack: float = 0.0
    dirty: bool = False

    def sync(self) -> None:
        if self.dirty:
            for fh in (self.acks, self.nacks):
                fh.flush()
                os.fsync(fh.fileno())
            self.dirty = False


def read_ack_lines(path: Path) -> list[tuple[int, int, int, float, float]]:
    """(seq, partition, offset, ack_t, created_t) of every complete line (a line still
    being written by a running adapter is skipped; ack_t/created_t 0 = not recorded)."""
    out = []
    for line in _complete_lines(path):
        parts = line.split()
        if len(parts) in (3, 5):
            offset = -1 if parts[2] == "None" else int(parts[2])  # logs written before -1 was used
            times = (float(parts[3]), float(parts[4])) if len(parts) == 5 else (0.0, 0.0)
            out.append((int(parts[0]), int(parts[1]), offset, *times))
    return out


def _complete_lines(path: Path) -> list[str]:
    """Lines ended by a newline: a running adapter may be half-way through the last one."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    return lines[:-1]


def read_nacks(path: Path) -> list[tuple[int, float, str]]:
    """(seq, t, error) of every failed delivery in one supplier's nack log."""
    out = []
    for line in _complete_lines(path):
        parts = line.split()
        if len(parts) == 3:
            out.append((int(parts[0]), float(parts[1]), parts[2]))
    return out


def missed_events(out_dir: Path, suppliers: list[str], rate: float, now: float) -> list[tuple[str, float]]:
    """(supplier, created_t) of the events `suppliers` sent at `rate` each since the last one
    their ack logs hold (the adapter's last moment of work), oldest first, over at most
    MAX_BACKLOG_S; [] for a first start."""
    last = max((row[4] for s in suppliers for row in read_ack_lines(out_dir / f"{s}.acks")), default=0.0)
    if last <= 0 or rate <= 0 or now - last <= 1.0 / rate:
        return []
    since = max(last, now - MAX_BACKLOG_S)
    step = 1.0 / (rate * len(suppliers))
    return [(suppliers[i % len(suppliers)], since + (i + 1) * step) for i in range(int((now - since) / step))]


# --- the adapter process -----------------------------------------------------------------


@dataclass
class Stats:
    started: float = field(default_factory=time.time)
    produced: int = 0
    queue_full: int = 0


def producer_config(bootstrap: str, acks: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "acks": acks,
        "enable.idempotence": acks == "all",
        "linger.ms": 5,
        # An event not acknowledged within this is a failed delivery (logged as a nack).
        "message.timeout.ms": 30000,
        # How long the leader may wait for its in-sync replicas before it answers "timed out"
        # (enforced by the broker; the producer retries then).
        "request.timeout.ms": 5000,
        # How long the producer waits for any answer to a request in flight before it gives
        # up on it and sends it again (the idempotent producer makes that safe), to the new
        # leader if there is one. librdkafka's default is 60 s, capped by the message's time
        # left: events in flight to a leader cut off in an AZ partition waited their whole
        # 30 s and failed (15 in one drill, "Timed out ProduceRequest in flight (after
        # 30826ms)") instead of reaching the leader elected 7-10 s in. Above the broker's
        # 5 s, so an answer the leader is still allowed to give is not cut short.
        "socket.timeout.ms": 8000,
        "socket.connection.setup.timeout.ms": 2000,
        "reconnect.backoff.max.ms": 1000,
    }


def run(args: argparse.Namespace) -> int:
    import logging

    from confluent_kafka import Producer

    from flightsearch.timetable import generate

    out_dir = Path(args.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timetable = generate(seed=args.seed, flights=args.flights)
    flights = timetable.flights
    rng = random.Random(f"{args.process}-{time.time()}")
    kafka_log = logging.getLogger("flightsearch.ingest.kafka")
    kafka_log.propagate = False
    debug = {"debug": args.kafka_debug} if args.kafka_debug else {}
    if debug:  # to the adapter's log (its stderr), each line timed
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        kafka_log.addHandler(handler)
        kafka_log.setLevel(logging.DEBUG)
    else:
        kafka_log.addHandler(logging.NullHandler())
    producer = Producer({**producer_config(args.bootstrap, args.acks), **debug, "logger": kafka_log})
    suppliers = [
        Supplier(s, supplier_format(s), SeqAllocator(out_dir / f"{s}.seq"), (out_dir / f"{s}.acks").open("a"), (out_dir / f"{s}.nacks").open("a"))
        for s in args.suppliers.split(",")
    ]
    stats = Stats()
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))

    def on_delivery(sup: Supplier, seq: int, created: float):
        def cb(err, msg) -> None:
            if err is None:
                # The offset is unknown (None) when a retried batch was already written.
                offset = msg.offset() if msg.offset() is not None else -1
                sup.acks.write(f"{seq} {msg.partition()} {offset} {time.time():.3f} {created:.3f}\n")
                sup.acked += 1
                sup.last_ack = time.time()
            else:
                sup.nacks.write(f"{seq} {time.time():.3f} {err.name()}\n")
                sup.failed += 1
            sup.dirty = True

        return cb

    def emit(sup: Supplier, created: float) -> None:
        f = flights[rng.randrange(len(flights))]
        amount = max(1000, f.price.amount_pence + rng.randint(-2000, 2000))
        native = render_native(sup.fmt, f.flight_id, amount, f.price.currency, rng.randint(0, 180), created)
        seq = sup.seqs.take()
        event = canonical_event(sup.name, seq, to_canonical(sup.fmt, native))
        try:
            producer.produce(args.topic, key=sup.name.encode(), value=json.dumps(event, separators=(",", ":")).encode(), on_delivery=on_delivery(sup, seq, created))
            stats.produced += 1
        except BufferError:
            stats.queue_full += 1
            sup.nacks.write(f"{seq} {time.time():.3f} LOCAL_QUEUE_FULL\n")
            sup.failed += 1
            sup.dirty = True

    interval = 1.0 / (args.rate * len(suppliers)) if args.rate > 0 else 1.0
    # What the suppliers sent while this adapter was not running waits for it (as a feed
    # queues at its source): a restarted adapter delivers it first, each event with the
    # time its supplier created it, so the ingest lag shows how long it waited.
    backlog = missed_events(out_dir, [s.name for s in suppliers], args.rate, time.time())
    if backlog:
        print(f"{args.process}: {len(backlog)} events the suppliers sent since {backlog[0][1]:.3f} wait: delivering them first", flush=True)
    next_at = time.monotonic()
    last_sync = last_status = time.monotonic()
    turn = 0
    while not stop["now"]:
        now = time.monotonic()
        if backlog:
            for name, created in backlog[:BACKLOG_BATCH]:
                emit(next(s for s in suppliers if s.name == name), created)
            del backlog[:BACKLOG_BATCH]
            next_at = now  # live events resume from now, after the backlog
        elif args.rate > 0 and now >= next_at:
            sup = suppliers[turn % len(suppliers)]
            turn += 1
            emit(sup, time.time())
            next_at += interval
            if now - next_at > 1.0:  # fell behind by more than a second: do not burst to catch up
                next_at = now
        producer.poll(max(0.0, min(0.05, next_at - time.monotonic())))
        now = time.monotonic()
        if now - last_sync >= args.fsync_ms / 1000:
            for sup in suppliers:
                sup.sync()
            last_sync = now
        if now - last_status >= 1.0:
            _write_status(out_dir, args.process, suppliers, stats, len(producer))
            last_status = now
            progress = max([stats.started] + [s.last_ack for s in suppliers])
            if stalled(time.time(), progress, len(producer), args.stall_exit_s):
                for sup in suppliers:
                    sup.sync()
                print(f"{args.process}: {len(producer)} events in flight and no acknowledgement for {time.time() - progress:.0f} s: "
                      "exiting so that the orchestrator starts an adapter that can reach the cluster", flush=True)
                os._exit(STALLED_EXIT)  # no flush: what is in flight stays unacknowledged, for the next adapter
    producer.flush(10)
    for sup in suppliers:
        sup.sync()
    _write_status(out_dir, args.process, suppliers, stats, len(producer))
    return 0


STALLED_EXIT = 3


def stalled(now: float, last_progress: float, in_flight: int, stall_s: float) -> bool:
    """True when this adapter should give up: events wait and nothing was acknowledged for
    `stall_s` (it cannot reach the cluster: its AZ cut off, every leader it knows gone).
    Exiting before the producer's delivery timeout leaves those events unacknowledged, not
    failed: the adapter started next delivers them from its suppliers' backlog."""
    return stall_s > 0 and in_flight > 0 and now - last_progress > stall_s


def _write_status(out_dir: Path, process: str, suppliers: list[Supplier], stats: Stats, in_flight: int) -> None:
    status = {
        "t": time.time(),
        "process": process,
        "produced": stats.produced,
        "in_flight": in_flight,
        "queue_full": stats.queue_full,
        "suppliers": {s.name: {"acked": s.acked, "failed": s.failed, "last_ack": s.last_ack} for s in suppliers},
    }
    write_status(out_dir, process, status)


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m flightsearch.ingest", description="simulated supplier ingestion adapters")
    p.add_argument("--process", required=True, help="name of this adapter process (e.g. ingest-a)")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", default=RAW_TOPIC)
    p.add_argument("--suppliers", required=True, help="comma-separated supplier ids this process hosts")
    p.add_argument("--rate", type=float, default=10.0, help="events/s per supplier")
    p.add_argument("--acks", default="all", choices=["all", "1", "0"])
    p.add_argument("--dir", required=True, help="where ack logs, sequence reservations and status go")
    p.add_argument("--fsync-ms", type=int, default=200)
    p.add_argument("--stall-exit-s", type=float, default=0.0,
                   help="exit (code 3) when events are in flight and none was acknowledged for this long; 0: never")
    p.add_argument("--kafka-debug", default="", help="librdkafka debug contexts (comma-separated), logged to stderr")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--flights", type=int, default=54000)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run(_args(argv)))


if __name__ == "__main__":
    main()
