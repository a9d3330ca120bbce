"""The leader-claim askers against a fake target (the monitor's own logic; the real lab's
claims are in the az-partition drill, tests/lab/test_az_lab.py)."""

from __future__ import annotations

from gameday.history import History, LeaderClaim, Recorder
from gameday.monitors import split_brain


class FakeTarget:
    def search_nodes(self) -> dict[str, str]:
        return {"search-a": "http://a", "search-b": "http://b"}

    def kafka_brokers(self) -> dict[str, tuple[str, int]]:
        return {"kafka-a": ("10.0.0.1", 9092)}

    def search_manager_seen_by(self, node: str, timeout_s: float) -> str:
        if node == "search-b":
            raise TimeoutError("cut off")
        return "search-a"

    def kafka_controller_seen_by(self, broker: str, timeout_s: float) -> str:
        return ""


def test_each_member_that_answers_records_whom_it_follows_and_a_silent_one_nothing(tmp_path):
    recorder = Recorder(tmp_path / "history.jsonl")
    samplers = split_brain.claim_samplers(recorder, FakeTarget())
    assert sorted(s.name for s in samplers) == ["leader-claims-kafka-a", "leader-claims-search-a", "leader-claims-search-b"]
    for s in samplers:
        s._sample()  # one tick, on this thread
    recorder.close()
    claims = {(c.tier, c.node, c.leader) for c in History.read(tmp_path / "history.jsonl").of(LeaderClaim)}
    assert claims == {("search", "search-a", "search-a"), ("kafka", "kafka-a", "")}
