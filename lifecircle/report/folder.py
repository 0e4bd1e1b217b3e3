"""The output folder of a run: checked first, written under a temporary name, moved into place.

A run writes into a hidden temporary folder beside the one the user named and renames it
into place only when everything is written, so a crash or an error never leaves a
half-written output. An existing folder is refused unless ``force``; even with ``force``, a
folder is only replaced when it holds a lifecircle ``run.json`` (so ``--force`` on the
wrong path cannot delete the user's data).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lifecircle.errors import InternalError, LifecircleError, OutputError
from lifecircle.report.provenance import MARK, versions

__all__ = ["ERROR_LOG", "RUN_FILE", "check_output_folder", "output_folder"]

RUN_FILE = "run.json"
ERROR_LOG = "lifecircle-error.log"


def _run_file(folder: Path) -> dict[str, Any] | None:
    """The folder's ``run.json`` if lifecircle wrote it."""
    try:
        data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == MARK else None


def _is_lifecircle_output(folder: Path) -> bool:
    return _run_file(folder) is not None


def _is_failed_run(folder: Path) -> bool:
    """A folder holding only what a failed run left: its error log and ``run.json``."""
    data = _run_file(folder)
    names = {p.name for p in folder.iterdir()}
    return data is not None and data.get("status") == "failed" and names <= {RUN_FILE, ERROR_LOG}


def check_output_folder(out: str | Path, *, force: bool) -> Path:
    """Check that ``out`` can receive a run's outputs; return its absolute path.

    Raises
    ------
    OutputError
        When ``out`` is a file, exists and is not empty (without ``force``), holds files
        lifecircle did not write (even with ``force``), or its parent cannot be written.
        A folder that only holds what a failed run left is replaced without ``force``.
    """
    path = Path(out).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise OutputError(
            f"{path} is a file, not a folder: choose a folder for the outputs (--out)"
        )
    if path.is_dir() and any(path.iterdir()) and not _is_failed_run(path):
        if not force:
            raise OutputError(
                f"{path} already exists and is not empty: "
                "pass --force to replace it, or choose another --out"
            )
        if not _is_lifecircle_output(path):
            raise OutputError(
                f"{path} holds files that lifecircle did not write: "
                "refusing to replace it even with --force; "
                "choose a new or empty folder"
            )
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{parent} is a file, so {path} cannot be created: choose another --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in {parent}: choose a folder you can write to (--out)")
    return path


@contextmanager
def output_folder(out: str | Path, *, force: bool = False) -> Iterator[Path]:
    """A temporary folder to write into; moved to ``out`` when the block succeeds.

    On any error inside the block the temporary folder (and any parent folders this
    created) are removed and ``out`` is left as it was. An unexpected error (not a
    :class:`~lifecircle.errors.LifecircleError`) also leaves its traceback in
    ``out/lifecircle-error.log`` and is raised again as
    :class:`~lifecircle.errors.InternalError`.
    """
    path = check_output_folder(out, force=force)
    created: list[Path] = []
    parent = path.parent
    missing = []
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    except OSError as exc:
        for folder in reversed(created):
            shutil.rmtree(folder, ignore_errors=True)
        raise OutputError(
            f"cannot create the output folder {path}: {exc.strerror or exc}"
        ) from None
    try:
        yield tmp
        old: Path | None = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.rmdir(old)
            path.rename(old)
        tmp.rename(path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, LifecircleError):
            log_file = _crash_log(path, exc)
            raise InternalError(f"{type(exc).__name__}: {exc}", log_file) from exc
        for folder in reversed(created):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _crash_log(path: Path, exc: Exception) -> str | None:
    """Write the traceback of an internal error into the output folder; return its path.

    An earlier run's outputs there (``--force``) are kept whole: only the log is added. A new
    folder gets the log and a ``run.json`` marking the run as failed, so the next run may
    replace it.
    """
    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    report = (
        f"lifecircle {versions().get('lifecircle', '?')} failed at {stamp}\n"
        f"command: {' '.join(sys.argv)}\n"
        f"versions: {json.dumps(versions())}\n\n{text}"
    )
    try:
        fresh = not path.exists() or _is_failed_run(path) or not any(path.iterdir())
        path.mkdir(parents=True, exist_ok=True)
        (path / ERROR_LOG).write_text(report, encoding="utf-8")
        if fresh:
            record = {"tool": MARK, "status": "failed", "created": stamp, "error": str(exc)}
            (path / RUN_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    except OSError:  # pragma: no cover - nowhere to write: the traceback goes to stderr
        return None
    return str(path / ERROR_LOG)
