"""Stop conditions: parsing, the per-condition clock, the live watcher over real record files
(with a fake in place of the signal that stops Chaos Toolkit), and how a halted run is judged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.drill import stops
from gameday.drill.experiment import load_experiment
from gameday.drill.runner import judge_run
from gameday.drill.stops import Bound, ConditionClock, LiveMeasure, LiveSecond, StopCondition, StopWatcher, parse_conditions
from gameday.drill.summary import RunSummary
from gameday.errors import InputError
from gameday.history import History, LoadSecond, StopTripped, from_json, to_json
from gameday.load import latency
from gameday.reports.junit import junit_xml
from tests.unit.histories import failover

REPO = Path(__file__).resolve().parents[2]
ERRORS = {"name": "api-errors", "measure": "api.error_rate", "above": 0.05, "for_s": 10}
DOWN = {"name": "search-down", "measure": "api.answered_per_s", "below": 1, "for_s": 3}


def second(t: float, requests: int, failures: int = 0, ms: float = 10.0) -> LiveSecond:
    hist = latency.new_histogram()
    for _ in range(requests):
        latency.record_ms(hist, ms)
    return LiveSecond(t, requests, failures, [latency.encode(hist)])


# --- parsing ------------------------------------------------------------------------------


def test_parse_reads_both_bounds_and_defaults_for_s_to_one_second():
    a, b, c = parse_conditions([ERRORS, DOWN, {"name": "slow", "measure": "api.p95_ms", "above": 500}], "x")
    assert (a.measure, a.bound, a.threshold, a.for_s) == (LiveMeasure.API_ERROR_RATE, Bound.ABOVE, 0.05, 10)
    assert (b.bound, b.threshold) == (Bound.BELOW, 1)
    assert c.for_s == 1


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"stop": 1}, "must be a list"),
        ([{**ERRORS, "measure": "cpu"}], "stop_conditions[0]: field 'measure' must be one of api.error_rate"),
        ([{**ERRORS, "below": 1}], "exactly one of 'above' and 'below'"),
        ([{k: v for k, v in ERRORS.items() if k != "above"}], "exactly one of 'above' and 'below'"),
        ([{**ERRORS, "above": "5%"}], "field 'above' must be a number"),
        ([{**ERRORS, "for_s": 0}], "field 'for_s' must be 1 to 3600"),
        ([{**ERRORS, "name": ""}], "field 'name' must be a non-empty string"),
        ([{**ERRORS, "when": "always"}], "unknown field(s) when"),
        ([ERRORS, ERRORS], "api-errors used more than once"),
        (["api.error_rate > 5%"], "stop_conditions[0]: must be a mapping"),
    ],
)
def test_parse_errors_name_the_entry_and_the_field(raw, says):
    with pytest.raises(InputError) as err:
        parse_conditions(raw, "exp.json: extensions[gameday]")
    assert says in str(err.value) and "exp.json" in str(err.value)


def experiment_with(tmp_path: Path, **ext_changes) -> Path:
    (tmp_path / "experiments").mkdir()
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "redis-primary-failover.md").write_text("# runbook\n")
    data = json.loads((REPO / "experiments" / "redis-primary-failover.json").read_text())
    ext = next(e for e in data["extensions"] if e["name"] == "gameday")
    ext.update(ext_changes)
    path = tmp_path / "experiments" / "x.json"
    path.write_text(json.dumps(data))
    return path


def test_an_experiment_declares_its_stop_conditions(tmp_path):
    exp = load_experiment(experiment_with(tmp_path, stop_conditions=[ERRORS]))
    assert [c.name for c in exp.drill.stop_conditions] == ["api-errors"]


# --- the clock (pure) ---------------------------------------------------------------------


def test_a_condition_trips_only_after_holding_for_its_seconds():
    clock = ConditionClock(StopCondition("e", LiveMeasure.API_ERROR_RATE, Bound.ABOVE, 0.05, 3))
    assert clock.observe(second(100, 100, 10)) is None
    assert clock.observe(second(101, 100, 10)) is None
    trip = clock.observe(second(102, 100, 10))
    assert trip is not None and (trip.condition, trip.value, trip.held_s, trip.since, trip.t) == ("e", 0.1, 3, 100, 103)


def test_a_good_second_resets_the_clock():
    clock = ConditionClock(StopCondition("e", LiveMeasure.API_ERROR_RATE, Bound.ABOVE, 0.05, 3))
    for t, failures in ((100, 10), (101, 10), (102, 0), (103, 10), (104, 10)):
        assert clock.observe(second(t, 100, failures)) is None
    assert clock.observe(second(105, 100, 10)) is not None


def test_a_second_without_searches_is_no_evidence_of_an_error_rate_but_is_zero_answers():
    rate = ConditionClock(StopCondition("e", LiveMeasure.API_ERROR_RATE, Bound.ABOVE, 0.05, 2))
    down = ConditionClock(StopCondition("d", LiveMeasure.API_ANSWERED_PER_S, Bound.BELOW, 1, 2))
    assert rate.observe(second(100, 0)) is None and rate.since is None
    assert down.observe(second(100, 0)) is None and down.observe(second(101, 5, 5)) is not None  # all failed: none answered


def test_p95_condition_reads_the_seconds_histogram():
    clock = ConditionClock(StopCondition("slow", LiveMeasure.API_P95_MS, Bound.ABOVE, 500, 1))
    assert clock.observe(second(100, 50, ms=20)) is None
    trip = clock.observe(second(101, 50, ms=900))
    assert trip is not None and 890 <= trip.value <= 910


def test_a_trip_is_a_history_record_that_round_trips():
    trip = StopTripped(t=5.0, condition="e", measure="api.error_rate", bound="above", threshold=0.05, value=0.2, held_s=10, since=-5.0)
    assert from_json(to_json(trip)) == trip
    assert trip.describe() == "e (api.error_rate 0.2, above 0.05 for 10 s)"


# --- the watcher over real files, a fake for the signal ------------------------------------


def write_seconds(path: Path, worker: str, seconds: list[tuple[float, int, int]]) -> None:
    with path.open("a") as fh:
        for t, n, failed in seconds:
            fh.write(to_json(LoadSecond(t, worker, n, failed, latency.encode(latency.new_histogram()))) + "\n")


def test_watcher_with_a_fake_signal_merges_workers_and_halts_once(tmp_path):
    halted, recorded = [], []
    cond = StopCondition("e", LiveMeasure.API_ERROR_RATE, Bound.ABOVE, 0.05, 2)
    w = StopWatcher([cond], tmp_path, recorded.append, lambda m: None, stop_method=lambda: halted.append(1))
    w._armed, w._done_upto = True, 100.0
    # Worker a alone would stay under 5 %; with b's failures the second is at 10 %.
    write_seconds(tmp_path / "load-a.jsonl", "a", [(99, 100, 50), (100, 100, 0), (101, 100, 0)])
    write_seconds(tmp_path / "load-b.jsonl", "b", [(100, 100, 20), (101, 100, 20)])
    assert w.check(now=102.5) is None  # second 101 is not complete yet (the workers' lines may still come)
    trip = w.check(now=104.0)
    assert trip is not None and trip.since == 100 and trip.held_s == 2 and trip.value == 0.1


def test_watcher_ignores_seconds_before_it_was_armed_and_partial_lines(tmp_path):
    cond = StopCondition("d", LiveMeasure.API_ANSWERED_PER_S, Bound.BELOW, 1, 2)
    w = StopWatcher([cond], tmp_path, lambda r: None, lambda m: None, stop_method=lambda: None)
    w._armed, w._done_upto = True, 200.0
    write_seconds(tmp_path / "load-a.jsonl", "a", [(198, 0, 0), (199, 0, 0), (200, 10, 0)])
    with (tmp_path / "load-a.jsonl").open("a") as fh:
        fh.write('{"kind":"load.second","t":201')  # still being written
    assert w.check(now=203.5) is None  # 198 and 199 came before arming; 200 answered
    with (tmp_path / "load-a.jsonl").open("a") as fh:
        fh.write(',"worker":"a","requests":0,"failures":0,"hist":""}\n')
    write_seconds(tmp_path / "load-a.jsonl", "a", [(202, 0, 0)])
    trip = w.check(now=205)
    assert trip is not None and trip.since == 201


def test_disarmed_watcher_never_halts(tmp_path, monkeypatch):
    monkeypatch.setattr(stops, "POLL_S", 0.01)
    halted = []
    cond = StopCondition("d", LiveMeasure.API_ANSWERED_PER_S, Bound.BELOW, 1, 1)
    w = StopWatcher([cond], tmp_path, lambda r: None, lambda m: None, stop_method=lambda: halted.append(1))
    w.arm()
    w.disarm()
    write_seconds(tmp_path / "load-a.jsonl", "a", [(w._done_upto + 1, 0, 0)])
    assert halted == [] and w.tripped is None


# --- judging a halted run ------------------------------------------------------------------


def halted_history() -> History:
    h = failover()
    trip = StopTripped(t=h.records[-1].t, condition="api-errors", measure="api.error_rate", bound="above", threshold=0.05, value=0.31, held_s=10, since=0)
    return History.of_records([*h.records, trip])


def test_a_halted_run_exits_1_naming_the_condition_and_value_and_keeps_its_verdicts():
    journal = {"status": "interrupted", "deviated": False, "run": []}
    s = judge_run("r", "exp.json", ["redis.promotion_time"], "lab", 0.0, 1.0, journal, halted_history())
    assert (s.exit_code, s.status) == (1, "halted")
    assert "api-errors" in s.reason and "0.31" in s.reason and "rollbacks ran" in s.reason
    assert [v.slo for v in s.verdicts] == ["redis.promotion_time"]


def test_an_interrupted_run_without_a_trip_is_still_exit_2():
    s = judge_run("r", "exp.json", ["redis.promotion_time"], "lab", 0.0, 1.0, {"status": "interrupted"}, failover())
    assert (s.exit_code, s.status) == (2, "interrupted")


def test_junit_reports_a_halt_as_a_failure_not_an_error():
    s = RunSummary("r", "exp.json", "lab", 0.0, 1.0, 1, "halted", "halted by stop condition api-errors", [])
    suite = junit_xml(s, "t").getroot().find("testsuite")
    assert suite is not None and (suite.get("failures"), suite.get("errors")) == ("1", "0")
