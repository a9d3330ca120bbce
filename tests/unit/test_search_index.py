"""The API's search-index client: the query it sends, what it reads back, and failing over
between nodes, against FAKE index nodes (small aiohttp servers on loopback). The real
3-node OpenSearch cluster is exercised in tests/lab/test_serving_lab.py."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date

from aiohttp import web
from aiohttp.test_utils import TestServer

from flightsearch.api.index import IndexUnavailable, SearchIndex, parse, query

ANSWER = {
    "_shards": {"total": 3, "successful": 3, "failed": 0},
    "hits": {"hits": [{"_source": {"flight_id": "BA1-20261201", "carrier": "BA", "number": 1, "departs": "2026-12-01T07:00:00Z",
                                   "arrives": "2026-12-01T08:10:00Z", "duration_min": 70, "stops": 0}}]},
    "aggregations": {"carrier": {"buckets": [{"key": "BA", "doc_count": 3}, {"key": "U2", "doc_count": 1}]},
                     "departure": {"buckets": [{"key": "night", "doc_count": 0}, {"key": "morning", "doc_count": 4}]}},
}  # fmt: skip


def test_the_query_filters_the_route_ranks_and_facets_with_the_carrier_filter_after_the_facets():
    q = query("LHR", "JFK", date(2026, 12, 1), carrier="BA")
    filters = q["query"]["bool"]["filter"]
    assert {"term": {"date": "2026-12-01"}} in filters and {"term": {"origin": "LHR"}} in filters
    assert q["post_filter"] == {"term": {"carrier": "BA"}}  # facets still count every carrier
    assert set(q["aggs"]) == {"carrier", "departure"} and q["sort"][0] == {"duration_min": "asc"}
    assert "price" not in str(q["_source"])  # no fares in the index
    assert "post_filter" not in query("LHR", "JFK", date(2026, 12, 1))


def test_an_answer_becomes_flights_and_facets():
    flights, facets = parse(ANSWER)
    assert flights[0]["flight_id"] == "BA1-20261201" and flights[0]["duration_min"] == 70
    assert facets["carrier"] == [{"value": "BA", "count": 3}, {"value": "U2", "count": 1}]
    assert facets["departure"][1] == {"value": "morning", "count": 4}


class Node(TestServer):
    hits = 0

    def url(self) -> str:
        return str(self.make_url("")).rstrip("/")


async def _node(status: int, body: dict | None = None, delay_s: float = 0.0) -> Node:
    async def handle(request: web.Request) -> web.Response:
        server.hits += 1
        await asyncio.sleep(delay_s)
        return web.json_response(body or {"error": "down"}, status=status)

    app = web.Application()
    app.router.add_route("*", "/flights/_search", handle)
    server = Node(app, host="127.0.0.1")
    await server.start_server()
    return server


def test_fake_nodes_a_failing_node_is_skipped_and_asked_last():
    async def scenario() -> None:
        bad, good = await _node(503), await _node(200, ANSWER)
        index = SearchIndex([bad.url(), good.url()], timeout_s=1.0)
        await index.start()
        try:
            for _ in range(6):
                flights, _facets = await index.search("LHR", "JFK", date(2026, 12, 1))
                assert flights[0]["carrier"] == "BA"
            assert bad.hits == 1 and good.hits == 6  # tried once, then asked last while within its skip time
        finally:
            await index.close()
            for s in (bad, good):
                await s.close()

    asyncio.run(scenario())


def test_fake_nodes_one_time_budget_per_search_however_many_nodes_are_slow():
    async def scenario() -> None:
        nodes = [await _node(200, ANSWER, delay_s=2) for _ in range(3)]
        index = SearchIndex([n.url() for n in nodes], timeout_s=0.3)
        await index.start()
        began = time.monotonic()
        try:
            try:
                await index.search("LHR", "JFK", date(2026, 12, 1))
            except IndexUnavailable:
                pass
            else:
                raise AssertionError("every node timed out: the search must fail")
            assert time.monotonic() - began < 0.6 and sum(n.hits for n in nodes) == 1  # a slow index is not asked three times over
        finally:
            await index.close()
            for n in nodes:
                await n.close()

    asyncio.run(scenario())


def test_fake_nodes_every_node_failing_is_an_unavailable_index_and_partial_results_are_failures():
    async def scenario() -> None:
        partial = {**ANSWER, "_shards": {"total": 3, "successful": 2, "failed": 1}}
        a, b = await _node(503), await _node(200, partial)
        index = SearchIndex([a.url(), b.url()], timeout_s=0.3)
        await index.start()
        try:
            try:
                await index.search("LHR", "JFK", date(2026, 12, 1))
            except IndexUnavailable as exc:
                assert "HTTP 503" in str(exc) and "1 shard(s) failed" in str(exc)
            else:
                raise AssertionError("a search with a failed shard must fail")
        finally:
            await index.close()
            await a.close()
            await b.close()

    asyncio.run(scenario())


def test_fake_nodes_the_probe_needs_every_shard_and_fails_the_instances_health_check():
    """An instance whose reachable nodes cannot search every shard (its AZ cut off from the
    copies' nodes) answers /health 503 naming the index, so HAProxy takes it out."""
    from aiohttp.test_utils import make_mocked_request

    from flightsearch.api.app import API_KEY, Api, health
    from flightsearch.api.cache import SentinelCache
    from flightsearch.api.metrics import ApiMetrics

    class Store:  # FAKE store that always answers
        async def ping(self) -> None:
            pass

    async def scenario() -> None:
        partial = {**ANSWER, "_shards": {"total": 3, "successful": 2, "failed": 1}}
        whole, cut_off = await _node(200, ANSWER), await _node(200, partial)
        verdicts = {}
        try:
            for name, node in (("whole", whole), ("cut_off", cut_off)):
                index = SearchIndex([node.url()], timeout_s=0.3)
                await index.start()
                api = Api("api-test", Store(), SentinelCache([("127.0.0.1", 9)], "none"), ApiMetrics("api-test"), index=index)  # type: ignore[arg-type]
                app = web.Application()
                app[API_KEY] = api
                try:
                    resp = await health(make_mocked_request("GET", "/health", app=app))
                finally:
                    await index.close()
                verdicts[name] = (resp.status, json.loads(resp.text))
        finally:
            await whole.close()
            await cut_off.close()
        assert verdicts["whole"][0] == 200 and verdicts["whole"][1]["index"] == "up"
        status, body = verdicts["cut_off"]
        assert status == 503 and body["ok"] is False and body["store"] == "up"
        assert "1 shard(s) failed" in body["index"]

    asyncio.run(scenario())
