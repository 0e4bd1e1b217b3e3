"""The planner's own buildings, households, and what names say about OSM's ``building=yes``.

OSM is thin in Chinese cities: most homes have no floor count, and a plain ``building=yes``
is taken as housing (:mod:`lifecircle.geo.residents`). Three remedies live here:

- A buildings file (``[inputs.buildings]``): footprints with floors (层数, 楼层, floors,
  levels) and a use (用途, 性质, 类型). It *covers* the area inside the convex hull of its
  footprints: there, OSM's buildings (those whose representative point lies inside the
  hull) are replaced by the file's; outside it, OSM's stay. Use values become residential
  or not through ``lifecircle/data/building_uses.toml`` (overridable by a plan-named file);
  unknown values are listed in a note with their counts.
- Households (户数) in a buildings or compounds file: residents = households x persons per
  household (:class:`~lifecircle.geo.specs.ResidentModel`).
- ``building=yes`` taken as a home only by the default rule, but named (or standing in an
  area named) 产业园, 大厦, 写字楼, 中心... is not a home; the largest remaining such
  buildings are listed (:func:`largest_default_buildings`) for the planner to check.
"""

from __future__ import annotations

import logging
import tomllib
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.errors import InputError, Problem
from lifecircle.geo.crs import parse_crs, to_wgs84
from lifecircle.geo.specs import BuildingsFile, CompoundsFile, Read, ResidentModel
from lifecircle.geo.tables import _norm, _row_place, find_column, parse_numbers, read_table
from lifecircle.i18n import Note

__all__ = [
    "UseMapping",
    "households_areas",
    "largest_default_buildings",
    "named_areas",
    "named_not_homes",
    "read_buildings",
    "replace_covered",
    "use_mapping",
]

log = logging.getLogger(__name__)

WKT_COLUMNS = ("geometry", "wkt", "geom", "几何", "shape")
"""Columns of a CSV or Excel buildings table that hold footprints as WKT."""


@dataclass(frozen=True)
class UseMapping:
    """Use values that are homes and those that are not, and what an unknown one is.

    Attributes
    ----------
    words
        Normalised use word -> residential (bool).
    unknown_residential
        What a value matching no word is taken to be.
    name_words
        Words that, in a building's (or its area's) name, say it is not a home.
    """

    words: dict[str, bool]
    unknown_residential: bool
    name_words: tuple[str, ...]

    def classify(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Residential or not for each value, and which values were unknown.

        A value is matched whole first, then by the longest word it contains; missing
        values are unknown.

        Examples
        --------
        >>> m = use_mapping()
        >>> res, unknown = m.classify(pd.Series(["住宅楼", "商业办公", "仓房", None]))
        >>> res.tolist(), unknown.tolist()
        ([True, False, False, False], [False, False, True, True])
        """
        by_length = sorted(self.words, key=len, reverse=True)
        res = np.zeros(len(values), dtype=bool)
        unknown = np.zeros(len(values), dtype=bool)
        for i, value in enumerate(values.tolist()):
            text = "" if value is None or pd.isna(value) else _norm(str(value))
            hit = self.words.get(text)
            if hit is None and text:
                hit = next((self.words[w] for w in by_length if w in text), None)
            unknown[i] = hit is None
            res[i] = self.unknown_residential if hit is None else hit
        return res, unknown


def _mapping_doc(path: str | Path, source: str) -> dict[str, Any]:
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(Problem.of("building_uses_unreadable", source, error=str(exc))) from None
    lists = [doc.get("residential", []), doc.get("not_residential", [])]
    lists.append(doc.get("names", {}).get("not_residential", []))
    ok = all(isinstance(v, list) and all(isinstance(w, str) for w in v) for v in lists)
    if not ok or doc.get("unknown", "not_residential") not in ("residential", "not_residential"):
        raise InputError(Problem.of("building_uses_unreadable", source, error="wrong form"))
    return doc


def use_mapping(path: str | None = None) -> UseMapping:
    """The bundled use mapping (``lifecircle/data/building_uses.toml``), with the words of
    the file ``path`` added on top (its words win; its ``unknown`` replaces the bundled).

    Parameters
    ----------
    path
        A TOML file of the bundled file's form, or ``None``.

    Returns
    -------
    UseMapping
        The mapping.

    Raises
    ------
    InputError
        When ``path`` cannot be read or is not of that form.
    """
    bundled = resources.files("lifecircle.data") / "building_uses.toml"
    docs = [tomllib.loads(bundled.read_text(encoding="utf-8"))]
    if path is not None:
        docs.append(_mapping_doc(path, path))
    words: dict[str, bool] = {}
    names: list[str] = []
    unknown = "not_residential"
    for doc in docs:
        words.update({_norm(w): True for w in doc.get("residential", [])})
        words.update({_norm(w): False for w in doc.get("not_residential", [])})
        names += [w for w in doc.get("names", {}).get("not_residential", []) if w not in names]
        unknown = doc.get("unknown", unknown)
    return UseMapping(words, unknown == "residential", tuple(names))


def _polygons(
    path: str, crs: str | int | None, encoding: str | None, problems: list[Problem]
) -> gpd.GeoDataFrame | None:
    """The polygons of a layer, or of a table's WKT column, in WGS84 (None: a fatal
    problem, added to ``problems``). A given ``crs`` says what the coordinates are, whatever
    the layer declares (``gcj02`` and ``bd09`` are shifted back to WGS84)."""
    frame, _info = read_table(path, encoding=encoding)
    if not isinstance(frame, gpd.GeoDataFrame):
        wkt = find_wkt_column(frame.columns)
        if wkt is None:
            problems.append(Problem.of("buildings_no_geometry", path))
            return None
        geoms = shapely.from_wkt(
            frame[wkt].astype("string").fillna("").to_numpy(), on_invalid="ignore"
        )
        frame = gpd.GeoDataFrame(frame.drop(columns=[wkt]), geometry=geoms, crs="EPSG:4326")
    if crs is not None:  # the plan's crs wins: wgs84, gcj02 (Amap), bd09 (Baidu) or EPSG
        parse_crs(crs, source=path)

        def shift(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], crs))

        geoms = shapely.transform(frame.geometry.to_numpy(), shift)
        frame = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs="EPSG:4326")
    elif frame.crs is None:
        problems.append(Problem.of("buildings_no_crs", path))
        return None
    frame = frame.reset_index(drop=True).to_crs("EPSG:4326")
    poly = shapely.get_type_id(frame.geometry.to_numpy()) >= 3
    bad = ~poly | frame.geometry.isna().to_numpy()
    if bad.any():
        problems.append(
            Problem.of("buildings_not_polygons", path, place=_row_place(np.flatnonzero(bad)))
        )
    return frame


def find_wkt_column(columns: Any) -> str | None:
    """The column of WKT footprints in a table (``geometry``, ``wkt``, ``几何``...).

    >>> find_wkt_column(["名称", "WKT", "层数"])
    'WKT'
    """
    by_norm = {_norm(c): str(c) for c in columns}
    return next((by_norm[w] for w in WKT_COLUMNS if w in by_norm), None)


def _numbers(
    frame: pd.DataFrame, col: str, key: str, source: str, problems: list[Problem]
) -> pd.Series:
    """A column as numbers; text that is not a number, and negative numbers, are problems
    (``<key>_not_number``, ``<key>_negative``)."""
    values = frame[col]
    nums = parse_numbers(values.astype("string"))
    text = values.astype("string").str.strip()
    bad = (nums.isna() & values.notna() & text.ne("")).to_numpy(dtype=bool)
    if bad.any():
        place = _row_place(np.flatnonzero(bad))
        problems.append(Problem.of(f"{key}_not_number", source, place=place, column=col))
    negative = (nums < 0).to_numpy(dtype=bool)
    if negative.any():
        place = _row_place(np.flatnonzero(negative))
        problems.append(Problem.of(f"{key}_negative", source, place=place, column=col))
    return nums.where(nums >= 0)


def read_buildings(
    spec: BuildingsFile, *, crs: Any, model: ResidentModel | None = None
) -> Read[gpd.GeoDataFrame]:
    """The planner's buildings, as :func:`~lifecircle.geo.residents.estimate_residents`
    takes them, in the metric ``crs``.

    Parameters
    ----------
    spec
        The file and its columns.
    crs
        The study's metric CRS.
    model
        The resident model (persons per household).

    Returns
    -------
    Read
        ``osm_id`` (missing), ``building`` (``"file"``), ``tags`` (the name), ``floors``,
        ``residential``, ``households``, ``residents_given`` (households x persons per
        household, else missing) and the footprints; problems (a missing floors column,
        negative floors, households that are not numbers...) and notes (unknown uses).
    """
    model = model or ResidentModel()
    problems: list[Problem] = []
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    frame = _polygons(spec.path, spec.crs, spec.encoding, problems)
    if frame is None:
        return Read(empty, problems)
    cols = [c for c in frame.columns if c != "geometry"]
    floors_col = find_column(cols, "floors", spec.floors_col, source=spec.path)
    use_col = find_column(cols, "use", spec.use_col, source=spec.path)
    hh_col = find_column(cols, "households", spec.households_col, source=spec.path)
    name_col = find_column(cols, "name", spec.name_col, source=spec.path)
    n = len(frame)
    floors = pd.Series(np.nan, index=frame.index)
    if floors_col is not None:
        floors = _numbers(frame, floors_col, "floors", spec.path, problems)
    elif hh_col is None:
        problems.append(
            Problem.of("no_floors_column", spec.path, columns=", ".join(map(str, cols)))
        )
    households = pd.Series(np.nan, index=frame.index)
    if hh_col is not None:
        households = _numbers(frame, hh_col, "households", spec.path, problems)
    mapping = use_mapping(spec.uses)
    notes: list[Note] = []
    if use_col is not None:
        residential, unknown = mapping.classify(frame[use_col])
        if unknown.any():
            notes.append(_unknown_uses_note(frame[use_col], unknown, spec.path, mapping))
            log.warning("%s", notes[-1].text("en"))
    else:
        residential = np.ones(n, dtype=bool)
    names = frame[name_col].astype("string").to_numpy() if name_col else [None] * n
    keep = (shapely.get_type_id(frame.geometry.to_numpy()) >= 3) & frame.geometry.notna().to_numpy()
    out = gpd.GeoDataFrame(
        {
            "osm_id": np.full(n, np.nan),
            "building": "file",
            "tags": [{"name": str(v)} if v is not None and not pd.isna(v) else {} for v in names],
            "floors": floors.to_numpy(dtype=float),
            "residential": residential,
            "households": households.to_numpy(dtype=float),
            "residents_given": households.to_numpy(dtype=float) * model.persons_per_household,
            "source_row": np.arange(n) + 2,
        },
        geometry=frame.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    return Read(out.loc[keep].to_crs(crs).reset_index(drop=True), problems, notes)


def _unknown_uses_note(
    values: pd.Series, unknown: np.ndarray, source: str, mapping: UseMapping
) -> Note:
    counts = Counter("" if pd.isna(v) else str(v).strip() for v in values[unknown].tolist())
    shown = ", ".join(f"{v or '(empty)'} x{c}" for v, c in counts.most_common(15))
    if len(counts) > 15:
        shown += f", ... (+{len(counts) - 15})"
    taken = "residential" if mapping.unknown_residential else "not_residential"
    return Note(
        "note_unknown_building_uses",
        {
            "source": source,
            "n": int(unknown.sum()),
            "values": shown,
            "taken": {
                "en": taken.replace("_", " "),
                "zh": "住宅" if taken == "residential" else "非住宅",
            },
        },
    )


def replace_covered(
    osm: gpd.GeoDataFrame, planner: gpd.GeoDataFrame, source: str
) -> tuple[gpd.GeoDataFrame, list[Note]]:
    """OSM's buildings outside the planner's file's cover, and the file's buildings.

    The file covers the convex hull of its footprints: an OSM building whose representative
    point lies inside it is replaced (dropped); the others stay.

    Parameters
    ----------
    osm
        OSM's buildings (metric CRS).
    planner
        The file's buildings (:func:`read_buildings`, same CRS).
    source
        The file, for the note.

    Returns
    -------
    (geopandas.GeoDataFrame, list of Note)
        The buildings of the study (a new frame) and a note saying what was replaced.
    """
    if len(planner) == 0:
        return osm.copy(), []
    hull = shapely.union_all(planner.geometry.to_numpy()).convex_hull
    pts = shapely.point_on_surface(osm.geometry.to_numpy()) if len(osm) else np.array([])
    inside = shapely.within(pts, hull) if len(osm) else np.zeros(0, dtype=bool)
    kept = osm.loc[~np.asarray(inside, dtype=bool)]
    out = pd.concat([kept, planner], ignore_index=True)
    values = {
        "source": source,
        "n": len(planner),
        "replaced": int(np.sum(inside)),
        "kept": len(kept),
    }
    frame = gpd.GeoDataFrame(out, geometry="geometry", crs=osm.crs if len(osm) else planner.crs)
    return frame, [Note("note_buildings_file", values)]


def named_areas(*frames: gpd.GeoDataFrame | None, crs: Any) -> gpd.GeoDataFrame:
    """The named polygons of ``frames`` (OSM amenity and land-use areas, compounds) with
    their ``name`` (or ``tags["name"]``), in ``crs``.

    Parameters
    ----------
    *frames
        Layers with a ``name`` column or a ``tags`` column of dicts (None: skipped).
    crs
        The CRS of the result.

    Returns
    -------
    geopandas.GeoDataFrame
        ``name``, polygon.
    """
    parts = []
    for frame in frames:
        if frame is None or len(frame) == 0:
            continue
        if "name" in frame.columns:
            names = frame["name"].astype(object).to_numpy()
        elif "tags" in frame.columns:
            names = np.array(
                [
                    t.get("name:zh") or t.get("name") if isinstance(t, dict) else None
                    for t in frame["tags"]
                ],
                dtype=object,
            )
        else:
            continue
        poly = shapely.get_type_id(frame.geometry.to_numpy()) >= 3
        named = np.array([isinstance(v, str) and bool(v.strip()) for v in names], dtype=bool)
        keep = poly & named
        parts.append(
            gpd.GeoDataFrame(
                {"name": np.asarray(names, dtype=object)[keep]},
                geometry=frame.geometry.to_numpy()[keep],
                crs=frame.crs,
            ).to_crs(crs)
        )
    if not parts:
        return gpd.GeoDataFrame({"name": []}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)


def named_not_homes(
    buildings: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None, words: tuple[str, ...]
) -> np.ndarray:
    """Whether each building's name, else the name of the smallest named area it stands in,
    holds one of ``words`` (产业园, 大厦, 中心...).

    Parameters
    ----------
    buildings
        Buildings with ``tags`` (dicts; ``name:zh`` or ``name``), metric CRS.
    areas
        Named polygons (:func:`named_areas`), or None.
    words
        The words that say "not a home".

    Returns
    -------
    numpy.ndarray
        Booleans aligned to ``buildings``.
    """

    def says(name: Any) -> bool:
        return isinstance(name, str) and any(w in name for w in words)

    own = [
        t.get("name:zh") or t.get("name") if isinstance(t, dict) else None
        for t in buildings["tags"]
    ]
    hit = np.array([says(v) for v in own], dtype=bool)
    unnamed = np.array([not v for v in own], dtype=bool)
    if areas is None or len(areas) == 0 or not unnamed.any():
        return hit
    pts = gpd.GeoDataFrame(
        geometry=shapely.point_on_surface(buildings.geometry.to_numpy()[unnamed]), crs=buildings.crs
    )
    lu = areas.to_crs(buildings.crs)
    lu = lu.assign(area=lu.geometry.area)
    joined = gpd.sjoin(pts, lu, how="inner", predicate="within").sort_values("area", kind="stable")
    joined = joined[~joined.index.duplicated(keep="first")]
    area_says = np.zeros(len(pts), dtype=bool)
    area_says[joined.index.to_numpy()] = [says(v) for v in joined["name"]]
    hit[np.flatnonzero(unnamed)] = area_says
    return hit


def households_areas(
    spec: CompoundsFile, *, crs: Any, model: ResidentModel
) -> Read[gpd.GeoDataFrame]:
    """Compounds with a households column (户数) as areas of known population
    (households x persons per household), in ``crs``.

    Parameters
    ----------
    spec
        The compounds file.
    crs
        The study's metric CRS.
    model
        The resident model (persons per household).

    Returns
    -------
    Read
        ``pop`` and the polygons (empty when the file has no households column), with the
        problems of its values.
    """
    problems: list[Problem] = []
    empty = gpd.GeoDataFrame({"pop": []}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    frame = _polygons(spec.path, spec.crs, spec.encoding, problems)
    if frame is None:
        return Read(empty, problems)
    cols = [c for c in frame.columns if c != "geometry"]
    col = find_column(cols, "households", spec.households_col, source=spec.path)
    if col is None:
        return Read(empty, problems)
    households = _numbers(frame, col, "households", spec.path, problems)
    keep = households.notna().to_numpy() & (shapely.get_type_id(frame.geometry.to_numpy()) >= 3)
    out = gpd.GeoDataFrame(
        {"pop": households.to_numpy(dtype=float)[keep] * model.persons_per_household},
        geometry=frame.geometry.to_numpy()[keep],
        crs="EPSG:4326",
    )
    return Read(out.to_crs(crs).reset_index(drop=True), problems)


def largest_default_buildings(demand: gpd.GeoDataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` largest buildings (by floor area) taken as homes only by the
    ``building=yes`` default: the ones a planner should check first.

    Parameters
    ----------
    demand
        Resident points with ``use_rule``, ``building_id``, ``footprint_m2``, ``floors``,
        ``residents``, ``unit_id`` (and ``name``).
    n
        How many.

    Returns
    -------
    pandas.DataFrame
        ``building_id``, ``name``, ``lon``, ``lat``, ``footprint_m2``, ``floors``,
        ``floor_area_m2``, ``residents``, ``unit_id``; largest first.
    """
    columns = ["building_id", "name", "lon", "lat", "footprint_m2", "floors", "floor_area_m2"]
    columns += ["residents", "unit_id"]
    if "use_rule" not in demand.columns or "footprint_m2" not in demand.columns:
        return pd.DataFrame(columns=columns)
    sel = demand.loc[demand["use_rule"] == "default"]
    floor_area = sel["footprint_m2"].to_numpy(float) * sel["floors"].to_numpy(float)
    order = np.argsort(-floor_area, kind="stable")[:n]
    sel = sel.iloc[order]
    ll = sel.geometry.to_crs("EPSG:4326") if len(sel) else sel.geometry
    return pd.DataFrame(
        {
            "building_id": sel["building_id"].to_numpy(),
            "name": sel["name"].to_numpy() if "name" in sel.columns else None,
            "lon": np.round(ll.x.to_numpy(), 6) if len(sel) else [],
            "lat": np.round(ll.y.to_numpy(), 6) if len(sel) else [],
            "footprint_m2": np.round(sel["footprint_m2"].to_numpy(float), 1),
            "floors": sel["floors"].to_numpy(float),
            "floor_area_m2": np.round(floor_area[order], 1),
            "residents": np.round(sel["residents"].to_numpy(float), 1),
            "unit_id": sel["unit_id"].to_numpy() if "unit_id" in sel.columns else None,
        },
        columns=columns,
    )
