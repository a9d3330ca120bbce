"""Targets map semantic faults and questions to mechanisms.

Experiments name the fault ("kill the Redis primary"), never the mechanism; the
target (`lab`, `kubernetes`, `aws`) decides how. Only `lab` is implemented so far.
"""

from __future__ import annotations

from typing import Any, Protocol

from gameday.errors import InputError

Address = tuple[str, int]


class Target(Protocol):
    name: str

    def redis_nodes(self) -> dict[str, Address]: ...
    def sentinels(self) -> dict[str, Address]: ...
    def redis_service(self) -> str: ...
    def api_instances(self) -> dict[str, str]: ...
    def lb_url(self) -> str: ...
    def node_at(self, host: str, port: int) -> str: ...
    def kill(self, component: str) -> float: ...
    def restart(self, component: str, extra_args: list[str] | None = None) -> float: ...
    def down_components(self) -> list[str]: ...


def resolve(configuration: dict[str, Any] | None = None) -> Target:
    name = (configuration or {}).get("gameday_target", "lab")
    if name == "lab":
        from gameday.target.lab import LabTarget

        return LabTarget.current()
    if name in ("kubernetes", "aws"):
        raise InputError(
            f"target {name!r} is not implemented yet",
            hint="only the local lab target exists; run with GAMEDAY_TARGET=lab (the default)",
        )
    raise InputError(f"unknown target {name!r}", hint="targets: lab, kubernetes, aws")
