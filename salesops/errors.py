"""The package's own error types. Pages and the CLI catch :class:`SalesopsError` and show its
message; anything else is a bug."""
from __future__ import annotations

from dataclasses import dataclass


class SalesopsError(Exception):
    """Base of every error the product raises on purpose; its message is for the user."""


class InputError(SalesopsError):
    """Bad input from the user: a file, a value or an option. The CLI exits 2."""

    def __init__(self, message: str, problems: list["Problem"] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class PermissionDenied(InputError):
    """The signed-in user's role may not do this (or see that); nothing was changed."""


class PeriodError(InputError):
    """A period text that cannot be parsed."""


class StoreError(SalesopsError):
    """The database cannot be used (corrupt, newer than the app, not writable)."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer version of salesops."""


@dataclass
class Problem:
    """One problem found in an input: where (file, row, column), the value, and what is wrong.

    ``row`` is numbered as a spreadsheet shows it (the header is row 1); None for file-level
    problems. ``severity`` is "error" (the row cannot be imported) or "warning".
    """

    problem: str
    row: int | None = None
    column: str | None = None
    value: object = None
    file: str | None = None
    severity: str = "error"

    def describe(self) -> str:
        """One line naming file, row, column and value."""
        parts = []
        if self.file:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        if self.value is not None and self.value != "":
            parts.append(f"value {str(self.value)[:80]!r}")
        where = ", ".join(parts)
        return f"{where}: {self.problem}" if where else self.problem

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": None if self.value is None else str(self.value),
                "problem": self.problem, "severity": self.severity}



__all__ = ["SalesopsError", "InputError", "PermissionDenied", "PeriodError", "StoreError", "SchemaTooNewError", "Problem"]
