"""`gameday lab up` refuses, before it writes a state or starts anything, when another lab's
processes still hold the lab's network namespaces (the harness's own logic: the namespace
listing is faked, nothing is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import LabError
from gameday.lab import Lab, network
from gameday.profile import load_profile


def lab_in(tmp_path: Path) -> Lab:
    return Lab(load_profile(overrides={"lab": {"home": str(tmp_path / "home"), "isolation": "netns"}}))


def test_up_refuses_over_another_labs_processes_with_a_fake_namespace_listing(tmp_path, monkeypatch):
    monkeypatch.setattr(network, "namespace_pids", lambda topo: [(4242, Path("/run/netns/gd-az-a")), (4243, Path("/run/netns/gd-az-b"))])
    monkeypatch.setattr(network, "create", lambda topo: pytest.fail("the network was touched"))
    lab = lab_in(tmp_path)
    with pytest.raises(LabError) as err:
        lab.up(["redis"])
    assert "2 processes of another lab" in str(err.value) and "4242" in str(err.value)
    assert "lab down --profile" in (err.value.hint or "")
    assert lab.state() is None, "nothing is written when nothing is started"


def test_up_goes_on_when_the_namespaces_are_empty_with_a_fake_namespace_listing(tmp_path, monkeypatch):
    class Reached(Exception):
        pass

    def create(topo, dr=False):
        raise Reached

    monkeypatch.setattr(network, "namespace_pids", lambda topo: [])
    monkeypatch.setattr(network, "create", create)
    lab = lab_in(tmp_path)
    with pytest.raises(Reached):
        lab.up(["redis"])
