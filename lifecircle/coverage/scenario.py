"""Scenarios: the coverage tables again with proposed sites added, and the differences.

Only the categories that receive new sites are searched again (existing facilities plus
the new ones); every table is then recomputed, and :func:`compare_coverage` lines up the
before and after values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.coverage.access import Access, access_points
from lifecircle.coverage.network import Snap, WalkNetwork
from lifecircle.coverage.tables import Coverage, coverage_tables
from lifecircle.geo.catalog import ServiceCatalog

__all__ = ["Comparison", "compare_coverage", "with_new_sites"]


def with_new_sites(
    network: WalkNetwork,
    access: Access,
    facilities: gpd.GeoDataFrame,
    sites: dict[str, gpd.GeoDataFrame],
    *,
    edge_spacing_m: float = 50.0,
    members_only: frozenset[str] = frozenset(),
) -> tuple[Access, gpd.GeoDataFrame]:
    """Access with the proposed sites added as facilities of their categories.

    When ``access`` was walked by the gated compounds' rule, so are the new searches (the
    sites join the ways of the compound they stand in).

    Parameters
    ----------
    network, access, facilities
        The walk network, the access result and the facilities it was computed for (the
        existing facilities' snaps are the access result's).
    sites
        Proposed sites per category.
    edge_spacing_m
        Spacing of access points along the sites' outlines (when polygons).
    members_only
        The categories whose facilities inside a gated compound serve only its members.

    Returns
    -------
    (access, facilities)
        The new access result, and the facilities with the sites appended
        (``source="proposed"``), to which its facility indices refer.
    """
    extra = _site_facilities(sites, facilities.crs)
    if not extra:
        return access, facilities
    all_fac = gpd.GeoDataFrame(
        pd.concat([facilities, *extra], ignore_index=True), geometry="geometry", crs=facilities.crs
    )
    old_pts, old_of, old_snap = access.entrances(np.ones(len(facilities), dtype=bool))
    new_pts, new_of = access_points(all_fac.iloc[len(facilities) :], edge_spacing_m=edge_spacing_m)
    pts = np.concatenate([old_pts, new_pts])
    fac_of = np.concatenate([old_of, new_of + len(facilities)]).astype(np.int64)
    new_snap, new_group = _snap_new(network, access, new_pts)
    snaps = Snap.concat([old_snap, new_snap])
    groups = (
        np.concatenate([access.facility_compound, new_group])
        if access.facility_compound is not None and new_group is not None
        else None
    )
    dist = access.distance_m.copy()
    nearest = access.facility.copy()
    cats = all_fac["category"].to_numpy()[fac_of]
    for cat in sites:
        k = access.column(cat)
        sel = np.flatnonzero(cats == cat)
        source = (snaps.take(sel), None if groups is None else groups[sel])
        d, w = _search_one(network, access, source, cat, cat not in members_only)
        dist[:, k] = d
        nearest[:, k] = np.where(w >= 0, fac_of[sel][np.maximum(w, 0)], -1)
    after = replace(
        access,
        distance_m=dist,
        facility=nearest,
        facility_points=pts,
        facility_of=fac_of,
        facility_snap=snaps,
        facility_compound=groups,
    )
    return after, all_fac


def _search_one(
    network: WalkNetwork,
    access: Access,
    source: tuple[Snap, np.ndarray | None],
    cat: str,
    visitors: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """One category's nearest access point for every demand point, from ``source`` (snaps
    and, gated, their compounds), on the category's walking profile and as ``access`` was
    walked.

    Parameters
    ----------
    network, access
        The walk network and the access result.
    source
        The category's access points: their snaps and (gated) compounds.
    cat
        The category.
    visitors
        Whether its facilities inside a gated compound serve visitors.

    Returns
    -------
    (distance, which)
        Per demand point: metres to the nearest source (inf beyond the search limit) and
        its row in ``source`` (-1: none).
    """
    limit = float(access.limits_m[access.column(cat)])
    net = access.network_for(network, cat)  # the category's walking profile
    snaps, groups = source
    if access.gated is not None and groups is not None:
        assert access.demand_compound is not None
        return access.gated.on(net).nearest(
            (snaps, groups), (access.demand_snap, access.demand_compound), visitors, limit
        )
    return net.distances(snaps, net.locate(access.demand_snap), limit_m=limit)


def _snap_new(
    network: WalkNetwork, access: Access, points: np.ndarray
) -> tuple[Snap, np.ndarray | None]:
    """Where new sites join the network as ``access`` was walked, and (gated) their
    compounds."""
    if access.gated is None:
        return network.snap(points, max_snap_m=access.max_snap_m), None
    return access.gated.snap(points, access.max_snap_m)


def _site_facilities(sites: dict[str, gpd.GeoDataFrame], crs: object) -> list[gpd.GeoDataFrame]:
    """The proposed sites as facilities, a frame per category that has any."""
    extra = []
    for cat, frame in sites.items():
        if len(frame) == 0:
            continue
        extra.append(
            gpd.GeoDataFrame(
                {
                    "facility_id": [f"new:{cat}:{r}" for r in frame["rank"]],
                    "category": cat,
                    "name": [f"proposed {r}" for r in frame["rank"]],
                    "source": "proposed",
                    "capacity": np.nan,
                },
                geometry=frame.geometry.to_numpy(),
                crs=crs,
            )
        )
    return extra


@dataclass(frozen=True)
class Comparison:
    """Coverage before and after a scenario, side by side."""

    overall: pd.DataFrame
    """Per category: share of residents and of units covered, before, after, change."""
    by_unit: pd.DataFrame
    """Per unit and category whose coverage changed: residents covered before and after."""
    completeness: pd.DataFrame
    """Per level: share of residents in a complete life circle, before and after."""


def compare_coverage(before: Coverage, after: Coverage) -> Comparison:
    """Line up two sets of coverage tables of the same study."""
    b, a = before.overall.set_index("category"), after.overall.set_index("category")
    overall = pd.DataFrame(
        {
            "category": b.index,
            "share_before": b["share"].to_numpy(),
            "share_after": a.loc[b.index, "share"].to_numpy(),
            "covered_before": b["covered_residents"].to_numpy(),
            "covered_after": a.loc[b.index, "covered_residents"].to_numpy(),
            "units_covered_before": b["units_covered"].to_numpy(),
            "units_covered_after": a.loc[b.index, "units_covered"].to_numpy(),
        }
    )
    overall["share_change"] = overall["share_after"] - overall["share_before"]
    overall["residents_gained"] = overall["covered_after"] - overall["covered_before"]
    keys = ["unit_id", "category"]
    ub = before.by_unit.set_index(keys)
    ua = after.by_unit.set_index(keys)
    by_unit = pd.DataFrame(
        {
            "residents": ub["residents"],
            "covered_before": ub["covered_residents"],
            "covered_after": ua.loc[ub.index, "covered_residents"],
            "share_before": ub["share"],
            "share_after": ua.loc[ub.index, "share"],
        }
    ).reset_index()
    by_unit["residents_gained"] = by_unit["covered_after"] - by_unit["covered_before"]
    by_unit = by_unit.loc[by_unit["residents_gained"].abs() > 1e-9].reset_index(drop=True)
    cb = before.completeness_overall.set_index("level")
    ca = after.completeness_overall.set_index("level")
    completeness = pd.DataFrame(
        {
            "level": cb.index,
            "share_before": cb["share_complete"].to_numpy(),
            "share_after": ca.loc[cb.index, "share_complete"].to_numpy(),
        }
    )
    completeness["share_change"] = completeness["share_after"] - completeness["share_before"]
    return Comparison(overall, by_unit, completeness)


def scenario_coverage(
    network: WalkNetwork,
    access: Access,
    units: pd.DataFrame,
    facilities: gpd.GeoDataFrame,
    catalog: ServiceCatalog,
    sites: dict[str, gpd.GeoDataFrame],
    before: Coverage,
    *,
    edge_spacing_m: float = 50.0,
) -> Comparison:
    """Coverage with the proposed sites, compared with ``before``.

    Parameters
    ----------
    network, access, units, facilities, catalog
        The walk network, the access result, the units and facilities it was computed
        for, and the catalog.
    sites
        Proposed sites per category.
    before
        The coverage tables without them.
    edge_spacing_m
        Spacing of access points along the sites' outlines (when polygons).

    Returns
    -------
    Comparison
        Before and after, side by side.
    """
    members = frozenset(c.id for c in catalog if c.members_only)
    after_access, _ = with_new_sites(
        network, access, facilities, sites, edge_spacing_m=edge_spacing_m, members_only=members
    )
    after = coverage_tables(after_access, units, catalog, unit_share=before.unit_share)
    return compare_coverage(before, after)
