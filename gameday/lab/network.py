"""Where the lab's AZs live on this machine, and the guard that keeps lab traffic on it.

As root each AZ is a network namespace wired to a bridge that holds an address
in the lab subnet, so the host routes that subnet locally. Before the bridge
exists, an nftables guard drops any lab-subnet packet that would leave through
an interface that is not the lab's own; teardown removes the guard last.
Without root each AZ is a loopback address and nothing needs guarding.

The pilot-light DR region (the `dr` tier) is one more namespace, `gd-dr-a`, in a subnet
of its own (`lab.dr_subnet`) on the same bridge: the bridge holds an address in it too,
so the host routes it locally, and the guard covers both subnets. Primary AZs and the
region reach each other on-link across the bridge (a route per namespace, no forwarding
on the host).
"""

from __future__ import annotations

import enum
import ipaddress
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import LabError
from gameday.profile.rules import IFACE_PREFIX

AZS = ("az-a", "az-b", "az-c")
# The pilot-light DR region's one zone: not an AZ of the primary region (AZ drills never
# pick it; its processes are not counted in an AZ's capacity).
DR_AZ = "dr-a"
GUARD_PREFIX = "gameday_guard"


class Isolation(str, enum.Enum):
    NETNS = "netns"
    LOOPBACK = "loopback"


@dataclass(frozen=True)
class Topology:
    isolation: Isolation
    subnet: str
    bridge: str
    dr_subnet: str = "10.214.0.0/24"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def dr_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.dr_subnet)

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network, ...]:
        """Every subnet the lab's namespaces use: the primary region's and the DR region's."""
        return (self.network, self.dr_network)

    def address(self, az: str) -> str:
        """The address every component of an AZ (or of the DR region's zone) binds to."""
        if self.isolation is Isolation.NETNS:
            if az == DR_AZ:
                return str(self.dr_network.network_address + 11)
            return str(self.network.network_address + 11 + AZS.index(az))
        return self.loopback_address(az)

    @staticmethod
    def loopback_address(az: str) -> str:
        """The AZ's address on the host's loopback: the loopback isolation's, and where a
        component that cannot run inside its AZ's namespace binds (see tiers/search.py)."""
        if az == DR_AZ:
            return "127.214.0.11"
        return f"127.213.0.{11 + AZS.index(az)}"

    @property
    def host_address(self) -> str:
        return str(self.network.network_address + 1) if self.isolation is Isolation.NETNS else "127.0.0.1"

    @property
    def dr_host_address(self) -> str:
        """The bridge's address in the DR subnet: what makes the host route it locally."""
        return str(self.dr_network.network_address + 1)

    def namespace(self, az: str) -> str | None:
        return f"gd-{az}" if self.isolation is Isolation.NETNS else None

    @property
    def guard_table(self) -> str:
        """This lab's guard table (one per bridge: one lab's `down` never removes another's)."""
        return f"{GUARD_PREFIX}_{self.bridge.replace('-', '_')}"

    def az_of_address(self, address: str) -> str | None:
        for az in (*AZS, DR_AZ):
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


HOOKS = ("output", "forward")


def _rule_lines(subnet: str) -> list[str]:
    """The guard's rules for one chain, as `nft list` prints them."""
    return [
        line
        for field in ("daddr", "saddr")
        for line in (f'ip {field} {subnet} oifname {{ "{IFACE_PREFIX}*", "lo" }} accept', f"ip {field} {subnet} drop")
    ]


def _guard_lines(topo: Topology) -> list[str]:
    return [line for net in topo.networks for line in _rule_lines(str(net))]


def _guard_rules(topo: Topology) -> str:
    rules = "\n".join(f"    {line}" for line in _guard_lines(topo))
    chains = "\n".join(f"  chain guard_{hook} {{\n    type filter hook {hook} priority -10; policy accept;\n{rules}\n  }}" for hook in HOOKS)
    return f"table inet {topo.guard_table} {{\n{chains}\n}}\n"


def guard_problem(topo: Topology) -> str | None:
    """Why this lab's guard does not hold (None: it does): the table is read back and
    every rule for this lab's subnet looked for in both chains, not just the table's name."""
    listing = _run(["nft", "list", "table", "inet", topo.guard_table], check=False)
    if listing.returncode != 0:
        return f"no nftables table inet {topo.guard_table}"
    chains = listing.stdout.split("chain ")[1:]
    for hook in HOOKS:
        chain = next((c for c in chains if c.startswith(f"guard_{hook} ")), None)
        if chain is None or f"hook {hook} " not in chain:
            return f"table {topo.guard_table} has no guard_{hook} chain on the {hook} hook"
        lines = {" ".join(line.split()) for line in chain.splitlines()}
        missing = [rule for rule in _guard_lines(topo) if rule not in lines]
        if missing:
            return f"chain guard_{hook} lacks: {missing[0]}"
    return None


def install_guard(topo: Topology) -> None:
    if guard_problem(topo) is None:
        return
    _run(["nft", "delete", "table", "inet", topo.guard_table], check=False)  # a stale one of this lab
    proc = subprocess.run(["nft", "-f", "-"], input=_guard_rules(topo), capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError(f"could not install the lab network guard: {proc.stderr.strip()}", hint="is nftables installed (apt-get install nftables)?")
    problem = guard_problem(topo)
    if problem:
        raise LabError(f"the lab network guard did not read back as installed: {problem}")


def assert_loopback(address: str) -> None:
    if not ipaddress.IPv4Address(address).is_loopback:
        raise LabError(f"{address} is not a loopback address")


def assert_routed_locally(topo: Topology, address: str) -> None:
    """Refuse to talk to a lab address unless the host routes it to the lab bridge."""
    if topo.isolation is Isolation.LOOPBACK:
        assert_loopback(address)
        return
    if not any(ipaddress.IPv4Address(address) in net for net in topo.networks):
        raise LabError(f"{address} is outside the lab subnets {topo.subnet} and {topo.dr_subnet}")
    route = _run(["ip", "-o", "route", "get", address], check=False).stdout
    if f"dev {topo.bridge} " not in route and not route.startswith("local "):
        raise LabError(f"refusing to send to {address}: the host does not route it to {topo.bridge} ({route.strip() or 'no route'})")
    problem = guard_problem(topo)
    if problem:
        raise LabError(f"refusing to send to the lab: its network guard does not hold ({problem})", hint="gameday lab down; gameday lab up")


def _interfaces(az: str) -> tuple[str, str]:
    """(host side, namespace side) veth names of a zone (at most 15 characters)."""
    tag = "dr" if az == DR_AZ else az[-1]
    return f"{IFACE_PREFIX}v{tag}", f"{IFACE_PREFIX}p{tag}"


def _zones(topo: Topology, dr: bool) -> tuple[str, ...]:
    return (*AZS, DR_AZ) if dr else AZS


def _bridge_address(topo: Topology, cidr: str) -> None:
    if cidr not in _run(["ip", "-o", "addr", "show", "dev", topo.bridge]).stdout:
        _run(["ip", "addr", "add", cidr, "dev", topo.bridge])


def create(topo: Topology, dr: bool = False) -> None:
    """Guard first, then bridge, then one namespace per AZ (and the DR region's with `dr`)."""
    if topo.isolation is Isolation.LOOPBACK:
        return
    install_guard(topo)
    if _run(["ip", "link", "show", topo.bridge], check=False).returncode != 0:
        _run(["ip", "link", "add", topo.bridge, "type", "bridge"])
    _bridge_address(topo, f"{topo.host_address}/{topo.network.prefixlen}")
    if dr:
        _bridge_address(topo, f"{topo.dr_host_address}/{topo.dr_network.prefixlen}")
    _run(["ip", "link", "set", topo.bridge, "up"])
    existing = _run(["ip", "netns", "list"]).stdout
    for az in _zones(topo, dr):
        ns, (host_if, peer) = topo.namespace(az), _interfaces(az)
        own = topo.dr_network if az == DR_AZ else topo.network
        assert ns is not None
        if ns not in existing.split():
            _run(["ip", "netns", "add", ns])
        if _run(["ip", "link", "show", host_if], check=False).returncode != 0:
            _run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer])
            _run(["ip", "link", "set", peer, "netns", ns])
            _run(["ip", "-n", ns, "link", "set", peer, "name", "eth0"])
            _run(["ip", "-n", ns, "addr", "add", f"{topo.address(az)}/{own.prefixlen}", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        if dr:  # the other region's subnet, on-link across the bridge
            other = topo.network if az == DR_AZ else topo.dr_network
            _run(["ip", "-n", ns, "route", "replace", str(other), "dev", "eth0"])
        _run(["ip", "link", "set", host_if, "master", topo.bridge])
        _run(["ip", "link", "set", host_if, "up"])
    for az in _zones(topo, dr):
        assert_routed_locally(topo, topo.address(az))


NETNS_DIR = Path("/run/netns")


def namespace_pids(topo: Topology) -> list[tuple[int, Path]]:
    """Every process still inside a lab namespace, with the namespace's file (cleanup after
    a killed harness: gameday.procs.end_in_namespace checks a PID against it)."""
    pids: list[tuple[int, Path]] = []
    for az in (*AZS, DR_AZ):
        ns = topo.namespace(az)
        if ns:
            out = _run(["ip", "netns", "pids", ns], check=False).stdout
            pids += [(int(p), NETNS_DIR / ns) for p in out.split()]
    return pids


def destroy(topo: Topology) -> None:
    """Idempotent: namespaces, then the bridge, then the guard last."""
    if topo.isolation is Isolation.LOOPBACK:
        return
    for az in (*AZS, DR_AZ):
        ns = topo.namespace(az)
        _run(["ip", "netns", "del", ns], check=False)
        _run(["ip", "link", "del", _interfaces(az)[0]], check=False)
    _run(["ip", "link", "del", topo.bridge], check=False)
    _run(["nft", "delete", "table", "inet", topo.guard_table], check=False)
