"""Kafka clients any target can use: an admin client, a topic's partitions and config,
and two requests confluent-kafka has no call for, by hand (the active KRaft controller,
and the brokers one broker itself lists).

confluent-kafka (librdkafka in a binary wheel) has a real admin API (topic configs, ISR),
an idempotent producer with acks=all, and costs far less CPU per message than a
pure-Python client, which matters on 2 cores. Its clients crashed the harness process
(see gameday.monitors.streaming), so the harness runs them in child processes.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

from flightsearch import RAW_TOPIC
from gameday.errors import TargetError

# librdkafka logs every refused connection at ERROR; probes of a dead broker are expected.
_QUIET = logging.getLogger("gameday.kafka.client")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


# Every admin client ever made lives as long as the process. Destroying one while
# librdkafka still resolves a request of it (a timed-out list_offsets, say) crashed the
# interpreter with SIGSEGV; a handful of idle clients cost nothing.
_ADMINS: list = []


def admin(bootstrap: str, timeout_ms: int = 1500):
    from confluent_kafka.admin import AdminClient

    client = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": timeout_ms, "logger": _QUIET})
    _ADMINS.append(client)
    return client


def describe_topic(bootstrap: str, topic: str = RAW_TOPIC, timeout_s: float = 5) -> dict[str, Any]:
    """Partitions with leader, replicas and ISR, plus the topic's effective config."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    client = admin(bootstrap)
    md = client.list_topics(topic=topic, timeout=timeout_s)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        raise TargetError(f"topic {topic}: {t.error if t else 'missing'}")
    resource = ConfigResource(ResourceType.TOPIC, topic)
    config = client.describe_configs([resource], request_timeout=timeout_s)[resource].result(timeout=timeout_s)
    return {
        "brokers": sorted(md.brokers),
        "partitions": {pid: {"leader": p.leader, "replicas": list(p.replicas), "isr": list(p.isrs)} for pid, p in sorted(t.partitions.items())},
        "config": {k: v.value for k, v in config.items()},
    }


def off_preferred(partitions: dict[tuple[str, int], tuple[int, tuple[int, ...], tuple[int, ...]]]) -> list[tuple[str, int]]:
    """(topic, partition) whose leader is not its preferred replica (the first listed) while
    that replica is in sync, so a preferred election can move the leadership back."""
    return sorted(tp for tp, (leader, replicas, isr) in partitions.items() if replicas and leader != replicas[0] and replicas[0] in isr)


def elect_preferred(bootstrap: str, timeout_s: float = 15) -> list[str]:
    """Move every partition's leadership (internal topics too) back to its preferred replica
    where it is in sync; one line per partition moved. What an operator runs after a broker
    came back, and what the broker's own rebalancer would do on its timer."""
    from confluent_kafka import ElectionType, TopicPartition

    client = admin(bootstrap)
    md = client.list_topics(timeout=timeout_s)
    state = {(name, pid): (p.leader, tuple(p.replicas), tuple(p.isrs)) for name, t in md.topics.items() for pid, p in t.partitions.items()}
    moving = off_preferred(state)
    if not moving:
        return []
    result = client.elect_leaders(ElectionType.PREFERRED, [TopicPartition(t, p) for t, p in moving]).result(timeout=timeout_s)
    lines = []
    for tp, error in sorted(result.items(), key=lambda kv: (kv[0].topic, kv[0].partition)):
        leader, replicas, _ = state[(tp.topic, tp.partition)]
        outcome = f"failed: {error}" if error is not None else "moved"
        lines.append(f"{tp.topic}-{tp.partition} leader {leader} -> {replicas[0]} {outcome}")
    return lines


# --- the active KRaft controller ------------------------------------------------------------
# Brokers in KRaft mode report a random live broker as "controller" in metadata, so the
# active controller comes from DescribeQuorum (API key 55, KIP-836), which a broker
# forwards to the controllers. confluent-kafka has no call for it: this is the v0
# request and the start of its response, by hand.

_DESCRIBE_QUORUM = 55


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_uvarint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def describe_quorum_request(correlation_id: int = 1, client_id: str = "gameday") -> bytes:
    topic = b"__cluster_metadata"
    header = _DESCRIBE_QUORUM.to_bytes(2, "big") + (0).to_bytes(2, "big") + correlation_id.to_bytes(4, "big")
    header += len(client_id).to_bytes(2, "big") + client_id.encode() + b"\x00"  # request header v2
    body = _uvarint(2) + _uvarint(len(topic) + 1) + topic  # one topic
    body += _uvarint(2) + (0).to_bytes(4, "big") + b"\x00"  # one partition: index 0, no tags
    body += b"\x00" + b"\x00"  # topic tags, request tags
    msg = header + body
    return len(msg).to_bytes(4, "big") + msg


def parse_quorum_leader(payload: bytes) -> int:
    """LeaderId from a DescribeQuorum v0 response (without its 4-byte size); raises on an error code."""
    i = 4  # correlation id
    _, i = _read_uvarint(payload, i)  # header tagged fields (none)
    error = int.from_bytes(payload[i : i + 2], "big", signed=True)
    i += 2
    if error:
        raise TargetError(f"DescribeQuorum failed with error code {error}")
    _, i = _read_uvarint(payload, i)  # topics array length + 1
    name_len, i = _read_uvarint(payload, i)
    i += name_len - 1
    _, i = _read_uvarint(payload, i)  # partitions array length + 1
    i += 4  # partition index
    perror = int.from_bytes(payload[i : i + 2], "big", signed=True)
    i += 2
    if perror:
        raise TargetError(f"DescribeQuorum failed for __cluster_metadata with error code {perror}")
    return int.from_bytes(payload[i : i + 4], "big", signed=True)


def _exchange(host: str, port: int, request: bytes, timeout_s: float) -> bytes:
    """Send one framed request; return the response payload (without its size)."""
    def read(sock: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise TargetError(f"{host}:{port} closed the connection")
            buf += chunk
        return buf

    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.settimeout(timeout_s)
        sock.sendall(request)
        return read(sock, int.from_bytes(read(sock, 4), "big"))


def active_controller(host: str, port: int, timeout_s: float = 2.0) -> int:
    """Node id of the active KRaft controller, asked through the broker at host:port."""
    return parse_quorum_leader(_exchange(host, port, describe_quorum_request(), timeout_s))


def metadata_request(correlation_id: int = 1, client_id: str = "gameday") -> bytes:
    """Metadata v4 (the oldest Kafka 4 serves), asking for no topics: brokers only."""
    msg = (3).to_bytes(2, "big") + (4).to_bytes(2, "big") + correlation_id.to_bytes(4, "big")
    msg += len(client_id).to_bytes(2, "big") + client_id.encode()  # request header v1
    msg += (0).to_bytes(4, "big") + b"\x00"  # topics: empty array; allow_auto_topic_creation false
    return len(msg).to_bytes(4, "big") + msg


class _Reader:
    """The fields of a non-flexible Kafka response, read in order (big-endian, int16-length strings)."""

    def __init__(self, payload: bytes, at: int = 0) -> None:
        self.b, self.i = payload, at

    def int(self, size: int) -> int:
        v = int.from_bytes(self.b[self.i : self.i + size], "big", signed=True)
        self.i += size
        return v

    def string(self) -> str:
        n = self.int(2)
        if n < 0:
            return ""
        s = self.b[self.i : self.i + n].decode()
        self.i += n
        return s

    def ints(self) -> tuple[int, ...]:
        return tuple(self.int(4) for _ in range(max(0, self.int(4))))


def parse_metadata_brokers(payload: bytes) -> list[int]:
    r = _Reader(payload, 4 + 4)  # correlation id, throttle time
    out = []
    for _ in range(max(0, r.int(4))):
        out.append(r.int(4))
        r.string(), r.int(4), r.string()  # host, port, rack
    return out


def broker_metadata(host: str, port: int, timeout_s: float = 1.0) -> list[int]:
    """Ids of the brokers that the broker at host:port lists in its own metadata."""
    return parse_metadata_brokers(_exchange(host, port, metadata_request(), timeout_s))


@dataclass(frozen=True)
class PartitionView:
    """One partition as one broker's metadata gives it."""

    partition: int
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    error: int = 0


def topic_metadata_request(topic: str, correlation_id: int = 1, client_id: str = "gameday") -> bytes:
    """Metadata v7 (the newest before flexible encoding; the first with leader epochs) for one topic."""
    msg = (3).to_bytes(2, "big") + (7).to_bytes(2, "big") + correlation_id.to_bytes(4, "big")
    msg += len(client_id).to_bytes(2, "big") + client_id.encode()  # request header v1
    msg += (1).to_bytes(4, "big") + len(topic).to_bytes(2, "big") + topic.encode() + b"\x00"
    return len(msg).to_bytes(4, "big") + msg


def parse_topic_metadata(payload: bytes) -> tuple[list[int], list[PartitionView]]:
    """(broker ids, partitions of the first topic) from a Metadata v7 response."""
    r = _Reader(payload, 4 + 4)  # correlation id, throttle time
    brokers = []
    for _ in range(max(0, r.int(4))):
        brokers.append(r.int(4))
        r.string(), r.int(4), r.string()  # host, port, rack
    r.string(), r.int(4)  # cluster id, controller id (brokers name no KRaft controller)
    partitions: list[PartitionView] = []
    for topic in range(max(0, r.int(4))):
        r.int(2), r.string(), r.int(1)  # error code, name, is_internal
        for _ in range(max(0, r.int(4))):
            error, index, leader, epoch = r.int(2), r.int(4), r.int(4), r.int(4)
            replicas, isr = r.ints(), r.ints()
            r.ints()  # offline replicas
            if topic == 0:
                partitions.append(PartitionView(index, leader, epoch, replicas, isr, error))
    return brokers, partitions


def topic_metadata(host: str, port: int, topic: str, timeout_s: float = 1.0) -> tuple[list[int], list[PartitionView]]:
    """The topic's partitions as the broker at host:port knows them (its own metadata cache:
    a broker cut off from the controller keeps an old view)."""
    return parse_topic_metadata(_exchange(host, port, topic_metadata_request(topic), timeout_s))


def freshest(views: list[list[PartitionView]]) -> list[PartitionView]:
    """Per partition, the view with the highest leader epoch among brokers' answers: the
    controller's latest decision. A single broker's answer (the admin client's choice) was
    the cut-off broker's stale one in an AZ partition, naming itself leader 33 s after the
    majority had moved on."""
    best: dict[int, PartitionView] = {}
    for answer in views:
        for v in answer:
            if v.partition not in best or v.leader_epoch > best[v.partition].leader_epoch:
                best[v.partition] = v
    return [best[p] for p in sorted(best)]
