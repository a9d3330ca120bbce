"""The leader-claim askers against a fake target (the monitor's own logic; the real lab's
claims are in the az-partition drill, tests/lab/test_az_lab.py)."""

from __future__ import annotations

from gameday.history import History, LeaderClaim, Recorder
from gameday.monitors import split_brain
from gameday.target import Role


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

    def components(self, role=None) -> list[str]:  # noqa: ANN001
        return {Role.JOBMANAGER: ["flink-jm-a"], Role.ZOOKEEPER: ["zk-a"]}.get(role, [])

    def zookeeper_leader_seen_by(self, node: str, timeout_s: float) -> str:
        raise OSError("no quorum")

    def flink_leadership_seen_by(self, jobmanager: str, timeout_s: float) -> str:
        return jobmanager


def test_each_member_that_answers_records_whom_it_follows_and_a_silent_one_nothing(tmp_path):
    recorder = Recorder(tmp_path / "history.jsonl")
    samplers = split_brain.claim_samplers(recorder, FakeTarget())
    assert sorted(s.name for s in samplers) == ["leader-claims-flink-jm-a", "leader-claims-kafka-a", "leader-claims-search-a", "leader-claims-search-b", "leader-claims-zk-a"]
    for s in samplers:
        s._sample()  # one tick, on this thread
    recorder.close()
    claims = {(c.tier, c.node, c.leader) for c in History.read(tmp_path / "history.jsonl").of(LeaderClaim)}
    assert claims == {("search", "search-a", "search-a"), ("kafka", "kafka-a", ""), ("flink", "flink-jm-a", "flink-jm-a")}


def test_a_jobmanager_log_read_on_tells_granted_revoked_and_a_new_process(tmp_path):
    """Lines as a lab JobManager (Flink 2.3.0) wrote them; the revoke line is the same logger's
    message with the words of Flink's DefaultDispatcherRunner. A job's JobMaster grant counts not."""
    from gameday.lab.tiers.flink import LeadershipLog

    log = tmp_path / "flink-jm-b.log"
    log.write_text("2026-11-30 22:46:28,016 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint        [] - Starting StandaloneSessionClusterEntrypoint.\n"
                   "2026-11-30 22:47:03,708 INFO  org.apache.flink.runtime.jobmaster.JobMasterServiceLeadershipRunner [] - JobMasterServiceLeadershipRunner "
                   "for job 3eb42176edde4b85b07b1f83d2fdab5f was granted leadership with leader id 84dbfe94-02c5-43d5-a8e0-a9da208f572f.\n")  # fmt: skip
    belief = LeadershipLog(log)
    assert belief.read_on() is False
    with log.open("a") as f:
        f.write("2026-11-30 22:46:43,387 INFO  org.apache.flink.runtime.dispatcher.runner.DefaultDispatcherRunner [] - DefaultDispatcherRunner was granted "
                "leadership with leader id 84dbfe94-02c5-43d5-a8e0-a9da208f572f. Creating new DispatcherLeaderProcess.\n")
        f.write("2026-11-30 22:47:10,000 INFO  x [] - half a line")
    assert belief.read_on() is True
    with log.open("a") as f:
        f.write(" still the same line\n2026-11-30 22:48:00,000 INFO  org.apache.flink.runtime.dispatcher.runner.DefaultDispatcherRunner [] - DefaultDispatcherRunner "
                "was revoked the leadership with leader id 84dbfe94-02c5-43d5-a8e0-a9da208f572f. Stopping the DispatcherLeaderProcess.\n")
    assert belief.read_on() is False
    with log.open("a") as f:
        f.write("2026-11-30 22:49:00,000 INFO  org.apache.flink.runtime.dispatcher.runner.DefaultDispatcherRunner [] - DefaultDispatcherRunner was granted "
                "leadership with leader id 5d1. Creating new DispatcherLeaderProcess.\n"
                "2026-11-30 22:50:00,000 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint        [] - Starting StandaloneSessionClusterEntrypoint.\n")
    assert belief.read_on() is False  # a new process in the same log has not been granted yet
