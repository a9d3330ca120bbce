"""The search index: OpenSearch 2.19 (the last line on Java 17), one data node per AZ.

The distribution is OpenSearch's integ-test-zip from Maven Central (the server and its
transport module; terms, range and date aggregations are in the server). Each node runs
`java ... org.opensearch.bootstrap.OpenSearch` in the foreground, so the harness owns the
PID (the `bin/opensearch` script would start two more JVMs first, to check the Java version
and compute options).

OpenSearch refuses to run as root, so a node runs as `nobody`, and everything it reads or
writes lives outside root's home, which `nobody` cannot enter: the distribution unpacked
under /var/lib/gameday-search (world-readable), and per lab a folder of its nodes' config,
data, logs and temp files there, owned by `nobody` (the lab home holds only its console
log). The nodes carry their AZ as the `zone` attribute and allocation awareness on it keeps
a shard's primary and replica in different AZs.

A node's transport (node to node) binds its AZ's loopback address (127.213.0.1x) in the
host's namespace, its HTTP (clients) the host's address on the lab bridge, port 9201-9203,
so the API inside the AZ namespaces reaches it. Bound to a non-loopback *transport*
address, OpenSearch enforces its production checks, among them at least 65,535 open files,
and this machine's root has a hard limit of 20,000 and no CAP_SYS_RESOURCE to raise it
(`prlimit --nofile=65535`: "Operation not permitted"). Kills, restarts and the replication
between nodes are the same; a network fault on an AZ's namespace does not reach its node.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

from flightsearch import timetable
from gameday.errors import LabError
from gameday.lab import network
from gameday.lab.components import ComponentSpec
from gameday.lab.jvm import maven
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext
from gameday.target import Role

MAIN_CLASS = "org.opensearch.bootstrap.OpenSearch"
NOBODY = 65534
RUN_AS = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
ROOT = Path("/var/lib/gameday-search")


def node_name(az: str) -> str:
    return f"search-{az[-1]}"


def objectstore(ctx: LabContext) -> Path:
    """The index snapshots' repository, standing in for object storage (gameday.lab.dr.index):
    one path every node of either region sees, writable by nobody."""
    return node_root(ctx) / "objectstore" / "index-snapshots"


def node_azs(ctx: LabContext) -> list[str]:
    return list(AZS[: ctx.profile.get("search.nodes")])


def address(ctx: LabContext, az: str) -> str:
    """Where a node's transport binds (see the module's docstring)."""
    return ctx.topology.loopback_address(az)


def http_port(ctx: LabContext, az: str) -> int:
    return ctx.profile.get("search.http_port") + 1 + AZS.index(az)


def urls(ctx: LabContext) -> list[str]:
    """Every node's HTTP endpoint: what the API and the monitors are given."""
    return [f"http://{ctx.topology.host_address}:{http_port(ctx, az)}" for az in node_azs(ctx)]


def node_root(ctx: LabContext) -> Path:
    """This lab's folder of search-node files (one per lab home, so labs never share one)."""
    return ROOT / "labs" / hashlib.sha256(str(ctx.home.resolve()).encode()).hexdigest()[:12]


def distribution(cache: Path | None = None, root: Path = ROOT) -> Path:
    """The unpacked distribution (the zip resolved from Maven Central once, then cached)."""
    jars = maven.ensure_jars("opensearch", "opensearch-*.zip", cache=cache)
    archive = sorted(jars.glob("opensearch-*.zip"))[-1]
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    home = root / archive.name.removesuffix(".zip")
    if (home / "lib").is_dir():
        return home
    tmp = home.with_name(home.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp)
    inner = tmp / home.name  # the zip holds one top-level directory
    if not (inner / "lib").is_dir():
        raise LabError(f"{archive} does not hold {home.name}/lib")
    inner.rename(home)
    shutil.rmtree(tmp, ignore_errors=True)
    return home


def fetch() -> Path:
    """Resolve and unpack now (bootstrap), so `lab up` never waits on Maven."""
    return distribution()


def render_config(ctx: LabContext, az: str, data: Path, logs: Path) -> str:
    p = ctx.profile
    seeds = [f"{address(ctx, other)}:{p.get('search.transport_port')}" for other in node_azs(ctx)]
    config: dict[str, Any] = {
        "cluster.name": "gameday-lab",
        "node.name": node_name(az),
        "node.attr.zone": az,
        "transport.host": address(ctx, az),
        "http.host": ctx.topology.host_address,
        "http.port": http_port(ctx, az),
        "transport.port": p.get("search.transport_port"),
        "discovery.seed_hosts": seeds,
        "cluster.initial_cluster_manager_nodes": [node_name(other) for other in node_azs(ctx)],
        # A primary and its replica never share an AZ.
        "cluster.routing.allocation.awareness.attributes": "zone",
        "path.data": str(data),
        "path.logs": str(logs),
        # 2 shared cores: size the thread pools for one.
        "node.processors": 1,
        # The lab's disk is the host's: its fill level is not the platform's problem.
        "cluster.routing.allocation.disk.threshold_enabled": False,
        "action.auto_create_index": False,
        "cluster.publish.timeout": f"{p.get('search.publish_timeout_s')}s",
        # Where snapshots may go (the DR region restores from there).
        "path.repo": [str(objectstore(ctx))],
    }
    return "".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items())


def jvm_options(heap_mb: int, tmp: Path) -> list[str]:
    return [
        f"-Xms{heap_mb}m", f"-Xmx{heap_mb}m", "-XX:+UseSerialGC", f"-XX:MaxDirectMemorySize={heap_mb // 2}m",
        "-XX:+ExitOnOutOfMemoryError", f"-Djava.io.tmpdir={tmp}",
        "-Djava.security.manager=allow",
        "-Djava.util.concurrent.ForkJoinPool.common.threadFactory=org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory",
        "-Dlog4j2.formatMsgNoLookups=true", "-Dio.netty.noUnsafe=true", "-Dio.netty.noKeySetOptimization=true",
        "-Dio.netty.recycler.maxCapacityPerThread=0", "-Djna.nosys=true", "-Dfile.encoding=UTF-8",
        "-Djava.net.preferIPv4Stack=true",
    ]  # fmt: skip


def _health(url: str) -> Callable[[], str | None]:
    def check() -> str | None:
        """Healthy = this node answers and is in a cluster with an elected manager."""
        try:
            body = get_json(f"{url}/_cluster/health?local=true", timeout_s=1.0)
        except (OSError, ValueError) as exc:
            return f"{url}: {type(exc).__name__}"
        return None if body.get("discovered_cluster_manager") else f"{url}: no cluster manager yet"

    return check


def specs(ctx: LabContext) -> list[ComponentSpec]:
    p = ctx.profile
    home = distribution()
    log4j = home / "config" / "log4j2.properties"
    repo = objectstore(ctx)
    repo.mkdir(parents=True, exist_ok=True)
    for path in (repo.parent, repo):
        os.chown(path, NOBODY, NOBODY)
    out = []
    for az, url in zip(node_azs(ctx), urls(ctx)):
        name = node_name(az)
        node = node_root(ctx) / name
        conf, data, logs, tmp = node / "conf", node / "data", node / "logs", node / "tmp"
        for d in (conf, data, logs, tmp):
            d.mkdir(parents=True, exist_ok=True)
        (conf / "opensearch.yml").write_text(render_config(ctx, az, data, logs))
        shutil.copyfile(log4j, conf / "log4j2.properties")
        # What the lab made for the node, not the node's own files: a running node's segments
        # come and go under it (`lab status` builds these specs too, and lost that race).
        for path in (node, conf, data, logs, tmp, *conf.iterdir()):
            os.chown(path, NOBODY, NOBODY)
        node.chmod(0o700)
        argv = [
            *RUN_AS, "java", *jvm_options(p.get("search.heap_mb"), tmp),
            f"-Dopensearch.path.home={home}", f"-Dopensearch.path.conf={conf}",
            "-Dopensearch.distribution.type=zip", "-Dopensearch.bundled_jdk=false",
            "-cp", f"{home}/lib/*", MAIN_CLASS,
        ]  # fmt: skip
        out.append(ComponentSpec(name, "search", az, argv, _health(url), ctx.topology.host_address, http_port(ctx, az), role=Role.SEARCH, host_network=True))
    return out


def prepare(ctx: LabContext) -> None:
    """A new lab starts with an empty index."""
    shutil.rmtree(node_root(ctx), ignore_errors=True)


# --- the index -------------------------------------------------------------------------------


def index_body(ctx: LabContext) -> dict[str, Any]:
    """Settings from the plan (1 replica, 1 s refresh) and the flight documents' mapping:
    what search filters, ranks and facets on, and the seats the stream keeps current. No
    fares: prices come from cache or store."""
    p = ctx.profile
    return {
        "settings": {
            "number_of_shards": p.get("search.shards"),
            "number_of_replicas": p.get("search.replicas"),
            "refresh_interval": f"{p.get('search.refresh_interval_s')}s",
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "flight_id": {"type": "keyword"},
                "carrier": {"type": "keyword"},
                "number": {"type": "integer"},
                "origin": {"type": "keyword"},
                "destination": {"type": "keyword"},
                "date": {"type": "date", "format": "yyyy-MM-dd"},
                "departs": {"type": "date"},
                "arrives": {"type": "date"},
                "departs_hour": {"type": "byte"},
                "duration_min": {"type": "short"},
                "stops": {"type": "byte"},
                "popularity": {"type": "float"},
                # What a supplier update changes that search shows; sold_out is what a
                # filter or facet on availability would use. Kept current by the stream.
                "seats": {"type": "integer"},
                "sold_out": {"type": "boolean"},
            },
        },
    }


def documents(tt: timetable.Timetable) -> Iterator[dict[str, Any]]:
    popularity = {(r.origin, r.destination): r.popularity for r in tt.routes}
    for f in tt.flights:
        yield timetable.index_document(f, popularity.get((f.origin, f.destination), 0.0))


def ready(ctx: LabContext, say: Callable[[str], None], timeout_s: float = 180) -> None:
    """After the nodes are healthy: create the index, load the timetable's flights (bulk,
    ids = flight ids, so a reload overwrites), and wait for green."""
    network.assert_routed_locally(ctx.topology, ctx.topology.host_address)
    p, url = ctx.profile, urls(ctx)[0]
    index = p.get("search.index")
    began = time.monotonic()
    request("PUT", f"{url}/{index}", index_body(ctx))
    tt = timetable.generate(seed=p.get("timetable.seed"), airports=p.get("timetable.airports"), flights=p.get("timetable.flights"),
                            days=p.get("timetable.days"), start=date.fromisoformat(p.get("timetable.start")))  # fmt: skip
    count = 0
    batch: list[str] = []
    for doc in documents(tt):
        batch += [json.dumps({"index": {"_index": index, "_id": doc["flight_id"]}}), json.dumps(doc)]
        if len(batch) >= 10_000:
            count += bulk(url, batch)
            batch = []
    if batch:
        count += bulk(url, batch)
    request("POST", f"{url}/{index}/_refresh", None)
    try:
        health = get_json(f"{url}/_cluster/health/{index}?wait_for_status=green&timeout={int(timeout_s)}s", timeout_s=timeout_s + 5)
    except urllib.error.HTTPError as exc:  # 408: not green within the timeout; the body says how it is
        health = json.loads(exc.read() or b"{}")
    if health.get("status") != "green":
        raise LabError(f"index {index} is {health.get('status')} after {timeout_s:.0f} s", hint=f"see {ctx.home / 'logs'}/search-*.log")
    say(f"search: indexed {count} flights into {index} ({p.get('search.shards')} shards, {p.get('search.replicas')} replica(s)) in {time.monotonic() - began:.1f} s, green")
    searches, took = warm_searches(urls(ctx), index, tt, p.get("search.warmup_s"))
    if searches:
        say(f"search read path warmed: {searches} searches in {took:.1f} s ({searches / max(took, 1e-9):.0f}/s)")


def warm_searches(node_urls: list[str], index: str, tt: timetable.Timetable, seconds: float, *, concurrency: int = 4) -> tuple[int, float]:
    """Ask the index the API's own search, over routes and days drawn uniformly (every part of
    the index, not only the popular routes), each node in turn the coordinator, for about
    `seconds`. A fresh OpenSearch JVM answered 44 searches/s from one client where a warm one
    answered 137-156/s; a first drill on a cold cache asks it for every search at once, and
    at 150 req/s that failed 18.8 % of its searches. Returns (searches, seconds taken)."""
    from concurrent.futures import ThreadPoolExecutor

    from flightsearch.api.index import SearchIndex, query

    if seconds <= 0 or not node_urls:
        return 0, 0.0
    began = time.monotonic()
    deadline = began + seconds

    def worker(n: int) -> int:
        rng, done = random.Random(n), 0
        while time.monotonic() < deadline:
            route, day = rng.choice(tt.routes), tt.start + timedelta(days=rng.randrange(tt.days))
            params = urllib.parse.urlencode(SearchIndex.params(json.dumps(query(route.origin, route.destination, day))))
            get_json(f"{node_urls[(n + done) % len(node_urls)]}/{index}/_search?{params}", timeout_s=10)
            done += 1
        return done

    with ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(worker, range(concurrency)))
    return done, time.monotonic() - began


def bulk(url: str, lines: list[str]) -> int:
    body = request("POST", f"{url}/_bulk", "\n".join(lines) + "\n", content_type="application/x-ndjson", timeout_s=120)
    if body.get("errors"):
        first = next((i for i in body["items"] if i.get("index", {}).get("error")), {})
        raise LabError(f"bulk indexing failed: {json.dumps(first)[:300]}")
    return len(body.get("items", []))


# --- a small HTTP client (the harness side; the API has its own, async) -----------------------


def request(method: str, url: str, body: Any, *, content_type: str = "application/json", timeout_s: float = 30) -> dict[str, Any]:
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise LabError(f"{method} {url}: HTTP {exc.code}: {detail}") from None


def get_json(url: str, timeout_s: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return json.loads(resp.read())
