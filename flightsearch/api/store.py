"""The durable store behind the cache: Cassandra via cassandra-driver, bridged to asyncio.

The driver runs its own I/O thread (libev reactor: the C extension ships in the wheel
and works on Python 3.11; asyncore is deprecated and gone in 3.12). Each
``execute_async`` ResponseFuture is turned into an asyncio future with add_callbacks +
``loop.call_soon_threadsafe``, so the event loop never blocks on the store.

Reads are at the lab's read consistency (LOCAL_ONE by default: the search path shows prices
the cache keeps for a minute anyway) with a per-request timeout, marked idempotent, with speculative
execution: if a coordinator does not answer within ``speculative_ms`` the driver asks
another one, so one slow or partitioned node costs a little latency, not an error; idle
connections are probed every ``heartbeat_s``, so a node that stops answering (a partition drops
its packets, and the connection stays open) is marked down in seconds.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import Any, Protocol, Sequence

log = logging.getLogger("flightsearch.api.store")

FlightView = dict[str, Any]  # flight_id, carrier, number, departs, arrives (ISO strings)
PriceView = dict[str, Any]  # amount_pence, currency, seats


class StoreUnavailable(Exception):
    """The store could not answer (no host, timeout, not connected yet)."""


class Store(Protocol):
    async def flights(self, origin: str, destination: str, day: date) -> list[FlightView]: ...
    async def prices(self, flight_ids: Sequence[str]) -> dict[str, PriceView | None]: ...
    async def ping(self) -> None: ...  # raises StoreUnavailable
    async def close(self) -> None: ...


def iso(ts: datetime) -> str:
    """Timestamps are UTC (naive from the driver): ISO 8601 with a Z."""
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def flight_view(flight_id: str, carrier: str, number: int, departs: datetime, arrives: datetime) -> FlightView:
    return {"flight_id": flight_id, "carrier": carrier, "number": number,
            "departs": iso(departs), "arrives": iso(arrives)}


def price_view(amount_pence: int, currency: str, seats: int) -> PriceView:
    return {"amount_pence": amount_pence, "currency": currency, "seats": seats}


def connection_class() -> type:
    """libev when its extension loads (it does here on 3.11), else asyncore (< 3.12)."""
    try:
        from cassandra.io.libevreactor import LibevConnection
        return LibevConnection
    except ImportError:
        from cassandra.io.asyncorereactor import AsyncoreConnection
        return AsyncoreConnection


class CassandraStore:
    def __init__(self, hosts: Sequence[str], port: int, keyspace: str, *, timeout_s: float = 1.0,
                 speculative_ms: float = 200.0, protocol_version: int | None = None,
                 consistency: str = "LOCAL_ONE", heartbeat_s: float = 2.0) -> None:
        self.hosts, self.port, self.keyspace = list(hosts), port, keyspace
        self.heartbeat_s = heartbeat_s
        self.consistency = consistency
        self.timeout_s, self.speculative_ms = timeout_s, speculative_ms
        self.protocol_version = protocol_version
        self._cluster: Any = None
        self._session: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stmts: dict[str, Any] = {}

    # --- lifecycle -----------------------------------------------------------------

    def _connect_blocking(self) -> None:
        from cassandra import ConsistencyLevel
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import ConstantReconnectionPolicy, ConstantSpeculativeExecutionPolicy, DCAwareRoundRobinPolicy, TokenAwarePolicy
        from cassandra.query import tuple_factory

        # One extra attempt, late: with three coordinators to choose from, early or repeated
        # speculation multiplies the store's load exactly when it is slow.
        spec = (ConstantSpeculativeExecutionPolicy(self.speculative_ms / 1000.0, 1)
                if self.speculative_ms > 0 else None)
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
            consistency_level=getattr(ConsistencyLevel, self.consistency), request_timeout=self.timeout_s,
            row_factory=tuple_factory,  # cheapest rows: plain tuples
            speculative_execution_policy=spec)
        kw: dict[str, Any] = {}
        if self.protocol_version is not None:
            kw["protocol_version"] = self.protocol_version
        cluster = Cluster(self.hosts, port=self.port, connection_class=connection_class(),
                          execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                          # Come back fast after a chaos fault heals (default backs off to 10 min).
                          reconnection_policy=ConstantReconnectionPolicy(1.0),
                          connect_timeout=2.0, control_connection_timeout=2.0,
                          # A node cut off by a partition drops packets: its connections stay
                          # open and every request on them waits out the timeout until one
                          # heartbeat goes unanswered (30 s + 30 s by default, longer than an AZ
                          # partition drill). A connection that received nothing in a cycle is
                          # probed and, unanswered within two cycles (a stall of the shared host
                          # is not a partition), dropped with its host marked down.
                          idle_heartbeat_interval=self.heartbeat_s, idle_heartbeat_timeout=2 * self.heartbeat_s, **kw)
        try:
            session = cluster.connect(self.keyspace)
            ks = self.keyspace
            stmts = {
                "flights": session.prepare(f"SELECT flight_id, carrier, number, departs, arrives FROM {ks}."
                                           "flights_by_route WHERE origin = ? AND destination = ? AND date = ?"),
                "prices": session.prepare(f"SELECT flight_id, amount_pence, currency, seats FROM {ks}.prices WHERE flight_id IN ?"),
                "ping": session.prepare("SELECT release_version FROM system.local"),
            }
        except Exception:
            cluster.shutdown()
            raise
        for s in stmts.values():
            s.is_idempotent = True  # reads: safe to retry and to speculate
        self._cluster, self._session, self._stmts = cluster, session, stmts

    async def connect(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(None, self._connect_blocking)
        log.warning("connected to cassandra %s keyspace %s (%s)", self.hosts, self.keyspace,
                    connection_class().__name__)

    async def connect_forever(self, every_s: float = 1.0) -> None:
        """Retry until connected: the API may start before (or while) the store is down."""
        driver_log = logging.getLogger("cassandra.cluster")
        level, attempts = driver_log.level, 0
        # The driver logs a traceback per failed attempt; one line of ours every 30 s is enough.
        driver_log.setLevel(logging.CRITICAL)
        try:
            while self._session is None:
                try:
                    await self.connect()
                except Exception as e:  # NoHostAvailable, auth, missing keyspace...
                    if attempts % 30 == 0:
                        log.warning("cassandra not ready (attempt %d): %s", attempts + 1, e)
                    attempts += 1
                    await asyncio.sleep(every_s)
        finally:
            driver_log.setLevel(level)

    async def close(self) -> None:
        if self._cluster is not None:
            cluster, self._cluster, self._session = self._cluster, None, None
            await asyncio.get_running_loop().run_in_executor(None, cluster.shutdown)

    # --- queries -----------------------------------------------------------------

    def _execute(self, name: str, params: Sequence[Any]) -> "asyncio.Future[list[tuple]]":
        session, loop = self._session, self._loop
        if session is None or loop is None:
            raise StoreUnavailable("not connected to cassandra")
        fut: asyncio.Future[list[tuple]] = loop.create_future()

        def ok(rows: list[tuple]) -> None:  # runs on the driver's I/O thread
            loop.call_soon_threadsafe(_resolve, fut, rows, None)

        def failed(exc: BaseException) -> None:
            loop.call_soon_threadsafe(_resolve, fut, None, exc)

        try:
            rf = session.execute_async(self._stmts[name], params, timeout=self.timeout_s)
        except Exception as e:  # e.g. NoHostAvailable raised synchronously
            raise StoreUnavailable(repr(e)) from e
        rf.add_callbacks(ok, failed)
        return fut

    async def _rows(self, name: str, params: Sequence[Any]) -> list[tuple]:
        try:
            return await self._execute(name, params)
        except StoreUnavailable:
            raise
        except Exception as e:  # driver errors: OperationTimedOut, Unavailable, ReadTimeout...
            raise StoreUnavailable(repr(e)) from e

    async def flights(self, origin: str, destination: str, day: date) -> list[FlightView]:
        rows = await self._rows("flights", (origin, destination, day))
        return [flight_view(*r) for r in rows]

    async def prices(self, flight_ids: Sequence[str]) -> dict[str, PriceView | None]:
        # One request for a search's prices (2-4 flights): when the cache is down every
        # search comes here, and a read per flight doubled the store's and the driver's work
        # (in a Redis failover at 300 req/s the store path was the whole latency budget).
        # The coordinator fans the few keys out to their replicas.
        rows = await self._rows("prices", (list(flight_ids),))
        found = {r[0]: price_view(*r[1:]) for r in rows}
        return {fid: found.get(fid) for fid in flight_ids}

    async def ping(self) -> None:
        await self._rows("ping", ())


def _resolve(fut: "asyncio.Future[Any]", value: Any, exc: BaseException | None) -> None:
    if fut.done():  # cancelled by the caller (client went away)
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)
