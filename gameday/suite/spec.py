"""A suite file (`gameday suite SUITE.yaml`), read and checked before anything starts: every
error names the file and the field, and every experiment and profile it names is loaded."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gameday.drill.experiment import Experiment, load_experiment
from gameday.errors import GamedayError, InputError
from gameday.load.shapes import ShapeKind
from gameday.profile import load_profile


class Action(str, enum.Enum):
    STOP = "stop"  # end the suite: the drills after it are not run
    CONTINUE = "continue"


class Outcome(str, enum.Enum):
    """What a drill came to, as the suite's policy sees it."""

    PASS = "pass"  # exit 0
    FAIL = "fail"  # exit 1: an SLO failed or the steady state deviated
    UNKNOWN = "unknown"  # exit 2: not carried out, or not measured
    HALT = "halt"  # a stop condition halted it (the platform misbehaved badly enough)


@dataclass(frozen=True)
class Policy:
    fail: Action = Action.CONTINUE
    unknown: Action = Action.CONTINUE
    halt: Action = Action.STOP

    def after(self, outcome: Outcome) -> Action:
        return Action.CONTINUE if outcome is Outcome.PASS else getattr(self, outcome.value)


@dataclass(frozen=True)
class LabSpec:
    """A lab the suite starts (`gameday lab up --tiers ... --profile ...`) for the drills naming it."""

    name: str
    tiers: tuple[str, ...]
    profile: Path | None = None


@dataclass(frozen=True)
class DrillSpec:
    index: int  # 1-based position in the suite
    experiment: Experiment
    lab: str  # a LabSpec's name ("" when the suite does not manage the lab)
    profile: Path | None = None  # the run's profile (gameday run --profile)
    rate: float | None = None
    shape: str | None = None
    processes: int | None = None
    estimate_s: float = 0.0

    @property
    def key(self) -> str:
        """The drill's name in the suite directory: `02-redis-primary-failover`."""
        return f"{self.index:02d}-{self.experiment.path.stem}"


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    description: str
    sha256: str  # of the suite file: a resume refuses a file that changed since
    manage_lab: bool
    policy: Policy
    labs: dict[str, LabSpec]
    drills: tuple[DrillSpec, ...]
    profile: Path | None = None  # every drill's run profile under its own
    warnings: list[str] = field(default_factory=list)


# Beyond the drill's phases, what a drill takes on this host (settling, recovery waits,
# checkers, reports): the first estimate, corrected by the drills already run.
DRILL_OVERHEAD_S = 120.0
# A lab start: a base plus each tier's share (a full lab took about 4 minutes here).
LAB_BASE_S, LAB_PER_TIER_S = 40.0, 20.0

TOP_KEYS = {"name", "description", "manage_lab", "policy", "labs", "drills", "profile"}
DRILL_KEYS = {"experiment", "lab", "profile", "rate", "shape", "processes", "estimate_s"}
LAB_KEYS = {"tiers", "profile"}


def _pauses(node: Any) -> float:
    if isinstance(node, dict):
        own = sum(v for v in (node.get("pauses") or {}).values() if isinstance(v, (int, float)) and not isinstance(v, bool))
        return own + sum(_pauses(v) for v in node.values())
    if isinstance(node, list):
        return sum(_pauses(v) for v in node)
    return 0.0


def estimate_drill_s(exp: Experiment) -> float:
    d = exp.drill
    return d.warmup_s + d.baseline_s + d.cooldown_s + _pauses(exp.data) + DRILL_OVERHEAD_S


def estimate_lab_s(lab: LabSpec) -> float:
    return LAB_BASE_S + LAB_PER_TIER_S * len(lab.tiers)


def _path(raw: Any, base: Path, where: str, must_exist: bool = True) -> Path:
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(f"{where}: expected a file path, got {raw!r}")
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else (base / path)
    if must_exist and not path.is_file():
        raise InputError(f"{where}: {raw} is not a file (paths are relative to the suite file)")
    return path.resolve()


def _mapping(raw: Any, where: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a mapping, got {type(raw).__name__}")
    extra = sorted(set(raw) - known)
    if extra:
        raise InputError(f"{where}: unknown field(s) {', '.join(map(str, extra))}", hint=f"known: {', '.join(sorted(known))}")
    return raw


def _number(raw: Any, where: str, minimum: float, integer: bool = False) -> float | int:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or (integer and not isinstance(raw, int)) or raw < minimum:
        raise InputError(f"{where}: expected {'an integer' if integer else 'a number'} >= {minimum:g}, got {raw!r}")
    return raw


def _policy(raw: Any, where: str) -> Policy:
    if raw is None:
        return Policy()
    data = _mapping(raw, where, {o.value for o in Outcome if o is not Outcome.PASS})
    actions = {}
    for key, value in data.items():
        try:
            actions[key] = Action(value)
        except ValueError:
            raise InputError(f"{where}.{key}: expected one of {', '.join(a.value for a in Action)}, got {value!r}") from None
    return Policy(**actions)


def _labs(raw: Any, base: Path, where: str) -> dict[str, LabSpec]:
    from gameday.target import TIERS

    if not isinstance(raw, dict) or not raw:
        raise InputError(f"{where}: expected a mapping of lab names to {{tiers, profile}}")
    labs = {}
    for name, body in raw.items():
        at = f"{where}.{name}"
        body = _mapping(body, at, LAB_KEYS)
        tiers = body.get("tiers")
        if not isinstance(tiers, list) or not tiers or not all(isinstance(t, str) for t in tiers):
            raise InputError(f"{at}.tiers: expected a list of tiers")
        unknown = [t for t in tiers if t not in TIERS]
        if unknown:
            raise InputError(f"{at}.tiers: unknown tier(s) {', '.join(unknown)}", hint=f"tiers: {', '.join(TIERS)}")
        profile = _path(body["profile"], base, f"{at}.profile") if body.get("profile") is not None else None
        if profile is not None:
            _load_profile(profile, f"{at}.profile")
        labs[str(name)] = LabSpec(str(name), tuple(tiers), profile)
    return labs


def _load_profile(path: Path, where: str) -> None:
    try:
        load_profile(path)
    except GamedayError as exc:
        raise InputError(f"{where}: {exc}", hint=exc.hint) from None


def _drill(index: int, raw: Any, base: Path, where: str, labs: dict[str, LabSpec], manage: bool) -> DrillSpec:
    body = _mapping({"experiment": raw} if isinstance(raw, str) else raw, where, DRILL_KEYS)
    if "experiment" not in body:
        raise InputError(f"{where}: missing field 'experiment'")
    path = _path(body["experiment"], base, f"{where}.experiment")
    try:
        exp = load_experiment(path)
    except GamedayError as exc:
        raise InputError(f"{where}.experiment: {exc}", hint=exc.hint) from None
    lab = body.get("lab")
    if not manage:
        if lab is not None:
            raise InputError(f"{where}.lab: the suite does not manage the lab (manage_lab: false)")
        lab = ""
    elif lab is None:
        if len(labs) != 1:
            raise InputError(f"{where}: missing field 'lab' (the suite has {len(labs)} labs: {', '.join(labs)})")
        lab = next(iter(labs))
    elif lab not in labs:
        raise InputError(f"{where}.lab: no lab named {lab!r}", hint=f"labs: {', '.join(labs)}")
    if lab:
        missing = [t for t in exp.drill.tiers if t not in labs[lab].tiers]
        if missing:
            raise InputError(f"{where}: {path.name} needs tier(s) {', '.join(missing)} that lab {lab!r} does not start", hint=f"add them to labs.{lab}.tiers")
    profile = _path(body["profile"], base, f"{where}.profile") if body.get("profile") is not None else None
    if profile is not None:
        _load_profile(profile, f"{where}.profile")
    shape = body.get("shape")
    if shape is not None and shape not in {s.value for s in ShapeKind}:
        raise InputError(f"{where}.shape: expected one of {', '.join(s.value for s in ShapeKind)}, got {shape!r}")
    return DrillSpec(
        index=index, experiment=exp, lab=lab, profile=profile,
        rate=float(_number(body["rate"], f"{where}.rate", 1)) if "rate" in body else None,
        shape=shape,
        processes=int(_number(body["processes"], f"{where}.processes", 1, integer=True)) if "processes" in body else None,
        estimate_s=float(_number(body["estimate_s"], f"{where}.estimate_s", 1)) if "estimate_s" in body else estimate_drill_s(exp),
    )  # fmt: skip


def load_suite(path: Path) -> Suite:
    """InputError naming the file and the field for anything wrong; nothing is started."""
    if not path.is_file():
        raise InputError(f"suite {path}: no such file")
    raw_bytes = path.read_bytes()
    try:
        data = yaml.safe_load(raw_bytes.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"suite {path}: not valid YAML: {exc}"[:500]) from None
    where = f"suite {path}"
    data = _mapping(data, where, TOP_KEYS)
    base = path.resolve().parent
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise InputError(f"{where}: name: expected a short name without '/', got {name!r}")
    manage = data.get("manage_lab", True)
    if not isinstance(manage, bool):
        raise InputError(f"{where}: manage_lab: expected true or false, got {manage!r}")
    drills_raw = data.get("drills")
    if not isinstance(drills_raw, list) or not drills_raw:
        raise InputError(f"{where}: drills: expected a non-empty list of drills")
    profile = _path(data["profile"], base, f"{where}: profile") if data.get("profile") is not None else None
    if profile is not None:
        _load_profile(profile, f"{where}: profile")
    if not manage and data.get("labs") is not None:
        raise InputError(f"{where}: labs: given, but manage_lab is false (the suite uses the running lab)")
    labs = _labs(data["labs"], base, f"{where}: labs") if data.get("labs") is not None else {}
    if manage and not labs:
        # One lab with every tier the drills need.
        tiers: list[str] = []
        for i, raw in enumerate(drills_raw, 1):
            body = {"experiment": raw} if isinstance(raw, str) else raw
            if isinstance(body, dict) and isinstance(body.get("experiment"), str):
                exp_path = _path(body["experiment"], base, f"{where}: drills[{i}].experiment")
                try:
                    tiers += [t for t in load_experiment(exp_path).drill.tiers if t not in tiers]
                except GamedayError as exc:
                    raise InputError(f"{where}: drills[{i}].experiment: {exc}", hint=exc.hint) from None
        labs = {"lab": LabSpec("lab", tuple(tiers))}
    drills = tuple(_drill(i, raw, base, f"{where}: drills[{i}]", labs, manage) for i, raw in enumerate(drills_raw, 1))
    unused = [n for n in labs if not any(d.lab == n for d in drills)]
    if unused:
        raise InputError(f"{where}: labs: {', '.join(unused)} named by no drill")
    targets = {d.experiment.target for d in drills}
    if manage and targets != {"lab"}:
        raise InputError(f"{where}: manage_lab: only the local lab can be started by a suite; its drills name the target(s) {', '.join(sorted(targets))}",
                         hint="set manage_lab: false and prepare the target yourself")  # fmt: skip
    return Suite(path=path.resolve(), name=name.strip(), description=str(data.get("description") or ""), sha256=hashlib.sha256(raw_bytes).hexdigest(),
                 manage_lab=manage, policy=_policy(data.get("policy"), f"{where}: policy"), labs=labs, drills=drills, profile=profile)  # fmt: skip
