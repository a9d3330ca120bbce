"""HTTP handlers of the flight-search API: /search, /health, /metrics.

A search is: the route's flights, ranked and faceted by the search index when the API
has one (Redis ``search:O:D:DATE:CARRIER``, else any node of the index; see
flightsearch.api.index), else the route listing (Redis ``route:O:D:DATE``, else the
store); then the prices of its flights (Redis MGET of ``price:<flight_id>``, misses from the store),
then one pipelined write-back of whatever came from the store. Redis failing is
degradation, never an error: the request is answered from the store and the failed
cache call is counted in gameday_cache_errors_total. Only the store or every node of the
index failing makes a search fail (503). Cache key names: flightsearch.cachekeys.

Two views of a flight's seats, told apart by where they sit in the answer:
``flights[].seats`` and ``flights[].sold_out`` are the search index's (listed from the
index only, ``source.seats: "index"``; the stream keeps them current, see
flightsearch.stream_index), and
``flights[].price.seats`` is the price record's (cache or store).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from time import perf_counter
from typing import Any

from aiohttp import web

from flightsearch.api.cache import CacheUnavailable, SentinelCache
from flightsearch.api.index import IndexUnavailable, SearchIndex
from flightsearch.api.metrics import ApiMetrics
from flightsearch.api.store import FlightView, PriceView, Store, StoreUnavailable
from flightsearch.cachekeys import price_key, route_key, search_key

log = logging.getLogger("flightsearch.api")
AIRPORT = re.compile(r"^[A-Z]{3}$")
CARRIER = re.compile(r"^[A-Z0-9]{2}$")
_dumps = json.JSONEncoder(separators=(",", ":")).encode


@dataclass
class Api:
    instance: str
    store: Store
    cache: SentinelCache
    metrics: ApiMetrics
    ttl_s: int = 60
    health_timeout_s: float = 1.0  # the store's answer to /health's ping (HAProxy waits 2 s)
    index: SearchIndex | None = None  # None: flights are listed from the store
    inflight: dict[str, "asyncio.Future[Any]"] = field(default_factory=dict)  # index queries under way, by cache key


API_KEY = web.AppKey("api", Api)


@dataclass
class Trace:
    """What one search did: whether it read the store (the plan's cache-miss path)."""

    store: bool = False


def _bad(parameter: str, message: str) -> web.Response:
    return web.Response(status=400, content_type="application/json",
                        text=_dumps({"error": message, "parameter": parameter}))


def _parse(query: Any) -> tuple[str, str, date] | web.Response:
    origin, destination, day = query.get("origin", ""), query.get("destination", ""), query.get("date", "")
    if not AIRPORT.match(origin):
        return _bad("origin", "origin must be a 3-letter IATA code, e.g. LHR")
    if not AIRPORT.match(destination):
        return _bad("destination", "destination must be a 3-letter IATA code, e.g. JFK")
    if len(day) != 10:
        return _bad("date", "date must be YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return _bad("date", "date must be YYYY-MM-DD")
    return origin, destination, parsed


async def _cache_try(api: Api, coro: Any, default: Any) -> Any:
    try:
        return await coro
    except CacheUnavailable:
        api.metrics.cache_errors.inc()
        return default


async def _route(api: Api, origin: str, destination: str, day: date, writes: dict[str, bytes], trace: Trace) -> list[FlightView]:
    key = route_key(origin, destination, day.isoformat())
    raw = await _cache_try(api, api.cache.get(key), None)
    if raw is not None:
        api.metrics.route_hits.inc()
        return json.loads(raw)
    api.metrics.route_misses.inc()
    trace.store = True
    flights = await api.store.flights(origin, destination, day)
    writes[key] = _dumps(flights).encode()  # an empty listing is cached too (no store storm)
    return flights


async def _indexed(api: Api, origin: str, destination: str, day: date, carrier: str | None, writes: dict[str, bytes]) -> tuple[list[FlightView], dict[str, Any]]:
    """The index's ranked, faceted answer, cached like a route listing (the index is asked
    on a miss only: at the plan's 85 % hit ratio, about one search in seven)."""
    key = search_key(origin, destination, day.isoformat(), carrier)
    raw = await _cache_try(api, api.cache.get(key), None)
    if raw is not None:
        api.metrics.route_hits.inc()
        cached = json.loads(raw)
        return cached["flights"], cached["facets"]
    api.metrics.route_misses.inc()
    # One index query per key at a time: concurrent misses of a popular route (a cold
    # cache, a Redis failover) wait for it instead of each asking the index.
    pending = api.inflight.get(key)
    if pending is None:
        pending = api.inflight[key] = asyncio.ensure_future(api.index.search(origin, destination, day, carrier))  # type: ignore[union-attr]
        pending.add_done_callback(lambda _: api.inflight.pop(key, None))
    flights, facets = await asyncio.shield(pending)
    writes[key] = _dumps({"flights": flights, "facets": facets}).encode()
    return flights, facets


async def _prices(api: Api, ids: list[str], writes: dict[str, bytes], trace: Trace) -> tuple[dict[str, PriceView | None], int]:
    if not ids:
        return {}, 0
    keys = [price_key(i) for i in ids]
    cached = await _cache_try(api, api.cache.mget(keys), [None] * len(ids))
    prices: dict[str, PriceView | None] = {}
    missing = []
    for fid, raw in zip(ids, cached):
        if raw is None:
            missing.append(fid)
        else:
            prices[fid] = json.loads(raw)
    hits = len(ids) - len(missing)
    if hits:
        api.metrics.price_hits.inc(hits)
    if missing:
        api.metrics.price_misses.inc(len(missing))
        trace.store = True
        fetched = await api.store.prices(missing)
        for fid, price in fetched.items():
            prices[fid] = price
            if price is not None:  # no negative caching: a price may appear any moment
                writes[price_key(fid)] = _dumps(price).encode()
    return prices, hits


_last_warning = 0.0


def _warn_throttled(message: str) -> None:
    """At most one line a second: a store outage at 1,500 req/s must not flood the log."""
    global _last_warning
    now = perf_counter()
    if now - _last_warning >= 1.0:
        _last_warning = now
        log.warning("%s (further failures this second not logged)", message)


async def search(request: web.Request) -> web.Response:
    api = request.app[API_KEY]
    started = perf_counter()
    parsed = _parse(request.rel_url.query)
    if isinstance(parsed, web.Response):
        return parsed
    carrier = request.rel_url.query.get("carrier") or None
    if carrier is not None and not CARRIER.match(carrier):
        return _bad("carrier", "carrier must be a 2-character IATA code, e.g. BA")
    trace = Trace()
    try:
        writes: dict[str, bytes] = {}
        facets = None
        if api.index is not None:
            flights, facets = await _indexed(api, *parsed, carrier, writes)
        else:
            flights = [f for f in await _route(api, *parsed, writes, trace) if carrier is None or f["carrier"] == carrier]
        prices, hits = await _prices(api, [f["flight_id"] for f in flights], writes, trace)
        if writes:
            await _cache_try(api, api.cache.set_many(writes, api.ttl_s), None)
        result: dict[str, Any] = {"flights": [{**f, "price": prices.get(f["flight_id"])} for f in flights],
                                  "source": {"listing": "index" if api.index is not None else "store",
                                             "cache_hits": hits, "cache_misses": len(flights) - hits}}
        if facets is not None:
            result["facets"] = facets
            # Where flights[].seats comes from, beside flights[].price.seats (the price record's).
            result["source"]["seats"] = "index"
        return web.Response(text=_dumps(result), content_type="application/json",
                            headers={"X-Gameday-Instance": api.instance})
    except IndexUnavailable as e:
        api.metrics.errors.inc()
        api.metrics.index_errors.inc()
        _warn_throttled(f"search failed: search index unavailable: {e}")
        return web.Response(status=503, content_type="application/json",
                            text=_dumps({"error": "search index unavailable"}))
    except StoreUnavailable as e:
        api.metrics.errors.inc()
        _warn_throttled(f"search failed: store unavailable: {e}")
        return web.Response(status=503, content_type="application/json",
                            text=_dumps({"error": "store unavailable"}))
    except Exception:  # a bug or a corrupt cache entry: count it, answer 500
        api.metrics.errors.inc()
        log.exception("search failed")
        return web.Response(status=500, content_type="application/json", text=_dumps({"error": "internal"}))
    finally:  # 400s return earlier: they say nothing about the platform
        api.metrics.requests.inc()
        took = perf_counter() - started
        api.metrics.latency.observe(took)
        if trace.store:
            api.metrics.store_latency.observe(took)


async def health(request: web.Request) -> web.Response:
    """200 when the store and (with an index) the index each answer within their budget,
    asked at once so that HAProxy's check timeout covers both; 503 naming what failed."""
    api = request.app[API_KEY]
    info: dict[str, Any] = {"instance": api.instance, "cache": "up" if api.cache.healthy else "degraded",
                            "redis_primary": api.cache.address()}
    checks = {"store": asyncio.wait_for(api.store.ping(), api.health_timeout_s)}
    if api.index is not None:  # the searches' other dependency (see SearchIndex.probe)
        checks["index"] = api.index.probe()
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    for name, result in zip(checks, results):
        if isinstance(result, (StoreUnavailable, IndexUnavailable, asyncio.TimeoutError)):
            info[name] = f"down: {type(result).__name__}: {result!s}"[:200]
        elif isinstance(result, BaseException):
            raise result
        else:
            info[name] = "up"
    ok = all(info[name] == "up" for name in checks)
    return web.json_response({"ok": ok, **info}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[API_KEY].metrics.render()
    # aiohttp rejects a charset inside content_type=, so set the header verbatim.
    return web.Response(body=body, headers={"Content-Type": content_type})


def make_app(api: Api, *, connect_store: Any = None) -> web.Application:
    """Build the app. ``connect_store`` (a coroutine function) runs in the background
    at startup, so the API listens (and answers /health 503) before the store is up."""
    app = web.Application()
    app[API_KEY] = api
    app.router.add_get("/search", search)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)

    async def lifecycle(app: web.Application) -> Any:
        await api.cache.start()
        if api.index is not None:
            await api.index.start()
        task = asyncio.create_task(connect_store()) if connect_store is not None else None
        yield
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await api.cache.close()
        await api.store.close()
        if api.index is not None:
            await api.index.close()

    app.cleanup_ctx.append(lifecycle)
    return app
