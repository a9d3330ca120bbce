"""The lab waits for the seed's compactions before it calls the store ready (with a fake
session standing in for Cassandra's virtual tables: this tests the harness's waiting alone)."""

from __future__ import annotations

from types import SimpleNamespace

from gameday.lab import seeding


class FakeVirtualTables:
    """Answers the two virtual-table queries from a script of (running, active, pending)."""

    def __init__(self, script: list[tuple[int, int, int]]) -> None:
        self.script, self.step = script, 0

    def execute(self, cql: str):  # noqa: ANN201 - mimics the driver's ResultSet enough
        running, active, pending = self.script[min(self.step, len(self.script) - 1)]
        if "sstable_tasks" in cql:
            return [SimpleNamespace(task_id=i) for i in range(running)]
        self.step += 1
        return SimpleNamespace(one=lambda: SimpleNamespace(active_tasks=active, pending_tasks=pending))


def test_fake_store_waits_until_compactions_stay_quiet(monkeypatch) -> None:
    monkeypatch.setattr(seeding.time, "sleep", lambda s: None)
    clock = iter(range(0, 1000))
    monkeypatch.setattr(seeding.time, "monotonic", lambda: next(clock) * 0.5)
    # compacting, queue only, quiet once (not long enough), busy again, then quiet for good
    session = FakeVirtualTables([(2, 1, 0), (0, 0, 3), (0, 0, 0), (1, 1, 0)] + [(0, 0, 0)] * 20)
    waited, settled = seeding.wait_compactions_done(session, timeout_s=60, quiet_s=2.0)
    assert settled
    assert session.step >= 8  # the early quiet sample did not count


def test_fake_store_that_never_settles_is_reported_not_fatal(monkeypatch) -> None:
    monkeypatch.setattr(seeding.time, "sleep", lambda s: None)
    clock = iter(range(0, 100000))
    monkeypatch.setattr(seeding.time, "monotonic", lambda: next(clock) * 0.5)
    waited, settled = seeding.wait_compactions_done(FakeVirtualTables([(1, 1, 5)]), timeout_s=10)
    assert not settled and waited >= 10
