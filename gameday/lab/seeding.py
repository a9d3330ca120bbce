"""Loads the generated timetable into the lab's store (once per lab up)."""

from __future__ import annotations

from datetime import date

from flightsearch import timetable
from gameday.errors import LabError
from gameday.lab.tiers import LabContext
from gameday.lab.tiers.cassandra import store_addresses


def seed_timetable(ctx: LabContext) -> int:
    from cassandra.cluster import Cluster

    p = ctx.profile
    tt = timetable.generate(
        seed=p.get("timetable.seed"),
        airports=p.get("timetable.airports"),
        flights=p.get("timetable.flights"),
        days=p.get("timetable.days"),
        start=date.fromisoformat(p.get("timetable.start")),
    )
    cluster = Cluster(store_addresses(ctx), port=p.get("cassandra.native_port"))
    try:
        session = cluster.connect()
        timetable.seed_store(session, tt, p.get("cassandra.keyspace"), p.get("cassandra.replication_factor"))
    except Exception as exc:  # the driver's errors carry no common base worth naming
        raise LabError(f"seeding the store failed: {type(exc).__name__}: {exc}") from None
    finally:
        cluster.shutdown()
    return len(tt.flights)
