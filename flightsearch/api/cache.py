"""The Redis hot cache, reached through Sentinel, with a breaker so an outage costs nothing.

Why not redis-py's SentinelConnectionPool: it is built on the plain ConnectionPool,
which raises "Too many connections" under load instead of waiting. Here a bounded
BlockingConnectionPool points at the primary that Sentinel names, and a watcher task
re-asks Sentinel: every ``refresh_s`` while healthy (catches a switch-over the client
never felt), and every ``retry_s`` after a failure (the plan's "client retries on
failure"). A connection error, a timeout or READONLY (the old primary came back as a
replica) opens the breaker: cache calls then fail fast with CacheUnavailable, so the
API serves from the store at store latency instead of paying a Redis timeout on every
request. Only the watcher probes: it closes the breaker after a PING to the primary
Sentinel names succeeds, so a dead primary is never hammered by request traffic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("flightsearch.api.cache")


class CacheUnavailable(Exception):
    """The cache could not serve this call; the caller falls back to the store."""


class SentinelCache:
    def __init__(self, sentinels: Sequence[tuple[str, int]], service: str, *,
                 max_connections: int = 64, pool_timeout_s: float = 0.05,
                 socket_timeout_s: float = 0.2, connect_timeout_s: float = 0.2,
                 retry_s: float = 0.15, refresh_s: float = 1.0,
                 on_primary: Callable[[str], None] | None = None) -> None:
        self.service = service
        self.retry_s, self.refresh_s = retry_s, refresh_s
        self._pool_kw = dict(max_connections=max_connections, timeout=pool_timeout_s,
                             socket_timeout=socket_timeout_s, socket_connect_timeout=connect_timeout_s,
                             # No hidden retries with backoff: one failure is reported at once
                             # and handled by the breaker (redis-py >= 6 retries 3x by default).
                             retry=Retry(NoBackoff(), 0))
        self._sentinel = Sentinel(list(sentinels), sentinel_kwargs={
            "socket_timeout": socket_timeout_s, "socket_connect_timeout": connect_timeout_s,
            "retry": Retry(NoBackoff(), 0)})
        self._on_primary = on_primary
        self._client: Redis | None = None
        self.primary: tuple[str, int] | None = None
        self.healthy = False
        self._wake = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._last_refresh = 0.0
        self._closing: set[asyncio.Task[None]] = set()  # keep old-pool closers referenced

    async def start(self) -> None:
        """Discover the primary once (so the first requests can use it), then watch."""
        await self._refresh()
        self._watcher = asyncio.create_task(self._watch(), name="sentinel-watch")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose(close_connection_pool=True)
        for s in self._sentinel.sentinels:
            await s.aclose(close_connection_pool=True)

    # --- data path -------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        return await self._call(lambda c: c.get(key))

    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return await self._call(lambda c: c.mget(keys))

    async def set_many(self, items: dict[str, bytes], ttl_s: int) -> None:
        """SET ... EX ttl for every item in one round trip (pipeline, no MULTI)."""
        if not items:
            return

        async def run(c: Redis) -> None:
            pipe = c.pipeline(transaction=False)
            for k, v in items.items():
                pipe.set(k, v, ex=ttl_s)
            await pipe.execute()
        await self._call(run)

    async def _call(self, op):  # type: ignore[no-untyped-def]
        client = self._client
        if client is None or not self.healthy:
            raise CacheUnavailable("breaker open")
        try:
            return await op(client)
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            if "No connection available" in str(e):
                # Pool exhausted: Redis is busy, not gone. Fall back for this request
                # but keep using it (opening the breaker would move the load to the store).
                raise CacheUnavailable("pool exhausted") from e
            self._trip(client, e)
            raise CacheUnavailable(str(e)) from e
        except ReadOnlyError as e:  # a write reached a demoted primary
            self._trip(client, e)
            raise CacheUnavailable(str(e)) from e
        except RedisError as e:
            raise CacheUnavailable(str(e)) from e

    def _trip(self, client: Redis, error: BaseException) -> None:
        if client is self._client and self.healthy:
            log.warning("redis %s failed (%s): serving from the store, re-asking Sentinel",
                        self.address(), error)
            self.healthy = False
        self._wake.set()

    # --- discovery ------------------------------------------------------------

    def address(self) -> str:
        return f"{self.primary[0]}:{self.primary[1]}" if self.primary else ""

    async def _watch(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.refresh_s if self.healthy else self.retry_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            # Rate limit: however many requests fail, Sentinel is asked at most every retry_s.
            pause = self._last_refresh + self.retry_s - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            try:
                await self._refresh()
            except Exception:  # never let the watcher die: it is the only way back
                log.exception("sentinel refresh failed")

    async def _refresh(self) -> None:
        self._last_refresh = time.monotonic()
        try:
            host, port = await self._sentinel.discover_master(self.service)
        except (RedisError, OSError) as e:
            # No Sentinel names a healthy primary (e.g. failover in progress): keep the
            # current one; requests keep falling back to the store.
            log.debug("no primary from sentinel: %s", e)
            return
        if (host, int(port)) != self.primary:
            self._swap(host, int(port))
        if not self.healthy and self._client is not None:
            try:
                await self._client.ping()
            except (RedisError, OSError):
                return
            log.warning("redis %s answers: cache back in use", self.address())
            self.healthy = True

    def _swap(self, host: str, port: int) -> None:
        old = self._client
        self.primary = (host, port)
        self._client = Redis(connection_pool=BlockingConnectionPool(host=host, port=port, **self._pool_kw))
        self.healthy = False  # until the PING in _refresh confirms it
        log.warning("redis primary for %s is now %s", self.service, self.address())
        if self._on_primary is not None:
            self._on_primary(self.address())
        if old is not None:
            # Close the old pool off the request path; in-flight calls on it just fail.
            task = asyncio.get_running_loop().create_task(old.aclose(close_connection_pool=True))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
