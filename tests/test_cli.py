"""The command line: exit codes and one-line errors for bad output folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lifecircle.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


def test_out_pointing_at_a_file_is_refused(tmp_path: Path, capsys) -> None:
    f = tmp_path / "report.txt"
    f.write_text("mine", encoding="utf-8")
    code, err = run(["demo", "--out", str(f), "-q"], capsys)
    assert code == 2
    assert str(f) in err and "is a file" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_unwritable_folder_is_refused(tmp_path: Path, capsys) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/lifecircle-out")  # even root cannot create folders in /proc
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        target = locked / "out"
    code, err = run(["demo", "--out", str(target), "-q"], capsys)
    assert code == 2
    assert str(target.parent) in err or str(target) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not target.exists()


def test_existing_folder_needs_force_and_lifecircle_ownership(tmp_path: Path, capsys) -> None:
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "notes.docx").write_text("precious", encoding="utf-8")
    code, err = run(["demo", "--out", str(out), "-q"], capsys)
    assert code == 2 and "--force" in err
    code, err = run(["demo", "--out", str(out), "-q", "--force"], capsys)
    assert code == 2 and "did not write" in err
    assert (out / "notes.docx").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs"]


def test_second_run_refuses_then_force_replaces(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "-q", "--offline"]) == 0
    first = (out / "run.json").read_text(encoding="utf-8")
    code, err = run(["demo", "--out", str(out), "-q", "--offline"], capsys)
    assert code == 2 and "already exists" in err
    assert (out / "run.json").read_text(encoding="utf-8") == first
    assert main(["demo", "--out", str(out), "-q", "--offline", "--force", "--lang", "zh"]) == 0
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "幼儿园" in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_catalog_commands(capsys) -> None:
    assert main(["catalog", "list"]) == 0
    assert "gb50180" in capsys.readouterr().out
    assert main(["catalog", "show", "gb50180", "--lang", "zh"]) == 0
    assert "幼儿园" in capsys.readouterr().out
    code, err = run(["catalog", "show", "nope"], capsys)
    assert code == 2 and "gb50180" in err
