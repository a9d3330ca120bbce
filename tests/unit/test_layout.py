"""The shape of the code, as rules a test enforces:

- the platform under test (flightsearch) imports nothing from the harness;
- outside gameday/lab/ and gameday/target/, nothing imports the lab's modules (the CLI may
  use the `gameday.lab` package's public names for `gameday lab ...`): drills reach the
  system only through a target;
- fault and marker names are written once (gameday.faults, gameday.history.events).

Each rule is also shown to catch a breach, so the test can fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

from gameday.faults import Fault
from gameday.history import events

REPO = Path(__file__).resolve().parents[2]
HARNESS_DIRS = ("gameday", "probes", "loadgen", "reports", "benchmarks")
LAB_INSIDE = ("gameday/lab/", "gameday/target/")
CLI_MAY_IMPORT = {"gameday/cli.py": {"gameday.lab"}}


def _is_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(source: str) -> set[str]:
    """Every module an import statement names, wherever the statement stands
    (`from a import b` names a.b too when b is a module of a)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}"))
    return out


def lab_imports(rel: str, source: str) -> set[str]:
    """The lab modules a file outside the lab imports against the rule."""
    if rel.startswith(LAB_INSIDE):
        return set()
    allowed = CLI_MAY_IMPORT.get(rel, set())
    return {m for m in imported_modules(source) if (m == "gameday.lab" or m.startswith("gameday.lab.")) and m not in allowed}


def harness_imports(source: str) -> set[str]:
    return {m for m in imported_modules(source) if m == "gameday" or m.startswith("gameday.")}


def _files(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (REPO / d).rglob("*.py"))


def test_nothing_outside_the_lab_and_the_targets_imports_lab_modules():
    breaches = {}
    for path in _files(*HARNESS_DIRS):
        rel = path.relative_to(REPO).as_posix()
        bad = lab_imports(rel, path.read_text())
        if bad:
            breaches[rel] = sorted(bad)
    assert breaches == {}, f"import the target (gameday.target) instead: {breaches}"


def test_the_import_rule_catches_a_breach():
    probe = "def f():\n    from gameday.lab.tiers import kafka\n    import gameday.lab.network\n"
    assert lab_imports("probes/x.py", probe) == {"gameday.lab.tiers", "gameday.lab.tiers.kafka", "gameday.lab.network"}
    assert lab_imports("gameday/cli.py", "from gameday.lab import Lab\n") == set()
    assert lab_imports("gameday/cli.py", "from gameday.lab import network\n") == {"gameday.lab.network"}
    assert lab_imports("gameday/drill/x.py", "from gameday.lab import Lab\n") == {"gameday.lab"}
    assert lab_imports("gameday/target/lab.py", probe) == set()


def test_the_platform_imports_nothing_from_the_harness():
    breaches = {p.relative_to(REPO).as_posix(): sorted(harness_imports(p.read_text())) for p in _files("flightsearch")}
    assert {k: v for k, v in breaches.items() if v} == {}
    assert harness_imports("from gameday.history import Marker\n") == {"gameday.history"}


def string_literals(source: str) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_fault_and_marker_names_are_written_once():
    names = {f.value for f in Fault} | {v for k, v in vars(events).items() if k.isupper() and isinstance(v, str)}
    homes = {"gameday/faults/__init__.py", "gameday/history/events.py"}
    breaches = {}
    for path in _files(*HARNESS_DIRS):
        rel = path.relative_to(REPO).as_posix()
        if rel not in homes:
            again = names & string_literals(path.read_text())
            if again:
                breaches[rel] = sorted(again)
    assert breaches == {}, f"use gameday.faults.Fault / the marker constants of gameday.history: {breaches}"
    assert "kafka.kill_broker" in names and "warmup.end" in names
    assert names & string_literals('x = "kafka.kill_broker"\n') == {"kafka.kill_broker"}


def test_the_lab_target_implements_the_whole_target_protocol():
    """Every operation of gameday.target.Target exists on LabTarget with the same parameters:
    the protocol is what probes, monitors and the runner may use, and the lab provides it all."""
    import inspect

    from gameday.target import Target
    from gameday.target.lab import LabTarget

    members = {n for n in dir(Target) if not n.startswith("_")} | set(Target.__annotations__)
    missing, differ = [], []
    for name in sorted(members):
        if not hasattr(LabTarget, name):
            missing.append(name)
            continue
        want, have = getattr(Target, name, None), getattr(LabTarget, name)
        if callable(want) and callable(have):
            if list(inspect.signature(want).parameters) != list(inspect.signature(have).parameters):
                differ.append(name)
    assert missing == [] and differ == [], (missing, differ)
    assert {"kill", "restart", "kafka_topic", "redis_primary", "flink_leader", "components", "az_of"} <= members


def missing_module_attributes(source: str) -> list[str]:
    """`alias.name` uses of gameday/flightsearch modules imported under a name, where the
    module has no such name (what a move leaves behind; Python only finds out when the line runs)."""
    import importlib

    tree = ast.parse(source)
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("gameday", "flightsearch")):
            for a in node.names:
                if _is_module(f"{node.module}.{a.name}"):
                    modules[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            modules.update({a.asname: a.name for a in node.names if a.asname and a.name.startswith(("gameday", "flightsearch"))})
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            if not hasattr(importlib.import_module(modules[node.value.id]), node.attr):
                out.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return out


def test_every_module_attribute_used_exists():
    breaches = {}
    for path in _files(*HARNESS_DIRS, "flightsearch", "tests"):
        if path.name == "price_stream.py":  # runs in Flink's own Python
            continue
        missing = missing_module_attributes(path.read_text())
        if missing:
            breaches[path.relative_to(REPO).as_posix()] = missing
    assert breaches == {}
    assert missing_module_attributes("from gameday.lab.tiers import kafka as k\nk.no_such_thing()\n") == ["k.no_such_thing (line 2)"]
