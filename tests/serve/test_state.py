"""The what-if study's coverage after adds, moves and removes equals a fresh run_plan with
the same facilities, to the resident."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from lifecircle.analysis import run_plan
from lifecircle.params import PlanParams
from lifecircle.serve.state import ChangeError, WhatIf

PARAMS = PlanParams(candidate_spacing_m=None, catchments=False)


def _fresh(w: WhatIf) -> pd.DataFrame:
    """run_plan on the study with the scenario's facilities (kept ones and proposals)."""
    area = w.area
    kept = area.facilities.loc[w.active]
    rows = [(p.pid, p.category, p.lon, p.lat) for p in w.proposals.values()]
    new = gpd.GeoDataFrame(
        {
            "facility_id": [r[0] for r in rows],
            "category": [r[1] for r in rows],
            "name": None,
            "source": "scenario.csv",
            "capacity": np.nan,
        },
        geometry=gpd.points_from_xy([r[2] for r in rows], [r[3] for r in rows]),
        crs="EPSG:4326",
    ).to_crs(area.crs)
    facilities = gpd.GeoDataFrame(pd.concat([kept, new], ignore_index=True), crs=area.crs)
    result = run_plan(replace(area, facilities=facilities), PARAMS)
    return result


def _street_points(w: WhatIf, n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` points on streets of the study (WGS84), far from each other."""
    rng = np.random.default_rng(seed)
    edges = w.area.edges.geometry.to_numpy()
    picks = rng.choice(len(edges), n, replace=False)
    pts = gpd.GeoSeries(
        [edges[i].interpolate(0.5, normalized=True) for i in picks], crs=w.area.crs
    ).to_crs("EPSG:4326")
    return [(p.x, p.y) for p in pts]


@pytest.fixture(scope="module")
def whatif(helsinki_area) -> WhatIf:
    return WhatIf(helsinki_area, PARAMS)


def test_adds_moves_removes_equal_a_fresh_run(whatif) -> None:
    w = whatif
    cat = "kindergarten"
    k = w.column(cat)
    start = w.headline(k)
    spots = _street_points(w, 12, seed=4)
    added = []
    for lon, lat in spots[:4]:
        try:
            added.append(w.add(cat, lon, lat))
        except ChangeError as err:  # next to an existing one: refused, nothing changes
            assert err.key == "too_close"
    assert len(added) >= 2
    assert w.headline(k)["covered_residents"] > start["covered_residents"]
    w.move(added[0].facility, *spots[5])
    existing = [f for f in w.ids[(w.cats == cat) & w.active]][:2]
    for fid in existing:
        w.remove(fid)
    w.move(str(w.ids[(w.cats == "pharmacy") & w.active][0]), *spots[6])
    w.remove(added[1].facility)
    fresh = _fresh(w)
    overall = fresh.coverage.overall.set_index("category")
    for c in ("kindergarten", "pharmacy"):
        mine = w.headline(w.column(c))
        assert mine["covered_residents"] == pytest.approx(
            overall.loc[c, "covered_residents"], abs=1e-6
        )
        assert mine["units_covered"] == overall.loc[c, "units_covered"]
        got = w.distance[:, w.column(c)]
        want = fresh.access.distance_m[:, fresh.access.column(c)]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    comp = fresh.coverage.completeness_overall.set_index("level")
    assert w.headline(k)["residents_complete"] == pytest.approx(
        comp.loc["all", "residents_complete"]
    )
    # every change undone: the study's own figures again
    while w.undo() is not None:
        pass
    np.testing.assert_array_equal(w.distance, w.base_distance)


def test_bad_changes_are_refused(whatif) -> None:
    w = whatif
    with pytest.raises(ChangeError) as err:
        w.add("no_such", 24.94, 60.17)
    assert err.value.key == "unknown_category"
    with pytest.raises(ChangeError) as err:
        w.add("pharmacy", 0.0, 0.0)  # in the sea, far from any street
    assert err.value.key == "off_network"
    with pytest.raises(ChangeError) as err:
        w.remove("nope")
    assert err.value.key == "unknown_facility"
    assert w.changes == []


def test_a_unit_found_by_its_chinese_name_and_its_checklist(helsinki_area) -> None:
    units = helsinki_area.units.copy()
    units["name"] = [f"海淀区第{i}社区" for i in range(len(units))]
    w = WhatIf(replace(helsinki_area, units=units), PARAMS)
    hits = w.find_units("第3社区")
    assert [h["unit_id"] for h in hits] == [str(units["unit_id"].iloc[3])]
    assert w.find_units("") == []
    # the unit with the most residents, a pharmacy proposed on a street inside it
    top = int(w.unit_res.argmax())
    uid = str(w.unit_ids[top])
    cell = units.geometry.iloc[top]
    inside = w.area.edges.loc[w.area.edges.intersects(cell.buffer(-20))]
    before = {r["category"]: r for r in w.checklist(uid)}
    # a service the unit misses: the pharmacy, else the first missing one (the walking
    # network, cycleways open to walkers included, may already bring a pharmacy in reach)
    cat = "pharmacy" if "pharmacy" in before else next(iter(before))
    k = w.column(cat)
    for g in inside.geometry.intersection(cell.buffer(-20)):  # the part of a street inside
        p = gpd.GeoSeries([g.interpolate(0.5, normalized=True)], crs=w.area.crs).to_crs(4326)[0]
        try:
            change = w.add(cat, p.x, p.y)
            break
        except ChangeError:
            continue
    after = {r["category"]: r for r in w.checklist(uid)}
    row = after.get(cat) or before.get(cat)
    assert row is not None  # missing before (or still after)
    idx = np.flatnonzero(w.unit_code == top)
    res = w.access.demand.residents[idx]
    want = res[w.distance[idx, k] <= w.access.thresholds_m[k]].sum() / res.sum()
    assert row["share_after"] == pytest.approx(want)
    assert row["nearest_after"] == change.facility or row["walk_after"] <= (
        row["walk_before"] or np.inf
    )
