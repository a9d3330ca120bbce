"""Freshness through the search index under both of the plan's delivery readings, for real.

One lab per mode (`gameday lab up --tiers stream,ingest,search,api --profile` with
`stream.delivery`), and on each one short steady-state drill: the stream-steady-state
experiment with a 30 s method (warm-up 10 s, baseline 5 s, cool-down 5 s), which gives about
13 canaries at one every 3 s. The canary changes its flight's seats, the applier writes them
into the index (versioned by the supplier's timestamp) and invalidates the cached answers,
and the canary polls /search until the index's seats show it.

- exactly_once (the default): the job's output reaches the applier when a checkpoint commits
  it (30 s), so freshness through the index fails, checkpoint-bound (median seconds, not
  tenths); nothing lost, nothing duplicated.
- at_least_once: the output reaches the applier as the job writes it, so freshness is the
  rest of the path (applier, the index's 1 s refresh, invalidation, the API): well under the
  exactly_once figure, and within 1 s when the host is quiet (a miss is a warning, not a
  failure: the verdict stays in the report as measured); nothing lost.

A suite test (`make suite`, not `make test`): each lab is every tier but Redis's alone, and
its `lab up` took 326 s on the 2-core host; two of them would take `make test` past its hour.
The labs run a one-node store (as the streaming drills do) and the drill's search load is
20 req/s: at 100 req/s the full lab's index timed out searches (p50 1.3 s) and no canary was
seen. The figures go to stderr (pytest -s) and into the issue's closing note.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import urllib.request
import warnings
from pathlib import Path

import pytest

from gameday.history import CanaryPath, CanarySample, History, StreamDelivery
from gameday.monitors.streaming import CANARY_SEATS
from gameday.profile import load_profile
from gameday.target import resolve
from tests.lab.labutil import REPO, drill, gameday, healthy_drill, lab_up, warn_if_failed

pytestmark = [pytest.mark.lab, pytest.mark.suite]

TIERS = "stream,ingest,search,api"
# The suppliers' rate on the full lab: 15 x 2 = 30 events/s, not the default 150. Each event
# is an index write and the invalidation of its route-day's cached searches; at 150/s beside
# every other tier on 2 cores, searches took ~1 s and no canary reached search at all.
FULL_LAB_RATE_PER_SUPPLIER = 2.0
MEDIANS: dict[str, float] = {}  # mode -> median produce-to-searchable through the index, s


def lab(mode: str, tmp_path_factory) -> Path:  # noqa: ANN001
    profile = tmp_path_factory.mktemp(mode) / f"{mode}.yaml"
    profile.write_text(f"stream:\n  delivery: {mode}\ncassandra:\n  nodes: 1\n  replication_factor: 1\n"
                       f"ingest:\n  rate_per_supplier: {FULL_LAB_RATE_PER_SUPPLIER}\n")
    took = lab_up("--tiers", TIERS, "--profile", str(profile))
    print(f"\nlab up --tiers {TIERS} (stream.delivery {mode}): {took:.1f} s", file=sys.stderr)
    return profile


@pytest.fixture(scope="module")
def exactly_once_lab(tmp_path_factory):
    yield lab("exactly_once", tmp_path_factory)


@pytest.fixture(scope="module")
def at_least_once_lab(tmp_path_factory):
    yield lab("at_least_once", tmp_path_factory)
    assert gameday("lab", "down").returncode == 0


@pytest.fixture(scope="module")
def short_drill(tmp_path_factory) -> tuple[Path, Path]:
    """The steady-state experiment with a 30 s method, in a tree of its own (an experiment's
    runbook must lie in its tree), and a run profile that bounds the wait for a quiet host."""
    root = tmp_path_factory.mktemp("freshness")
    (root / "experiments").mkdir()
    (root / "runbooks").mkdir()
    shutil.copy(REPO / "runbooks" / "stream-steady-state.md", root / "runbooks")
    data = json.loads((REPO / "experiments" / "stream-steady-state.json").read_text())
    ext = next(e for e in data["extensions"] if e["name"] == "gameday")
    ext.update(tiers=[*ext["tiers"], "search"], warmup_s=10, baseline_s=5, cooldown_s=5, max_duration_s=300)
    ext["load"]["rate"] = 20
    data["method"][0]["pauses"]["after"] = 30
    path = root / "experiments" / "stream-freshness-short.json"
    path.write_text(json.dumps(data, indent=2))
    run_profile = root / "run.yaml"
    run_profile.write_text("host:\n  settle_max_wait_s: 45\n")
    return path, run_profile


def index_canaries(run_dir: Path) -> list[CanarySample]:
    history = History.read(run_dir / "history.jsonl")
    return [c for c in history.of(CanarySample) if not c.error]


def delivery_of(run_dir: Path) -> StreamDelivery:
    [d] = History.read(run_dir / "history.jsonl").of(StreamDelivery)
    return d


def seen_median(canaries: list[CanarySample]) -> float:
    return statistics.median(c.seen_at - c.t for c in canaries if c.seen_at)


def get(url: str):  # noqa: ANN201
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def assert_measured_through_the_index(run_dir: Path, v: dict, mode: str) -> list[CanarySample]:
    canaries = index_canaries(run_dir)
    assert len(canaries) >= 10 and {c.via for c in canaries} == {CanaryPath.INDEX}, canaries[:3]
    assert all(c.seats >= CANARY_SEATS for c in canaries)
    assert sum(1 for c in canaries if c.seen_at) >= 3, "the index showed (almost) no canary: is the applier keeping it current?"
    fresh = v["freshness.searchable"]
    assert "canary seat updates" in fresh["detail"] and "search index" in fresh["detail"] and f"Delivery {mode}" in fresh["detail"], fresh
    d = delivery_of(run_dir)
    assert (d.mode.value, d.index_kept) == (mode, True)
    lost = v["data.events_lost"]
    assert lost["verdict"] == "pass" and lost["measured"] == 0, lost
    return canaries


def assert_the_index_holds_supplier_versions(canaries: list[CanarySample], isolation: str) -> None:
    """The canary flight's document carries the external version (supplier ms), the answer
    lists the index's seats beside the price's, and the applier reads at the mode's isolation."""
    profile = load_profile()
    target = resolve(profile=profile)
    flight = canaries[0].flight_id
    node = next(iter(target.search_nodes().values()))
    doc = get(f"{node}/{profile.get('search.index')}/_doc/{flight}")
    assert doc["_version"] > 1_600_000_000_000 and doc["_source"]["seats"] >= CANARY_SEATS, doc  # written by the stream
    status = json.loads((profile.home / "data" / "stream" / "status-stream-apply.json").read_text())
    assert status["isolation"] == isolation and status["index"] is True and status["indexed"] > 0, status
    assert status.get("index_rejected", 0) == 0, status


def test_exactly_once_freshness_through_the_index_waits_for_the_checkpoints(exactly_once_lab, short_drill, tmp_path):
    path, run_profile = short_drill
    must_pass = ("data.events_lost", "data.events_duplicated")

    def as_expected(code: int, v: dict) -> bool:
        return code == 1 and v["freshness.searchable"]["verdict"] == "fail" and all(v[s]["verdict"] == "pass" for s in must_pass)

    code, v, run_dir = healthy_drill(lambda out: drill(str(path), out, "--profile", str(run_profile)), tmp_path / "run", expected=as_expected)
    assert code == 1
    canaries = assert_measured_through_the_index(run_dir, v, "exactly_once")
    fresh = v["freshness.searchable"]
    assert fresh["verdict"] == "fail" and fresh["measured"] > 1, fresh
    MEDIANS["exactly_once"] = median = seen_median(canaries)
    assert median > 2, f"median {median:.2f} s: exactly-once output should wait for a 30 s checkpoint"
    dup = v["data.events_duplicated"]
    assert dup["verdict"] == "pass" and dup["measured"] == 0 and "read_committed" in dup["detail"], dup
    assert_the_index_holds_supplier_versions(canaries, "read_committed")


def test_at_least_once_freshness_through_the_index_is_the_paths_own(at_least_once_lab, short_drill, tmp_path):
    path, run_profile = short_drill

    def as_expected(code: int, v: dict) -> bool:
        return v["data.events_lost"]["verdict"] == "pass" and v["freshness.searchable"]["verdict"] in ("pass", "fail")

    code, v, run_dir = healthy_drill(lambda out: drill(str(path), out, "--profile", str(run_profile)), tmp_path / "run", expected=as_expected)
    assert code in (0, 1)
    canaries = assert_measured_through_the_index(run_dir, v, "at_least_once")
    MEDIANS["at_least_once"] = median = seen_median(canaries)
    print(f"\nfreshness through the index, median: {MEDIANS}", file=sys.stderr)
    assert median < 5, f"median {median:.2f} s: at-least-once output should not wait for checkpoints"
    if "exactly_once" in MEDIANS:
        assert median < MEDIANS["exactly_once"], MEDIANS
    warn_if_failed(v, "freshness.searchable", "the plan's 1 s includes the index's 1 s refresh; a busy 2-core host can take more")
    dup = v["data.events_duplicated"]
    assert "at_least_once" in dup["detail"] and "idempotent" in dup["detail"], dup
    if dup["verdict"] != "pass":  # a job restart in the drill: repeats counted, absorbed by idempotent writes
        warnings.warn(f"at_least_once repeats in the output: {dup['measured']} ({dup['detail'][:200]})", stacklevel=1)
    assert_the_index_holds_supplier_versions(canaries, "read_uncommitted")
