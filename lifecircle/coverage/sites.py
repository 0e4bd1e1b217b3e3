"""Recommend new facility sites for a category: the GeoDataFrame front of placement.

Candidates are the user's sites, or generated on the walk network (its nodes, or points
every ``spacing_m`` along ground-level streets) inside the units. Coverage sets come from
bounded walking searches from each candidate (only pairs within the threshold are kept);
demand is the residents not yet covered by existing facilities, which always stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from shapely.geometry.base import BaseGeometry

from lifecircle.coverage.access import Access
from lifecircle.coverage.network import Snap, WalkNetwork
from lifecircle.coverage.placement import (
    CoverageProblem,
    MaximalCovering,
    PlacementResult,
    SetCovering,
)
from lifecircle.geo.study_area import StudyArea

__all__ = [
    "SiteRecommendation",
    "coverage_sets",
    "network_candidates",
    "placement_category",
    "recommend_sites",
    "sites_frame",
]


def network_candidates(
    network: WalkNetwork, area: BaseGeometry, *, spacing_m: float | None = 100.0
) -> gpd.GeoDataFrame:
    """Candidate sites on ground-level streets inside ``area``.

    Parameters
    ----------
    network
        The walk network.
    area
        Where new facilities may go (the units), in the network's CRS.
    spacing_m
        Points every ``spacing_m`` metres along each street (and its ends); ``None`` takes
        the network's nodes instead.
    """
    ground = np.flatnonzero(network.ground)
    geoms = network.geometry[ground]
    if spacing_m is None:
        pts = np.concatenate([shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)])
    else:
        lengths = network.length[ground]
        n = np.maximum(1, np.ceil(lengths / spacing_m).astype(int))
        rep = np.repeat(np.arange(len(geoms)), n + 1)
        frac = np.concatenate([np.linspace(0.0, 1.0, k + 1) for k in n]) if len(n) else np.empty(0)
        pts = shapely.line_interpolate_point(geoms[rep], frac, normalized=True)
    xy = np.round(shapely.get_coordinates(pts), 1)
    _, first = np.unique(xy, axis=0, return_index=True)
    pts = pts[np.sort(first)]
    inside = (
        shapely.contains_xy(area, *shapely.get_coordinates(pts).T)
        if len(pts)
        else np.zeros(0, bool)
    )
    pts = pts[inside]
    return gpd.GeoDataFrame(
        {"candidate_id": [f"c{i + 1}" for i in range(len(pts))], "name": None},
        geometry=pts,
        crs=network.crs,
    )


@dataclass(frozen=True)
class SiteRecommendation:
    """Recommended sites for one category.

    Attributes
    ----------
    category
        The category id.
    sites
        One row per site in rank order: ``rank``, ``candidate_id``, ``name``, ``street``,
        ``x``, ``y`` (metric CRS), ``lon``, ``lat``, ``new_residents`` (newly covered by this
        site, after the better-ranked ones), ``cumulative_residents``, ``cumulative_share``
        (share of all residents covered, existing facilities included), ``units`` (unit ids
        that gain), point geometry.
    result
        The solver's result (status, bound, gap, timings).
    newly_covered
        For each demand point, the rank of the site that newly covers it (0: none).
    uncoverable_residents
        Uncovered residents that no candidate reaches: they need a site elsewhere.
    candidates
        How many candidate sites were considered.
    """

    category: str
    sites: gpd.GeoDataFrame
    result: PlacementResult
    newly_covered: np.ndarray
    uncoverable_residents: float
    candidates: int
    p: int | None
    share: float | None


def recommend_sites(
    network: WalkNetwork,
    access: Access,
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    category: str,
    *,
    p: int | None = None,
    share: float | None = None,
    max_snap_m: float | None = None,
    time_limit_s: float = 60.0,
    method: str = "auto",
) -> SiteRecommendation:
    """Choose new sites for ``category``: ``p`` sites (maximal covering) or the fewest that
    cover ``share`` of the coverable uncovered residents (set covering).

    Parameters
    ----------
    network, access, demand
        The walk network, the access result and the demand points it was computed for.
    candidates
        Candidate sites (points, or polygons: a representative point inside is used).
    category
        The category id.
    p, share
        Give exactly one.
    """
    if (p is None) == (share is None):
        raise ValueError("give exactly one of p (number of sites) and share (coverage target)")
    k = access.column(category)
    threshold = float(access.thresholds_m[k])
    residents = demand["residents"].to_numpy(float)
    uncovered = ~access.covered[:, k]
    weights = np.where(uncovered & access.snapped, residents, 0.0)
    pts = shapely.point_on_surface(candidates.to_crs(network.crs).geometry.to_numpy())
    c_snap = network.snap(pts, max_snap_m=max_snap_m or access.max_snap_m)
    problem = CoverageProblem(
        coverage_sets(network, c_snap, access.demand_snap, weights, threshold), weights
    )
    if p is not None:
        result = MaximalCovering(p, time_limit_s=time_limit_s, method=method).solve(problem)
    else:
        assert share is not None
        result = SetCovering(share, time_limit_s=time_limit_s).solve(problem)
    streets = network.names[np.maximum(c_snap.edge, 0)]
    streets[~c_snap.ok] = None
    sites, newly = sites_frame(
        result, problem, candidates, pts, streets, network.crs, demand, access.covered[:, k]
    )
    coverable = np.asarray(problem.sets.sum(axis=0)).ravel() > 0
    return SiteRecommendation(
        category=category,
        sites=sites,
        result=result,
        newly_covered=newly,
        uncoverable_residents=float(weights[~coverable].sum()),
        candidates=len(candidates),
        p=p,
        share=share,
    )


def coverage_sets(
    network: WalkNetwork,
    candidates: Snap,
    demand: Snap,
    weights: np.ndarray,
    threshold_m: float,
) -> sp.csr_matrix:
    """``(candidates, demand)`` boolean matrix: which candidate reaches which demand point
    within ``threshold_m``, for the demand points of positive weight (others stay empty).

    The walk network is undirected, so the bounded searches start from whichever side has
    fewer points: usually the residents still to cover, not the (many) candidate sites.
    """
    live = np.flatnonzero(weights > 0)
    n_c, n_d = len(candidates), len(demand)
    if len(live) <= n_c:
        pairs = network.pair_distances(demand.take(live), candidates, limit_m=threshold_m)
        rows, cols = pairs.target, live[pairs.source]
    else:
        pairs = network.pair_distances(candidates, demand.take(live), limit_m=threshold_m)
        rows, cols = pairs.source, live[pairs.target]
    return sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n_c, n_d))


def sites_frame(
    result: PlacementResult,
    problem: CoverageProblem,
    candidates: pd.DataFrame,
    pts: np.ndarray,
    streets: np.ndarray,
    crs: object,
    demand: gpd.GeoDataFrame,
    already: np.ndarray,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The chosen sites as :attr:`SiteRecommendation.sites`, and for every demand point the
    rank of the site that newly covers it (0: none).

    ``candidates`` has ``candidate_id`` and ``name`` (when known) per candidate, ``pts`` its
    point, ``streets`` the street it joins; ``already``: demand points covered before.
    """
    residents = demand["residents"].to_numpy(float)
    newly = np.zeros(len(demand), dtype=np.int64)
    left = problem.weights > 0
    units_gain: list[list[str]] = []
    unit_of = demand["unit_id"].astype(str).to_numpy()
    for rank, j in enumerate(result.selected, start=1):
        cols = problem.sets.indices[problem.sets.indptr[j] : problem.sets.indptr[j + 1]]
        hit = cols[left[cols]]
        newly[hit] = rank
        left[hit] = False
        units_gain.append(sorted(set(unit_of[hit].tolist())))
    sel = result.selected
    geom = pts[sel] if len(sel) else np.empty(0, dtype=object)
    ll = (
        gpd.GeoSeries(geom, crs=crs).to_crs("EPSG:4326")
        if len(sel)
        else gpd.GeoSeries([], crs="EPSG:4326")
    )
    street = list(streets[sel]) if len(sel) else []
    total = float(residents.sum())
    base = float(residents[already].sum())
    cum = np.cumsum(result.gains) if len(sel) else np.empty(0)
    frame = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, len(sel) + 1),
            "candidate_id": candidates["candidate_id"].astype(str).to_numpy()[sel]
            if "candidate_id" in candidates
            else sel.astype(str),
            "name": candidates["name"].to_numpy()[sel] if "name" in candidates else None,
            "street": street,
            "x": shapely.get_x(geom) if len(sel) else [],
            "y": shapely.get_y(geom) if len(sel) else [],
            "lon": ll.x.to_numpy(),
            "lat": ll.y.to_numpy(),
            "new_residents": result.gains,
            "cumulative_residents": cum,
            "cumulative_share": (base + cum) / total if total > 0 else np.full(len(sel), np.nan),
            "units": [", ".join(u) for u in units_gain],
        },
        geometry=geom,
        crs=crs,
    )
    return frame, newly


def uncovered_table(access: Access, demand: gpd.GeoDataFrame) -> pd.DataFrame:
    """Uncovered residents per category (helper for choosing where to place)."""
    res = demand["residents"].to_numpy(float)
    return pd.DataFrame(
        {
            "category": access.categories,
            "uncovered_residents": [
                float(res[~access.covered[:, k]].sum()) for k in range(len(access.categories))
            ],
        }
    )


def placement_category(access: Access, area: StudyArea) -> str:
    """The required category with the most uncovered residents (the first category when
    none is required): where new sites go when a placement names no category."""
    res = area.demand["residents"].to_numpy(float)
    best, best_val = None, -1.0
    for k, cat in enumerate(access.categories):
        if not area.catalog[cat].required:
            continue
        val = float(res[~access.covered[:, k]].sum())
        if val > best_val:
            best, best_val = cat, val
    return best or access.categories[0]
