"""The search tier, for real: a 3-node OpenSearch cluster (one node per AZ) behind the API.

On the plan's settings (1 replica, allocation awareness on the AZ) the index is green with
every shard's copies in two AZs, and search results come from it, ranked, with facets, and
prices from cache or store. (The node-loss drills, experiments/search-*-loss.json, are not
run here yet: at 300 req/s on a cold cache the API's index path fails most searches on this
host; see issue 10's note.)
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from flightsearch import timetable
from gameday.profile import load_profile
from gameday.target import resolve
from tests.lab.labutil import fresh_lab, gameday

pytestmark = pytest.mark.lab

TIERS = "search,api"


def up(profile: Path | None = None) -> None:
    fresh_lab()
    began = time.monotonic()
    proc = gameday("lab", "up", "--tiers", TIERS, *(["--profile", str(profile)] if profile else []))
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"\nlab up --tiers {TIERS}{' (missing the plan)' if profile else ''}: {time.monotonic() - began:.1f} s", file=sys.stderr)


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def plan_lab():
    up()
    yield
    assert gameday("lab", "down").returncode == 0


def test_the_index_spans_the_azs_and_search_results_come_from_it(plan_lab):
    profile = load_profile()
    target = resolve(profile=profile)
    nodes = target.search_nodes()
    assert sorted(nodes) == ["search-a", "search-b", "search-c"]
    url = next(iter(nodes.values()))
    health = get(f"{url}/_cluster/health")
    assert health["status"] == "green" and health["number_of_nodes"] == 3
    zone = {row["node"]: row["value"] for row in get(f"{url}/_cat/nodeattrs?format=json") if row["attr"] == "zone"}
    shards = get(f"{url}/_cat/shards/{profile.get('search.index')}?format=json")
    copies: dict[str, set[str]] = {}
    for row in shards:
        assert row["state"] == "STARTED", row
        copies.setdefault(row["shard"], set()).add(zone[row["node"]])
    assert len(copies) == profile.get("search.shards") and all(len(z) == 2 for z in copies.values()), copies  # primary and replica in two AZs
    settings = get(f"{url}/{profile.get('search.index')}/_settings")
    index = next(iter(settings.values()))["settings"]["index"]
    assert index["number_of_replicas"] == "1" and index["refresh_interval"] == "1s"

    tt = timetable.generate(seed=profile.get("timetable.seed"), airports=profile.get("timetable.airports"), flights=profile.get("timetable.flights"),
                            days=profile.get("timetable.days"), start=date.fromisoformat(profile.get("timetable.start")))  # fmt: skip
    route = tt.routes[0]
    query = f"origin={route.origin}&destination={route.destination}&date={tt.start.isoformat()}"
    answer = get(f"{target.lb_url()}/search?{query}")
    assert answer["source"]["listing"] == "index"
    assert len(answer["flights"]) == route.per_day and all(f["price"] for f in answer["flights"])
    assert "amount_pence" not in json.dumps(get(f"{url}/{profile.get('search.index')}/_doc/{answer['flights'][0]['flight_id']}"))  # no fares indexed
    durations = [f["duration_min"] for f in answer["flights"]]
    assert durations == sorted(durations)  # ranked: shorter journeys first
    carriers = {c["value"]: c["count"] for c in answer["facets"]["carrier"]}
    assert sum(carriers.values()) == route.per_day and sum(b["count"] for b in answer["facets"]["departure"]) == route.per_day
    one = next(iter(carriers))
    narrowed = get(f"{target.lb_url()}/search?{query}&carrier={one}")
    assert {f["carrier"] for f in narrowed["flights"]} == {one} and len(narrowed["flights"]) == carriers[one]
    assert narrowed["facets"]["carrier"] == answer["facets"]["carrier"]  # facets still count every carrier
    print(f"\nsearch: {len(copies)} shards x 2 copies over zones {sorted(set(zone.values()))}; {route.origin}-{route.destination}: {len(answer['flights'])} flights, carriers {carriers}", file=sys.stderr)
