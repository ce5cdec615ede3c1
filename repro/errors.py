"""Errors the harness reports to users: bad input (exit 2) carries file, line and key path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Problem:
    """One thing wrong with a claim file, located as precisely as we can."""

    file: str
    line: int | None
    path: str  # dotted key path, e.g. "checks[1].tol"; "" for the whole file
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ClaimError(Exception):
    """A claim file is invalid; nothing may run. Carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class MetricMissing(Exception):
    """A check names a metric that the experiment does not return (found after the first unit)."""


class UsageError(Exception):
    """A command-line request that cannot be honoured (e.g. --device cuda without a GPU)."""


class ResultsWriteError(Exception):
    """Results could not be written (read-only folder, full disk). Nothing was replaced:
    the previous results are intact, and finished units are in the unit cache."""
