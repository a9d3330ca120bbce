"""Freshness through the search index, and the delivery mode in the run's record, on FAKE
histories and FAKE search answers (no lab): the canary's values and how an answer is read,
the records and their JSON, which canary path the checker judges and what it and the
duplicates checker say per delivery mode, and the report's words. The real drill under
both modes is tests/lab/test_freshness_lab.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.checkers import run_checkers
from gameday.checkers.verdicts import Outcome, Verdict
from gameday.delivery import Delivery
from gameday.history import CanaryPath, CanarySample, History, IntegrityAudit, Marker, StreamDelivery, from_json, to_json
from gameday.monitors import stream_watch
from gameday.monitors.streaming import CANARY_SEATS, Canary, shown
from gameday.profile import load_profile
from gameday.reports.render import render_run
from gameday.reports.streaming import streaming_section
from tests.unit.test_reports import T0, make_run

FLIGHT = "FR123-20261205"


def check(slo_id: str, records: list) -> Outcome:
    [outcome] = run_checkers(History.of_records(records), [slo_id])
    assert not outcome.detail.startswith("Checker crashed"), outcome.detail
    return outcome


def delivery(mode: Delivery, index: bool = True) -> StreamDelivery:
    return StreamDelivery(t=T0, mode=mode, sink=mode.sink_guarantee, isolation=mode.isolation, checkpoint_interval_s=30.0, index_kept=index)


# --- the canary ------------------------------------------------------------------------------------


class Flight:
    flight_id, origin, destination = FLIGHT, "AAA", "BBB"

    class price:  # noqa: N801 - a stand-in for timetable.Price
        currency = "GBP"


def test_each_canary_has_its_own_seats_and_price_and_carries_both():
    a, b = Canary(1, T0), Canary(2, T0 + 3)
    assert (a.seats, b.seats) == (CANARY_SEATS + 1, CANARY_SEATS + 2) and a.amount_pence != b.amount_pence
    assert a.watched(CanaryPath.INDEX) == a.seats and a.watched(CanaryPath.PRICE) == a.amount_pence
    event = b.event(Flight)
    assert (event["seats"], event["amount_pence"], event["supplier_ts"], event["flight_id"]) == (b.seats, b.amount_pence, T0 + 3, FLIGHT)
    assert event["amount_pence"] > 0  # the job drops events without a positive price


def answer(seats, price_seats=77, amount=12345) -> dict:
    return {"flights": [{"flight_id": "OTHER", "seats": 1, "price": {"amount_pence": 1}},
                        {"flight_id": FLIGHT, "seats": seats, "sold_out": False, "price": {"amount_pence": amount, "seats": price_seats}}],
            "source": {"listing": "index"}}  # fmt: skip


def test_a_search_answer_is_read_for_the_indexs_seats_or_the_price():
    body = answer(CANARY_SEATS + 4, price_seats=CANARY_SEATS + 9)
    assert shown(body, FLIGHT, CanaryPath.INDEX) == CANARY_SEATS + 4  # the index's view, not the price record's seats
    assert shown(body, FLIGHT, CanaryPath.PRICE) == 12345
    assert shown(body, "MISSING", CanaryPath.INDEX) is None
    assert shown(answer(None), FLIGHT, CanaryPath.INDEX) is None  # an index seeded before seats were indexed
    assert shown({"flights": [{"flight_id": FLIGHT, "price": None}]}, FLIGHT, CanaryPath.PRICE) is None
    assert shown({}, FLIGHT, CanaryPath.INDEX) is None


def test_canary_and_delivery_records_round_trip_and_older_canaries_read_as_price():
    c = CanarySample(t=T0, flight_id=FLIGHT, amount_pence=900_003, seats=CANARY_SEATS + 1, via=CanaryPath.INDEX, seen_at=T0 + 0.7, polls=14)
    assert from_json(to_json(c)) == c and '"via":"index"' in to_json(c)
    old = from_json('{"kind":"canary","t":1.0,"flight_id":"F","amount_pence":3,"seen_at":2.0}')
    assert old.via is CanaryPath.PRICE and old.seats == -1
    d = delivery(Delivery.AT_LEAST_ONCE)
    assert from_json(to_json(d)) == d and '"mode":"at_least_once"' in to_json(d)
    assert "job sink at-least-once, applier read_uncommitted" in d.describe() and "keeps the search index current" in d.describe()


class FakeTarget:
    def __init__(self, tiers: list[str]) -> None:
        self._tiers = tiers

    def tiers(self) -> list[str]:
        return self._tiers


@pytest.mark.parametrize("mode", list(Delivery))
def test_the_runs_delivery_record_is_the_labs_mode_and_says_whether_the_index_is_kept(mode):
    profile = load_profile(overrides={"stream": {"delivery": mode.value}})
    full = ["redis", "cassandra", "search", "api", "kafka", "zookeeper", "flink", "ingest", "stream"]
    d = stream_watch.delivery_record(FakeTarget(full), profile, T0)
    assert (d.mode, d.sink, d.isolation, d.checkpoint_interval_s, d.index_kept) == (mode, mode.sink_guarantee, mode.isolation, 30.0, True)
    assert stream_watch.canary_via(FakeTarget(full)) is CanaryPath.INDEX
    no_search = [t for t in full if t != "search"]
    assert stream_watch.delivery_record(FakeTarget(no_search), profile, T0).index_kept is False
    assert stream_watch.canary_via(FakeTarget(no_search)) is CanaryPath.PRICE
    assert stream_watch.delivery_record(FakeTarget(["redis", "search", "api"]), profile, T0) is None


# --- the checkers, both ways -------------------------------------------------------------------------


def index_canaries(delays: list[float | None], *, with_price: bool = False) -> list:
    """Index canaries every 3 s from the warm-up's end; None = never seen (given up after 60 s).
    `with_price`: price canaries too (all fast), which must not be judged beside them."""
    recs: list = [Marker(t=T0, name="warmup.end")]
    for k, d in enumerate(delays):
        t = T0 + 1 + 3 * k
        recs.append(CanarySample(t=t, flight_id=FLIGHT, amount_pence=900_001 + 2 * k, seats=CANARY_SEATS + k, via=CanaryPath.INDEX,
                                 seen_at=t + d if d is not None else 0.0, gave_up_at=0.0 if d is not None else t + 60))  # fmt: skip
        if with_price:
            recs.append(CanarySample(t=t, flight_id=FLIGHT, amount_pence=1 + k, seen_at=t + 0.1))
    return recs


def test_fake_history_freshness_through_the_index_passes_at_least_once_within_a_second():
    fast = [0.4, 0.5, 0.6, 0.7, 0.9, 0.5, 0.6, 0.5, 0.8, 0.6, 0.7]
    ok = check("freshness.searchable", [delivery(Delivery.AT_LEAST_ONCE), *index_canaries(fast)])
    assert (ok.verdict, ok.measured) == (Verdict.PASS, 0.9)
    assert "11 canary seat updates" in ok.detail and "search index listing the flight's new seats (flights[].seats)" in ok.detail
    assert "median 0.60 s" in ok.detail and "Delivery at_least_once: the job's output reaches the applier as the job writes it" in ok.detail


def test_fake_history_freshness_through_the_index_fails_exactly_once_at_its_checkpoints():
    slow = [28.0, 25.0, 22.0, 19.0, 16.0, 13.0, 10.0, 7.0, 4.0, 1.0, 28.5]  # each waits for the next 30 s commit
    out = check("freshness.searchable", [delivery(Delivery.EXACTLY_ONCE), *index_canaries(slow, with_price=True)])
    assert (out.verdict, out.measured) == (Verdict.FAIL, 28.5)  # the fast price canaries are not judged beside them
    assert "11 canary seat updates" in out.detail and "median 16.00 s" in out.detail
    assert "Delivery exactly_once: the job's output reaches the applier when a checkpoint commits it (every 30 s)" in out.detail
    unseen = check("freshness.searchable", [delivery(Delivery.EXACTLY_ONCE), *index_canaries([None, *slow[1:]])])
    assert (unseen.verdict, unseen.measured) == (Verdict.FAIL, 60.0)
    assert "1 of 11 canary seat updates never reached the search index" in unseen.detail and "exactly_once" in unseen.detail


def test_fake_history_freshness_through_the_price_on_a_lab_without_an_index():
    recs = [delivery(Delivery.EXACTLY_ONCE, index=False), Marker(t=T0, name="warmup.end")]
    recs += [CanarySample(t=T0 + 1 + 3 * k, flight_id=FLIGHT, amount_pence=900_001 + 2 * k, seen_at=T0 + 1.5 + 3 * k) for k in range(10)]
    out = check("freshness.searchable", recs)
    assert out.verdict is Verdict.PASS and "10 canary price updates" in out.detail and "(flights[].price)" in out.detail


def audit(duplicated: int) -> IntegrityAudit:
    return IntegrityAudit(t=T0 + 90, cutoff=T0 + 80, acknowledged=5000, lost_in_topic=0, duplicated_in_topic=0, lost_in_output=0,
                          duplicated_in_output=duplicated, lost_in_archive=0, duplicated_in_archive=0, waited_s=20.0)  # fmt: skip


def test_fake_history_duplicates_under_at_least_once_are_counted_and_stated_as_absorbed_not_verified():
    repeated = check("data.events_duplicated", [delivery(Delivery.AT_LEAST_ONCE), audit(37)])
    assert (repeated.verdict, repeated.measured) == (Verdict.FAIL, 37.0)  # the exactly-once clause is not met by repeats
    assert "37 twice or more in the job's output" in repeated.detail and "delivered to the applier more than once" in repeated.detail
    assert "absorbed by the applier's idempotent writes" in repeated.detail and "which the audit does not read back" in repeated.detail
    none = check("data.events_duplicated", [delivery(Delivery.AT_LEAST_ONCE), audit(0)])
    assert (none.verdict, none.measured) == (Verdict.PASS, 0.0)


def test_fake_history_duplicates_under_exactly_once_and_in_histories_without_a_mode():
    out = check("data.events_duplicated", [delivery(Delivery.EXACTLY_ONCE), audit(0)])
    assert out.verdict is Verdict.PASS and "committed output" in out.detail and "read_committed" in out.detail
    assert "Not counted: a batch the applier itself replays" in out.detail
    old = check("data.events_duplicated", [audit(2)])
    assert old.verdict is Verdict.FAIL and "Delivery" not in old.detail


# --- the report -----------------------------------------------------------------------------------


def test_fake_history_the_report_says_which_reading_was_measured_and_what_the_canaries_watched(tmp_path: Path):
    records = [delivery(Delivery.AT_LEAST_ONCE), *index_canaries([0.5] * 10), audit(0)]
    section = streaming_section(History.of_records(records), T0)
    assert section.delivery.startswith("Delivery at_least_once (job sink at-least-once, applier read_uncommitted)")
    assert section.canaries_watched == "its flight's seats as the search index lists them (flights[].seats)"
    html, md = (p.read_text() for p in render_run(make_run(tmp_path / "run", history=History.of_records(records)))[:2])
    assert "Delivery at_least_once (job sink at-least-once" in md and "watched for its flight&#x27;s seats" not in md
    assert "Each freshness canary was watched for its flight's seats as the search index lists them" in md
    assert "<p>Delivery at_least_once" in html
