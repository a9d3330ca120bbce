"""Loading and validating an experiment file before anything is started."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ChaosException
from chaoslib.experiment import ensure_experiment_is_valid

from gameday.drill.stops import StopCondition, parse_conditions
from gameday.errors import InputError
from gameday.load.shapes import ShapeKind, make_shape
from gameday.spec import catalog
from gameday.target import TARGET_KEY, TIERS

# The Chaos Toolkit control every gameday experiment declares.
CONTROL = "gameday.drill.control"


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
    # Halt the method when one holds (gameday.drill.stops).
    stop_conditions: list[StopCondition] = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    path: Path
    data: dict[str, Any]
    drill: DrillSettings

    @property
    def title(self) -> str:
        return self.data.get("title", self.path.stem)

    @property
    def functions(self) -> set[str]:
        """Every Python function its activities call (steady state, method, rollbacks)."""
        found: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                provider = node.get("provider")
                if isinstance(provider, dict) and provider.get("type") == "python" and isinstance(provider.get("func"), str):
                    found.add(provider["func"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk({k: self.data.get(k) for k in ("steady-state-hypothesis", "method", "rollbacks")})
        return found

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


# Bounds of the extension's durations (seconds): beyond them a number is a typo.
MAX_PHASE_S = 3600.0
MAX_DURATION_S = 24 * 3600


def _field(ext: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in ext:
        raise InputError(f"{where}: missing field '{key}'")
    value = ext[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InputError(f"{where}: field '{key}' must be {kind.__name__}, got {value!r}"[:300])
    return value


def _names(ext: dict[str, Any], key: str, known, where: str, what: str) -> list[str]:
    """A non-empty list of distinct names, each one of `known`."""
    names = _field(ext, key, list, where)
    if not names:
        raise InputError(f"{where}: field '{key}' is empty: a drill names at least one {what}")
    if not all(isinstance(n, str) for n in names):
        raise InputError(f"{where}: field '{key}' must list {what} names (strings), got {names!r}"[:300])
    bad = [n for n in names if n not in known]
    if bad:
        raise InputError(f"{where}: field '{key}' names unknown {what}(s) {', '.join(bad)}"[:300], hint=f"{what}s: {', '.join(known)}"[:600])
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"{where}: field '{key}' names {', '.join(twice)} more than once")
    return names


def _seconds(ext: dict[str, Any], key: str, where: str, high: float) -> float:
    value = _field(ext, key, float, where)
    if not math.isfinite(value) or value < 0 or value > high:
        raise InputError(f"{where}: field '{key}' must be 0 to {high:g} seconds, got {value!r}")
    return value


def _runbook(path: Path, ext: dict[str, Any], where: str) -> str:
    """A file inside the experiment's tree (the folder holding its folder): a runbook is
    copied into every run directory, so it must be the project's own, not any file."""
    runbook = _field(ext, "runbook", str, where)
    tree = path.resolve().parent.parent
    target = (path.resolve().parent / runbook).resolve()
    if Path(runbook).is_absolute() or not target.is_relative_to(tree):
        raise InputError(f"{where}: runbook '{runbook}' is outside the experiment's tree ({tree})", hint="give a path relative to the experiment file, e.g. ../runbooks/<drill>.md")
    if not target.is_file():
        raise InputError(f"{where}: runbook '{runbook}' does not exist (relative to {path.parent})")
    return runbook


def _drill_settings(path: Path, data: dict[str, Any]) -> DrillSettings:
    extensions = data.get("extensions", [])
    if not isinstance(extensions, list):
        raise InputError(f"{path}: field 'extensions' must be a list, got {type(extensions).__name__}")
    exts = [e for e in extensions if isinstance(e, dict) and e.get("name") == "gameday"]
    if not exts:
        raise InputError(f"{path}: no 'gameday' entry in 'extensions'", hint="see experiments/redis-primary-failover.json for the fields")
    ext = exts[0]
    where = f"{path}: extensions[gameday]"
    known = {"name", "runbook", "tiers", "slos", "load", "warmup_s", "baseline_s", "cooldown_s", "max_duration_s", "steady_state_only", "stop_conditions"}
    unknown = sorted(map(str, set(ext) - known))
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(unknown)}", hint=f"known fields: {', '.join(sorted(known))}")
    runbook = _runbook(path, ext, where)
    tiers = _names(ext, "tiers", TIERS, where, "tier")
    slos = _names(ext, "slos", list(catalog().slos), where, "SLO")
    load = _field(ext, "load", dict, where)
    rate = _field(load, "rate", float, f"{where}.load")
    extra = sorted(map(str, set(load) - {"rate", "shape", "shape_params"}))
    if extra:
        raise InputError(f"{where}.load: unknown field(s) {', '.join(extra)}", hint="known fields: rate, shape, shape_params")
    shape = load.get("shape", "steady")
    if shape not in [k.value for k in ShapeKind]:
        raise InputError(f"{where}.load: field 'shape' must be one of {', '.join(k.value for k in ShapeKind)}, got {shape!r}"[:300])
    params = load.get("shape_params", {})
    if not isinstance(params, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in params.values()):
        raise InputError(f"{where}.load: field 'shape_params' must map names to numbers")
    if rate == 0 and shape == "steady" and not params:
        pass  # no background load: the method drives its own (the capacity drill)
    else:
        try:
            make_shape(shape, rate, **params)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}.load: {exc}") from None
    settings = DrillSettings(runbook=runbook, tiers=tiers, slos=slos, rate=rate, shape=ShapeKind(shape), shape_params={k: float(v) for k, v in params.items()})
    for key in ("warmup_s", "baseline_s", "cooldown_s"):
        if key in ext:
            setattr(settings, key, _seconds(ext, key, where, MAX_PHASE_S))
    ramp = settings.shape_params.get("ramp_s", 0.0) if settings.shape is ShapeKind.STEADY else 0.0
    if ramp > settings.warmup_s:
        raise InputError(f"{where}.load: shape_params.ramp_s ({ramp:g} s) must end within warmup_s ({settings.warmup_s:g} s): what is judged starts after the warm-up")
    if "max_duration_s" in ext:
        settings.max_duration_s = _field(ext, "max_duration_s", int, where)
        if not 0 < settings.max_duration_s <= MAX_DURATION_S:
            raise InputError(f"{where}: field 'max_duration_s' must be 1 to {MAX_DURATION_S} seconds, got {settings.max_duration_s}")
    if settings.max_duration_s <= settings.warmup_s + settings.baseline_s + settings.cooldown_s:
        raise InputError(f"{where}: field 'max_duration_s' ({settings.max_duration_s} s) leaves no time for the method after warm-up, baseline and cool-down")
    if "steady_state_only" in ext:
        settings.steady_state_only = _field(ext, "steady_state_only", bool, where)
    if "stop_conditions" in ext:
        settings.stop_conditions = parse_conditions(ext["stop_conditions"], where)
        if settings.rate == 0:
            raise InputError(f"{where}: stop_conditions watch the drill's load, and load.rate is 0", hint="give the drill a load rate, or drop its stop conditions")
    return settings


def _read(path: Path) -> dict[str, Any]:
    """The experiment file as a JSON object, or InputError saying what is wrong with it."""
    if not path.is_file():
        raise InputError(f"experiment {path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"experiment {path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"experiment {path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise InputError(f"experiment {path}: JSON nested too deeply to be an experiment") from None
    if not isinstance(data, dict):
        raise InputError(f"experiment {path}: the top level must be a JSON object")
    return data


def load_experiment(path: Path) -> Experiment:
    data = _read(path)
    for key, kind in (("controls", list), ("extensions", list), ("configuration", dict)):
        if key in data and not isinstance(data[key], kind):
            raise InputError(f"experiment {path}: field '{key}' must be a {kind.__name__ if kind is not dict else 'mapping'}, got {type(data[key]).__name__}")
    controls = data.get("controls", [])
    if not all(isinstance(c, dict) and isinstance(c.get("provider"), dict) for c in controls):
        raise InputError(f"experiment {path}: field 'controls' must list controls with a 'provider' mapping each")
    try:
        ensure_experiment_is_valid(data)
    except ChaosException as exc:
        raise InputError(f"experiment {path}: {exc}"[:1000], hint="check it with: chaos validate " + str(path)) from None
    except Exception as exc:  # chaoslib's validator itself trips on some malformed input
        raise InputError(f"experiment {path}: not a valid Chaos Toolkit experiment ({type(exc).__name__}: {exc})"[:1000], hint="check it with: chaos validate " + str(path)) from None
    if CONTROL not in [c["provider"].get("module") for c in controls]:
        raise InputError(f"{path}: field 'controls' must declare the gameday control (module {CONTROL})")
    return Experiment(path=path.resolve(), data=data, drill=_drill_settings(path, data))
