"""The base of every history record, its one registry of kinds, and its JSON form.

A record type registers itself by subclassing `Record` with a `kind`: reading a history
back needs no list kept by hand.
"""

from __future__ import annotations

import enum
import functools
import json
import typing
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

RECORD_TYPES: dict[str, type["Record"]] = {}


@dataclass(frozen=True)
class Record:
    kind: ClassVar[str] = "record"
    t: float  # seconds since the epoch (time.time()), one clock for every record

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind in RECORD_TYPES:
            raise TypeError(f"record kind {cls.kind!r} registered twice ({RECORD_TYPES[cls.kind].__name__}, {cls.__name__})")
        RECORD_TYPES[cls.kind] = cls


def to_json(record: Record) -> str:
    data = asdict(record)
    for key, value in data.items():
        if isinstance(value, enum.Enum):
            data[key] = value.value
    return json.dumps({"kind": record.kind, **data}, separators=(",", ":"))


def from_json(line: str) -> Record:
    """One record; ValueError names what is wrong with a line that is not one."""
    try:
        data = json.loads(line)
        cls = RECORD_TYPES[data.pop("kind")]
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"not a history record ({type(exc).__name__}: {exc})") from None
    enums = _enum_fields(cls)
    kwargs = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            if f.name in enums:
                value = enums[f.name](value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"{cls.kind} record: {exc}") from None


@functools.cache
def _enum_fields(cls: type[Record]) -> dict[str, type[enum.Enum]]:
    """Fields typed with an enum, which JSON holds as their values."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls) if isinstance(hints.get(f.name), type) and issubclass(hints[f.name], enum.Enum)}
