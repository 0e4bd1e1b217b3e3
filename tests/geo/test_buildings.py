"""The planner's buildings (floors, use, households) and building=yes that are not homes.

Every expected number is worked out by hand from the fixture's layout (tests/geo/osm_fixture):
a footprint of w x h metres with f floors holds w x h x f / 33 residents (33 m2 of floor area
per person), and a household is 2.31 persons (Beijing, 2020 census).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from lifecircle.cli import main
from lifecircle.geo.build import StudyInputs, build_study_area
from lifecircle.geo.buildings import largest_default_buildings, use_mapping
from lifecircle.geo.specs import BuildingsFile, CompoundsFile, ResidentModel, UnitsFile
from tests.conftest import SHARED_DATA
from tests.geo import osm_fixture as fx
from tests.geo.test_inputs import units_geojson

APARTMENTS = 40 * 20 * 6 / 33.0  # way 200: 40 x 20 m, building:levels 6 (outside the file)
F1 = 30 * 30 * 10 / 33.0  # the file's 住宅: 30 x 30 m, 层数 10 (where OSM's way 201 is)


def ring(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return [list(fx.lonlat(x, y)) for x, y in pts]


ROWS = [
    # (box in metres, properties)
    ((100, 20, 130, 50), {"名称": "1号住宅楼", "层数": "10", "用途": "住宅"}),
    ((160, 20, 180, 40), {"名称": "办公楼", "层数": "5", "用途": "办公"}),
    ((140, -60, 160, -40), {"名称": "库房", "层数": "3", "用途": "仓房"}),  # unknown use
]


def write_geojson(path: Path, rows: list[tuple[tuple, dict]] = ROWS) -> Path:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Polygon", "coordinates": [ring(*box)]},
            }
            for box, props in rows
        ],
    }
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def write_buildings(path: Path, rows: list[tuple[tuple, dict]] = ROWS) -> Path:
    """The rows as GeoJSON, GeoPackage or a CSV with a WKT column, by ``path``'s suffix."""
    if path.suffix == ".geojson":
        return write_geojson(path, rows)
    polys = [shapely.Polygon(ring(*box)) for box, _ in rows]
    props = pd.DataFrame([p for _, p in rows])
    if path.suffix == ".gpkg":
        gpd.GeoDataFrame(props, geometry=polys, crs="EPSG:4326").to_file(path)
    else:
        props.assign(geometry=[p.wkt for p in polys]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def osm_xml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fx.write_osm(tmp_path_factory.mktemp("osm") / "xueyuan.osm")


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".csv"])
def test_buildings_file_floors_give_residents_as_by_hand(
    osm_xml: Path, tmp_path: Path, suffix: str
) -> None:
    path = write_buildings(tmp_path / f"buildings{suffix}")
    area = build_study_area(
        StudyInputs(osm=str(osm_xml), grid_m=100, buildings=BuildingsFile(path=str(path)))
    )
    d = area.demand
    # OSM's building=yes (way 201) lies inside the file's hull and is replaced by 1号住宅楼;
    # the apartments (way 200) lie outside it and stay; 办公 and 仓房 (unknown) are not homes
    assert len(d) == 2
    mine = d.loc[d["floors_from"] == "buildings file"]
    assert mine["name"].tolist() == ["1号住宅楼"]
    assert mine["residents"].iloc[0] == pytest.approx(
        F1, rel=1e-3
    )  # OSM footprints at osmium's 1e-7 degrees (about 1 cm)
    assert d["residents"].sum() == pytest.approx(
        F1 + APARTMENTS, rel=1e-3
    )  # OSM footprints at osmium's 1e-7 degrees (about 1 cm)
    notes = {n.key: n for n in area.notes}
    assert "inside the file's extent" in notes["note_buildings_file"].text("en")
    assert "replace OSM's 1 buildings" in notes["note_buildings_file"].text("en")
    unknown = notes["note_unknown_building_uses"]
    assert "仓房 x1" in unknown.text("en") and "not residential" in unknown.text("en")
    assert "非住宅" in unknown.text("zh")
    assert {"role": "buildings", "path": str(path)} in area.sources


def test_buildings_file_residents_scaled_to_unit_totals(osm_xml: Path, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "buildings.geojson")
    units = units_geojson(tmp_path / "社区.geojson")
    area = build_study_area(
        StudyInputs(
            osm=str(osm_xml),
            units=UnitsFile(path=str(units)),
            buildings=BuildingsFile(path=str(path)),
        )
    )
    d = area.demand.loc[area.demand["unit_id"] == "A"]
    # both homes are in unit A (1,000 residents): shared by floor area 9,000 : 4,800 m2
    by_floors = d.set_index("floors_from")["residents"]
    assert by_floors["buildings file"] == pytest.approx(
        1000 * 9000 / 13800, rel=1e-3
    )  # OSM footprints at osmium's 1e-7 degrees (about 1 cm)
    assert by_floors["building:levels"] == pytest.approx(
        1000 * 4800 / 13800, rel=1e-3
    )  # OSM footprints at osmium's 1e-7 degrees (about 1 cm)


def test_use_mapping_words_and_a_plan_file_on_top(tmp_path: Path) -> None:
    bundled = use_mapping()
    res, unknown = bundled.classify(pd.Series(["住宅", "宿舍", "商住楼", "公寓", "别墅", "办公"]))
    assert res.tolist() == [True, True, True, True, True, False]
    assert not unknown.any()
    res, unknown = bundled.classify(pd.Series(["商业办公楼", "教育", "医疗", "工业厂房", "仓房"]))
    assert res.tolist() == [False] * 5 and unknown.tolist() == [False] * 4 + [True]
    own = tmp_path / "uses.toml"
    own.write_text(
        'unknown = "residential"\nresidential = ["仓房"]\nnot_residential = ["公寓"]\n',
        encoding="utf-8",
    )
    mine = use_mapping(str(own))
    res, unknown = mine.classify(pd.Series(["仓房", "公寓", "车棚", "住宅"]))
    assert res.tolist() == [True, False, True, True]  # 车棚: unknown, taken as the file says
    assert unknown.tolist() == [False, False, True, False]


def test_households_in_buildings_and_compounds(osm_xml: Path, tmp_path: Path) -> None:
    rows = [((100, 20, 130, 50), {"层数": "10", "用途": "住宅", "户数": "100"})]
    path = write_geojson(tmp_path / "buildings.geojson", rows)
    area = build_study_area(
        StudyInputs(osm=str(osm_xml), grid_m=100, buildings=BuildingsFile(path=str(path)))
    )
    mine = area.demand.loc[area.demand["floors_from"] == "buildings file"]
    assert mine["residents"].tolist() == pytest.approx([100 * 2.31])  # not 30 x 30 x 10 / 33
    model = ResidentModel(persons_per_household=3.0)
    area = build_study_area(
        StudyInputs(
            osm=str(osm_xml),
            grid_m=100,
            buildings=BuildingsFile(path=str(path)),
            resident_model=model,
        )
    )
    mine = area.demand.loc[area.demand["floors_from"] == "buildings file"]
    assert mine["residents"].tolist() == pytest.approx([300.0])
    # a compound of 50 households around OSM's building=yes (way 201) on residential land
    compounds = write_geojson(
        tmp_path / "compounds.geojson", [((90, 10, 180, 100), {"小区名称": "明光小区", "户数": 50})]
    )
    area = build_study_area(
        StudyInputs(osm=str(osm_xml), grid_m=100, compounds_file=CompoundsFile(path=str(compounds)))
    )
    d = area.demand
    assert d.loc[d["use_rule"] == "households", "residents"].tolist() == pytest.approx([115.5])
    assert d["residents"].sum() == pytest.approx(
        50 * 2.31 + APARTMENTS, rel=1e-3
    )  # OSM footprints at osmium's 1e-7 degrees (about 1 cm)
    # to 0.1 resident: the OSM footprint's corners are at osmium's 1e-7 degrees (about 1 cm)
    assert sorted(d["residents"]) == pytest.approx(sorted([50 * 2.31, APARTMENTS]), abs=0.1)


def test_default_rule_office_named_so_gets_no_residents(osm_xml: Path, tmp_path: Path) -> None:
    osm = fx.write_osm(
        tmp_path / "768.osm",
        polygons={
            # building=yes only, but named as an office park: not a home
            400: (320, 100, 380, 140, {"building": "yes", "name": "中关村768创意产业园A座"}),
            # building=yes, nameless, outside any land use: a home by the default rule
            401: (20, -60, 50, -30, {"building": "yes"}),
            # nameless building=yes inside a compound named 产业园: not a home
            402: (200, -140, 240, -110, {"building": "yes"}),
        },
    )
    compounds = write_geojson(
        tmp_path / "compounds.geojson", [((190, -150, 260, -100), {"名称": "768创意产业园"})]
    )
    area = build_study_area(
        StudyInputs(osm=str(osm), grid_m=100, compounds_file=CompoundsFile(path=str(compounds)))
    )
    d = area.demand
    default = d.loc[d["use_rule"] == "default"]
    assert default["residents"].tolist() == pytest.approx(
        [30 * 30 * 6 / 33.0], rel=1e-3
    )  # OSM footprints at osmium's 1e-7 degrees (about 1 cm)
    assert d["residents"].sum() == pytest.approx(
        APARTMENTS + fx.GENERIC_RESIDENTS + 30 * 30 * 6 / 33.0, rel=1e-3
    )
    notes = {n.key: n for n in area.notes}
    assert notes["note_named_not_homes"].values["n"] == 2
    assert "中关村768创意产业园A座" in notes["note_named_not_homes"].text("zh")
    assert "1 buildings are homes only because" in notes["note_default_buildings"].text("en")
    # the sheet of the largest default-rule buildings: the one nameless building=yes
    top = largest_default_buildings(d)
    assert top["floor_area_m2"].tolist() == pytest.approx([30 * 30 * 6], rel=1e-3)
    assert top["building_id"].tolist() == [401]
    lon, lat = fx.lonlat(35, -45)  # the rectangle's representative point is its centre
    assert top["lon"].iloc[0] == pytest.approx(lon, abs=1e-5)
    assert top["lat"].iloc[0] == pytest.approx(lat, abs=1e-5)


def test_default_rule_sheet_and_csv_in_the_report(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    osm = fx.write_osm(
        tmp_path / "x.osm",
        polygons={
            401: (20, -60, 50, -30, {"building": "yes"}),
            403: (60, -120, 120, -80, {"building": "yes", "name": "明光村8号楼"}),
        },
    )
    out = tmp_path / "out"
    args = ["plan", "--osm", str(osm), "--out", str(out), "-q", "--format", "csv"]
    assert main([*args, "--format", "xlsx", "--lang", "zh"]) == 0
    rows = pd.read_csv(out / "default_buildings.csv", encoding="utf-8-sig")
    # largest floor area first: 60 x 40 x 6 = 14,400 m2, then 30 x 30 x 6 = 5,400 m2
    assert rows["建筑面积_平方米"].tolist() == pytest.approx([14400.0, 5400.0], rel=1e-3)
    assert rows["名称"].iloc[0] == "明光村8号楼"
    wb = load_workbook(out / "report.xlsx")
    ws = wb["默认规则建筑"]
    values = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert [v[0] for v in values] == [403, 401]
    assert [v[6] for v in values] == pytest.approx([14400.0, 5400.0], rel=1e-3)


BAD = {
    "no floors column": (
        [((100, 20, 130, 50), {"用途": "住宅"})],
        ["no floors column found", "层数", "floors_col"],
        ["找不到层数列", "floors_col"],
    ),
    "negative floors": (
        [
            ((100, 20, 130, 50), {"层数": "6", "用途": "住宅"}),
            ((160, 20, 180, 40), {"层数": "-3", "用途": "住宅"}),
        ],
        ["row 3", "negative floors in column '层数'", "(fix: "],
        ["第 3 行", "“层数”列中的层数为负数"],
    ),
    "households not a number": (
        [((100, 20, 130, 50), {"层数": "6", "户数": "约一百"})],
        ["row 2", "households is not a number in column '户数'", "(fix: write the number"],
        ["第 2 行", "“户数”列中的户数不是数字"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_buildings_files_exit_2_with_file_row_and_fix(
    case: str, tmp_path: Path, capsys
) -> None:
    rows, en, zh = BAD[case]
    fx.write_osm(tmp_path / "x.osm")
    path = write_geojson(tmp_path / "楼栋.geojson", rows)
    plan = tmp_path / "plan.toml"
    for lang, expected in (("en", en), ("zh", zh)):
        plan.write_text(
            f'[inputs]\nosm = "x.osm"\n[inputs.buildings]\npath = "楼栋.geojson"\n'
            f'[outputs]\nlang = "{lang}"\n',
            encoding="utf-8",
        )
        code = main(["plan", str(plan), "--out", str(tmp_path / "out"), "-q"])
        err = capsys.readouterr().err
        assert code == 2, err
        assert str(path) in err and "Traceback" not in err
        for text in expected:
            assert text in err, err
    assert not (tmp_path / "out").exists()


BUPT = SHARED_DATA / "beijing-bupt" / "map.osm"


@pytest.mark.skipif(not BUPT.exists(), reason="../shared/data/beijing-bupt is absent")
def test_beijing_bupt_plan_with_a_buildings_file_end_to_end(tmp_path: Path) -> None:
    from lifecircle.geo.osm import load_osm

    layers = load_osm(BUPT)
    b = layers.buildings
    kind = b["building"].astype(str)
    # the OSM buildings re-written by a surveyor: 层数 (every tenth one left empty, so the
    # default 6 applies) and 用途 from the OSM tag
    uses = np.where(kind.isin(["apartments", "residential", "dormitory"]), "住宅", "其他")
    uses = np.where(kind.isin(["university", "school", "college"]), "教育", uses)
    floors = np.array([str(4 + i % 12) if i % 10 else "" for i in range(len(b))], dtype=object)
    frame = gpd.GeoDataFrame(
        {"层数": floors, "用途": uses}, geometry=b.geometry.to_numpy(), crs=b.crs
    )
    frame.to_file(tmp_path / "buildings.gpkg")
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'[inputs]\nosm = "{BUPT}"\n[inputs.buildings]\npath = "buildings.gpkg"\n'
        '[inputs.grid]\ncell_m = 250\n[outputs]\nformats = ["csv"]\n',
        encoding="utf-8",
    )
    assert main(["plan", str(plan), "--out", str(tmp_path / "out"), "-q"]) == 0
    access = pd.read_csv(tmp_path / "out" / "access.csv", encoding="utf-8-sig")
    homes = frame.loc[frame["用途"] == "住宅"].to_crs("EPSG:32650")
    f = pd.to_numeric(homes["层数"], errors="coerce").fillna(6.0).to_numpy()
    expected = float((homes.geometry.area.to_numpy() * f / 33.0).sum())
    # every home of the file is inside the study's grid over the extract (to 0.1 resident
    # per point, as access.csv rounds)
    assert access["residents"].sum() == pytest.approx(expected, rel=0.01)
    unknown = (frame["用途"] == "其他").sum()
    assert unknown > 0


def test_the_smallest_named_area_decides(tmp_path: Path) -> None:
    """Staff housing (a compound 明光小区) inside a science park stays homes; a building=yes
    elsewhere in the park is not one."""
    osm = fx.write_osm(
        tmp_path / "park.osm",
        polygons={
            405: (210, -140, 240, -110, {"building": "yes"}),  # in 明光小区, in the park
            406: (320, -140, 350, -110, {"building": "yes"}),  # in the park only
        },
    )
    compounds = write_geojson(
        tmp_path / "compounds.geojson",
        [
            ((190, -150, 400, -100), {"名称": "中关村科技园区"}),
            ((200, -145, 250, -105), {"名称": "明光小区"}),
        ],
    )
    area = build_study_area(
        StudyInputs(osm=str(osm), grid_m=100, compounds_file=CompoundsFile(path=str(compounds)))
    )
    default = area.demand.loc[area.demand["use_rule"] == "default"]
    assert default["building_id"].tolist() == [405]
    assert default["residents"].tolist() == pytest.approx(
        [30 * 30 * 6 / 33.0], rel=1e-3
    )  # OSM footprints at osmium's 1e-7 degrees (about 1 cm)


def test_buildings_flag_and_a_missing_uses_file(tmp_path: Path, capsys) -> None:
    osm = fx.write_osm(tmp_path / "x.osm")
    path = write_geojson(tmp_path / "buildings.geojson")
    out = tmp_path / "out"
    args = ["plan", "--osm", str(osm), "--buildings", str(path), "--out", str(out), "-q"]
    assert main([*args, "--format", "csv"]) == 0
    access = pd.read_csv(out / "access.csv", encoding="utf-8-sig")
    assert access["residents"].sum() == pytest.approx(F1 + APARTMENTS, abs=0.2)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[inputs]\nosm = "x.osm"\n[inputs.buildings]\npath = "buildings.geojson"\n'
        'uses = "用途对照.toml"\n',
        encoding="utf-8",
    )
    code = main(["plan", str(plan), "--out", str(tmp_path / "out2"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "key inputs.buildings.uses" in err and "用途对照.toml" in err


def test_footprints_drawn_on_amap_in_gcj02(osm_xml: Path, tmp_path: Path) -> None:
    """A CSV of WKT footprints in GCJ-02 (Amap's coordinates) lands where OSM's building
    is: the residents are the same as for the WGS84 file."""
    from lifecircle.geo.crs import wgs84_to_gcj02

    def shifted(box: tuple) -> str:
        pts = np.array(ring(*box))
        lon, lat = wgs84_to_gcj02(pts[:, 0], pts[:, 1])
        return shapely.Polygon(np.column_stack([lon, lat])).wkt

    frame = pd.DataFrame([p for _, p in ROWS]).assign(WKT=[shifted(b) for b, _ in ROWS])
    frame.to_csv(tmp_path / "amap.csv", index=False)
    spec = BuildingsFile(path=str(tmp_path / "amap.csv"), crs="gcj02")
    area = build_study_area(StudyInputs(osm=str(osm_xml), grid_m=100, buildings=spec))
    mine = area.demand.loc[area.demand["floors_from"] == "buildings file"]
    assert mine["residents"].tolist() == pytest.approx([F1], rel=1e-4)
    x, y = fx.metric(115, 35)
    assert mine.geometry.iloc[0].distance(shapely.Point(x, y)) < 0.5
