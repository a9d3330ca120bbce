"""Flink measurements: leader election, job recovery, checkpoint age."""

from __future__ import annotations

from dataclasses import dataclass

from gameday.history import FlinkSample


def leader_elected(samples: list[FlinkSample], fault_t: float, old_leader: str) -> FlinkSample | None:
    """The first sample after the fault in which ZooKeeper names a leader other than the
    killed one and that leader's REST API answers."""
    for s in sorted(samples, key=lambda s: s.t):
        if s.t >= fault_t and s.leader and s.leader != old_leader and not s.error.startswith("rest"):
            return s
    return None


def job_healthy(s: FlinkSample) -> bool:
    """The job RUNNING with every task RUNNING, as the leader reported it."""
    return s.state == "RUNNING" and s.tasks_running and not s.error


@dataclass(frozen=True)
class Recovery:
    """When, after a fault, the job was first seen disrupted, all its tasks ran again, and
    its output moved again (None: not seen while watched)."""

    disrupted: FlinkSample | None
    running: FlinkSample | None
    writing_at: float | None


def recovery(samples: list[FlinkSample], output_ends: list[tuple[float, int]], fault_t: float) -> Recovery:
    """A job has recovered when all its tasks RUNNING again after being disrupted *and* its
    output's end offset moves past where it stood then: progress, not just a state flag."""
    after = sorted((s for s in samples if s.t >= fault_t), key=lambda s: s.t)
    ends = [(t, e) for t, e in output_ends if t >= fault_t]
    disrupted = next((s for s in after if not job_healthy(s)), None)
    running = next((s for s in after if disrupted is not None and s.t > disrupted.t and job_healthy(s)), None)
    if running is None or not ends:
        return Recovery(disrupted, running, None)
    before = [e for t, e in ends if t <= running.t]
    base = before[-1] if before else ends[0][1]
    return Recovery(disrupted, running, next((t for t, e in ends if t >= running.t and e > base), None))


def checkpoint_age(s: FlinkSample) -> float | None:
    """Seconds since the newest completed checkpoint at this sample (None: none known)."""
    return s.t - s.checkpoint_at if s.checkpoint_at > 0 else None
