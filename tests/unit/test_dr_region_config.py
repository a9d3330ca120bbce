"""The DR region's configuration, rendered without starting anything: its address in a
subnet of its own that the guard covers, a subnet that may not overlap the primary's, and
MirrorMaker 2's flow (slowed only when the profile asks)."""

from __future__ import annotations

import pytest

from gameday.errors import InputError
from gameday.lab import network
from gameday.lab.network import DR_AZ, Isolation, Topology
from gameday.lab.tiers import LabContext
from gameday.lab.tiers import dr as dr_tier
from gameday.profile import load_profile

TOPO = Topology(Isolation.NETNS, "10.213.0.0/24", "gd-br0", "10.214.0.0/24")


def test_the_region_has_its_own_subnet_and_the_guard_drops_both_off_the_lab():
    assert TOPO.address(DR_AZ) == "10.214.0.11" and TOPO.dr_host_address == "10.214.0.1"
    assert TOPO.az_of_address("10.214.0.11") == DR_AZ and TOPO.namespace(DR_AZ) == "gd-dr-a"
    rules = network._guard_rules(TOPO)
    for subnet in ("10.213.0.0/24", "10.214.0.0/24"):
        for field in ("daddr", "saddr"):
            assert f"ip {field} {subnet} drop" in rules
    assert network._interfaces(DR_AZ) != network._interfaces("az-a")


def test_a_region_subnet_overlapping_the_primarys_is_refused_by_name():
    with pytest.raises(InputError, match=r"'lab.dr_subnet' must not overlap lab.subnet"):
        load_profile(overrides={"lab": {"dr_subnet": "10.213.0.128/25"}})


def _ctx(tmp_path, **dr):
    return LabContext(load_profile(overrides={"dr": dr} if dr else None), TOPO, tmp_path, ("kafka", "dr"))


def test_the_mirror_keeps_the_topic_name_and_is_slowed_only_when_asked(tmp_path):
    props = dr_tier.mirror_properties(_ctx(tmp_path))
    assert "primary->dr.enabled = true" in props and "IdentityReplicationPolicy" in props
    assert "primary.bootstrap.servers = 10.213.0.11:9092,10.213.0.12:9092,10.213.0.13:9092" in props
    assert "dr.bootstrap.servers = 10.214.0.11:9092" in props
    assert "fetch" not in props
    slowed = dr_tier.mirror_properties(_ctx(tmp_path, mirror_fetch_kb=1))
    assert "primary.consumer.max.partition.fetch.bytes = 1024" in slowed and "primary.consumer.fetch.min.bytes = 1048576" in slowed
    assert "primary.consumer.fetch.max.wait.ms = 1000" in slowed


def test_the_mirror_translates_the_stream_jobs_group_into_the_regions_offsets(tmp_path):
    props = dr_tier.mirror_properties(_ctx(tmp_path))
    assert "groups = gameday-stream" in props and "sync.group.offsets.enabled = true" in props
    assert "groups.exclude" not in props  # the job's group is the one the region resumes from


def test_the_regions_jobmanager_idles_without_ha_and_keeps_its_own_checkpoints(tmp_path):
    from gameday.lab.dr import stream

    ctx = LabContext(load_profile(), TOPO, tmp_path, ("kafka", "zookeeper", "flink", "stream", "dr"))
    conf = stream._config(ctx, "jobmanager")
    assert conf["high-availability.type"] == "NONE" and not [k for k in conf if k.startswith("high-availability.zookeeper")]
    assert conf["rest.address"] == TOPO.address(DR_AZ) and conf["execution.checkpointing.dir"].endswith("/dr-storage/flink-dr/checkpoints")
    tm = stream._config(ctx, "taskmanager", stream.TASKMANAGER)
    assert tm["taskmanager.resource-id"] == stream.TASKMANAGER and tm["jobmanager.rpc.address"] == TOPO.address(DR_AZ)
