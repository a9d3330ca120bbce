"""The spec catalog: every measurable target of the HA plan, as typed records."""

from __future__ import annotations

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
class Slo:
    id: str
    clause: str
    comparator: Comparator
    threshold: float
    unit: str
    reading: str

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
class Catalog:
    plan_version: str
    slos: dict[str, Slo]

    def __getitem__(self, slo_id: str) -> Slo:
        return self.slos[slo_id]


def parse_catalog(data: dict) -> Catalog:
    slos = {}
    for raw in data["slos"]:
        slo = Slo(
            id=raw["id"],
            clause=raw["clause"],
            comparator=Comparator(raw["comparator"]),
            threshold=float(raw["threshold"]),
            unit=raw["unit"],
            reading=raw["reading"],
        )
        if slo.id in slos:
            raise ValueError(f"duplicate SLO id {slo.id!r} in the spec catalog")
        slos[slo.id] = slo
    return Catalog(plan_version=str(data["plan_version"]), slos=slos)


@cache
def catalog() -> Catalog:
    text = resources.files(__package__).joinpath("catalog.yaml").read_text()
    return parse_catalog(yaml.safe_load(text))
