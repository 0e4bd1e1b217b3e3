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

import logging
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
from lifecircle.geo.poi import PoiLayout, PoiMatch, classify_pois, detect_layout
from lifecircle.geo.specs import FacilityFile, Read
from lifecircle.geo.study_area import FACILITY_COLUMNS
from lifecircle.geo.tables import (
    decode_text,
    find_column,
    parse_numbers,
    points_from_table,
    read_table,
    row_place,
)
from lifecircle.i18n import Note

__all__ = ["FacilityFile", "merge_facilities", "read_category_map", "read_facilities"]

log = logging.getLogger(__name__)

EXPORT_EN = {"amap": "Amap (Gaode) POI", "baidu": "Baidu POI"}
EXPORT_ZH = {"amap": "高德 POI", "baidu": "百度 POI"}

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

    An Amap or Baidu POI export (:func:`lifecircle.geo.poi.detect_layout`) is recognised
    when no category is given: its coordinates are taken as GCJ-02 or BD-09 (unless ``crs``
    says otherwise) and its codes map to categories through the bundled tables.

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
        point), every problem found (not raised), notes and, for a POI export, its audit.
    """
    source = spec.path
    raw, info = read_table(
        spec.path,
        encoding=spec.encoding,
        sheet=spec.sheet,
        allow_empty=spec.replaces is not None,  # it may replace some categories by none
    )
    layout = None if _has_categories(spec, raw) else detect_layout(raw)
    point_crs = spec.crs if spec.crs is not None or layout is None else layout.crs
    table = points_from_table(
        raw, info, source, crs=point_crs, lon_col=spec.lon_col, lat_col=spec.lat_col
    )
    problems = list(table.problems)
    frame = table.frame
    cols = [c for c in frame.columns if c != "geometry"]
    user_map = _user_map(spec, catalog, problems)
    name_col = find_column(cols, "name", spec.name_col, source=source)
    notes: list[Note] = []
    audit = None
    if layout is not None:
        frame, cats, rows, audit = _poi_categories(
            spec, frame, layout, catalog, user_map, name_col, problems, notes
        )
    else:
        cats = _categories(spec, frame, cols, catalog, user_map, problems)
        rows = np.arange(len(frame))
    keep = cats.notna() & (cats != IGNORE) & frame.geometry.notna()
    id_col = find_column(cols, "id", spec.id_col, source=source)
    cap_col = find_column(cols, "capacity", spec.capacity_col, source=source)
    capacity = _capacity(frame, cap_col, source, problems)
    ids = _facility_ids(frame, id_col, source, keep, problems, rows, cats)
    sub = frame.loc[keep]
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
    out, dup_notes = _drop_duplicates(out, rows[keep.to_numpy()], source)
    return Read(out[FACILITY_COLUMNS], problems, notes + dup_notes, audit)


def _has_categories(spec: FacilityFile, raw: pd.DataFrame) -> bool:
    """Whether the file names its categories itself: one for the file, a category column
    given, or a category column other than an Amap export's ``type``."""
    if spec.category or spec.category_col:
        return True
    col = find_column(raw.columns, "category", None, source=spec.path)
    return col is not None and col.strip().casefold() != "type"


def _user_map(
    spec: FacilityFile, catalog: ServiceCatalog, problems: list[Problem]
) -> dict[str, str]:
    """The user's label -> category mapping; targets the catalog lacks are problems."""
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
    return user_map


def _poi_categories(
    spec: FacilityFile,
    frame: gpd.GeoDataFrame,
    layout: PoiLayout,
    catalog: ServiceCatalog,
    user_map: dict[str, str],
    name_col: str | None,
    problems: list[Problem],
    notes: list[Note],
) -> tuple[gpd.GeoDataFrame, pd.Series, np.ndarray, pd.DataFrame]:
    """A POI export's rows, one per facility (a row of several categories repeated), their
    categories, their 0-based rows in the file and the audit; codes with no category are
    a problem (``strict``) or a note."""
    file = Path(spec.path).name
    names = frame[name_col] if name_col else None
    match = classify_pois(frame, layout, catalog, names=names, user_map=user_map, source=file)
    expanded = frame.iloc[match.positions].reset_index(drop=True)
    cats = pd.Series(match.categories, index=expanded.index, dtype=object)
    system = {"gcj02": "GCJ-02", "bd09": "BD-09"}.get(str(spec.crs or layout.crs), str(spec.crs))
    notes.append(
        Note(
            "note_poi_export",
            {
                "file": file,
                "export": {"en": EXPORT_EN[layout.export], "zh": EXPORT_ZH[layout.export]},
                "crs": system,
                "n": len(expanded),
                "rows": len(frame),
            },
        )
    )
    if match.unmapped:
        listed = _unmapped_text(match)
        positions = np.unique(np.concatenate(list(match.unmapped.values())))
        if spec.strict:
            problems.append(
                Problem.of("poi_unmapped", spec.path, place=row_place(positions), codes=listed)
            )
        else:
            log.warning(
                "%s: %d rows left out (codes with no category): %s",
                file,
                len(positions),
                listed["en"],
            )
            notes.append(
                Note("note_poi_unmapped", {"file": file, "n": len(positions), "codes": listed})
            )
    return expanded, cats, match.positions, match.audit


def _unmapped_text(match: PoiMatch) -> dict[str, str]:
    """The unmapped codes, most rows first (at most 12), in English and Chinese."""
    audit = match.audit.loc[match.audit["outcome"] == "unmapped"]
    top = audit.sort_values("rows", ascending=False, kind="stable").head(12)
    more = f" (+{len(audit) - 12})" if len(audit) > 12 else ""
    seen = list(zip(top["code"], top["type"], top["rows"], strict=True))
    en = "; ".join(f"{c} {t} ({n} rows)" for c, t, n in seen)
    zh = "；".join(f"{c} {t}（{n} 行）" for c, t, n in seen)
    return {"en": en + more, "zh": zh + more}


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
    rows: np.ndarray,
    cats: pd.Series,
) -> pd.Series:
    """The id column, or ``file-stem:row`` (``rows``: each row's 0-based row in the file); a
    row of several categories gets ``:category`` after its id. Duplicates among kept rows are
    a problem."""
    if not id_col:
        stem = Path(source).stem
        ids = pd.Series([f"{stem}:{i + 2}" for i in rows], index=frame.index)
    else:
        ids = frame[id_col].astype(str)
    repeated = pd.Series(rows, index=frame.index).duplicated(keep=False).to_numpy()
    if repeated.any():
        ids = ids.where(~repeated, ids + ":" + cats.astype(str))
    dup = ids[keep].duplicated(keep=False)
    if id_col and dup.any():
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
