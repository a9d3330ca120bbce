"""Waiting for the lab host's CPU pressure to settle: parsing PSI and the bounded wait,
on fabricated readings (no lab)."""

from __future__ import annotations

from gameday.drill import hostload
from gameday.drill.hostload import Pressure, cpu_pressure, parse, wait_until_settled

PSI = "some avg10=71.46 avg60=54.41 avg300=33.40 total=10247589466\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"


def test_parse_reads_the_some_line():
    assert parse(PSI) == Pressure(71.46, 54.41, 33.40)
    assert parse("") is None and parse("some avg10=x") is None


def test_this_machine_reports_pressure_or_none():
    p = cpu_pressure()
    assert p is None or 0 <= p.avg10 <= 100


def _fake(readings: list[float | None]):
    it = iter(readings)
    return lambda: (lambda v: None if v is None else Pressure(v, v, v))(next(it))


def test_fake_readings_wait_until_pressure_falls():
    said: list[str] = []
    pressure, waited, settled = wait_until_settled(50, 120, said.append, read=_fake([95, 80, 45]), sleep=lambda s: None)
    assert (pressure.avg10, waited, settled) == (45, 4.0, True)
    assert len(said) == 1 and "95 %" in said[0]


def test_fake_readings_give_up_after_the_bound():
    pressure, waited, settled = wait_until_settled(50, 6, lambda m: None, read=_fake([90] * 10), sleep=lambda s: None)
    assert (pressure.avg10, waited, settled) == (90, 6.0, False)


def test_no_psi_means_no_wait():
    assert wait_until_settled(50, 120, lambda m: None, read=lambda: None, sleep=lambda s: None) == (None, 0.0, True)


def test_cpu_times_say_how_busy_the_host_was_and_what_was_stolen(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    before = hostload.cpu_times(stat)
    stat.write_text("cpu  400 0 150 1100 50 0 0 300 0 0\n")
    after = hostload.cpu_times(stat)
    assert before is not None and after is not None
    # 1,000 ticks passed: 300 idle, 300 stolen
    assert after.since(before) == "host CPUs 70 % busy, 30.0 % stolen by the hypervisor"
    stat.write_text("intr 1 2 3\n")
    assert hostload.cpu_times(stat) is None
    assert hostload.cpu_times(tmp_path / "missing") is None
    assert hostload.cpu_times() is not None  # this machine has /proc/stat
