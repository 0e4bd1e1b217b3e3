"""Facility files (lifecircle.geo.facilities): rows entered twice (issue 14)."""

from __future__ import annotations

from pathlib import Path

from lifecircle.cli import main
from lifecircle.geo.catalog import load_catalog
from lifecircle.geo.facilities import read_category_map, read_facilities
from lifecircle.geo.specs import FacilityFile
from tests.geo.osm_fixture import lonlat, write_osm


def _rows(*rows: tuple[str, str, float, float]) -> str:
    lines = ["name,category,lon,lat"]
    for name, cat, x, y in rows:
        lon, lat = lonlat(x, y)
        lines.append(f"{name},{cat},{lon:.8f},{lat:.8f}")
    return "\n".join(lines) + "\n"


DUPLICATES = _rows(
    ("甲幼儿园", "kindergarten", 150.0, 60.0),  # row 2
    ("甲幼儿园", "kindergarten", 150.3, 60.2),  # row 3: 0.36 m from row 2, dropped
    ("乙幼儿园", "kindergarten", 150.0, 63.0),  # row 4: 3 m away, kept
    ("药房", "pharmacy", 150.0, 60.0),  # row 5: same place, other category, kept
    ("甲幼儿园", "kindergarten", 150.0, 60.5),  # row 6: 0.5 m from row 2, dropped
)


def test_rows_of_one_category_within_a_metre_count_once_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "poi.csv"
    path.write_text(DUPLICATES, encoding="utf-8")
    got = read_facilities(FacilityFile(path=str(path)), load_catalog("gb50180"), crs="EPSG:4326")
    assert got.problems == []
    assert sorted(got.value["facility_id"]) == ["poi:2", "poi:4", "poi:5"]
    assert list(got.value["category"]).count("kindergarten") == 2
    (note,) = got.notes
    assert note.text("en") == (
        "poi.csv: 2 rows repeat an earlier row (same category, within 1 m) and were "
        "counted once (row = the row it repeats): 3 = 2, 6 = 2"
    )
    assert "3 = 2, 6 = 2" in note.text("zh") and "重复" in note.text("zh")


def test_distinct_rows_give_no_note(tmp_path: Path) -> None:
    path = tmp_path / "poi.csv"
    path.write_text(_rows(("a", "kindergarten", 0, 0), ("b", "kindergarten", 1.5, 0)))
    got = read_facilities(FacilityFile(path=str(path)), load_catalog("gb50180"), crs="EPSG:4326")
    assert len(got.value) == 2 and got.notes == []


def test_the_note_is_printed_by_a_run(tmp_path: Path, capsys: object) -> None:
    write_osm(tmp_path / "x.osm")
    (tmp_path / "poi.csv").write_text(DUPLICATES, encoding="utf-8")
    args = ["plan", "--osm", str(tmp_path / "x.osm"), "--facilities", str(tmp_path / "poi.csv")]
    args += ["--grid-m", "100", "--format", "csv", "--offline", "--no-catchments"]
    assert main([*args, "--out", str(tmp_path / "out"), "--lang", "zh"]) == 0
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "poi.csv：2 行与前面的行重复" in err, err


def test_a_category_map_saved_as_gbk_is_read(tmp_path: Path) -> None:
    toml, table = tmp_path / "map.toml", tmp_path / "map.csv"
    toml.write_bytes('"民办幼儿园" = "kindergarten"\n"餐饮服务" = "ignore"\n'.encode("gbk"))
    table.write_bytes("标签,类别\n民办幼儿园,kindergarten\n社区药房,pharmacy\n".encode("gbk"))
    assert read_category_map(toml) == {"民办幼儿园": "kindergarten", "餐饮服务": "ignore"}
    assert read_category_map(table) == {"民办幼儿园": "kindergarten", "社区药房": "pharmacy"}
    poi = tmp_path / "poi.csv"
    poi.write_text(_rows(("甲", "民办幼儿园", 0, 0), ("乙", "餐饮服务", 50, 0)), encoding="utf-8")
    spec = FacilityFile(path=str(poi), category_map=str(toml))
    got = read_facilities(spec, load_catalog("gb50180"), crs="EPSG:4326")
    assert got.problems == [] and list(got.value["category"]) == ["kindergarten"]


def test_empty_category_cells_name_their_rows(tmp_path: Path) -> None:
    poi = tmp_path / "poi.csv"
    poi.write_text(_rows(("甲", "", 0, 0), ("乙", "幼儿园", 50, 0), ("丙", " ", 90, 0)))
    got = read_facilities(FacilityFile(path=str(poi)), load_catalog("gb50180"), crs="EPSG:4326")
    (problem,) = got.problems
    assert str(problem).startswith(f"{poi}, rows 2, 4: empty category in column category")
    assert list(got.value["facility_id"]) == ["poi:3"]
