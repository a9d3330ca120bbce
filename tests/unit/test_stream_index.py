"""The applier's index half (flightsearch.stream_index, flightsearch.stream_apply): the bulk
requests it builds, the versions that make replays and out-of-order deliveries idempotent,
the cache keys it deletes, and committing batches in order. Against a FAKE OpenSearch node
(a small HTTP server that keeps documents with external_gte versions) and FAKE caches; the
real index is exercised in tests/lab/test_freshness_lab.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import Future
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from flightsearch import stream_apply, timetable
from flightsearch.api.app import Api, make_app
from flightsearch.api.metrics import ApiMetrics
from flightsearch.api.store import price_view
from flightsearch.cachekeys import price_key, search_key
from flightsearch.ingest import render_native, to_canonical
from flightsearch.stream_index import (
    REDELETE_S,
    IndexWriter,
    Outcome,
    Reference,
    Result,
    SeatsUpdate,
    bulk_body,
    classify,
    newest_per_flight,
    version_of,
)
from gameday.lab.network import Isolation, Topology
from gameday.lab.tiers import LabContext, search
from gameday.profile import load_profile

TT = timetable.generate(seed=3, airports=20, flights=2_000, days=5)
REF = Reference.of(TT)
F = TT.flights[10]


def update(seats: int, ts: float, flight: timetable.Flight = F) -> SeatsUpdate:
    return SeatsUpdate(flight.flight_id, seats, version_of(ts))


# --- versions and requests ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xml", "json"])
def test_the_version_is_the_suppliers_timestamp_to_the_millisecond_every_wire_format_keeps(fmt):
    ts = 1764000000.123
    event = to_canonical(fmt, render_native(fmt, F.flight_id, 11799, "GBP", 7, ts))
    assert version_of(event["supplier_ts"]) == 1764000000123
    assert SeatsUpdate.of({**event, "produced_at": ts}) == SeatsUpdate(F.flight_id, 7, 1764000000123)


def test_a_batch_keeps_the_newest_update_per_flight_and_the_later_of_a_tie():
    other = TT.flights[11]
    got = newest_per_flight([update(5, 2.0), update(9, 1.0), update(1, 1.0, other), update(6, 2.0)])
    assert sorted(got, key=lambda u: u.flight_id) == sorted([update(6, 2.0), update(1, 1.0, other)], key=lambda u: u.flight_id)


def test_the_bulk_request_indexes_whole_documents_with_external_gte_versions_the_mapping_accepts(tmp_path: Path):
    u = update(0, 1764000000.5)
    lines = bulk_body("flights", [(u, REF.document(u))]).splitlines()
    action, doc = json.loads(lines[0]), json.loads(lines[1])
    assert action == {"index": {"_index": "flights", "_id": F.flight_id, "version": 1764000000500, "version_type": "external_gte"}}
    assert doc["seats"] == 0 and doc["sold_out"] is True and "price" not in str(doc)  # no fares in the index
    # Whole documents, exactly the fields the seeded one has, which the strict mapping takes.
    ctx = LabContext(load_profile(), Topology(Isolation.NETNS, "10.213.0.0/24", "gd-br0"), tmp_path)
    seeded = next(d for d in search.documents(TT) if d["flight_id"] == F.flight_id)
    assert set(doc) == set(seeded) == set(search.index_body(ctx)["mappings"]["properties"])
    assert {k: v for k, v in doc.items() if k not in ("seats", "sold_out")} == {k: v for k, v in seeded.items() if k not in ("seats", "sold_out")}
    assert seeded["seats"] == F.price.seats  # seeded with the store's seats


def test_a_flight_the_timetable_does_not_have_has_no_document_and_no_cache_keys():
    assert REF.document(SeatsUpdate("ZZ999-20261201", 3, 1)) is None and REF.cache_keys("ZZ999-20261201") == ()


def test_a_flights_stale_cache_keys_are_its_route_days_unfiltered_and_own_carrier_answers():
    keys = REF.cache_keys(F.flight_id)
    day = F.date.isoformat()
    assert keys == (f"search:{F.origin}:{F.destination}:{day}:", f"search:{F.origin}:{F.destination}:{day}:{F.carrier}")
    assert keys == (search_key(F.origin, F.destination, day, None), search_key(F.origin, F.destination, day, F.carrier))


@pytest.mark.parametrize(("status", "result"), [(201, Result.APPLIED), (200, Result.APPLIED), (409, Result.SUPERSEDED), (429, Result.RETRY),
                                                (503, Result.RETRY), (404, Result.RETRY), (400, Result.REJECTED)])  # fmt: skip
def test_each_bulk_item_is_applied_superseded_retried_or_rejected(status, result):
    assert classify({"index": {"_id": "x", "status": status}}) is result


# --- a FAKE OpenSearch node --------------------------------------------------------------------


class FakeIndex:
    """Documents with external_gte versions, as OpenSearch keeps them; `item_errors` answers
    the next items with these statuses instead; `down` refuses whole requests (503)."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[int, dict]] = {}
        self.item_errors: list[int] = []
        self.down = False
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def bulk(self, path: str, body: str) -> tuple[int, dict]:
        self.requests.append(path)
        if self.down:
            return 503, {"error": "cluster_block_exception"}
        lines = body.splitlines()
        items = []
        with self.lock:
            for action_line, doc_line in zip(lines[::2], lines[1::2]):
                action = json.loads(action_line)["index"]
                assert action["version_type"] == "external_gte"
                fid, version = action["_id"], action["version"]
                if self.item_errors:
                    items.append({"index": {"_id": fid, "status": self.item_errors.pop(0), "error": {"type": "es_rejected_execution_exception"}}})
                elif fid in self.docs and version < self.docs[fid][0]:
                    items.append({"index": {"_id": fid, "status": 409, "error": {"type": "version_conflict_engine_exception"}}})
                else:
                    status = 200 if fid in self.docs else 201
                    self.docs[fid] = (version, json.loads(doc_line))
                    items.append({"index": {"_id": fid, "status": status, "_version": version}})
        return 200, {"errors": any(i["index"]["status"] >= 300 for i in items), "items": items}


@pytest.fixture
def fake_index():
    index = FakeIndex()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            status, answer = index.bulk(self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    index.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield index
    server.shutdown()
    server.server_close()


def writer(*urls: str) -> IndexWriter:
    return IndexWriter(list(urls), "flights", REF, timeout_s=5)


def never() -> bool:
    return False


def no_wait(_: int) -> None:
    pass


def test_fake_index_replays_and_out_of_order_deliveries_leave_the_newest_supplier_update(fake_index):
    w = writer(fake_index.url)
    first = w.apply([update(5, 2.0)], never)
    assert first.applied == [F.flight_id] and fake_index.requests == ["/_bulk?refresh=wait_for"]
    older = w.apply([update(9, 1.0)], never)  # delivered late
    assert older.applied == [] and older.superseded == [F.flight_id] and w.stale_keys(older) == []
    replay = w.apply([update(5, 2.0)], never)  # the same update again (at-least-once)
    assert replay.applied == [F.flight_id]  # rewritten: the same version, the same document
    version, doc = fake_index.docs[F.flight_id]
    assert (version, doc["seats"], doc["sold_out"]) == (2000, 5, False)
    assert w.stale_keys(first) == sorted(REF.cache_keys(F.flight_id))


def test_fake_index_items_the_index_could_not_take_now_are_retried_and_refused_ones_counted(fake_index):
    other, third = TT.flights[11], TT.flights[12]
    fake_index.item_errors = [429, 400]
    out = writer(fake_index.url).apply([update(1, 1.0), update(2, 1.0, other), update(3, 1.0, third)], never, backoff=no_wait)
    assert out.attempts == 2
    assert sorted(out.applied) == sorted([F.flight_id, third.flight_id])  # the 429 one on the second attempt
    assert [fid for fid, _ in out.rejected] == [other.flight_id] and "rejected" in out.rejected[0][1]


def test_fake_index_a_node_that_refuses_is_passed_over_for_the_next(fake_index):
    out = writer("http://127.0.0.1:1", fake_index.url).apply([update(4, 1.0)], never, backoff=no_wait)
    assert out.applied == [F.flight_id] and out.attempts == 1


def test_fake_index_an_unknown_flight_is_not_sent_and_a_stopping_applier_gives_up_on_a_down_index(fake_index):
    w = writer(fake_index.url)
    out = w.apply([SeatsUpdate("ZZ999-20261201", 3, 1)], never)
    assert out.unknown == ["ZZ999-20261201"] and fake_index.requests == []
    fake_index.down = True
    calls = []
    assert w.apply([update(4, 1.0)], lambda: len(calls) > 2, backoff=calls.append) is None  # not done: never committed
    assert fake_index.docs == {}


# --- the applier: cache invalidation after the index, commits in order -------------------------


class FakeCache:
    def __init__(self, log: list) -> None:
        self.log = log

    def delete(self, keys) -> None:
        self.log.append(("delete", tuple(sorted(set(keys)))))


class LoggingWriter:
    def __init__(self, log: list) -> None:
        self.log = log
        self.inner = IndexWriter(["http://unused"], "flights", REF, post=lambda url, body, t: self._answer(body))

    def _answer(self, body: str) -> dict:
        self.log.append(("bulk", len(body.splitlines()) // 2))
        return {"items": [{"index": {"status": 201}} for _ in body.splitlines()[::2]]}

    def apply(self, updates, stopping):
        return self.inner.apply(updates, stopping)

    def stale_keys(self, outcome: Outcome) -> list[str]:
        return self.inner.stale_keys(outcome)


def test_the_index_half_deletes_the_stale_answers_after_the_index_took_the_update_and_once_more_later():
    log: list = []
    redeletes = stream_apply.Redeletes()
    half = stream_apply.IndexHalf(LoggingWriter(log), FakeCache(log), {"now": False}, redeletes)
    try:
        prices = [{"flight_id": F.flight_id, "seats": 4, "supplier_ts": 10.0, "amount_pence": 1, "currency": "GBP", "produced_at": 10.0}] * 2
        began = time.time()
        assert half.submit(prices).result(5) is True
    finally:
        half.close()
    keys = tuple(sorted(REF.cache_keys(F.flight_id)))
    assert log == [("bulk", 1), ("delete", keys)]  # one document for the two updates; the delete after the write
    assert redeletes.due(began + REDELETE_S - 0.5) == []
    assert tuple(sorted(redeletes.due(time.time() + REDELETE_S))) == keys
    assert half.snapshot()["indexed"] == 1


def test_batches_are_committed_in_order_though_their_index_halves_finish_out_of_order():
    order = stream_apply.InOrder()
    first, second, third = Future(), Future(), Future()
    order.add({("prices.normalized", 0): 10}, first)
    order.add({("prices.normalized", 0): 20, ("prices.normalized", 1): 5}, second)
    order.add({("prices.normalized", 1): 9}, third)
    second.set_result(True)
    assert order.committable() == {} and order.waiting()  # the first is still under way
    first.set_result(True)
    assert order.committable() == {("prices.normalized", 0): 20, ("prices.normalized", 1): 5}
    third.set_result(False)  # gave up: the process is stopping
    assert order.committable() == {} and len(order) == 1 and not order.waiting()


def test_without_an_index_each_batch_is_committable_at_once():
    order = stream_apply.InOrder()
    order.add(stream_apply.next_offsets([("t", 0, 4), ("t", 0, 7), ("t", 2, 1)]), None)
    assert order.committable() == {("t", 0): 8, ("t", 2): 2} and len(order) == 0


def test_a_batch_commits_past_the_transaction_markers_its_reader_skipped_and_only_its_partitions():
    # position 9 on partition 0: a commit marker at offset 8 after the last message (7);
    # partition 1 had nothing in this batch; -1001 is librdkafka's "no position yet".
    offsets = stream_apply.next_offsets([("t", 0, 7), ("t", 2, 1)], [("t", 0, 9), ("t", 1, 40), ("t", 2, -1001)])
    assert offsets == {("t", 0): 9, ("t", 2): 2}


def test_the_appliers_arguments_default_to_read_committed_and_no_index():
    base = ["--bootstrap", "k:9092", "--sentinels", "h:26379", "--cassandra", "c", "--dir", "/tmp/x"]
    a = stream_apply._args(base)
    assert a.isolation == "read_committed" and a.search == ""
    b = stream_apply._args(base + ["--isolation", "read_uncommitted", "--search", "http://a:9201,http://b:9202", "--timetable-seed", "7", "--timetable-start", "2026-12-01"])
    assert (b.isolation, b.timetable_seed, b.timetable_start) == ("read_uncommitted", 7, date(2026, 12, 1))


# --- the API: the index's seats beside the price's, cached under the keys the applier deletes ---


class FakeApiCache:
    healthy = True

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def address(self) -> str:
        return "fake"

    async def get(self, key: str):
        return self.data.get(key)

    async def mget(self, keys):
        return [self.data.get(k) for k in keys]

    async def set_many(self, items, ttl_s) -> None:
        self.data.update(items)


class FakeSearchIndex:
    """Answers from index documents, as the real index's hits are read (FLIGHT_FIELDS)."""

    def __init__(self, docs: list[dict]) -> None:
        self.docs = docs

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def search(self, origin, destination, day, carrier=None):
        from flightsearch.api.index import parse

        hits = [{"_source": d} for d in self.docs if (d["origin"], d["destination"], d["date"]) == (origin, destination, day.isoformat())
                and (carrier is None or d["carrier"] == carrier)]  # fmt: skip
        return parse({"hits": {"hits": hits}})


class FakePriceStore:
    async def prices(self, ids):
        return {i: price_view(12345, "GBP", 77) for i in ids}

    async def ping(self) -> None: ...
    async def close(self) -> None: ...


def test_fake_index_a_search_shows_the_indexs_seats_beside_the_prices_and_caches_under_the_keys_the_applier_deletes():
    doc = REF.document(update(3, 5.0))
    cache = FakeApiCache()
    api = Api("api-t", FakePriceStore(), cache, ApiMetrics("api-t"), index=FakeSearchIndex([doc]))

    async def scenario() -> dict:
        async with TestClient(TestServer(make_app(api))) as client:
            resp = await client.get("/search", params={"origin": F.origin, "destination": F.destination, "date": F.date.isoformat()})
            assert resp.status == 200
            return await resp.json()

    body = asyncio.run(scenario())
    flight = next(f for f in body["flights"] if f["flight_id"] == F.flight_id)
    assert (flight["seats"], flight["sold_out"], flight["price"]["seats"]) == (3, False, 77)  # the index's view, the price's view
    assert body["source"]["listing"] == "index" and body["source"]["seats"] == "index"
    cached = {k for k in cache.data if k.startswith("search:")}
    assert cached and cached <= set(REF.cache_keys(F.flight_id)) and price_key(F.flight_id) in cache.data
