"""The lab target: the local lab of real processes (gameday.lab). Faults are signals to
tracked PIDs; lookups ask the running components the way a real deployment is asked.

Every lab address is checked to be routed to the lab's own bridge (and the network guard
installed) before anything is sent to it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import redis

from gameday.clients import kafka as kafka_client
from gameday.clients import kafka_query
from gameday.clients import redis as redis_client
from gameday.clients.flink import rest_get
from gameday.errors import LabError, TargetError
from gameday.lab import network
from gameday.lab.state import LabState
from gameday.lab.supervisor import Lab
from gameday.lab.tiers import api as api_tier
from gameday.lab.tiers import cassandra as store_tier
from gameday.lab.tiers import flink as flink_tier
from gameday.lab.tiers import ingest as ingest_tier
from gameday.lab.tiers import kafka as kafka_tier
from gameday.lab.tiers import redis as redis_tier
from gameday.lab.tiers import search as search_tier
from gameday.lab.tiers import stream as stream_tier
from gameday.lab.tiers import zookeeper as zookeeper_tier
from gameday.procs import Tracked
from gameday.profile import Profile
from gameday.profile.live import REDIS_LIVE, SENTINEL_LIVE
from gameday.target import Address, Partition, Role, StreamJob, Topic

_TIMEOUT_S = 0.5
# A lab address is checked (routed to the lab's bridge, guard installed) before it is used,
# and again after this long: a poll every 200 ms must not spawn `ip` and `nft` for every
# address it touches (that was over 200 processes a second on a 2-core host).
ROUTE_RECHECK_S = 1.0


class LabTarget:
    name = "lab"
    runs_locally = True

    def __init__(self, lab: Lab, st: LabState) -> None:
        self.lab = lab
        self.st = st
        self.ctx = lab.context(st)  # the lab's own settings, as it was started
        self._checked: dict[str, float] = {}  # address -> when it was last found routed
        self._sentinel_clients: dict[Address, redis.Redis] = {}  # one per Sentinel while polling
        self._jm_beliefs: dict[str, flink_tier.LeadershipLog] = {}  # JobManager -> its log, read so far

    @classmethod
    def open(cls, profile: Profile) -> "LabTarget":
        """The lab running at the profile's home, driven with the run's profile (the lab's
        own settings with the run's per-run keys over them)."""
        st = Lab(profile).require_state()
        return cls(Lab(profile.over(st.profile, profile.source)), st)

    @property
    def profile(self) -> Profile:
        """The run's profile: the lab's settings with the run's keys over them."""
        return self.lab.profile

    def settings(self) -> dict[str, Any]:
        """The profile the lab was started with (what a run's profile is compared with)."""
        return self.ctx.profile.data

    def _routed(self, address: str) -> str:
        now = time.monotonic()
        if now - self._checked.get(address, float("-inf")) > ROUTE_RECHECK_S:
            network.assert_routed_locally(self.st.topology, address)
            self._checked[address] = now
        return address

    def _addr(self, az: str, port_key: str) -> Address:
        return self._routed(self.st.topology.address(az)), self.ctx.profile.get(port_key)

    # --- what runs -------------------------------------------------------------------------
    def tiers(self) -> list[str]:
        return list(self.st.tiers)

    def azs(self) -> tuple[str, ...]:
        return network.AZS

    def components(self, role: Role | None = None, az: str | None = None) -> list[str]:
        st = self.lab.require_state()
        return sorted(n for n, t in st.components.items() if (role is None or t.role == role.value) and (az is None or t.az == az))

    def az_of(self, component: str) -> str:
        return self.lab.component(component).az

    def unhealthy(self, tiers: list[str]) -> list[str]:
        return [f"{s.name} {s.state} {s.problem}".strip() for s in self.lab.status() if s.state != "healthy" and s.tier in tiers]

    def down_components(self) -> list[str]:
        st = self.lab.require_state()
        return [name for name, t in st.components.items() if not t.alive()]

    def restarts_of(self, component: str) -> list[float]:
        return list(self.lab.require_state().restarts.get(component, []))

    # --- faults --------------------------------------------------------------------------------
    def kill(self, component: str) -> float:
        return self.lab.send(component, signal.SIGKILL)

    def stop(self, component: str) -> float:
        return self.lab.send(component, signal.SIGTERM)

    def freeze(self, component: str) -> float:
        return self.lab.send(component, signal.SIGSTOP)

    def resume(self, component: str) -> float:
        return self.lab.send(component, signal.SIGCONT)

    def restart(self, component: str) -> float:
        """A Redis node comes back as a replica of the primary the Sentinels name."""
        return self.lab.restart(component)

    def lose_az(self, az: str) -> tuple[float, list[str]]:
        self._known_az(az)
        return self.lab.lose_az(az)

    def regain_az(self, az: str) -> list[str]:
        self._known_az(az)
        return self.lab.regain_az(az)

    def az_cpu_caps(self) -> dict[str, float | None]:
        """Read from the kernel (the AZ's control group), not from the profile."""
        from gameday.lab import azgroups

        groups = azgroups.for_lab(self.st.topology.bridge)
        return {az: groups.quota_cores(az) if groups else None for az in self.azs()}

    def az_cpu_throttling(self) -> dict[str, tuple[int, int] | None]:
        from gameday.lab import azgroups

        groups = azgroups.for_lab(self.st.topology.bridge)
        return {az: groups.throttling(az) if groups else None for az in self.azs()}

    def cannot_inject(self) -> dict[str, str]:
        if self.st.topology.isolation is network.Isolation.NETNS:
            return {}
        why = "cutting an AZ off the network needs the namespace lab (root); this lab runs in loopback mode, where the AZs share one network stack"
        return {"partition_az": why, "heal_az": why}

    def partition_az(self, az: str, mode: str) -> float:
        from gameday.lab.partition import PartitionMode

        self._known_az(az)
        try:
            chosen = PartitionMode(mode)
        except ValueError:
            raise ValueError(f"no partition mode {mode!r}; modes: {', '.join(m.value for m in PartitionMode)}") from None
        return self.lab.partition_az(az, chosen)  # the mode checked here names the choices

    def heal_az(self, az: str) -> float:
        self._known_az(az)
        return self.lab.heal_az(az)

    def lose_region(self) -> tuple[float, list[str]]:
        if "dr" not in self.tiers():
            raise LabError("this lab has no DR region: losing the primary region would leave nothing to fail over to",
                           hint="start the lab with the dr tier (gameday lab up --tiers ...,dr)")
        return self.lab.lose_region()

    # --- the pilot-light DR region ---------------------------------------------------------------
    def dr_status(self) -> list[str]:
        from gameday.lab.dr.status import status_lines

        return status_lines(self.lab)

    def dr_promote(self, say: Any, force: bool = False) -> bool:
        from gameday.lab.dr import plan
        from gameday.lab.dr.promote import guard_primary_down, promote

        if "dr" not in self.tiers():
            raise LabError("this lab has no DR region to promote", hint="start the lab with the dr tier (gameday lab up --tiers ...,dr)")
        steps = plan.load(self.ctx.profile.get("dr.plan"))
        note = guard_primary_down(self.lab, force)
        return promote(self.lab, steps, "operator", say, note=note)

    def dr_promotion(self) -> list[Any]:
        from gameday.lab.dr.status import promotion_events

        return promotion_events(self.lab.home)

    def dr_kafka_bootstrap(self) -> str:
        from gameday.lab.tiers import dr as dr_tier

        self._routed(dr_tier.address(self.ctx))
        return dr_tier.bootstrap(self.ctx)

    def dr_store_node(self) -> dict[str, Address]:
        from gameday.lab.tiers import dr as dr_tier

        host = self._routed(dr_tier.address(self.ctx))
        return {store_tier.DR_NODE: (host, self.ctx.profile.get("cassandra.native_port"))}

    def dr_lake_dir(self) -> Path | None:
        from gameday.lab.dr import stream as dr_stream

        return dr_stream.lake_dir(self.ctx) if "stream" in self.tiers() and "dr" in self.tiers() else None

    def failed_away_from(self) -> list[str]:
        from gameday.history import PromotionPhase

        if not any(e.phase is PromotionPhase.DECIDED for e in self.dr_promotion()):
            return []
        st = self.lab.require_state()
        return [n for n, t in st.components.items() if t.az in network.AZS and not t.alive()]

    def _known_az(self, az: str) -> None:
        if az not in self.azs():
            raise ValueError(f"no AZ {az!r} in the lab; AZs: {', '.join(self.azs())}")

    # --- addresses ---------------------------------------------------------------------------
    def lb_url(self) -> str:
        return api_tier.lb_url(self.ctx)

    def static_url(self) -> str:
        """An endpoint HAProxy answers itself (load-generator benchmarks; lab only)."""
        return api_tier.static_url(self.ctx)

    def balancer_view(self) -> dict[str, str]:
        """HAProxy's own CSV statistics (loopback): each server of the API backend, its status."""
        url = f"http://127.0.0.1:{self.ctx.profile.get('haproxy.stats_port')}/stats;csv"
        try:
            with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        return api_tier.backend_states(text)

    def api_instances(self) -> dict[str, str]:
        out = {}
        for spec in api_tier.specs(self.ctx):
            if spec.az:
                out[spec.name] = f"http://{self._routed(spec.address)}:{spec.port}"
        return out

    def redis_nodes(self) -> dict[str, Address]:
        return {redis_tier.node_name(az): self._addr(az, "redis.port") for az in network.AZS}

    def sentinels(self) -> dict[str, Address]:
        return {redis_tier.sentinel_name(az): self._addr(az, "redis.sentinel.port") for az in network.AZS}

    def redis_service(self) -> str:
        return self.ctx.profile.get("redis.sentinel.service")

    def node_at(self, address: Address) -> str:
        host, port = address
        for name, addr in {**self.redis_nodes(), **self.sentinels()}.items():
            if addr == (host, int(port)):
                return name
        return f"{host}:{port}"

    def _check_lab_addresses(self) -> None:
        for az in network.AZS:
            self._routed(self.st.topology.address(az))

    def store_nodes(self) -> dict[str, Address]:
        if "cassandra" not in self.tiers():
            return {}
        port = self.ctx.profile.get("cassandra.native_port")
        return {store_tier.node_name(az): (self._routed(self.st.topology.address(az)), port) for az in store_tier.node_azs(self.ctx)}

    def search_nodes(self) -> dict[str, str]:
        if "search" not in self.tiers():
            return {}
        self._routed(self.st.topology.host_address)  # the nodes' HTTP: see lab/tiers/search.py
        return dict(zip(map(search_tier.node_name, search_tier.node_azs(self.ctx)), search_tier.urls(self.ctx)))

    def search_copies(self) -> dict[str, int]:
        nodes = self.search_nodes()
        copies = dict.fromkeys(nodes, 0)
        for url in nodes.values():
            try:
                rows = search_tier.get_json(f"{url}/_cat/shards/{self.ctx.profile.get('search.index')}?format=json", timeout_s=2.0)
            except (OSError, ValueError):
                continue
            for row in rows:
                if row.get("node") in copies and row.get("state") == "STARTED":
                    copies[row["node"]] += 1
            return copies
        raise TargetError("no search-index node answered _cat/shards")

    def search_cluster_manager(self) -> str | None:
        """Node names are component names (search-a...); the first node that answers tells."""
        for url in self.search_nodes().values():
            try:
                answer = search_tier.get_json(f"{url}/_cat/cluster_manager?format=json", timeout_s=_TIMEOUT_S)
            except (OSError, ValueError):
                continue
            if answer and answer[0].get("node"):
                return answer[0]["node"]
        return None

    def kafka_brokers(self) -> dict[str, Address]:
        if "kafka" not in self.tiers():
            return {}
        return {kafka_tier.node_name(az): self._addr(az, "kafka.port") for az in network.AZS}

    def search_manager_seen_by(self, node: str, timeout_s: float) -> str:
        answer = search_tier.get_json(f"{self.search_nodes()[node]}/_cat/cluster_manager?format=json&local=true", timeout_s=timeout_s)
        return (answer[0].get("node") or "") if answer else ""

    def kafka_controller_seen_by(self, broker: str, timeout_s: float) -> str:
        host, port = self.kafka_brokers()[broker]
        leader = kafka_client.active_controller(host, port, timeout_s)
        return self.kafka_broker(leader) if leader >= 0 else ""

    def flink_leadership_seen_by(self, jobmanager: str, timeout_s: float) -> str:
        """From the JobManager's own log (its dispatcher's grant and revoke lines), read on from
        where the last call stopped: Flink's REST answers for whichever JobManager ZooKeeper
        names, so only the process itself tells what it believes."""
        tracked = self.lab.require_state().components.get(jobmanager)  # fresh: a restart changes the PID
        if tracked is None or not tracked.alive():
            raise TargetError(f"{jobmanager} is not running")
        belief = self._jm_beliefs.setdefault(jobmanager, flink_tier.LeadershipLog(Path(tracked.log)))
        return jobmanager if belief.read_on() else ""

    def zookeeper_leader_seen_by(self, node: str, timeout_s: float) -> str:
        az = next(a for a in network.AZS if zookeeper_tier.node_name(a) == node)
        mode = zookeeper_tier.mode(self._routed(self.st.topology.address(az)), self.ctx.profile.get("zookeeper.client_port"), timeout_s)
        if mode not in ("leader", "follower"):
            raise TargetError(f"{node} is not serving in a quorum (mode: {mode or 'no answer'})")
        return node if mode == "leader" else ""

    def kafka_bootstrap(self) -> str:
        self._check_lab_addresses()
        return kafka_tier.bootstrap_servers(self.ctx)

    def zk_quorum(self) -> str:
        self._check_lab_addresses()
        return zookeeper_tier.quorum(self.ctx)

    def flink_leader_path(self) -> str:
        return flink_tier.REST_LEADER_PATH

    def prometheus_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ctx.profile.get('prometheus.port')}" if "metrics" in self.st.tiers else None

    # --- the system's own answers --------------------------------------------------------------
    def sentinel_views(self) -> dict[str, str]:
        views = {}
        for name, (host, port) in self.sentinels().items():
            client = self._sentinel_clients.get((host, port))
            if client is None:
                client = self._sentinel_clients[(host, port)] = redis_client.client(host, port, _TIMEOUT_S)
            try:
                addr = redis_client.primary_named_by(client, self.redis_service())
            except redis.RedisError:
                addr = None
            views[name] = self.node_at(addr) if addr else ""
        return views

    def redis_primary(self) -> str | None:
        named = [v for v in self.sentinel_views().values() if v]
        quorum = len(self.sentinels()) // 2 + 1
        return next((name for name in sorted(set(named)) if named.count(name) >= quorum), None)

    def _kafka_query(self, what: str) -> Any:
        """Asked through a short-lived process: librdkafka clients crashed the harness."""
        proc = subprocess.run([sys.executable, "-m", "gameday.clients.kafka_query", self.kafka_bootstrap(), what], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise TargetError(proc.stderr.strip()[-500:] or f"kafka_query exited {proc.returncode}")
        return json.loads(proc.stdout)

    def settle(self, tiers: list[str]) -> list[str]:
        """The lab's brokers do not rebalance leaderships on their own timer (see
        lab/tiers/kafka.py); the harness does it here, before the drill's warm-up."""
        if "kafka" not in tiers or "kafka" not in self.tiers():
            return []
        return [f"kafka preferred leader election: {line}" for line in self._kafka_query(kafka_query.ELECT)]

    def kafka_topic(self, topic: str) -> Topic:
        info = self._kafka_query(topic)
        parts = {int(pid): Partition(p["leader"], tuple(p["replicas"]), tuple(p["isr"])) for pid, p in info["partitions"].items()}
        return Topic(topic, tuple(info["brokers"]), parts, info["config"])

    def kafka_broker(self, broker_id: int) -> str:
        for az in network.AZS:
            if kafka_tier.node_id(az) == broker_id:
                return kafka_tier.node_name(az)
        raise LabError(f"no lab component for broker {broker_id}")

    def kafka_broker_id(self, component: str) -> int:
        return kafka_tier.node_id(self.az_of(component))

    def kafka_controller(self) -> int:
        host, port = self.kafka_bootstrap().split(",")[0].rsplit(":", 1)
        return kafka_client.active_controller(host, int(port))

    def flink_leader(self) -> str | None:
        leader = flink_tier.rest_leader(self.zk_quorum(), flink_tier.REST_LEADER_PATH)
        return leader.rstrip("/") if leader else None

    def flink_component(self, rest_url: str) -> str:
        host = rest_url.split("//", 1)[-1].rsplit(":", 1)[0]
        az = self.st.topology.az_of_address(host)
        if az is None:
            raise LabError(f"the JobManager {rest_url} is not at a lab AZ address")
        return flink_tier.jobmanager_name(az)

    def stream_job(self) -> StreamJob | None:
        job = stream_tier.stream_job(self.ctx)
        if job is None:
            return None
        return StreamJob(job["jid"], job.get("state", ""), stream_tier.running_tasks(self.ctx, job))

    def stream_job_tasks(self) -> dict[str, int]:
        base, job = self.flink_leader(), stream_tier.stream_job(self.ctx)
        if base is None or job is None:
            raise TargetError("the stream job is not running")
        counts: dict[str, int] = {}
        for vertex in rest_get(f"{base}/jobs/{job['jid']}").get("vertices", []):
            for tm in rest_get(f"{base}/jobs/{job['jid']}/vertices/{vertex['id']}/taskmanagers").get("taskmanagers", []):
                tid = tm.get("taskmanager-id", "")  # the lab sets each TaskManager's resource id to its name
                counts[tid] = counts.get(tid, 0) + sum(tm.get("status-counts", {}).values())
        return counts

    def stream_job_name(self) -> str:
        return stream_tier.JOB_NAME

    # --- what a drill reads and leaves -----------------------------------------------------------
    def ingest_ack_dir(self) -> Path:
        return ingest_tier.ack_dir(self.ctx)

    def lake_dir(self) -> Path:
        return stream_tier.archive_dir(self.ctx)

    def component_logs(self) -> list[Path]:
        return sorted((self.lab.home / "logs").glob("*.log"))

    def apply_live(self, settings: dict[str, Any]) -> None:
        """Sentinel's settings with SENTINEL SET on every Sentinel, Redis's with CONFIG SET
        on every server."""
        unknown = sorted(set(settings) - set(SENTINEL_LIVE) - set(REDIS_LIVE))
        if unknown:
            raise LabError(f"the lab cannot change {', '.join(unknown)} live")
        for name, (host, port) in self.redis_nodes().items() if set(settings) & set(REDIS_LIVE) else ():
            client = redis_client.client(host, port, timeout_s=1)
            for key, value in ((k, v) for k, v in settings.items() if k in REDIS_LIVE):
                try:
                    client.execute_command("CONFIG", "SET", REDIS_LIVE[key], str(value))
                except redis.RedisError as exc:
                    raise LabError(f"could not set {key}={value} on {name}: {exc}") from None
        for name, (host, port) in self.sentinels().items():
            client = redis_client.client(host, port, timeout_s=1)
            for key, value in ((k, v) for k, v in settings.items() if k in SENTINEL_LIVE):
                try:
                    client.execute_command("SENTINEL", "SET", self.redis_service(), SENTINEL_LIVE[key], str(value))
                except redis.RedisError as exc:
                    raise LabError(f"could not set {key}={value} on {name}: {exc}") from None

    def track_helper(self, tracked: Tracked) -> None:
        self.lab.track_helper(tracked)

    def forget_helper(self, name: str) -> None:
        self.lab.forget_helper(name)

