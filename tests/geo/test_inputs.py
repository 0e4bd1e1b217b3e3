"""Building a StudyArea from what planners bring: OSM files, units, facilities, population."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from lifecircle.coverage.network import WalkNetwork
from lifecircle.errors import InputError
from lifecircle.geo.build import StudyInputs, build_study_area
from lifecircle.geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from lifecircle.geo.osm import load_osm
from lifecircle.geo.specs import CandidateFile, FacilityFile, PopulationFile, UnitsFile
from tests.conftest import SHARED_DATA
from tests.geo import osm_fixture as fx


@pytest.fixture(scope="module")
def osm_xml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fx.write_osm(tmp_path_factory.mktemp("osm") / "xueyuan.osm")


def units_geojson(path: Path) -> Path:
    """Two communities with known population (Chinese headers) and one bow-tie unit."""

    def ring(*pts: tuple[float, float]) -> list[list[float]]:
        return [list(fx.lonlat(x, y)) for x, y in (*pts, pts[0])]

    features = [
        {
            "社区编码": "A",
            "社区名称": "学院路社区",
            "常住人口": "1,000",
            "ring": ring((-50, -200), (190, -200), (190, 190), (-50, 190)),
        },
        {
            "社区编码": "B",
            "社区名称": "明光社区",
            "常住人口": "500",
            "ring": ring((190, -200), (450, -200), (450, 190), (190, 190)),
        },
        # self-intersecting (a bow-tie): repaired with make_valid and reported
        {
            "社区编码": "C",
            "社区名称": "蝴蝶社区",
            "常住人口": None,
            "ring": ring((-50, 200), (150, 340), (150, 200), (-50, 340)),
        },
    ]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {k: v for k, v in f.items() if k != "ring"},
                "geometry": {"type": "Polygon", "coordinates": [f["ring"]]},
            }
            for f in features
        ],
    }
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_osm_xml_written_by_hand_loads_as_laid_out(osm_xml: Path, gb50180) -> None:
    layers = load_osm(osm_xml, feature_filter=gb50180.osm_filter())
    assert len(layers.edges) == fx.WALKABLE_EDGES
    assert "motorway" not in set(layers.edges["highway"])
    bridge = layers.edges.loc[layers.edges["u"] == 6]
    assert bridge["ground"].tolist() == [False]
    assert sorted(layers.buildings["building"]) == ["apartments", "office", "yes", "yes"]
    assert set(layers.features["name"]) == {
        "同仁堂药店",
        "北邮幼儿园",
        "桥下药房",
        "物美超市",
        "海淀实验小学",
    }
    # the same file compressed
    packed = osm_xml.with_suffix(".osm.bz2")
    packed.write_bytes(bz2.compress(osm_xml.read_bytes()))
    again = load_osm(packed, feature_filter=gb50180.osm_filter())
    assert len(again.edges) == fx.WALKABLE_EDGES and len(again.buildings) == 4


def test_study_from_the_xml_has_exact_residents_and_positions(osm_xml: Path) -> None:
    area = build_study_area(StudyInputs(osm=str(osm_xml), grid_m=100))
    assert area.crs.to_epsg() == 32650
    # residents: the apartments (6 levels) and the building=yes on residential land;
    # the office and the supermarket building are not homes
    # (the reader holds coordinates to 1e-7 degrees, OSM's own precision, about 1 cm: a
    # corner moves by up to 6 mm, a 30 m side by 1 cm, so areas agree to about 1e-4)
    assert area.demand["residents"].sum() == pytest.approx(
        fx.APARTMENT_RESIDENTS + fx.GENERIC_RESIDENTS, rel=2e-4
    )
    assert len(area.demand) == 2
    # facilities where the file put them, to the metre
    fac = area.facilities.set_index("name")
    for node in (10, 11):
        x, y, tags = fx.POIS[node]
        got = fac.loc[tags["name"]].geometry
        assert np.hypot(got.x - fx.metric(x, y)[0], got.y - fx.metric(x, y)[1]) < 1.0
    assert fac.loc["同仁堂药店", "category"] == "pharmacy"
    assert fac.loc["北邮幼儿园", "category"] == "kindergarten"
    assert "primary_school" in set(
        area.facilities.loc[area.facilities["name"] == "海淀实验小学", "category"]
    )
    assert "grocery" in set(area.facilities.loc[area.facilities["name"] == "物美超市", "category"])
    # the pharmacy under the footbridge joins the street, not the bridge above it
    net = WalkNetwork.from_edges(area.edges)
    under = area.facilities.loc[area.facilities["name"] == "桥下药房"]
    s = net.snap(under)
    assert net.ground[s.edge[0]] and s.access_m[0] == pytest.approx(2.0, abs=0.01)


def test_units_with_chinese_headers_scale_residents_and_repair_a_bow_tie(
    osm_xml: Path, tmp_path: Path
) -> None:
    units = units_geojson(tmp_path / "社区.geojson")
    area = build_study_area(StudyInputs(osm=str(osm_xml), units=UnitsFile(path=str(units))))
    assert area.units["unit_id"].tolist() == ["A", "B", "C"]
    assert area.units["name"].tolist() == ["学院路社区", "明光社区", "蝴蝶社区"]
    assert area.units["population"].tolist()[:2] == [1000.0, 500.0]
    by_unit = area.demand.groupby("unit_id")["residents"].sum()
    assert by_unit["A"] == pytest.approx(1000.0)  # both homes are in A: scaled up to its total
    assert by_unit["B"] == pytest.approx(500.0)  # no homes in B: spread over its area
    assert "C" not in by_unit.index  # unknown population, no buildings
    assert all(area.units.geometry.is_valid)
    keys = [n.key for n in area.notes]
    assert "note_repaired_geometry" in keys and "note_spread_population" in keys
    repaired = next(n for n in area.notes if n.key == "note_repaired_geometry")
    assert "Self-intersection" in repaired.text("en") and "C" in repaired.text("en")
    # the study reads streets beyond the units: the buffer is the largest threshold
    assert area.extent.area > shapely.union_all(area.units.geometry.to_numpy()).area


@pytest.mark.parametrize("system, convert", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_facility_files_in_chinese_systems_replace_or_add(
    osm_xml: Path, tmp_path: Path, system: str, convert
) -> None:
    places = {"海淀区第一幼儿园": (60.0, -40.0), "学院路药店": (150.0, -30.0)}
    lines = ["名称,类别,经度,纬度,学位"]
    for (name, (x, y)), label in zip(places.items(), ["幼儿园", "药店"], strict=True):
        lon, lat = convert(*fx.lonlat(x, y))
        lines.append(f"{name},{label},{float(lon):.9f},{float(lat):.9f},120")
    f = tmp_path / "poi.csv"
    f.write_bytes("\n".join(lines).encode("gbk"))
    area = build_study_area(
        StudyInputs(osm=str(osm_xml), facilities=(FacilityFile(path=str(f), crs=system),))
    )
    fac = area.facilities
    mine = fac.loc[fac["source"] == "poi.csv"].set_index("name")
    for name, (x, y) in places.items():
        p = mine.loc[name].geometry
        assert np.hypot(p.x - fx.metric(x, y)[0], p.y - fx.metric(x, y)[1]) < 0.5
    assert mine.loc["海淀区第一幼儿园", "capacity"] == 120
    # replace (the default): OSM's kindergartens and pharmacies are gone
    assert set(fac.loc[fac["category"] == "pharmacy", "source"]) == {"poi.csv"}
    assert "note_replaced_osm" in [n.key for n in area.notes]
    added = build_study_area(
        StudyInputs(
            osm=str(osm_xml), facilities=(FacilityFile(path=str(f), crs=system, mode="add"),)
        )
    )
    assert (
        added.facilities["category"] == "pharmacy"
    ).sum() == 3  # two from OSM, one from the file


def test_every_problem_of_every_file_in_one_message(osm_xml: Path, tmp_path: Path) -> None:
    poi = tmp_path / "poi.csv"
    poi.write_bytes(
        "名称,类别,经度,纬度\n甲,幼儿园,116.35,39.96\n乙,餐饮,116.35,abc\n丙,火锅,39.96,116.35\n".encode(
            "gbk"
        )
    )
    units = tmp_path / "units.geojson"
    ring = [list(fx.lonlat(x, y)) for x, y in ((0, 0), (100, 0), (100, 100), (0, 0))]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "X", "人口": "很多"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            },
            {
                "type": "Feature",
                "properties": {"id": "X", "人口": "10"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            },
        ],
    }
    units.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    inputs = StudyInputs(
        osm=str(osm_xml),
        units=UnitsFile(path=str(units)),
        facilities=(FacilityFile(path=str(poi), crs="gcj02"),),
        candidates=CandidateFile(path=str(tmp_path / "missing.csv")),
    )
    with pytest.raises(InputError) as err:
        build_study_area(inputs)
    text = str(err.value)
    problems = err.value.problems
    assert len(problems) >= 5, text
    assert "duplicate unit ids: X" in text and "units.geojson" in text
    assert "population is not a number" in text
    assert (
        "unknown categories: '餐饮' (1 rows); '火锅' (1 rows)" in text and "--category-map" in text
    )
    assert "row 3" in text  # the 'abc' latitude
    assert "missing.csv: file not found" in text
    assert all(p.fix for p in problems), [str(p) for p in problems]


def test_category_map_file_and_population_polygons(osm_xml: Path, tmp_path: Path) -> None:
    poi = tmp_path / "poi.csv"
    (a_lon, a_lat), (b_lon, b_lat) = fx.lonlat(60, -40), fx.lonlat(70, -40)
    poi.write_text(
        f"name,type,lon,lat\n民办小太阳,民办幼儿园,{a_lon},{a_lat}\n老王火锅,火锅,{b_lon},{b_lat}\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "map.toml"
    mapping.write_text('"民办幼儿园" = "kindergarten"\n"火锅" = "ignore"\n', encoding="utf-8")
    pop = tmp_path / "pop.geojson"
    ring = [list(fx.lonlat(x, y)) for x, y in ((0, 0), (200, 0), (200, 150), (0, 150), (0, 0))]
    pop.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"人口": 300},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    area = build_study_area(
        StudyInputs(
            osm=str(osm_xml),
            facilities=(FacilityFile(path=str(poi), category_map=str(mapping)),),
            population=PopulationFile(path=str(pop)),
        )
    )
    mine = area.facilities.loc[area.facilities["source"] == "poi.csv"]
    assert mine["category"].tolist() == ["kindergarten"]
    # 300 residents split between the two homes in proportion to their floor area
    res = area.demand.sort_values("residents")["residents"].to_numpy()
    assert res.sum() == pytest.approx(300.0)
    floor = np.array([40 * 20 * 6, 30 * 30 * 6], dtype=float)
    # (coordinates held to 1e-7 degrees, about 1 cm: floor areas agree to about 1e-4)
    np.testing.assert_allclose(res, np.sort(300.0 * floor / floor.sum()), rtol=2e-4)


def test_offline_place_queries_fail_at_once() -> None:
    import lifecircle.geo.osm as osm_mod
    from lifecircle.errors import OfflineError
    from lifecircle.geo.osm import fetch_osm

    real = osm_mod._network_reachable
    osm_mod._network_reachable = lambda *a, **k: False  # this sandbox may or may not be online
    try:
        with pytest.raises(OfflineError, match="OSM extract file"):
            fetch_osm("Haidian, Beijing")
    finally:
        osm_mod._network_reachable = real


def test_pyrosm_second_extract_builds_a_study() -> None:
    import pyrosm

    area = build_study_area(StudyInputs(osm=pyrosm.get_data("test_pbf"), grid_m=500))
    # edges run from junction to junction: over 500 of them, about 49 km of walkable way
    assert len(area.edges) > 500 and len(area.units) > 10
    assert area.edges.geometry.length.sum() > 45_000
    assert area.demand["residents"].sum() > 1000
    assert (area.demand["unit_id"].isin(area.units["unit_id"])).all()


def test_helsinki_grid_residents_belong_to_cells(helsinki_area) -> None:
    d = helsinki_area.demand
    assert d["unit_id"].isin(helsinki_area.units["unit_id"]).all()
    assert d["residents"].gt(0).all() and 5000 < d["residents"].sum() < 50000


@pytest.mark.skipif(
    not (SHARED_DATA / "beijing-bupt" / "map.osm").is_file(),
    reason="../shared/data/beijing-bupt is not beside this clone",
)
def test_beijing_bupt_extract_finds_chinese_named_facilities() -> None:
    area = build_study_area(
        StudyInputs(osm=str(SHARED_DATA / "beijing-bupt" / "map.osm"), grid_m=100)
    )
    fac = area.facilities
    cats = fac.groupby("name")["category"].apply(set)
    assert "health_centre" in cats["校医院（北京邮电大学社区卫生服务中心）"]
    assert "kindergarten" in cats["北京邮电大学幼儿园"]
    assert "grocery" in cats["物美"]
    assert "post_office" in cats["中国邮政"]
    assert "convenience_store" in cats["便利蜂"]
    # a campus: teaching buildings (building=yes on the university site) are not homes
    assert set(area.demand["use_rule"]) == {"building tag"}
    assert 5000 < area.demand["residents"].sum() < 12000
    # the PBF copy finds the same facilities
    pbf = build_study_area(
        StudyInputs(osm=str(SHARED_DATA / "beijing-bupt" / "map.osm.pbf"), grid_m=100)
    )
    assert {"校医院（北京邮电大学社区卫生服务中心）", "北京邮电大学幼儿园", "物美"} <= set(
        pbf.facilities["name"].dropna()
    )


def test_units_file_without_crs_is_a_problem(tmp_path: Path) -> None:
    units = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)])
    f = tmp_path / "u.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        units.to_file(f)
    with pytest.raises(InputError, match="no coordinate system"):
        build_study_area(StudyInputs(osm="unused.osm", units=UnitsFile(path=str(f))))
