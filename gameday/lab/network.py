"""Where the lab's AZs live on this machine, and the guard that keeps lab traffic on it.

As root each AZ is a network namespace wired to a bridge that holds an address
in the lab subnet, so the host routes that subnet locally. Before the bridge
exists, an nftables guard drops any lab-subnet packet that would leave through
an interface that is not the lab's own; teardown removes the guard last.
Without root each AZ is a loopback address and nothing needs guarding.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import subprocess
from dataclasses import dataclass

from gameday.errors import LabError

AZS = ("az-a", "az-b", "az-c")
GUARD_TABLE = "gameday_guard"
IFACE_PREFIX = "gd-"  # every lab interface name starts with this


class Isolation(str, enum.Enum):
    NETNS = "netns"
    LOOPBACK = "loopback"


@dataclass(frozen=True)
class Topology:
    isolation: Isolation
    subnet: str
    bridge: str

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    def address(self, az: str) -> str:
        """The address every component of an AZ binds to."""
        index = AZS.index(az)
        if self.isolation is Isolation.NETNS:
            return str(self.network.network_address + 11 + index)
        return f"127.213.0.{11 + index}"

    @property
    def host_address(self) -> str:
        return str(self.network.network_address + 1) if self.isolation is Isolation.NETNS else "127.0.0.1"

    def namespace(self, az: str) -> str | None:
        return f"gd-{az}" if self.isolation is Isolation.NETNS else None

    def az_of_address(self, address: str) -> str | None:
        for az in AZS:
            if self.address(az) == address:
                return az
        return None

    def exec_prefix(self, az: str | None) -> list[str]:
        """argv prefix that runs a command inside an AZ (ip netns exec keeps the PID)."""
        ns = self.namespace(az) if az else None
        return ["ip", "netns", "exec", ns] if ns else []


def choose_isolation(setting: str) -> Isolation:
    if setting == "auto":
        return Isolation.NETNS if os.geteuid() == 0 else Isolation.LOOPBACK
    isolation = Isolation(setting)
    if isolation is Isolation.NETNS and os.geteuid() != 0:
        raise LabError("lab.isolation is netns but gameday is not running as root", hint="run as root or set lab.isolation: loopback")
    return isolation


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _guard_rules(subnet: str) -> str:
    rules = "\n".join(
        f'    ip {field} {subnet} oifname {{ "{IFACE_PREFIX}*", "lo" }} accept\n    ip {field} {subnet} drop'
        for field in ("daddr", "saddr")
    )
    chains = "\n".join(
        f"  chain guard_{hook} {{\n    type filter hook {hook} priority -10; policy accept;\n{rules}\n  }}"
        for hook in ("output", "forward")
    )
    return f"table inet {GUARD_TABLE} {{\n{chains}\n}}\n"


def install_guard(topo: Topology) -> None:
    if _run(["nft", "list", "table", "inet", GUARD_TABLE], check=False).returncode == 0:
        return
    proc = subprocess.run(["nft", "-f", "-"], input=_guard_rules(topo.subnet), capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError(f"could not install the lab network guard: {proc.stderr.strip()}", hint="is nftables installed (apt-get install nftables)?")


def guard_installed() -> bool:
    return _run(["nft", "list", "table", "inet", GUARD_TABLE], check=False).returncode == 0


def assert_routed_locally(topo: Topology, address: str) -> None:
    """Refuse to talk to a lab address unless the host routes it to the lab bridge."""
    if topo.isolation is Isolation.LOOPBACK:
        if not ipaddress.IPv4Address(address).is_loopback:
            raise LabError(f"{address} is not a loopback address")
        return
    if ipaddress.IPv4Address(address) not in topo.network:
        raise LabError(f"{address} is outside the lab subnet {topo.subnet}")
    route = _run(["ip", "-o", "route", "get", address], check=False).stdout
    if f"dev {topo.bridge} " not in route and not route.startswith("local "):
        raise LabError(f"refusing to send to {address}: the host does not route it to {topo.bridge} ({route.strip() or 'no route'})")
    if not guard_installed():
        raise LabError("refusing to send to the lab: the network guard is not installed", hint="gameday lab down; gameday lab up")


def create(topo: Topology) -> None:
    """Guard first, then bridge, then one namespace per AZ."""
    if topo.isolation is Isolation.LOOPBACK:
        return
    install_guard(topo)
    host_cidr = f"{topo.host_address}/{topo.network.prefixlen}"
    if _run(["ip", "link", "show", topo.bridge], check=False).returncode != 0:
        _run(["ip", "link", "add", topo.bridge, "type", "bridge"])
    if host_cidr not in _run(["ip", "-o", "addr", "show", "dev", topo.bridge]).stdout:
        _run(["ip", "addr", "add", host_cidr, "dev", topo.bridge])
    _run(["ip", "link", "set", topo.bridge, "up"])
    existing = _run(["ip", "netns", "list"]).stdout
    for az in AZS:
        ns, host_if, peer = topo.namespace(az), f"{IFACE_PREFIX}v{az[-1]}", f"{IFACE_PREFIX}p{az[-1]}"
        assert ns is not None
        if ns not in existing.split():
            _run(["ip", "netns", "add", ns])
        if _run(["ip", "link", "show", host_if], check=False).returncode != 0:
            _run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer])
            _run(["ip", "link", "set", peer, "netns", ns])
            _run(["ip", "-n", ns, "link", "set", peer, "name", "eth0"])
            _run(["ip", "-n", ns, "addr", "add", f"{topo.address(az)}/{topo.network.prefixlen}", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        _run(["ip", "link", "set", host_if, "master", topo.bridge])
        _run(["ip", "link", "set", host_if, "up"])
    for az in AZS:
        assert_routed_locally(topo, topo.address(az))


def namespace_pids(topo: Topology) -> list[int]:
    """Every process still inside a lab namespace (cleanup after a killed harness)."""
    pids: list[int] = []
    for az in AZS:
        ns = topo.namespace(az)
        if ns:
            out = _run(["ip", "netns", "pids", ns], check=False).stdout
            pids += [int(p) for p in out.split()]
    return pids


def destroy(topo: Topology) -> None:
    """Idempotent: namespaces, then the bridge, then the guard last."""
    if topo.isolation is Isolation.LOOPBACK:
        return
    for az in AZS:
        ns = topo.namespace(az)
        _run(["ip", "netns", "del", ns], check=False)
        _run(["ip", "link", "del", f"{IFACE_PREFIX}v{az[-1]}"], check=False)
    _run(["ip", "link", "del", topo.bridge], check=False)
    _run(["nft", "delete", "table", "inet", GUARD_TABLE], check=False)
