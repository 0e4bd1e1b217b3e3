"""Facilities from the user's own files, merged with those found in OpenStreetMap.

A facility table has coordinates (see :func:`lifecircle.geo.tables.read_points`), a
category column (or one category for the whole file), and optionally name, id and
capacity columns. Category labels map to catalog categories by id, Chinese or English
name, or alias (``幼儿园``, ``Kindergarten``, ``kindergarten`` all work); other labels go
through a mapping file the user writes (TOML ``"label" = "category_id"`` lines, or a CSV of
two columns), where ``"ignore"`` drops a label's rows. Labels still unknown are reported,
with how many rows each has.

Per category, the user's facilities either *replace* OSM's (the default: an official
list is usually complete where OSM is not) or are *added* to them (OSM facilities within
25 m of a user facility of the same category are taken to be the same one and dropped).
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from lifecircle.errors import InputError, Problem
from lifecircle.geo.catalog import ServiceCatalog
from lifecircle.geo.specs import FacilityFile, Read
from lifecircle.geo.study_area import FACILITY_COLUMNS
from lifecircle.geo.tables import (
    decode_text,
    find_column,
    parse_numbers,
    read_points,
    read_table,
    row_place,
)
from lifecircle.i18n import Note

__all__ = ["FacilityFile", "merge_facilities", "read_category_map", "read_facilities"]

SAME_PLACE_M = 25.0
DUPLICATE_M = 1.0
"""Rows of one file with the same category this close are one facility entered twice (a
judgement of this project: a survey's coordinates of one building differ by centimetres, two
neighbouring facilities by metres)."""
IGNORE = "ignore"


def read_category_map(path: str | Path) -> dict[str, str]:
    """A user's label -> category id mapping (TOML or two-column CSV).

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "map.toml")
    >>> text = '"民办幼儿园" = "kindergarten"\\n"餐饮服务" = "ignore"\\n'
    >>> _ = open(f, "w", encoding="utf-8").write(text)
    >>> read_category_map(f)
    {'民办幼儿园': 'kindergarten', '餐饮服务': 'ignore'}
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(Problem.of("category_map_not_found", str(path)))
    if p.suffix.lower() == ".toml":
        text, _ = decode_text(p.read_bytes(), None, str(path))  # UTF-8 or GBK, as any file
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(Problem.of("category_map_toml", str(path), error=str(exc))) from None
        table = doc.get("map", doc)
        return {str(k): str(v) for k, v in table.items()}
    frame, _ = read_table(p)
    if frame.shape[1] < 2:
        raise InputError(Problem.of("category_map_columns", str(path)))
    return dict(
        zip(
            frame.iloc[:, 0].astype(str).str.strip(),
            frame.iloc[:, 1].astype(str).str.strip(),
            strict=True,
        )
    )


def read_facilities(
    spec: FacilityFile, catalog: ServiceCatalog, *, crs: CRS | str
) -> Read[gpd.GeoDataFrame]:
    """Facilities from a user's file, in the study's metric ``crs``.

    Parameters
    ----------
    spec
        The file and how to read it.
    catalog
        The catalog its categories must belong to.
    crs
        The CRS of the result.

    Returns
    -------
    Read
        The facilities (``facility_id``, ``category``, ``name``, ``source``, ``capacity``,
        point) and every problem found (not raised).
    """
    source = spec.path
    table = read_points(
        spec.path,
        crs=spec.crs,
        encoding=spec.encoding,
        lon_col=spec.lon_col,
        lat_col=spec.lat_col,
        sheet=spec.sheet,
        allow_empty=spec.replaces is not None,  # it may replace some categories by none
    )
    problems = list(table.problems)
    frame = table.frame
    cols = [c for c in frame.columns if c != "geometry"]
    user_map = read_category_map(spec.category_map) if spec.category_map else {}
    for label, target in user_map.items():
        if target != IGNORE and target not in catalog:
            problems.append(
                Problem.of(
                    "category_map_target",
                    str(spec.category_map),
                    label=label,
                    category=target,
                    ids=", ".join(catalog.ids),
                )
            )
    cats = _categories(spec, frame, cols, catalog, user_map, problems)
    keep = cats.notna() & (cats != IGNORE) & frame.geometry.notna()
    name_col = find_column(cols, "name", spec.name_col, source=source)
    id_col = find_column(cols, "id", spec.id_col, source=source)
    cap_col = find_column(cols, "capacity", spec.capacity_col, source=source)
    capacity = _capacity(frame, cap_col, source, problems)
    ids = _facility_ids(frame, id_col, source, keep, problems)
    sub = frame.loc[keep]
    rows = frame.index[keep.to_numpy()].to_numpy()
    out = gpd.GeoDataFrame(
        {
            "facility_id": ids[keep].to_numpy(),
            "category": cats[keep].to_numpy(),
            "name": sub[name_col].to_numpy() if name_col else None,
            "source": Path(source).name,
            "capacity": capacity[keep].to_numpy(float),
        },
        geometry=sub.geometry.to_numpy(),
        crs="EPSG:4326",
    ).to_crs(crs)
    geoms = out.geometry.to_numpy()
    out.geometry = np.where(shapely.get_type_id(geoms) >= 3, shapely.point_on_surface(geoms), geoms)
    out, notes = _drop_duplicates(out, rows, source)
    return Read(out[FACILITY_COLUMNS], problems, notes)


def _drop_duplicates(
    out: gpd.GeoDataFrame, rows: np.ndarray, source: str
) -> tuple[gpd.GeoDataFrame, list[Note]]:
    """``out`` without rows of the same category within :data:`DUPLICATE_M` of an earlier
    row (the first is kept), and a note naming the rows left out (``rows``: each row's
    0-based index in the file)."""
    if len(out) < 2 or out.geometry.isna().any():
        return out, []
    metric = out.to_crs(out.estimate_utm_crs()) if out.crs.is_geographic else out
    geoms = metric.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=DUPLICATE_M)
    cats = out["category"].to_numpy()
    pair = (left < right) & (cats[left] == cats[right])
    first: dict[int, int] = {}
    for i, j in zip(left[pair], right[pair], strict=True):
        first[int(j)] = min(first.get(int(j), int(i)), int(i))
    if not first:
        return out, []
    gone = sorted(first)
    pairs = ", ".join(f"{rows[j] + 2} = {rows[first[j]] + 2}" for j in gone[:8])
    more = f" (+{len(gone) - 8})" if len(gone) > 8 else ""
    note = Note(
        "note_duplicate_facilities",
        {"file": Path(source).name, "n": len(gone), "rows": pairs + more, "m": DUPLICATE_M},
    )
    return out.drop(index=out.index[gone]), [note]


def _categories(
    spec: FacilityFile,
    frame: gpd.GeoDataFrame,
    cols: list[str],
    catalog: ServiceCatalog,
    user_map: dict[str, str],
    problems: list[Problem],
) -> pd.Series:
    """Each row's category id (missing where unknown or empty, which are problems)."""
    source = spec.path
    if spec.category:
        category = catalog.resolve(spec.category)
        if category is None:
            problems.append(
                Problem.of(
                    "unknown_file_category",
                    source,
                    category=spec.category,
                    ids=", ".join(catalog.ids),
                )
            )
        return pd.Series(category, index=frame.index, dtype=object)
    cat_col = find_column(cols, "category", spec.category_col, source=source)
    if cat_col is None:
        problems.append(Problem.of("no_category_column", source, columns=", ".join(cols)))
        return pd.Series(None, index=frame.index, dtype=object)
    labels = frame[cat_col].astype("string").str.strip()
    labels = labels.mask(labels == "")
    resolved = {
        lab: (user_map.get(lab) or catalog.resolve(lab)) for lab in labels.dropna().unique()
    }
    cats = labels.map(lambda lab: resolved.get(lab) if isinstance(lab, str) else None).astype(
        object
    )
    unknown = Counter(lab for lab in labels.dropna() if resolved.get(lab) is None)
    if unknown:
        top = unknown.most_common(12)
        more = f" (+{len(unknown) - 12})" if len(unknown) > 12 else ""
        listed = {
            "en": "; ".join(f"'{lab}' ({n} rows)" for lab, n in top) + more,
            "zh": "；".join(f"“{lab}”（{n} 行）" for lab, n in top) + more,
        }
        problems.append(
            Problem.of(
                "unknown_facility_categories",
                source,
                place=("column", cat_col),
                labels=listed,
            )
        )
    empty = labels.isna()
    if empty.any():
        place = row_place(np.flatnonzero(empty.to_numpy()))
        problems.append(Problem.of("empty_category", source, place=place, column=cat_col))
    return cats


def _capacity(
    frame: gpd.GeoDataFrame, cap_col: str | None, source: str, problems: list[Problem]
) -> pd.Series:
    """The capacity column as numbers (NaN without one); text is a problem."""
    if not cap_col:
        return pd.Series(np.nan, index=frame.index)
    capacity = parse_numbers(frame[cap_col])
    bad_cap = frame[cap_col].notna() & capacity.isna()
    if bad_cap.any():
        place = row_place(np.flatnonzero(bad_cap.to_numpy()))
        problems.append(Problem.of("capacity_not_number", source, place=place, column=cap_col))
    return capacity


def _facility_ids(
    frame: gpd.GeoDataFrame,
    id_col: str | None,
    source: str,
    keep: pd.Series,
    problems: list[Problem],
) -> pd.Series:
    """The id column, or ``file-stem:row``; duplicates among kept rows are a problem."""
    if not id_col:
        stem = Path(source).stem
        return pd.Series([f"{stem}:{i + 2}" for i in range(len(frame))], index=frame.index)
    ids = frame[id_col].astype(str)
    dup = ids[keep].duplicated(keep=False)
    if dup.any():
        shown = ", ".join(sorted(set(ids[keep][dup]))[:8])
        problems.append(
            Problem.of("duplicate_facility_ids", source, place=("column", id_col), ids=shown)
        )
    return ids


def merge_facilities(
    osm: gpd.GeoDataFrame, user: list[tuple[gpd.GeoDataFrame, str, Sequence[str] | None]]
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """OSM facilities merged with users' files, per category (see the module docs).

    ``user`` holds each file's facilities, its mode and, for a ``replace`` file, the
    categories it replaces (None: those of its rows).

    Returns
    -------
    (facilities, dropped)
        The merged facilities, and per category how many OSM facilities were dropped.
    """
    parts = [osm]
    dropped: dict[str, int] = {}
    for frame, mode, replaces in user:
        cats = list(frame["category"].unique())
        if mode == "replace" and replaces is not None:
            cats = list(dict.fromkeys([*replaces, *cats]))
        for cat in cats:
            osm_cat = parts[0]["category"] == cat
            if mode == "replace":
                gone = osm_cat
            else:
                mine = shapely.union_all(
                    frame.loc[frame["category"] == cat].geometry.buffer(SAME_PLACE_M).to_numpy()
                )
                gone = osm_cat & parts[0].geometry.intersects(mine)
            dropped[cat] = dropped.get(cat, 0) + int(gone.sum())
            parts[0] = parts[0].loc[~gone.to_numpy()]
        parts.append(frame)
    merged = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=osm.crs), dropped
