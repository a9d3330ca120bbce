"""Kafka measurements: partition leadership and in-sync replicas after a broker dies."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

from gameday.faults import detail_value
from gameday.history import FaultPhase, History, KafkaPartitionSample


def has_live_leader(s: KafkaPartitionSample, dead: set[int] | frozenset[int] = frozenset()) -> bool:
    """Until the controller fences a SIGKILLed broker, metadata still names it leader, so a
    partition led by a broker a fault killed has no live leader."""
    return s.leader >= 0 and s.leader not in dead and not s.error


def ticks(samples: list[KafkaPartitionSample]) -> dict[float, list[KafkaPartitionSample]]:
    """Samples grouped by sampling instant (one metadata request each)."""
    by_t: dict[float, list[KafkaPartitionSample]] = defaultdict(list)
    for s in samples:
        by_t[s.t].append(s)
    return by_t


def _first_tick_where(samples: list[KafkaPartitionSample], since_t: float, ok: Callable[[KafkaPartitionSample], bool]) -> float | None:
    """Seconds from `since_t` to the first sampling instant at which every partition was
    sampled and `ok` holds for each; None if that never happened."""
    partitions = {s.partition for s in samples}
    by_t = ticks([s for s in samples if s.t >= since_t])
    for t in sorted(by_t):
        tick = by_t[t]
        if {s.partition for s in tick} == partitions and all(ok(s) for s in tick):
            return t - since_t
    return None


def leaders_back_s(samples: list[KafkaPartitionSample], fault_t: float, dead: int) -> float | None:
    """Seconds from the fault until a sample in which every partition has a live leader
    (see has_live_leader); None if that never happened."""
    return _first_tick_where(samples, fault_t, lambda s: has_live_leader(s, {dead}))


def isr_restored_s(samples: list[KafkaPartitionSample], since_t: float, want: int) -> float | None:
    """Seconds from `since_t` (e.g. the rollback) until every partition's ISR has at least
    `want` members again; None if it never did."""
    return _first_tick_where(samples, since_t, lambda s: len(s.isr) >= want and not s.error)


def dead_brokers(history: History) -> list[tuple[int, float, float]]:
    """(broker id, killed at, restored at or +inf) for each injected fault that names a
    `broker=<id>`."""
    out = []
    faults = history.faults()
    for f in faults:
        broker = detail_value(f, "broker")
        if f.phase is not FaultPhase.INJECTED or not broker.isdigit():
            continue
        revert = next((r.t for r in faults if r.phase is FaultPhase.REVERTED and r.fault == f.fault and r.component == f.component and r.t >= f.t), float("inf"))
        out.append((int(broker), f.t, revert))
    return out
