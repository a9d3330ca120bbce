"""Redis samplers: roles as each server sees them, the primary as each Sentinel sees it,
and a client writing through Sentinel discovery the way the API does."""

from __future__ import annotations

import time

import redis

from gameday.clients import redis as redis_client
from gameday.history import Recorder, RedisRoleSample, SentinelSample, WriteSample
from gameday.monitors import Sampler

TIMEOUT_S = 0.25


def _client(host: str, port: int) -> redis.Redis:
    return redis_client.client(host, port, TIMEOUT_S)


def samplers(recorder: Recorder, target, interval_s: float) -> list[Sampler]:
    nodes = target.redis_nodes()
    sentinels = target.sentinels()
    service = target.redis_service()
    by_addr = {addr: name for name, addr in nodes.items()}
    out = []

    def role_sampler(name: str, host: str, port: int) -> Sampler:
        client = _client(host, port)

        def sample() -> None:
            try:
                role = client.execute_command("ROLE")
                master = by_addr.get((role[1], int(role[2])), f"{role[1]}:{role[2]}") if role[0] == "slave" else ""
                recorder.add(RedisRoleSample(t=time.time(), node=name, role=role[0], master=master))
            except redis.RedisError:
                recorder.add(RedisRoleSample(t=time.time(), node=name, role="down"))

        return Sampler(f"role-{name}", interval_s, sample)

    def sentinel_sampler(name: str, host: str, port: int) -> Sampler:
        client = _client(host, port)

        def sample() -> None:
            try:
                addr = redis_client.primary_named_by(client, service)
                primary = by_addr.get(addr, f"{addr[0]}:{addr[1]}") if addr else ""
            except redis.RedisError:
                primary = ""
            recorder.add(SentinelSample(t=time.time(), sentinel=name, primary=primary))

        return Sampler(f"sentinel-{name}", interval_s, sample)

    for name, (host, port) in nodes.items():
        out.append(role_sampler(name, host, port))
    for name, (host, port) in sentinels.items():
        out.append(sentinel_sampler(name, host, port))
    out.append(_writer(recorder, sentinels, service, by_addr, interval_s))
    return out


def _writer(recorder: Recorder, sentinels, service: str, by_addr, interval_s: float) -> Sampler:
    """Writes a key every tick: asks the Sentinels for the primary when it has none or a write fails."""
    sentinel_clients = [_client(h, p) for h, p in sentinels.values()]
    current: dict[str, object] = {"addr": None, "client": None}

    def discover() -> None:
        """The primary a majority of Sentinels names, else the first one named: a Sentinel cut
        off with the old primary (an AZ partition) still names it, and asked alone it would
        keep the writer on a primary the majority replaced."""
        named = []
        for sc in sentinel_clients:
            try:
                key = redis_client.primary_named_by(sc, service)
            except redis.RedisError:
                continue
            if key:
                named.append(key)
        key = next((k for k in named if named.count(k) > len(sentinel_clients) // 2), named[0] if named else None)
        if key is None:
            current["addr"] = current["client"] = None
        elif key != current["addr"] or current["client"] is None:
            # Also the same primary again, after a write it refused (NOREPLICAS just after its
            # promotion): keeping its address without a client left the writer asking no one
            # for the rest of a run (819 of 819 writes "failed" in an AZ outage drill).
            current["addr"], current["client"] = key, _client(*key)

    def sample() -> None:
        began = time.perf_counter()
        if current["client"] is None:
            discover()
        client = current["client"]
        node = by_addr.get(current["addr"], "") if current["addr"] else ""
        try:
            if client is None:
                raise redis.ConnectionError("no primary known to any Sentinel")
            client.set("gameday:probe:write", repr(time.time()))
            recorder.add(WriteSample(t=time.time(), ok=True, latency_ms=(time.perf_counter() - began) * 1000, node=node))
        except redis.RedisError as exc:  # includes READONLY from a demoted primary
            recorder.add(WriteSample(t=time.time(), ok=False, latency_ms=(time.perf_counter() - began) * 1000, node=node, error=str(exc)[:120]))
            current["client"] = None

    return Sampler("redis-writer", interval_s, sample)
