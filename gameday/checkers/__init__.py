"""Checkers: pure functions from a history to a verdict on one SLO.

A checker that lacks data returns `unknown`; one that crashes is turned into
`unknown` here. Nothing becomes `pass` without a measurement. Running the
checkers again on a saved history gives the same verdicts.
"""

from __future__ import annotations

import traceback
from typing import Callable

from gameday.checkers.verdicts import Outcome, judge
from gameday.history import History
from gameday.spec import Catalog, Slo, catalog

Checker = Callable[[History, Slo], Outcome]

_REGISTRY: dict[str, Checker] = {}


def checker(slo_id: str) -> Callable[[Checker], Checker]:
    def register(fn: Checker) -> Checker:
        _REGISTRY[slo_id] = fn
        return fn

    return register


def registered() -> dict[str, Checker]:
    from gameday.checkers import api, capacity, consistency, data, dr, flink, instances, kafka, redis, search, store  # noqa: F401  (registration side effect)

    return dict(_REGISTRY)


def run_checkers(history: History, slo_ids: list[str], spec: Catalog | None = None) -> list[Outcome]:
    spec = spec or catalog()
    checkers = registered()
    outcomes = []
    for slo_id in slo_ids:
        slo = spec[slo_id]
        fn = checkers.get(slo_id)
        if fn is None:
            outcomes.append(judge(slo, None, "No checker measures this SLO yet."))
            continue
        try:
            outcomes.append(fn(history, slo))
        except Exception as exc:  # a crashed measurement is unknown, never pass
            last = traceback.extract_tb(exc.__traceback__)[-1]
            outcomes.append(judge(slo, None, f"Checker crashed: {type(exc).__name__}: {exc} ({last.filename}:{last.lineno})"))
    return outcomes
