"""The embedded lab target: faults are signals to tracked local processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from gameday.lab import network
from gameday.lab.profile import load_profile
from gameday.lab.state import LabState
from gameday.lab.supervisor import Lab
from gameday.lab.tiers import api as api_tier
from gameday.lab.tiers.redis import node_name, sentinel_name
from gameday.target import Address


class LabTarget:
    name = "lab"

    def __init__(self, lab: Lab, st: LabState) -> None:
        self.lab = lab
        self.st = st
        self.ctx = lab.context(st)

    @classmethod
    def current(cls, profile_path: Path | None = None) -> "LabTarget":
        env = os.environ.get("GAMEDAY_PROFILE")
        lab = Lab(load_profile(profile_path or (Path(env) if env else None)))
        return cls(lab, lab.require_state())

    def _addr(self, az: str, port_key: str) -> Address:
        host = self.st.topology.address(az)
        network.assert_routed_locally(self.st.topology, host)
        return host, self.ctx.profile.get(port_key)

    def redis_nodes(self) -> dict[str, Address]:
        return {node_name(az): self._addr(az, "redis.port") for az in network.AZS}

    def sentinels(self) -> dict[str, Address]:
        return {sentinel_name(az): self._addr(az, "redis.sentinel.port") for az in network.AZS}

    def redis_service(self) -> str:
        return self.ctx.profile.get("redis.sentinel.service")

    def api_instances(self) -> dict[str, str]:
        out = {}
        for spec in api_tier.specs(self.ctx):
            if spec.az:
                network.assert_routed_locally(self.st.topology, spec.address)
                out[spec.name] = f"http://{spec.address}:{spec.port}"
        return out

    def lb_url(self) -> str:
        return api_tier.lb_url(self.ctx)

    def node_at(self, host: str, port: int) -> str:
        for name, addr in {**self.redis_nodes(), **self.sentinels()}.items():
            if addr == (host, int(port)):
                return name
        return f"{host}:{port}"

    def az_of(self, component: str) -> str:
        return self.lab.component(component).az

    def kill(self, component: str) -> float:
        return self.lab.send(component, signal.SIGKILL)

    def restart(self, component: str, extra_args: list[str] | None = None) -> float:
        return self.lab.restart(component, extra_args)

    # --- streaming tiers --------------------------------------------------------------
    def _check_lab_addresses(self) -> None:
        for az in network.AZS:
            network.assert_routed_locally(self.st.topology, self.st.topology.address(az))

    def kafka_bootstrap(self) -> str:
        from gameday.lab.tiers.kafka import bootstrap_servers

        self._check_lab_addresses()
        return bootstrap_servers(self.ctx)

    def zk_quorum(self) -> str:
        from gameday.lab.tiers.zookeeper import quorum

        self._check_lab_addresses()
        return quorum(self.ctx)

    def stream_job_name(self) -> str:
        from gameday.lab.tiers.stream import JOB_NAME

        return JOB_NAME

    def ingest_ack_dir(self) -> Path:
        from gameday.lab.tiers.ingest import ack_dir

        return ack_dir(self.ctx)

    def archive_dir(self) -> Path:
        from gameday.lab.tiers.stream import archive_dir

        return archive_dir(self.ctx)

    def components_of(self, tier: str) -> list[str]:
        return sorted(n for n, t in self.lab.require_state().components.items() if t.tier == tier)

    def down_components(self) -> list[str]:
        st = self.lab.require_state()
        return [name for name, t in st.components.items() if not t.alive()]
