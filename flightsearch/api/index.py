"""The search index as the API asks it: one query per search, with ranking and facets.

Any node of the cluster answers any search (it fans out to the shards' copies), so the
client tries the nodes in turn within one time budget per search (a slow index is not
asked three times over): a node that refused or timed out is asked last for a few seconds.
Only every node failing, or the budget running out, makes the search fail.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from datetime import date
from time import monotonic
from typing import Any, Sequence

import aiohttp

from flightsearch.api.store import FlightView

# Departure-time facet: the buckets a traveller filters on.
DAYPARTS = (("night", None, 6), ("morning", 6, 12), ("afternoon", 12, 18), ("evening", 18, None))
# `seats` and `sold_out` are the index's view of availability (the stream keeps it current);
# the price record has its own `seats` (flights[].price.seats), read from cache or store.
FLIGHT_FIELDS = ("flight_id", "carrier", "number", "departs", "arrives", "duration_min", "stops", "seats", "sold_out")


# Counts no document and ranks nothing, but reaches a copy of every shard.
PROBE: dict[str, Any] = {"size": 0, "track_total_hits": False, "query": {"match_all": {}}}


class IndexUnavailable(Exception):
    """No node of the search index answered."""


def query(origin: str, destination: str, day: date, carrier: str | None = None, size: int = 50) -> dict[str, Any]:
    """Flights of the route and day, ranked shorter journeys first, then earlier departures,
    with carrier and departure-time facets. A carrier filter applies after the facets are
    counted (post_filter), so the facets still show the other carriers. The ranking is a
    sort on stored fields, not a scoring function: on this lab's 2 cores a function_score
    query and exact hit counts halved what the index could answer (85 against 164 req/s)."""
    ranges = [{"key": key, **({"from": lo} if lo is not None else {}), **({"to": hi} if hi is not None else {})} for key, lo, hi in DAYPARTS]
    body: dict[str, Any] = {
        "size": size,
        "_source": list(FLIGHT_FIELDS),
        "query": {"bool": {"filter": [{"term": {"origin": origin}}, {"term": {"destination": destination}}, {"term": {"date": day.isoformat()}}]}},
        "sort": [{"duration_min": "asc"}, {"departs": "asc"}],
        "aggs": {"carrier": {"terms": {"field": "carrier", "size": 20}}, "departure": {"range": {"field": "departs_hour", "ranges": ranges}}},
        "track_total_hits": False,
    }
    if carrier:
        body["post_filter"] = {"term": {"carrier": carrier}}
    return body


def parse(answer: dict[str, Any]) -> tuple[list[FlightView], dict[str, list[dict[str, Any]]]]:
    flights: list[FlightView] = [{k: hit["_source"].get(k) for k in FLIGHT_FIELDS} for hit in answer["hits"]["hits"]]  # type: ignore[misc]
    aggs = answer.get("aggregations", {})
    facets = {
        "carrier": [{"value": b["key"], "count": b["doc_count"]} for b in aggs.get("carrier", {}).get("buckets", [])],
        "departure": [{"value": b["key"], "count": b["doc_count"]} for b in aggs.get("departure", {}).get("buckets", [])],
    }
    return flights, facets


@dataclass
class SearchIndex:
    urls: Sequence[str]
    index: str = "flights"
    timeout_s: float = 1.0  # one search, over every node asked: a retry never adds time
    skip_s: float = 2.0  # how long a node that failed is asked last
    # Searches this instance has in the index at once. Beyond its capacity the index answers
    # everything late, every answer is given up on, nothing reaches the cache and the miss
    # rate never falls (a cold start at 300 req/s stayed 99 % failed); a bulkhead keeps it
    # at capacity, the rest fail fast, and the cache warms.
    max_concurrent: int = 4
    _slots: asyncio.Semaphore | None = None
    _failed_at: dict[str, float] = field(default_factory=dict)
    _turn: Any = field(default=None)
    _session: aiohttp.ClientSession | None = None

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(range(len(self.urls)))

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self.max_concurrent)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                                              connector=aiohttp.TCPConnector(limit=64))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def order(self) -> list[str]:
        """Round robin, with nodes that failed lately last."""
        start = next(self._turn)
        rotated = [self.urls[(start + i) % len(self.urls)] for i in range(len(self.urls))]
        now = monotonic()
        return sorted(rotated, key=lambda u: now - self._failed_at.get(u, -1e9) < self.skip_s)

    async def search(self, origin: str, destination: str, day: date, carrier: str | None = None) -> tuple[list[FlightView], dict[str, list[dict[str, Any]]]]:
        assert self._session is not None and self._slots is not None, "start() first"
        deadline = monotonic() + self.timeout_s
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout_s)
        except asyncio.TimeoutError:
            raise IndexUnavailable(f"{self.max_concurrent} searches already waiting on the index for {self.timeout_s:g} s") from None
        try:
            return await self._search(query(origin, destination, day, carrier), deadline)
        finally:
            self._slots.release()

    async def probe(self) -> None:
        """Raise IndexUnavailable unless some node this instance reaches answers a search over
        every shard within the time budget: /health's view of the index. An instance cut off
        from the nodes holding copies of some shards (its AZ partitioned) answers searches
        503, and a health check that only asked the store kept it in rotation, a third of
        all searches failing. Takes no bulkhead slot: a busy instance is not a broken one."""
        assert self._session is not None, "start() first"
        await self._search(PROBE, monotonic() + self.timeout_s)

    @staticmethod
    def params(body: str) -> dict[str, str]:
        # request_cache: a shard caches a query's whole answer (hits too, which it does not
        # by default) until its next refresh that changed something: the three API
        # instances' caches each miss the same popular routes, and each miss then costs
        # the index a lookup rather than a query (137 against 231 searches/s, one client).
        return {"source": body, "source_content_type": "application/json", "request_cache": "true"}

    async def _search(self, q: dict[str, Any], deadline: float) -> tuple[list[FlightView], dict[str, list[dict[str, Any]]]]:
        assert self._session is not None
        body = json.dumps(q)
        errors = []
        for url in self.order():
            left = deadline - monotonic()
            if left <= 0.05:
                errors.append("no time left for another node")
                break
            try:
                # The query rides in the URL (`source`), not a request body: a body went out
                # as a second small segment that waited on the server's delayed ACK, 40 ms a
                # search (69 ms p50 against 5 ms).
                async with self._session.get(f"{url}/{self.index}/_search", params=self.params(body),
                                             timeout=aiohttp.ClientTimeout(total=left)) as resp:
                    if resp.status >= 500:  # e.g. all copies of a shard unavailable
                        raise IndexUnavailable(f"HTTP {resp.status}: {(await resp.text())[:200]}")
                    resp.raise_for_status()
                    answer = await resp.json()
                if answer.get("_shards", {}).get("failed"):
                    raise IndexUnavailable(f"{answer['_shards']['failed']} shard(s) failed")
                self._failed_at.pop(url, None)
                return parse(answer)
            except (aiohttp.ClientError, asyncio.TimeoutError, IndexUnavailable, ValueError) as exc:
                self._failed_at[url] = monotonic()
                errors.append(f"{url}: {type(exc).__name__}: {exc}"[:200])
        raise IndexUnavailable("; ".join(errors))
