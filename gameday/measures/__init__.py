"""Measurements: pure functions from history records to figures, each defined once.

Monitors record samples; measures derive figures from them (how long until every
partition had a live leader, when a job was writing again, how old the newest checkpoint
was); checkers compare figures with the catalog and reports plot them. A figure a checker
judges and a report shows comes from the same function here.
"""

from __future__ import annotations

import math
from typing import Sequence


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 < q <= 100) by the nearest-rank method: a value that occurred."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]
