"""The region drill on real labs with the pilot-light DR region, both directions. The whole
platform with the DR region (every tier) saturated this 2-core host (CPU pressure 99 % for
two minutes before the drill, 2026-12-03), so each lab holds what its direction proves:

- A healthy pilot light on the platform with its stream job (no search index: the region's
  API lists flights from the store): keeps the RPO: every event acknowledged before the
  loss is in the region's supplier.raw and its raw events lake, every acknowledged store
  write in its store node. The promoter (decision wait shortened to 20 s for the test's
  time) promotes by the shipped plan, resumes the stream job on the region's idle JobManager
  from where the replicated lake ends, starts the region's applier, and the entry point
  serves from the region: dr.rto and dr.promote_after read unknown, not comparable with the
  plan's 5 minutes.
- A pilot light built to miss the plan, with the search index: the mirror throttled below
  the feed's rate (dr.mirror_fetch_kb: 1) and a promotion plan without `start: api`. dr.rpo
  fails with the measured window, dr.rto fails naming the missing step; the plan's restore
  of the index's newest snapshot into the region's search node is done and checked.

The real-time run (the plan's 300 s wait) is a suite test (test_dr_realtime_lab.py).
"""

from __future__ import annotations

import sys
import time

import pytest

from gameday.history import EntrySearch, History, PromotionEvent, PromotionPhase
from gameday.lab.dr.status import promotion_events
from gameday.target import Role, resolve
from tests.lab.labutil import drill, gameday, healthy_drill, up

pytestmark = pytest.mark.lab

DR_TIERS = "redis,cassandra,search,api,metrics,kafka,ingest,dr"
# The healthy pilot light with the stream job: its lake and checkpoints are replicated, and
# the promotion resumes the job in the region.
STREAM_TIERS = "redis,cassandra,api,kafka,zookeeper,flink,ingest,stream,dr"
# The region drill judges no latency and no timetable size: no warm-ups, and a third of the
# timetable (the index's snapshot, its restore and the store's seed in both regions are
# its size), for test time.
SMALL = "search:\n  warmup_s: 0\ncassandra:\n  warmup_s: 0\ntimetable:\n  flights: 18000\n"
FAST = "dr:\n  decision_wait_s: 20\n" + SMALL


@pytest.fixture()
def pilot_light(tmp_path):
    profile = tmp_path / "fast-decision.yaml"
    profile.write_text(FAST)
    up(STREAM_TIERS, profile, missing_the_plan=False)
    yield profile
    assert gameday("lab", "down").returncode == 0


def test_a_healthy_pilot_light_keeps_the_rpo_and_serves_after_the_promoter_acts(pilot_light, tmp_path):
    status = caught_up()
    assert status.returncode == 0 and "0 records behind" in status.stdout and "link up" in status.stdout, status.stdout
    assert "stream job     not running in the region (its JobManager idles)" in status.stdout, status.stdout
    blip_the_primary(frozen_s=8)
    code, v, run = region_drill(tmp_path / "run")
    assert v["dr.rpo"]["verdict"] == "pass" and v["dr.rpo"]["measured"] < 5, v["dr.rpo"]
    assert "missing from the DR region's supplier.raw" in v["dr.rpo"]["detail"] and "missing from cassandra-dr" in v["dr.rpo"]["detail"], v["dr.rpo"]
    assert "missing from the DR region's lake" in v["dr.rpo"]["detail"], v["dr.rpo"]
    for slo in ("dr.rto", "dr.promote_after"):  # a 20 s wait is not the plan's 300 s
        assert v[slo]["verdict"] == "unknown" and ("not comparable" in v[slo]["detail"].lower() or "shortened" in v[slo]["detail"]), v[slo]
    assert code == 2
    history = History.read(run / "history.jsonl")
    promotion = history.of(PromotionEvent)
    assert [e.phase for e in promotion if e.phase in (PromotionPhase.DECIDED, PromotionPhase.PROMOTED)] == [PromotionPhase.DECIDED, PromotionPhase.PROMOTED]
    assert all(e.by == "promoter" for e in promotion if e.phase is PromotionPhase.DECIDED)
    resumed = [e for e in promotion if e.phase is PromotionPhase.STEP_DONE and e.step == "resume stream"]
    assert resumed and "running on dr-flink-jm, reading the mirror from where the region's lake ends" in resumed[0].detail, promotion
    served = [s for s in history.of(EntrySearch) if s.ok and s.instance == "api-dr"]
    assert served, "no search answered from the DR region"
    after = gameday("dr", "status").stdout
    assert "primary (promoted)" in after and "promoted" in after and "stream job     running on dr-flink-jm" in after, after
    # what region-sync had replicated before the loss (the first checkpoint comes 30 s after lab up)
    assert "newest replicated: none" not in after and "lake           0 files" not in after, after


def region_drill(out):  # noqa: ANN001, ANN201 - (exit code, verdicts, run directory)
    """The region drill, once more on the same lab when it lost no region: the search load's
    steady-state check failed before the fault (a run of 2026-12-03 on a host 99 % busy: p50
    1.6 s), which says nothing about the region's failover. The first attempt's verdicts go
    to the warnings summary; a region lost is judged as it came."""
    return healthy_drill(lambda d: drill("region-failover", d), out, expected=lambda _code, v: "lost no region" not in v["dr.rto"]["detail"])


def caught_up(within_s: float = 15):  # noqa: ANN201 - the last `gameday dr status`
    """`gameday dr status` until the log's copy is caught up: the feed runs (60 events/s), so
    one asking can catch the mirror a record behind (a local run of 2026-12-02: "1 records
    behind")."""
    deadline = time.monotonic() + within_s
    while True:
        status = gameday("dr", "status")
        if "0 records behind" in status.stdout or time.monotonic() > deadline:
            return status
        time.sleep(1)


def blip_the_primary(frozen_s: float) -> None:
    """Every API instance of the primary region frozen for less than the decision wait (20 s),
    then resumed: the promoter sees the primary go down and come back, and must not promote."""
    target = resolve()
    names = [n for n in target.components(Role.API) if target.az_of(n) in target.azs()]
    assert len(names) >= 3, names
    home, before = target.lab.home, len(promotion_events(target.lab.home))
    try:
        for name in names:
            assert gameday("lab", "freeze", name).returncode == 0
        time.sleep(frozen_s)
    finally:
        for name in names:
            gameday("lab", "resume", name)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and PromotionPhase.PRIMARY_BACK not in [e.phase for e in promotion_events(home)[before:]]:
        time.sleep(1)
    seen = promotion_events(home)[before:]
    print(f"\nthe primary frozen {frozen_s:g} s: the promoter recorded {', '.join(f'{e.phase.value} ({e.detail})' for e in seen)}", file=sys.stderr)
    assert [e.phase for e in seen] == [PromotionPhase.PRIMARY_DOWN, PromotionPhase.PRIMARY_BACK], seen
    status = gameday("dr", "status")
    assert status.returncode == 0 and "(promoted)" not in status.stdout and f" {PromotionPhase.DECIDED.value} " not in status.stdout, status.stdout


MISS = """\
dr:
  decision_wait_s: 20
  mirror_fetch_kb: 1
  plan: {plan}
""" + SMALL


@pytest.fixture()
def missed_pilot_light(tmp_path):
    plan = tmp_path / "no-api.yaml"
    plan.write_text("steps:\n  - promote: cache\n  - promote: store\n  - restore: index\n  - switch: entry\n")
    profile = tmp_path / "throttled-mirror-no-api.yaml"
    profile.write_text(MISS.format(plan=plan))
    up(DR_TIERS, profile)
    yield profile
    assert gameday("lab", "down").returncode == 0


@pytest.mark.suite  # make test's hour: its own lab with the search tier (about 8 minutes); make suite runs it
def test_a_throttled_mirror_misses_the_rpo_and_a_plan_without_the_api_misses_the_rto(missed_pilot_light, tmp_path):
    status = gameday("dr", "status")
    assert "newest snapshot snap-" in status.stdout, status.stdout
    code, v, run = region_drill(tmp_path / "run")
    assert code == 1
    rpo = v["dr.rpo"]
    assert rpo["verdict"] == "fail" and rpo["measured"] >= 5 and "missing from the DR region" in rpo["detail"], rpo
    rto = v["dr.rto"]
    assert rto["verdict"] == "fail" and "has no step start api" in rto["detail"], rto
    promotion = History.read(run / "history.jsonl").of(PromotionEvent)
    restored = [e for e in promotion if e.phase is PromotionPhase.STEP_DONE and e.step == "restore index"]
    assert restored and "restored from snap-" in restored[0].detail and "green" in restored[0].detail, promotion
