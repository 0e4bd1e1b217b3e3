"""Supply versus need, recomputed by brute force: facility-to-resident walks from networkx
on the split network (tests/oracle.py), 2SFCA and counts by plain loops, needs from the
indicators and the units' own columns."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from lifecircle.cli import main
from lifecircle.coverage.access import nearest_facilities
from lifecircle.coverage.supply import SUPPLY_COLUMNS, supply_need
from lifecircle.geo.ages import spread_age_groups, unit_age_groups
from lifecircle.geo.catalog import Indicator, ServiceCatalog
from tests.geo.osm_fixture import lonlat, write_osm
from tests.oracle import split_graph

INDICATORS = {
    "kindergarten": Indicator(40.0, "1000 residents", "places"),  # capacities, some missing
    "pharmacy": Indicator(0.5, "1000 residents", "count"),
    "elderly_day_care": Indicator(30.0, "1000 in age group", "places"),  # demand: the 60+
    "health_station": Indicator(1.0, "1000 residents", "places"),  # no capacity at all
    "community_centre": Indicator(2.0, "100 households", "count"),
    "park": Indicator(0.2, "1000 residents", "count"),  # edge access: several entrances
}


@pytest.fixture(scope="module")
def study(helsinki_area, helsinki_network):
    rng = np.random.default_rng(7)
    cats = tuple(
        dataclasses.replace(c, indicator=INDICATORS.get(c.id)) for c in helsinki_area.catalog
    )
    catalog = ServiceCatalog("t", "t", "t", "", cats)
    fac = helsinki_area.facilities.copy()
    # Helsinki's extract has no kindergarten or day care: put some at other facilities' places
    for cat, at in (("kindergarten", "pharmacy"), ("elderly_day_care", "culture_centre")):
        extra = fac.loc[fac["category"] == at].head(6).assign(category=cat)
        extra["facility_id"] = [f"{cat}{i}" for i in range(len(extra))]
        fac = pd.concat([fac, extra], ignore_index=True)
        mine = fac["category"].to_numpy() == cat
        fac.loc[mine, "capacity"] = rng.integers(20, 120, mine.sum()).astype(float)
        fac.loc[np.flatnonzero(mine)[::3], "capacity"] = np.nan  # these get the median
    units = helsinki_area.units.copy()
    units["街道"] = [f"S{int(u[1:3]) % 3}" for u in units["unit_id"]]
    units["households"] = rng.integers(50, 400, len(units)).astype(float)
    units["age_60+"] = rng.integers(0, 200, len(units)).astype(float)
    # the units' 60+ spread to the resident points, as a study built from the file is
    groups, bad = unit_age_groups(units, None, source="units")
    assert not bad
    demand, _ = spread_age_groups(helsinki_area.demand, units, groups)
    fields = {
        **helsinki_area.__dict__,
        "facilities": fac,
        "catalog": catalog,
        "units": units,
        "demand": demand,
    }
    area = type(helsinki_area)(**fields)
    access = nearest_facilities(helsinki_network, area.demand, fac, catalog)
    assert access.age_groups["elderly_day_care"] == "60+"
    assert set(access.age_groups.values()) == {"60+"}  # the study knows no other group
    table = supply_need(access, area, helsinki_network, rollup="街道")
    return area, access, table


def _reach(access, area, network, cat: str, threshold: float) -> list[set[int]]:
    """For each facility of ``cat`` (in table order), the demand points within the threshold."""
    mask = area.facilities["category"].to_numpy() == cat
    _, of, snap = access.entrances(mask)
    rows = np.searchsorted(np.flatnonzero(mask), of)
    G = split_graph(network, {"f": snap, "r": access.demand_snap})
    out = []
    for f in range(int(mask.sum())):
        sources = [("f", int(i)) for i in np.flatnonzero(rows == f) if G.has_node(("f", int(i)))]
        d = nx.multi_source_dijkstra_path_length(G, sources, cutoff=threshold, weight="w")
        out.append({int(n[1]) for n in d if isinstance(n, tuple) and n[0] == "r"})
    return out


def test_the_deficit_table_equals_a_brute_force_recount(study, helsinki_network) -> None:
    area, access, table = study
    assert list(table.columns) == SUPPLY_COLUMNS
    units = area.units
    res = access.demand.residents
    unit_of = access.demand.unit_id.astype(str)
    checked = 0
    for cat, ind in INDICATORS.items():
        k = access.column(cat)
        threshold = float(access.thresholds_m[k])
        reach = _reach(access, area, helsinki_network, cat, threshold)
        fac = area.facilities.loc[area.facilities["category"] == cat]
        age = units.set_index("unit_id")["age_60+"] if cat == "elderly_day_care" else None
        unit_res = pd.Series(res).groupby(unit_of).sum()
        # demand per point: residents, or the unit's age group shared by residents
        demand = res.copy()
        if age is not None:
            demand = np.array(
                [
                    r * age[u] / unit_res[u] if unit_res[u] > 0 else 0.0
                    for r, u in zip(res, unit_of, strict=True)
                ]
            )
        cap = fac["capacity"].to_numpy(float)
        known = np.isfinite(cap)
        score = np.zeros(len(res))
        if known.any():
            cap = np.where(known, cap, np.median(cap[known]))
            for f, pts in enumerate(reach):
                within = sum(demand[t] for t in pts)
                for t in pts:
                    score[t] += cap[f] / within if within > 0 else 0.0
        rows = table.loc[(table["category"] == cat) & (table["level"] == "unit")]
        rows = rows.set_index("unit_id")
        for _, u in units.iterrows():
            uid = str(u["unit_id"])
            pts = [t for t in np.flatnonzero(unit_of == uid) if res[t] > 0]
            got = rows.loc[uid]
            n_reach = sum(1 for r in reach if r & set(pts))
            assert got["facilities_within"] == n_reach
            population = {
                "1000 residents": res[np.flatnonzero(unit_of == uid)].sum(),
                "100 households": u["households"],
                "1000 in age group": u["age_60+"],
            }[ind.per]
            per = 100.0 if ind.per == "100 households" else 1000.0
            assert got["need"] == pytest.approx(ind.value * population / per, rel=1e-9)
            if ind.measure == "count":
                expect = float(n_reach)
            elif n_reach == 0:
                expect = 0.0
            elif known.any():
                expect = float(sum(demand[t] * score[t] for t in pts))
            else:
                expect = np.nan
            assert got["supply"] == pytest.approx(expect, rel=1e-9, abs=1e-9, nan_ok=True)
            assert got["deficit"] == pytest.approx(got["need"] - expect, abs=1e-9, nan_ok=True)
            if np.isfinite(got["deficit"]):
                assert got["status"] == ("short" if got["deficit"] > 1e-9 else "met")
            else:
                assert got["status"] == "unknown"
            checked += 1
        # roll-up: sums of need and 2SFCA supply; facilities counted once per 街道
        rolled = table.loc[(table["category"] == cat) & (table["level"] == "街道")]
        for _, g in rolled.iterrows():
            members = units.loc[units["街道"] == g["unit_id"], "unit_id"].astype(str)
            mine = rows.loc[members]
            assert g["need"] == pytest.approx(mine["need"].sum(), rel=1e-9)
            pts = {t for t in np.flatnonzero(np.isin(unit_of, members)) if res[t] > 0}
            assert g["facilities_within"] == sum(1 for r in reach if r & pts)
            if ind.measure != "count" and known.any():
                assert g["supply"] == pytest.approx(mine["supply"].sum(), rel=1e-9)
        assert sorted(rolled["unit_id"]) == sorted(units["街道"].unique())
    assert checked == len(units) * len(INDICATORS)


def test_capacities_shared_by_2sfca_add_up_to_what_is_in_reach(study) -> None:
    """Every place of a kindergarten with someone in reach is counted exactly once."""
    area, _, table = study
    rows = table.loc[(table["category"] == "kindergarten") & (table["level"] == "unit")]
    assert rows["basis"].isin(["2sfca", "none in reach"]).all()
    assert (rows["capacity_imputed"] > 0).all()
    health = table.loc[(table["category"] == "health_station") & (table["level"] == "unit")]
    assert set(health["basis"]) == {"unknown capacity", "none in reach"}
    assert health.loc[health["basis"] == "unknown capacity", "status"].eq("unknown").all()
    elderly = table.loc[(table["category"] == "elderly_day_care") & (table["level"] == "unit")]
    ages = elderly["unit_id"].map(area.units.set_index("unit_id")["age_60+"])
    expect = np.where(elderly["residents"] > 0, ages, 0.0)
    np.testing.assert_allclose(elderly["demand"], expect, rtol=1e-9)
    assert (elderly["supply"] > 0).sum() >= 3  # 2SFCA over the 60+ found some places


def test_no_indicator_no_table(helsinki_area, helsinki_network) -> None:
    access = nearest_facilities(
        helsinki_network, helsinki_area.demand, helsinki_area.facilities, helsinki_area.catalog
    )
    assert supply_need(access, helsinki_area, helsinki_network) is None


UNITS = """{{"type": "FeatureCollection", "features": [
 {{"type": "Feature", "properties": {{"id": "C1", "name": "西社区", "街道": "北太平庄"}},
  "geometry": {{"type": "Polygon", "coordinates": [{west}]}}}},
 {{"type": "Feature", "properties": {{"id": "C2", "name": "东社区", "街道": "北太平庄"}},
  "geometry": {{"type": "Polygon", "coordinates": [{east}]}}}}]}}"""


def _ring(x0: float, y0: float, x1: float, y1: float) -> str:
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return "[" + ",".join("[{:.9f},{:.9f}]".format(*lonlat(x, y)) for x, y in corners) + "]"


def test_a_beijing_plan_with_a_rollup_writes_the_deficit_table(tmp_path: Path, capsys) -> None:
    osm = write_osm(tmp_path / "x.osm")
    units = tmp_path / "units.geojson"
    units.write_text(
        UNITS.format(west=_ring(-40, -190, 200, 340), east=_ring(200, -190, 440, 340)),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["plan", "--osm", str(osm), "--units", str(units), "--catalog", "beijing"]
    code = main([*args, "--rollup", "街道", "--out", str(out), "--offline", "-q"])
    assert code in (0, None), capsys.readouterr()
    table = pd.read_csv(out / "supply_need.csv", encoding="utf-8-sig")
    assert set(table["level"]) == {"unit", "街道"}
    conv = table.loc[table["category"] == "convenience_store"].set_index("unit_id")
    # 10 m2 per 1000 residents; the roll-up needs what its two communities need
    assert conv.loc["北太平庄", "need"] == pytest.approx(conv.loc[["C1", "C2"], "need"].sum())
    assert conv.loc["C1", "need"] == pytest.approx(10 * conv.loc["C1", "residents"] / 1000)
    check = pd.read_csv(out / "checklist.csv", encoding="utf-8-sig")
    assert {"nearest_facility", "nearest_name", "nearest_m"} <= set(check.columns)
    rolled = pd.read_csv(out / "checklist_rollup.csv", encoding="utf-8-sig")
    assert set(rolled["unit_id"]) == {"北太平庄"} and set(rolled["level"]) == {"街道"}
    # the hand-made extract's only kindergarten is named for the communities that miss one
    kg = check.loc[check["category"] == "kindergarten"]
    assert set(kg["nearest_name"].dropna()) <= {"北邮幼儿园"}
    from openpyxl import load_workbook

    wb = load_workbook(out / "report.xlsx")
    assert "Supply versus need" in wb.sheetnames
    sheet = next(wb[n] for n in wb.sheetnames if n.lower().startswith("checklist"))
    header = [c.value for c in sheet[1]]
    assert header[7].startswith("Nearest facility")
    names = [r[7] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == [n if isinstance(n, str) else None for n in check["nearest_name"]]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Supply versus need" in html
    bad = main([*args, "--rollup", "区", "--out", str(tmp_path / "o2"), "--offline", "-q"])
    assert bad == 2 and "区" in capsys.readouterr().err


def test_the_map_colours_units_by_supply_against_need(tmp_path: Path, capsys) -> None:
    """The map's supply layer: each unit filled by its status in supply_need.csv."""
    import json
    import re

    from lifecircle.maps.coverage_map import SUPPLY_COLOURS

    osm = write_osm(tmp_path / "x.osm")
    units = tmp_path / "units.geojson"
    units.write_text(
        UNITS.format(west=_ring(-40, -190, 200, 340), east=_ring(200, -190, 440, 340)),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["plan", "--osm", str(osm), "--units", str(units), "--catalog", "beijing"]
    args += ["--map-category", "nursery", "--out", str(out), "--offline", "-q"]
    assert main(args) in (0, None), capsys.readouterr()
    table = pd.read_csv(out / "supply_need.csv", encoding="utf-8-sig")
    want = {
        str(r.unit_id): SUPPLY_COLOURS[r.status]
        for r in table.loc[
            (table["level"] == "unit") & (table["category"] == "nursery")
        ].itertuples()
    }
    assert len(want) == 2
    html = (out / "map.html").read_text(encoding="utf-8")
    props = [json.loads(p) for p in re.findall(r'"properties": (\{[^{}]*"fill"[^{}]*\})', html)]
    found = {p["unit"]: p["fill"] for p in props if "supply" in p}
    assert found == want
    assert "供需" not in html and "Supply versus need: " in html  # the layer's name, in English
    assert '"Shortfall"' in html  # the hover's labels
