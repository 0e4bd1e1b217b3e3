"""The checklist names the facility nearest to most of a unit's residents, and rolls up to
a sub-district column: both recomputed by plain loops over the access table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifecircle.coverage.access import nearest_facilities
from lifecircle.coverage.supply import checklist_rollup
from lifecircle.coverage.tables import coverage_tables


@pytest.fixture(scope="module")
def tables(helsinki_area, helsinki_network):
    area = helsinki_area
    access = nearest_facilities(helsinki_network, area.demand, area.facilities, area.catalog)
    cov = coverage_tables(access, area.units, area.catalog, facilities=area.facilities)
    return area, access, cov


def test_each_missing_service_names_its_nearest_facility(tables) -> None:
    area, access, cov = tables
    check = cov.checklist
    assert {"nearest_facility", "nearest_name", "nearest_m"} <= set(check.columns)
    res = access.demand.residents
    unit_of = access.demand.unit_id.astype(str)
    ids = area.facilities["facility_id"].astype(str).to_numpy()
    named = 0
    for _, row in check.iterrows():
        k = access.column(row["category"])
        pts = [i for i in np.flatnonzero(unit_of == str(row["unit_id"])) if res[i] > 0]
        weight: dict[int, float] = {}
        for i in pts:
            f = int(access.facility[i, k])
            if f >= 0:
                weight[f] = weight.get(f, 0.0) + res[i]
        if not weight:
            assert pd.isna(row["nearest_facility"]) and np.isnan(row["nearest_m"])
            continue
        best = max(weight, key=lambda f: (weight[f], -f))  # ties: the first, as argmax
        assert row["nearest_facility"] == ids[best]
        name = area.facilities["name"].iloc[best]
        assert row["nearest_name"] == name or (pd.isna(name) and pd.isna(row["nearest_name"]))
        # the median walk of the residents who have it as their nearest
        mine = sorted(
            (access.distance_m[i, k], res[i]) for i in pts if access.facility[i, k] == best
        )
        total, acc, median = sum(w for _, w in mine), 0.0, np.nan
        for d, w in mine:
            acc += w
            if acc >= 0.5 * total - 1e-9 * total:
                median = d
                break
        assert row["nearest_m"] == pytest.approx(median)
        named += 1
    assert named >= 20


def test_the_checklist_rolls_up_to_a_sub_district(tables) -> None:
    area, _, cov = tables
    units = area.units.copy()
    units["街道"] = [f"S{int(u[1:3]) % 2}" for u in units["unit_id"]]
    rolled = checklist_rollup(cov.checklist, cov.by_unit, units, "街道")
    group_of = dict(zip(units["unit_id"], units["街道"], strict=True))
    check = cov.checklist.assign(group=cov.checklist["unit_id"].map(group_of))
    by_unit = cov.by_unit.set_index(["unit_id", "category"])
    assert len(rolled) == check.groupby(["group", "category"]).ngroups
    for _, r in rolled.iterrows():
        mine = check.loc[(check["group"] == r["unit_id"]) & (check["category"] == r["category"])]
        assert r["units_missing"] == len(mine)
        assert set(r["missing_units"].split(";")) == set(mine["unit_id"])
        unc = sum(
            by_unit.loc[(u, r["category"]), "residents"]
            - by_unit.loc[(u, r["category"]), "covered_residents"]
            for u in mine["unit_id"]
        )
        assert r["uncovered_residents"] == pytest.approx(unc)
        people = cov.by_unit.drop_duplicates("unit_id")
        in_group = people["unit_id"].map(group_of) == r["unit_id"]
        assert r["units"] == int((in_group & (people["residents"] > 0)).sum())
        if mine["nearest_facility"].notna().any():
            w = mine.assign(
                unc=[
                    by_unit.loc[(u, r["category"]), "residents"]
                    - by_unit.loc[(u, r["category"]), "covered_residents"]
                    for u in mine["unit_id"]
                ]
            )
            totals = w.dropna(subset=["nearest_facility"]).groupby("nearest_facility")["unc"].sum()
            assert totals[r["nearest_facility"]] == pytest.approx(totals.max())
    assert set(rolled["level"]) == {"街道"}
