"""Capacity-aware access: the two-step floating catchment area (2SFCA) score.

Where a category has capacities (school places, care beds), distance alone hides crowding:
a kindergarten 200 m away with 60 places serving 2,000 children is not the same as one
serving 200. Step one: each facility's capacity divided by the residents within the
category's threshold of it. Step two: each resident's score is the sum of those ratios
over the facilities within the threshold of the resident. Scores are places per resident;
per unit, the residents-weighted mean.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.coverage.access import Access, access_points
from lifecircle.coverage.network import Located, PairDistances, Snap, WalkNetwork
from lifecircle.geo.study_area import StudyArea

__all__ = [
    "capacity_by_unit",
    "two_step_fca",
]


def two_step_fca(  # noqa: PLR0913, RUF100 (the demand, the facilities and how they are walked)
    network: WalkNetwork,
    demand_snap: Snap | Located,
    residents: np.ndarray,
    facilities: gpd.GeoDataFrame,
    *,
    threshold_m: float,
    edge_spacing_m: float = 50.0,
    max_snap_m: float = 250.0,
    entrances: tuple[Snap, np.ndarray] | None = None,
    pairs: PairDistances | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """2SFCA scores for one category.

    Parameters
    ----------
    network, demand_snap, residents
        The network, where the demand points join it, and their residents.
    facilities
        The category's facilities with a ``capacity`` column. Facilities with no capacity
        get the median of the others (and are counted in ``imputed``).
    threshold_m
        The catchment of both steps.
    edge_spacing_m, max_snap_m
        How the facilities' access points are made and snapped (unless ``entrances``).
    entrances
        The facilities' access points already snapped: their snaps and, per point, the
        row of its facility in ``facilities`` (as :meth:`Access.entrances` gives them).
    pairs
        The walks from those access points to the demand points within ``threshold_m``,
        when already known (:meth:`Access.pairs`: by the gated compounds' rule when the
        study was walked so); else searched on ``network``.

    Returns
    -------
    (score, facility_table)
        Places per resident for every demand point, and per facility: ``capacity``,
        ``residents_within`` and ``ratio`` (capacity per resident within reach).
    """
    cap = facilities["capacity"].to_numpy(float)
    known = np.isfinite(cap) & (cap > 0)
    imputed = ~known
    if known.any():
        cap = np.where(known, cap, np.median(cap[known]))
    if entrances is None:
        pts, fac_of = access_points(facilities, edge_spacing_m=edge_spacing_m)
        entrances = (network.snap(pts, max_snap_m=max_snap_m), fac_of)
    src, fac_of = entrances
    if pairs is None:
        pairs = network.pair_distances(src, demand_snap, limit_m=threshold_m)
    pf = pd.DataFrame({"f": fac_of[pairs.source], "t": pairs.target}).drop_duplicates()
    f_idx = pf["f"].to_numpy()
    t_idx = pf["t"].to_numpy()
    pop_within = np.bincount(f_idx, weights=residents[t_idx], minlength=len(facilities))
    ratio = np.divide(cap, pop_within, out=np.full(len(facilities), np.nan), where=pop_within > 0)
    ok = np.isfinite(ratio[f_idx])
    score = np.bincount(t_idx[ok], weights=ratio[f_idx][ok], minlength=len(residents))
    table = pd.DataFrame(
        {
            "facility_id": facilities["facility_id"].to_numpy(),
            "capacity": cap,
            "imputed": imputed,
            "residents_within": pop_within,
            "ratio": ratio,
        }
    )
    return score, table


def capacity_by_unit(access: Access, area: StudyArea, network: WalkNetwork) -> pd.DataFrame | None:
    """2SFCA places per 1000 residents, per unit, for the categories whose facilities have
    capacities. The facilities' snaps are the access result's. A category's residents are
    those of its age group where the study knows it (:meth:`Access.weights`: places per
    1000 children aged 3-5 for a kindergarten); ``age_group`` then says which.

    Parameters
    ----------
    access
        The access result (its demand points and facility snaps).
    area
        The study (units, facilities with ``capacity``, catalog).
    network
        The walk network the access result was computed on.

    Returns
    -------
    pandas.DataFrame or None
        ``unit_id``, ``category``, ``residents``, ``places_per_1000``; ``None`` when no
        facility has a capacity.
    """
    fac_cat = area.facilities["category"].to_numpy()
    rows = []
    for k, cat in enumerate(access.categories):
        res = access.weights(cat)  # the category's age group where the study knows it
        mask = fac_cat == cat
        fac = area.facilities.loc[mask].reset_index(drop=True)
        if len(fac) == 0 or not fac["capacity"].notna().any():
            continue
        _, of, snap = access.entrances(mask)
        threshold = float(access.thresholds_m[k])
        net = access.network_for(network, cat)  # the category's walking profile
        score, _ = two_step_fca(
            net,
            access.demand_snap,
            res,
            fac,
            threshold_m=threshold,
            entrances=(snap, np.searchsorted(np.flatnonzero(mask), of)),
            pairs=access.pairs(net, mask, threshold, not area.catalog[cat].members_only),
        )
        part = _per_unit(access.demand.unit_id, res, score, cat)
        if access.age_groups:
            part.insert(2, "age_group", access.group(cat) or "")
        rows.append(part)
    return pd.concat(rows, ignore_index=True) if rows else None


def _per_unit(unit_id: np.ndarray, res: np.ndarray, score: np.ndarray, cat: str) -> pd.DataFrame:
    """Residents-weighted places per 1000 residents of one category, per unit."""
    frame = pd.DataFrame({"unit_id": unit_id, "w": res, "s": score * res})
    grouped = frame.groupby("unit_id")[["w", "s"]].sum()
    w = grouped["w"].to_numpy()
    per_1000 = np.divide(
        1000 * grouped["s"].to_numpy(), w, out=np.full(len(w), np.nan), where=w > 0
    )
    return pd.DataFrame(
        {"unit_id": grouped.index, "category": cat, "residents": w, "places_per_1000": per_1000}
    )
