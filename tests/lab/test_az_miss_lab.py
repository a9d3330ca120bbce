"""The AZ outage on a full lab built to miss the plan, for real: no redundancy in three data
tiers at once, so one drill shows three verdicts failing, each naming its tier and value.

- the store: one Cassandra node (replication factor 1), in az-a: the plan's "synchronous
  replication across AZs" missed, so store writes stop with the AZ;
- the search index: 3 shards and no replicas, one primary per node: "remains green on AZ
  failure" missed, the index goes red with any AZ;
- Kafka: min.insync.replicas 3 with 3 brokers: with one broker lost no acks=all write is
  taken, so supplier events wait past the ingest-lag budget.

The drill loses az-a (GAMEDAY_AZ), where the store's only node runs. Sentinel quorum 3 is the
fourth miss, in test_az_lab.py (a live setting on the default lab). Suite tests (`make suite`):
the full lab starts in about 3 minutes and the drill runs 12 (155 s and 718 s on 2026-11-30).
"""

from __future__ import annotations

import json

import pytest

from gameday.faults import Fault
from gameday.history import FaultPhase, History
from tests.lab.labutil import drill, gameday, up

pytestmark = [pytest.mark.lab, pytest.mark.suite]

ALL_TIERS = "redis,cassandra,search,api,metrics,kafka,zookeeper,flink,ingest,stream"
MISS = """\
cassandra:
  nodes: 1
  replication_factor: 1
search:
  shards: 3
  replicas: 0
kafka:
  min_insync_replicas: 3
"""


@pytest.fixture(scope="module")
def miss_lab(tmp_path_factory):
    profile = tmp_path_factory.mktemp("miss") / "no-redundancy.yaml"
    profile.write_text(MISS)
    up(ALL_TIERS, profile)
    yield profile
    assert gameday("lab", "down").returncode == 0


def test_an_az_outage_without_redundancy_fails_the_store_the_index_and_the_ingest(miss_lab, tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_AZ", "az-a")
    run = tmp_path / "run"
    code, v = drill("az-outage", run, "--profile", str(miss_lab))
    summary = json.loads((run / "verdicts.json").read_text())
    assert code == 1, summary["reason"]
    for slo in ("store.write_availability", "search.green_on_az_failure", "ingest.lag"):
        assert v[slo]["verdict"] == "fail" and v[slo]["measured"] is not None, (slo, v[slo])
    assert v["kafka.min_isr"]["verdict"] == "pass", v["kafka.min_isr"]  # 3 configured: the clause itself holds
    [lost] = [f for f in History.read(run / "history.jsonl").faults() if f.phase is FaultPhase.INJECTED and f.fault == Fault.AZ_OUTAGE.value]
    assert lost.az == "az-a" and "named by the experiment" in lost.detail, lost
