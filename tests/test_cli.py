"""The command line: exit codes and one-line errors for bad output folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lifecircle.cli import _flags_to_doc, main
from lifecircle.i18n import tr


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
    for name in ("haidian.osm.pbf", "communities.geojson", "poi_amap.csv", "category_map.toml"):
        (tmp_path / name).write_bytes(b"")  # the files it names exist
    config = plan_from_dict(doc, base=tmp_path)  # every key of the example is a real key
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


BAD_PLANS = {
    # name: (plan text, facility file bytes or None, what the message must name)
    "missing file": ('[inputs]\nosm = "nowhere.osm.pbf"\n', None, "key inputs.osm: file not found"),
    "unknown key": (
        '[inputs]\nosm = "x.osm"\nunits_file = "u.gpkg"\n',
        None,
        "key inputs.units_file: unknown key",
    ),
    "wrong type": (
        '[inputs]\nosm = "x.osm"\n[analysis]\nunit_share = "half"\n',
        None,
        "key analysis.unit_share",
    ),
    "unknown category": (
        '[inputs]\nosm = "x.osm"\n[[placement]]\ncategory = "spaceport"\nsites = 1\n',
        None,
        "key placement.0.category: unknown category 'spaceport'",
    ),
    "two OSM sources": (
        '[inputs]\nosm = "x.osm"\nplace = "Haidian, Beijing"\n',
        None,
        "key inputs.osm: give exactly one source of OSM data",
    ),
    "units and an admin level": (
        '[inputs]\nosm = "x.osm"\nunits = {path = "x.osm"}\nadmin_level = 8\n',
        None,
        "key inputs.units: give a units file or an administrative level, not both",
    ),
    "wrong encoding": (
        '[inputs]\nosm = "x.osm"\n[[inputs.facilities]]\npath = "poi.csv"\nencoding = "utf-8"\n',
        "name,category,lon,lat\n北大幼儿园,kindergarten,116.35,39.96\n".encode("gbk"),
        "poi.csv: cannot be read as utf-8",
    ),
    "plan not UTF-8": ('title = "海淀"\n[inputs]\nosm = "x.osm"\n', None, "not UTF-8"),
    "zero parts": (
        '[inputs]\nosm = "x.osm"\n[analysis]\nparts = 0\n',
        None,
        "key analysis.parts: give a number of parts (1 or more) or a column of the units",
    ),
    "parts by a column the units lack": (
        '[inputs]\nosm = "x.osm"\n[analysis]\nparts = "district"\n',
        None,
        "the units have no column 'district'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PLANS))
def test_bad_plans_exit_2_naming_the_problem(case: str, tmp_path: Path, capsys) -> None:
    from tests.geo.osm_fixture import write_osm

    text, poi, expected = BAD_PLANS[case]
    write_osm(tmp_path / "x.osm")
    plan = tmp_path / "plan.toml"
    if case == "plan not UTF-8":
        plan.write_bytes(text.encode("gbk"))
    else:
        plan.write_text(text, encoding="utf-8")
    if poi is not None:
        (tmp_path / "poi.csv").write_bytes(poi)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = run(["plan", str(plan), "--out", str(tmp_path / "out")], capsys)
    assert code == 2, err
    assert expected in err and "(fix: " in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output folder, no temp


def test_existing_output_folder_exits_2_and_is_kept(tmp_path: Path, capsys) -> None:
    from tests.geo.osm_fixture import write_osm

    write_osm(tmp_path / "x.osm")
    out = tmp_path / "out"
    out.mkdir()
    (out / "last-year.xlsx").write_bytes(b"keep me")
    code, err = run(["plan", "--osm", str(tmp_path / "x.osm"), "--out", str(out)], capsys)
    assert code == 2 and str(out) in err and "--force" in err
    assert [p.name for p in out.iterdir()] == ["last-year.xlsx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "x.osm"]


def test_all_problems_of_a_plan_are_listed_at_once(tmp_path: Path, capsys) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[inputs]\nosm = "gone.osm"\n[[inputs.facilities]]\npath = "gone.csv"\n'
        '[[placement]]\ncategory = "spaceport"\nsites = 1\n[outputs]\nmap_category = "moon"\n',
        encoding="utf-8",
    )
    code, err = run(["plan", str(plan), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "4 problems" in err
    keys = (
        "inputs.osm",
        "inputs.facilities.0.path",
        "placement.0.category",
        "outputs.map_category",
    )
    for key in keys:
        assert f"key {key}" in err


def test_internal_error_exits_1_with_the_traceback_in_the_output_folder(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    import json

    import lifecircle.report.outputs
    from tests.geo.osm_fixture import write_osm

    def broken(*args, **kwargs):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(lifecircle.report.outputs, "write_gpkg", broken)
    write_osm(tmp_path / "x.osm")
    out = tmp_path / "out"
    args = ["plan", "--osm", str(tmp_path / "x.osm"), "--out", str(out), "--offline", "-q"]
    code, err = run(args, capsys)
    assert code == 1
    assert "internal error" in err and "lifecircle-error.log" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["lifecircle-error.log", "run.json"]
    log = (out / "lifecircle-error.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "ZeroDivisionError: simulated bug" in log and "write_gpkg" in log
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["status"] == "failed"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder
    # once fixed, the next run replaces what the failed one left, without --force
    monkeypatch.undo()
    code, err = run(args, capsys)
    assert code == 0, err
    assert (out / "results.gpkg").is_file() and not (out / "lifecircle-error.log").exists()


def test_quiet_prints_nothing_and_progress_goes_to_stderr(tmp_path: Path, capsys) -> None:
    from tests.geo.osm_fixture import write_osm

    write_osm(tmp_path / "x.osm")
    base = ["plan", "--osm", str(tmp_path / "x.osm"), "--offline", "--format", "csv"]
    assert main([*base, "--out", str(tmp_path / "q"), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert main([*base, "--out", str(tmp_path / "v"), "--lang", "zh"]) == 0
    err = capsys.readouterr().err
    assert tr("stage_access", "zh") in err and tr("stage_outputs", "zh") in err
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == sorted(
        p.name for p in (tmp_path / "v").iterdir()
    )


def test_summary_table_prints_the_category_summary(demo_run, capsys, monkeypatch) -> None:
    """The end-of-run table: one row per category with its threshold, facilities and the
    shares covered, as recomputed here from the per-resident distances."""
    import numpy as np

    from lifecircle.cli import _print_summary, _Printer

    result, _ = demo_run
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    _print_summary(result, "en", _Printer("en", quiet=True))
    lines = capsys.readouterr().out.splitlines()
    res = result.area.demand["residents"].to_numpy(float)
    acc = result.access
    for k, cat in enumerate(acc.categories):
        c = result.area.catalog[cat]
        label = c.name("en") if c.required else f"({c.name('en')})"
        cells = [
            [x.strip() for x in line.split("│")[1:-1]]
            for line in lines
            if line.startswith("│") and _shows(line.split("│")[1].strip(), label)
        ]
        assert len(cells) == 1, label
        share = res[acc.distance_m[:, k] <= acc.thresholds_m[k]].sum() / res.sum()
        n = int((result.area.facilities["category"] == cat).sum())
        assert cells[0][1:4] == [f"{acc.thresholds_m[k]:.0f}", str(n), f"{share * 100:.0f}%"]
        d = acc.distance_m[:, k]
        median = next(x for x in sorted({*d[res > 0]}) if res[d <= x].sum() >= res.sum() / 2 - 1e-6)
        assert cells[0][5] == (f"{median:,.0f}" if np.isfinite(median) else "–")


def _shows(cell: str, label: str) -> bool:
    """A table cell shows ``label``, whole or cut short with an ellipsis."""
    return cell == label or (cell.endswith("…") and label.startswith(cell[:-1]))


def test_a_mistyped_option_is_explained_in_the_chosen_language(capsys) -> None:
    code, err = run(["plan", "--osmm", "x.osm", "--lang", "zh"], capsys)
    assert code == 2
    assert "命令行用法有误" in err and "--osm" in err and "lifecircle plan --help" in err
    code, err = run(["plan", "--osmm", "x.osm"], capsys)
    assert code == 2 and "No such option '--osmm'" in err and "命令" not in err


def test_a_problem_with_the_flags_names_the_command_line_in_the_chosen_language(
    tmp_path: Path, capsys
) -> None:
    args = ["plan", "--osm", str(tmp_path / "nope.osm"), "--out", str(tmp_path / "o")]
    code, err = run([*args, "--lang", "zh"], capsys)
    assert code == 2 and "命令行，键 inputs.osm：找不到文件" in err and "command line" not in err
    code, err = run(args, capsys)
    assert code == 2 and "command line, key inputs.osm: file not found" in err


def test_a_flag_of_a_plan_file_table_sets_that_table() -> None:
    """``--site-category`` with a plan file's ``[[placement]]`` sets its category, and
    ``--unit-id`` with its ``[inputs.units]`` sets the id column, instead of being lost."""
    base = {
        "placement": [{"sites": 3}, {"sites": 2, "category": "school"}],
        "inputs": {"units": {"path": "u.geojson"}},
    }
    doc = _flags_to_doc({"site_category": "kindergarten", "unit_id": "code"}, base)
    assert doc == {
        "placement": [
            {"sites": 3, "category": "kindergarten"},
            {"sites": 2, "category": "kindergarten"},
        ],
        "inputs": {"units": {"id_col": "code"}},
    }
    assert base["placement"][0] == {"sites": 3}  # the plan file's tables are not changed
    with_sites = _flags_to_doc({"sites": 4, "site_category": "kindergarten"}, base)
    assert with_sites == {"placement": [{"sites": 4, "category": "kindergarten"}]}
