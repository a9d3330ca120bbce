"""Loading and validating an experiment file before anything is started."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ChaosException
from chaoslib.experiment import ensure_experiment_is_valid

from gameday.errors import InputError
from gameday.load.shapes import ShapeKind, make_shape
from gameday.spec import catalog
from gameday.target import TARGET_KEY, TIERS


@dataclass
class DrillSettings:
    """The experiment's `gameday` extension, validated."""

    runbook: str
    tiers: list[str]
    slos: list[str]
    rate: float
    shape: ShapeKind = ShapeKind.STEADY
    shape_params: dict[str, float] = field(default_factory=dict)
    processes: int | None = None  # None: the profile's load.processes
    warmup_s: float = 10.0
    baseline_s: float = 15.0
    cooldown_s: float = 10.0
    max_duration_s: int = 600
    # The method injects no fault: the drill measures the platform in steady state
    # (e.g. freshness), so "no fault in the history" is expected, not a failed drill.
    steady_state_only: bool = False


@dataclass(frozen=True)
class Experiment:
    path: Path
    data: dict[str, Any]
    drill: DrillSettings

    @property
    def title(self) -> str:
        return self.data.get("title", self.path.stem)

    @property
    def runbook_path(self) -> Path:
        return (self.path.parent / self.drill.runbook).resolve()

    @property
    def target(self) -> str:
        """The target its configuration names (an `env` entry read as Chaos Toolkit reads it)."""
        value = (self.data.get("configuration") or {}).get(TARGET_KEY, "lab")
        if isinstance(value, dict) and value.get("type") == "env":
            value = os.environ.get(str(value.get("key", "")), value.get("default", "lab"))
        return value


def _field(ext: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in ext:
        raise InputError(f"{where}: missing field '{key}'")
    value = ext[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InputError(f"{where}: field '{key}' must be {kind.__name__}, got {value!r}")
    return value


def _drill_settings(path: Path, data: dict[str, Any]) -> DrillSettings:
    exts = [e for e in data.get("extensions", []) if isinstance(e, dict) and e.get("name") == "gameday"]
    if not exts:
        raise InputError(f"{path}: no 'gameday' entry in 'extensions'", hint="see experiments/redis-primary-failover.json for the fields")
    ext = exts[0]
    where = f"{path}: extensions[gameday]"
    known = {"name", "runbook", "tiers", "slos", "load", "warmup_s", "baseline_s", "cooldown_s", "max_duration_s", "steady_state_only"}
    unknown = sorted(set(ext) - known)
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(unknown)}", hint=f"known fields: {', '.join(sorted(known))}")
    runbook = _field(ext, "runbook", str, where)
    if not (path.parent / runbook).is_file():
        raise InputError(f"{where}: runbook '{runbook}' does not exist (relative to {path.parent})")
    tiers = _field(ext, "tiers", list, where)
    bad = [t for t in tiers if t not in TIERS]
    if bad:
        raise InputError(f"{where}: field 'tiers' names unknown tier(s) {', '.join(map(str, bad))}", hint=f"tiers: {', '.join(TIERS)}")
    slos = _field(ext, "slos", list, where)
    spec = catalog()
    missing = [s for s in slos if s not in spec.slos]
    if missing:
        raise InputError(f"{where}: field 'slos' names SLO(s) not in the spec catalog: {', '.join(map(str, missing))}")
    load = _field(ext, "load", dict, where)
    rate = _field(load, "rate", float, f"{where}.load")
    extra = sorted(set(load) - {"rate", "shape", "shape_params"})
    if extra:
        raise InputError(f"{where}.load: unknown field(s) {', '.join(extra)}", hint="known fields: rate, shape, shape_params")
    shape = load.get("shape", "steady")
    if shape not in [k.value for k in ShapeKind]:
        raise InputError(f"{where}.load: field 'shape' must be one of {', '.join(k.value for k in ShapeKind)}, got {shape!r}")
    params = load.get("shape_params", {})
    if not isinstance(params, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in params.values()):
        raise InputError(f"{where}.load: field 'shape_params' must map names to numbers")
    try:
        make_shape(shape, rate, **params)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}.load: {exc}") from None
    settings = DrillSettings(runbook=runbook, tiers=tiers, slos=slos, rate=rate, shape=ShapeKind(shape), shape_params={k: float(v) for k, v in params.items()})
    for key in ("warmup_s", "baseline_s", "cooldown_s"):
        if key in ext:
            setattr(settings, key, _field(ext, key, float, where))
    if "max_duration_s" in ext:
        settings.max_duration_s = _field(ext, "max_duration_s", int, where)
    if "steady_state_only" in ext:
        settings.steady_state_only = _field(ext, "steady_state_only", bool, where)
    return settings


def load_experiment(path: Path) -> Experiment:
    if not path.is_file():
        raise InputError(f"experiment {path}: no such file")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"experiment {path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InputError(f"experiment {path}: the top level must be a JSON object")
    try:
        ensure_experiment_is_valid(data)
    except ChaosException as exc:
        raise InputError(f"experiment {path}: {exc}", hint="check it with: chaos validate " + str(path)) from None
    controls = [c.get("provider", {}).get("module") for c in data.get("controls", [])]
    if "gameday.drill.control" not in controls:
        raise InputError(f"{path}: field 'controls' must declare the gameday control (module gameday.drill.control)")
    return Experiment(path=path.resolve(), data=data, drill=_drill_settings(path, data))
