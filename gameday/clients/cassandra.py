"""Cassandra as the harness asks it: one node alone (the lab's readiness, the probes), or the
cluster (the store drill's writer and read-back). The driver is imported lazily: config and
argv generation must not need it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PRICE = "SELECT amount_pence FROM prices WHERE flight_id = ?"


def cluster(hosts: Sequence[str], port: int, *, only: str | None = None, timeout_s: float = 2.0, speculate_ms: float = 0.0) -> Any:
    """A driver Cluster over `hosts`; with `only`, every request goes to that node (its
    coordinator), never to another. Protocol v5 (Cassandra 5.0's newest) skips noisy version
    negotiation; reconnection every second comes back fast after a fault heals. With
    `speculate_ms`, an idempotent statement not answered by then is sent once more, to the
    next coordinator in the plan (as the API does for its reads)."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import ConstantReconnectionPolicy, ConstantSpeculativeExecutionPolicy, DCAwareRoundRobinPolicy, TokenAwarePolicy, WhiteListRoundRobinPolicy

    from flightsearch.api.store import connection_class

    policy = WhiteListRoundRobinPolicy([only]) if only else TokenAwarePolicy(DCAwareRoundRobinPolicy())
    kw: dict[str, Any] = {"load_balancing_policy": policy}
    if speculate_ms > 0:
        spec = ConstantSpeculativeExecutionPolicy(speculate_ms / 1000.0, 1)
        kw = {"execution_profiles": {EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=policy, speculative_execution_policy=spec)}}
    return Cluster(list(hosts), port=port, protocol_version=5, connection_class=connection_class(), reconnection_policy=ConstantReconnectionPolicy(1.0),
                   connect_timeout=timeout_s, control_connection_timeout=timeout_s, **kw)  # fmt: skip


def ping(host: str, port: int, timeout_s: float = 2.0) -> None:
    """One query coordinated by this node; raises the driver's error when it does not answer."""
    c = cluster([host], port, only=host, timeout_s=timeout_s)
    try:
        c.connect().execute("SELECT release_version FROM system.local", timeout=max(timeout_s, 5.0))
    finally:
        c.shutdown()


def answers(host: str, port: int, timeout_s: float = 2.0) -> bool:
    try:
        ping(host, port, timeout_s)
    except Exception:  # NoHostAvailable, OperationTimedOut, ...: all mean "not now"
        return False
    return True


def read_prices(session: Any, consistency: str, flight_ids: Sequence[str], concurrency: int = 32) -> list[tuple[bool, int | None]]:
    """(read succeeded, amount_pence or None when absent) per flight, at `consistency`."""
    from cassandra import ConsistencyLevel
    from cassandra.concurrent import execute_concurrent_with_args

    stmt = session.prepare(PRICE)
    stmt.consistency_level = getattr(ConsistencyLevel, consistency)
    results = execute_concurrent_with_args(session, stmt, [(k,) for k in flight_ids], concurrency=concurrency, raise_on_first_error=False)
    return [(ok, _value(rows) if ok else None) for ok, rows in results]


def _value(rows: Any) -> int | None:
    row = rows.one() if hasattr(rows, "one") else (rows[0] if rows else None)
    return None if row is None else row[0]


def read_all(nodes: list[tuple[str, int]], keyspace: str, consistency: str, flight_ids: list[str], timeout_s: float = 2.0) -> bool:
    """Whether every one of these prices reads at `consistency` (any live node coordinating)."""
    c = cluster([h for h, _ in nodes], nodes[0][1], timeout_s=timeout_s)
    try:
        session = c.connect(keyspace)
        session.default_timeout = timeout_s
        return all(ok for ok, _ in read_prices(session, consistency, flight_ids, concurrency=8))
    except Exception:  # no node answered at all
        return False
    finally:
        c.shutdown()
