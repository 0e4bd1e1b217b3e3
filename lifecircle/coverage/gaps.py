"""Gaps: where uncovered residents live, grouped into places a planner can act on.

For one category, the residents not within its threshold are grouped into contiguous
clusters: two resident points belong to the same cluster when they are within
``link_m`` of each other, as the crow flies (default) or walking. Each cluster reports its
residents, its (residents-weighted) centre, the units it touches and the nearest
existing facility, and clusters are ranked by residents.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from lifecircle.coverage.access import Access
from lifecircle.coverage.network import WalkNetwork
from lifecircle.geo.study_area import StudyArea

__all__ = [
    "find_gaps",
    "gaps_by_category",
]


def find_gaps(
    access: Access,
    demand: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    category: str,
    *,
    link_m: float = 150.0,
    walking: bool = False,
    network: WalkNetwork | None = None,
    min_residents: float = 0.0,
) -> gpd.GeoDataFrame:
    """Clusters of uncovered residents for ``category``, largest first.

    Parameters
    ----------
    access
        The access result (distances, residents and units of its demand points).
    demand, facilities
        The frames it was computed for (the points' positions, the facilities' ids).
    category
        The category id.
    link_m
        Resident points closer than this belong to one cluster.
    walking
        Measure ``link_m`` along the network (needs ``network``) instead of straight.
    network
        The walk network (for ``walking``).
    min_residents
        Leave out clusters with fewer residents.

    Returns
    -------
    geopandas.GeoDataFrame
        ``gap_id``, ``category``, ``rank``, ``residents``, ``points``, ``units`` (ids,
        comma-separated), ``nearest_facility`` (id), ``nearest_m`` (the shortest walk from
        any of its residents to an existing facility; inf when none is within reach),
        ``median_m``, the cluster's outline (buffered hull of its points) as geometry and
        its centre in ``x`` and ``y``.
    """
    k = access.column(category)
    unc = np.flatnonzero(~access.covered[:, k])
    if len(unc) == 0:
        return _no_gaps(demand.crs)
    xy = shapely.get_coordinates(demand.geometry.to_numpy()[unc])
    frame = pd.DataFrame(
        {
            "label": _clusters(access, unc, xy, link_m, walking, network),
            "res": access.weights(category)[unc],
            "x": xy[:, 0],
            "y": xy[:, 1],
            "unit": access.demand.unit_id[unc],
            "d": access.distance_m[unc, k],
            "f": access.facility[unc, k],
        }
    )
    fac_ids = facilities["facility_id"].astype(str).to_numpy()
    out = []
    geoms = []
    for _, grp in frame.groupby("label", sort=False):
        if float(grp["res"].sum()) < min_residents:
            continue
        out.append(_describe(grp, category, fac_ids))
        pts = shapely.multipoints(grp[["x", "y"]].to_numpy())
        geoms.append(shapely.convex_hull(pts).buffer(25.0))
    if not out:
        return _no_gaps(demand.crs)
    gaps = gpd.GeoDataFrame(out, geometry=geoms, crs=demand.crs)
    gaps = gaps.sort_values(["residents", "points"], ascending=False, kind="stable").reset_index(
        drop=True
    )
    gaps.insert(0, "rank", np.arange(1, len(gaps) + 1))
    gaps.insert(0, "gap_id", [f"{category}-{i}" for i in gaps["rank"]])
    return gaps


_GAP_COLUMNS = [
    "gap_id",
    "category",
    "rank",
    "residents",
    "points",
    "units",
    "nearest_facility",
    "nearest_m",
    "median_m",
    "x",
    "y",
]


def _no_gaps(crs: object) -> gpd.GeoDataFrame:
    """An empty gaps frame with :func:`find_gaps`'s columns."""
    return gpd.GeoDataFrame(
        {c: [] for c in _GAP_COLUMNS}, geometry=gpd.GeoSeries([], crs=crs), crs=crs
    )


def _clusters(
    access: Access,
    unc: np.ndarray,
    xy: np.ndarray,
    link_m: float,
    walking: bool,
    network: WalkNetwork | None,
) -> np.ndarray:
    """The cluster label of each of the demand points ``unc`` (at ``xy``): linked when
    within ``link_m``, walking or straight."""
    if walking:
        if network is None:
            raise ValueError("walking links need the network")
        snap = access.demand_snap.take(unc)
        if access.gated is not None and access.demand_compound is not None:
            group = access.demand_compound[unc]  # walked by the gated compounds' rule
            pairs = access.gated.pair_distances((snap, group), (snap, group), link_m)
        else:
            pairs = network.pair_distances(snap, snap, limit_m=link_m)
        rows, cols = pairs.source, pairs.target
    else:
        pairs_arr = cKDTree(xy).query_pairs(link_m, output_type="ndarray")
        rows, cols = pairs_arr[:, 0], pairs_arr[:, 1]
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(unc), len(unc)))
    _, label = connected_components(graph, directed=False)
    return np.asarray(label)


def _describe(grp: pd.DataFrame, category: str, fac_ids: np.ndarray) -> dict[str, object]:
    """One cluster's row of :func:`find_gaps` (without its outline, id and rank)."""
    total = float(grp["res"].sum())
    w = grp["res"].to_numpy()
    cx, cy = (
        np.average(grp["x"], weights=w) if total > 0 else grp["x"].mean(),
        np.average(grp["y"], weights=w) if total > 0 else grp["y"].mean(),
    )
    best = grp["d"].to_numpy().argmin()
    near = grp["f"].to_numpy()[best]
    d_sorted = np.sort(grp["d"].to_numpy())
    return {
        "category": category,
        "residents": total,
        "points": len(grp),
        "units": ", ".join(sorted(set(grp["unit"]))),
        "nearest_facility": fac_ids[near] if near >= 0 else None,
        "nearest_m": float(grp["d"].to_numpy()[best]),
        "median_m": float(d_sorted[len(d_sorted) // 2]),
        "x": float(cx),
        "y": float(cy),
    }


def gaps_by_category(
    access: Access,
    area: StudyArea,
    network: WalkNetwork | None,
    *,
    link_m: float = 150.0,
    walking: bool = False,
) -> gpd.GeoDataFrame:
    """Clusters of uncovered residents (:func:`find_gaps`) for every required category that
    has any, in catalog order.

    Parameters
    ----------
    access
        The access result.
    area
        The study (its demand points, facilities and catalog).
    network
        The walk network, needed when ``walking``.
    link_m, walking
        As for :func:`find_gaps`.

    Returns
    -------
    geopandas.GeoDataFrame
        The clusters of every category, with :func:`find_gaps`'s columns.
    """
    frames = []
    for c in area.catalog:
        if not c.required:
            continue
        found = find_gaps(
            access,
            area.demand,
            area.facilities,
            c.id,
            link_m=link_m,
            walking=walking,
            network=network,
        )
        if len(found):
            frames.append(found)
    if not frames:
        return gpd.GeoDataFrame(
            {"gap_id": []}, geometry=gpd.GeoSeries([], crs=area.crs), crs=area.crs
        )
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=area.crs)
