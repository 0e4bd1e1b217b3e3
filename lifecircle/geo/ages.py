"""Age groups: the residents of each age group a study knows, spread to its resident points.

A group is named by its ages, ``"3-5"`` (3 to 5, whole years) or ``"60+"`` (60 and over),
as a catalog category's ``ages`` names the group it serves; the seventh census's tables give
0-14, 15-59, 60+ and 65+, and communities' own rolls often 0-2, 3-5, 6-11, 12-14, 80+.
A demand frame holds a group's residents per point in the column ``age_<first>_<last>`` or
``age_<first>+`` (``age_3_5``, ``age_60+``), the same name the units' columns have.

Where the groups come from:

- **the units' columns**: columns of the units file named so (``age_3_5``), or any column
  named in ``[inputs.units] age_cols = { "3-5" = "3至5岁" }``. Each resident point gets its
  share of its unit's group in proportion to its residents (the same spreading as the
  residents themselves: a point with a tenth of the unit's residents carries a tenth of
  its children aged 3-5).
- **the population file's columns** (``[inputs.population]``, named the same way or in its
  ``age_cols``): each resident point made from a row (the row's point, or a home or
  lattice point inside its polygon) carries the row's groups in the same proportion as
  the row's people, ``group / population`` of its residents, kept when the residents are
  scaled to the units' totals. A unit's own column of a group, where both give it, wins
  (the units' totals are the authority, as for the residents).
- none: every category's demand is every resident, as without this module.

A category whose group the study does not know while it knows others weighs by all its
residents, and a note says so (:func:`lifecircle.coverage.access.access_notes`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.errors import Problem
from lifecircle.geo.specs import PopulationFile
from lifecircle.geo.tables import _row_place, find_column, parse_numbers, read_points
from lifecircle.i18n import Note

__all__ = [
    "column_of_group",
    "file_age_shares",
    "group_of_column",
    "groups_from_shares",
    "spread_age_groups",
    "unit_age_groups",
]

SHARE_PREFIX = "_share_"
"""A demand column ``_share_age_3_5``: the share of a point's residents in the group, from
the population file, until the residents are scaled (:func:`groups_from_shares`)."""

_GROUP = re.compile(r"^(\d+)(?:-(\d+)|\+)$")
_COLUMN = re.compile(r"^age_(\d+)(?:_(\d+)|\+)$")


def column_of_group(group: str) -> str | None:
    """The column name of an age group (None when ``group`` names no group).

    Examples
    --------
    >>> column_of_group("3-5"), column_of_group("60+"), column_of_group("kids")
    ('age_3_5', 'age_60+', None)
    """
    m = _GROUP.match(group.strip())
    if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
        return None
    return f"age_{m.group(1)}+" if m.group(2) is None else f"age_{m.group(1)}_{m.group(2)}"


def group_of_column(column: str) -> str | None:
    """The age group a column holds (None for any other column).

    Examples
    --------
    >>> group_of_column("age_3_5"), group_of_column("age_60+"), group_of_column("residents")
    ('3-5', '60+', None)
    """
    m = _COLUMN.match(column)
    if m is None:
        return None
    return f"{m.group(1)}+" if m.group(2) is None else f"{m.group(1)}-{m.group(2)}"


def unit_age_groups(
    units: pd.DataFrame, age_cols: Mapping[str, str] | None, *, source: str, key: str = "units"
) -> tuple[pd.DataFrame, list[Problem]]:
    """The units' age groups as numbers, one column ``age_...`` per group.

    Parameters
    ----------
    units
        The units with the file's own columns.
    age_cols
        The planner's groups and the columns holding them (``{"3-5": "3至5岁"}``); columns
        already named ``age_3_5`` are found without it.
    source
        The units file, for problems.
    key
        The plan's table the file is in (``units``, ``population``), for problems.

    Returns
    -------
    (pandas.DataFrame, list of Problem)
        Aligned to ``units``: one float column per group (NaN where a unit's cell is
        empty); and the problems (a group name that is no group, a column that is absent,
        cells that are not numbers, negative numbers).
    """
    problems: list[Problem] = []
    wanted: dict[str, str] = {str(c): str(c) for c in units.columns if group_of_column(str(c))}
    for group, col in (age_cols or {}).items():
        name = column_of_group(str(group))
        place = ("key", f"inputs.{key}.age_cols.{group}")
        if name is None:
            problems.append(Problem.of("age_group_name", source, place=place, group=group))
        elif col not in units.columns:
            shown = ", ".join(str(c) for c in units.columns if c != "geometry")
            problems.append(
                Problem.of("age_column_absent", source, place=place, column=col, columns=shown)
            )
        else:
            wanted[name] = col
    out = pd.DataFrame(index=units.index)
    for name, col in wanted.items():
        values = units[col]
        numbers = parse_numbers(values)
        bad = (numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")).to_numpy()
        if bad.any():
            place = _row_place(np.flatnonzero(bad))
            problems.append(Problem.of("age_not_number", source, place=place, column=col))
        negative = (numbers < 0).to_numpy()
        if negative.any():
            place = _row_place(np.flatnonzero(negative))
            problems.append(Problem.of("negative_population", source, place=place, column=col))
        out[name] = numbers.to_numpy(float)
    return out, problems


def spread_age_groups(
    demand: gpd.GeoDataFrame, units: pd.DataFrame, groups: pd.DataFrame
) -> tuple[gpd.GeoDataFrame, list[Note]]:
    """Each resident point's share of its unit's age groups, by its share of the unit's
    residents.

    Parameters
    ----------
    demand
        Resident points with ``residents`` and ``unit_id`` (already scaled to the units'
        known populations).
    units
        The units (``unit_id``), row for row with ``groups``.
    groups
        :func:`unit_age_groups`'s columns.

    Returns
    -------
    (geopandas.GeoDataFrame, list of Note)
        A new frame with one column per group; a note for each group some units leave
        empty (their points carry none of the group).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> d = gpd.GeoDataFrame({"unit_id": ["a", "a", "b"], "residents": [30.0, 10.0, 5.0]},
    ...                      geometry=[Point(0, 0)] * 3)
    >>> u = pd.DataFrame({"unit_id": ["a", "b"]})
    >>> out, _ = spread_age_groups(d, u, pd.DataFrame({"age_3_5": [8.0, 1.0]}))
    >>> out["age_3_5"].tolist()
    [6.0, 2.0, 1.0]
    """
    out = demand.copy()
    notes: list[Note] = []
    if groups.shape[1] == 0:
        return out, notes
    uid = units["unit_id"].astype(str).to_numpy()
    point_unit = out["unit_id"].astype(str).to_numpy()
    res = out["residents"].to_numpy(float)
    total = pd.Series(res).groupby(point_unit).sum()
    unit_res = total.reindex(uid).fillna(0.0).to_numpy(float)
    row_of = pd.Series(np.arange(len(uid)), index=uid)
    row = row_of.reindex(point_unit).fillna(-1).to_numpy(int)
    for name in groups.columns:
        per_unit = groups[name].to_numpy(float)
        share = np.divide(per_unit, unit_res, out=np.zeros(len(uid)), where=unit_res > 0)
        share = np.where(np.isfinite(share), share, 0.0)
        out[name] = np.where(row >= 0, res * share[np.maximum(row, 0)], 0.0)
        empty = np.isnan(per_unit)
        if empty.any():
            shown = ", ".join(uid[empty][:10]) + (
                f" (+{int(empty.sum()) - 10})" if empty.sum() > 10 else ""
            )
            notes.append(
                Note("note_age_group_unknown", {"group": group_of_column(name), "units": shown})
            )
    return gpd.GeoDataFrame(out, geometry="geometry", crs=demand.crs), notes


def file_age_shares(
    spec: PopulationFile, points: gpd.GeoDataFrame, *, crs: Any
) -> tuple[pd.DataFrame, list[Problem]]:
    """The share of each resident point's residents in each age group of the population
    file it was made from (see the module docs).

    Parameters
    ----------
    spec
        The population file (its ``age_cols``; columns named ``age_3_5`` need none).
    points
        The resident points :func:`~lifecircle.geo.residents.residents_from_file` made
        from it (metric ``crs``).
    crs
        The study's metric CRS.

    Returns
    -------
    (pandas.DataFrame, list of Problem)
        Aligned to ``points``: a column ``_share_age_...`` per group (0 for a point in no
        row, or whose row has no number); and the problems of the age columns. No columns
        when the file gives no group.
    """
    out = pd.DataFrame(index=points.index)
    table = read_points(
        spec.path, crs=spec.crs, encoding=spec.encoding, lon_col=spec.lon_col, lat_col=spec.lat_col
    )
    frame = table.frame
    named = any(group_of_column(str(c)) for c in frame.columns)
    if not spec.age_cols and not named:
        return out, []
    groups, problems = unit_age_groups(frame, spec.age_cols, source=spec.path, key="population")
    cols = [c for c in frame.columns if c != "geometry"]
    pop_col = find_column(cols, "population", spec.population_col, source=spec.path)
    if pop_col is None or problems or groups.shape[1] == 0:
        return out, problems  # the population's own problems are residents_from_file's
    pop = parse_numbers(frame[pop_col]).to_numpy(float)
    keep = frame.geometry.notna().to_numpy() & np.isfinite(pop) & (pop > 0)
    rows = frame.loc[keep].to_crs(crs)
    ratio = groups.loc[keep].to_numpy(float) / pop[keep][:, None]
    row = _source_rows(points, rows)
    hit = row >= 0
    for j, name in enumerate(groups.columns):
        share = np.zeros(len(points))
        share[hit] = ratio[row[hit], j]
        out[SHARE_PREFIX + name] = np.where(np.isfinite(share), share, 0.0)
    return out, problems


def _source_rows(points: gpd.GeoDataFrame, rows: gpd.GeoDataFrame) -> np.ndarray:
    """For each resident point, the position in ``rows`` of the file's row it came from:
    the polygon it lies in, or the point it is (-1: none)."""
    out = np.full(len(points), -1, dtype=np.int64)
    tree = shapely.STRtree(rows.geometry.to_numpy())
    p_idx, r_idx = tree.query(points.geometry.to_numpy(), predicate="intersects")
    first = pd.Series(r_idx).groupby(p_idx).first()  # nested rows: the first in the file
    out[first.index.to_numpy()] = first.to_numpy()
    return out


def groups_from_shares(demand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The population file's groups per point: residents (as scaled) x each group's share
    (:func:`file_age_shares`); the share columns are dropped. A new frame."""
    shares = [c for c in demand.columns if str(c).startswith(SHARE_PREFIX)]
    if not shares:
        return demand
    out = demand.drop(columns=shares)
    res = demand["residents"].to_numpy(float)
    for col in shares:
        share = demand[col].fillna(0.0).to_numpy(float)  # points added by scaling: none
        out[str(col).removeprefix(SHARE_PREFIX)] = res * share
    return gpd.GeoDataFrame(out, geometry="geometry", crs=demand.crs)
