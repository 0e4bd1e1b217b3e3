"""A category's demand is its age group (issue 17): 2SFCA, placement and coverage weigh the
children aged 3-5 for a kindergarten, every resident for a pharmacy, on small hand cases
along one street 0..1000 m."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from lifecircle.coverage.access import nearest_facilities
from lifecircle.coverage.fca import capacity_by_unit
from lifecircle.coverage.network import WalkNetwork
from lifecircle.coverage.sites import recommend_sites
from lifecircle.coverage.tables import coverage_tables
from lifecircle.geo.catalog import Category, ServiceCatalog
from tests.conftest import METRIC, lines


def _study(threshold_m: float, homes: list[tuple[float, float, float]], kg: list[float]):
    """Homes at x (residents, children 3-5) in units U1 (x < 600) and U2; kindergartens
    (capacity 10, 5, ...) and one pharmacy at 0."""
    net = WalkNetwork.from_edges(lines([(1, 2, [(0, 0), (1000, 0)])]))
    cats = (
        Category("kindergarten", "幼儿园", "Kindergarten", "5min", "basic", True,
                 threshold_m=threshold_m, ages=(3, 5)),
        Category("pharmacy", "药店", "Pharmacy", "5min", "basic", True, threshold_m=threshold_m),
    )  # fmt: skip
    catalog = ServiceCatalog("t", "t", "t", "", cats)
    demand = gpd.GeoDataFrame(
        {
            "demand_id": [f"d{i}" for i in range(len(homes))],
            "unit_id": ["U1" if x < 600 else "U2" for x, _, _ in homes],
            "residents": [r for _, r, _ in homes],
            "age_3_5": [k for _, _, k in homes],
        },
        geometry=shapely.points([(x, 0.0) for x, _, _ in homes]),
        crs=METRIC,
    )
    fac = gpd.GeoDataFrame(
        {
            "facility_id": [f"k{i}" for i in range(len(kg))] + ["p0"],
            "category": ["kindergarten"] * len(kg) + ["pharmacy"],
            "capacity": [*[10.0, 5.0][: len(kg)], np.nan],
        },
        geometry=shapely.points([(x, 0.0) for x in kg] + [(0.0, 0.0)]),
        crs=METRIC,
    )
    access = nearest_facilities(net, demand, fac, catalog)
    return net, access, SimpleNamespace(facilities=fac, catalog=catalog)


def test_2sfca_shares_places_among_the_children_in_reach() -> None:
    # kindergartens at 0 (10 places) and 1000 (5 places), threshold 600; homes at 100, 500
    # and 900 with 200, 100, 300 residents of whom 10, 20, 5 are aged 3-5
    net, access, area = _study(600, [(100, 200, 10), (500, 100, 20), (900, 300, 5)], [0, 1000])
    assert access.age_groups == {"kindergarten": "3-5"}
    np.testing.assert_array_equal(access.weights("kindergarten"), [10.0, 20.0, 5.0])
    np.testing.assert_array_equal(access.weights("pharmacy"), [200.0, 100.0, 300.0])
    got = capacity_by_unit(access, area, net)  # type: ignore[arg-type]
    assert got is not None
    row = got.set_index("unit_id")
    # the one at 0 reaches the children at 100 and 500 (30): 1/3 place each; the one at 1000
    # those at 500 and 900 (25): 1/5 each. U1: 10 x 1/3 + 20 x (1/3 + 1/5) = 14 places for
    # 30 children; U2: 5 x 1/5 = 1 place for 5 children
    assert row.loc["U1", "places_per_1000"] == pytest.approx(1000 * 14 / 30)
    assert row.loc["U2", "places_per_1000"] == pytest.approx(1000 * 1 / 5)
    assert row["residents"].to_dict() == {"U1": 30.0, "U2": 5.0}
    assert set(row["age_group"]) == {"3-5"}


def test_a_site_goes_where_the_children_are_not_where_most_residents_are() -> None:
    # one kindergarten at 0, threshold 300: the home at 100 is covered; candidates at 500
    # and 900 each cover only their own home: 10 residents with 9 children, or 300
    # residents with 1 child
    homes = [(100, 50, 5), (500, 10, 9), (900, 300, 1)]
    net, access, _ = _study(300, homes, [0])
    candidates = gpd.GeoDataFrame(
        {"candidate_id": ["c500", "c900"]},
        geometry=shapely.points([(500, 0), (900, 0)]),
        crs=METRIC,
    )
    kg = recommend_sites(net, access, candidates, "kindergarten", p=1)
    assert kg.sites["candidate_id"].tolist() == ["c500"]
    assert kg.sites["new_residents"].tolist() == [9.0]
    assert kg.sites["cumulative_share"].tolist() == pytest.approx([(5 + 9) / 15])
    pharmacy = recommend_sites(net, access, candidates, "pharmacy", p=1)
    assert pharmacy.sites["candidate_id"].tolist() == ["c900"]  # everyone weighs there
    assert pharmacy.sites["new_residents"].tolist() == [300.0]


def test_coverage_is_a_share_of_the_group() -> None:
    homes = [(100, 50, 5), (500, 10, 9), (900, 300, 1)]
    _, access, area = _study(300, homes, [0])
    units = pd.DataFrame({"unit_id": ["U1", "U2"]})
    cov = coverage_tables(access, units, area.catalog)
    overall = cov.overall.set_index("category")
    assert overall.loc["kindergarten", "age_group"] == "3-5"
    assert overall.loc["kindergarten", "share"] == pytest.approx(5 / 15)
    assert overall.loc["pharmacy", "age_group"] == ""
    assert overall.loc["pharmacy", "share"] == pytest.approx(50 / 360)
    u1 = cov.by_unit.set_index(["unit_id", "category"]).loc[("U1", "kindergarten")]
    assert (u1["residents"], u1["demand"], u1["covered_residents"]) == (60.0, 14.0, 5.0)
    # without age columns the same study reads as it always did: no group columns
    plain = access.__class__(**{**access.__dict__, "age_groups": {}})
    assert "age_group" not in coverage_tables(plain, units, area.catalog).overall.columns
