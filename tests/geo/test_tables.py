"""Users' tables: encodings, Chinese headers, column detection, problems with rows and fixes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifecircle.errors import InputError
from lifecircle.geo.crs import wgs84_to_gcj02
from lifecircle.geo.tables import read_points, read_table

ROWS = [
    ("北邮幼儿园", "幼儿园", 116.3540, 39.9615),
    ("同仁堂", "药店", 116.3560, 39.9620),
    ("物美", "超市", 116.3502, 39.9601),
]


def write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    text = "名称,类别,经度,纬度\n" + "\n".join(f"{n},{c},{x},{y}" for n, c, x, y in ROWS)
    f = write(tmp_path / "poi.csv", text, encoding)
    frame, info = read_table(f)
    assert list(frame.columns) == ["名称", "类别", "经度", "纬度"]
    assert frame["名称"].tolist() == [r[0] for r in ROWS]
    assert info["encoding"] == ("gb18030" if encoding.startswith("gb") else "utf-8")


def test_a_wrong_declared_encoding_names_the_fix(tmp_path: Path) -> None:
    f = write(tmp_path / "poi.csv", "名称,经度,纬度\n幼儿园,116.35,39.96\n", "gbk")
    with pytest.raises(InputError) as err:
        read_table(f, encoding="utf-8")
    assert "poi.csv" in str(err.value) and "--encoding" in str(err.value)


def test_gcj02_points_in_a_gbk_csv_land_where_they_belong(tmp_path: Path) -> None:
    lon = np.array([r[2] for r in ROWS])
    lat = np.array([r[3] for r in ROWS])
    glon, glat = wgs84_to_gcj02(lon, lat)
    text = "名称\t类别\t经度\t纬度\n" + "\n".join(
        f"{r[0]}\t{r[1]}\t{x:.9f}\t{y:.9f}" for r, x, y in zip(ROWS, glon, glat, strict=True)
    )
    f = write(tmp_path / "poi.tsv", text, "gbk")
    table = read_points(f, crs="gcj02")
    assert table.problems == []
    got = table.frame.to_crs("EPSG:32650").geometry
    want = pd.Series([None] * 3)
    import geopandas as gpd
    import shapely

    want = gpd.GeoSeries(shapely.points(lon, lat), crs="EPSG:4326").to_crs("EPSG:32650")
    assert (got.distance(want, align=False) < 0.5).all()
    # without the declaration the points would be hundreds of metres off
    raw = read_points(f).frame.to_crs("EPSG:32650").geometry
    assert (raw.distance(want, align=False) > 100).all()


def test_combined_location_column_and_excel(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": ["a", "b"], "location": ["116.35,39.96", "116.36, 39.97"]})
    f = tmp_path / "poi.xlsx"
    frame.to_excel(f, index=False)
    table = read_points(f)
    assert table.problems == []
    assert table.frame.geometry.x.round(2).tolist() == [116.35, 116.36]


def test_every_coordinate_problem_has_rows_and_a_fix(tmp_path: Path) -> None:
    text = (
        "name,lon,lat\nok,116.35,39.96\nbad,abc,39.96\nswapped,39.97,116.35\n"
        "empty,,\nfar,116.36,95.5\n"
    )
    f = write(tmp_path / "poi.csv", text, "utf-8")
    table = read_points(f)
    messages = [str(p) for p in table.problems]
    assert any("not numbers" in m and "rows 3, 5" in m for m in messages), messages
    assert any("out of range" in m and "row 4" in m and "swapped" in m for m in messages), messages
    assert any("out of range" in m and "row 6" in m for m in messages), messages


def test_projected_metres_declared_as_degrees_are_caught(tmp_path: Path) -> None:
    f = write(tmp_path / "poi.csv", "x,y\n444000,4423000\n", "utf-8")
    messages = [str(p) for p in read_points(f).problems]
    assert any("projected metres" in m and "EPSG" in m for m in messages)
    table = read_points(f, crs="EPSG:32650")
    assert table.problems == [] and 116.3 < table.frame.geometry.x.iloc[0] < 116.4


def test_missing_coordinate_columns_list_the_columns(tmp_path: Path) -> None:
    f = write(tmp_path / "poi.csv", "名称,地址\n幼儿园,海淀区\n", "utf-8")
    messages = [str(p) for p in read_points(f).problems]
    assert any("no coordinate columns" in m and "名称, 地址" in m for m in messages)
    with pytest.raises(InputError, match="no column named 'lng'"):
        read_points(f, lon_col="lng", lat_col="lat")
