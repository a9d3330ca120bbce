"""A restarted component runs at `lab.restart_nice` only while it starts: back to its tier's
own level once healthy, and also once the wait for it gave up (a store node left at nice 10
after a timed-out restart starved on through the next drill). The process and the health
wait are fakes: this tests the supervisor's own bookkeeping."""

from __future__ import annotations

import pytest

from gameday import procs
from gameday.errors import LabError
from gameday.lab import Lab
from gameday.lab.components import ComponentSpec
from gameday.profile import load_profile


class FakeTracked:
    pid = 4242


def restart_with_fakes(tmp_path, monkeypatch, healthy: bool) -> tuple[list[int], list[tuple[int, int]]]:  # noqa: ANN001
    lab = Lab(load_profile(overrides={"lab": {"home": str(tmp_path / "home"), "restart_nice": 10}}))
    started: list[int] = []
    reniced: list[tuple[int, int]] = []

    def fake_start(st, spec, extra_args=None, nice=None):  # noqa: ANN001, ANN202
        started.append(nice)
        return FakeTracked()

    def fake_await(st, spec, timeout):  # noqa: ANN001, ANN202
        if not healthy:
            raise LabError(f"{spec.name} not healthy after {timeout:g} s")

    monkeypatch.setattr(lab, "_start", fake_start)
    monkeypatch.setattr(lab, "_await", fake_await)
    monkeypatch.setattr(procs, "renice_threads", lambda pid, nice: reniced.append((pid, nice)) or True)
    spec = ComponentSpec("cassandra-a", "cassandra", "az-a", ["true"], health=None)  # type: ignore[arg-type]
    if healthy:
        lab._start_again(None, spec, None, 1.0)  # type: ignore[arg-type]
    else:
        with pytest.raises(LabError, match="not healthy"):
            lab._start_again(None, spec, None, 1.0)  # type: ignore[arg-type]
    return started, reniced


def test_fake_restart_is_niced_while_it_starts_and_not_after(tmp_path, monkeypatch):
    started, reniced = restart_with_fakes(tmp_path, monkeypatch, healthy=True)
    assert started == [10] and reniced == [(4242, 0)]


def test_fake_restart_that_times_out_is_not_left_niced(tmp_path, monkeypatch):
    started, reniced = restart_with_fakes(tmp_path, monkeypatch, healthy=False)
    assert started == [10] and reniced == [(4242, 0)]


@pytest.mark.parametrize("retries, exits, outcome", [(1, 1, "healthy"), (1, 2, "exited"), (0, 1, "exited")])
def test_fake_component_that_exits_while_starting_is_started_again_as_often_as_its_spec_allows(tmp_path, monkeypatch, retries, exits, outcome):
    """A Cassandra node that found no seed to gossip with exits while starting; its spec
    allows one more start (the process and the health wait are fakes)."""
    from types import SimpleNamespace

    from gameday.lab import supervisor

    lab = Lab(load_profile(overrides={"lab": {"home": str(tmp_path / "home")}}))
    st = SimpleNamespace(components={"cassandra-b": SimpleNamespace(alive=lambda: False, log="cassandra-b.log")})
    starts, waits = [], []

    def fake_wait(spec, timeout, alive):  # noqa: ANN001, ANN202
        waits.append(spec.name)
        if len(waits) <= exits:
            raise RuntimeError(f"{spec.name} exited while starting")
        return 3.0

    monkeypatch.setattr(supervisor, "wait_healthy", fake_wait)
    monkeypatch.setattr(lab, "_start", lambda st_, spec, *a, **k: starts.append(spec.name))
    spec = ComponentSpec("cassandra-b", "cassandra", "az-b", ["true"], health=None, start_retries=retries)  # type: ignore[arg-type]
    if outcome == "healthy":
        lab._await(st, spec, 10)  # type: ignore[arg-type]
        assert starts == ["cassandra-b"] and len(waits) == 2
    else:
        with pytest.raises(LabError, match="exited while starting"):
            lab._await(st, spec, 10)  # type: ignore[arg-type]
        assert len(starts) == retries
