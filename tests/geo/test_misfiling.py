"""Category rules that misfiled real Haidian features, each checked end to end: OSM XML
written by the test, loaded and turned into facilities by the study-area builder."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecircle.geo.build import study_area_from_osm
from lifecircle.geo.catalog import load_catalog
from tests.geo.osm_fixture import write_osm

POIS = {
    20: (40, -40, {"amenity": "clinic", "name": "学院路诊所"}),
    21: (
        60,
        -40,
        {"amenity": "clinic", "healthcare": "centre", "name": "北太平庄社区卫生服务中心"},
    ),
    22: (80, -40, {"amenity": "hospital", "name": "北下关社区卫生服务中心"}),
    23: (100, -40, {"amenity": "parking", "name": "原幼儿园停车场"}),
    24: (120, -40, {"shop": "convenience", "name": "幼儿园旁便利店"}),
    25: (140, -40, {"amenity": "school", "name": "北邮附小"}),
    26: (160, -40, {"amenity": "school", "name": "北邮附中"}),
    27: (180, -40, {"amenity": "school", "name": "海淀九年一贯制学校"}),
    28: (220, -40, {"amenity": "school", "name": "海淀实验完全中学"}),
    29: (240, -40, {"amenity": "school", "name": "北京一零一中学附属小学"}),
    30: (260, -40, {"amenity": "childcare", "name": "学院路托育中心"}),
    31: (280, -40, {"amenity": "childcare", "name": "阳光幼儿园"}),
    32: (300, -40, {"amenity": "veterinary", "name": "爱宠诊所"}),
    33: (320, -40, {"leisure": "park", "name": "点状公园"}),
    34: (340, -40, {"amenity": "townhall", "office": "government", "name": "北邮社区居委会"}),
}
PARKS = {
    400: (0, -190, 110, -90, {"leisure": "park", "name": "大公园"}),  # 11,000 m2
    401: (150, -190, 200, -150, {"leisure": "park", "name": "小游园"}),  # 2,000 m2
}


@pytest.fixture(scope="module")
def categories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    path = write_osm(tmp_path_factory.mktemp("misfile") / "m.osm", pois=POIS, polygons=PARKS)
    area = study_area_from_osm(path, catalog="gb50180", grid_m=250)
    out: dict[str, set[str]] = {}
    for fid, cat in zip(area.facilities["facility_id"], area.facilities["category"], strict=True):
        out.setdefault(str(fid), set()).add(str(cat))
    return out


def test_a_clinic_is_a_station_and_the_centre_needs_its_own_tag_or_name(categories) -> None:
    assert categories["n20"] == {"health_station"}
    assert categories["n21"] == {"health_station", "health_centre"}
    assert categories["n22"] == {"health_centre"}


def test_a_name_does_not_turn_a_car_park_shop_or_vet_into_a_service(categories) -> None:
    assert "n23" not in categories
    assert categories["n24"] == {"convenience_store"}
    assert "n32" not in categories
    # a rule on the feature's own purpose key still applies (office = * with the name)
    assert categories["n34"] == {"community_service_station"}


def test_school_levels_from_names_and_abbreviations(categories) -> None:
    assert categories["n25"] == {"primary_school"}
    assert categories["n26"] == {"middle_school"}
    assert categories["n27"] == {"primary_school", "middle_school"}
    assert categories["n28"] == {"middle_school"}
    assert categories["n29"] == {"primary_school"}


def test_nursery_is_apart_from_kindergarten(categories) -> None:
    assert categories["n30"] == {"nursery"}
    assert categories["n31"] == {"kindergarten"}
    assert categories["n11"] == {"kindergarten"}


def test_a_park_below_the_minimum_size_does_not_count(categories) -> None:
    assert categories["w400"] == {"park"}
    assert "w401" not in categories
    assert "n33" not in categories  # mapped as a point: its size is unknown


def test_the_park_minimum_is_one_hectare() -> None:
    assert load_catalog("gb50180")["park"].min_size_m2 == 10000


def test_write_osm_keeps_the_base_extract(tmp_path: Path) -> None:
    text = write_osm(tmp_path / "b.osm", pois=POIS).read_text(encoding="utf-8")
    assert "北邮幼儿园" in text and "原幼儿园停车场" in text
