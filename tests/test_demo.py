"""`lifecircle demo` end to end on the real Helsinki extract, outputs checked for real values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifecircle.coverage.placement import CoverageProblem, MaximalCovering
from tests.oracle import brute_force_max_cover


def read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / name, encoding="utf-8-sig")


def test_outputs_are_written(demo_run) -> None:
    _, out = demo_run
    for name in (
        "map.html",
        "coverage_by_unit.csv",
        "access.csv",
        "sites.csv",
        "run.json",
        "checklist.csv",
    ):
        assert (out / name).is_file(), name
    assert not list(out.parent.glob(".out.*")), "no temporary folder left behind"


def test_coverage_shares_are_real_shares(demo_run) -> None:
    result, out = demo_run
    cov = read(out, "coverage_by_unit.csv")
    shares = cov["share"].dropna()
    assert len(shares) > 100
    assert shares.between(0, 1).all()
    assert 0 < shares.mean() < 1  # some covered, some not
    assert set(cov["category"]) == set(result.area.catalog.ids)
    assert (cov["covered_residents"] <= cov["residents"] + 1e-6).all()
    # the per-unit residents add up to the study's residents for every category
    for _, grp in cov.groupby("category"):
        assert grp["residents"].sum() == pytest.approx(result.area.demand["residents"].sum())


def test_access_table_has_a_distance_per_category(demo_run) -> None:
    result, out = demo_run
    acc = read(out, "access.csv")
    assert len(acc) == len(result.area.demand) > 100
    assert {"demand_id", "lon", "lat", "residents", "unit_id"} <= set(acc.columns)
    assert acc["lon"].between(24.9, 25.0).all() and acc["lat"].between(60.1, 60.2).all()
    for cat in result.area.catalog.ids:
        col = acc[f"{cat}_m"]
        limit = result.access.limits_m[result.access.column(cat)]
        assert (col.dropna() <= limit + 1e-6).all()
    # no pharmacy is nearer than its access legs allow, and many are within 300 m
    assert acc["pharmacy_m"].notna().sum() > 50
    assert acc["kindergarten_m"].isna().all()  # no kindergarten is mapped in this extract


def test_sites_each_cover_new_residents(demo_run) -> None:
    result, out = demo_run
    sites = read(out, "sites.csv")
    assert sites["rank"].tolist() == [1, 2, 3]
    assert (sites["residents_newly_covered"] > 0).all()
    gains = sites["residents_newly_covered"].to_numpy()
    assert (np.diff(gains) <= 1e-6).all()  # ranked: the first adds the most
    rec = next(iter(result.sites.values()))
    assert rec.result.status == "optimal"
    # the reported shares follow from the gains
    total = result.area.demand["residents"].sum()
    k = result.access.column(rec.category)
    base = result.area.demand["residents"].to_numpy()[result.access.covered[:, k]].sum()
    np.testing.assert_allclose(
        sites["cumulative_share"], (base + np.cumsum(gains)) / total, atol=1e-3
    )


def test_optimum_equals_brute_force_on_a_small_candidate_set(demo_run) -> None:
    result, _ = demo_run
    rec = next(iter(result.sites.values()))
    k = result.access.column(rec.category)
    rng = np.random.default_rng(7)
    cand = result.candidates.iloc[rng.choice(len(result.candidates), 22, replace=False)]
    net = result.network
    snaps = net.snap(cand)
    pairs = net.pair_distances(
        snaps, result.access.demand_snap, limit_m=result.access.thresholds_m[k]
    )
    weights = np.where(result.access.covered[:, k], 0.0, result.area.demand["residents"].to_numpy())
    problem = CoverageProblem(pairs.to_csr(), weights)
    best = brute_force_max_cover(problem.sets, problem.weights, 3)
    assert best > 0
    assert MaximalCovering(3).solve(problem).covered == pytest.approx(best)


def test_run_json_records_stages_and_inputs(demo_run) -> None:
    _, out = demo_run
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["tool"] == "lifecircle" and run["command"] == "demo"
    assert {"load", "network", "access", "coverage", "placement"} <= set(run["timings_s"])
    src = run["inputs"][0]
    assert src["path"].endswith("Helsinki.osm.pbf") and len(src["sha256"]) == 64
    assert run["counts"]["residents"] > 1000


def test_map_is_self_contained(demo_run) -> None:
    _, out = demo_run
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and 'rel="stylesheet" href=' not in html
    assert "OpenStreetMap contributors" in html
    assert (out / "map.html").stat().st_size < 5_000_000


def test_scenario_gains_equal_the_placement_gains(demo_run) -> None:
    result, out = demo_run
    rec = next(iter(result.sites.values()))
    scen = result.scenario
    assert scen is not None
    row = scen.overall.set_index("category").loc[rec.category]
    # a fresh search with the new sites finds exactly the residents placement promised
    assert row["residents_gained"] == pytest.approx(rec.sites["new_residents"].sum(), rel=1e-9)
    assert row["share_after"] > row["share_before"]
    others = scen.overall.loc[scen.overall["category"] != rec.category]
    assert (others["residents_gained"].abs() < 1e-9).all()
    saved = read(out, "scenario_overall.csv").set_index("category")
    assert saved.loc[rec.category, "residents_gained"] == pytest.approx(
        row["residents_gained"], rel=1e-5
    )


def test_gaps_and_catchments_reach_the_result_and_the_outputs(demo_run) -> None:
    result, out = demo_run
    gaps = read(out, "gaps.csv")
    assert len(gaps) == len(result.gaps) > 0
    res = result.area.demand["residents"].to_numpy()
    for cat, grp in result.gaps.groupby("category"):
        k = result.access.column(cat)
        uncovered = res[~result.access.covered[:, k]].sum()
        assert grp["residents"].sum() == pytest.approx(
            uncovered
        )  # every uncovered resident in one gap
        assert (grp["rank"].to_numpy() == np.arange(1, len(grp) + 1)).all()
    cats = result.catchments
    existing = cats.loc[cats["kind"] == "existing"]
    assert set(existing["category"]) == set(result.area.facilities["category"])
    proposed = cats.loc[cats["kind"] == "proposed"]
    assert set(proposed["category"]) == set(result.sites)  # what the new sites would reach
    assert cats.geometry.is_valid.all() and (cats.area > 0).all()
