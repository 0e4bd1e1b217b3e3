"""Errors raised by lifecircle.

Every error a user can cause subclasses :class:`LifecircleError` *and* the builtin
exception it resembles, so ``except ValueError`` or ``except FileExistsError`` still works.
The command line prints these as one message and exits with code 2; anything else is an
internal error (exit code 1).

Input problems are gathered, not raised one at a time: :class:`InputError` carries a list
of :class:`Problem` records, each naming the file, the row or field, and the fix. A problem
made with :meth:`Problem.of` is written in every language (its text comes from
``lifecircle/data/i18n``, keys ``problem_<key>`` and ``fix_<key>``); ``error.text(lang)``
renders an error in the plan's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lifecircle.i18n import has_text, tr

__all__ = [
    "COMMAND_LINE",
    "CatalogError",
    "InputError",
    "InternalError",
    "Interrupted",
    "LifecircleError",
    "OfflineError",
    "OutputError",
    "PlanFileError",
    "Problem",
    "SolverError",
    "system_problem",
]


class LifecircleError(Exception):
    """Base class of every error lifecircle raises on purpose.

    Made with a :class:`Problem` (``SolverError(Problem.of(...))``), it is written in
    every language; made with a string, in that string's.
    """

    def __init__(self, *args: Any) -> None:
        self.problem: Problem | None = (
            args[0] if len(args) == 1 and isinstance(args[0], Problem) else None
        )
        super().__init__(*(str(a) if isinstance(a, Problem) else a for a in args))

    def text(self, lang: str = "en") -> str:
        """The message in ``lang`` (English where no translation exists)."""
        return str(self) if self.problem is None else self.problem.text(lang)


COMMAND_LINE = "command line"
"""The source of a problem with the flags (rendered as ``source_command_line`` in each
language)."""

Place = tuple[str, Any]
"""Where inside a source a problem is, in a form every language can say: ``("row", 7)``,
``("line", 3)``, ``("column", "lon")``, ``("key", "inputs.osm")``, ``("sheet", "Sheet1")``,
``("plan", 2)`` (the ``where_<kind>`` texts of ``lifecircle/data/i18n``)."""


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

    key
        The problem's text key (:meth:`of`), for its rendering in other languages.
    values
        The values of the key's placeholders.
    place
        ``where`` as a :data:`Place`, for its rendering in other languages.

    Examples
    --------
    >>> str(Problem("shops.csv", "longitude out of range", where="row 7", fix="use WGS84"))
    'shops.csv, row 7: longitude out of range (fix: use WGS84)'
    >>> p = Problem.of("file_not_found", "plan.toml", path="shops.csv", place=("key", "x"))
    >>> p.text("zh").split("（")[0]
    'plan.toml，键 x：找不到文件 shops.csv'
    >>> str(p).split(" (")[0]
    'plan.toml, key x: file not found: shops.csv'
    """

    source: str
    message: str
    where: str | None = None
    fix: str | None = None
    key: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    place: Place | None = None

    @classmethod
    def of(cls, key: str, source: str, *, place: Place | None = None, **values: Any) -> Problem:
        """The problem ``key`` (texts ``problem_<key>`` and, where it exists, ``fix_<key>``),
        in ``source`` at ``place``, with ``values`` filled into its texts.

        Parameters
        ----------
        key
            The problem's text key.
        source
            The file, flag or plan the problem is in.
        place
            Where inside the source.
        **values
            The values of the texts' placeholders. A value given as ``{"en": ...,
            "zh": ...}`` is picked by language.

        Returns
        -------
        Problem
            With its English texts as ``message``, ``where`` and ``fix``.
        """
        p = cls(source, "", key=key, values=dict(values), place=place)
        return cls(
            source,
            p._message("en"),
            where=p._where("en"),
            fix=p._fix("en"),
            key=key,
            values=dict(values),
            place=place,
        )

    def _values(self, lang: str) -> dict[str, Any]:
        return {
            k: (v.get(lang, v.get("en")) if isinstance(v, dict) else v)
            for k, v in self.values.items()
        }

    def _message(self, lang: str) -> str:
        if self.key is None:
            return self.message
        return tr(f"problem_{self.key}", lang, **self._values(lang))

    def _fix(self, lang: str) -> str | None:
        if self.key is None or not has_text(f"fix_{self.key}"):
            return self.fix
        return tr(f"fix_{self.key}", lang, **self._values(lang))

    def _where(self, lang: str) -> str | None:
        if self.place is None:
            return self.where
        kind, value = self.place
        return tr(f"where_{kind}", lang, value=value)

    def text(self, lang: str = "en") -> str:
        """The problem in ``lang``: source, place, what is wrong and the fix."""
        if lang == "en" or (self.key is None and self.place is None):
            return str(self)
        where, message, fix = self._where(lang), self._message(lang), self._fix(lang)
        source = tr("source_command_line", lang) if self.source == COMMAND_LINE else self.source
        place = f"{source}，{where}" if where else source
        text = f"{place}：{message}"
        return f"{text}（{tr('fix_word', lang)}：{fix}）" if fix else text

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
        return self.text("en")

    def text(self, lang: str = "en") -> str:
        """Every problem, in ``lang``."""
        if len(self.problems) == 1:
            return self.problems[0].text(lang)
        lines = [tr("problems_header", lang, n=len(self.problems))]
        lines += [f"  - {p.text(lang)}" for p in self.problems]
        return "\n".join(lines)


class CatalogError(InputError):
    """A service catalog (TOML) that cannot be used."""


class PlanFileError(InputError):
    """A plan file with unknown keys, wrong types or missing inputs."""


class OutputError(LifecircleError, OSError):
    """The output folder cannot be used (it is a file, unwritable, holds other data, is in use
    by another run, or its disk is full), or the system failed to read or write a file.

    Carries one :class:`Problem` (``problems``, as :class:`InputError`), so it is said in
    every language.
    """

    def __init__(self, problem: Problem | str) -> None:
        self.problems: list[Problem] = [
            problem if isinstance(problem, Problem) else Problem("output", problem)
        ]
        super().__init__(str(self.problems[0]))

    def text(self, lang: str = "en") -> str:
        """The problem, in ``lang``."""
        return self.problems[0].text(lang)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM, SIGHUP): raised in the main thread, so the
    output folder is cleaned up as after Ctrl-C.

    Parameters
    ----------
    signum
        The signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


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


def system_problem(exc: OSError) -> Problem:
    """A failure of the system to read or write a file (not a bug, and not a verdict on the
    data), as a :class:`Problem` naming the file.

    >>> system_problem(PermissionError(13, "Permission denied", "shops.csv")).source
    'shops.csv'
    """
    return Problem.of(
        "os_error",
        str(exc.filename) if exc.filename else "lifecircle",
        error=f"{type(exc).__name__}: {exc.strerror or exc}",
    )
