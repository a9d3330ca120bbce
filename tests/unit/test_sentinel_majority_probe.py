"""The steady-state probe of the AZ drills against fake Sentinel views (the probe's own logic)."""

from __future__ import annotations

import pytest

import probes.redis as redis_probes


class FakeViews:
    def __init__(self, views: dict[str, str]) -> None:
        self.views = views

    def sentinel_views(self) -> dict[str, str]:
        return self.views


@pytest.mark.parametrize(("views", "holds"), [
    ({"sentinel-a": "redis-a", "sentinel-b": "redis-a", "sentinel-c": "redis-a"}, True),
    ({"sentinel-a": "", "sentinel-b": "redis-b", "sentinel-c": "redis-b"}, True),  # a lost AZ's Sentinel is silent
    ({"sentinel-a": "redis-a", "sentinel-b": "redis-c", "sentinel-c": "redis-c"}, True),  # a cut-off one names the old primary
    ({"sentinel-a": "redis-a", "sentinel-b": "redis-b", "sentinel-c": ""}, False),  # no majority
    ({"sentinel-a": "", "sentinel-b": "", "sentinel-c": "redis-c"}, False),
])  # fmt: skip
def test_a_majority_of_sentinels_must_name_one_primary(monkeypatch, views, holds):
    monkeypatch.setattr(redis_probes, "resolve", lambda configuration=None: FakeViews(views))
    assert redis_probes.sentinel_majority_agrees_on_primary() is holds
