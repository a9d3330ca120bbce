"""The drill's store client: writes under the fault, read back after the restore (Jepsen's
client and final reads, for the durable store).

While the drill runs, a writer updates the price of one flight after another (each flight
once, each value unique in the run) at the lab's write consistency, and records every write
acknowledged or failed (`StoreWrite`). After the rollback restored the node, every
acknowledged write is read back through each store node in turn as the coordinator, at the
lab's read consistency (`StoreReadBack`): the plan's "synchronous replication" and
"automatic failover" mean none of them is lost or hidden from any node.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from gameday.clients.cassandra import cluster, read_prices
from gameday.history import Recorder, StoreReadBack, StoreWrite

# Values the writer gives, far above any seeded fare, so a read can only match its own write.
FIRST_VALUE = 9_000_000
TIMEOUT_S = 2.0
# An idempotent write the first coordinator has not acknowledged by then goes to the next as
# well, as the platform's clients do: in an AZ partition the cut-off node still takes
# connections but cannot reach a quorum, and every write it coordinated timed out (139 of
# 1,842 in the fault window) while two reachable nodes could have taken it.
SPECULATE_MS = 500.0


# The writer's rows expire a day later: they are the drill's, not the platform's.
KEY_TTL_S = 86_400


def run_keys(started: float, n: int) -> list[str]:
    """Price-table keys only this run writes. Writing the timetable's own flights (as before)
    let the stream's applier overwrite them on a full lab (951 of 4,224 "unreadable" with no
    fault at all), and served the drill's test prices to searches."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
    return [f"gameday-write-{stamp}-{i:06d}" for i in range(n)]


class StoreWriter:
    """Writes `rate` price updates a second on its own thread until stopped; each write's
    outcome is recorded from the driver's callback, so a slow write never delays the next."""

    def __init__(self, recorder: Recorder, hosts: Sequence[str], port: int, keyspace: str, consistency: str,
                 flights: Sequence[str], rate: float) -> None:  # fmt: skip
        self.recorder, self.hosts, self.port, self.keyspace = recorder, list(hosts), port, keyspace
        self.consistency, self.rate = consistency, rate
        self.flights = list(flights)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="store-writer", daemon=True)
        self._cluster: Any = None
        self.name = "store-writer"

    def start(self) -> "StoreWriter":
        self._thread.start()
        return self

    def _loop(self) -> None:
        from cassandra import ConsistencyLevel

        try:
            self._cluster = cluster(self.hosts, self.port, speculate_ms=SPECULATE_MS)
            session = self._cluster.connect(self.keyspace)
            stmt = session.prepare("INSERT INTO prices (flight_id, amount_pence, currency, seats, updated_at) VALUES (?, ?, 'GBP', ?, ?) "
                                   f"USING TIMESTAMP ? AND TTL {KEY_TTL_S}")  # fmt: skip
        except Exception as exc:  # no write was made: the checkers find none and say unknown
            self.recorder.add(StoreWrite(t=time.time(), key="", value=0, ok=False, latency_ms=0.0, consistency=self.consistency, error=f"connect: {exc}"[:300]))
            return
        stmt.consistency_level = getattr(ConsistencyLevel, self.consistency)
        stmt.is_idempotent = True  # same value, same write time: the driver may retry it elsewhere
        next_at = time.monotonic()
        for seq, flight in enumerate(self.flights):
            if self._stop.wait(max(0.0, next_at - time.monotonic())):
                break
            next_at += 1.0 / self.rate
            now = time.time()
            value = FIRST_VALUE + seq
            params = (flight, value, seq % 300, datetime.fromtimestamp(now, timezone.utc), int(now * 1_000_000))
            try:
                future = session.execute_async(stmt, params, timeout=TIMEOUT_S)
            except Exception as exc:  # NoHostAvailable raised at once
                self._record(flight, value, now, exc)
                continue
            future.add_callbacks(*self._callbacks(flight, value, now))

    def _callbacks(self, flight: str, value: int, began: float) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
        """(on success, on error), of which only the first called records: with a speculative
        execution the driver calls back twice, the speculative attempt's success and then the
        first attempt's late error (137 writes of an AZ partition drill counted both ways)."""
        lock, done = threading.Lock(), [False]

        def first(ok: bool) -> Callable[[Any], None]:
            def call(result: Any) -> None:  # on the driver's I/O thread
                with lock:
                    if done[0]:
                        return
                    done[0] = True
                self._record(flight, value, began, None if ok else result)

            return call

        return first(True), first(False)

    def _record(self, flight: str, value: int, began: float, exc: BaseException | None) -> None:
        error = "" if exc is None else f"{type(exc).__name__}: {exc}"[:300]
        self.recorder.add(StoreWrite(t=began, key=flight, value=value, ok=exc is None, latency_ms=round((time.time() - began) * 1000, 2), consistency=self.consistency, error=error))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        time.sleep(TIMEOUT_S)  # the last writes' callbacks
        if self._cluster is not None:
            self._cluster.shutdown()


CONNECT_ATTEMPTS = 3


def read_back(nodes: dict[str, tuple[str, int]], keyspace: str, strong: str, written: dict[str, int], *, weak: str = "",
              settle_s: float = 60.0, concurrency: int = 32) -> list[StoreReadBack]:  # fmt: skip
    """Every acknowledged write (key -> value) read through each node as the coordinator at
    the `strong` level (judged); keys not showing their value are read again every second
    until `settle_s` after the judged pass began (one budget for all nodes: a write lost
    for good would otherwise cost it once per node). With `weak`, first one pass at that
    level through every node (not judged): what a search reading below a quorum would have
    seen before any repair."""
    passes = ([(weak, False, 0.0)] if weak and weak != strong else []) + [(strong, True, settle_s)]
    out = []
    for consistency, judged, settle in passes:
        settled_by = time.monotonic() + settle
        for name, (host, port) in nodes.items():
            for attempt in range(CONNECT_ATTEMPTS):  # a busy host's node may time out one connect
                c = cluster([host], port, only=host)
                try:
                    left = max(0.0, settled_by - time.monotonic())
                    out.append(_read_node(c.connect(keyspace), name, consistency, written, left, concurrency, judged))
                    break
                except Exception as exc:  # the node could not be asked: not a measurement
                    if attempt == CONNECT_ATTEMPTS - 1:
                        out.append(StoreReadBack(t=time.time(), node=name, consistency=consistency, checked=0, error=f"{type(exc).__name__}: {exc}"[:300], judged=judged))
                finally:
                    c.shutdown()
    return out


def _read_node(session: Any, name: str, consistency: str, written: dict[str, int], settle_s: float, concurrency: int, judged: bool) -> StoreReadBack:
    began = time.monotonic()
    keys, first = sorted(written), -1
    while True:
        results = read_prices(session, consistency, keys, concurrency)
        failed = [k for k, (ok, _) in zip(keys, results) if not ok]
        missing = [k for k, (ok, value) in zip(keys, results) if ok and value != written[k]]
        first = len(missing) + len(failed) if first < 0 else first
        keys = missing + failed
        waited = time.monotonic() - began
        if not keys or waited >= settle_s:
            settled = round(waited, 1) if not keys else -1.0
            return StoreReadBack(t=time.time(), node=name, consistency=consistency, checked=len(written), missing=tuple(missing),
                                 failed=tuple(failed), missing_first=first, settled_after_s=settled, judged=judged)  # fmt: skip
        time.sleep(1.0)

def acknowledged(writes: Sequence[StoreWrite]) -> dict[str, int]:
    """key -> value of every acknowledged write (one per key: the writer never repeats a key)."""
    return {w.key: w.value for w in writes if w.ok}


# The SLOs judged from the writer's writes and their read-back: a drill naming one runs them.
SLOS = ("store.write_availability", "store.acknowledged_writes_readable")


def wanted(slos: Sequence[str]) -> bool:
    return bool(set(SLOS) & set(slos))


def writer(recorder: Recorder, target: Any, profile: Any) -> StoreWriter:
    from flightsearch.timetable import from_settings

    hosts = [host for host, _ in target.store_nodes().values()]
    port = next(iter(target.store_nodes().values()))[1]
    flights = run_keys(time.time(), len(from_settings(profile.get("timetable")).flights))
    return StoreWriter(recorder, hosts, port, profile.get("cassandra.keyspace"), profile.get("cassandra.write_consistency"),
                       flights, profile.get("load.store_writes_per_s"))  # fmt: skip


def read_back_run(history_path: Any, target: Any, profile: Any, say: Callable[[str], None]) -> list[StoreReadBack]:
    """Read back every write the run's history says was acknowledged, through every node."""
    from gameday.history import History

    written = acknowledged(History.read(history_path).of(StoreWrite))
    strong, weak = profile.get("cassandra.strong_consistency"), profile.get("cassandra.read_consistency")
    say(f"reading back {len(written)} acknowledged store writes through each store node at {weak}, then at {strong}")
    began = time.monotonic()
    out = read_back(target.store_nodes(), profile.get("cassandra.keyspace"), strong, written, weak=weak)
    say("read back in {:.1f} s: {}".format(time.monotonic() - began, "; ".join(
        f"{r.node} at {r.consistency} {r.error or f'{r.checked - len(r.missing) - len(r.failed)}/{r.checked} found'}" for r in out)))
    return out
