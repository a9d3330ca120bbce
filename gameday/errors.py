"""Exceptions the CLI boundary maps to exit codes and actionable hints."""

from __future__ import annotations


class GamedayError(Exception):
    """A drill that could not be carried out or measured: exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class InputError(GamedayError):
    """Bad user input (experiment file, profile, arguments). Nothing was started."""


class TargetError(GamedayError):
    """The system under test could not be reached, asked or controlled."""


class LabError(TargetError):
    """The lab could not be brought up, reached or controlled."""
