"""python -m flightsearch.api: run one flight-search API instance.

    python -m flightsearch.api --listen 127.0.0.1:8080 --instance api-a \\
        --sentinels 127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381 --service lab-cache \\
        --cassandra 127.0.0.1 --cassandra-port 9042 --keyspace flights --ttl 60

SIGTERM/SIGINT shut down gracefully (aiohttp's run_app): stop accepting, let in-flight
requests finish (up to --shutdown-timeout), then close Redis pools and the driver.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

import uvloop
from aiohttp import web

from flightsearch.api.app import Api, make_app
from flightsearch.api.cache import SentinelCache
from flightsearch.api.index import SearchIndex
from flightsearch.api.metrics import ApiMetrics
from flightsearch.api.store import CassandraStore


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _hostports(text: str) -> list[tuple[str, int]]:
    return [_hostport(t.strip()) for t in text.split(",") if t.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m flightsearch.api", description="Flight-search API instance.")
    p.add_argument("--listen", type=_hostport, default=("127.0.0.1", 8080), help="HOST:PORT")
    p.add_argument("--instance", default="api", help="name reported in /health, /metrics, X-Gameday-Instance")
    p.add_argument("--sentinels", type=_hostports, required=True, help="HOST:PORT[,HOST:PORT...]")
    p.add_argument("--service", default="lab-cache", help="Sentinel master name")
    p.add_argument("--cassandra", required=True, help="HOST[,HOST...] contact points")
    p.add_argument("--cassandra-port", type=int, default=9042)
    p.add_argument("--keyspace", default="flights")
    p.add_argument("--search", default="", help="URL[,URL...] of the search index's nodes (none: list flights from the store)")
    p.add_argument("--search-index", default="flights")
    p.add_argument("--search-timeout", type=float, default=1.0, help="time budget of one index search over the nodes it asks, s")
    p.add_argument("--ttl", type=int, default=60, help="cache TTL in seconds")
    p.add_argument("--store-timeout", type=float, default=1.0, help="Cassandra request timeout, s")
    p.add_argument("--consistency", default="LOCAL_ONE", help="Cassandra read consistency level (the driver's name)")
    p.add_argument("--speculative-ms", type=float, default=200.0,
                   help="ask a second replica after this many ms (0: off)")
    p.add_argument("--store-heartbeat", type=float, default=2.0,
                   help="probe each idle store connection this often, s; one not answering within twice that is dropped")
    p.add_argument("--redis-timeout", type=float, default=0.2, help="Redis socket/connect timeout, s")
    p.add_argument("--redis-pool", type=int, default=64, help="max Redis connections")
    p.add_argument("--shutdown-timeout", type=float, default=5.0)
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    metrics = ApiMetrics(a.instance)
    cache = SentinelCache(a.sentinels, a.service, max_connections=a.redis_pool,
                          socket_timeout_s=a.redis_timeout, connect_timeout_s=a.redis_timeout,
                          on_primary=metrics.set_primary)
    store = CassandraStore(a.cassandra.split(","), a.cassandra_port, a.keyspace,
                           timeout_s=a.store_timeout, speculative_ms=a.speculative_ms, consistency=a.consistency,
                           heartbeat_s=a.store_heartbeat)
    index = SearchIndex([u for u in a.search.split(",") if u], a.search_index, timeout_s=a.search_timeout) if a.search else None
    app = make_app(Api(a.instance, store, cache, metrics, ttl_s=a.ttl, index=index), connect_store=store.connect_forever)
    host, port = a.listen
    # uvloop: the same asyncio API with a libuv loop, markedly less CPU per request.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    # access_log=None: a log line per request would cost more CPU than the search itself.
    web.run_app(app, host=host, port=port, access_log=None, shutdown_timeout=a.shutdown_timeout,
                handle_signals=True, print=None)


if __name__ == "__main__":
    main()
