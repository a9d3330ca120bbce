"""Redis and Sentinel clients any target can use."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

Address = tuple[str, int]


def client(host: str, port: int, timeout_s: float = 0.5) -> redis.Redis:
    """A client that gives up fast: a dead node must cost a sampler one tick, not many."""
    # No retries inside a call: redis-py 8 retries 10 times with backoff by default, so a
    # write to a dead primary took 3 s to fail and the writer's recovery looked 6 s slower
    # than the platform's. The callers ask again on their next tick.
    return redis.Redis(host=host, port=port, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True,
                       retry=Retry(NoBackoff(), 0))


def primary_named_by(sentinel: redis.Redis, service: str) -> Address | None:
    """The primary this Sentinel names for the service (None: it names none). Raises
    redis.RedisError when the Sentinel does not answer."""
    addr = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", service)
    return (addr[0], int(addr[1])) if addr else None
