"""The durable state store: Apache Cassandra from Maven Central, seeded with the timetable."""

from __future__ import annotations

import shutil
from pathlib import Path

from gameday.lab.components import ComponentSpec
from gameday.lab.jvm import maven
from gameday.lab.network import AZS, DR_AZ
from gameday.lab.tiers import LabContext, cassandra_node
from gameday.target import Role


def node_azs(ctx: LabContext) -> list[str]:
    return list(AZS[: ctx.profile.get("cassandra.nodes")])


def node_name(az: str) -> str:
    return f"cassandra-{az[-1]}"


def store_addresses(ctx: LabContext) -> list[str]:
    return [ctx.topology.address(az) for az in node_azs(ctx)]


def _health(host: str, port: int):
    def check() -> str | None:
        try:
            cassandra_node.wait_ready(host, port, timeout_s=1.0)
        except Exception as exc:  # the driver raises many types; all mean "not yet"
            return f"cassandra {host}:{port}: {type(exc).__name__}"
        return None

    return check


def specs(ctx: LabContext) -> list[ComponentSpec]:
    p = ctx.profile
    jars = maven.ensure_jars("cassandra", "cassandra-all-*.jar")
    seeds = store_addresses(ctx)[:1]
    azs = node_azs(ctx)
    # One token per node, evenly spaced: with RF below the node count each node owns an
    # equal share (random tokens gave one node most of the ring).
    tokens = cassandra_node.ring_tokens(len(azs))
    out = []
    for az, token in zip(azs, tokens):
        name, addr = node_name(az), ctx.topology.address(az)
        node_dir = ctx.data_dir(name)
        cassandra_node.write_node_config(
            node_dir,
            cluster_name="gameday-lab",
            listen_address=addr,
            seeds=seeds,
            native_port=p.get("cassandra.native_port"),
            storage_port=p.get("cassandra.storage_port"),
            initial_token=token,
            datacenter=p.get("cassandra.datacenter"),
            rack=az,  # the AZ is the rack: NetworkTopologyStrategy spreads the copies over AZs
        )
        argv = cassandra_node.command(jars, node_dir, heap_mb=p.get("cassandra.heap_mb"))
        # A node that is not the seed gives up ("Unable to gossip with any peers") when the
        # seed takes longer to come up than its shadow round waits: 48.5 s on a busy host,
        # 2026-12-03. Started again then, it finds the seed up.
        out.append(ComponentSpec(name, "cassandra", az, argv, _health(addr, p.get("cassandra.native_port")), addr, p.get("cassandra.native_port"), role=Role.STORE,
                                 start_retries=0 if addr in seeds else 1))  # fmt: skip
    if "dr" in ctx.tiers:
        out.append(_dr_spec(ctx, jars, seeds))
    return out


DR_NODE = "cassandra-dr"


def _dr_spec(ctx: LabContext, jars: Path, seeds: list[str]) -> ComponentSpec:
    """The DR region's store node: a datacenter of its own in the same cluster (the plan's
    "global DB replica"), started with the primary's nodes so the seed writes reach it.
    Its token sits one past the first primary token: each datacenter has its own ring."""
    p, addr = ctx.profile, ctx.topology.address(DR_AZ)
    node_dir = ctx.data_dir(DR_NODE)
    cassandra_node.write_node_config(
        node_dir, cluster_name="gameday-lab", listen_address=addr, seeds=seeds,
        native_port=p.get("cassandra.native_port"), storage_port=p.get("cassandra.storage_port"),
        initial_token=str(int(cassandra_node.ring_tokens(1)[0]) + 1), datacenter=p.get("dr.datacenter"), rack=DR_AZ,
    )  # fmt: skip
    argv = cassandra_node.command(jars, node_dir, heap_mb=p.get("dr.cassandra_heap_mb"))
    return ComponentSpec(DR_NODE, "cassandra", DR_AZ, argv, _health(addr, p.get("cassandra.native_port")), addr, p.get("cassandra.native_port"), role=Role.DR_STORE,
                         start_retries=1)  # fmt: skip


def prepare(ctx: LabContext) -> None:
    """Fresh data at `lab up`: a store kept from an earlier lab would keep that lab's
    tokens, datacenter and keyspace replication whatever the profile says now."""
    for name in [node_name(az) for az in AZS] + [DR_NODE]:
        shutil.rmtree(ctx.home / "data" / name / "data", ignore_errors=True)


def fetch() -> Path:
    """Resolve the jars now (bootstrap), so `lab up` never waits on Maven."""
    return maven.ensure_jars("cassandra", "cassandra-all-*.jar")
