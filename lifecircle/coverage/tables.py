"""Coverage: the numbers planners and grid managers read off the walking distances.

- per unit and category: residents, residents covered, share covered, distance percentiles,
  and whether the unit counts as covered (at least ``unit_share`` of its residents are);
- overall per category: the share of residents covered *and* the share of units covered
  (Beijing reports the latter; planners also want the former);
- life-circle completeness per level: how many of the level's required categories each
  resident reaches, the share of residents with all of them, and per unit the missing
  categories with the distance a typical resident walks to the nearest of each.

Distances are weighted by residents throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecircle.coverage.access import Access, DemandView
from lifecircle.geo.catalog import ServiceCatalog
from lifecircle.params import DEFAULT_UNIT_SHARE

__all__ = [
    "Coverage",
    "aligned_demand",
    "completeness",
    "coverage_by_unit",
    "coverage_tables",
    "grouped_quantiles",
    "missing_checklist",
    "residents_served",
    "weighted_quantile",
]


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` weighted by ``weights`` (inf values allowed).

    The smallest value whose cumulative weight reaches ``q`` of the total.

    Parameters
    ----------
    values
        The values (distances in metres; inf for none within reach).
    weights
        One weight per value (residents); values with weight 0 or less are left out.
    q
        The quantile, from 0 to 1 (0.5 is the median).

    Returns
    -------
    float
        The quantile: a value of ``values`` (inf when more than ``1 - q`` of the weight is
        on inf values), or NaN when no value has a positive weight.

    Examples
    --------
    >>> weighted_quantile(np.array([100.0, 200.0, 900.0]), np.array([1.0, 1.0, 2.0]), 0.5)
    200.0
    >>> weighted_quantile(np.array([100.0, np.inf]), np.array([1.0, 3.0]), 0.5)
    inf
    """
    w = np.asarray(weights, float)
    v = np.asarray(values, float)
    keep = w > 0
    v, w = v[keep], w[keep]
    if len(v) == 0:
        return float("nan")
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    pos = np.searchsorted(cum, q * cum[-1] - 1e-9 * cum[-1], side="left")
    return float(v[order][min(pos, len(v) - 1)])


def grouped_quantiles(
    values: np.ndarray, weights: np.ndarray, groups: np.ndarray, n_groups: int, qs: Sequence[float]
) -> np.ndarray:
    """:func:`weighted_quantile` of each group's values, for every quantile, at once.

    Parameters
    ----------
    values, weights
        As for :func:`weighted_quantile`, one per point.
    groups
        Each point's group, from 0 to ``n_groups - 1`` (-1: in none).
    n_groups
        How many groups.
    qs
        The quantiles.

    Returns
    -------
    numpy.ndarray
        ``(n_groups, len(qs))``: the same values as :func:`weighted_quantile` on each
        group's points in their order (the cumulative weights are summed in the same order,
        one group at a time); NaN for a group with no positive weight.
    """
    out = np.full((n_groups, len(qs)), np.nan)
    w = np.asarray(weights, float)
    keep = (w > 0) & (groups >= 0)
    if not keep.any():
        return out
    v, w, g = np.asarray(values, float)[keep], w[keep], np.asarray(groups)[keep]
    order = np.lexsort((v, g))  # stable: ties keep the points' order, as argsort's
    v, w, g = v[order], w[order], g[order]
    cum = pd.Series(w).groupby(g, sort=False).cumsum().to_numpy()  # one group at a time
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], len(g)] - 1
    total = cum[ends]
    at = np.arange(len(g))
    for c, q in enumerate(qs):
        target = np.repeat(q * total - 1e-9 * total, ends - starts + 1)
        first = np.minimum.reduceat(np.where(cum >= target, at, len(g)), starts)
        out[g[starts], c] = v[np.minimum(first, ends)]
    return out


@dataclass(frozen=True)
class Coverage:
    """All coverage tables of a study (see the module docs)."""

    by_unit: pd.DataFrame
    overall: pd.DataFrame
    points: pd.DataFrame
    completeness_by_unit: pd.DataFrame
    completeness_overall: pd.DataFrame
    checklist: pd.DataFrame
    unit_share: float


def coverage_by_unit(
    access: Access, units: pd.DataFrame, *, unit_share: float = DEFAULT_UNIT_SHARE
) -> pd.DataFrame:
    """Coverage per unit and category (one row each).

    Parameters
    ----------
    access
        The access result; its demand view gives each point's unit and residents.
    units
        The study's units (``unit_id``), in the order of the rows.
    unit_share
        A unit counts as covered when at least this share of its residents is.

    Returns
    -------
    pandas.DataFrame
        One row per unit and category, units in the order of ``units`` and categories in
        the access result's order. Columns: ``unit_id``, ``category``, ``residents``,
        ``covered_residents``, ``share``, ``p50_m``, ``p90_m``, ``covered`` (share >=
        ``unit_share``; missing for units without residents). Percentiles are inf when more
        than that share has nothing within reach. Where the study knows age groups, also
        ``age_group`` and ``demand`` (after ``residents``): the group whose residents
        each category serves (:meth:`Access.weights`; empty: every resident) and their
        number; ``covered_residents``, ``share``, the percentiles and ``covered`` are then
        of that group.
    """
    unit_of = access.demand.unit_id
    unit_ids = units["unit_id"].astype(str).to_numpy()
    cov = access.covered
    rows = []
    n = len(access.demand)
    groups = pd.Series(np.arange(n)).groupby(unit_of).indices if n else {}
    weights = [access.weights(cat) for cat in access.categories]
    code = np.full(n, -1, dtype=np.int64)
    for u, uid in enumerate(unit_ids):
        code[groups.get(uid, np.empty(0, dtype=int))] = u
    quantiles = [
        grouped_quantiles(access.distance_m[:, k], weights[k], code, len(unit_ids), (0.5, 0.9))
        for k in range(len(access.categories))
    ]
    for u, uid in enumerate(unit_ids):
        idx = groups.get(uid, np.empty(0, dtype=int))
        residents = float(access.demand.residents[idx].sum())
        for k, cat in enumerate(access.categories):
            res = weights[k][idx]
            total = float(res.sum())
            covered = float(res[cov[idx, k]].sum())
            share = covered / total if total > 0 else np.nan
            rows.append(
                (
                    uid,
                    cat,
                    residents,
                    total,
                    covered,
                    share,
                    quantiles[k][u, 0],
                    quantiles[k][u, 1],
                    (share >= unit_share) if total > 0 else np.nan,
                )
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "unit_id",
            "category",
            "residents",
            "demand",
            "covered_residents",
            "share",
            "p50_m",
            "p90_m",
            "covered",
        ],
    )
    frame = _with_groups(frame, access)
    frame["covered"] = frame["covered"].astype("boolean")
    return frame


def _with_groups(frame: pd.DataFrame, access: Access) -> pd.DataFrame:
    """The table with the age group each row's shares are of (``age_group``: ``"3-5"``,
    empty for every resident) and its residents (``demand``) when the study knows any age
    group; without one, as it always was (no such columns)."""
    if not access.age_groups:
        return frame.drop(columns="demand")
    group = frame["category"].map(lambda c: access.group(c) or "")
    out = frame.copy()
    out.insert(list(out.columns).index("demand"), "age_group", group)
    return out


def _overall(access: Access, by_unit: pd.DataFrame) -> pd.DataFrame:
    cov = access.covered
    rows = []
    for k, cat in enumerate(access.categories):
        res = access.weights(cat)
        total = float(res.sum())
        u = by_unit.loc[by_unit["category"] == cat]
        with_res = u.loc[u["demand" if "demand" in u else "residents"] > 0]
        covered = float(res[cov[:, k]].sum())
        rows.append(
            {
                "category": cat,
                "threshold_m": float(access.thresholds_m[k]),
                "residents": float(access.demand.residents.sum()),
                "demand": total,
                "covered_residents": covered,
                "share": covered / total if total > 0 else np.nan,
                "units": len(with_res),
                "units_covered": int(with_res["covered"].sum()),
                "share_units": float(with_res["covered"].mean()) if len(with_res) else np.nan,
                "p50_m": weighted_quantile(access.distance_m[:, k], res, 0.5),
                "p90_m": weighted_quantile(access.distance_m[:, k], res, 0.9),
                "unreachable_residents": float(res[~np.isfinite(access.distance_m[:, k])].sum()),
            }
        )
    return _with_groups(pd.DataFrame(rows), access)


def completeness(access: Access, catalog: ServiceCatalog) -> pd.DataFrame:
    """Per demand point and level: required categories reached, and whether all are.

    Columns ``reached_<level>``, ``required_<level>``, ``complete_<level>`` for each level
    with required categories, and ``complete_all`` (every required category of every level).
    """
    cov = access.covered
    out: dict[str, np.ndarray] = {}
    all_req: list[int] = []
    for level in catalog.levels():
        req = [access.column(c) for c in catalog.required_at(level) if c in access.categories]
        if not req:
            continue
        all_req += req
        reached = cov[:, req].sum(axis=1)
        out[f"reached_{level}"] = reached
        out[f"required_{level}"] = np.full(len(reached), len(req))
        out[f"complete_{level}"] = reached == len(req)
    everything = cov[:, all_req].all(axis=1) if all_req else np.ones(cov.shape[0], bool)
    out["complete_all"] = np.asarray(everything)
    return pd.DataFrame(out)


def _completeness_tables(
    points: pd.DataFrame, demand: DemandView, units: pd.DataFrame, catalog: ServiceCatalog
) -> tuple[pd.DataFrame, pd.DataFrame]:
    res = demand.residents
    levels = [c.removeprefix("complete_") for c in points.columns if c.startswith("complete_")]
    unit_of = demand.unit_id
    frame = pd.DataFrame({"unit_id": unit_of, "residents": res})
    for lv in levels:
        frame[lv] = res * points[f"complete_{lv}"].to_numpy()
    grouped = frame.groupby("unit_id").sum()
    grouped = grouped.reindex(units["unit_id"].astype(str).to_numpy()).fillna(0.0)
    by_unit = pd.DataFrame({"unit_id": grouped.index, "residents": grouped["residents"].to_numpy()})
    for lv in levels:
        with np.errstate(invalid="ignore", divide="ignore"):
            by_unit[f"share_complete_{lv}"] = np.where(
                grouped["residents"] > 0, grouped[lv] / grouped["residents"], np.nan
            )
    total = res.sum()
    overall = pd.DataFrame(
        {
            "level": levels,
            "required_categories": [
                len(catalog.required_at(lv))
                if lv != "all"
                else sum(len(catalog.required_at(x)) for x in catalog.levels())
                for lv in levels
            ],
            "residents_complete": [float((res * points[f"complete_{lv}"]).sum()) for lv in levels],
        }
    )
    overall["share_complete"] = overall["residents_complete"] / total if total > 0 else np.nan
    return by_unit, overall


def missing_checklist(
    by_unit: pd.DataFrame,
    catalog: ServiceCatalog,
    *,
    lang: str = "en",
    access: Access | None = None,
    facilities: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The grid manager's list: per unit, the categories it misses and how far the nearest is.

    A category is missing in a unit when the unit is not covered for it (fewer than the
    unit share of its residents reach it). ``distance_m`` is the median walk of the unit's
    residents to the nearest facility (inf: none within the search limit). Rows are ordered
    by unit, then required categories first, then distance. Given the ``access`` result and
    its ``facilities``, each row also names the facility nearest to most of the unit's
    residents (``nearest_facility``, ``nearest_name``) and their median walk to it
    (``nearest_m``); empty when none is within the search limit.

    Parameters
    ----------
    by_unit
        Coverage per unit and category.
    catalog
        The categories' names, levels and whether they are required.
    lang
        The language of the names.
    access, facilities
        The access result and the study's facilities (both or neither).

    Returns
    -------
    pandas.DataFrame
        One row per unit and category the unit is not covered for, ordered by unit, then
        required categories first, then distance. Columns: ``unit_id``, ``category``,
        ``name``, ``level``, ``required``, ``share`` (of the unit's residents covered) and
        ``distance_m``; with ``access``, also
        ``nearest_facility``, ``nearest_name`` and ``nearest_m``.
    """
    miss = by_unit.loc[by_unit["covered"].eq(False)].copy()
    miss["required"] = [catalog[c].required for c in miss["category"]]
    miss["name"] = [catalog[c].name(lang) for c in miss["category"]]
    miss["level"] = [catalog[c].level for c in miss["category"]]
    miss = miss.rename(columns={"p50_m": "distance_m"})
    miss = miss.sort_values(["unit_id", "required", "distance_m"], ascending=[True, False, True])
    cols = ["unit_id", "category", "name", "level", "required", "share", "distance_m"]
    miss = miss[cols].reset_index(drop=True)
    if access is None or facilities is None:
        return miss
    return pd.concat([miss, _nearest_named(miss, access, facilities)], axis=1)


def _nearest_named(miss: pd.DataFrame, access: Access, facilities: pd.DataFrame) -> pd.DataFrame:
    """Per checklist row: the facility nearest to most of the unit's residents, its name and
    their median walk to it."""
    ids = facilities["facility_id"].astype(str).to_numpy()
    names = facilities["name"].to_numpy(dtype=object)
    res = access.demand.residents
    groups = pd.Series(np.arange(len(res))).groupby(access.demand.unit_id.astype(str)).indices
    out: list[tuple[object, object, float]] = []
    for uid, cat in zip(miss["unit_id"].astype(str), miss["category"], strict=True):
        idx = groups.get(uid, np.empty(0, dtype=int))
        k = access.column(cat)
        fac = access.facility[idx, k]
        ok = (fac >= 0) & (res[idx] > 0)
        if not ok.any():
            out.append((None, None, float("nan")))
            continue
        weight = np.bincount(fac[ok], weights=res[idx][ok])
        best = int(np.argmax(weight))
        mine = ok & (fac == best)
        walk = weighted_quantile(access.distance_m[idx[mine], k], res[idx[mine]], 0.5)
        out.append((ids[best], names[best], walk))
    return pd.DataFrame(out, columns=["nearest_facility", "nearest_name", "nearest_m"])


def coverage_tables(
    access: Access,
    units: pd.DataFrame,
    catalog: ServiceCatalog,
    *,
    unit_share: float = DEFAULT_UNIT_SHARE,
    facilities: pd.DataFrame | None = None,
) -> Coverage:
    """Every coverage table of a study.

    Parameters
    ----------
    access
        The access result (with its demand points' units and residents).
    units
        The study's units (``unit_id``), in the order of the tables.
    catalog
        Categories, levels and which are required.
    unit_share
        A unit counts as covered when at least this share of its residents is.
    facilities
        The study's facilities: the checklist then names the nearest of each missing one.

    Returns
    -------
    Coverage
        Every table.
    """
    by_unit = coverage_by_unit(access, units, unit_share=unit_share)
    points = completeness(access, catalog)
    comp_unit, comp_overall = _completeness_tables(points, access.demand, units, catalog)
    return Coverage(
        by_unit=by_unit,
        overall=_overall(access, by_unit),
        points=points,
        completeness_by_unit=comp_unit,
        completeness_overall=comp_overall,
        checklist=missing_checklist(by_unit, catalog, access=access, facilities=facilities),
        unit_share=unit_share,
    )


def residents_served(access: Access, n_facilities: int) -> np.ndarray:
    """Residents for whom each facility is the nearest of its category, within the threshold.

    Parameters
    ----------
    access
        The access result; its own demand view gives each point's residents.
    n_facilities
        The number of facilities (the rows ``access.facility`` points to).

    Returns
    -------
    numpy.ndarray
        ``(n_facilities,)`` residents served by each facility (0 for one that is nobody's
        nearest within its category's threshold).

    Examples
    --------
    >>> from lifecircle.coverage.network import Snap
    >>> homes = DemandView(np.array([1, 2, 3]), np.array(["u", "u", "v"]), np.array([5.0, 2, 9]))
    >>> access = Access(
    ...     demand=homes,
    ...     categories=["shop"],
    ...     thresholds_m=np.array([300.0]),
    ...     limits_m=np.array([900.0]),
    ...     distance_m=np.array([[100.0], [250.0], [400.0]]),
    ...     facility=np.array([[0], [1], [1]]),
    ...     demand_snap=Snap(np.zeros(3, np.int64), np.zeros(3), np.zeros(3)),
    ...     demand_component_size=np.ones(3, np.int64),
    ...     speed_kmh=4.0,
    ...     max_snap_m=250.0,
    ... )
    >>> residents_served(access, 3).tolist()  # the third point is 400 m away: not served
    [5.0, 2.0, 0.0]
    """
    out = np.zeros(n_facilities)
    res = access.demand.residents
    cov = access.covered
    for k in range(len(access.categories)):
        idx = access.facility[:, k]
        ok = (idx >= 0) & cov[:, k]
        np.add.at(out, idx[ok], res[ok])
    return out


def aligned_demand(access: Access, demand: pd.DataFrame) -> pd.DataFrame:
    """``demand`` (for its geometry), checked to hold the access result's points row for row.

    Raises ``ValueError`` when its ids (``demand_id``, else the index) are not
    ``access.demand.ids`` in the same order.
    """
    ids = demand["demand_id"].to_numpy() if "demand_id" in demand else demand.index.to_numpy()
    if not np.array_equal(access.demand.ids, ids):
        raise ValueError("access rows are not the demand frame's points")
    return demand
