"""Monitors: samplers that run through the whole experiment and write into the history."""

from __future__ import annotations

import threading
import time
from typing import Callable

from gameday.history import Recorder


class Sampler:
    """Calls `sample()` every `interval_s` on its own thread until stopped.

    A sample that raises is not fatal: the sampler records nothing for that tick
    and carries on (a missing sample later reads as missing data, i.e. unknown).
    """

    def __init__(self, name: str, interval_s: float, sample: Callable[[], None]) -> None:
        self.name = name
        self.interval_s = interval_s
        self._sample = sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"monitor-{name}", daemon=True)
        self.errors = 0

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self._sample()
            except Exception:
                self.errors += 1
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def start_all(recorder: Recorder, target, interval_s: float = 0.2, tiers: list[str] | None = None) -> list[Sampler]:
    """The in-process samplers of the tiers a drill runs (all of them when not told).
    Kafka and Flink are sampled by a separate process: see gameday.monitors.stream_watch."""
    from gameday.monitors import api, redis, search

    tiers = tiers if tiers is not None else ["redis", "api"]
    samplers = (redis.samplers(recorder, target, interval_s) if "redis" in tiers else []) + (api.samplers(recorder, target, 1.0) if "api" in tiers else [])
    samplers += search.samplers(recorder, target, 0.5) if "search" in tiers else []
    samplers += [api.balancer_sampler(recorder, target, 0.5)] if "api" in tiers else []
    return [s.start() for s in samplers]
