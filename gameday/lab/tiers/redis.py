"""Redis hot cache: primary in az-a, replicas in az-b and az-c, one Sentinel per AZ."""

from __future__ import annotations

import redis

from gameday.clients import redis as redis_client
from gameday.lab.components import ComponentSpec
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext
from gameday.target import Role

PRIMARY_AZ = "az-a"


def node_name(az: str) -> str:
    return f"redis-{az[-1]}"


def sentinel_name(az: str) -> str:
    return f"sentinel-{az[-1]}"


def _client(host: str, port: int) -> redis.Redis:
    return redis_client.client(host, port, 0.5)


def redis_health(host: str, port: int):
    def check() -> str | None:
        try:
            info = _client(host, port).info("replication")
        except redis.RedisError as exc:
            return f"redis {host}:{port}: {exc}"
        # Roles move in a failover: judge the node by the role it has now.
        if info.get("role") == "slave" and info.get("master_link_status") != "up":
            return f"replica {host}:{port} not yet in sync with its primary"
        return None

    return check


def _sentinel_health(host: str, port: int, service: str):
    def check() -> str | None:
        try:
            master = _client(host, port).execute_command("SENTINEL", "MASTER", service)
        except redis.RedisError as exc:
            return f"sentinel {host}:{port}: {exc}"
        state = dict(zip(master[::2], master[1::2])) if isinstance(master, list) else master
        if int(state.get("num-other-sentinels", 0)) < len(AZS) - 1 or int(state.get("num-slaves", 0)) < len(AZS) - 1:
            return f"sentinel {host}:{port} sees {state.get('num-other-sentinels')} other sentinels and {state.get('num-slaves')} replicas"
        return None

    return check


def announce(addr: str, sentinel: bool = False) -> list[str]:
    """Config lines that make a node or Sentinel connect from, and name itself by, its own AZ
    address. Inside a namespace that is the only address there is; in the loopback lab a
    connection between two loopback aliases leaves from 127.0.0.1 otherwise, so every replica
    registered as 127.0.0.1:6379 and every Sentinel announced 127.0.0.1:26379 (issue 15)."""
    return [f"bind-source-addr {addr}", f"sentinel announce-ip {addr}" if sentinel else f"replica-announce-ip {addr}"]


def specs(ctx: LabContext) -> list[ComponentSpec]:
    p, topo = ctx.profile, ctx.topology
    port, sport = p.get("redis.port"), p.get("redis.sentinel.port")
    service = p.get("redis.sentinel.service")
    primary = topo.address(PRIMARY_AZ)
    out = []
    for az in AZS:
        name, addr = node_name(az), topo.address(az)
        lines = [
            f"bind {addr}",
            f"port {port}",
            "protected-mode no",
            'save ""',
            "appendonly no",
            f"maxmemory {p.get('redis.maxmemory_mb')}mb",
            f"maxmemory-policy {p.get('redis.maxmemory_policy')}",
            f"dir {ctx.data_dir(name)}",
            "replica-serve-stale-data yes",
            "repl-diskless-sync-delay 0",
            f"min-replicas-to-write {p.get('redis.min_replicas_to_write')}",
            f"min-replicas-max-lag {p.get('redis.min_replicas_max_lag_s')}",
            *announce(addr),
        ]
        if az != PRIMARY_AZ:
            lines.append(f"replicaof {primary} {port}")
        conf = ctx.conf_dir(name) / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        out.append(ComponentSpec(name, "redis", az, ["redis-server", str(conf)], redis_health(addr, port), addr, port, role=Role.REDIS))
    for az in AZS:
        name, addr = sentinel_name(az), topo.address(az)
        conf = ctx.conf_dir(name) / "sentinel.conf"
        conf.write_text(
            "\n".join(
                [
                    f"bind {addr}",
                    f"port {sport}",
                    "protected-mode no",
                    f"dir {ctx.data_dir(name)}",
                    *announce(addr, sentinel=True),
                    f"sentinel monitor {service} {primary} {port} {p.get('redis.sentinel.quorum')}",
                    f"sentinel down-after-milliseconds {service} {p.get('redis.sentinel.down_after_ms')}",
                    f"sentinel failover-timeout {service} {p.get('redis.sentinel.failover_timeout_ms')}",
                    f"sentinel parallel-syncs {service} {p.get('redis.sentinel.parallel_syncs')}",
                ]
            )
            + "\n"
        )
        out.append(ComponentSpec(name, "redis", az, ["redis-server", str(conf), "--sentinel"], _sentinel_health(addr, sport, service), addr, sport, role=Role.SENTINEL))
    return out


def rejoin_args(ctx: LabContext, name: str) -> list[str]:
    """Arguments that bring a restarted node back as a replica of the primary the
    Sentinels name, so a restarted old primary never serves as a second primary."""
    p, topo = ctx.profile, ctx.topology
    for az in AZS:
        try:
            addr = redis_client.primary_named_by(_client(topo.address(az), p.get("redis.sentinel.port")), p.get("redis.sentinel.service"))
        except redis.RedisError:
            continue
        if addr and addr != (topo.address(_az_of(name)), p.get("redis.port")):
            return ["--replicaof", addr[0], str(addr[1])]
        if addr:  # still the primary (no failover happened): not the config file's replicaof
            return ["--replicaof", "no", "one"]
    return []


def _az_of(name: str) -> str:
    return f"az-{name.rsplit('-', 1)[-1]}"
