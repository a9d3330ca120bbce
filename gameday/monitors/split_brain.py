"""Split brain, counted (Jepsen's register client, for the hot cache).

Through a partition, the old Redis primary keeps its role: Sentinels on the majority side
promote a replica, but nobody tells the isolated server, and clients in its AZ (whose
Sentinel still names it) go on writing to it. This writer is those clients: every tick it
asks each Redis server for its ROLE and writes a unique key to every one that answers
`master`, as the platform's clients are told to write (`redis.client_wait_replicas`: with
1, a write counts as acknowledged only once WAIT saw a replica take it; with 0, the
server's OK is the acknowledgement). Each attempt is a `LeaderWrite`.

After the heal, every acknowledged key is read from the primary the majority of Sentinels
then names (`LeaderReadBack`): a key that is gone was acknowledged by a side the majority
never heard from, which is data loss. Two servers acknowledging writes in the same second
is two leaders at once (gameday.checkers.consistency).

The other tiers' leaders are asked, not written to: each search node for the cluster manager
it follows, each Kafka broker for the active controller it forwards to, each ZooKeeper node
whether it serves as leader, each Flink JobManager whether its dispatcher holds the leadership
(`LeaderClaim`), so the report can say when two members each believed they led. All of them
elect by quorum (ZooKeeper's for Flink), so a leader left in the minority cannot commit; the
claims show how long it went on believing.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from gameday.clients import redis as redis_client
from gameday.history import History, LeaderClaim, LeaderReadBack, LeaderWrite, Recorder
from gameday.monitors import Sampler
from gameday.target import Role

SLOS = ("consistency.split_brain_writes_lost", "consistency.single_leader")
TIMEOUT_S = 0.3
# How long a write waits for its replica (WAIT's timeout): a healthy replica acknowledges
# within milliseconds; an isolated primary has none to wait for.
WAIT_MS = 200
KEY_TTL_S = 3600
INTERVAL_S = 0.5
# A member asked whom it follows gets longer than a write: on the saturated full lab a search
# node's answer takes more than 0.3 s, and an unanswered ask records nothing.
CLAIM_TIMEOUT_S = 1.0


def wanted(slos: Sequence[str]) -> bool:
    return bool(set(SLOS) & set(slos))


def key_prefix(started: float) -> str:
    return f"gameday:leader:{time.strftime('%Y%m%dT%H%M%S', time.gmtime(started))}"


def samplers(recorder: Recorder, target: Any, profile: Any, started: float) -> list[Sampler]:
    """One writer per Redis server, each on its own thread (an isolated server's WAIT must
    not delay the writes to the others)."""
    replicas = profile.get("redis.client_wait_replicas")
    prefix = key_prefix(started)
    return [_writer(recorder, name, host, port, replicas, f"{prefix}:{name}") for name, (host, port) in target.redis_nodes().items()]


def claim_samplers(recorder: Recorder, target: Any) -> list[Sampler]:
    """One asker per search node, Kafka broker, ZooKeeper node and Flink JobManager the target
    runs, each on its own thread (a cut-off member's timeout must not delay the others)."""
    out = [_claims(recorder, "search", name, target.search_manager_seen_by) for name in target.search_nodes()]
    out += [_claims(recorder, "kafka", name, target.kafka_controller_seen_by) for name in target.kafka_brokers()]
    out += [_claims(recorder, "zookeeper", name, target.zookeeper_leader_seen_by) for name in target.components(Role.ZOOKEEPER)]
    return out + [_claims(recorder, "flink", name, target.flink_leadership_seen_by) for name in target.components(Role.JOBMANAGER)]


def _claims(recorder: Recorder, tier: str, name: str, ask: Callable[[str, float], str]) -> Sampler:
    def sample() -> None:
        try:
            leader = ask(name, CLAIM_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - down, cut off, or mid-election: it claims nothing
            return
        recorder.add(LeaderClaim(t=time.time(), tier=tier, node=name, leader=leader))

    return Sampler(f"leader-claims-{name}", 1.0, sample)


def _writer(recorder: Recorder, name: str, host: str, port: int, replicas: int, prefix: str) -> Sampler:
    client = redis_client.client(host, port, TIMEOUT_S + WAIT_MS / 1000)
    seq = itertools.count()

    def sample() -> None:
        try:
            if client.execute_command("ROLE")[0] != "master":
                return
        except redis.RedisError:
            return  # down or unreachable: it claims nothing a client could use
        key = f"{prefix}:{next(seq):07d}"
        try:
            client.set(key, "1", ex=KEY_TTL_S)
            took = client.execute_command("WAIT", replicas, WAIT_MS) if replicas else 0
        except redis.RedisError as exc:  # NOREPLICAS (min-replicas-to-write), READONLY, timeouts
            recorder.add(LeaderWrite(t=time.time(), tier="redis", node=name, key=key, acked=False, error=str(exc)[:160]))
            return
        acked = took >= replicas
        error = "" if acked else f"WAIT saw {took} of {replicas} replicas in {WAIT_MS} ms"
        recorder.add(LeaderWrite(t=time.time(), tier="redis", node=name, key=key, acked=acked, replicas=int(took), error=error))

    return Sampler(f"leader-writer-{name}", INTERVAL_S, sample)


def read_back(target: Any, written: list[str], settle_s: float = 30.0) -> LeaderReadBack:
    """Every acknowledged key, from the primary a majority of Sentinels names once one
    does (bounded: the Sentinels reconfigure the old primary within seconds of the heal)."""
    deadline, primary = time.monotonic() + settle_s, None
    while time.monotonic() < deadline:
        try:
            primary = target.redis_primary()
        except Exception:  # noqa: BLE001 - any failed ask is the same: no primary yet
            primary = None
        if primary:
            break
        time.sleep(1.0)
    if not primary:
        return LeaderReadBack(t=time.time(), tier="redis", node="", checked=len(written), error=f"no primary named by a majority of Sentinels within {settle_s:g} s")
    host, port = target.redis_nodes()[primary]
    client = redis_client.client(host, port, 5.0)
    missing: list[str] = []
    try:
        for i in range(0, len(written), 500):
            batch = written[i : i + 500]
            pipe = client.pipeline(transaction=False)
            for key in batch:
                pipe.exists(key)
            found = pipe.execute()
            missing += [k for k, n in zip(batch, found) if not n]
    except redis.RedisError as exc:
        return LeaderReadBack(t=time.time(), tier="redis", node=primary, checked=len(written), error=f"{type(exc).__name__}: {exc}"[:200])
    return LeaderReadBack(t=time.time(), tier="redis", node=primary, checked=len(written), missing=tuple(missing))


def read_back_run(history_path: Any, target: Any, say: Callable[[str], None]) -> LeaderReadBack:
    written = [w.key for w in History.read(history_path).of(LeaderWrite) if w.acked]
    say(f"reading back {len(written)} acknowledged Redis writes from the primary the Sentinels name")
    out = read_back(target, written)
    say(f"Redis read-back from {out.node or '?'}: " + (out.error or f"{out.checked - len(out.missing)}/{out.checked} found"))
    return out
