"""A run never loses a planner's file: --force, inputs and the current folder, the lock,
signals, a full disk and the umask (issue 14, data loss and races).

Runs are real: the small OSM extract of ``tests/geo/osm_fixture.py``, in this process
(``main``) or in a real ``lifecircle`` process, stopped at a known point by the
``LIFECIRCLE_TEST_HOLD`` hook and sent a real signal.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lifecircle.report.outputs
from lifecircle.app import HOLD_ENV
from lifecircle.cli import main
from tests.geo.osm_fixture import write_osm

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def osm(tmp_path: Path) -> Path:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_osm(inputs / "x.osm")
    return inputs / "x.osm"


def args(osm: Path, out: Path, *more: str) -> list[str]:
    return ["plan", "--osm", str(osm), "--out", str(out), "--offline", "-q", *more]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def listed(out: Path) -> list[str]:
    return json.loads((out / "run.json").read_text(encoding="utf-8"))["outputs"]


CSVS = {
    "access.csv",
    "checklist.csv",
    "completeness_by_unit.csv",
    "coverage_by_unit.csv",
    "coverage_summary.csv",
    "gaps.csv",
    "sites.csv",
    # the fixture lies in Beijing and holds two compounds, so compounds are gated (auto) and
    # the walls' tables are written too
    "walls.csv",
    "compounds.csv",
    "compounds_ranking.csv",
    "entrance_candidates.csv",
}


def test_force_keeps_a_file_the_planner_added_and_refuses(osm: Path, capsys) -> None:
    out = osm.parent.parent / "out"
    assert main(args(osm, out, "--format", "csv")) == 0
    assert set(listed(out)) == CSVS
    (out / "notes.docx").write_bytes(b"the planner's notes")
    before = tree(osm.parent.parent)
    code, err = run(args(osm, out, "--format", "csv", "--force"), capsys)
    assert code == 2, err
    assert "notes.docx" in err and "did not write" in err and "(fix: " in err
    assert tree(osm.parent.parent) == before  # nothing removed, nothing added
    code, err = run(args(osm, out, "--format", "csv", "--force", "--lang", "zh"), capsys)
    assert code == 2 and "notes.docx" in err and "先前的 lifecircle 运行未写入" in err
    assert err.startswith("错误") and "（解决：把这些文件移到别处" in err
    # an output name that the earlier run did not list is the planner's too
    (out / "notes.docx").unlink()
    (out / "report.xlsx").write_bytes(b"last year's workbook")
    code, err = run(args(osm, out, "--format", "xlsx", "--force"), capsys)
    assert code == 2 and "report.xlsx" in err
    assert (out / "report.xlsx").read_bytes() == b"last year's workbook"


def test_force_removes_only_the_listed_outputs_of_an_earlier_run(osm: Path, capsys) -> None:
    out = osm.parent.parent / "out"
    assert main(args(osm, out, "--format", "csv")) == 0
    first = json.loads((out / "run.json").read_text(encoding="utf-8"))
    code, err = run(args(osm, out, "--format", "gpkg", "--force"), capsys)
    assert code == 0, err
    # the CSVs the first run listed are gone, the new run's outputs are there, and nothing
    # beside the folder is left (no partial, old or lock entry)
    assert sorted(p.name for p in out.iterdir()) == ["results.gpkg", "run.json"]
    assert listed(out) == ["results.gpkg"]
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["created"] >= first["created"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["inputs", "out"]


def test_a_folder_holding_an_input_or_the_current_folder_is_refused(
    osm: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    before = tree(tmp_path)
    for force in ([], ["--force"]):
        code, err = run(args(osm, osm.parent, *force), capsys)
        assert code == 2 and str(osm) in err and "an input of this run" in err, err
        code, err = run(args(osm, tmp_path, *force), capsys)  # holds it deeper down
        assert code == 2 and str(osm) in err
    here = tmp_path / "empty"
    here.mkdir()
    monkeypatch.chdir(here)
    code, err = run(args(osm, Path(".")), capsys)
    assert code == 2 and "current folder" in err and "--out results" in err
    code, err = run(args(osm, Path(".."), "--force"), capsys)
    assert code == 2 and "current folder" in err
    assert here.is_dir() and not any(here.iterdir())
    assert tree(tmp_path) == before


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_folders_follow_the_umask(osm: Path, umask: int) -> None:
    out = osm.parent.parent / "new" / "out"
    old = os.umask(umask)
    try:
        assert main(args(osm, out, "--format", "csv")) == 0
    finally:
        os.umask(old)
    for folder in (out, out.parent):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (out / "access.csv").stat().st_mode & 0o777 == 0o666 & ~umask


# -- a full disk ---------------------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (skips the test where it cannot be)."""
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace')}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_full_disk_says_so_and_leaves_nothing(osm: Path, tmp_path: Path, capsys) -> None:
    # the CSVs need 7 files of a page (4 KB) each at least: 16 KB fills before the end
    with small_tmpfs(tmp_path / "disk", "16k") as disk:
        code, err = run(args(osm, disk / "out", "--format", "csv"), capsys)
        assert code == 2, err
        assert "disk is full" in err and str(disk / "out") in err and "had written" in err
        assert "internal error" not in err and "Traceback" not in err
        assert list(disk.iterdir()) == []  # no folder, no partial, no lock


def test_a_full_disk_while_writing_a_table(osm: Path, capsys, monkeypatch) -> None:
    out = osm.parent.parent / "out"

    def fills(frame, path: Path, headers=None) -> None:
        path.write_bytes(b"x" * 3000)  # half a table, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lifecircle.report.outputs, "write_csv", fills)
    code, err = run(args(osm, out, "--format", "csv", "--lang", "zh"), capsys)
    assert code == 2, err
    assert "磁盘已满" in err and "2.9 KB" in err and "coverage_by_unit.csv" in err
    assert sorted(p.name for p in out.parent.iterdir()) == ["inputs"]


def test_a_system_failure_does_not_say_the_data_is_fine(osm: Path, capsys, monkeypatch) -> None:
    def broken(frame, path: Path, headers=None) -> None:
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(lifecircle.report.outputs, "write_csv", broken)
    code, err = run(args(osm, osm.parent.parent / "out", "--format", "csv"), capsys)
    assert code == 2 and "Input/output error" in err and "coverage_by_unit.csv" in err
    assert "not in your data" not in err and "before it had checked all your data" in err


# -- real processes: the lock and signals ------------------------------------------------


def start(osm: Path, out: Path, hold: str, held: Path) -> subprocess.Popen[bytes]:
    """A real ``lifecircle plan`` process that stops at ``hold`` (``event:stage``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), HOLD_ENV: f"{hold}:{held}"}
    cmd = [sys.executable, "-m", "lifecircle.cli", *args(osm, out, "--format", "csv")]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)


def wait_held(proc: subprocess.Popen[bytes], held: Path) -> int:
    """Wait until the process says it is held; its pid."""
    deadline = time.monotonic() + 300
    while not held.exists():
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else proc.returncode)
        assert time.monotonic() < deadline, "the run never reached the hold point"
        time.sleep(0.05)
    return int(held.read_text(encoding="utf-8"))


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.slow
def test_a_second_run_into_a_held_folder_refuses_naming_the_holder(
    osm: Path, tmp_path: Path, capsys
) -> None:
    out, held = tmp_path / "out", tmp_path / "held"
    first = start(osm, out, "start:load", held)
    try:
        pid = wait_held(first, held)
        code, err = run(args(osm, out, "--format", "csv"), capsys)
        assert code == 2, err
        assert f"process {pid} on {socket.gethostname()}" in err and "in use" in err
        assert "(fix: wait" in err
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if first.poll() is None:
            first.kill()
    assert "stopped by SIGTERM" in (first.stderr.read().decode() if first.stderr else "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["held", "inputs"]
    # the folder is free again
    assert main(args(osm, out, "--format", "csv")) == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("hold", "signum"),
    [("start:load", signal.SIGTERM), ("step:outputs", signal.SIGTERM)]
    + ([("step:outputs", signal.SIGHUP)] if hasattr(signal, "SIGHUP") else []),
)
def test_a_signal_leaves_nothing_behind(osm: Path, tmp_path: Path, hold: str, signum) -> None:
    out, held = tmp_path / "out", tmp_path / "held"
    proc = start(osm, out, hold, held)
    try:
        wait_held(proc, held)
        partial = [tmp_path / n for n in hidden(tmp_path) if ".partial-" in n]
        assert len(partial) == 1 and hidden(tmp_path) == [".out.lock", partial[0].name]
        if hold == "step:outputs":  # stopped halfway through writing the outputs
            names = {p.name for p in partial[0].iterdir()}
            assert names == CSVS, names  # the tables, but no run.json yet
        proc.send_signal(signum)
        assert proc.wait(timeout=120) == 128 + signum
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["held", "inputs"]


@pytest.mark.slow
def test_the_next_run_removes_what_a_killed_run_left(osm: Path, tmp_path: Path) -> None:
    out, held = tmp_path / "out", tmp_path / "held"
    proc = start(osm, out, "step:outputs", held)
    try:
        wait_held(proc, held)
        proc.kill()  # SIGKILL: no clean-up at all
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = hidden(tmp_path)
    assert len(left) == 2 and left[0] == ".out.lock" and ".out.partial-" in left[1]
    assert {p.name for p in (tmp_path / left[1]).iterdir()} == CSVS
    # a partial folder of another output folder is not this run's to remove
    other = tmp_path / ".other.partial-abcd1234"
    other.mkdir()
    assert main(args(osm, out, "--format", "csv")) == 0
    assert hidden(tmp_path) == [other.name]
    assert {p.name for p in out.iterdir()} == CSVS | {"run.json"}


@pytest.mark.slow
def test_a_file_added_while_a_forced_run_works_is_kept(osm: Path, tmp_path: Path) -> None:
    out, held = tmp_path / "out", tmp_path / "held"
    assert main(args(osm, out, "--format", "csv")) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), HOLD_ENV: f"start:load:{held}"}
    cmd = [sys.executable, "-m", "lifecircle.cli", *args(osm, out, "--format", "gpkg", "--force")]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        wait_held(proc, held)  # the folder was checked: only listed outputs
        (out / "notes.docx").write_bytes(b"written during the run")
        held.unlink()  # go on
        assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(p.name for p in out.iterdir()) == ["notes.docx", "results.gpkg", "run.json"]
    assert (out / "notes.docx").read_bytes() == b"written during the run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "out"]
