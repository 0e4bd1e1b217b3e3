"""Age groups (issue 17): a plan whose units give children aged 3-5 and residents 60+
measures a kindergarten's coverage over the children only, checked by brute force from the
access table the run writes (distances per point x the group's weights computed here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifecircle.cli import main
from lifecircle.i18n import tr
from tests.geo.osm_fixture import lonlat, write_osm

# homes beyond the fixture's two: some near the kindergarten (150, 60), some far
HOMES = {
    205: (0, -120, 30, -100, {"building": "apartments", "building:levels": "4"}),
    206: (220, -60, 250, -40, {"building": "apartments", "building:levels": "5"}),
    207: (380, -150, 410, -120, {"building": "apartments", "building:levels": "3"}),
}
UNITS = """{{"type": "FeatureCollection", "features": [
 {{"type": "Feature", "properties": {{"id": "C1", "name": "西社区", "3至5岁": "{a1}",
   "age_60+": 50}},
  "geometry": {{"type": "Polygon", "coordinates": [{west}]}}}},
 {{"type": "Feature", "properties": {{"id": "C2", "name": "东社区", "3至5岁": "{a2}",
   "age_60+": 20}},
  "geometry": {{"type": "Polygon", "coordinates": [{east}]}}}}]}}"""
PLAN = """[inputs]
osm = "x.osm"
[inputs.units]
path = "units.geojson"
age_cols = {{ "3-5" = "3至5岁" }}
[[placement]]
category = "kindergarten"
sites = 1
[outputs]
formats = ["csv"]
offline = true
lang = "{lang}"
[analysis]
catchments = false
"""


def _ring(x0: float, y0: float, x1: float, y1: float) -> str:
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return "[" + ",".join("[{:.9f},{:.9f}]".format(*lonlat(x, y)) for x, y in corners) + "]"


def _plan(tmp: Path, a1: str = "10", a2: str = "40", lang: str = "en") -> Path:
    write_osm(tmp / "x.osm", polygons=HOMES)
    (tmp / "units.geojson").write_text(
        UNITS.format(
            west=_ring(-40, -190, 200, 340), east=_ring(200, -190, 440, 340), a1=a1, a2=a2
        ),
        encoding="utf-8",
    )
    plan = tmp / "plan.toml"
    plan.write_text(PLAN.format(lang=lang), encoding="utf-8")
    return plan


def test_kindergarten_coverage_counts_only_children_3_to_5(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["plan", str(_plan(tmp_path)), "--out", str(out), "-q"]) == 0, capsys.readouterr()
    access = pd.read_csv(out / "access.csv", encoding="utf-8-sig")
    by_unit = pd.read_csv(out / "coverage_by_unit.csv", encoding="utf-8-sig")
    summary = pd.read_csv(out / "coverage_summary.csv", encoding="utf-8-sig")
    # the group's weights, by hand: each point's share of its unit's residents x the unit's
    # children aged 3-5 (10 in C1, 40 in C2)
    res = access["residents"].to_numpy(float)  # rounded to 0.1 in the table
    unit_total = access.groupby("unit_id")["residents"].transform("sum").to_numpy(float)
    kids = access["unit_id"].map({"C1": 10.0, "C2": 40.0}).to_numpy(float) * res / unit_total
    assert set(access["unit_id"]) == {"C1", "C2"} and (res > 0).all()
    within = access["kindergarten_m"].fillna(np.inf).to_numpy(float) <= 300.0
    assert 0 < within.sum() < len(access)  # some points in reach, some not
    share = kids[within].sum() / kids.sum()
    row = summary.set_index("category").loc["kindergarten"]
    assert row["age_group"] == "3-5"
    assert row["demand"] == pytest.approx(50.0, rel=1e-6)
    assert row["share"] == pytest.approx(share, rel=1e-3)
    # ... which is not the share of all residents (a kindergarten serves children)
    assert abs(row["share"] - res[within].sum() / res.sum()) > 0.01
    for uid, n in (("C1", 10.0), ("C2", 40.0)):
        u = by_unit.loc[(by_unit["unit_id"] == uid) & (by_unit["category"] == "kindergarten")]
        mine = (access["unit_id"] == uid).to_numpy()
        assert u["demand"].item() == pytest.approx(n, rel=1e-6)
        expect = kids[mine & within].sum() / kids[mine].sum()
        assert u["share"].item() == pytest.approx(expect, rel=1e-3, abs=1e-9)
    # residents 60+ from the units' age_60+ column; a pharmacy's demand is everyone
    elderly = summary.set_index("category").loc["elderly_day_care"]
    assert elderly["age_group"] == "60+" and elderly["demand"] == pytest.approx(70.0)
    pharmacy = summary.set_index("category").loc["pharmacy"]
    assert pd.isna(pharmacy["age_group"]) and pharmacy["demand"] == pytest.approx(
        pharmacy["residents"]
    )
    # the site for kindergartens gains children, not residents
    sites = pd.read_csv(out / "sites.csv", encoding="utf-8-sig")
    kg = sites.loc[sites["category"] == "kindergarten"]
    assert len(kg) == 1
    assert kg["residents_newly_covered"].item() <= kids[~within].sum() + 1e-6
    # primary and middle schools serve 6-11 and 12-14, which the units do not give: a note
    run = (out / "run.json").read_text(encoding="utf-8")
    assert "residents aged 6-11" in run and "age_6_11" in run


def test_the_chinese_tables_say_which_group(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    plan = _plan(tmp_path, lang="zh")
    assert main(["plan", str(plan), "--out", str(out), "-q"]) == 0, capsys.readouterr()
    summary = pd.read_csv(out / "coverage_summary.csv", encoding="utf-8-sig")
    assert tr("csv_age_group", "zh") in summary.columns


def test_an_age_column_that_is_not_a_number_exits_2(tmp_path: Path, capsys) -> None:
    plan = _plan(tmp_path, a1="三十")
    assert main(["plan", str(plan), "--out", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "units.geojson" in err and "3至5岁" in err and "not a number" in err


def test_an_age_column_that_is_absent_exits_2_in_chinese(tmp_path: Path, capsys) -> None:
    plan = _plan(tmp_path)
    plan.write_text(plan.read_text(encoding="utf-8").replace("3至5岁", "3-5岁"), encoding="utf-8")
    code = main(["plan", str(plan), "--out", str(tmp_path / "out"), "-q", "--lang", "zh"])
    assert code == 2
    err = capsys.readouterr().err
    assert "inputs.units.age_cols.3-5" in err and "没有“3-5岁”列" in err


def test_the_report_names_the_group_each_share_is_of(tmp_path: Path, capsys) -> None:
    for lang, text in (("en", "Kindergarten (residents aged 3-5)"), ("zh", "幼儿园（3-5 岁居民）")):
        plan = _plan(tmp_path, lang=lang)
        plan.write_text(
            plan.read_text(encoding="utf-8").replace('formats = ["csv"]', 'formats = ["html"]'),
            encoding="utf-8",
        )
        out = tmp_path / f"out-{lang}"
        assert main(["plan", str(plan), "--out", str(out), "-q"]) == 0, capsys.readouterr()
        html = (out / "report.html").read_text(encoding="utf-8")
        assert text in html


POPULATION = """{{"type": "FeatureCollection", "features": [
 {{"type": "Feature", "properties": {{"人口": 100, "幼儿": 10}},
  "geometry": {{"type": "Point", "coordinates": [{p1}]}}}},
 {{"type": "Feature", "properties": {{"人口": 50, "幼儿": 20}},
  "geometry": {{"type": "Point", "coordinates": [{p2}]}}}},
 {{"type": "Feature", "properties": {{"人口": 60, "幼儿": 6}},
  "geometry": {{"type": "Polygon", "coordinates": [{poly}]}}}}]}}"""


def test_a_population_files_groups_keep_their_share_when_scaled(tmp_path: Path) -> None:
    from lifecircle.geo.build import StudyInputs, build_study_area
    from lifecircle.geo.specs import PopulationFile, UnitsFile

    _plan(tmp_path)
    units = tmp_path / "units.geojson"  # C1 knows 200 people; no age columns this time
    units.write_text(
        UNITS.replace(', "3至5岁": "{a1}",\n   "age_60+": 50', ', "population": 200')
        .replace(', "3至5岁": "{a2}",\n   "age_60+": 20', "")
        .format(west=_ring(-40, -190, 200, 340), east=_ring(200, -190, 440, 340)),
        encoding="utf-8",
    )
    pop = tmp_path / "population.geojson"
    pop.write_text(
        POPULATION.format(
            p1="{:.9f},{:.9f}".format(*lonlat(40, 30)),
            p2="{:.9f},{:.9f}".format(*lonlat(300, -100)),
            poly=_ring(95, 15, 135, 55),  # around the building=yes at 100..130, 20..50
        ),
        encoding="utf-8",
    )
    inputs = StudyInputs(
        osm=str(tmp_path / "x.osm"),
        units=UnitsFile(path=str(units)),
        population=PopulationFile(path=str(pop), population_col="人口", age_cols={"3-5": "幼儿"}),
    )
    demand = build_study_area(inputs).demand.sort_values("residents").reset_index(drop=True)
    # C1: the point's 100 and the polygon's 60 (its one home) scaled to 200 (x 1.25), each
    # keeping its row's share of children (10 %); C2's point keeps its 50 and 20 children
    assert demand["unit_id"].tolist() == ["C2", "C1", "C1"]
    assert demand["residents"].tolist() == pytest.approx([50.0, 75.0, 125.0])
    assert demand["age_3_5"].tolist() == pytest.approx([20.0, 7.5, 12.5])


def test_a_partitioned_run_weighs_the_same_groups(tmp_path: Path, capsys) -> None:
    """Split by unit, each part's access keeps its points' groups; merged, the figures are
    the whole run's."""
    plan = _plan(tmp_path)
    whole, parted = tmp_path / "whole", tmp_path / "parted"
    assert main(["plan", str(plan), "--out", str(whole), "-q"]) == 0, capsys.readouterr()
    text = plan.read_text(encoding="utf-8").replace("[analysis]\n", '[analysis]\nparts = "id"\n')
    plan.write_text(text, encoding="utf-8")
    assert main(["plan", str(plan), "--out", str(parted), "-q"]) == 0, capsys.readouterr()
    for name in ("coverage_summary.csv", "coverage_by_unit.csv"):
        a = pd.read_csv(whole / name, encoding="utf-8-sig")
        b = pd.read_csv(parted / name, encoding="utf-8-sig")
        pd.testing.assert_frame_equal(a, b)


def test_the_maps_uncovered_layer_counts_the_children(tmp_path: Path, capsys) -> None:
    plan = _plan(tmp_path)
    text = plan.read_text(encoding="utf-8").replace(
        'formats = ["csv"]', 'formats = ["csv", "map"]\nmap_category = "kindergarten"'
    )
    plan.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["plan", str(plan), "--out", str(out), "-q"]) == 0, capsys.readouterr()
    access = pd.read_csv(out / "access.csv", encoding="utf-8-sig")
    by_unit = pd.read_csv(out / "coverage_by_unit.csv", encoding="utf-8-sig")
    kg = by_unit.loc[by_unit["category"] == "kindergarten"]
    uncovered = float((kg["demand"] - kg["covered_residents"]).sum())
    assert 0 < uncovered < access["residents"].sum()
    html = (out / "map.html").read_text(encoding="utf-8")
    assert f"Uncovered residents: Kindergarten ({uncovered:,.0f})" in html
