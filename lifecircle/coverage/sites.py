"""Recommend new facility sites for a category: the GeoDataFrame front of placement.

Candidates are the user's sites, or generated on the walk network (its nodes, or points
every ``spacing_m`` along ground-level streets) inside the units. Coverage sets come from
bounded walking searches from each candidate (only pairs within the threshold are kept);
demand is the residents not yet covered by existing facilities, which always stay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from shapely.geometry.base import BaseGeometry

from lifecircle.coverage.access import Access, DemandView
from lifecircle.coverage.gated import GatedWalk
from lifecircle.coverage.network import Snap, WalkNetwork
from lifecircle.coverage.placement import (
    CoverageProblem,
    MaximalCovering,
    PlacementResult,
    SetCovering,
)
from lifecircle.geo.catalog import ServiceCatalog

__all__ = [
    "SiteRecommendation",
    "candidate_table",
    "coverage_sets",
    "network_candidates",
    "placement_category",
    "recommend_sites",
    "select_sites",
    "site_points",
    "site_weights",
    "sites_frame",
    "snap_sites",
    "solve_sites",
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

    Returns
    -------
    geopandas.GeoDataFrame
        One candidate point per row, with ``candidate_id``, in the network's CRS.
    """
    ground = np.flatnonzero(network.ground)
    geoms = network.geometry[ground]
    if spacing_m is None:
        pts = np.concatenate([shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)])
    else:
        lengths = network.length[ground]
        n = np.maximum(1, np.ceil(lengths / spacing_m).astype(int))
        pts = shapely.line_interpolate_point(
            geoms[np.repeat(np.arange(len(geoms)), n + 1)], _fractions(n), normalized=True
        )
    xy = np.round(shapely.get_coordinates(pts), 1)
    # the first of each position (pandas hashes the pairs: no sort of all the points)
    pts = pts[~pd.DataFrame(xy + 0.0).duplicated().to_numpy()]
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


def _fractions(n: np.ndarray) -> np.ndarray:
    """``0, 1/k, ..., 1`` for each ``k`` in ``n``, one after another: the values
    ``numpy.linspace(0, 1, k + 1)`` gives (``i * (1 / k)``, the last exactly 1), in one pass."""
    if len(n) == 0:
        return np.empty(0)
    count = n + 1
    starts = np.cumsum(count) - count
    i = np.arange(int(count.sum())) - np.repeat(starts, count)
    frac = i * np.repeat(1.0 / n, count)
    frac[starts + n] = 1.0
    return frac


def site_points(geoms: np.ndarray) -> np.ndarray:
    """A point for each site: points as they are, a point inside each other shape."""
    geoms = np.asarray(geoms, dtype=object)
    other = shapely.get_type_id(geoms) != 0
    if not other.any():
        return geoms
    out = geoms.copy()
    out[other] = shapely.point_on_surface(geoms[other])
    return out


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


def site_weights(access: Access, category: str) -> np.ndarray:
    """What each demand point weighs when placing sites for ``category``: its residents
    (of the category's age group, :meth:`Access.weights`) when no facility covers it and
    it is on the network, else 0."""
    k = access.column(category)
    return np.where(~access.covered[:, k] & access.snapped, access.weights(category), 0.0)


def solve_sites(
    problem: CoverageProblem,
    *,
    p: int | None = None,
    share: float | None = None,
    time_limit_s: float = 60.0,
    method: str = "auto",
) -> PlacementResult:
    """Solve ``problem``: ``p`` sites (maximal covering) or the fewest that cover ``share``
    of the coverable weight (set covering); give exactly one.

    Parameters
    ----------
    problem
        Which candidate covers which demand point, and the weights.
    p, share
        The number of sites, or the coverage target.
    time_limit_s
        The solver's time limit.
    method
        The maximal covering method (see :class:`MaximalCovering`).

    Returns
    -------
    PlacementResult
        The solver's result.
    """
    if (p is None) == (share is None):
        raise ValueError("give exactly one of p (number of sites) and share (coverage target)")
    if p is not None:
        return MaximalCovering(p, time_limit_s=time_limit_s, method=method).solve(problem)
    assert share is not None
    return SetCovering(share, time_limit_s=time_limit_s).solve(problem)


def select_sites(
    problem: CoverageProblem,
    table: gpd.GeoDataFrame,
    access: Access,
    category: str,
    *,
    p: int | None = None,
    share: float | None = None,
    time_limit_s: float = 60.0,
    method: str = "auto",
) -> SiteRecommendation:
    """Choose sites among the candidates of a coverage problem (the core of
    :func:`recommend_sites`; a partitioned run's final pass calls it too).

    Parameters
    ----------
    problem
        Which candidate covers which of ``access``'s demand points, and their weights
        (:func:`site_weights`).
    table
        One row per candidate, in the problem's order: ``candidate_id`` and ``name`` (when
        known), ``street`` (the street it joins) and its point, in a metric CRS.
    access
        The access result the problem's demand points are (before the new sites).
    category
        The category id.
    p, share, time_limit_s, method
        As for :func:`solve_sites`.

    Returns
    -------
    SiteRecommendation
        The sites; ``uncoverable_residents`` is the weight no candidate reaches.
    """
    result = solve_sites(problem, p=p, share=share, time_limit_s=time_limit_s, method=method)
    already = access.covered[:, access.column(category)]
    # the category's demand (its age group's residents where known) in the sites' figures
    demand = replace(access.demand, residents=access.weights(category))
    sites, newly = sites_frame(result, problem, table, demand, already)
    coverable = np.asarray(problem.sets.sum(axis=0)).ravel() > 0
    return SiteRecommendation(
        category=category,
        sites=sites,
        result=result,
        newly_covered=newly,
        uncoverable_residents=float(problem.weights[~coverable].sum()),
        candidates=len(table),
    )


def recommend_sites(  # noqa: PLR0913, RUF100 (the frames, the category and the solver's options)
    network: WalkNetwork,
    access: Access,
    candidates: gpd.GeoDataFrame,
    category: str,
    *,
    p: int | None = None,
    share: float | None = None,
    max_snap_m: float | None = None,
    time_limit_s: float = 60.0,
    method: str = "auto",
    visitors: bool = True,
) -> SiteRecommendation:
    """Choose new sites for ``category``: ``p`` sites (maximal covering) or the fewest that
    cover ``share`` of the coverable uncovered residents (set covering).

    The front of :func:`select_sites`: snaps the candidates and builds their coverage sets.
    When ``access`` was walked by the gated compounds' rule, so are the candidates' walks:
    a candidate inside a compound joins its ways and serves outsiders through its
    entrances only (and, unless ``visitors``, only its members).

    Parameters
    ----------
    network, access
        The walk network and the access result (with its demand points).
    candidates
        Candidate sites (points, or polygons: a representative point inside is used).
    category
        The category id.
    p, share
        Give exactly one.
    max_snap_m
        How far candidates may be from a street (the access result's when omitted).
    time_limit_s, method
        As for :func:`solve_sites`.
    visitors
        Whether a site inside a gated compound serves visitors (the category is not
        members-only); only in gated mode.

    Returns
    -------
    SiteRecommendation
        The sites.
    """
    if (p is None) == (share is None):
        raise ValueError("give exactly one of p (number of sites) and share (coverage target)")
    threshold = float(access.thresholds_m[access.column(category)])
    weights = site_weights(access, category)
    network = access.network_for(network, category)  # the category's walking profile
    pts = site_points(candidates.to_crs(network.crs).geometry.to_numpy())
    c_snap, walk = snap_sites(network, access, pts, max_snap_m or access.max_snap_m, visitors)
    problem = CoverageProblem(
        coverage_sets(network, c_snap, access.demand_snap, weights, threshold, walk=walk),
        weights,
    )
    streets = network.names[np.maximum(c_snap.edge, 0)]
    streets[~c_snap.ok] = None
    table = candidate_table(candidates, pts, streets, network.crs)
    return select_sites(
        problem, table, access, category, p=p, share=share, time_limit_s=time_limit_s, method=method
    )


def snap_sites(
    network: WalkNetwork, access: Access, points: np.ndarray, max_snap_m: float, visitors: bool
) -> tuple[Snap, GatedWalk | None]:
    """Where new sites join the network, as ``access`` was walked, and how their walks to
    its demand points go (None: the open network).

    Parameters
    ----------
    network, access
        The walk network and the access result.
    points
        The sites' points (the network's CRS).
    max_snap_m
        How far a site may be from a street.
    visitors
        Whether a site inside a gated compound serves visitors.

    Returns
    -------
    (snap, walk)
        The sites' snaps; in gated mode the walk by the rule, else None.
    """
    if access.gated is None or access.demand_compound is None:
        return network.snap(points, max_snap_m=max_snap_m), None
    snap, group = access.gated.snap(points, max_snap_m)
    split = access.gated.on(network)  # on a walking profile's copy, the same split
    return snap, GatedWalk(split, group, access.demand_compound, visitors)


def candidate_table(
    candidates: pd.DataFrame, points: np.ndarray, streets: np.ndarray, crs: object
) -> gpd.GeoDataFrame:
    """The candidates as :func:`select_sites` reads them.

    Parameters
    ----------
    candidates
        The candidate rows (``candidate_id`` and ``name`` are kept where present).
    points
        Each candidate's point, in ``crs``.
    streets
        The name of the street each candidate joins (``None`` where unnamed or unsnapped).
    crs
        The points' CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``candidate_id`` and ``name`` (those ``candidates`` has), ``street``, and the
        points as geometry.
    """
    known = [c for c in ("candidate_id", "name") if c in candidates]
    data = {c: candidates[c].to_numpy() for c in known}
    data["street"] = np.asarray(streets, dtype=object)
    return gpd.GeoDataFrame(data, geometry=np.asarray(points, dtype=object), crs=crs)


def coverage_sets(
    network: WalkNetwork,
    candidates: Snap,
    demand: Snap,
    weights: np.ndarray,
    threshold_m: float,
    *,
    walk: GatedWalk | None = None,
) -> sp.csr_matrix:
    """Which candidate reaches which demand point within ``threshold_m``, for the demand
    points of positive weight (others stay empty).

    The walk network is undirected, so the bounded searches start from whichever side has
    fewer points: usually the residents still to cover, not the (many) candidate sites.
    With ``walk`` the pairs are walked by the gated compounds' rule instead (candidates
    as the facilities' side).

    Parameters
    ----------
    network
        The walk network.
    candidates, demand
        The candidates' and the demand points' snaps to it.
    weights
        The demand points' weights (residents still uncovered).
    threshold_m
        The category's walking threshold.
    walk
        The gated rule (:func:`snap_sites`): the candidates' and demand points' compounds.

    Returns
    -------
    scipy.sparse.csr_matrix
        Boolean, candidates x demand points.
    """
    live = np.flatnonzero(weights > 0)
    n_c, n_d = len(candidates), len(demand)
    if walk is not None:
        pairs = walk.pairs(candidates, demand.take(live), threshold_m, target_rows=live)
        rows, cols = pairs.source, live[pairs.target]
    elif len(live) <= n_c:
        near = network.within(demand.take(live), candidates, limit_m=threshold_m).tocoo()
        rows, cols = near.col, live[near.row]
    else:
        near = network.within(candidates, demand.take(live), limit_m=threshold_m).tocoo()
        rows, cols = near.row, live[near.col]
    return sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n_c, n_d))


def sites_frame(
    result: PlacementResult,
    problem: CoverageProblem,
    table: gpd.GeoDataFrame,
    demand: DemandView,
    already: np.ndarray,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The chosen sites as :attr:`SiteRecommendation.sites`, and for every demand point the
    rank of the site that newly covers it (0: none).

    Parameters
    ----------
    result, problem
        The solver's result and the problem it solved.
    table
        The candidates (:func:`candidate_table`): ``candidate_id`` and ``name`` (when
        known), ``street`` and point geometry.
    demand
        The problem's demand points (residents, units).
    already
        Demand points covered before.

    Returns
    -------
    (sites, newly)
        The sites, and per demand point the rank of the site that newly covers it.
    """
    residents = demand.residents
    newly = np.zeros(len(demand), dtype=np.int64)
    left = problem.weights > 0
    units_gain: list[list[str]] = []
    unit_of = demand.unit_id
    for rank, j in enumerate(result.selected, start=1):
        cols = problem.sets.indices[problem.sets.indptr[j] : problem.sets.indptr[j + 1]]
        hit = cols[left[cols]]
        newly[hit] = rank
        left[hit] = False
        units_gain.append(sorted(set(unit_of[hit].tolist())))
    sel = result.selected
    crs = table.crs
    geom = table.geometry.to_numpy()[sel] if len(sel) else np.empty(0, dtype=object)
    ll = (
        gpd.GeoSeries(geom, crs=crs).to_crs("EPSG:4326")
        if len(sel)
        else gpd.GeoSeries([], crs="EPSG:4326")
    )
    street = list(table["street"].to_numpy(dtype=object)[sel]) if len(sel) else []
    total = float(residents.sum())
    base = float(residents[already].sum())
    cum = np.cumsum(result.gains) if len(sel) else np.empty(0)
    frame = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, len(sel) + 1),
            "candidate_id": table["candidate_id"].astype(str).to_numpy()[sel]
            if "candidate_id" in table
            else sel.astype(str),
            "name": table["name"].to_numpy()[sel] if "name" in table else None,
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


def placement_category(access: Access, catalog: ServiceCatalog) -> str:
    """The required category with the most uncovered residents (the first category when
    none is required): where new sites go when a placement names no category."""
    res = access.demand.residents
    best, best_val = None, -1.0
    for k, cat in enumerate(access.categories):
        if not catalog[cat].required:
            continue
        val = float(res[~access.covered[:, k]].sum())
        if val > best_val:
            best, best_val = cat, val
    return best or access.categories[0]
