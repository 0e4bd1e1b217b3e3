"""Analysis units: communities from a boundary file, OSM administrative areas, or a generated
management grid of square or hexagonal cells.

Every unit frame has ``unit_id`` (text), ``name``, ``population`` (known residents, or
missing) and a polygon, in the study's metric CRS.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from lifecircle.errors import Problem
from lifecircle.geo.crs import parse_crs, to_wgs84
from lifecircle.geo.specs import Read, UnitsFile
from lifecircle.geo.tables import find_column, parse_numbers, read_table
from lifecircle.i18n import Note

__all__ = ["UNIT_COLUMNS", "admin_units", "assign_units", "load_units", "make_grid"]

UNIT_COLUMNS = ["unit_id", "name", "population", "geometry"]


def make_grid(
    area: BaseGeometry,
    *,
    crs: object,
    cell_m: float = 250.0,
    shape: str = "square",
    clip: bool = True,
) -> gpd.GeoDataFrame:
    """A management grid over ``area``.

    Square cells are aligned to multiples of ``cell_m`` in the CRS, so the same area always
    gives the same cells. Ids count rows from the north and columns from the west:
    ``R01C01`` is the north-west cell. Hexagonal cells are flat-topped, ``cell_m`` across
    the flats (the distance between neighbouring centres).

    Parameters
    ----------
    area
        The polygon to cover, in the metric ``crs``.
    crs
        The metric CRS of ``area``.
    cell_m
        Cell size in metres.
    shape
        ``"square"`` or ``"hex"``.
    clip
        Cut cells at the area's edge (True) or keep whole cells that touch it.

    Returns
    -------
    geopandas.GeoDataFrame
        ``unit_id`` and the cells, in ``crs``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = make_grid(box(0, 0, 500, 250), crs="EPSG:32650", cell_m=250)
    >>> g["unit_id"].tolist(), g.area.round().tolist()
    (['R01C01', 'R01C02'], [62500.0, 62500.0])
    """
    if cell_m <= 0:
        raise ValueError("cell_m must be positive")
    if shape not in {"square", "hex"}:
        raise ValueError(f"unknown grid shape {shape!r}: use square or hex")
    minx, miny, maxx, maxy = area.bounds
    if shape == "square":
        x0 = math.floor(minx / cell_m) * cell_m
        y1 = math.ceil(maxy / cell_m) * cell_m
        ncol = max(1, math.ceil((maxx - x0) / cell_m))
        nrow = max(1, math.ceil((y1 - miny) / cell_m))
        grid_rows, grid_cols = np.meshgrid(np.arange(nrow), np.arange(ncol), indexing="ij")
        rows, cols = grid_rows.ravel(), grid_cols.ravel()
        cells = shapely.box(
            x0 + cols * cell_m,
            y1 - (rows + 1) * cell_m,
            x0 + (cols + 1) * cell_m,
            y1 - rows * cell_m,
        )
    else:
        cells, rows, cols = _hex_cells(minx, miny, maxx, maxy, cell_m)
    width = max(2, len(str(int(rows.max()) + 1)), len(str(int(cols.max()) + 1)))
    ids = np.array(
        [f"R{r + 1:0{width}d}C{c + 1:0{width}d}" for r, c in zip(rows, cols, strict=True)]
    )
    hit = shapely.intersects(cells, area)
    cells, ids = cells[hit], ids[hit]
    if clip:
        cells = shapely.intersection(cells, area)
        keep = shapely.area(cells) > 1e-6 * cell_m * cell_m
        cells, ids = cells[keep], ids[keep]
    return gpd.GeoDataFrame(
        {"unit_id": ids, "name": ids, "population": np.full(len(ids), np.nan)},
        geometry=cells,
        crs=crs,
    )


def _hex_cells(
    minx: float, miny: float, maxx: float, maxy: float, cell_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = cell_m / math.sqrt(3.0)  # circumradius of a flat-topped hexagon cell_m across the flats
    dx = 1.5 * r
    dy = cell_m
    c0 = math.floor(minx / dx) - 1
    c1 = math.ceil(maxx / dx) + 1
    r0 = math.floor(miny / dy) - 1
    r1 = math.ceil(maxy / dy) + 1
    angles = np.deg2rad(np.arange(0, 360, 60))
    ring = np.stack([r * np.cos(angles), r * np.sin(angles)], axis=1)
    polys, rows, cols = [], [], []
    for ci, c in enumerate(range(c0, c1 + 1)):
        cx = c * dx
        offset = dy / 2 if c % 2 else 0.0
        for rj, rr in enumerate(range(r1, r0 - 1, -1)):
            cy = rr * dy + offset
            polys.append(shapely.Polygon(ring + np.array([cx, cy])))  # translate the ring
            rows.append(rj)
            cols.append(ci)
    return np.array(polys, dtype=object), np.array(rows), np.array(cols)


def assign_units(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> pd.Series:
    """The ``unit_id`` each point falls in (missing outside every unit).

    A point on a shared border goes to the first unit in ``units`` order.
    """
    if len(points) == 0:
        return pd.Series([], dtype="string", index=points.index)
    joined = gpd.sjoin(
        gpd.GeoDataFrame(geometry=points.geometry, crs=points.crs),
        units[["unit_id", "geometry"]].to_crs(points.crs),
        how="left",
        predicate="intersects",
    )
    first = joined[~joined.index.duplicated(keep="first")]
    return first["unit_id"].reindex(points.index).astype("string")


def load_units(spec: UnitsFile) -> Read[gpd.GeoDataFrame]:
    """Analysis units from a boundary file (GeoJSON, GeoPackage, Shapefile), in WGS84.

    Columns for id, name and known population are taken from ``spec`` or detected
    (``id``/``编码``, ``name``/``名称``/``社区``, ``population``/``人口``/``常住人口``).
    Invalid polygons are repaired (``make_valid``) and reported as notes; problems (no
    CRS, no polygons, duplicate ids, populations that are not numbers) are returned, not
    raised, so that every input's problems can be reported together.
    """
    path = spec.path
    problems: list[Problem] = []
    notes: list[Note] = []
    frame, _info = read_table(path, encoding=spec.encoding)
    if not isinstance(frame, gpd.GeoDataFrame):
        problems.append(Problem.of("units_not_layer", path))
        empty = gpd.GeoDataFrame(columns=UNIT_COLUMNS, geometry="geometry", crs="EPSG:4326")
        return Read(empty, problems, notes)
    frame = _declared_crs(frame, spec, problems)
    geoms = frame.geometry.to_numpy()
    missing, not_poly = _shape_problems(geoms, path, problems)
    invalid = ~missing & ~shapely.is_valid(geoms)
    cols = [c for c in frame.columns if c != "geometry"]
    id_name = find_column(cols, "id", spec.id_col, source=path)
    name_name = find_column(cols, "name", spec.name_col, source=path)
    pop_name = find_column(cols, "population", spec.population_col, source=path)
    ids = _unit_ids(frame, id_name, name_name)
    if invalid.any():
        geoms = _repaired(geoms, invalid, ids, path, notes)
    dup = ids.duplicated(keep=False) & ~missing
    if dup.any():
        problems.append(
            Problem.of(
                "duplicate_unit_ids",
                path,
                place=("column", id_name),
                ids=", ".join(sorted(set(ids[dup]))[:8]),
            )
        )
    population = (
        _unit_population(frame[pop_name], path, problems)
        if pop_name is not None
        else pd.Series(np.nan, index=frame.index)
    )
    own = {c: frame[c].to_numpy() for c in cols if c not in UNIT_COLUMNS}
    units = gpd.GeoDataFrame(
        {
            "unit_id": ids.to_numpy(),
            "name": frame[name_name].astype(str).to_numpy() if name_name else ids.to_numpy(),
            "population": population.to_numpy(float),
            **own,  # the file's other columns: a roll-up (街道), households, age groups
        },
        geometry=geoms,
        crs=frame.crs,
    )
    units = units.loc[~missing & ~not_poly].to_crs("EPSG:4326").reset_index(drop=True)
    if not problems:
        notes += _overlap_notes(units, path)
    return Read(units, problems, notes)


OVERLAP_M2 = 1.0
"""Units sharing less than this area only touch (their borders were digitised apart by
centimetres), a judgement of this project."""


def _overlap_notes(units: gpd.GeoDataFrame, path: str) -> list[Note]:
    """A note naming the pairs of units that overlap and the area (m²) each pair shares
    (the residents there are counted in the first of the two, see :func:`assign_units`)."""
    if len(units) < 2:
        return []
    metric = units.to_crs(units.estimate_utm_crs())
    geoms = metric.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    areas = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    big = areas >= OVERLAP_M2
    if not big.any():
        return []
    ids = units["unit_id"].astype(str).to_numpy()
    order = np.argsort(-areas[big], kind="stable")
    pairs = [(ids[i], ids[j], a) for i, j, a in zip(left[big], right[big], areas[big], strict=True)]
    shown = ", ".join(f"{pairs[k][0]} & {pairs[k][1]} ({pairs[k][2]:,.0f} m²)" for k in order[:8])
    more = f" (+{len(pairs) - 8})" if len(pairs) > 8 else ""
    return [Note("note_units_overlap", {"file": path, "n": len(pairs), "pairs": shown + more})]


def _declared_crs(
    frame: gpd.GeoDataFrame, spec: UnitsFile, problems: list[Problem]
) -> gpd.GeoDataFrame:
    """The layer in the CRS it declares, or the one the user declared (a layer with
    neither is a problem, taken as WGS84)."""
    path = spec.path
    declared = parse_crs(spec.crs, source=path) if spec.crs is not None else None
    if declared in ("gcj02", "bd09"):
        coords = shapely.get_coordinates(frame.geometry.to_numpy())
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], declared)
        return frame.set_geometry(
            shapely.set_coordinates(frame.geometry.to_numpy().copy(), np.column_stack([lon, lat])),
            crs="EPSG:4326",
        )
    if declared is not None:
        return frame.set_crs("EPSG:4326" if declared == "wgs84" else declared, allow_override=True)
    if frame.crs is None:
        problems.append(Problem.of("units_without_crs", path))
        return frame.set_crs("EPSG:4326")
    if frame.crs.is_geographic and len(frame) and _outside_lonlat(frame):
        # a GeoJSON without a "crs" member is WGS84 by RFC 7946: metres say otherwise
        problems.append(Problem.of("units_look_projected", path))
    return frame


def _outside_lonlat(frame: gpd.GeoDataFrame) -> bool:
    """Whether a layer said to be in degrees has coordinates no longitude or latitude has."""
    west, south, east, north = (float(v) for v in frame.total_bounds)
    return bool(west < -180 or east > 180 or south < -90 or north > 90)


def _shape_problems(
    geoms: np.ndarray, path: str, problems: list[Problem]
) -> tuple[np.ndarray, np.ndarray]:
    """Features without geometry, and features that are not polygons."""
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        problems.append(Problem.of("features_without_geometry", path, place=_features(missing)))
    kinds = shapely.get_type_id(geoms)
    not_poly = ~missing & ~np.isin(kinds, [3, 6, 7])
    if not_poly.any():
        problems.append(Problem.of("features_not_polygons", path, place=_features(not_poly)))
    return missing, not_poly


def _unit_ids(frame: gpd.GeoDataFrame, id_name: str | None, name_name: str | None) -> pd.Series:
    """The id column; else unique names; else ``U1``, ``U2``..."""
    if id_name is None and name_name is not None and not frame[name_name].duplicated().any():
        return frame[name_name].astype(str)
    if id_name is not None:
        return frame[id_name].astype(str).str.strip()
    return pd.Series([f"U{i + 1}" for i in range(len(frame))], index=frame.index)


def _repaired(
    geoms: np.ndarray, invalid: np.ndarray, ids: pd.Series, path: str, notes: list[Note]
) -> np.ndarray:
    """Invalid polygons made valid (their polygon parts), with a note for each (up to 20)."""
    for i in np.flatnonzero(invalid)[:20]:
        notes.append(
            Note(
                "note_repaired_geometry",
                {"source": path, "unit": ids.iloc[i], "reason": shapely.is_valid_reason(geoms[i])},
            )
        )
    fixed = shapely.make_valid(geoms[invalid])
    # keep only the polygon parts of what make_valid returns
    fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
    geoms = geoms.copy()
    geoms[invalid] = fixed
    return geoms


def _unit_population(values: pd.Series, path: str, problems: list[Problem]) -> pd.Series:
    """Known populations as numbers; text that is not one, and negatives, are problems."""
    population = parse_numbers(values)
    bad = values.notna() & (values.astype(str).str.strip() != "") & population.isna()
    if bad.any():
        problems.append(
            Problem.of(
                "units_population_not_number",
                path,
                place=_features(bad.to_numpy()),
                column=values.name,
            )
        )
    negative = (population < 0).to_numpy()
    if negative.any():
        problems.append(
            Problem.of("negative_population", path, place=_features(negative), column=values.name)
        )
    return population


def _features(mask: np.ndarray, limit: int = 5) -> tuple[str, str]:
    """A :data:`~lifecircle.errors.Place` naming features by number (the first is 1).

    Examples
    --------
    >>> _features(np.array([False, True, True]))
    ('features', '2, 3')
    >>> _features(np.ones(7, dtype=bool))
    ('features', '1, 2, 3, 4, 5 (+2)')
    """
    numbers = np.flatnonzero(mask) + 1
    shown = ", ".join(str(n) for n in numbers[:limit])
    return ("features", shown + (f" (+{len(numbers) - limit})" if len(numbers) > limit else ""))


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygon parts of a geometry (``make_valid`` may return a collection)."""
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts)


def admin_units(layers_boundaries: gpd.GeoDataFrame, admin_level: int) -> gpd.GeoDataFrame:
    """Units from OSM administrative boundaries of one ``admin_level`` (WGS84)."""
    b = layers_boundaries
    level = (
        b["admin_level"].astype(str).str.strip()
        if "admin_level" in b.columns
        else pd.Series(dtype=str)
    )
    sel = b.loc[
        (level == str(admin_level)).to_numpy()
        & b.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    ]
    names = sel["name"].astype(str) if "name" in sel.columns else pd.Series("", index=sel.index)
    ids = (
        sel["osm_id"].astype("Int64").astype(str)
        if "osm_id" in sel.columns
        else pd.Series(range(len(sel)), index=sel.index).astype(str)
    )
    return gpd.GeoDataFrame(
        {"unit_id": ids.to_numpy(), "name": names.to_numpy(), "population": np.nan},
        geometry=sel.geometry.to_numpy(),
        crs=b.crs,
    ).reset_index(drop=True)
