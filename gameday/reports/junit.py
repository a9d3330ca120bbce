"""JUnit XML for CI: one testcase per SLO verdict.

Built with ElementTree, not a template, so any text a checker or the journal
puts in a message or detail is escaped correctly.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from gameday.checkers.verdicts import Outcome, Verdict
from gameday.drill.summary import RunSummary

# A run that was not carried out cleanly must not look green in CI just because
# the SLOs it did measure passed (exit code 1 on a deviated steady state, 2 when
# the drill could not run): it gets one extra testcase named RUN_CASE.
RUN_CASE = "run"
_RUN_FAILURE = {"deviated", "halted"}  # the platform misbehaved (a stop condition tripped): a failure
# Any other status but carried_out (not_carried_out, interrupted, ...) is an error.


# Characters XML 1.0 cannot carry at all, even escaped (ElementTree writes them
# through and the file stops parsing): a stray byte in a log excerpt must not
# break CI's parser.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _safe(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def measured_text(outcome: Outcome) -> str:
    return "not measured" if outcome.measured is None else f"measured {outcome.measured:g} {outcome.unit}"


def junit_xml(summary: RunSummary, title: str) -> ET.ElementTree:
    classname = f"gameday.{Path(summary.experiment).stem or 'experiment'}"
    timestamp = datetime.fromtimestamp(summary.started_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    suite = ET.Element("testsuite", name=_safe(title), timestamp=timestamp, hostname=_safe(summary.target))
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("run_id", summary.run_id),
        ("target", summary.target),
        ("exit_code", str(summary.exit_code)),
        ("status", summary.status),
        ("reason", summary.reason),
        ("experiment", summary.experiment),
    ):
        ET.SubElement(props, "property", name=key, value=_safe(value))

    failures = errors = 0
    for outcome in summary.verdicts:
        case = ET.SubElement(suite, "testcase", classname=classname, name=outcome.slo, time="0")
        message = _safe(f"{measured_text(outcome)}, threshold {outcome.threshold}")
        text = _safe(f"{outcome.detail}\nPlan clause: {outcome.clause}")
        if outcome.verdict is Verdict.FAIL:
            failures += 1
            ET.SubElement(case, "failure", message=message, type="slo.fail").text = text
        elif outcome.verdict is Verdict.UNKNOWN:
            # A drill that could not measure is not a pass, and "skipped" would hide it.
            errors += 1
            ET.SubElement(case, "error", message=message, type="slo.unknown").text = text
    if summary.status != "carried_out":
        case = ET.SubElement(suite, "testcase", classname=classname, name=RUN_CASE, time="0")
        kind = "failure" if summary.status in _RUN_FAILURE else "error"
        failures += kind == "failure"
        errors += kind == "error"
        ET.SubElement(case, kind, message=_safe(f"run {summary.status}: {summary.reason}"), type=f"run.{summary.status}").text = (
            f"exit code {summary.exit_code}"
        )

    tests = len(summary.verdicts) + (summary.status != "carried_out")
    duration = max(summary.ended_at - summary.started_at, 0.0)
    for key, value in (("tests", tests), ("failures", failures), ("errors", errors), ("skipped", 0)):
        suite.set(key, str(value))
    suite.set("time", f"{duration:.3f}")
    root = ET.Element("testsuites", name="gameday", tests=str(tests), failures=str(failures), errors=str(errors))
    root.set("time", f"{duration:.3f}")
    root.append(suite)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(summary: RunSummary, title: str, path: Path) -> Path:
    junit_xml(summary, title).write(path, encoding="utf-8", xml_declaration=True)
    return path
