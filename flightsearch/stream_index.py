"""Keeping the search index current from the price stream: the price applier's index half.

Every supplier update carries the flight's seats, which the index holds (what a search
shows per flight and what a sold-out filter or facet would use; no fares). For each batch:

 1. the newest update per flight (a batch may hold several of one flight);
 2. one bulk request of whole documents (route and times from the timetable, as the
    search tier seeded them; the update's seats), each an `index` with version = the
    supplier's timestamp in ms and version_type=external_gte: a replay (same version)
    rewrites the same document, an update older than the document's is refused (409,
    "superseded"), so however often and in whatever order updates arrive, the newest
    supplier update wins. (A partial `update` cannot carry an external version.)
 3. `refresh=wait_for`: the request returns once a refresh (the index's refresh interval,
    the plan's 1 s) made the documents searchable on every copy of their shard;
 4. only then the API's cached index answers for those flights' route-days are deleted
    (flightsearch.cachekeys.search_keys_of_flight): deleted before the refresh, a search
    in between would read the old document and cache it again for the TTL;
 5. and deleted once more REDELETE_S later: a search that read the index just before the
    refresh may write its old answer back just after step 4 (the API writes back after the
    prices, within its index and store timeouts of 1 s each).

Suppliers stamp updates to the millisecond (flightsearch.ingest), so the version loses
nothing; two updates of one flight in the same millisecond tie, and the one written last wins.
"""

from __future__ import annotations

import enum
import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from flightsearch.cachekeys import search_keys_of_flight
from flightsearch.timetable import Flight, Timetable, index_document

REDELETE_S = 2.5
BULK_TIMEOUT_S = 30.0  # a bulk request, including its wait for the refresh


def version_of(supplier_ts: float) -> int:
    """The document's external version: the supplier's timestamp in milliseconds."""
    return round(supplier_ts * 1000)


@dataclass(frozen=True, slots=True)
class SeatsUpdate:
    flight_id: str
    seats: int
    version: int  # supplier timestamp, ms

    @classmethod
    def of(cls, price: Mapping[str, Any]) -> "SeatsUpdate":
        """From one record of the job's output (flightsearch.jobs.price_stream)."""
        return cls(str(price["flight_id"]), int(price["seats"]), version_of(float(price["supplier_ts"])))


def newest_per_flight(updates: Iterable[SeatsUpdate]) -> list[SeatsUpdate]:
    """One update per flight, the newest (on a tie the later one, as the index would keep)."""
    out: dict[str, SeatsUpdate] = {}
    for u in updates:
        have = out.get(u.flight_id)
        if have is None or u.version >= have.version:
            out[u.flight_id] = u
    return list(out.values())


class Reference:
    """The flights' reference data (route, carrier, times) the index documents hold besides
    seats, rebuilt from the timetable the lab seeded the index with."""

    def __init__(self, flights: Mapping[str, Flight], popularity: Mapping[tuple[str, str], float]) -> None:
        self.flights = flights
        self.popularity = popularity

    @classmethod
    def of(cls, tt: Timetable) -> "Reference":
        return cls({f.flight_id: f for f in tt.flights}, {(r.origin, r.destination): r.popularity for r in tt.routes})

    def document(self, u: SeatsUpdate) -> dict[str, Any] | None:
        """The flight's whole document with the update's seats; None for a flight the
        timetable does not have (nothing of it is searchable)."""
        f = self.flights.get(u.flight_id)
        if f is None:
            return None
        return index_document(f, self.popularity.get((f.origin, f.destination), 0.0), seats=u.seats)

    def cache_keys(self, flight_id: str) -> tuple[str, ...]:
        f = self.flights.get(flight_id)
        return search_keys_of_flight(f.origin, f.destination, f.date.isoformat(), f.carrier) if f else ()


def bulk_body(index: str, docs: Sequence[tuple[SeatsUpdate, dict[str, Any]]]) -> str:
    """NDJSON of `index` actions with the supplier's timestamp as external_gte version."""
    lines = []
    for u, doc in docs:
        lines.append(json.dumps({"index": {"_index": index, "_id": u.flight_id, "version": u.version, "version_type": "external_gte"}}, separators=(",", ":")))
        lines.append(json.dumps(doc, separators=(",", ":")))
    return "\n".join(lines) + "\n"


class Result(enum.Enum):
    APPLIED = "applied"  # the document now holds this update
    SUPERSEDED = "superseded"  # it holds a newer one (version conflict): nothing to do
    RETRY = "retry"  # may pass later: overloaded, a shard unavailable, no index yet
    REJECTED = "rejected"  # will never pass (a malformed document): counted, not retried


def classify(item: Mapping[str, Any]) -> Result:
    """One item of a bulk response."""
    op = next(iter(item.values()), {}) if item else {}
    status = int(op.get("status", 0))
    if 200 <= status < 300:
        return Result.APPLIED
    if status == 409:
        return Result.SUPERSEDED
    if status in (404, 429) or status >= 500 or status == 0:
        return Result.RETRY
    return Result.REJECTED


@dataclass
class Outcome:
    """What one batch's index half did, once every update is applied, superseded or rejected."""

    applied: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (flight, reason)
    unknown: list[str] = field(default_factory=list)  # flights the timetable does not have
    attempts: int = 0


class IndexUnreachable(Exception):
    """No node took the bulk request."""


Post = Callable[[str, str, float], dict[str, Any]]  # (url, ndjson body, timeout s) -> answer


def http_post(url: str, body: str, timeout_s: float) -> dict[str, Any]:
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers={"Content-Type": "application/x-ndjson"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        return json.loads(resp.read())


@dataclass
class IndexWriter:
    urls: Sequence[str]
    index: str
    reference: Reference
    post: Post = http_post
    timeout_s: float = BULK_TIMEOUT_S
    _turn: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(range(len(self.urls)))

    def bulk(self, body: str) -> dict[str, Any]:
        """One bulk request, `refresh=wait_for`; any node coordinates it, so a node that
        refuses or fails the whole request is passed over for the next."""
        start, errors = next(self._turn), []
        for i in range(len(self.urls)):
            url = self.urls[(start + i) % len(self.urls)]
            try:
                return self.post(f"{url}/_bulk?refresh=wait_for", body, self.timeout_s)
            except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
                errors.append(f"{url}: {type(exc).__name__}: {exc}"[:200])
        raise IndexUnreachable("; ".join(errors))

    def apply(self, updates: Sequence[SeatsUpdate], stopping: Callable[[], bool], backoff: Callable[[int], None] = lambda n: time.sleep(min(1.0, 0.05 * 2**n))) -> Outcome | None:
        """Write the updates until each is applied, superseded or rejected; None if told to
        stop first (the batch is then not done, and is replayed after a restart)."""
        out = Outcome()
        pending: list[tuple[SeatsUpdate, dict[str, Any]]] = []
        for u in newest_per_flight(updates):
            doc = self.reference.document(u)
            if doc is None:
                out.unknown.append(u.flight_id)
            else:
                pending.append((u, doc))
        while pending:
            if out.attempts and stopping():
                return None
            out.attempts += 1
            try:
                answer = self.bulk(bulk_body(self.index, pending))
                items = answer.get("items") or []
                if len(items) != len(pending):
                    raise ValueError(f"bulk answered {len(items)} items for {len(pending)}")
            except (IndexUnreachable, ValueError):
                backoff(out.attempts)
                continue
            again = []
            for (u, doc), item in zip(pending, items):
                result = classify(item)
                if result is Result.APPLIED:
                    out.applied.append(u.flight_id)
                elif result is Result.SUPERSEDED:
                    out.superseded.append(u.flight_id)
                elif result is Result.REJECTED:
                    out.rejected.append((u.flight_id, json.dumps(next(iter(item.values()), {}).get("error"))[:200]))
                else:
                    again.append((u, doc))
            pending = again
            if pending:
                backoff(out.attempts)
        return out

    def stale_keys(self, outcome: Outcome) -> list[str]:
        """The cached index answers the applied updates made stale (see the module's docstring)."""
        return sorted({k for fid in outcome.applied for k in self.reference.cache_keys(fid)})
