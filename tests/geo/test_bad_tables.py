"""Tables a planner may hand over that cannot be read as they are: each ends as exit 2 with
a message naming the file, the line, row or sheet, and a fix, in English and in Chinese,
with nothing written and every input byte-identical afterwards (issue 14)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
import xlwt

from lifecircle.cli import main
from lifecircle.geo.tables import read_points, read_table
from tests.geo.osm_fixture import lonlat, write_osm

HAN = re.compile(r"[\u4e00-\u9fff]")
LON, LAT = lonlat(150, 60)
GOOD = f"name,category,lon,lat\n北邮幼儿园,kindergarten,{LON},{LAT}\n"


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)


ROWS = [["name", "category", "lon", "lat"], ["北邮幼儿园", "kindergarten", LON, LAT]]

# name: (file name, how the test writes it, the plan's sheet, (english, chinese) texts)
CASES: dict[str, tuple[str, Callable[[Path], None], str | None, tuple[str, str]]] = {
    "empty csv": (
        "poi.csv",
        lambda p: p.write_bytes(b""),
        None,
        ("poi.csv: is empty (fix: ", "poi.csv：是空文件（解决："),
    ),
    "header only": (
        "poi.csv",
        lambda p: p.write_text("name,category,lon,lat\n", encoding="utf-8"),
        None,
        ("poi.csv: has no rows (fix: ", "poi.csv：没有数据行（解决："),
    ),
    "unquoted comma in a name": (
        "poi.csv",
        lambda p: p.write_text(
            GOOD + f"北京市海淀区,学院路幼儿园,kindergarten,{LON},{LAT}\n", encoding="utf-8"
        ),
        None,
        ("poi.csv, line 3: has 5 fields where the header has 4", "poi.csv，第 3 行：有 5 个字段"),
    ),
    "csv named .xlsx": (
        "poi.xlsx",
        lambda p: p.write_text(GOOD, encoding="utf-8"),
        None,
        ("poi.xlsx: is not an Excel workbook", "poi.xlsx：不是 Excel 工作簿"),
    ),
    "missing sheet": (
        "poi.xlsx",
        lambda p: _xlsx(p, {"幼儿园": ROWS}),
        "Sheet1",
        ("poi.xlsx, sheet Sheet1: has no such sheet (its sheets: 幼儿园)", "工作表 Sheet1"),
    ),
    "two sheets with data": (
        "poi.xlsx",
        lambda p: _xlsx(p, {"幼儿园": ROWS, "小学": ROWS, "说明": []}),
        None,
        (
            "poi.xlsx: has several sheets with data: 幼儿园, 小学",
            "有多个含数据的工作表：幼儿园, 小学",
        ),
    ),
    "a folder": (
        "poi.csv",
        lambda p: p.mkdir(),
        None,
        ("poi.csv is a folder, not a file", "poi.csv 是一个文件夹，不是文件"),
    ),
    "text coordinates": (
        "poi.csv",
        lambda p: p.write_text(
            GOOD + "学院路幼儿园,kindergarten,东经116度,39.96\n", encoding="utf-8"
        ),
        None,
        ("poi.csv, row 3: coordinates missing or not numbers in lon/lat", "poi.csv，第 3 行："),
    ),
}


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_unreadable_tables_exit_2_naming_file_place_and_fix(
    case: str, lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, write, sheet, (english, chinese) = CASES[case]
    if sheet is not None:  # a plan file: the sheet has no flag
        plan = tmp_path / "plan.toml"
        plan.write_text(
            f'[inputs]\nosm = "x.osm"\n[[inputs.facilities]]\npath = "{name}"\nsheet = "{sheet}"\n',
            encoding="utf-8",
        )
        args = [str(plan)]
    else:
        args = ["--osm", str(tmp_path / "x.osm"), "--facilities", str(tmp_path / name)]
    write_osm(tmp_path / "x.osm")
    write(tmp_path / name)
    before = _snapshot(tmp_path)
    code = main(["plan", *args, "--out", str(tmp_path / "out"), "--lang", lang])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    if lang == "en":
        assert english in err, err
    else:
        assert chinese in err and HAN.search(err), err
        assert english.split(": ", 1)[-1] not in err, err
    assert _snapshot(tmp_path) == before  # nothing written, every input as it was


def test_a_legacy_xls_workbook_is_read_like_its_csv(tmp_path: Path) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("设施")
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(tmp_path / "poi.xls"))
    (tmp_path / "poi.csv").write_text(GOOD, encoding="utf-8")
    xls, csv = read_points(tmp_path / "poi.xls"), read_points(tmp_path / "poi.csv")
    assert xls.problems == [] and csv.problems == []
    assert xls.frame["name"].tolist() == ["北邮幼儿园"]
    assert xls.frame.geometry.x.iloc[0] == pytest.approx(csv.frame.geometry.x.iloc[0], abs=1e-12)
    assert xls.frame.geometry.y.iloc[0] == pytest.approx(csv.frame.geometry.y.iloc[0], abs=1e-12)


def test_several_sheets_are_read_when_listed(tmp_path: Path) -> None:
    other = [ROWS[0], ["学院路小学", "primary_school", LON, LAT]]
    _xlsx(tmp_path / "poi.xlsx", {"幼儿园": ROWS, "小学": other})
    table = read_points(tmp_path / "poi.xlsx", sheet=["幼儿园", "小学"])
    assert table.problems == []
    assert table.frame["name"].tolist() == ["北邮幼儿园", "学院路小学"]


def test_a_file_this_user_cannot_read_exits_2(tmp_path: Path) -> None:
    """Through a real process; as root (who reads everything), without the capabilities
    that let root ignore file permissions."""
    write_osm(tmp_path / "x.osm")
    poi = tmp_path / "poi.csv"
    poi.write_text(GOOD, encoding="utf-8")
    poi.chmod(0o000)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, "setpriv (util-linux) is needed to drop root's capabilities"
        caps = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]
    args = ["plan", "--osm", str(tmp_path / "x.osm"), "--facilities", str(poi)]
    args += ["--out", str(tmp_path / "out"), "--lang", "zh"]
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "lifecircle", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "poi.csv：无法读取：没有读取权限" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_a_gbk_shapefile_without_cpg_keeps_its_chinese(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    units = gpd.GeoDataFrame(
        {"名称": ["学院路街道", "海淀街道"], "人口": [15700, 26793]},
        geometry=[shapely.box(0, 0, 0.01, 0.01), shapely.box(0.01, 0, 0.02, 0.01)],
        crs="EPSG:4326",
    )
    units.to_file(tmp_path / "u.shp", encoding="gbk")
    (tmp_path / "u.cpg").unlink(missing_ok=True)
    assert "名称" not in gpd.read_file(tmp_path / "u.shp").columns  # what GDAL alone reads
    frame, info = read_table(tmp_path / "u.shp")
    assert info["encoding"] == "gb18030"
    assert frame["名称"].tolist() == ["学院路街道", "海淀街道"]
    assert frame["人口"].astype(int).tolist() == [15700, 26793]
    units.to_file(tmp_path / "utf8.shp", encoding="utf-8")
    (tmp_path / "utf8.cpg").unlink(missing_ok=True)
    frame, info = read_table(tmp_path / "utf8.shp")
    assert info["encoding"] == "utf-8" and frame["名称"].tolist() == ["学院路街道", "海淀街道"]
