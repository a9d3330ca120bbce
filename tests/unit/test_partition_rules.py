"""The AZ partition's nftables rules and the per-AZ control groups, as text and files (the
harness's own logic; the lab drill that installs them is tests/lab/test_az_partition_lab.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import LabError
from gameday.lab import azgroups, partition
from gameday.lab.network import Isolation, Topology
from gameday.lab.partition import PartitionMode

TOPO = Topology(Isolation.NETNS, "10.213.0.0/24", "gd-br0")
PORTS = {"az-a": 9201, "az-b": 9202, "az-c": 9203}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_peers_drops_only_the_other_azs_and_their_search_nodes():
    rules = _lines(partition.namespace_rules(TOPO, "az-a", PartitionMode.PEERS, PORTS))
    assert "ip saddr { 10.213.0.12, 10.213.0.13 } drop" in rules
    assert "ip daddr { 10.213.0.12, 10.213.0.13 } drop" in rules
    assert "ip daddr 10.213.0.1 tcp dport { 9202, 9203 } drop" in rules
    assert "drop" not in rules  # the host (clients) still reaches the AZ


def test_all_drops_everything_but_the_azs_own_search_node():
    rules = _lines(partition.namespace_rules(TOPO, "az-b", PartitionMode.ALL, PORTS))
    assert rules.count("drop") == 2
    assert rules.index("ip daddr 10.213.0.1 tcp dport 9202 accept") < len(rules) - 1
    assert "ip daddr 10.213.0.1 tcp dport { 9201, 9203 } drop" in rules


def test_the_search_transport_is_cut_by_control_group_and_http_by_source(tmp_path):
    groups = azgroups.AzGroups("gameday_gd_br0", azgroups.Hierarchy(Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup/cpu"), False))
    peers = _lines(partition.host_rules(TOPO, groups, "az-a", PartitionMode.PEERS, PORTS))
    assert 'socket cgroupv2 level 2 "unified/gameday_gd_br0/az-a" ip daddr { 127.213.0.12, 127.213.0.13 } drop' in peers
    assert 'socket cgroupv2 level 2 "unified/gameday_gd_br0/az-c" ip daddr 127.213.0.11 drop' in peers
    assert "ip saddr { 10.213.0.12, 10.213.0.13 } ip daddr 10.213.0.1 tcp dport 9201 drop" in peers
    cut_off = _lines(partition.host_rules(TOPO, groups, "az-a", PartitionMode.ALL, PORTS))
    assert "ip daddr 10.213.0.1 tcp dport 9201 ip saddr != 10.213.0.11 drop" in cut_off


def test_a_loopback_lab_refuses_a_partition_before_touching_anything():
    with pytest.raises(LabError, match="needs the namespace lab"):
        partition.install(Topology(Isolation.LOOPBACK, "10.213.0.0/24", "gd-br0"), "az-a", PartitionMode.PEERS, {})


def _fake_hybrid(root: Path) -> azgroups.Hierarchy:
    for tree in ("unified", "cpu"):
        (root / tree).mkdir(parents=True)
        (root / tree / "cgroup.procs").write_text("")
    hierarchy = azgroups.Hierarchy.detect(root)
    assert hierarchy == azgroups.Hierarchy(root / "unified", root / "cpu", False)
    return hierarchy


def test_groups_on_a_fake_hybrid_tree_get_a_quota_and_a_prefix_that_keeps_the_pid(tmp_path):
    groups = azgroups.AzGroups("gameday_x", _fake_hybrid(tmp_path))
    for az in ("az-a",):  # the kernel makes these files; a fake tree must
        (tmp_path / "cpu" / "gameday_x" / az).mkdir(parents=True)
        for f in ("cpu.cfs_quota_us", "cpu.cfs_period_us"):
            (tmp_path / "cpu" / "gameday_x" / az / f).write_text("-1")
    groups.create(("az-a",), 0.5)
    assert groups.quota_cores("az-a") == 0.5
    prefix = groups.enter_prefix("az-a")
    assert prefix[:2] == ["sh", "-c"] and prefix[2].endswith('exec "$@"') and str(groups.v2_dir("az-a") / "cgroup.procs") in prefix[2]
    groups.create(("az-a",), 0)
    assert groups.quota_cores("az-a") is None
    uncapped = groups.enter_prefix("az-a")[2]  # no cap: the cpu controller's group is left alone
    assert str(groups.v2_dir("az-a")) in uncapped and str(groups.cpu_dir("az-a")) not in uncapped


def test_no_cgroup_tree_means_no_groups(tmp_path):
    assert azgroups.Hierarchy.detect(tmp_path) is None
