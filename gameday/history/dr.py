"""The DR region's records: what the promotion did and when (written by the promoter, read
into a run's history), what clients saw through the global entry point, and the region
audit (acknowledged events against the region's copies)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from gameday.history.record import Record


class PromotionPhase(str, enum.Enum):
    PRIMARY_DOWN = "primary-down"  # the promoter first saw the primary region's serving path answer nothing
    PRIMARY_BACK = "primary-back"  # it answered again before the decision: the wait starts over
    DECIDED = "decided"  # the promotion begins (the decision wait passed, or an operator asked)
    STEP_STARTED = "step-started"
    STEP_DONE = "step-done"
    STEP_FAILED = "step-failed"
    PROMOTED = "promoted"  # every step of the plan done
    FAILED = "failed"  # a step failed: the promotion stopped there


@dataclass(frozen=True)
class PromotionEvent(Record):
    kind: ClassVar[str] = "dr.promotion"
    phase: PromotionPhase
    step: str = ""  # "promote cache", "start api", ... for the step phases
    by: str = ""  # "promoter" (automated, after the decision wait) or "operator" (`gameday dr promote`)
    decision_wait_s: float = 0.0  # the wait the promoter applied (DECIDED)
    plan: str = ""  # the plan's file and its steps (DECIDED)
    needs: str = ""  # the steps the region's serving path needs in this deployment (DECIDED)
    detail: str = ""


def plan_lacks(plan: str, needs: tuple[str, ...] | list[str]) -> list[str]:
    """The steps of `needs` a decision's plan ("SOURCE: step, step, ...") leaves out."""
    steps = plan.rsplit(": ", 1)[-1].split(", ")
    return [n for n in needs if n not in steps]


@dataclass(frozen=True)
class EntrySearch(Record):
    """One search through the global entry point during a region drill: whether it answered
    with flights, and which instance (X-Gameday-Instance) served it."""

    kind: ClassVar[str] = "dr.entry_search"
    ok: bool
    instance: str = ""
    flights: int = 0
    latency_s: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class RegionAudit(Record):
    """Every event acknowledged to a supplier up to the region's loss, against the DR
    region's copy of the log. `window_s`: how long before the loss the oldest missing one
    was acknowledged (0 when none is missing). `error` set = no measurement."""

    kind: ClassVar[str] = "dr.region_audit"
    lost_at: float
    acknowledged: int = -1
    missing_in_log: int = -1
    window_s: float = -1.0
    newest_ack_before_loss: float = 0.0
    missing_sample: tuple[str, ...] = ()
    waited_s: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class RegionStoreAudit(Record):
    """Every store write acknowledged in the primary region (at its write consistency)
    before the region's loss, read back through the DR region's store node at the level its
    API reads: the global replica's share of the RPO. `window_s`: how long before the loss
    the oldest missing write was acknowledged (0 when none is missing). Reads that failed
    are counted apart (not a measurement of those keys). `error` set = no measurement."""

    kind: ClassVar[str] = "dr.region_store_audit"
    lost_at: float
    node: str = ""
    consistency: str = ""
    acknowledged: int = -1
    missing: int = -1
    failed: int = 0
    window_s: float = -1.0
    missing_sample: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class RegionLakeAudit(Record):
    """Every event acknowledged to a supplier before the region's loss, against the DR
    region's raw events lake (committed files: the primary's, replicated, and what the job
    resumed there wrote): the audit trail's share of the RPO. `window_s`: how long before
    the loss the oldest missing one was acknowledged (0 when none is missing); `twice`: how
    many of them the region's lake holds more than once (the resumed job reads a few records
    again rather than skip any). `error` set = no measurement."""

    kind: ClassVar[str] = "dr.region_lake_audit"
    lost_at: float
    acknowledged: int = -1
    missing: int = -1
    window_s: float = -1.0
    twice: int = 0
    files: int = 0
    missing_sample: tuple[str, ...] = ()
    waited_s: float = 0.0
    error: str = ""
