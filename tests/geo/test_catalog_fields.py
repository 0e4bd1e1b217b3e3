"""Catalog fields for supply (indicator, age group, minimum size, source), levels a catalog
defines itself, and the bundled Beijing and MOFCOM lists."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from lifecircle.cli import main
from lifecircle.errors import CatalogError
from lifecircle.geo.catalog import Indicator, load_catalog

EIGHT = (
    "vegetable_retail",
    "convenience_store",
    "breakfast",
    "housekeeping",
    "hairdresser",
    "parcel_point",
    "repair",
    "laundry",
)

USER = """
[catalog]
extends = "gb50180"
id = "town"
level_map = { "5min" = "near", "block" = "near" }

[[level]]
id = "near"
name_zh = "近邻"
name_en = "Near"
threshold_m = 250
source = "town plan 2.1"

[[category]]
id = "kindergarten"
indicator = { value = 40, per = "1000 residents", measure = "places" }
ages = [3, 5]
source = "town plan 3.4"

[[category]]
id = "square"
name_zh = "广场"
name_en = "Square"
level = "near"
kind = "basic"
min_size_m2 = 2500
indicator = { value = 2, per = "100 households", measure = "count" }
match = [{ place = "square" }]
"""


def test_levels_indicators_ages_and_partial_overrides(tmp_path: Path) -> None:
    path = tmp_path / "town.toml"
    path.write_text(USER, encoding="utf-8")
    cat = load_catalog(path)
    assert cat.levels() == ["near", "10min", "15min"]
    assert cat.level("near").threshold_m == 250 and cat.level_name("near", "zh") == "近邻"
    kg = cat["kindergarten"]
    # the override kept the inherited rules, names and threshold, moved to the new level
    assert kg.level == "near" and kg.threshold(4.0) == 300 and kg.name_zh == "幼儿园"
    assert kg.rules == load_catalog("gb50180")["kindergarten"].rules
    assert kg.indicator == Indicator(40.0, "1000 residents", "places")
    assert kg.ages == (3, 5) and kg.ages_text() == "3-5" and kg.source == "town plan 3.4"
    sq = cat["square"]
    assert sq.threshold(4.0) == 250  # the level's default
    assert sq.min_size_m2 == 2500 and sq.indicator is not None
    assert sq.indicator.need(residents=1000, households=450) == pytest.approx(9.0)
    assert cat["pharmacy"].level == "near" and cat["park"].level == "10min"
    assert [c.id for c in cat.with_indicators()] == ["kindergarten", "square"]
    assert cat["elderly_care_home"].ages_text() == "60+"


def test_bad_fields_are_each_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[catalog]
extends = "gb50180"
level_map = { "5min" = "nowhere" }

[[level]]
id = "near"
name_zh = "近"
threshold_m = -1

[[category]]
id = "kindergarten"
indicator = { value = 40, per = "person" , measure = "places" }
ages = [6, 3]

[[category]]
id = "square"
name_zh = "广场"
name_en = "Square"
level = "far"
kind = "basic"
threshold_m = 100
match = [{ place = "square" }]
""",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    text = str(err.value)
    for piece in ("level_map", "name_en", "threshold_m", "indicator", "ages", "'far'"):
        assert piece in text, piece


def test_indicator_need() -> None:
    assert Indicator(4.5, "1000 residents", "places").need(residents=3000) == pytest.approx(13.5)
    per_hh = Indicator(30, "100 households", "floor_area_m2")
    assert per_hh.need(residents=3000, households=1200) == pytest.approx(360.0)
    assert per_hh.text() == "30 m2 floor area / 100 households"


def test_beijing_levels_and_the_eight_basic_services() -> None:
    bj = load_catalog("beijing")
    assert bj.levels() == ["project", "community", "subdistrict"]
    assert bj.level_name("subdistrict", "zh") == "街道级"
    for cid in EIGHT:
        c = bj[cid]
        assert c.level == "community" and c.required and c.threshold(4.8) == pytest.approx(800)
        assert c.source and c.rules
    # inherited GB 50180 categories keep their thresholds, on Beijing's levels
    assert bj["kindergarten"].level == "project" and bj["kindergarten"].threshold(4.0) == 300
    assert bj["middle_school"].level == "subdistrict"
    assert bj["park"].min_size_m2 == 10000
    assert all(c.source for c in bj.with_indicators())
    assert bj["nursery"].indicator == Indicator(4.5, "1000 residents", "places")


@pytest.mark.parametrize("name", ["beijing", "mofcom", "gb50180"])
def test_every_figure_in_a_bundled_catalog_has_a_source_comment(name: str) -> None:
    text = (resources.files("lifecircle.data") / "catalogs" / f"{name}.toml").read_text("utf-8")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"(indicator|min_size_m2|ages)\s*=", line):
            before = lines[max(0, i - 4) : i]
            assert any(b.startswith("#") for b in before), f"{name}: line {i + 1} {line}"


def test_mofcom_basic_list_is_complete_as_far_as_it_was_found() -> None:
    m = load_catalog("mofcom")
    basic = {
        "convenience_store", "supermarket", "vegetable_market", "breakfast", "laundry",
        "hairdresser", "photo_print", "housekeeping", "repair", "pharmacy", "parcel_point",
    }  # fmt: skip
    assert {c.id for c in m if c.required} == basic
    assert m["parcel_point"].name_zh == "邮政快递综合服务点"
    assert m.resolve("家政") == "housekeeping" and m.resolve("打印店") == "photo_print"


def test_catalog_show_lists_level_threshold_indicator_ages_source(capsys) -> None:
    assert main(["catalog", "show", "beijing", "--lang", "zh"]) in (0, None)
    out = capsys.readouterr().out
    assert "街道级" in out and "社区级" in out and "项目级" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("nursery"))
    assert "4.5 places / 1000 residents" in row and "0-2" in row and "十四五" in row
    veg = next(line for line in out.splitlines() if line.strip().startswith("vegetable_retail"))
    assert "社区级" in veg and " 667 " in veg and "50 m2 floor area" in veg
