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

__all__ = ["UNIT_COLUMNS", "assign_units", "make_grid"]

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
