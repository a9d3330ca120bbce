"""The faults gameday injects, named once for the probes that inject them and the checkers
and reports that read them back, and the plain data a fault action returns.

A fault action (a Chaos Toolkit provider in `probes/`) asks the target for its victim,
injects the fault through the target, and returns `fault_output(...)`; gameday's control
turns that into a `FaultEvent` in the run's history, on the same clock as the samples.
"""

from __future__ import annotations

import enum
from typing import Any

from gameday.history import FaultEvent, FaultPhase


class Fault(str, enum.Enum):
    REDIS_KILL_PRIMARY = "redis.kill_primary"
    KAFKA_KILL_BROKER = "kafka.kill_broker"
    # Jepsen's classic: freeze the followers, let the leader take writes alone, kill it.
    KAFKA_LAGGING_FOLLOWERS = "kafka.kill_leader_after_lagging_followers"
    FLINK_KILL_JOBMANAGER = "flink.kill_jobmanager"
    FLINK_KILL_TASKMANAGER = "flink.kill_taskmanager"
    SEARCH_KILL_NODE = "search.kill_node"
    SEARCH_KILL_CLUSTER_MANAGER = "search.kill_cluster_manager"
    STORE_KILL_NODE = "store.kill_node"
    API_KILL_INSTANCE = "api.kill_instance"
    INGEST_KILL_ADAPTER = "ingest.kill_adapter"
    # Every process of one AZ at once; each tier's loss is also recorded as its own fault.
    AZ_OUTAGE = "az.outage"
    # One AZ cut off the network, its processes running (gameday.lab.partition's modes).
    AZ_PARTITION = "az.partition"
    # Every process of the primary region at once (all its AZs); the DR region takes over.
    REGION_LOSS = "region.loss"


KAFKA_FAULTS = (Fault.KAFKA_KILL_BROKER, Fault.KAFKA_LAGGING_FOLLOWERS)
FLINK_FAULTS = (Fault.FLINK_KILL_JOBMANAGER, Fault.FLINK_KILL_TASKMANAGER)
SEARCH_FAULTS = (Fault.SEARCH_KILL_NODE, Fault.SEARCH_KILL_CLUSTER_MANAGER)

# The key under which a fault action's output carries its fault.
FAULT_KEY = "gameday_fault"


def fault_output(phase: FaultPhase, fault: Fault | str, component: str, at: float, az: str = "", detail: str = "") -> dict[str, Any]:
    """What a fault action returns: plain data the control turns into a FaultEvent.
    `detail` holds `key=value` facts (e.g. "broker=2", "leader=<url>") for the checkers."""
    return {FAULT_KEY: {"phase": phase.value, "fault": Fault(fault).value, "component": component, "t": at, "az": az, "detail": detail}}


def fault_events(output: Any) -> list[FaultEvent]:
    """The FaultEvents an activity's output carries: one, or several that took effect at
    once (an AZ outage is each of its tiers' faults, on one timeline)."""
    if not isinstance(output, dict) or FAULT_KEY not in output:
        return []
    raw = output[FAULT_KEY]
    return [
        FaultEvent(t=f["t"], phase=FaultPhase(f["phase"]), fault=f["fault"], component=f["component"], az=f.get("az", ""), detail=f.get("detail", ""))
        for f in (raw if isinstance(raw, list) else [raw])
    ]


def together(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several fault outputs as one activity's output."""
    return {FAULT_KEY: [o[FAULT_KEY] for o in outputs]}


def first(events: list[FaultEvent], names: tuple[Fault, ...], phase: FaultPhase = FaultPhase.INJECTED) -> FaultEvent | None:
    """The first event of one of the named faults in the given phase."""
    return next((f for f in events if f.fault in names and f.phase is phase), None)


def detail_value(event: FaultEvent, key: str) -> str:
    """A `key=value` fact from the event's detail ("" when absent)."""
    for part in event.detail.split():
        if part.startswith(f"{key}="):
            return part.split("=", 1)[1]
    return ""


def lost_with_an_az(events: list[FaultEvent], at: float) -> set[str]:
    """Components an AZ outage or partition in force at `at` took down or cut off from the
    majority (none without one): what they say is not the platform's view."""
    out: set[str] = set()
    for f in events:
        if f.fault in (Fault.AZ_OUTAGE.value, Fault.AZ_PARTITION.value) and f.phase is FaultPhase.INJECTED and f.t <= at:
            back = [r.t for r in events if r.fault == f.fault and r.phase is FaultPhase.REVERTED and r.t >= f.t]
            if not back or back[0] > at:
                out |= set(filter(None, detail_value(f, "components").split(",")))
    return out
