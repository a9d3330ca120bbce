"""Loads the generated timetable into the lab's store (once per lab up), then lets the store
settle and warms its read path, so the first drill on a fresh lab measures the platform and
not a JVM still compacting the seed and compiling its read path."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from flightsearch import timetable
from gameday.errors import LabError
from gameday.lab.network import DR_AZ
from gameday.lab.tiers import LabContext
from gameday.lab.tiers.cassandra import store_addresses


@dataclass(frozen=True)
class Seeded:
    flights: int
    seed_s: float
    compaction_wait_s: float
    compactions_settled: bool
    warm_reads: int
    warm_s: float


def profile_timetable(p: Any) -> timetable.Timetable:
    """The timetable the profile's `timetable` keys generate (the one the lab seeds)."""
    return timetable.from_settings(p.get("timetable"))


def seed_timetable(ctx: LabContext) -> Seeded:
    from cassandra.cluster import Cluster

    p = ctx.profile
    tt = profile_timetable(p)
    keyspace = p.get("cassandra.keyspace")
    nodes = store_addresses(ctx) + ([ctx.topology.address(DR_AZ)] if "dr" in ctx.tiers else [])
    wait_ring_whole(nodes, p.get("cassandra.native_port"))
    cluster = Cluster(store_addresses(ctx), port=p.get("cassandra.native_port"))
    try:
        session = cluster.connect()
        # With the DR region, its datacenter holds copies too: written with the rest at ALL,
        # then kept current asynchronously (writes at LOCAL_QUORUM wait for the primary's).
        # One copy: the region has one store node.
        others = {p.get("dr.datacenter"): 1} if "dr" in ctx.tiers else None
        seed_s = timetable.seed_store(session, tt, keyspace, p.get("cassandra.replication_factor"), datacenter=p.get("cassandra.datacenter"),
                                      other_datacenters=others)
        # Warm first: the compactions the seed's flushes queue start a little later.
        reads, warm_s = warm_reads(session, tt, keyspace, p.get("cassandra.warmup_s"))
        waited, settled = wait_compactions_done(session, timeout_s=120)
    except Exception as exc:  # the driver's errors carry no common base worth naming
        raise LabError(f"seeding the store failed: {type(exc).__name__}: {exc}") from None
    finally:
        cluster.shutdown()
    return Seeded(len(tt.flights), seed_s, waited, settled, reads, warm_s)


def peers_seen(host: str, port: int) -> set[str]:
    """The nodes this node's gossip has told it of (its system.peers)."""
    from gameday.clients.cassandra import cluster

    c = cluster([host], port, only=host, timeout_s=2.0)
    try:
        return {str(row.peer) for row in c.connect().execute("SELECT peer FROM system.peers", timeout=5.0)}
    finally:
        c.shutdown()


def wait_ring_whole(nodes: list[str], port: int, timeout_s: float = 120.0) -> float:
    """Until every node lists every other as its peer; seconds waited. A node answers CQL
    before gossip has introduced it to the others, and the seed's schema agreement is judged
    among the peers the driver's control node knows: with one it did not know yet, the keyspace
    was created on one side and the next statement met a node without it ("Keyspace 'flights'
    doesn't exist", a CI run on a starved host, 2026-12-01)."""
    began, last = time.monotonic(), "not asked yet"
    while time.monotonic() - began < timeout_s:
        try:
            missing = {n: set(nodes) - {n} - peers_seen(n, port) for n in nodes}
            if not any(missing.values()):
                return time.monotonic() - began
            last = "; ".join(f"{n} does not know {', '.join(sorted(m))}" for n, m in missing.items() if m)
        except Exception as exc:  # the driver's errors: not yet
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1.0)
    raise LabError(f"the store's nodes did not all know each other after {timeout_s:.0f} s: {last}")


def wait_compactions_done(session: Any, timeout_s: float, quiet_s: float = 2.0) -> tuple[float, bool]:
    """Wait until no compaction has run or queued for `quiet_s`: (seconds waited, settled).

    Seeding flushes many small SSTables and the compactions that merge them ran into the
    first drill (a single-node store at up to a core of CPU while the API was measured).
    Cassandra's virtual tables show running compactions and the compaction pool's queue.
    """
    began = time.monotonic()
    quiet_since: float | None = None
    while (now := time.monotonic()) - began < timeout_s:
        running = list(session.execute("SELECT task_id FROM system_views.sstable_tasks"))
        pool = session.execute("SELECT active_tasks, pending_tasks FROM system_views.thread_pools"
                               " WHERE name = 'CompactionExecutor'").one()
        busy = bool(running) or (pool is not None and (pool.active_tasks or pool.pending_tasks))
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_s:
            return now - began, True
        time.sleep(0.5)
    return time.monotonic() - began, False  # said at lab up; the lab still works


def warm_reads(session: Any, tt: timetable.Timetable, keyspace: str, seconds: float,
               *, concurrency: int = 32, batch: int = 2000) -> tuple[int, float]:
    """Read routes and prices, as the API does on a cache miss, for about `seconds`.

    A fresh JVM serves its first thousands of reads interpreted; the drill's own warm-up
    (10 s of load) did not cover that. Returns (reads, seconds taken)."""
    from cassandra.concurrent import execute_concurrent_with_args

    if seconds <= 0:
        return 0, 0.0
    route = session.prepare(f"SELECT flight_id FROM {keyspace}.flights_by_route"
                            " WHERE origin = ? AND destination = ? AND date = ?")
    price = session.prepare(f"SELECT amount_pence FROM {keyspace}.prices WHERE flight_id = ?")
    flights = list(tt.flights)
    random.Random(0).shuffle(flights)  # no hot partition: spread like the load
    began, reads = time.monotonic(), 0
    for start in range(0, len(flights), batch):
        if time.monotonic() - began >= seconds:
            break
        chunk = flights[start:start + batch]
        execute_concurrent_with_args(session, route, [(f.origin, f.destination, f.date) for f in chunk],
                                     concurrency=concurrency, raise_on_first_error=True)
        execute_concurrent_with_args(session, price, [(f.flight_id,) for f in chunk],
                                     concurrency=concurrency, raise_on_first_error=True)
        reads += 2 * len(chunk)
    return reads, time.monotonic() - began
