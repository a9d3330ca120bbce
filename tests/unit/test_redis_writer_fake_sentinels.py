"""The drill's Redis writer against FAKE Sentinels and a FAKE primary (no Redis needed): it
keeps writing to the primary the Sentinels name, including after that primary refused one
write."""

from __future__ import annotations

import redis

from gameday.history import History, Recorder, WriteSample
from gameday.monitors import redis as redis_monitor

PRIMARY = ("10.213.0.11", 6379)


class FakeServer:
    def __init__(self, refusals: int) -> None:
        self.refusals = refusals

    def set(self, key: str, value: str) -> None:
        if self.refusals:
            self.refusals -= 1
            raise redis.ResponseError("NOREPLICAS Not enough good replicas to write.")


def test_fake_primary_that_refused_a_write_just_after_its_promotion_is_asked_again(tmp_path, monkeypatch):
    primary = FakeServer(refusals=1)
    monkeypatch.setattr(redis_monitor, "_client", lambda host, port: primary if (host, port) == PRIMARY else object())
    monkeypatch.setattr(redis_monitor.redis_client, "primary_named_by", lambda sentinel, service: PRIMARY)
    recorder = Recorder(tmp_path / "history.jsonl")
    sentinels = {f"sentinel-{z}": (f"10.213.0.1{i}", 26379) for i, z in enumerate("abc", 1)}
    writer = redis_monitor._writer(recorder, sentinels, "lab-cache", {PRIMARY: "redis-a"}, 0.5)
    for _ in range(3):
        writer._sample()
    recorder.close()
    writes = History.read(tmp_path / "history.jsonl").of(WriteSample)
    assert [(w.ok, w.node) for w in writes] == [(False, "redis-a"), (True, "redis-a"), (True, "redis-a")]
    assert "NOREPLICAS" in writes[0].error
