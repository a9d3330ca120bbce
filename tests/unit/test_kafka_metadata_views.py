"""Partition leadership as the cluster decided it: each broker's Metadata v7 answer parsed,
and the newest leader epoch chosen. Bytes built here; the real brokers answer in
tests/lab (the AZ partition drill's kafka.leader_reelection)."""

from __future__ import annotations

from gameday.clients.kafka import PartitionView, freshest, parse_topic_metadata


def _i(v: int, n: int = 4) -> bytes:
    return v.to_bytes(n, "big", signed=True)


def _s(text: str | None) -> bytes:
    return _i(-1, 2) if text is None else _i(len(text), 2) + text.encode()


def _answer(partitions: list[tuple[int, int, int, list[int], list[int]]]) -> bytes:
    out = _i(7) + _i(0)  # correlation id, throttle
    out += _i(3) + b"".join(_i(b) + _s(f"10.213.0.1{b}") + _i(9092) + _s(None) for b in (1, 2, 3))
    out += _s("cluster") + _i(-1)
    out += _i(1) + _i(0, 2) + _s("supplier.raw") + b"\x00" + _i(len(partitions))
    for index, leader, epoch, replicas, isr in partitions:
        out += _i(0, 2) + _i(index) + _i(leader) + _i(epoch)
        out += _i(len(replicas)) + b"".join(map(_i, replicas)) + _i(len(isr)) + b"".join(map(_i, isr)) + _i(0)
    return out


def test_a_v7_answer_gives_brokers_leaders_epochs_and_isr():
    brokers, parts = parse_topic_metadata(_answer([(0, 1, 4, [1, 2, 3], [1, 2, 3]), (1, 2, 0, [2, 3, 1], [2, 3])]))
    assert brokers == [1, 2, 3]
    assert parts == [PartitionView(0, 1, 4, (1, 2, 3), (1, 2, 3)), PartitionView(1, 2, 0, (2, 3, 1), (2, 3))]


def test_the_cut_off_brokers_stale_view_loses_to_the_newer_epoch():
    stale = [PartitionView(0, 1, 4, (1, 2, 3), (1, 2, 3)), PartitionView(1, 2, 0, (2, 3, 1), (1, 2, 3))]
    majority = [PartitionView(0, 2, 5, (1, 2, 3), (2, 3)), PartitionView(1, 2, 0, (2, 3, 1), (2, 3))]
    chosen = freshest([stale, majority])
    assert [(v.partition, v.leader, v.leader_epoch) for v in chosen] == [(0, 2, 5), (1, 2, 0)]
    assert freshest([majority, stale])[0].leader == 2  # whichever broker answered first
