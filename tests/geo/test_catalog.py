"""Service catalogs: bundled files load, known Helsinki POIs land in the right category,
and broken catalogs are reported with every problem at once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lifecircle.errors import CatalogError
from lifecircle.geo.catalog import list_catalogs, load_catalog

ISSUE_CATEGORIES = {
    "kindergarten",
    "primary_school",
    "middle_school",
    "health_station",
    "health_centre",
    "pharmacy",
    "grocery",
    "elderly_day_care",
    "elderly_care_home",
    "community_centre",
    "culture_centre",
    "post_office",
    "park",
    "playground_fitness",
}


def test_gb50180_has_the_life_circle_categories_with_thresholds(gb50180) -> None:
    assert set(gb50180.ids) >= ISSUE_CATEGORIES
    assert gb50180["kindergarten"].threshold(4.0) == 300
    assert gb50180["primary_school"].threshold(4.0) == 500
    assert gb50180["middle_school"].threshold(4.0) == 1000
    assert gb50180["kindergarten"].name_zh == "幼儿园"
    assert gb50180["park"].access == "edge"
    assert set(gb50180.levels()) == {"block", "5min", "10min", "15min"}


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Yliopiston apteekki", "pharmacy"),
        ("Kluuvin Apteekki", "pharmacy"),
        ("Kaisaniemen ala-aste", "primary_school"),
        ("Kruununhaan yläasteen koulu", "middle_school"),
        ("Pääposti", "post_office"),
        ("Helsingin keskustakirjasto Oodi", "culture_centre"),
        ("Luckan", "community_centre"),
        ("Vita Lääkäriasema", "health_station"),
    ],
)
def test_known_helsinki_pois_get_their_category(
    helsinki_layers, gb50180, name: str, category: str
) -> None:
    feats = helsinki_layers.features
    hits = gb50180.match(feats)
    named = feats.index[feats["name"] == name]
    assert len(named) >= 1, name
    cats = set(hits.loc[hits["feature"].isin(named), "category"])
    assert category in cats


def test_school_levels_are_not_mixed_up(helsinki_layers, gb50180) -> None:
    feats = helsinki_layers.features
    hits = gb50180.match(feats).merge(feats[["name"]], left_on="feature", right_index=True)
    primary = set(hits.loc[hits["category"] == "primary_school", "name"])
    middle = set(hits.loc[hits["category"] == "middle_school", "name"])
    assert "Kaisaniemen ala-aste" in primary and "Kaisaniemen ala-aste" not in middle
    assert "Kruununhaan yläasteen koulu" in middle and "Kruununhaan yläasteen koulu" not in primary
    assert "Ressun lukio" not in primary | middle  # an upper-secondary school is neither


def test_rules_on_hand_made_tags(gb50180) -> None:
    feats = pd.DataFrame(
        {
            "tags": [
                {"amenity": "school", "name": "海淀实验小学"},
                {"amenity": "school", "name": "北京市第一〇一中学"},
                {"amenity": "school", "name": "Some school"},
                {"amenity": "kindergarten"},
                {"amenity": "school", "isced:level": "1;2"},
                {"shop": "supermarket;convenience"},
                {"amenity": "social_facility", "social_facility": "nursing_home"},
                {"amenity": "clinic", "name": "北邮社区卫生服务中心"},
            ]
        }
    )
    hits = gb50180.match(feats).groupby("feature")["category"].apply(set)
    assert "primary_school" in hits[0] and "middle_school" not in hits[0]
    assert "middle_school" in hits[1] and "primary_school" not in hits[1]
    assert {"primary_school", "middle_school"} <= hits[2]  # level unknown: both
    assert hits[3] == {"kindergarten"}
    assert {"primary_school", "middle_school"} <= hits[4]
    assert {"grocery", "convenience_store"} <= hits[5]
    assert "elderly_care_home" in hits[6]
    assert "health_centre" in hits[7]


def test_user_catalog_extends_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text(
        """
[catalog]
extends = "gb50180"
remove = ["bank"]

[[category]]
id = "pharmacy"
name_zh = "药店"
name_en = "Pharmacy"
level = "5min"
kind = "market"
threshold_min = 8
required = true
match = [{ amenity = "pharmacy" }]

[[category]]
id = "breakfast"
name_zh = "早餐店"
name_en = "Breakfast"
level = "5min"
kind = "market"
threshold_min = 8
required = false
match = [{ amenity = "*", name_regex = "早餐|早点" }]
""",
        encoding="utf-8",
    )
    cat = load_catalog(f)
    assert "bank" not in cat and "breakfast" in cat
    assert cat["pharmacy"].threshold(4.5) == pytest.approx(600.0)
    assert cat.ids.index("pharmacy") == load_catalog("gb50180").ids.index("pharmacy")


def test_broken_catalog_lists_every_problem(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(
        """
[catalog]
id = "bad"

[[category]]
id = "a"
name_zh = "甲"
name_en = "A"
level = "20min"
kind = "basic"
threshold_m = -5
colour = "red"
match = [{ name_regex = "x" }]
""",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as err:
        load_catalog(f)
    text = str(err.value)
    assert "bad.toml" in text
    for part in (
        "level '20min'",
        "threshold_m must be a positive number",
        "unknown key(s) ['colour']",
        "at least one tag",
    ):
        assert part in text
    assert len(err.value.problems) == 4


def test_missing_catalog_names_the_choices() -> None:
    with pytest.raises(CatalogError, match="gb50180"):
        load_catalog("nonexistent")
    assert "gb50180" in list_catalogs()


@pytest.mark.parametrize("name", ["gb50180", "mofcom", "fifteen-minute-city", "beijing"])
def test_every_bundled_catalog_loads_and_finds_helsinki_services(
    name: str, helsinki_layers
) -> None:
    cat = load_catalog(name)
    assert len(cat) >= 10 and all(c.rules for c in cat)
    hits = cat.match(helsinki_layers.features)
    found = set(hits["category"])
    assert "pharmacy" in found
    assert len(found) >= len(cat) // 2


def test_mofcom_minutes_become_metres_at_the_walking_speed() -> None:
    cat = load_catalog("mofcom")
    assert cat["convenience_store"].threshold(4.0) == pytest.approx(5 * 4000 / 60)
    assert cat["pharmacy"].threshold(4.8) == pytest.approx(8 * 80)
    assert cat.resolve("早点") == "breakfast" and cat.resolve("菜鸟驿站") == "parcel_point"
