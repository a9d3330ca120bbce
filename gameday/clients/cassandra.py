"""A Cassandra node asked alone: does it coordinate a query (the lab's readiness, the probes)."""

from __future__ import annotations


def ping(host: str, port: int, timeout_s: float = 2.0) -> None:
    """One query coordinated by this node; raises the driver's error when it does not answer."""
    # Imported lazily: config/argv generation must not need the driver.
    from cassandra.cluster import Cluster
    from cassandra.policies import WhiteListRoundRobinPolicy

    # Pin the policy to this host so the query never goes to another node, and pin protocol
    # v5 (Cassandra 5.0's newest) to skip noisy version negotiation.
    cluster = Cluster([host], port=port, protocol_version=5, connect_timeout=timeout_s, control_connection_timeout=timeout_s,
                      load_balancing_policy=WhiteListRoundRobinPolicy([host]))  # fmt: skip
    try:
        cluster.connect().execute("SELECT release_version FROM system.local", timeout=max(timeout_s, 5.0))
    finally:
        cluster.shutdown()


def answers(host: str, port: int, timeout_s: float = 2.0) -> bool:
    try:
        ping(host, port, timeout_s)
    except Exception:  # NoHostAvailable, OperationTimedOut, ...: all mean "not now"
        return False
    return True


def read_all(nodes: list[tuple[str, int]], keyspace: str, consistency: str, flight_ids: list[str], timeout_s: float = 2.0) -> bool:
    """Whether every one of these prices reads at `consistency` (any live node coordinating)."""
    from cassandra import ConsistencyLevel
    from cassandra.cluster import Cluster
    from cassandra.concurrent import execute_concurrent_with_args

    cluster = Cluster([h for h, _ in nodes], port=nodes[0][1], connect_timeout=timeout_s, control_connection_timeout=timeout_s)
    try:
        session = cluster.connect(keyspace)
        stmt = session.prepare("SELECT amount_pence FROM prices WHERE flight_id = ?")
        stmt.consistency_level = getattr(ConsistencyLevel, consistency)
        session.default_timeout = timeout_s
        results = execute_concurrent_with_args(session, stmt, [(k,) for k in flight_ids], concurrency=8, raise_on_first_error=False)
        return all(ok for ok, _ in results)
    except Exception:  # no node answered at all
        return False
    finally:
        cluster.shutdown()
