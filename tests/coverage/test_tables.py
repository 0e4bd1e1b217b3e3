"""Coverage tables, completeness, checklists, gaps, 2SFCA and scenarios, against brute force."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from lifecircle.coverage.access import Access, DemandView, nearest_facilities
from lifecircle.coverage.fca import capacity_by_unit, two_step_fca
from lifecircle.coverage.gaps import find_gaps
from lifecircle.coverage.network import Snap, WalkNetwork
from lifecircle.coverage.tables import (
    aligned_demand,
    coverage_tables,
    grouped_quantiles,
    residents_served,
    weighted_quantile,
)
from lifecircle.geo.catalog import Category, ServiceCatalog
from tests.conftest import assert_aligned, lines


def synthetic(seed: int = 0, n: int = 400):
    """A random access table: 4 categories on two levels, 6 units, some unreachable points."""
    rng = np.random.default_rng(seed)
    cats = (
        Category("a", "甲", "A", "5min", "basic", True, threshold_m=300),
        Category("b", "乙", "B", "5min", "basic", True, threshold_m=300),
        Category("c", "丙", "C", "15min", "basic", True, threshold_m=1000),
        Category("d", "丁", "D", "15min", "market", False, threshold_m=1000),
    )
    catalog = ServiceCatalog("t", "t", "t", "", cats)
    dist = rng.uniform(0, 2500, (n, 4))
    dist[rng.random((n, 4)) < 0.1] = np.inf
    units = pd.DataFrame({"unit_id": [f"U{i}" for i in range(7)]})  # U6 has nobody
    demand = pd.DataFrame(
        {"residents": rng.uniform(1, 100, n), "unit_id": rng.choice([f"U{i}" for i in range(6)], n)}
    )
    access = Access(
        demand=DemandView.from_frame(demand),
        categories=list(catalog.ids),
        thresholds_m=np.array([300.0, 300.0, 1000.0, 1000.0]),
        limits_m=np.array([900.0, 900.0, 3000.0, 3000.0]),
        distance_m=dist,
        facility=np.zeros((n, 4), dtype=np.int64),
        demand_snap=Snap(np.zeros(n, np.int64), np.zeros(n), np.zeros(n)),
        demand_component_size=np.ones(n, np.int64),
        speed_kmh=4.0,
        max_snap_m=250.0,
    )
    return access, demand, units, catalog


def test_unit_and_overall_coverage_equal_a_brute_force_recount() -> None:
    access, demand, units, catalog = synthetic()
    assert_aligned(access, demand)
    cov = coverage_tables(access, units, catalog, unit_share=0.4)
    for _, row in cov.by_unit.iterrows():
        sel = (demand["unit_id"] == row["unit_id"]).to_numpy()
        k = access.column(row["category"])
        res = demand["residents"].to_numpy()[sel]
        covered = access.distance_m[sel, k] <= access.thresholds_m[k]
        assert row["residents"] == pytest.approx(res.sum())
        assert row["covered_residents"] == pytest.approx(res[covered].sum())
        if sel.any():
            assert row["share"] == pytest.approx(res[covered].sum() / res.sum())
            assert bool(row["covered"]) == (res[covered].sum() / res.sum() >= 0.4)
        else:
            assert np.isnan(row["share"]) and pd.isna(row["covered"])
    res = demand["residents"].to_numpy()
    for _, row in cov.overall.iterrows():
        k = access.column(row["category"])
        covered = access.distance_m[:, k] <= access.thresholds_m[k]
        assert row["share"] == pytest.approx(res[covered].sum() / res.sum())
        per_unit = demand.assign(c=covered * res).groupby("unit_id")[["c", "residents"]].sum()
        assert row["units"] == 6
        assert row["units_covered"] == int((per_unit["c"] / per_unit["residents"] >= 0.4).sum())


def test_completeness_and_checklist_equal_a_brute_force_recount() -> None:
    access, demand, units, catalog = synthetic(1)
    cov = coverage_tables(access, units, catalog, unit_share=0.5)
    within = access.distance_m <= access.thresholds_m
    five = within[:, 0] & within[:, 1]
    fifteen = within[:, 2]  # d is not required
    res = demand["residents"].to_numpy()
    overall = cov.completeness_overall.set_index("level")
    assert overall.at["5min", "share_complete"] == pytest.approx(res[five].sum() / res.sum())
    assert overall.at["15min", "share_complete"] == pytest.approx(res[fifteen].sum() / res.sum())
    assert overall.at["all", "share_complete"] == pytest.approx(
        res[five & fifteen].sum() / res.sum()
    )
    assert (cov.points["reached_5min"].to_numpy() == within[:, :2].sum(axis=1)).all()
    # the checklist: per unit, the categories not covered, with the median walk
    for uid, grp in demand.groupby("unit_id"):
        idx = grp.index.to_numpy()
        expect = []
        for k, c in enumerate(catalog.ids):
            share = res[idx][within[idx, k]].sum() / res[idx].sum()
            if share < 0.5:
                expect.append((c, weighted_quantile(access.distance_m[idx, k], res[idx], 0.5)))
        got = cov.checklist.loc[cov.checklist["unit_id"] == uid]
        assert sorted(got["category"]) == sorted(c for c, _ in expect)
        for c, d in expect:
            assert got.set_index("category").at[c, "distance_m"] == pytest.approx(d)
    # required categories come first in each unit's list
    for _, grp in cov.checklist.groupby("unit_id"):
        req = grp["required"].to_numpy()
        assert (np.diff(req.astype(int)) <= 0).all()


def test_weighted_quantile_by_hand() -> None:
    v = np.array([10.0, 20.0, 30.0, 40.0])
    w = np.array([1.0, 1.0, 1.0, 7.0])
    assert weighted_quantile(v, w, 0.5) == 40.0
    assert weighted_quantile(v, w, 0.2) == 20.0
    assert weighted_quantile(v, w, 0.1) == 10.0


def test_gaps_cluster_uncovered_residents() -> None:
    access, demand, _units, _catalog = synthetic(2, n=9)
    xy = np.array(
        [
            [0, 0],
            [50, 0],
            [100, 10],
            [1000, 0],
            [1080, 0],
            [5000, 0],
            [5000, 100],
            [5000, 200],
            [9000, 9000],
        ],
        float,
    )
    gdf = gpd.GeoDataFrame(demand, geometry=shapely.points(xy), crs="EPSG:32650")
    d = np.full((9, 4), np.inf)
    d[8, 0] = 10.0  # the last point is covered
    d[0, 0], d[1, 0] = 400.0, 350.0
    fac = np.full((9, 4), -1)
    fac[1, 0] = 0
    from dataclasses import replace

    access = replace(access, distance_m=d, facility=fac)
    facilities = pd.DataFrame({"facility_id": ["f0"]})
    gaps = find_gaps(access, gdf, facilities, "a", link_m=150)
    res = gdf["residents"].to_numpy()
    groups = [[0, 1, 2], [3, 4], [5, 6, 7]]
    expected = sorted((res[g].sum() for g in groups), reverse=True)
    assert gaps["residents"].tolist() == pytest.approx(expected)
    assert gaps["rank"].tolist() == [1, 2, 3]
    first = gaps.set_index("points").loc[3] if (gaps["points"] == 3).sum() == 1 else None
    assert sorted(gaps["points"]) == [2, 3, 3]
    west = gaps.loc[gaps["nearest_facility"] == "f0"]
    assert len(west) == 1 and west["nearest_m"].iloc[0] == 350.0
    del first


def test_two_step_floating_catchment_by_hand() -> None:
    # a street 0..1000; facility A (100 places) at 0, B (50 places) at 1000; threshold 600
    net = WalkNetwork.from_edges(lines([(1, 2, [(0, 0), (1000, 0)])]))
    homes = np.array([[100.0, 0], [500.0, 0], [900.0, 0]])
    residents = np.array([200.0, 100.0, 300.0])
    fac = gpd.GeoDataFrame(
        {"facility_id": ["A", "B"], "capacity": [100.0, 50.0]},
        geometry=shapely.points([[0, 0], [1000, 0]]),
        crs="EPSG:32650",
    )
    score, table = two_step_fca(net, net.snap(homes), residents, fac, threshold_m=600)
    # A reaches the homes at 100 and 500 (300 residents): 1/3 place each;
    # B reaches the homes at 500 and 900 (400 residents): 1/8 place each
    assert table["ratio"].tolist() == pytest.approx([100 / 300, 50 / 400])
    assert score.tolist() == pytest.approx([1 / 3, 1 / 3 + 1 / 8, 1 / 8])


def test_capacity_from_the_kept_facility_snaps_equals_a_fresh_2sfca(
    helsinki_area, helsinki_network
) -> None:
    """capacity_by_unit uses the access result's facility snaps: the same scores as 2SFCA
    snapping the category's facilities afresh."""
    net = helsinki_network
    fac = helsinki_area.facilities.copy()
    fac["capacity"] = np.random.default_rng(0).integers(10, 200, len(fac)).astype(float)
    fac.loc[fac.index[::5], "capacity"] = np.nan  # some get the median
    area = type(helsinki_area)(**{**helsinki_area.__dict__, "facilities": fac})
    access = nearest_facilities(net, area.demand, fac, area.catalog)
    assert_aligned(access, area.demand)
    got = capacity_by_unit(access, area, net)
    assert got is not None
    res = area.demand["residents"].to_numpy(float)
    for k, cat in enumerate(access.categories):
        sub = fac.loc[fac["category"] == cat].reset_index(drop=True)
        if len(sub) == 0:
            continue
        score, _ = two_step_fca(
            net, net.snap(area.demand), res, sub, threshold_m=float(access.thresholds_m[k])
        )
        frame = pd.DataFrame({"u": area.demand["unit_id"].astype(str), "w": res, "s": score * res})
        per = frame.groupby("u")[["w", "s"]].sum()
        expect = 1000 * per["s"] / per["w"]
        mine = got.loc[got["category"] == cat].set_index("unit_id")["places_per_1000"]
        np.testing.assert_array_equal(mine.to_numpy(), expect.loc[mine.index].to_numpy())


def test_residents_served_reads_the_access_results_own_demand() -> None:
    """Each facility's residents served, recounted point by point from the demand frame the
    access result was made from; a frame in another order is refused, not re-paired."""
    access, demand, _, _ = synthetic(seed=3, n=120)
    rng = np.random.default_rng(3)
    n_fac = 9
    facility = rng.integers(-1, n_fac, access.facility.shape)
    demand = demand.assign(demand_id=np.arange(100, 100 + len(demand)))
    access = replace(access, facility=facility, demand=DemandView.from_frame(demand))
    assert_aligned(access, demand)
    expected = np.zeros(n_fac)
    for i, row in enumerate(demand.itertuples()):
        for k in range(len(access.categories)):
            j = facility[i, k]
            if j >= 0 and access.distance_m[i, k] <= access.thresholds_m[k]:
                expected[j] += row.residents
    np.testing.assert_allclose(residents_served(access, n_fac), expected)
    assert aligned_demand(access, demand) is demand
    with pytest.raises(ValueError, match="not the demand frame's points"):
        aligned_demand(access, demand.iloc[::-1])


def test_grouped_quantiles_are_each_groups_weighted_quantile() -> None:
    """All groups at once give, value for value, what weighted_quantile gives one group at a
    time: with tied values, unreachable (inf) points, zero weights and points in no group."""
    rng = np.random.default_rng(5)
    n, n_groups = 20_000, 300
    values = rng.integers(0, 40, n).astype(float) * 25.0  # many ties
    values[rng.random(n) < 0.1] = np.inf
    weights = rng.choice([0.0, 0.5, 1.0, 3.25, 17.0], n)
    groups = rng.integers(-1, n_groups, n)
    groups[groups == 7] = 8  # a group with no point
    got = grouped_quantiles(values, weights, groups, n_groups, (0.5, 0.9, 1.0))
    for g in range(n_groups):
        mine = groups == g
        for c, q in enumerate((0.5, 0.9, 1.0)):
            want = weighted_quantile(values[mine], weights[mine], q)
            assert got[g, c] == want or (np.isnan(want) and np.isnan(got[g, c]))
    assert np.isnan(got[7]).all() and np.isinf(got[:, 1]).any()
