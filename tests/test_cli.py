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


def test_plan_example_is_a_valid_plan(tmp_path: Path, capsys) -> None:
    import tomllib

    from lifecircle.config import plan_from_dict

    assert main(["plan", "--example"]) == 0
    text = capsys.readouterr().out
    doc = tomllib.loads(text)
    config = plan_from_dict(doc)  # every key of the example is a real key
    assert config.inputs.facilities[0].crs == "gcj02"
    assert [p.category for p in config.placement] == ["kindergarten", "elderly_day_care"]


def test_plan_file_with_unknown_keys_and_wrong_types(tmp_path: Path, capsys) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[inputs]\nosm = "x.osm.pbf"\nfacilitys = []\n[analysis]\nspeed_kmh = "fast"\n'
        "[[placement]]\nsites = 3\ntarget_share = 0.9\n",
        encoding="utf-8",
    )
    code, err = run(["plan", str(plan), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "Traceback" not in err
    assert "key inputs.facilitys: unknown key" in err
    assert "key analysis.speed_kmh" in err
    assert "exactly one of sites" in err
    assert not (tmp_path / "out").exists()


def test_plan_inspect_from_flags(tmp_path: Path, capsys) -> None:
    from tests.geo.osm_fixture import write_osm

    osm = write_osm(tmp_path / "x.osm")
    assert main(["plan", "--osm", str(osm), "--grid-m", "100", "--inspect", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "幼儿园" in out and "EPSG:32650" in out


def test_plan_with_a_broken_facility_file_writes_nothing(tmp_path: Path, capsys) -> None:
    from tests.geo.osm_fixture import write_osm

    osm = write_osm(tmp_path / "x.osm")
    poi = tmp_path / "poi.csv"
    poi.write_text("name,category,lon,lat\na,bakery,116.35,39.96\n", encoding="utf-8")
    out = tmp_path / "out"
    code, err = run(
        ["plan", "--osm", str(osm), "--facilities", str(poi), "--out", str(out)], capsys
    )
    assert code == 2 and "unknown categories: 'bakery'" in err and "--category-map" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["poi.csv", "x.osm"]


def test_plan_runs_end_to_end_from_a_plan_file(tmp_path: Path, capsys) -> None:
    import json

    from tests.geo.osm_fixture import write_osm

    write_osm(tmp_path / "x.osm")
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'title = "test"\n[inputs]\nosm = "x.osm"\n[inputs.grid]\ncell_m = 100\n'
        '[[placement]]\ncategory = "pharmacy"\nsites = 1\n[outputs]\nlang = "zh"\noffline = true\n',
        encoding="utf-8",
    )
    assert main(["plan", str(plan), "--out", str(tmp_path / "out"), "-q"]) == 0
    run_json = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run_json["command"] == "plan" and run_json["plan"]["title"] == "test"
    assert run_json["plan"]["inputs"]["osm"] == str((tmp_path / "x.osm").resolve())
    assert "pharmacy" in run_json["placement"]
