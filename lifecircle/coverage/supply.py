"""Supply against need: per unit (and per roll-up of units, e.g. a 街道), for each category
with an indicator, what the residents can reach within the category's threshold against
what the indicator asks for.

- **Need** is the indicator times the population it is per: residents (``per = "1000
  residents"``), households (``"100 households"``, from a ``households`` column of the units)
  or the age group the category serves (``"1000 in age group"``, from an ``age_<first>_<last>``
  or ``age_<first>+`` column of the units, such as ``age_3_5`` or ``age_60+``).
- **Supply**, for places or floor area, is the 2SFCA share of the reachable facilities'
  capacities (:mod:`lifecircle.coverage.fca`): each facility's capacity is divided among
  everyone within its threshold, so shares add up over units and no capacity is counted
  twice. Its demand is the category's age group where the study knows it
  (:meth:`~lifecircle.coverage.access.Access.weights`, spread from the units' columns by
  :mod:`lifecircle.geo.ages`), else the residents. Without any known capacity the supply is
  unknown. For a ``count`` indicator the supply is the number of facilities within reach of
  the unit's residents.
- **Deficit** is need minus supply: positive where the unit is short.

A roll-up row sums its units' residents, need and 2SFCA supply; its facilities within reach
are those within reach of any of its units (each counted once).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifecircle.coverage.access import Access
from lifecircle.coverage.fca import two_step_fca
from lifecircle.coverage.network import WalkNetwork
from lifecircle.geo.catalog import Category
from lifecircle.geo.study_area import StudyArea

__all__ = ["SUPPLY_COLUMNS", "age_column", "checklist_rollup", "supply_need"]

SUPPLY_COLUMNS = [
    "level",
    "unit_id",
    "category",
    "indicator",
    "measure",
    "threshold_m",
    "residents",
    "demand",
    "need",
    "facilities_within",
    "supply",
    "basis",
    "capacity_imputed",
    "deficit",
    "status",
]
HOUSEHOLDS = "households"


def age_column(category: Category) -> str | None:
    """The units' column giving the residents of the age group ``category`` serves.

    Examples
    --------
    >>> from lifecircle.geo.catalog import load_catalog
    >>> cat = load_catalog("gb50180")
    >>> age_column(cat["kindergarten"]), age_column(cat["elderly_care_home"])
    ('age_3_5', 'age_60+')
    """
    if category.ages is None:
        return None
    first, last = category.ages
    return f"age_{first}+" if last is None else f"age_{first}_{last}"


def supply_need(
    access: Access, area: StudyArea, network: WalkNetwork, *, rollup: str | None = None
) -> pd.DataFrame | None:
    """The supply-versus-need table (see the module docs); None when no category has an
    indicator.

    Parameters
    ----------
    access
        The access result (its demand points, thresholds and facility snaps).
    area
        The study: units (with ``rollup``, ``households`` or age columns if any),
        facilities and catalog.
    network
        The walk network of ``access``.
    rollup
        A column of the units to sum units by (e.g. ``"街道"``), or None.

    Returns
    -------
    pandas.DataFrame or None
        One row per unit and category (``level = "unit"``), then per roll-up value and
        category (``level`` = the column's name); columns :data:`SUPPLY_COLUMNS`.
    """
    cats = [c for c in area.catalog.with_indicators() if c.id in access.categories]
    if not cats:
        return None
    units = area.units.reset_index(drop=True)
    unit_ids = units["unit_id"].astype(str).to_numpy()
    row_of = {u: i for i, u in enumerate(unit_ids)}
    point_unit = np.array([row_of.get(str(u), -1) for u in access.demand.unit_id], dtype=int)
    groups = _groups(units, rollup)
    frames = []
    for cat in cats:
        per_unit, reach = _category(access, area, network, cat, units, point_unit)
        frames.append(_rows("unit", unit_ids, cat, per_unit, reach, access))
        if groups is not None:
            names, of = groups
            frames.append(_rolled(str(rollup), names, of, cat, per_unit, reach, access))
    return pd.concat(frames, ignore_index=True)[SUPPLY_COLUMNS]


def _groups(units: pd.DataFrame, rollup: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The roll-up values and each unit's position among them (None without a roll-up)."""
    if rollup is None:
        return None
    values = units[rollup].astype("string").fillna("").to_numpy(dtype=object)
    names, of = np.unique(values, return_inverse=True)
    return names, of


def _unit_column(units: pd.DataFrame, column: str | None) -> np.ndarray | None:
    if column is None or column not in units.columns:
        return None
    return pd.to_numeric(units[column], errors="coerce").to_numpy(float)


def _category(  # noqa: PLR0913, RUF100 (the study's parts one category needs)
    access: Access,
    area: StudyArea,
    network: WalkNetwork,
    cat: Category,
    units: pd.DataFrame,
    point_unit: np.ndarray,
) -> tuple[dict[str, np.ndarray], list[set[int]]]:
    """Per unit: residents, demand, need, 2SFCA supply and imputed capacities; and per unit
    the facilities (rows of the category) within reach of its residents."""
    n_units = len(units)
    res = access.demand.residents
    ok = point_unit >= 0
    residents_u = np.bincount(point_unit[ok], weights=res[ok], minlength=n_units)
    demand = access.weights(cat.id)  # the category's age group where the study knows it
    demand_u = np.bincount(point_unit[ok], weights=demand[ok], minlength=n_units)
    ages_u = _unit_column(units, age_column(cat))
    if ages_u is None and access.group(cat.id) is not None:
        ages_u = demand_u
    assert cat.indicator is not None
    per_unit = {
        "residents": residents_u,
        "demand": demand_u,
        "need": _need(cat, residents_u, units, ages_u),
    }
    mask = area.facilities["category"].to_numpy() == cat.id
    fac = area.facilities.loc[mask].reset_index(drop=True)
    reach: list[set[int]] = [set() for _ in range(n_units)]
    supply = np.full(n_units, np.nan)
    imputed = 0
    if len(fac):
        _, of, snap = access.entrances(mask)
        fac_of = np.searchsorted(np.flatnonzero(mask), of)
        threshold = float(access.thresholds_m[access.column(cat.id)])
        network = access.network_for(network, cat.id)  # the category's walking profile
        pairs = access.pairs(network, mask, threshold, not cat.members_only)
        f_idx, t_idx = fac_of[pairs.source], pairs.target
        live = ok[t_idx] & (res[t_idx] > 0)
        for f, u in set(zip(f_idx[live].tolist(), point_unit[t_idx[live]].tolist(), strict=True)):
            reach[u].add(f)
        known = np.isfinite(fac["capacity"].to_numpy(float))
        if cat.indicator.measure != "count" and known.any():
            score, table = two_step_fca(
                network,
                access.demand_snap,
                demand,
                fac,
                threshold_m=threshold,
                entrances=(snap, fac_of),
                pairs=pairs,
            )
            supply = np.bincount(point_unit[ok], weights=(demand * score)[ok], minlength=n_units)
            imputed = int(table["imputed"].sum())
    elif cat.indicator.measure != "count":
        supply = np.zeros(n_units)  # nothing to reach: no capacity either
    per_unit["supply"] = supply
    per_unit["imputed"] = np.full(n_units, float(imputed))
    return per_unit, reach


def _need(
    cat: Category, residents_u: np.ndarray, units: pd.DataFrame, ages_u: np.ndarray | None
) -> np.ndarray:
    """The indicator times the population it is per, for each unit (NaN where unknown)."""
    ind = cat.indicator
    assert ind is not None
    households = _unit_column(units, HOUSEHOLDS)
    return np.array(
        [
            ind.need(
                residents=float(residents_u[i]),
                households=None if households is None else float(households[i]),
                age_group=None if ages_u is None else float(ages_u[i]),
            )
            for i in range(len(units))
        ],
        dtype=float,
    )


def _rows(  # noqa: PLR0913, RUF100 (one table's columns)
    level: str,
    ids: np.ndarray,
    cat: Category,
    values: dict[str, np.ndarray],
    reach: list[set[int]],
    access: Access,
) -> pd.DataFrame:
    """The table rows of one category at one level."""
    ind = cat.indicator
    assert ind is not None
    count = np.array([len(r) for r in reach], dtype=float)
    if ind.measure == "count":
        supply, basis = count, np.full(len(ids), "count", dtype=object)
    else:  # nothing within reach is no supply, whether capacities are known or not
        supply = np.where(count == 0, 0.0, values["supply"])
        basis = np.where(
            count == 0, "none in reach", np.where(np.isnan(supply), "unknown capacity", "2sfca")
        )
    deficit = values["need"] - supply
    status = np.where(np.isnan(deficit), "unknown", np.where(deficit > 1e-9, "short", "met"))
    return pd.DataFrame(
        {
            "level": level,
            "unit_id": ids,
            "category": cat.id,
            "indicator": ind.text(),
            "measure": ind.measure,
            "threshold_m": float(access.thresholds_m[access.column(cat.id)]),
            "residents": values["residents"],
            "demand": values["demand"],
            "need": values["need"],
            "facilities_within": count,
            "supply": supply,
            "basis": basis,
            "capacity_imputed": values["imputed"],
            "deficit": deficit,
            "status": status,
        }
    )


def _rolled(  # noqa: PLR0913, RUF100 (one table's columns)
    level: str,
    names: np.ndarray,
    of: np.ndarray,
    cat: Category,
    per_unit: dict[str, np.ndarray],
    reach: list[set[int]],
    access: Access,
) -> pd.DataFrame:
    """The rows of one category summed over the roll-up groups."""
    n = len(names)
    summed = {
        key: np.bincount(of, weights=np.nan_to_num(v, nan=0.0), minlength=n)
        for key, v in per_unit.items()
        if key != "imputed"
    }
    for key in ("need", "supply"):  # unknown in any unit: unknown for the group
        unknown = np.bincount(of, weights=np.isnan(per_unit[key]).astype(float), minlength=n)
        summed[key] = np.where(unknown > 0, np.nan, summed[key])
    summed["imputed"] = np.full(n, per_unit["imputed"][0] if len(of) else 0.0)
    group_reach: list[set[int]] = [set() for _ in range(n)]
    for u, g in enumerate(of):
        group_reach[g] |= reach[u]
    return _rows(level, names.astype(str), cat, summed, group_reach, access)


def checklist_rollup(
    checklist: pd.DataFrame, by_unit: pd.DataFrame, units: pd.DataFrame, rollup: str
) -> pd.DataFrame:
    """The grid managers' checklist rolled up from units to the values of ``rollup`` (a
    sub-district): per value and missing category, how many of its units miss it (and
    which), the residents of those units who do not reach it, and the facility named for
    most of them (with the walk of the unit that has the most of them).

    Parameters
    ----------
    checklist
        The per-unit checklist (:func:`lifecircle.coverage.tables.missing_checklist`,
        with its ``nearest_*`` columns).
    by_unit
        Coverage per unit and category (residents and covered residents).
    units
        The units, with the ``rollup`` column.
    rollup
        The column to roll up by.

    Returns
    -------
    pandas.DataFrame
        One row per roll-up value and missing category, required ones first.
    """
    group_of = dict(zip(units["unit_id"].astype(str), units[rollup].astype(str), strict=True))
    frame = checklist.merge(
        by_unit[["unit_id", "category", "residents", "covered_residents"]],
        on=["unit_id", "category"],
        how="left",
    )
    frame["group"] = frame["unit_id"].astype(str).map(group_of)
    frame["uncovered"] = frame["residents"] - frame["covered_residents"]
    people = by_unit.drop_duplicates("unit_id")
    with_res = people.loc[people["residents"] > 0, "unit_id"].astype(str).map(group_of)
    n_units = with_res.groupby(with_res).size()
    rows = []
    for (group, cat), g in frame.groupby(["group", "category"], sort=True):
        top = g.sort_values("uncovered", ascending=False, kind="stable")
        named = top.dropna(subset=["nearest_facility"])
        weight = named.groupby("nearest_facility")["uncovered"].sum()
        best = named.loc[named["nearest_facility"] == weight.idxmax()] if len(weight) else named
        rows.append(
            {
                "level": rollup,
                "unit_id": group,
                "category": cat,
                "name": g["name"].iloc[0],
                "required": bool(g["required"].iloc[0]),
                "units": int(n_units.get(group, 0)),
                "units_missing": len(g),
                "missing_units": ";".join(top["unit_id"].astype(str)),
                "uncovered_residents": float(g["uncovered"].sum()),
                "nearest_facility": best["nearest_facility"].iloc[0] if len(best) else None,
                "nearest_name": best["nearest_name"].iloc[0] if len(best) else None,
                "nearest_m": float(best["nearest_m"].iloc[0]) if len(best) else float("nan"),
            }
        )
    out = pd.DataFrame(rows)
    if len(out) == 0:
        return out
    order = ["unit_id", "required", "uncovered_residents"]
    return out.sort_values(order, ascending=[True, False, False]).reset_index(drop=True)
