"""Amap and Baidu POI exports as facility files (lifecircle.geo.poi, issue 17).

Truth is WGS-84: points laid out in metres (tests/geo/osm_fixture.py), shifted forward to
GCJ-02 and BD-09 by the published formulas written again here, separately from
lifecircle.geo.crs (checked against the coordtransform project's published pair), written
into the exports the tests make, and read back.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook
from pyproj import Geod

from lifecircle.cli import main
from lifecircle.geo.catalog import list_catalogs, load_catalog
from lifecircle.geo.crs import gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from lifecircle.geo.facilities import read_facilities
from lifecircle.geo.poi import concept_table, detect_layout, load_poi_table
from lifecircle.geo.specs import FacilityFile
from tests.geo.osm_fixture import lonlat, write_osm

GEOD = Geod(ellps="WGS84")
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "beijing-bupt" / "map.osm"


def _gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 -> GCJ-02, the published formula (Krasovsky ellipsoid), scalar."""
    if not (72.004 < lon < 137.8347 and 0.8293 < lat < 55.8271):
        return lon, lat
    a, ee, pi = 6378245.0, 0.00669342162296594323, math.pi
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    t_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y**2 + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    t_lat += common + (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    t_lat += (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    t_lon = 300.0 + x + 2.0 * y + 0.1 * x**2 + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    t_lon += common + (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    t_lon += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    magic = 1.0 - ee * math.sin(lat / 180.0 * pi) ** 2
    d_lat = t_lat * 180.0 / ((a * (1.0 - ee)) / (magic * math.sqrt(magic)) * pi)
    d_lon = t_lon * 180.0 / (a / math.sqrt(magic) * math.cos(lat / 180.0 * pi) * pi)
    return lon + d_lon, lat + d_lat


def _bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 -> BD-09: GCJ-02, then Baidu's published rotation and offset."""
    x, y = _gcj02(lon, lat)
    x_pi = math.pi * 3000.0 / 180.0
    z = math.hypot(x, y) + 0.00002 * math.sin(y * x_pi)
    theta = math.atan2(y, x) + 0.000003 * math.cos(x * x_pi)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(abs(GEOD.inv(a[0], a[1], b[0], b[1])[2]))


def test_the_forward_formulas_written_here_match_the_published_pair_and_the_package() -> None:
    # coordtransform (github.com/wandergis/coordtransform, test/app.js): 116.404, 39.915
    assert _gcj02(116.404, 39.915) == pytest.approx((116.41024449916938, 39.91640428150164))
    for x, y in [(0, 0), (150, 60), (400, -150), (-50, 350)]:
        lon, lat = lonlat(x, y)
        assert np.allclose(wgs84_to_gcj02(lon, lat), _gcj02(lon, lat), rtol=0, atol=1e-12)
        assert np.allclose(wgs84_to_bd09(lon, lat), _bd09(lon, lat), rtol=0, atol=1e-12)


def test_forward_then_inverse_returns_within_a_millimetre_and_is_identity_outside_china() -> None:
    lon = np.linspace(73.0, 135.0, 9)
    lat = np.linspace(18.0, 53.0, 9)
    glon, glat = np.meshgrid(lon, lat)
    shifted = np.array([_gcj02(a, b) for a, b in zip(glon.ravel(), glat.ravel(), strict=True)])
    back_lon, back_lat = gcj02_to_wgs84(shifted[:, 0], shifted[:, 1])
    d = GEOD.inv(back_lon, back_lat, glon.ravel(), glat.ravel())[2]
    assert np.max(np.abs(d)) < 1e-3
    # Helsinki: GCJ-02 applies no offset outside China
    assert _gcj02(24.94, 60.17) == (24.94, 60.17)
    assert np.allclose(gcj02_to_wgs84(24.94, 60.17), (24.94, 60.17), rtol=0, atol=0)


# name, type, typecode, layout position (m) -> the categories (gb50180) it should give
AMAP_ROWS = [
    ("甲幼儿园", "科教文化服务;学校;幼儿园", "141204", (150, 60), ["kindergarten"]),
    ("乙小学", "科教文化服务;学校;小学", "141203", (50, 40), ["primary_school"]),
    ("丙中学", "科教文化服务;学校;中学", "141202", (250, 40), ["middle_school"]),
    ("丁高级中学", "科教文化服务;学校;中学", "141202", (250, 80), []),  # 高中: not in gb50180
    (
        "戊九年一贯制学校",
        "科教文化服务;学校;小学|科教文化服务;学校;中学",
        "141203|141202",
        (350, 40),
        ["middle_school", "primary_school"],
    ),
    ("某大学3号教学楼", "科教文化服务;学校;学校内部设施", "141207", (320, 60), []),
    (
        "海淀社区卫生服务中心",
        "医疗保健服务;综合医院;综合医院",
        "090100",
        (100, -60),
        ["health_centre"],
    ),
    ("某医院停车场", "医疗保健服务;综合医院;综合医院", "090100", (110, -60), []),
    ("张氏诊所", "医疗保健服务;诊所;诊所", "090300", (130, -60), ["health_station"]),
    ("同仁堂药房", "医疗保健服务;医药保健销售店;药房", "090601", (150, -60), ["pharmacy"]),
    (
        "7-ELEVEn",
        "购物服务;便民商店/便利店;7-ELEVEn便利店",
        "060201",
        (170, -60),
        ["convenience_store"],
    ),
    ("家乐福", "购物服务;超级市场;家乐福", "060401", (190, -60), ["grocery"]),
    ("学院路站", "交通设施服务;公交车站;普通公交站", "150702", (210, -60), ["bus_stop"]),
    ("地下停车场", "交通设施服务;停车场;公共停车场", "150904", (230, -60), []),
    ("湘菜馆", "餐饮服务;中餐厅;湖南菜(湘菜)", "050108", (250, -60), []),  # unmapped
    ("小月河公园", "风景名胜;公园广场;公园", "110101", (270, -60), ["park"]),
    (
        "便利药店",
        "购物服务;便民商店/便利店;便民商店/便利店|医疗保健服务;医药保健销售店;药房",
        "060200|090601",
        (290, -60),
        ["convenience_store", "pharmacy"],
    ),
]


def _amap_frame(rows: list = AMAP_ROWS, shift: tuple[float, float] = (0, 0)) -> pd.DataFrame:
    out = []
    for i, (name, kind, code, (x, y), _cats) in enumerate(rows):
        glon, glat = _gcj02(*lonlat(x + shift[0], y + shift[1]))
        out.append(
            {
                "id": f"B0FF{i:06d}",
                "name": name,
                "type": kind,
                "typecode": code,
                "address": "海淀区西土城路10号",
                "location": f"{glon:.6f},{glat:.6f}",
                "pname": "北京市",
            }
        )
    return pd.DataFrame(out)


def _expected(
    rows: list = AMAP_ROWS, shift: tuple[float, float] = (0, 0)
) -> dict[str, list[tuple[str, tuple[float, float]]]]:
    got: dict[str, list[tuple[str, tuple[float, float]]]] = {}
    for name, _kind, _code, (x, y), cats in rows:
        for cat in cats:
            got.setdefault(cat, []).append((name, lonlat(x + shift[0], y + shift[1])))
    return got


def _check_facilities(frame: pd.DataFrame, expected: dict) -> None:
    """The facilities per category are the expected ones, each within 1 m of truth (the
    export's 6 decimals are 0.1 m; the inverse is exact to far better)."""
    wgs = frame.to_crs("EPSG:4326")
    assert sorted(wgs["category"].unique()) == sorted(expected)
    for cat, want in expected.items():
        mine = wgs.loc[wgs["category"] == cat]
        assert sorted(mine["name"]) == sorted(n for n, _ in want), cat
        for name, truth in want:
            pt = mine.loc[mine["name"] == name].geometry.iloc[0]
            assert _metres((pt.x, pt.y), truth) < 1.0, (cat, name)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_amap_export_reads_without_options(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"amap_poi{suffix}"
    frame = _amap_frame()
    if suffix == ".csv":
        path.write_bytes(frame.to_csv(index=False).encode("gbk"))  # Excel on Chinese Windows
    else:
        frame.to_excel(path, index=False)
    got = read_facilities(FacilityFile(path=str(path)), load_catalog("gb50180"), crs="EPSG:32650")
    assert got.problems == []
    _check_facilities(got.value, _expected())
    # a row of two categories gives a facility each, its id followed by the category
    both = got.value.loc[got.value["name"] == "便利药店", "facility_id"]
    assert sorted(both) == ["B0FF000016:convenience_store", "B0FF000016:pharmacy"]
    export, unmapped = got.notes
    assert export.text("en").startswith(f"{path.name}: read as an Amap (Gaode) POI export")
    # 1 + 2 + 2 + 1 + 1 + 2 + 2 + 1 + 1 + 1 facilities of AMAP_ROWS' 17 rows
    assert "GCJ-02" in export.text("en") and "14 facilities from 17 rows" in export.text("en")
    assert unmapped.text("en").startswith(f"{path.name}: 1 row(s) left out")
    assert "050108 餐饮服务;中餐厅;湖南菜(湘菜) (1 rows)" in unmapped.text("en")
    assert "050108" in unmapped.text("zh") and "未纳入" in unmapped.text("zh")


def test_the_audit_lists_every_code_its_rows_and_their_category(tmp_path: Path) -> None:
    path = tmp_path / "amap.csv"
    _amap_frame().to_csv(path, index=False)
    got = read_facilities(FacilityFile(path=str(path)), load_catalog("gb50180"), crs="EPSG:4326")
    audit = got.audit
    assert audit is not None
    rows = {(r.code, r.category, r.outcome): r.rows for r in audit.itertuples(index=False)}
    assert rows == {
        ("141204", "kindergarten", "mapped"): 1,
        ("141203", "primary_school", "mapped"): 2,  # 乙小学, 戊 (九年一贯制)
        ("141202", "middle_school", "mapped"): 2,  # 丙中学, 戊
        ("141203", "middle_school", "mapped"): 1,  # 戊's name: both schools
        ("141202", "primary_school", "mapped"): 1,
        ("141202", "", "ignored"): 1,  # 丁高级中学
        ("141207", "", "ignored"): 1,
        ("090100", "health_centre", "mapped"): 1,
        ("090100", "", "ignored"): 1,  # the hospital's parking lot
        ("090300", "health_station", "mapped"): 1,
        ("090601", "pharmacy", "mapped"): 2,
        ("060201", "convenience_store", "mapped"): 1,
        ("060200", "convenience_store", "mapped"): 1,
        ("060401", "grocery", "mapped"): 1,
        ("150702", "bus_stop", "mapped"): 1,
        ("150904", "", "ignored"): 1,
        ("050108", "", "unmapped"): 1,
        ("110101", "park", "mapped"): 1,
    }
    # the type is the table's name of the code where it has one, else the row's own
    types = dict(zip(audit["code"], audit["type"], strict=True))
    assert types["141204"] == "科教文化服务;学校;幼儿园"
    assert types["150702"] == "交通设施服务;公交车站;普通公交站"
    assert set(audit["file"]) == {"amap.csv"} and set(audit["export"]) == {"amap"}


def test_strict_makes_an_unmapped_code_an_error_naming_file_row_code_and_fix(
    tmp_path: Path,
) -> None:
    path = tmp_path / "amap.csv"
    _amap_frame().to_csv(path, index=False)
    spec = FacilityFile(path=str(path), strict=True)
    got = read_facilities(spec, load_catalog("gb50180"), crs="EPSG:4326")
    (problem,) = got.problems
    text = str(problem)
    assert text.startswith(f"{path}, row 16: POI codes with no category in the catalog: 050108")
    assert "category_map" in text and '"141204" = "kindergarten"' in text
    assert "050108" in problem.text("zh") and "对照文件" in problem.text("zh")
    # a category_map entry for the code settles it
    cmap = tmp_path / "map.toml"
    cmap.write_text('"050108" = "ignore"\n', encoding="utf-8")
    spec = FacilityFile(path=str(path), strict=True, category_map=str(cmap))
    assert read_facilities(spec, load_catalog("gb50180"), crs="EPSG:4326").problems == []


def test_a_strict_plan_exits_2_with_the_message(tmp_path: Path, capsys: object) -> None:
    write_osm(tmp_path / "x.osm")
    _amap_frame().to_csv(tmp_path / "amap.csv", index=False)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'catalog = "gb50180"\n[inputs]\nosm = "x.osm"\n[inputs.grid]\ncell_m = 100\n'
        '[[inputs.facilities]]\npath = "amap.csv"\nstrict = true\n',
        encoding="utf-8",
    )
    assert main(["plan", str(plan), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "row 16" in err and "050108" in err, err
    # the same from flags alone
    args = ["plan", "--osm", str(tmp_path / "x.osm"), "--facilities", str(tmp_path / "amap.csv")]
    args += ["--facilities-strict", "--grid-m", "100", "--lang", "zh"]
    assert main([*args, "--out", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "amap.csv，第 16 行" in err, err
    assert "050108" in err and "对照文件" in err, err


BAIDU_ROWS = [
    ("红果果幼儿园", "教育培训;幼儿园", (150, 60), ["kindergarten"]),
    ("北邮附小", "教育培训;小学", (50, 40), ["primary_school"]),
    ("同仁堂", "医疗;药店", (150, -60), ["pharmacy"]),
    ("好邻居", "购物;便利店", (170, -60), ["convenience_store"]),
    ("学院路社区卫生服务站", "医疗;诊所", (130, -60), ["health_station"]),
    ("小月河公园", "旅游景点;公园", (270, -60), ["park"]),
    ("中国建设银行", "金融;银行", (300, -60), ["bank"]),
    ("某某KTV", "休闲娱乐;KTV", (320, -60), []),  # unmapped
]


@pytest.mark.parametrize("columns", ["lnglat", "location"])
def test_a_baidu_export_reads_as_bd09(tmp_path: Path, columns: str) -> None:
    out = []
    for name, tag, (x, y), _cats in BAIDU_ROWS:
        blon, blat = _bd09(*lonlat(x, y))
        row = {"uid": f"bd{len(out):04d}", "name": name, "tag": tag}
        if columns == "lnglat":
            row |= {"lng": f"{blon:.6f}", "lat": f"{blat:.6f}"}
        else:
            row |= {"location": f"{blon:.6f},{blat:.6f}"}
        out.append(row)
    path = tmp_path / "baidu.csv"
    pd.DataFrame(out).to_csv(path, index=False)
    got = read_facilities(FacilityFile(path=str(path)), load_catalog("gb50180"), crs="EPSG:32650")
    assert got.problems == []
    expected: dict = {}
    for name, _tag, (x, y), cats in BAIDU_ROWS:
        for cat in cats:
            expected.setdefault(cat, []).append((name, lonlat(x, y)))
    _check_facilities(got.value, expected)
    assert "BD-09" in got.notes[0].text("en") and "百度" in got.notes[0].text("zh")
    assert got.audit is not None
    left = got.audit.loc[got.audit["outcome"] == "unmapped", ["code", "rows"]]
    assert left.values.tolist() == [["休闲娱乐;KTV", 1]]


def test_layouts_are_told_apart_by_their_columns() -> None:
    amap = detect_layout(_amap_frame())
    assert amap is not None and (amap.export, amap.crs) == ("amap", "gcj02")
    names_only = detect_layout(_amap_frame().drop(columns="typecode"))
    assert names_only is not None and names_only.code_col is None
    baidu = detect_layout(pd.DataFrame({"name": ["x"], "tag": ["教育培训;幼儿园"], "lng": [1]}))
    assert baidu is not None and (baidu.export, baidu.crs) == ("baidu", "bd09")
    plain = pd.DataFrame({"name": ["x"], "category": ["kindergarten"], "type": ["幼儿园"]})
    assert detect_layout(plain) is None


def test_an_amap_export_with_type_names_only_maps_them_to_their_codes(tmp_path: Path) -> None:
    path = tmp_path / "amap.csv"
    _amap_frame().drop(columns="typecode").to_csv(path, index=False)
    got = read_facilities(FacilityFile(path=str(path)), load_catalog("gb50180"), crs="EPSG:4326")
    cats = got.value["category"].tolist()
    # names in the bundled table map (幼儿园, 小学, 中学, 综合医院, 诊所, 药房, 便利店, 公园...);
    # 家乐福, 普通公交站 and 公共停车场 are not in the table by name: left out with a warning
    assert cats.count("kindergarten") == 1 and cats.count("pharmacy") == 2
    assert "grocery" not in cats and "bus_stop" not in cats


def test_every_bundled_table_targets_real_categories_and_cites_its_source() -> None:
    for export in ("amap", "baidu"):
        table = load_poi_table(export)
        assert table.title and table.version
        for name in {e.names for e in table.entries.values() if e.names}:
            assert name in table.rules
    amap = load_poi_table("amap")
    assert all(len(code) == 6 and code.isdigit() for code in amap.entries)
    raw = tomllib.loads(
        (resources.files("lifecircle.data") / "poi_categories.toml").read_text(encoding="utf-8")
    )
    concepts = {e.concept for t in ("amap", "baidu") for e in load_poi_table(t).entries.values()}
    concepts |= {
        c for t in ("amap",) for r in load_poi_table(t).rules.values() for _, to in r for c in to
    }
    for name in list_catalogs():
        catalog = load_catalog(name)
        table = concept_table(catalog)
        assert all(v == "ignore" or v in catalog for v in table.values()), name
        own = {k for k in raw.get(name, {}) if k != "extends"}
        assert own <= concepts, (name, own - concepts)
        assert table.get("kindergarten") in {"kindergarten", "childcare"}, name


def _plan(tmp_path: Path, osm: Path, formats: str = '["csv", "xlsx"]') -> Path:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'catalog = "gb50180"\n[inputs]\nosm = "{osm}"\nosm_facilities = false\n'
        "[inputs.grid]\ncell_m = 100\n"
        '[[inputs.facilities]]\npath = "amap.csv"\n'
        f'[analysis]\ncatchments = false\n[outputs]\nlang = "zh"\nformats = {formats}\n',
        encoding="utf-8",
    )
    return plan


def _check_outputs(out: Path, expected: dict) -> None:
    """report.xlsx's audit sheet and poi_audit.csv, and the facilities per category in the
    coverage summary."""
    wb = load_workbook(out / "report.xlsx", read_only=True)
    assert "POI 编码核对" in wb.sheetnames
    sheet = list(wb["POI 编码核对"].iter_rows(values_only=True))
    assert sheet[0] == ("文件", "来源", "编码或标签", "类型", "行数", "类别", "类别名称", "结果")
    body = {(r[2], r[5], r[7]): r[4] for r in sheet[1:]}
    assert body[("141204", "kindergarten", "已纳入")] == 1
    assert body[("050108", "未纳入", "未纳入：无对应类别")] == 1
    assert body[("150904", "未纳入", "未纳入：不属于本目录规划的服务")] == 1
    assert all(r[1] == "高德" for r in sheet[1:])
    csv = pd.read_csv(out / "poi_audit.csv", dtype=str, encoding="utf-8-sig")
    assert len(csv) == len(sheet) - 1 and "编码或标签" in csv.columns
    summary = list(wb["概况"].iter_rows(values_only=True))
    counts = {r[0]: r[5] for r in summary[1:] if r and isinstance(r[5], int)}
    for cat in load_catalog("gb50180").ids:
        assert counts[cat] == len(expected.get(cat, [])), cat
    facilities = pyogrio.read_dataframe(out / "results.gpkg", layer="facilities")
    assert set(facilities["source"]) == {"amap.csv"}
    _check_facilities(facilities, expected)


def test_a_plan_with_an_amap_file_writes_the_audit_sheet_and_csv(tmp_path: Path) -> None:
    write_osm(tmp_path / "x.osm")
    _amap_frame().to_csv(tmp_path / "amap.csv", index=False)
    plan = _plan(tmp_path, tmp_path / "x.osm", '["csv", "xlsx", "gpkg"]')
    assert main(["plan", str(plan), "--out", str(tmp_path / "out")]) == 0
    _check_outputs(tmp_path / "out", _expected())


@pytest.mark.skipif(
    not SHARED.is_file(), reason="../shared/data/beijing-bupt is not beside this clone"
)
def test_an_amap_file_on_the_bupt_extract_end_to_end(tmp_path: Path) -> None:
    """The real Beijing extract: the facilities of an Amap file land per category in the
    outputs, at their WGS-84 places."""
    shift = (350.0, 300.0)  # into the extract's bounds (116.3489-116.3552 E, 39.9567-39.9638 N)
    _amap_frame(shift=shift).to_csv(tmp_path / "amap.csv", index=False)
    plan = _plan(tmp_path, SHARED, '["csv", "xlsx", "gpkg"]')
    assert main(["plan", str(plan), "--out", str(tmp_path / "out")]) == 0
    _check_outputs(tmp_path / "out", _expected(shift=shift))


def test_a_file_with_its_own_category_column_is_not_taken_for_an_export(tmp_path: Path) -> None:
    """A planner's list that happens to carry a Baidu-like tag keeps its own categories."""
    lon, lat = lonlat(150, 60)
    path = tmp_path / "mine.csv"
    path.write_text(
        f"name,类别,tag,lon,lat\n甲,幼儿园,教育培训;小学,{lon:.8f},{lat:.8f}\n", encoding="utf-8"
    )
    got = read_facilities(FacilityFile(path=str(path)), load_catalog("gb50180"), crs="EPSG:4326")
    assert got.audit is None and got.value["category"].tolist() == ["kindergarten"]
    pt = got.value.geometry.iloc[0]
    assert _metres((pt.x, pt.y), (lon, lat)) < 0.01  # WGS-84, not taken as BD-09
