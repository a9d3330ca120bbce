"""The search index's pilot light: the plan's "index snapshot".

The primary cluster snapshots its index to a shared filesystem repository that stands in
for object storage (`fs`, the directory under the lab's search root: every node of both
regions sees the same path, as every node would see the same bucket). The region keeps no
running search node: the promotion's `restore: index` starts `search-dr` (a single-node
cluster of its own) and restores the newest complete snapshot into it, so the region's index
is as fresh as that snapshot (the stream brings later changes once it runs there).

Snapshots are taken once when the lab is ready and then every `dr.snapshot_interval_s` by
the helper `dr-snapshots` (gameday.lab.dr.snapshots): OpenSearch's own snapshot policies
come with the index-management plugin, which the integ-test distribution lacks.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.errors import LabError
from gameday.lab.components import ComponentSpec
from gameday.lab.network import AZS, DR_AZ, Isolation
from gameday.lab.tiers import LabContext
from gameday.lab.tiers import search as search_tier
from gameday.target import Role

NODE = "search-dr"
REPOSITORY = "dr-objectstore"
PREFIX = "snap-"


def repo_dir(ctx: LabContext) -> Path:
    """The object storage stand-in (made by the search tier, which the nodes run as nobody can write)."""
    return search_tier.objectstore(ctx)


def http_host(ctx: LabContext) -> str:
    """Where the region's node serves HTTP: the bridge's DR-subnet address, so the region's
    API (in the region's namespace) reaches it; the host's loopback without namespaces."""
    return ctx.topology.dr_host_address if ctx.topology.isolation is Isolation.NETNS else "127.0.0.1"


def http_port(ctx: LabContext) -> int:
    return ctx.profile.get("search.http_port") + 1 + len(AZS)


def url(ctx: LabContext) -> str:
    return f"http://{http_host(ctx)}:{http_port(ctx)}"


def node_spec(ctx: LabContext) -> ComponentSpec:
    """`search-dr`: standby, started by the promotion. Like the primary's nodes it runs in the
    host's namespace as nobody (see tiers/search.py), its transport on the region's loopback
    address, its HTTP on the region's side of the bridge."""
    p = ctx.profile
    home = search_tier.distribution()
    node = search_tier.node_root(ctx) / NODE
    conf, data, logs, tmp = node / "conf", node / "data", node / "logs", node / "tmp"
    for d in (conf, data, logs, tmp):
        d.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "cluster.name": "gameday-dr",
        "node.name": NODE,
        "node.attr.zone": DR_AZ,
        "discovery.type": "single-node",
        "transport.host": ctx.topology.loopback_address(DR_AZ),
        "transport.port": p.get("search.transport_port"),
        "http.host": http_host(ctx),
        "http.port": http_port(ctx),
        "path.data": str(data),
        "path.logs": str(logs),
        "path.repo": [str(repo_dir(ctx))],
        "node.processors": 1,
        "cluster.routing.allocation.disk.threshold_enabled": False,
        "action.auto_create_index": False,
    }
    (conf / "opensearch.yml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items()))
    shutil.copyfile(home / "config" / "log4j2.properties", conf / "log4j2.properties")
    for path in (node, conf, data, logs, tmp, *conf.iterdir()):
        os.chown(path, search_tier.NOBODY, search_tier.NOBODY)
    node.chmod(0o700)
    argv = [
        *search_tier.RUN_AS, "java", *search_tier.jvm_options(p.get("dr.search_heap_mb"), tmp),
        f"-Dopensearch.path.home={home}", f"-Dopensearch.path.conf={conf}",
        "-Dopensearch.distribution.type=zip", "-Dopensearch.bundled_jdk=false",
        "-cp", f"{home}/lib/*", search_tier.MAIN_CLASS,
    ]  # fmt: skip
    return ComponentSpec(NODE, "dr", DR_AZ, argv, search_tier._health(url(ctx)), http_host(ctx), http_port(ctx),
                         role=Role.SEARCH, host_network=True, standby=True)  # fmt: skip


# --- snapshots and the restore ---------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    name: str
    state: str
    end_s: float  # epoch seconds the snapshot completed
    shards_ok: int

    @property
    def complete(self) -> bool:
        return self.state == "SUCCESS"


def register(node_url: str, ctx: LabContext, *, readonly: bool) -> None:
    """The repository on a cluster (idempotent). The region's cluster registers it read-only:
    only the primary writes snapshots."""
    settings = {"location": str(repo_dir(ctx)), "compress": True, "readonly": readonly}
    search_tier.request("PUT", f"{node_url}/_snapshot/{REPOSITORY}", {"type": "fs", "settings": settings})


def snapshots(node_url: str) -> list[Snapshot]:
    """The repository's snapshots, oldest first."""
    body = search_tier.request("GET", f"{node_url}/_snapshot/{REPOSITORY}/_all", None)
    out = [Snapshot(s["snapshot"], s.get("state", ""), s.get("end_time_in_millis", 0) / 1000, s.get("shards", {}).get("successful", 0))
           for s in body.get("snapshots", [])]  # fmt: skip
    return sorted(out, key=lambda s: s.end_s)


def take(node_url: str, index: str, keep: int) -> tuple[Snapshot, float]:
    """One snapshot of `index`, waited for; then all but the newest `keep` are deleted.
    Returns it and the seconds it took."""
    began = time.monotonic()
    name = PREFIX + time.strftime("%Y%m%dt%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000_000:09d}"
    body = search_tier.request("PUT", f"{node_url}/_snapshot/{REPOSITORY}/{name}?wait_for_completion=true",
                               {"indices": index, "include_global_state": False}, timeout_s=120)  # fmt: skip
    info = body.get("snapshot", {})
    snap = Snapshot(name, info.get("state", ""), info.get("end_time_in_millis", 0) / 1000, info.get("shards", {}).get("successful", 0))
    if not snap.complete:
        raise LabError(f"snapshot {name} of {index} ended {snap.state or 'without a state'}: {json.dumps(info.get('failures', []))[:300]}")
    for old in [s for s in snapshots(node_url) if s.name.startswith(PREFIX)][:-keep]:
        search_tier.request("DELETE", f"{node_url}/_snapshot/{REPOSITORY}/{old.name}", None, timeout_s=60)
    return snap, time.monotonic() - began


def restore(ctx: LabContext, timeout_s: float = 120) -> str:
    """Restore the newest complete snapshot's index into the region's node (one node: no
    replicas) and wait for green. Returns what was restored, for the promotion's record."""
    node, index = url(ctx), ctx.profile.get("search.index")
    register(node, ctx, readonly=True)
    done = [s for s in snapshots(node) if s.complete]
    if not done:
        raise LabError(f"the object storage ({repo_dir(ctx)}) holds no complete snapshot of {index}: nothing to restore")
    newest = done[-1]
    age = time.time() - newest.end_s
    began = time.monotonic()
    search_tier.request("POST", f"{node}/_snapshot/{REPOSITORY}/{newest.name}/_restore?wait_for_completion=true",
                        {"indices": index, "include_global_state": False, "index_settings": {"index.number_of_replicas": 0}}, timeout_s=timeout_s)  # fmt: skip
    try:
        health = search_tier.get_json(f"{node}/_cluster/health/{index}?wait_for_status=green&timeout={int(timeout_s)}s", timeout_s=timeout_s + 5)
    except urllib.error.HTTPError as exc:
        health = json.loads(exc.read() or b"{}")
    if health.get("status") != "green":
        raise LabError(f"{index} restored in the region is {health.get('status')} after {timeout_s:.0f} s")
    docs = search_tier.get_json(f"{node}/{index}/_count", timeout_s=10).get("count", 0)
    return f"{index} restored from {newest.name} (taken {age:.0f} s before, {docs} documents) in {time.monotonic() - began:.1f} s, green"
