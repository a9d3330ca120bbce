"""The stream's delivery mode (profile `stream.delivery`): the two readings of the plan.

The plan says both "Enables Flink's end-to-end exactly-once processing" (Kafka row; "durable
state for exactly-once semantics", checkpoint row) and, as the mitigation of data loss
during processing, "At-least-once processing with idempotent writes, 30-second
checkpointing". They differ in when the job's output reaches the applier:

- exactly_once: the job writes its output in Kafka transactions committed at each
  checkpoint, and the applier reads read_committed: each event once, visible only at the
  next checkpoint (the plan's 30 s).
- at_least_once: the job's sink writes as it processes (flushed at checkpoints, no
  transactions), and the applier reads read_uncommitted: visible at once; after a restore
  the job writes again what it wrote since the last checkpoint, and the applier's writes,
  idempotent (store write time and index document version = the supplier's timestamp),
  absorb the repeats.
"""

from __future__ import annotations

import enum


class Delivery(enum.Enum):
    EXACTLY_ONCE = "exactly_once"
    AT_LEAST_ONCE = "at_least_once"

    @property
    def sink_guarantee(self) -> str:
        """The Flink Kafka sink's `sink.delivery-guarantee`."""
        return "exactly-once" if self is Delivery.EXACTLY_ONCE else "at-least-once"

    @property
    def isolation(self) -> str:
        """The applier's Kafka `isolation.level`."""
        return "read_committed" if self is Delivery.EXACTLY_ONCE else "read_uncommitted"

    def visibility(self, checkpoint_interval_s: float) -> str:
        """When the job's output reaches the applier, in words."""
        if self is Delivery.EXACTLY_ONCE:
            return f"the job's output reaches the applier when a checkpoint commits it (every {checkpoint_interval_s:g} s)"
        return "the job's output reaches the applier as the job writes it; repeats after a restore are absorbed by idempotent writes"


CHOICES = tuple(d.value for d in Delivery)
