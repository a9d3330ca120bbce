"""The spec catalog: every measurable promise of the HA plan, as typed records.

Each SLO states its threshold and how the plan's words are read, what a verdict needs
(`evidence`: below it a checker says `unknown`), and where it is judged: the drills that
judge it, or why no drill here can (`not_measured`).
"""

from __future__ import annotations

import dataclasses
import enum
import operator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Callable

import yaml


class Comparator(enum.Enum):
    LE = "le"
    LT = "lt"
    GE = "ge"
    EQ = "eq"

    @property
    def symbol(self) -> str:
        return {"le": "<=", "lt": "<", "ge": ">=", "eq": "=="}[self.value]

    @property
    def holds(self) -> Callable[[float, float], bool]:
        return {"le": operator.le, "lt": operator.lt, "ge": operator.ge, "eq": operator.eq}[self.value]


@dataclass(frozen=True)
class Evidence:
    """What a verdict on an SLO needs; a checker below any of these says `unknown`."""

    min_requests: int = 0  # search requests in each judged window
    min_rate: float = 0.0  # achieved req/s in the judged window (the peak-load clause)
    min_lookups: int = 0  # price lookups (cache hit ratio)
    min_seconds: int = 0  # seconds of per-second figures (processing lag)
    min_samples: int = 0  # monitor ticks after the instant that starts the measurement
    min_events: int = 0  # supplier events acknowledged
    min_writes: int = 0  # client writes (in a row that make a recovery; in a fault window)
    min_canaries: int = 0  # canary supplier updates
    min_checkpoints: int = 0  # completed checkpoints
    every: str = ""  # a role whose every component (per the run's topology) must be sampled
    resolution_s: float = 0.0  # the resolution the figure is measured to (0 = as measured)
    stale_s: float = 0.0  # how long a sampler's last answer stands for it in an interval it has no sample in


@dataclass(frozen=True)
class Slo:
    id: str
    clause: str
    comparator: Comparator
    threshold: float
    unit: str
    reading: str
    evidence: Evidence = Evidence()
    drills: tuple[str, ...] = ()  # experiments (file stems) that judge it
    not_measured: str = ""  # why no drill here judges it (then drills is empty)

    @property
    def target_text(self) -> str:
        return f"{self.comparator.symbol} {self.threshold:g} {self.unit}"

    def met_by(self, measured: float) -> bool:
        return self.comparator.holds(measured, self.threshold)

    def margin(self, measured: float) -> float:
        """How far the measurement is past the threshold (positive = worse than allowed)."""
        if self.comparator in (Comparator.GE,):
            return self.threshold - measured
        return measured - self.threshold


@dataclass(frozen=True)
class LoadGeneratorLimits:
    """When the load generator's own figures stop being the platform's: beyond these, latency
    verdicts are `unknown` (see gameday.load.run.generator_problem)."""

    max_cpu_share: float  # of a core, per generator process
    max_stall_share: float  # of the time its arrival clock ran late
    min_held_share: float  # of the requested arrivals it issued


@dataclass(frozen=True)
class Catalog:
    plan_version: str
    slos: dict[str, Slo]
    load_generator: LoadGeneratorLimits

    def __getitem__(self, slo_id: str) -> Slo:
        return self.slos[slo_id]


FIELDS = {"id", "clause", "comparator", "threshold", "unit", "reading", "evidence", "drills", "not_measured"}
EVIDENCE_FIELDS = {f.name: f.type for f in dataclasses.fields(Evidence)}


def parse_catalog(data: dict) -> Catalog:
    slos = {}
    for raw in data["slos"]:
        where = f"spec catalog, SLO {raw.get('id')!r}"
        unknown = set(raw) - FIELDS
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        evidence = raw.get("evidence") or {}
        bad = set(evidence) - set(EVIDENCE_FIELDS)
        if bad:
            raise ValueError(f"{where}: unknown evidence {', '.join(sorted(bad))} (known: {', '.join(EVIDENCE_FIELDS)})")
        drills, not_measured = tuple(raw.get("drills") or ()), str(raw.get("not_measured") or "")
        if bool(drills) == bool(not_measured):
            raise ValueError(f"{where}: give either the drills that judge it or why none does (not_measured)")
        slo = Slo(
            id=raw["id"],
            clause=raw["clause"],
            comparator=Comparator(raw["comparator"]),
            threshold=float(raw["threshold"]),
            unit=raw["unit"],
            reading=raw["reading"],
            evidence=Evidence(**evidence),
            drills=drills,
            not_measured=not_measured,
        )
        if slo.id in slos:
            raise ValueError(f"duplicate SLO id {slo.id!r} in the spec catalog")
        slos[slo.id] = slo
    return Catalog(plan_version=str(data["plan_version"]), slos=slos, load_generator=LoadGeneratorLimits(**data["load_generator"]))


@cache
def catalog() -> Catalog:
    text = resources.files(__package__).joinpath("catalog.yaml").read_text()
    return parse_catalog(yaml.safe_load(text))
