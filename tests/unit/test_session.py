"""The session's use of the run's profile, with a fake target (no lab): the host.* keys of
the run's profile decide whether and how long it waits for the host to settle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gameday.drill import hostload
from gameday.drill.experiment import DrillSettings
from gameday.drill.session import Session
from gameday.history import HOST_BUSY, HOST_SETTLED, PLATFORM_SETTLED, PLATFORM_UNSETTLED, History, Marker
from gameday.profile import load_profile


@dataclass
class FakeTarget:
    runs_locally: bool
    settled: tuple[str, ...] = ()
    fails: bool = False

    def settle(self, tiers: list[str]) -> list[str]:
        if self.fails:
            raise TimeoutError("no broker answered")
        return list(self.settled)


def _session(tmp_path: Path, runs_locally: bool, **host) -> Session:
    profile = load_profile(overrides={"host": host} if host else None)
    drill = DrillSettings(runbook="r.md", tiers=["redis"], slos=["redis.promotion_time"], rate=0)
    return Session(tmp_path / "run", FakeTarget(runs_locally), drill, profile, say=lambda m: None)  # type: ignore[arg-type]


def _markers(s: Session) -> list[str]:
    s.recorder.close()
    return [m.name for m in History.read(s.run_dir / "history.jsonl").of(Marker)]


@pytest.fixture
def waits(monkeypatch):
    calls = []

    def fake_wait(limit, max_wait, say):
        calls.append((limit, max_wait))
        return hostload.Pressure(limit + 1, 0, 0), max_wait, False  # never settles

    monkeypatch.setattr(hostload, "wait_until_settled", fake_wait)
    return calls


def test_fake_target_the_runs_host_settings_bound_the_wait(tmp_path, waits):
    s = _session(tmp_path, True, settle_pressure_pct=30, settle_max_wait_s=7)
    s.settle_host()
    assert waits == [(30, 7)] and _markers(s) == [HOST_BUSY]


def test_fake_target_a_zero_wait_in_the_runs_profile_skips_it(tmp_path, waits):
    s = _session(tmp_path, True, settle_max_wait_s=0)
    s.settle_host()
    assert waits == [] and _markers(s) == []


def test_fake_target_a_remote_target_never_waits_for_this_host(tmp_path, waits):
    s = _session(tmp_path, False)
    s.settle_host()
    assert waits == [] and _markers(s) == []


def test_fake_target_a_settled_host_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(hostload, "wait_until_settled", lambda limit, max_wait, say: (hostload.Pressure(10, 0, 0), 4.0, True))
    s = _session(tmp_path, True)
    s.settle_host()
    assert _markers(s) == [HOST_SETTLED]


def test_fake_target_what_the_target_put_back_is_recorded_one_marker_each(tmp_path):
    s = _session(tmp_path, True)
    s.target = FakeTarget(True, settled=("supplier.raw-0 leader 2 -> 1 moved", "supplier.raw-3 leader 2 -> 3 moved"))
    s.settle_platform()
    assert _markers(s) == [PLATFORM_SETTLED, PLATFORM_SETTLED]


def test_fake_target_a_failed_settle_is_recorded_and_the_drill_goes_on(tmp_path):
    s = _session(tmp_path, True)
    s.target = FakeTarget(True, fails=True)
    s.settle_platform()
    assert _markers(s) == [PLATFORM_UNSETTLED]
