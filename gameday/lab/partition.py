"""A network partition of one AZ: its processes keep running but cannot reach the other AZs.

Two modes (`PartitionMode`):
- `peers`: the AZ is cut off from the other AZs; clients on the host (the load generator,
  the harness's probes, HAProxy) still reach it, so a side that believes it still leads
  can go on acknowledging writes (where split brain shows);
- `all`: the AZ is cut off from everything outside it, the host included.

Mechanism: nftables rules that only drop packets (they send nothing anywhere):
- a table inside the AZ's namespace drops its traffic to and from the other AZs'
  addresses (and, in `all`, every packet that is not the namespace's own);
- the search nodes live in the host's namespace (see tiers/search.py), so a table on the
  host drops their transport between the AZ and the others, telling the JVMs apart by
  their per-AZ control group (`socket cgroupv2`, gameday.lab.azgroups), and the other
  AZs' requests to the AZ's node over HTTP (in `all`, every request but its own AZ's).

Healing deletes both tables; `lab down` deletes the host table (the namespaces go with
their rules).
"""

from __future__ import annotations

import enum
import subprocess

from gameday.errors import LabError
from gameday.lab import azgroups
from gameday.lab.network import AZS, Isolation, Topology

NS_TABLE = "gameday_partition"


class PartitionMode(str, enum.Enum):
    PEERS = "peers"
    ALL = "all"


def host_table(topo: Topology) -> str:
    return f"gameday_partition_{topo.bridge.replace('-', '_')}"


def _nft(script: str, netns: str | None = None) -> None:
    argv = (["ip", "netns", "exec", netns] if netns else []) + ["nft", "-f", "-"]
    proc = subprocess.run(argv, input=script, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError(f"could not install the partition rules{' in ' + netns if netns else ''}: {proc.stderr.strip()}")


def _delete(table: str, netns: str | None = None) -> bool:
    argv = (["ip", "netns", "exec", netns] if netns else []) + ["nft", "delete", "table", "inet", table]
    return subprocess.run(argv, capture_output=True, text=True).returncode == 0


def _set(items: list[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def namespace_rules(topo: Topology, az: str, mode: PartitionMode, search_ports: dict[str, int]) -> str:
    """The table inside the AZ's namespace. `search_ports`: AZ -> its search node's HTTP port
    (on the host's bridge address; empty without the search tier)."""
    peers = [topo.address(o) for o in AZS if o != az]
    inbound = ["iif \"lo\" accept", f"ip saddr {_set(peers)} drop"]
    outbound = ["oif \"lo\" accept", f"ip daddr {_set(peers)} drop"]
    others = [str(p) for o, p in search_ports.items() if o != az]
    if others:  # the other AZs' search nodes, reached on the host's address
        outbound.append(f"ip daddr {topo.host_address} tcp dport {_set(others)} drop")
    if mode is PartitionMode.ALL:
        if az in search_ports:  # the AZ's own search node is in the AZ
            inbound.append(f"ip saddr {topo.host_address} tcp sport {search_ports[az]} accept")
            outbound.append(f"ip daddr {topo.host_address} tcp dport {search_ports[az]} accept")
        inbound.append("drop")
        outbound.append("drop")
    return _table(NS_TABLE, inbound, outbound)


def host_rules(topo: Topology, groups: azgroups.AzGroups, az: str, mode: PartitionMode, search_ports: dict[str, int]) -> str:
    """The host's table: the search nodes' transport (by control group) and HTTP."""
    level, others = groups.nft_level, [o for o in AZS if o != az and o in search_ports]
    here = topo.loopback_address(az)
    outbound = [f'socket cgroupv2 level {level} "{groups.nft_path(az)}" ip daddr {_set([topo.loopback_address(o) for o in others])} drop'] if others else []
    outbound += [f'socket cgroupv2 level {level} "{groups.nft_path(o)}" ip daddr {here} drop' for o in others]
    port = search_ports[az]
    if mode is PartitionMode.PEERS:
        peers = [topo.address(o) for o in AZS if o != az]
        inbound = [f"ip saddr {_set(peers)} ip daddr {topo.host_address} tcp dport {port} drop"]
    else:
        inbound = [f"ip daddr {topo.host_address} tcp dport {port} ip saddr != {topo.address(az)} drop"]
    return _table(host_table(topo), inbound, outbound)


def _table(name: str, inbound: list[str], outbound: list[str]) -> str:
    def chain(hook: str, rules: list[str]) -> str:
        body = "\n".join(f"    {r}" for r in rules)
        return f"  chain {hook} {{\n    type filter hook {hook} priority -5; policy accept;\n{body}\n  }}"

    return f"table inet {name} {{\n{chain('input', inbound)}\n{chain('output', outbound)}\n}}\n"


def install(topo: Topology, az: str, mode: PartitionMode, search_ports: dict[str, int]) -> None:
    """Cut the AZ off. Refused (LabError, nothing installed) where it cannot hold."""
    if topo.isolation is not Isolation.NETNS:
        raise LabError("a partition needs the namespace lab (lab.isolation: netns, as root)", hint="loopback AZs share one network stack")
    if az not in AZS:
        raise LabError(f"no AZ {az!r}; AZs: {', '.join(AZS)}")
    groups = azgroups.for_lab(topo.bridge)
    if search_ports and (groups is None or not groups.v2_dir(az).is_dir()):
        raise LabError("cannot partition the search nodes: the lab has no per-AZ control groups", hint="gameday lab down; gameday lab up (as root, on a host with cgroups)")
    remove(topo, az)
    ns = topo.namespace(az)
    _nft(namespace_rules(topo, az, mode, search_ports), ns)
    try:
        if search_ports and az in search_ports:
            assert groups is not None
            _nft(host_rules(topo, groups, az, mode, search_ports))
    except LabError:
        _delete(NS_TABLE, ns)
        raise


def remove(topo: Topology, az: str) -> bool:
    """Heal the AZ (idempotent): True when there was a partition to remove."""
    if topo.isolation is not Isolation.NETNS:
        return False
    inside = _delete(NS_TABLE, topo.namespace(az))
    return _delete(host_table(topo)) or inside


def remove_all(topo: Topology) -> None:
    if topo.isolation is Isolation.NETNS:
        for az in AZS:
            remove(topo, az)
