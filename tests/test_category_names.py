"""A category's Chinese or English name is taken wherever its id is (issue 14):
``--site-category``, ``--map-category``, ``--facilities-category``, ``[[placement]]
category``, through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecircle.cli import main
from tests.geo.osm_fixture import lonlat, write_osm


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def _run(tmp_path: Path, name: str, category: str, site: str, *extra: str) -> int:
    lon, lat = lonlat(150, 60)
    (tmp_path / "kg.csv").write_text(f"name,lon,lat\n北邮幼儿园,{lon},{lat}\n", encoding="utf-8")
    args = ["plan", "--osm", str(tmp_path / "x.osm"), "--facilities", str(tmp_path / "kg.csv")]
    args += ["--facilities-category", category, "--sites", "1", "--site-category", site]
    args += ["--map-category", site, "--grid-m", "100", "--format", "csv", "--offline"]
    args += ["--no-catchments", "--out", str(tmp_path / name), *extra]
    return main(args)


def test_names_give_the_same_outputs_as_the_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_osm(tmp_path / "x.osm")
    assert _run(tmp_path, "by_id", "kindergarten", "elderly_day_care") == 0
    assert _run(tmp_path, "by_zh", "幼儿园", "老年人日间照料中心") == 0
    assert _run(tmp_path, "by_en", "Kindergarten", "Elderly day care") == 0
    by_id = _outputs(tmp_path / "by_id")
    assert b"\nelderly_day_care,1," in by_id["sites.csv"], by_id["sites.csv"]
    assert "1 OSM facilities of Kindergarten were replaced" in capsys.readouterr().err
    assert _outputs(tmp_path / "by_zh") == by_id
    assert _outputs(tmp_path / "by_en") == by_id


def test_an_unknown_name_is_still_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_osm(tmp_path / "x.osm")
    assert _run(tmp_path, "out", "kindergarten", "太空站") == 2
    err = capsys.readouterr().err
    assert "太空站" in err and "kindergarten" in err, err
    assert _run(tmp_path, "out", "太空站", "kindergarten") == 2
    err = capsys.readouterr().err
    assert "太空站" in err and "kindergarten" in err, err


def test_a_plan_files_placement_takes_a_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_osm(tmp_path / "x.osm")
    runs = {}
    for category in ("elderly_day_care", "老年人日间照料中心"):
        plan = tmp_path / "plan.toml"
        plan.write_text(
            '[inputs]\nosm = "x.osm"\ngrid = { cell_m = 100 }\n'
            f'[[placement]]\ncategory = "{category}"\nsites = 1\n'
            f'[outputs]\nformats = ["csv"]\noffline = true\nmap_category = "{category}"\n'
            "[analysis]\ncatchments = false\n",
            encoding="utf-8",
        )
        out = tmp_path / f"out-{len(runs)}"
        assert main(["plan", str(plan), "--out", str(out)]) == 0, capsys.readouterr().err
        runs[category] = _outputs(out)
    assert runs["老年人日间照料中心"] == runs["elderly_day_care"]
    assert b"\nelderly_day_care,1," in runs["elderly_day_care"]["sites.csv"]
