"""Splitting a history into the fault window and the time outside it."""

from __future__ import annotations

from gameday.history import WARMUP_END, History, Marker


def inside(window: tuple[float, float] | None, start: float, end: float) -> bool:
    """Whether [start, end) overlaps the window."""
    return window is not None and start < window[1] and end > window[0]


def measuring_from(history: History) -> float:
    """Steady-state figures count from the end of the drill's warm-up (cold caches and a
    starting load generator are not the platform's normal operation)."""
    for marker in history.of(Marker):
        if marker.name == WARMUP_END:
            return marker.t
    return float("-inf")
