"""Game days: a suite of drills run in order as one record (`gameday suite SUITE.yaml`).

spec (the suite file, checked before anything starts), state (suite.json, for --resume),
runner (labs, drills, policies, progress, Ctrl-C), report (the consolidated record)."""

from gameday.suite.runner import SuiteRequest, SuiteResult, plan_lines, run_suite
from gameday.suite.spec import load_suite

__all__ = ["SuiteRequest", "SuiteResult", "load_suite", "plan_lines", "run_suite"]
