"""Errors raised by lifecircle.

Every error a user can cause subclasses :class:`LifecircleError` *and* the builtin
exception it resembles, so ``except ValueError`` or ``except FileExistsError`` still works.
The command line prints these as one message and exits with code 2; anything else is an
internal error (exit code 1).

Input problems are gathered, not raised one at a time: :class:`InputError` carries a list
of :class:`Problem` records, each naming the file, the row or field, and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CatalogError",
    "InputError",
    "InternalError",
    "LifecircleError",
    "OfflineError",
    "OutputError",
    "PlanFileError",
    "Problem",
    "SolverError",
]


class LifecircleError(Exception):
    """Base class of every error lifecircle raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input.

    Parameters
    ----------
    source
        The file (or flag, or plan key) the problem is in.
    message
        What is wrong.
    where
        Row, column, field or key, when the problem has a place inside the source.
    fix
        What the user can do about it.

    Examples
    --------
    >>> str(Problem("shops.csv", "longitude out of range", where="row 7", fix="use WGS84"))
    'shops.csv, row 7: longitude out of range (fix: use WGS84)'
    """

    source: str
    message: str
    where: str | None = None
    fix: str | None = None

    def __str__(self) -> str:
        place = f"{self.source}, {self.where}" if self.where else self.source
        text = f"{place}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


class InputError(LifecircleError, ValueError):
    """One or more problems with the user's inputs, reported together."""

    def __init__(self, problems: Problem | str | Iterable[Problem]) -> None:
        if isinstance(problems, str):
            problems = [Problem("input", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems with the inputs:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class CatalogError(InputError):
    """A service catalog (TOML) that cannot be used."""


class PlanFileError(InputError):
    """A plan file with unknown keys, wrong types or missing inputs."""


class OutputError(LifecircleError, OSError):
    """The output folder cannot be used (it is a file, unwritable, or holds other data)."""


class OfflineError(LifecircleError, ConnectionError):
    """A feature that needs the internet was asked for with no network reachable."""


class SolverError(LifecircleError, RuntimeError):
    """The integer-programming solver failed to give a usable answer."""


class InternalError(Exception):
    """A bug or an unexpected failure inside lifecircle during a run (not the user's doing).

    The traceback is written to ``log_path`` (in the output folder) so it can be reported;
    the original exception is ``__cause__``.
    """

    def __init__(self, message: str, log_path: str | None = None) -> None:
        super().__init__(message)
        self.log_path = log_path
