"""The output folder of a run: checked first, locked, written under a temporary name, moved
into place.

A run writes into a hidden partial folder beside the one the user named
(``.<out>.partial-XXXXXXXX``) and moves it into place only when everything is written, so a
crash, an error or a signal never leaves a half-written output. The rules that keep a
planner's files safe:

- an existing folder is refused unless ``force``; even with ``force``, a run only ever
  removes the files an earlier lifecircle run listed as its outputs in its ``run.json``: any
  other file in the folder makes the run refuse, naming it;
- a run never writes into a folder that holds one of its own inputs, nor into the current
  folder (or one holding it);
- while a run works on a folder it holds a lock beside it (``.<out>.lock``, an ``fcntl``
  lock the system releases when the process ends, however it ends): a second run into the
  same folder refuses, saying which process holds it. Partial folders left by a run that
  was killed (SIGKILL, power cut) are removed by the next run that takes the lock;
- a full disk is said as such (where, and how much the run had written), and the partial
  folder is removed;
- folders are created with the user's umask.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lifecircle.errors import (
    InternalError,
    LifecircleError,
    OutputError,
    Problem,
    system_problem,
)
from lifecircle.report.provenance import MARK, versions

if sys.platform == "win32":  # pragma: no cover - the lock's Windows flavour
    import msvcrt
else:
    import fcntl

__all__ = [
    "ERROR_LOG",
    "RUN_FILE",
    "FolderLock",
    "check_output_folder",
    "output_folder",
    "size_text",
]

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
ERROR_LOG = "lifecircle-error.log"
_TOKEN = re.compile(r"[0-9a-z_]{8}")
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _run_file(folder: Path) -> dict[str, Any] | None:
    """The folder's ``run.json`` if lifecircle wrote it."""
    try:
        data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == MARK else None


def _listed_outputs(folder: Path) -> set[str] | None:
    """The files an earlier lifecircle run in ``folder`` wrote (its ``run.json``, the outputs
    it lists, its error log); ``None`` when no lifecircle run wrote there."""
    data = _run_file(folder)
    if data is None:
        return None
    listed = data.get("outputs") or []
    names = {str(n) for n in listed if isinstance(n, str) and Path(n).name == n}
    return names | {RUN_FILE, ERROR_LOG}


def _is_failed_run(folder: Path) -> bool:
    """A folder holding only what a failed run left: its error log and ``run.json``."""
    data = _run_file(folder)
    names = {p.name for p in folder.iterdir()}
    return data is not None and data.get("status") == "failed" and names <= {RUN_FILE, ERROR_LOG}


def _real(path: Path) -> Path:
    """``path`` with its parent folders' links resolved (the entry itself is kept)."""
    return path.parent.resolve() / path.name


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_place(path: Path, inputs: Iterable[str | Path]) -> None:
    """Refuse a file, the current folder, a folder holding an input, an unwritable parent."""
    where = str(path)
    if path.exists() and not path.is_dir():
        raise OutputError(Problem.of("out_is_file", where))
    real = {path, _real(path)} | ({path.resolve()} if path.exists() else set())
    try:
        cwd = Path.cwd()
        here = {cwd, cwd.resolve()}
    except OSError:  # a deleted current folder: nothing to keep there
        here = set()
    if any(_inside(c, r) for c in here for r in real):
        raise OutputError(Problem.of("out_is_cwd", where))
    for item in inputs:
        given = Path(item).expanduser().absolute()
        if any(_inside(p, r) for p in (given, given.resolve()) for r in real):
            raise OutputError(Problem.of("out_holds_input", where, input=str(item)))
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(Problem.of("out_parent_file", where, parent=str(parent)))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(Problem.of("out_unwritable", where, parent=str(parent)))


def _check_contents(path: Path, *, force: bool) -> set[str]:
    """Refuse an existing folder unless ``force``, and even then any file in it that is not a
    listed output of an earlier run; return the names a replacement may remove."""
    if not path.is_dir() or not any(path.iterdir()) or _is_failed_run(path):
        return {RUN_FILE, ERROR_LOG}
    if not force:
        raise OutputError(Problem.of("out_not_empty", str(path)))
    listed = _listed_outputs(path)
    if listed is None:
        raise OutputError(Problem.of("out_not_lifecircle", str(path)))
    foreign = sorted(p.name for p in path.iterdir() if p.name not in listed or not p.is_file())
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise OutputError(Problem.of("out_foreign_files", str(path), n=len(foreign), names=shown))
    return listed


def check_output_folder(out: str | Path, *, force: bool, inputs: Iterable[str | Path] = ()) -> Path:
    """Check that ``out`` can receive a run's outputs; return its absolute path.

    Parameters
    ----------
    out
        The output folder.
    force
        Whether an earlier lifecircle output there may be replaced.
    inputs
        The run's input files: none may be inside ``out``.

    Returns
    -------
    Path
        ``out``, absolute.

    Raises
    ------
    OutputError
        When ``out`` is a file, the current folder (or holds it), holds an input, exists and
        is not empty (without ``force``), holds files that no earlier lifecircle run there
        listed as its outputs (even with ``force``), or its parent cannot be written. A
        folder that only holds what a failed run left is replaced without ``force``.
    """
    path = Path(out).expanduser().absolute()
    _check_place(path, inputs)
    _check_contents(path, force=force)
    return path


class FolderLock:
    """The lock of an output folder: ``.<out>.lock`` beside it, holding who holds it.

    An ``fcntl`` lock (on Windows ``msvcrt``), so the system releases it when the holding
    process ends, however it ends; the file is removed on :meth:`release`.
    """

    def __init__(self, path: Path) -> None:
        self.folder = path
        self.file = _real(path).parent / f".{path.name}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`OutputError` naming the run that holds it."""
        while self._fd is None:
            fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                _lock(fd)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise OutputError(self._held_by()) from None
            try:  # the file may have been removed by the holder we waited for: take the new one
                same = os.stat(self.file).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
            else:
                os.close(fd)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
        }
        os.ftruncate(self._fd, 0)
        os.write(self._fd, json.dumps(holder).encode("utf-8"))

    def _held_by(self) -> Problem:
        try:
            holder = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            holder = {}
        unknown = {"en": "?", "zh": "？"}
        return Problem.of(
            "out_locked",
            str(self.folder),
            pid=holder.get("pid", unknown),
            host=holder.get("host", unknown),
            started=holder.get("started", unknown),
            lock=str(self.file),
        )

    def release(self) -> None:
        """Remove the lock file and let the lock go."""
        if self._fd is None:
            return
        if sys.platform != "win32":
            with contextlib.suppress(OSError):
                self.file.unlink()
        os.close(self._fd)
        self._fd = None
        if sys.platform == "win32":  # pragma: no cover - an open file cannot be removed there
            with contextlib.suppress(OSError):
                self.file.unlink()


def _lock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        os.lseek(fd, 1 << 20, os.SEEK_SET)  # a byte past the holder's text, which stays readable
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_stale(path: Path) -> None:
    """Remove the partial folders of runs into ``path`` that were killed before they could
    clean up (called with the lock held, so no live run owns them)."""
    prefix = f".{path.name}.partial-"
    parent = _real(path).parent
    for entry in parent.iterdir():
        name = entry.name
        if name.startswith(prefix) and _TOKEN.fullmatch(name[len(prefix) :]) and entry.is_dir():
            log.info("removing %s, left by a run that was stopped", entry)
            shutil.rmtree(entry, ignore_errors=True)


def _make_partial(path: Path) -> Path:
    """A new hidden folder beside ``path``, made with the user's umask."""
    while True:
        tmp = path.parent / f".{path.name}.partial-{secrets.token_hex(4)}"
        try:
            tmp.mkdir(mode=0o777)
        except FileExistsError:
            continue
        return tmp


def _make_parents(path: Path) -> list[Path]:
    """Create the missing parents of ``path``; return those created, outermost first."""
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    created: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=0o777)
            created.append(folder)
    except OSError as exc:
        _remove_folders(created)
        raise OutputError(
            Problem.of("out_cannot_create", str(path), error=exc.strerror or str(exc))
        ) from None
    return created


def _remove_folders(created: list[Path]) -> None:
    """Remove the parent folders a run created, if they are empty (another run may have
    started in them since)."""
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextmanager
def output_folder(
    out: str | Path, *, force: bool = False, inputs: Iterable[str | Path] = ()
) -> Iterator[Path]:
    """A partial folder to write into; moved to ``out`` when the block succeeds.

    The folder is locked for the whole block (a second run into it refuses). On any error
    or signal inside the block the partial folder (and any parent folders this created) are
    removed and ``out`` is left as it was. A full disk, or another failure of the system to
    read or write a file, is raised as :class:`~lifecircle.errors.OutputError`; any other
    unexpected error (not a :class:`~lifecircle.errors.LifecircleError`) also leaves its
    traceback in ``out/lifecircle-error.log`` and is raised again as
    :class:`~lifecircle.errors.InternalError`.

    Parameters
    ----------
    out
        The output folder.
    force
        Whether an earlier lifecircle output there may be replaced.
    inputs
        The run's input files: none may be inside ``out``.

    Returns
    -------
    Iterator[Path]
        The partial folder, as the ``with`` block's target.
    """
    path = Path(out).expanduser().absolute()
    inputs = list(inputs)
    _check_place(path, inputs)
    created = _make_parents(path)
    lock = FolderLock(path)
    try:
        lock.acquire()
        removable = _check_contents(path, force=force)
        _remove_stale(path)
        tmp = _make_partial(path)
    except BaseException as exc:
        lock.release()
        _remove_folders(created)
        if isinstance(exc, OSError) and not isinstance(exc, LifecircleError):
            raise _system_problem(exc, path, 0, None) from exc
        raise
    try:
        try:
            yield tmp
        except BaseException as exc:
            _failed(exc, path, tmp, created)
            raise
        try:
            with _signals_held():
                old = _swap(path, tmp)
        except BaseException as exc:
            _failed(exc, path, tmp, created)
            raise
        if old is not None:
            _clear_old(old, path, removable)
    finally:
        lock.release()


def _swap(path: Path, tmp: Path) -> Path | None:
    """Move ``tmp`` to ``path``; return where the earlier folder there went, if any."""
    old = None
    if path.exists():
        old = path.parent / f".{path.name}.old-{secrets.token_hex(4)}"
        path.rename(old)
    try:
        tmp.rename(path)
    except BaseException:
        if old is not None:
            old.rename(path)
        raise
    return old


def _clear_old(old: Path, path: Path, removable: set[str]) -> None:
    """Remove an earlier run's listed outputs; files that appeared meanwhile are moved into
    the new folder (or, where a new output has their name, kept where they are)."""
    for name in removable:
        with contextlib.suppress(FileNotFoundError):
            (old / name).unlink()
    kept = []
    for entry in old.iterdir():
        if (path / entry.name).exists():
            kept.append(entry)
        else:
            entry.rename(path / entry.name)
    if kept:
        log.warning("kept %s: files added while the run worked, with an output's name", old)
    else:
        with contextlib.suppress(OSError):
            old.rmdir()


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold off SIGINT, SIGTERM and SIGHUP while the folders are swapped."""
    wanted = {signal.SIGINT, signal.SIGTERM}
    if hasattr(signal, "SIGHUP"):
        wanted.add(signal.SIGHUP)
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _failed(exc: BaseException, path: Path, tmp: Path, created: list[Path]) -> None:
    """Clean up after ``exc``; raise what the user is told instead of it, if anything."""
    written, last = _written(tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    if isinstance(exc, LifecircleError) or not isinstance(exc, Exception):
        _remove_folders(created)
        return
    if isinstance(exc, OSError):
        _remove_folders(created)
        raise _system_problem(exc, path, written, last) from exc
    log_file = _crash_log(path, exc)
    raise InternalError(f"{type(exc).__name__}: {exc}", log_file) from exc


def _written(tmp: Path) -> tuple[int, str | None]:
    """The bytes written into ``tmp`` and the name of the newest file there."""
    total, newest, name = 0, -1.0, None
    with contextlib.suppress(OSError):
        for f in tmp.rglob("*"):
            st = f.stat()
            if f.is_file():
                total += st.st_size
                if st.st_mtime >= newest:
                    newest, name = st.st_mtime, f.name
    return total, name


def size_text(n: float) -> str:
    """A size in bytes as people read it: ``'512 B'``, ``'1.5 MB'``.

    >>> size_text(512), size_text(1536), size_text(3 * 1024**3)
    ('512 B', '1.5 KB', '3.0 GB')
    """
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def _system_problem(exc: OSError, path: Path, written: int, last: str | None) -> OutputError:
    """What the user is told of a failure of the system (a full disk, a file it cannot
    read); never that their data is fine."""
    if exc.errno in _DISK_FULL:
        try:
            free = shutil.disk_usage(_real(path).parent).free
        except OSError:
            free = 0
        return OutputError(
            Problem.of(
                "disk_full",
                str(path),
                file=last or exc.filename or "?",
                written=size_text(written),
                free=size_text(free),
                needed=size_text(written),
            )
        )
    return OutputError(system_problem(exc))


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
