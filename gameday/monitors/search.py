"""Search-index sampler: the cluster's health as each node reports it.

Each node is asked for `_cluster/health?local=true` (its own view of the cluster state, so
a node cut off from the cluster manager still answers, and says so). A node that does not
answer within the timeout is recorded "down"."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from gameday.history import Recorder, SearchHealthSample
from gameday.monitors import Sampler

# A node busy serving searches answers late, not never: at 1 s, nodes rejoining after an AZ
# partition on a saturated host missed whole 0.5 s bins and were counted red. 2 s is
# HAProxy's check timeout too.
TIMEOUT_S = 2.0


def health(url: str) -> SearchHealthSample:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health?local=true", timeout=TIMEOUT_S) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 503: no cluster manager known to this node
        try:
            body = json.loads(exc.read())
        except ValueError:
            body = {}
        return SearchHealthSample(t=time.time(), node="", status=body.get("status", "red"), cluster_manager=False)
    except (OSError, ValueError):
        return SearchHealthSample(t=time.time(), node="", status="down")
    return SearchHealthSample(
        t=time.time(), node="", status=body.get("status", "red"), nodes=int(body.get("number_of_nodes", 0)),
        unassigned_shards=int(body.get("unassigned_shards", 0)), cluster_manager=bool(body.get("discovered_cluster_manager", True)),
    )  # fmt: skip


def samplers(recorder: Recorder, target, interval_s: float) -> list[Sampler]:
    def sampler(name: str, url: str) -> Sampler:
        def sample() -> None:
            s = health(url)
            recorder.add(SearchHealthSample(t=s.t, node=name, status=s.status, nodes=s.nodes, unassigned_shards=s.unassigned_shards, cluster_manager=s.cluster_manager))

        return Sampler(f"search-{name}", interval_s, sample)

    return [sampler(name, url) for name, url in target.search_nodes().items()]
