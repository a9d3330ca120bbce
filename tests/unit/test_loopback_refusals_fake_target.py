"""A drill that needs what the target cannot do here (an AZ partition on the loopback lab) is
refused before anything starts, naming the function and why; checked with a fake target (the
real refusal as an ordinary user: tests/lab/test_loopback_lab.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from gameday.drill import runner
from gameday.drill.experiment import load_experiment
from gameday.errors import TargetError
from gameday.lab.network import Isolation, Topology
from gameday.profile import load_profile
from gameday.target.lab import LabTarget

EXP = Path(__file__).resolve().parents[2] / "experiments"


class FakeTarget:
    name = "lab"

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = refused
        self.profile = load_profile()

    def settings(self):  # noqa: ANN201
        return self.profile.data

    def azs(self):  # noqa: ANN201
        return ("az-a", "az-b", "az-c")

    def cannot_inject(self) -> dict[str, str]:
        return self.refused

    def tiers(self) -> list[str]:
        return ["redis", "cassandra", "search", "api", "metrics", "kafka", "zookeeper", "flink", "ingest", "stream"]

    def unhealthy(self, tiers):  # noqa: ANN001, ANN201
        return ["checked after the refusal"]


def test_the_experiment_lists_the_functions_it_calls():
    assert {"partition_az", "heal_az", "wait_until_whole"} <= load_experiment(EXP / "az-partition.json").functions
    assert "partition_az" not in load_experiment(EXP / "az-outage.json").functions


def test_a_partition_drill_is_refused_where_the_target_cannot_partition(monkeypatch):
    monkeypatch.setattr(runner, "resolve", lambda configuration=None, profile=None: FakeTarget({"partition_az": "needs the namespace lab"}))
    with pytest.raises(TargetError, match="az-partition.json calls partition_az: needs the namespace lab"):
        runner.prepare(runner.RunRequest(EXP / "az-partition.json"))
    with pytest.raises(TargetError, match="not healthy: checked after the refusal"):
        runner.prepare(runner.RunRequest(EXP / "az-outage.json"))  # an AZ crash needs no partition


def test_the_loopback_lab_cannot_partition_and_the_namespace_lab_can():
    def target(isolation: Isolation) -> LabTarget:
        t = object.__new__(LabTarget)
        t.st = SimpleNamespace(topology=Topology(isolation, "10.213.0.0/24", "gd-br0"))
        return t

    assert set(target(Isolation.LOOPBACK).cannot_inject()) == {"partition_az", "heal_az"}
    assert target(Isolation.NETNS).cannot_inject() == {}
