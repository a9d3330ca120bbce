"""The declarative DR promotion plan: typed steps read from YAML, refused whole when any
step is unknown (naming the file, the step and the known ones), before anything runs."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from gameday.errors import InputError


class Action(str, enum.Enum):
    PROMOTE = "promote"
    RESTORE = "restore"
    START = "start"
    SWITCH = "switch"
    RESUME = "resume"


# What each action can act on in the lab's DR region.
OBJECTS: dict[Action, tuple[str, ...]] = {
    Action.PROMOTE: ("cache", "store"),
    Action.RESTORE: ("index",),
    Action.START: ("api",),
    Action.SWITCH: ("entry",),
    Action.RESUME: ("stream",),
}


@dataclass(frozen=True)
class Step:
    action: Action
    what: str

    def __str__(self) -> str:
        return f"{self.action.value} {self.what}"


@dataclass(frozen=True)
class Plan:
    source: str
    steps: tuple[Step, ...]

    def has(self, action: Action, what: str) -> bool:
        return Step(action, what) in self.steps


def default_path() -> Path:
    return Path(str(resources.files(__package__).joinpath("promotion.yaml")))


def load(path: str | Path = "") -> Plan:
    """The plan in `path` ("" for the shipped one); InputError for anything it cannot run."""
    file = Path(path).expanduser() if path else default_path()
    try:
        data = yaml.safe_load(file.read_text())
    except OSError as exc:
        raise InputError(f"cannot read the DR promotion plan {file}: {exc.strerror or exc}", hint="dr.plan names the file; \"\" uses the shipped plan") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file} is not YAML: {exc}") from None
    return parse(data, str(file))


def parse(data: object, source: str) -> Plan:
    if not isinstance(data, dict) or set(data) != {"steps"} or not isinstance(data["steps"], list) or not data["steps"]:
        raise InputError(f"{source}: a promotion plan is a mapping with one key, steps: a list of steps", hint=f"see {default_path()}")
    steps = []
    for i, raw in enumerate(data["steps"], 1):
        where = f"{source}, step {i}"
        if not isinstance(raw, dict) or len(raw) != 1:
            raise InputError(f"{where}: a step is one `action: object` pair, got {raw!r}", hint=_known())
        (action, what), = raw.items()
        try:
            act = Action(action)
        except ValueError:
            raise InputError(f"{where}: unknown action {action!r}", hint=_known()) from None
        if what not in OBJECTS[act]:
            raise InputError(f"{where}: {action} has no object {what!r}", hint=_known())
        step = Step(act, str(what))
        if step in steps:
            raise InputError(f"{where}: {step} is already step {steps.index(step) + 1}", hint="each step once; " + _known())
        steps.append(step)
    return Plan(source, tuple(steps))


def _known() -> str:
    return "known steps: " + ", ".join(f"{a.value}: {w}" for a, objs in OBJECTS.items() for w in objs)
