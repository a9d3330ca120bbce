"""The DR helpers' shared entry point, with fake run functions (harness logic only)."""

from __future__ import annotations

from gameday.errors import LabError
from gameday.lab.dr import helper


def test_fake_run_a_lab_error_ends_the_helper_with_exit_2_and_says_why(tmp_path, capsys):
    def run(home):
        raise LabError(f"no route to {home}")

    assert helper.main("prog", "d", run, helper.logger("t"), ["--home", str(tmp_path)]) == 2
    assert f"t: stopped: no route to {tmp_path}" in capsys.readouterr().out


def test_fake_run_without_a_lab_the_helpers_have_nothing_to_do(tmp_path, capsys):
    assert helper.lab_of(tmp_path, helper.logger("t")) is None
    assert "t: no lab: stopping" in capsys.readouterr().out
