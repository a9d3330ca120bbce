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
from pathlib import Path

from gameday.errors import LabError
from gameday.profile.rules import IFACE_PREFIX

AZS = ("az-a", "az-b", "az-c")
GUARD_PREFIX = "gameday_guard"


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
        if self.isolation is Isolation.NETNS:
            return str(self.network.network_address + 11 + AZS.index(az))
        return self.loopback_address(az)

    @staticmethod
    def loopback_address(az: str) -> str:
        """The AZ's address on the host's loopback: the loopback isolation's, and where a
        component that cannot run inside its AZ's namespace binds (see tiers/search.py)."""
        return f"127.213.0.{11 + AZS.index(az)}"

    @property
    def host_address(self) -> str:
        return str(self.network.network_address + 1) if self.isolation is Isolation.NETNS else "127.0.0.1"

    def namespace(self, az: str) -> str | None:
        return f"gd-{az}" if self.isolation is Isolation.NETNS else None

    @property
    def guard_table(self) -> str:
        """This lab's guard table (one per bridge: one lab's `down` never removes another's)."""
        return f"{GUARD_PREFIX}_{self.bridge.replace('-', '_')}"

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


HOOKS = ("output", "forward")


def _rule_lines(subnet: str) -> list[str]:
    """The guard's rules for one chain, as `nft list` prints them."""
    return [
        line
        for field in ("daddr", "saddr")
        for line in (f'ip {field} {subnet} oifname {{ "{IFACE_PREFIX}*", "lo" }} accept', f"ip {field} {subnet} drop")
    ]


def _guard_rules(topo: Topology) -> str:
    rules = "\n".join(f"    {line}" for line in _rule_lines(str(topo.network)))
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
        missing = [rule for rule in _rule_lines(str(topo.network)) if rule not in lines]
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
    if ipaddress.IPv4Address(address) not in topo.network:
        raise LabError(f"{address} is outside the lab subnet {topo.subnet}")
    route = _run(["ip", "-o", "route", "get", address], check=False).stdout
    if f"dev {topo.bridge} " not in route and not route.startswith("local "):
        raise LabError(f"refusing to send to {address}: the host does not route it to {topo.bridge} ({route.strip() or 'no route'})")
    problem = guard_problem(topo)
    if problem:
        raise LabError(f"refusing to send to the lab: its network guard does not hold ({problem})", hint="gameday lab down; gameday lab up")


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


NETNS_DIR = Path("/run/netns")


def namespace_pids(topo: Topology) -> list[tuple[int, Path]]:
    """Every process still inside a lab namespace, with the namespace's file (cleanup after
    a killed harness: gameday.procs.end_in_namespace checks a PID against it)."""
    pids: list[tuple[int, Path]] = []
    for az in AZS:
        ns = topo.namespace(az)
        if ns:
            out = _run(["ip", "netns", "pids", ns], check=False).stdout
            pids += [(int(p), NETNS_DIR / ns) for p in out.split()]
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
    _run(["nft", "delete", "table", "inet", topo.guard_table], check=False)
