"""The serving tier, for real: a 3-node OpenSearch cluster (one node per AZ) and a 3-node
Cassandra store (one node per AZ, RF 3) behind three API instances behind HAProxy, with the
lab's restart policy (the keeper).

On the plan's settings (1 replica, allocation awareness on the AZ, restart policy `always`)
the index is green with every shard's copies in two AZs, search results come from it,
ranked, with facets, and prices from cache or store; killing the node that holds a copy, or
the elected cluster manager, under search load leaves the index never red and no search
failed; a killed API instance is out of rotation within seconds and restarted by the
platform; killing a store node under search load and quorum writes fails no write and loses
none. On a lab that misses the plan (`lab.restart.policy: never`,
`haproxy.check_fall: 20`, `cassandra.replication_factor: 1`, and the index's replicas set
to 0 on the running cluster before its drill) the same node loss turns the index red and
searches fail, the killed instance stays 10 s in rotation and is never
restarted, and a third of the store's writes fail while its node is gone: the drills exit 1
with the values measured.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import urllib.request
from datetime import date

import pytest

from flightsearch import timetable
from gameday.history import FaultPhase, History, StopTripped
from gameday.lab.tiers import search as search_tier
from gameday.profile import load_profile
from gameday.target import resolve
from tests.lab.labutil import REPO, drill, gameday, healthy_drill, passed_or_only_slow, up, warn_if_failed

pytestmark = pytest.mark.lab

TIERS = "search,api"


def with_stop_conditions(tmp_path, name: str, conditions: list[dict]):  # noqa: ANN001, ANN201
    """A copy of a shipped experiment, in a tree of its own (its runbook beside it), that
    declares the given stop conditions."""
    root = tmp_path / "tree"
    (root / "experiments").mkdir(parents=True)
    (root / "runbooks").mkdir()
    shutil.copy(REPO / "runbooks" / f"{name}.md", root / "runbooks")
    data = json.loads((REPO / "experiments" / f"{name}.json").read_text())
    next(e for e in data["extensions"] if e["name"] == "gameday")["stop_conditions"] = conditions
    path = root / "experiments" / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def plan_lab():
    up(TIERS)
    yield


@pytest.fixture(scope="module")
def missed_lab(plan_lab, tmp_path_factory):
    profile = tmp_path_factory.mktemp("miss") / "miss-the-plan.yaml"
    # restart_nice 0 (a lab setting, not the plan's): with RF 1 the restarted store node holds
    # the only copy of its rows, the serving path itself, and at the default nice 10 it met
    # the load the outage piles up (load average 31) and was not healthy after 180 s.
    profile.write_text("lab:\n  restart_nice: 0\n  restart:\n    policy: never\nhaproxy:\n  check_fall: 20\ncassandra:\n  replication_factor: 1\n")
    up(TIERS, profile)
    yield profile
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


# On this 2-core host the search path's p95 is 20-50 ms at 100 req/s before any fault (three
# index JVMs, three store JVMs, the cache, three API processes and the load generator share
# it), so a fault-window p95 over 40 ms is accepted where the drill's point is elsewhere, and warned.
HOST_BOUND = "the 2-core lab's search-path p95 is 20-50 ms before any fault"
# A local run of 2026-12-02 (a host slower than CI's): 336 ms in both attempts, the store
# drill's writes and read-back beside 100 searches/s; CI's host held it.
CACHE_MISS_HOST_BOUND = "the store's reads share 2 cores with three store nodes, the writer and the load"


def test_search_node_loss_passes_on_the_plan(plan_lab, tmp_path):
    """Never red, no search failed (the fault window's p95: HOST_BOUND; 52.4 ms on a first
    attempt with the three-node store, 34 ms on the next)."""
    expected = passed_or_only_slow("api.p95_latency_during_fault", "search.green_on_az_failure", "api.error_rate", "store.cache_miss_p95")
    code, v, _ = healthy_drill(lambda out: drill("search-node-loss", out), tmp_path / "run", expected=expected)
    assert expected(code, v), {slo: (x["verdict"], x["measured"]) for slo, x in v.items()}
    assert "yellow" in v["search.green_on_az_failure"]["detail"] and "Green again" in v["search.green_on_az_failure"]["detail"]
    warn_if_failed(v, "api.p95_latency_during_fault", HOST_BOUND)


@pytest.mark.suite  # make test's hour (an election, no counterpart that fails here; about 3 minutes); make suite runs it
def test_search_manager_loss_passes_on_the_plan(plan_lab, tmp_path):
    """An election: never red, no search failed."""
    expected = passed_or_only_slow("api.p95_latency_during_fault", "search.green_on_az_failure", "api.error_rate", "store.cache_miss_p95")
    code, v, _ = healthy_drill(lambda out: drill("search-manager-loss", out), tmp_path / "run", expected=expected)
    assert expected(code, v), {slo: (x["verdict"], x["measured"]) for slo, x in v.items()}
    warn_if_failed(v, "api.p95_latency_during_fault", HOST_BOUND)


def test_api_instance_loss_passes_on_the_plan(plan_lab, tmp_path):
    """Out of rotation within seconds, restarted by the platform, no search failed (the
    fault window's p95 holds the restart's own CPU burst: HOST_BOUND)."""
    expected = passed_or_only_slow("api.p95_latency_during_fault", "api.dead_instance_in_rotation", "api.instance_restart", "api.error_rate")
    code, v, _ = healthy_drill(lambda out: drill("api-instance-loss", out), tmp_path / "run", expected=expected)
    assert expected(code, v), {slo: (x["verdict"], x["measured"]) for slo, x in v.items()}
    assert "The platform restarted" in v["api.instance_restart"]["detail"]
    warn_if_failed(v, "api.p95_latency_during_fault", HOST_BOUND)
    status = gameday("lab", "status")
    assert status.returncode == 0 and re.search(r"restarted [1-9]x", status.stdout) and "keeper: pid" in status.stdout, status.stdout


def test_store_node_loss_passes_on_the_plan(plan_lab, tmp_path):
    """RF 3, quorum writes: no write fails while a node is gone, and every acknowledged one is
    read back through every node after the restore."""
    expected = passed_or_only_slow("store.cache_miss_p95", "store.write_availability", "store.acknowledged_writes_readable", "api.error_rate")
    code, v, _ = healthy_drill(lambda out: drill("store-node-loss", out), tmp_path / "run", expected=expected)
    assert expected(code, v), {slo: (x["verdict"], x["measured"]) for slo, x in v.items()}
    assert "through every node" in v["store.acknowledged_writes_readable"]["detail"]
    warn_if_failed(v, "store.cache_miss_p95", CACHE_MISS_HOST_BOUND)


def set_replicas(profile, replicas: int) -> None:  # noqa: ANN001 - pathlib.Path
    """The running index's replicas set (index.number_of_replicas is dynamic), as an operator
    might, and green again on them.

    The lab that misses the plan starts with the plan's replica, and the search drill takes
    it away for its run: with `search.replicas: 0` from lab up, the store drills here met an
    index whose single copy, on a fresh JVM, fell behind the experiment's 100 searches/s and
    failed 60-92 % of them before any fault, in both attempts (CI run of 2026-12-02), so the
    store, which they judge, was never measured."""
    settings = load_profile(profile)
    target = resolve(profile=settings)
    url = next(iter(target.search_nodes().values()))
    index = settings.get("search.index")
    answer = search_tier.request("PUT", f"{url}/{index}/_settings", {"index": {"number_of_replicas": replicas}})
    assert answer.get("acknowledged"), f"{index}: replicas not set: {answer}"
    # The client waits longer than the cluster's own 90 s wait (get()'s 5 s would not).
    health = search_tier.get_json(f"{url}/_cluster/health/{index}?wait_for_status=green&wait_for_no_relocating_shards=true&timeout=90s", timeout_s=100)
    assert health["status"] == "green" and not health["timed_out"], health
    copies = target.search_copies()
    assert sum(copies.values()) == health["active_primary_shards"] * (1 + replicas), copies


def reached_the_store_fault(code: int, v: dict) -> bool:
    """What a store drill on the lab that misses the plan needs to judge anything: a fault."""
    return v["store.write_availability"]["measured"] is not None


# The lab that misses the plan: its search and API drills first, then its store drills, on
# JVMs warmed as the plan lab's are when its store drill runs (a fresh lab's first drill at
# 100 searches/s meets an index that answers about 60/s from one client here).


def test_search_node_loss_fails_without_replicas(missed_lab, tmp_path):
    """The node holding the only copy dies: red until it is back, and searches whose
    listing was not cached fail."""
    set_replicas(missed_lab, 0)
    try:
        code, v = drill("search-node-loss", tmp_path / "run")
    finally:
        set_replicas(missed_lab, load_profile(missed_lab).get("search.replicas"))  # the plan's, as it started
    assert code == 1
    red = v["search.green_on_az_failure"]
    assert red["verdict"] == "fail" and red["measured"] >= 10, red  # the node stays gone ~20 s
    assert v["api.error_rate"]["verdict"] == "fail", v["api.error_rate"]


def test_api_instance_loss_fails_without_a_restart_policy(missed_lab, tmp_path):
    """Nothing restarts the instance (the rollback does, after 35 s), and HAProxy keeps it
    in rotation for 20 failed checks."""
    code, v = drill("api-instance-loss", tmp_path / "run")
    assert code == 1
    restart, rotation = v["api.instance_restart"], v["api.dead_instance_in_rotation"]
    assert restart["verdict"] == "fail" and restart["measured"] >= 30 and "did not restart" in restart["detail"], restart
    assert rotation["verdict"] == "fail" and rotation["measured"] >= 9, rotation
    assert "keeper" not in gameday("lab", "status").stdout


def test_store_node_loss_fails_with_one_replica_and_a_stop_condition_halts_it(missed_lab, tmp_path):
    """RF 1: the rows whose only copy lived on the dead node can be neither written nor read,
    and what that node acknowledged in its last moments may be gone for good.

    The same run proves the stop conditions on a real fault: the RF 1 store's node loss
    fails searches (27-48 % inside the fault in CI runs), so a stop condition at 5 % for 5 s
    halts the method early, the rollback brings the node back, and the run directory is
    complete, with the trip in its history and its reason. (Two drills until 2026-12-02, one
    with the condition and one without: one drill measures both and saves make test ~150 s.)

    A run whose steady state did not hold (or whose stop tripped) before the fault measured
    nothing of the store, and runs once more (a CI run of 2026-12-01: the index's single
    copy, fresh, answered 35-44 of the first 100 searches/s and the drill stopped before the
    kill; see set_replicas)."""
    path = with_stop_conditions(tmp_path, "store-node-loss", [{"name": "searches-failing", "measure": "api.error_rate", "above": 0.05, "for_s": 5}])
    code, v, run = healthy_drill(lambda out: drill(str(path), out), tmp_path / "run", expected=reached_the_store_fault)
    assert code == 1
    writes = v["store.write_availability"]
    assert writes["verdict"] == "fail" and writes["measured"] >= 10 and "Unavailable" in writes["detail"], writes
    # Measured, either way: Cassandra's periodic commit log acknowledges a write before it
    # marks it (every 100 ms) and a restart replays up to the last mark, so the writes the
    # killed node acknowledged in its last ~100 ms can be lost, and here they had no other
    # copy (CI run of 2026-11-30: 2 of 2,032; earlier runs: 0).
    readable = v["store.acknowledged_writes_readable"]
    assert readable["verdict"] in ("pass", "fail") and readable["measured"] is not None, readable

    summary = json.loads((run / "verdicts.json").read_text())
    assert summary["status"] == "halted", summary["reason"]
    assert "searches-failing" in summary["reason"] and "rollbacks ran" in summary["reason"]
    [trip] = History.read(run / "history.jsonl").of(StopTripped)
    assert trip.value > 0.05 and trip.held_s >= 5, trip
    assert not any(f for f in History.read(run / "history.jsonl").faults() if f.phase is FaultPhase.INJECTED and f.t > trip.t)
    reverted = [f for f in History.read(run / "history.jsonl").faults() if f.phase is FaultPhase.REVERTED]
    assert reverted and reverted[0].t >= trip.t, "the rollback should have brought the store node back"
    for name in ("report.html", "report.md", "junit.xml", "manifest.sha256", "journal.json"):
        assert (run / name).is_file(), name
    assert "halted" in (run / "report.md").read_text()
    assert 'type="run.halted"' in (run / "junit.xml").read_text()
    status = gameday("lab", "status")
    assert status.returncode == 0, status.stdout  # every process healthy: the killed node is back
