"""The hot cache's key names, in one place: the API writes them, the price applier deletes
them, and a key spelled two ways would be an invalidation that silently misses.

    price:<flight_id>                   a flight's price (amount, currency, seats)
    route:<O>:<D>:<YYYY-MM-DD>          a route-day's flights listed from the store
    search:<O>:<D>:<YYYY-MM-DD>:<CC>    the index's ranked, faceted answer; CC is the
                                        carrier filter, empty without one
"""

from __future__ import annotations


def price_key(flight_id: str) -> str:
    return f"price:{flight_id}"


def route_key(origin: str, destination: str, day: str) -> str:
    return f"route:{origin}:{destination}:{day}"


def search_key(origin: str, destination: str, day: str, carrier: str | None) -> str:
    return f"search:{origin}:{destination}:{day}:{carrier or ''}"


def search_keys_of_flight(origin: str, destination: str, day: str, carrier: str) -> tuple[str, str]:
    """The cached index answers a change to one flight's document can make stale: the
    unfiltered answer and the one filtered on its own carrier. An answer filtered on another
    carrier never lists the flight, and its facets (carriers, departure times) do not depend
    on what the stream changes (seats), so it stays valid."""
    return search_key(origin, destination, day, None), search_key(origin, destination, day, carrier)
