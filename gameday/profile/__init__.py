"""The profile: every setting of the lab and of a run, as documented YAML defaults
(`defaults.yaml`) overridden key by key by a user file.

`gameday lab up --profile` starts the lab with it; `gameday run --profile` resolves the
run's profile once (the running lab's, with the file's keys over it; see `live`) and hands
that one object to the session, the load, the monitors and the probes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from gameday.errors import InputError
from gameday.profile import rules


def defaults() -> dict[str, Any]:
    return yaml.safe_load(resources.files(__package__).joinpath("defaults.yaml").read_text())


def _merge(base: dict[str, Any], override: dict[str, Any], path: str, source: str) -> None:
    for key, value in override.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in base:
            known = ", ".join(sorted(base))
            raise InputError(f"{source}: unknown profile key '{where}'", hint=f"known keys at this level: {known}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise InputError(f"{source}: '{where}' must be a mapping, got {type(value).__name__}")
            _merge(base[key], value, where, source)
        elif isinstance(value, dict):
            raise InputError(f"{source}: '{where}' is a value, not a mapping")
        else:
            expected = type(base[key])
            if expected is float and isinstance(value, int):
                value = float(value)
            if not isinstance(value, expected) or isinstance(value, bool) != isinstance(base[key], bool):
                raise InputError(f"{source}: '{where}' must be {expected.__name__}, got {value!r}")
            base[key] = value


@dataclass(frozen=True)
class Profile:
    data: dict[str, Any]
    source: str
    # The keys the user's file set (dotted), with their values: what a run asks to change.
    overrides: dict[str, Any] = field(default_factory=dict)

    def get(self, dotted: str) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            node = node[part]
        return node

    @property
    def home(self) -> Path:
        return Path(self.get("lab.home")).expanduser()

    def over(self, base: dict[str, Any], source: str) -> "Profile":
        """This profile's overrides applied over another profile's data (e.g. the lab's)."""
        data = with_defaults(base)
        for dotted, value in self.overrides.items():
            node = data
            *parents, last = dotted.split(".")
            for part in parents:
                node = node[part]
            node[last] = value
        return Profile(data, source, dict(self.overrides))


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}"""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def load_profile(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Profile:
    data = copy.deepcopy(defaults())
    source = "defaults"
    if path is not None:
        if not path.is_file():
            raise InputError(f"profile {path}: no such file")
        try:
            user = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"profile {path}: not valid YAML: {exc}") from None
        if not isinstance(user, dict):
            raise InputError(f"profile {path}: the top level must be a mapping of sections")
        _merge(data, user, "", f"profile {path}")
        source = str(path)
        explicit = flatten(user)
    else:
        explicit = {}
    if overrides:
        _merge(data, overrides, "", "overrides")
        explicit.update(flatten(overrides))
    flat = flatten(data)
    rules.check(flat, f"profile {path}" if path else "profile")
    return Profile(data=data, source=source, overrides={k: flat[k] for k in explicit})


def with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A stored profile completed with defaults added since it was written."""
    merged = copy.deepcopy(defaults())

    def fill(base: dict[str, Any], stored: dict[str, Any]) -> None:
        for key, value in stored.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                fill(base[key], value)
            else:
                base[key] = value

    fill(merged, data)
    return merged
