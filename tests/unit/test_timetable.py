"""The timetable is deterministic, big enough, and its search mix gives the plan's hit ratio."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest

from flightsearch import timetable


@pytest.fixture(scope="module")
def tt() -> timetable.Timetable:
    return timetable.generate()


def test_same_seed_same_timetable(tt: timetable.Timetable) -> None:
    again = timetable.generate()
    assert again == tt
    other = timetable.generate(seed=43)
    assert other.flights[:50] != tt.flights[:50]


def test_default_size(tt: timetable.Timetable) -> None:
    assert len(tt.airports) >= 100
    assert len({a.code for a in tt.airports}) == len(tt.airports)
    assert all(len(a.code) == 3 and a.code.isalpha() and a.code.isupper() for a in tt.airports)
    assert len(tt.flights) >= 50_000
    assert len({f.flight_id for f in tt.flights}) == len(tt.flights)
    assert tt.start == date(2026, 12, 1) and tt.days == 30
    per_route_day = Counter((f.origin, f.destination, f.date) for f in tt.flights)
    assert len(per_route_day) == len(tt.routes) * tt.days  # every route flies every day
    assert 2.5 <= len(tt.flights) / len(per_route_day) <= 3.5  # ~3 flights per route a day


def test_flights_are_well_formed(tt: timetable.Timetable) -> None:
    codes = {a.code for a in tt.airports}
    for f in tt.flights[::97]:
        assert f.origin in codes and f.destination in codes and f.origin != f.destination
        assert f.departs.date() == f.date and f.arrives > f.departs
        assert f.price.currency == "GBP" and f.price.amount_pence > 0 and f.price.seats >= 0
        assert f.flight_id == f"{f.carrier}{f.number}-{f.date:%Y%m%d}"


def test_mix_hits_existing_routes_with_skew(tt: timetable.Timetable) -> None:
    mix = timetable.SearchMix.of(tt)
    existing = {(f.origin, f.destination, f.date.isoformat()) for f in tt.flights}
    rng = random.Random(1)
    queries = [mix.sample(rng) for _ in range(20_000)]
    assert all(q in existing for q in queries)
    routes = Counter((o, d) for o, d, _ in queries)
    top = tt.routes[0]
    assert routes.most_common(1)[0][0] == (top.origin, top.destination)
    assert sum(n for _, n in routes.most_common(60)) > 0.5 * len(queries)  # top 10% of routes > half
    days = Counter(day for _, _, day in queries)
    assert days[tt.start.isoformat()] > days[tt.dates()[10].isoformat()] > days[tt.dates()[-1].isoformat()]


def test_mix_depends_only_on_routes() -> None:
    """The load generator may rebuild the mix from generate(); same routes, same queries."""
    a = timetable.SearchMix.of(timetable.generate())
    b = timetable.SearchMix.of(timetable.generate())
    ra, rb = random.Random(5), random.Random(5)
    assert [a.sample(ra) for _ in range(100)] == [b.sample(rb) for _ in range(100)]


def test_simulated_hit_ratio_in_plan_regime() -> None:
    at_300 = timetable.expected_hit_ratio(300, 60, 120)
    assert 0.70 <= at_300 <= 0.95
    assert timetable.expected_hit_ratio(3000, 60, 60) >= at_300  # more traffic, warmer cache


class _FakeSchemaSession:
    """A driver session whose schema agreement comes after `agree_after` waits (fake: the
    harness's waiting logic only; the real store's agreement is exercised by every lab up)."""

    def __init__(self, agreed_at_once: bool, agree_after: int | None) -> None:
        from types import SimpleNamespace

        self.waits = 0
        self.executed: list[str] = []
        self.agree_after = agree_after
        self.future = SimpleNamespace(is_schema_agreed=agreed_at_once)
        self.cluster = SimpleNamespace(control_connection=SimpleNamespace(wait_for_schema_agreement=self._wait))

    def execute(self, ddl: str):
        from types import SimpleNamespace

        self.executed.append(ddl)
        return SimpleNamespace(response_future=self.future)

    def _wait(self, wait_time: float) -> bool:
        self.waits += 1
        return self.agree_after is not None and self.waits >= self.agree_after


def test_schema_change_waits_for_a_late_agreement_with_a_fake_session() -> None:
    s = _FakeSchemaSession(agreed_at_once=False, agree_after=3)
    timetable._schema_change(s, "CREATE KEYSPACE x WITH replication = {}")
    assert s.waits == 3


def test_schema_change_does_not_wait_when_agreed_with_a_fake_session() -> None:
    s = _FakeSchemaSession(agreed_at_once=True, agree_after=None)
    timetable._schema_change(s, "CREATE TABLE x.y (a int PRIMARY KEY)")
    assert s.waits == 0


def test_schema_change_fails_loudly_without_agreement_with_a_fake_session() -> None:
    s = _FakeSchemaSession(agreed_at_once=False, agree_after=None)
    with pytest.raises(RuntimeError, match="did not agree on the schema.*CREATE TABLE x.y"):
        timetable._schema_change(s, "CREATE TABLE x.y (a int PRIMARY KEY)", agreement_s=0.05)
