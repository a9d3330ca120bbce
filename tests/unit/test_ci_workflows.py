"""The nightly CI job as shipped: the GitHub Actions workflow linted by actionlint (with
ShellCheck on its scripts), the GitLab example checked against GitLab's CI schema, and the
exit-code mapping of both run for real: exit 1 fails, exit 2 is marked differently. Each
checker is also shown to catch a broken file, so these tests can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "nightly.yml"
GITLAB = REPO / "docs" / "examples" / "gitlab-ci.yml"
BIN = Path(sys.executable).parent


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("actionlint", path=f"{BIN}:{os.environ.get('PATH', '')}")
    assert exe, "actionlint is missing: scripts/bootstrap builds it into .venv/bin (it needs Go)"
    assert shutil.which("shellcheck"), "shellcheck is missing: scripts/bootstrap installs it (Debian package shellcheck)"
    return subprocess.run([exe, "-color=false", str(path)], capture_output=True, text=True, timeout=120)


def schema_check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=120)


def test_the_nightly_workflow_passes_actionlint_and_shellcheck():
    lint = actionlint(WORKFLOW)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_actionlint_catches_a_broken_workflow_and_shellcheck_a_broken_script(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "nightly.yml"
    broken.parent.mkdir(parents=True)
    shutil.copyfile(WORKFLOW.parent.parent / "actionlint.yaml", tmp_path / ".github" / "actionlint.yaml")
    text = WORKFLOW.read_text().replace("timeout-minutes: 150", "timeout-minutes: soon")
    broken.write_text(text.replace("          set +e\n", '          for f in $(ls *.txt); do echo "$f"; done\n          set +e\n', 1))
    lint = actionlint(broken)
    assert lint.returncode == 1 and "timeout-minutes" in lint.stdout and "SC2045" in lint.stdout, lint.stdout


def test_the_workflow_also_matches_githubs_schema():
    check = schema_check("vendor.github-workflows", WORKFLOW)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_gitlab_example_matches_gitlabs_ci_schema_and_a_broken_one_does_not(tmp_path):
    check = schema_check("vendor.gitlab-ci", GITLAB)
    assert check.returncode == 0, check.stdout + check.stderr
    broken = tmp_path / "gitlab-ci.yml"
    broken.write_text(GITLAB.read_text().replace("exit_codes: [2, 130]", "exit_codes: two"))
    bad = schema_check("vendor.gitlab-ci", broken)
    assert bad.returncode == 1 and "allow_failure" in bad.stdout, bad.stdout


def _step(job: dict, name_starts: str) -> dict:
    return next(s for s in job["steps"] if s.get("name", "").startswith(name_starts))


@pytest.mark.parametrize(("code", "job_exit", "annotation"), [("0", 0, ""), ("1", 1, "::error title=Game day failed"), ("2", 0, "::warning title=Game day inconclusive")])
def test_the_verdict_step_fails_the_job_on_exit_1_and_only_warns_on_exit_2(code, job_exit, annotation):
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    script = _step(jobs["drills"], "Verdict")["run"]
    ran = subprocess.run(["bash", "-e", "-c", script], env={"CODE": code, "PATH": os.environ["PATH"]}, capture_output=True, text=True)
    assert ran.returncode == job_exit and annotation in ran.stdout, ran.stdout
    inconclusive = jobs["inconclusive"]
    assert "needs.drills.outputs.exit_code != '0'" in inconclusive["if"] and "!= '1'" in inconclusive["if"], "exit 2 fails a job of its own"


def test_the_workflow_runs_the_nightly_suite_and_keeps_its_record():
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert "schedule" in doc[True] and "workflow_dispatch" in doc[True]  # YAML 1.1 reads the key `on` as true
    drills = doc["jobs"]["drills"]
    assert "gameday suite suites/nightly.yaml --out \"$SUITE_DIR\"" in _step(drills, "Game day")["run"]
    assert _step(drills, "Upload")["with"]["path"] == "${{ env.SUITE_DIR }}" and _step(drills, "Upload")["if"] == "always()"
    assert _step(drills, "Publish the JUnit")["with"]["report_paths"] == "${{ env.SUITE_DIR }}/junit.xml"
    assert (REPO / "suites" / "nightly.yaml").is_file()


def test_the_gitlab_example_allows_exit_2_but_not_exit_1():
    job = yaml.safe_load(GITLAB.read_text())["nightly-game-day"]
    assert 2 in job["allow_failure"]["exit_codes"] and 1 not in job["allow_failure"]["exit_codes"]
    assert any("gameday suite suites/nightly.yaml" in line for line in job["script"])
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"]["junit"].endswith("/junit.xml")
