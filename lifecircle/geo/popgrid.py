"""Resident points from a population grid: a GeoTIFF of people per cell (WorldPop, GHS-POP,
or the office's own), read with rasterio.

Only the cells over the study's units are read. A cell's people go:

- to the residential buildings whose point lies in the cell, in proportion to their floor
  area (footprint x floors), where the study has any: the same rule as a population
  polygon's people (:func:`lifecircle.geo.residents.residents_from_file`), so people stand
  where the homes are and not at a cell centre 50 m into a park;
- else to one point at the cell's centre.

Cells with no data (the raster's nodata value), empty and negative cells carry no one. The
points are then assigned to units and scaled to the units' known populations like any
resident points (:func:`lifecircle.geo.residents.scale_to_units`): a grid then only says
where inside a unit its people live. The raster must say its coordinate system; a grid
without one is an input problem (there is no safe guess between degrees and metres).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.transform
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from lifecircle.errors import Problem
from lifecircle.geo.specs import PopulationGrid, Read
from lifecircle.i18n import Note

__all__ = [
    "GridCells",
    "PopulationGrid",
    "grid_cells",
    "grid_problems",
    "residents_from_grid",
]

_KEY = ("key", "inputs.population_grid.path")


@dataclass(frozen=True)
class GridCells:
    """The cells of a population grid that hold people: their row and column in the
    raster, their centres (in the raster's CRS) and people; and how to find a point's cell."""

    row: np.ndarray
    col: np.ndarray
    x: np.ndarray
    y: np.ndarray
    people: np.ndarray
    transform: Affine
    crs: CRS

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The position (in these arrays) of the cell each point (raster CRS) lies in; -1
        for a point in no cell with people."""
        if len(x) == 0:
            return np.empty(0, dtype=np.int64)
        rows, cols = rasterio.transform.rowcol(self.transform, x, y)
        key = pd.MultiIndex.from_arrays([np.asarray(rows), np.asarray(cols)])
        index = pd.Series(np.arange(len(self.people)), index=[self.row, self.col])
        return index.reindex(key).fillna(-1).to_numpy(dtype=np.int64)


def grid_problems(spec: PopulationGrid) -> list[Problem]:
    """What is wrong with a population grid, found without reading its cells: no file, not
    a raster, no coordinate system, no such band (empty when it can be read)."""
    if not Path(spec.path).exists():
        return [Problem.of("file_not_found", spec.path, place=_KEY, path=spec.path)]
    try:
        src = rasterio.open(spec.path)
    except RasterioIOError as err:
        return [Problem.of("grid_unreadable", spec.path, place=_KEY, error=str(err))]
    with src:
        if src.crs is None:
            return [Problem.of("grid_no_crs", spec.path, place=_KEY)]
        if spec.band > src.count:
            place = ("key", "inputs.population_grid.band")
            return [Problem.of("grid_band", spec.path, place=place, band=spec.band, n=src.count)]
    return []


def grid_cells(spec: PopulationGrid, area: gpd.GeoDataFrame) -> Read[GridCells | None]:
    """The cells with people of the grid over ``area``'s extent.

    Parameters
    ----------
    spec
        The GeoTIFF and its band.
    area
        Polygons (any CRS) whose extent is read (and one cell more on each side).

    Returns
    -------
    Read
        The cells (None with the problems: no file, not a raster, no CRS, no such band).
    """
    problems = grid_problems(spec)
    if problems:
        return Read(None, problems)
    with rasterio.open(spec.path) as src:
        crs = CRS.from_user_input(src.crs.to_wkt())
        west, south, east, north = area.to_crs(crs).total_bounds
        rows, cols = rasterio.transform.rowcol(
            src.transform, [west, east, west, east], [south, south, north, north]
        )
        r0, r1 = max(min(rows) - 1, 0), min(max(rows) + 2, src.height)
        c0, c1 = max(min(cols) - 1, 0), min(max(cols) + 2, src.width)
        if r0 >= r1 or c0 >= c1:  # the units lie outside the grid
            data = np.ma.masked_array(np.zeros((0, 0)))
        else:
            window = Window(c0, r0, c1 - c0, r1 - r0)
            data = src.read(spec.band, window=window, masked=True)
        transform = src.transform
    people = np.ma.filled(data.astype(float), 0.0)
    people = np.where(np.isfinite(people) & (people > 0), people, 0.0)
    r, c = np.nonzero(people)
    xs, ys = rasterio.transform.xy(transform, r + r0, c + c0, offset="center")
    cells = GridCells(
        r + r0, c + c0, np.atleast_1d(xs).astype(float), np.atleast_1d(ys).astype(float),
        people[r, c], transform, crs,
    )  # fmt: skip
    return Read(cells)


def residents_from_grid(
    spec: PopulationGrid, homes: gpd.GeoDataFrame, units: gpd.GeoDataFrame
) -> Read[gpd.GeoDataFrame]:
    """Resident points from a population grid (see the module docs), in ``units``' CRS.

    Parameters
    ----------
    spec
        The GeoTIFF and its band.
    homes
        Residential building points (:func:`~lifecircle.geo.residents.estimate_residents`:
        ``footprint_m2``, ``floors``), in the units' metric CRS; may be empty.
    units
        The study's units (metric CRS): the cells over them are read.

    Returns
    -------
    Read
        ``building_id``, ``residents``, ``use_rule`` (``"population grid, buildings"`` or
        ``"population grid, cell centre"``) and points; the problems; a note of what was read.
    """
    metric = units.crs
    got = grid_cells(spec, units)
    frame = gpd.GeoDataFrame(
        {"building_id": [], "residents": [], "use_rule": []},
        geometry=gpd.GeoSeries([], crs=metric),
        crs=metric,
    )
    cells = got.value
    if cells is None or len(cells.people) == 0:
        return Read(frame, got.problems)
    parts, in_homes = _to_homes(homes, cells)
    centres = ~in_homes
    if centres.any():
        pts = gpd.GeoSeries(shapely.points(cells.x[centres], cells.y[centres]), crs=cells.crs)
        parts.append(
            gpd.GeoDataFrame(
                {"residents": cells.people[centres], "use_rule": "population grid, cell centre"},
                geometry=pts.to_crs(metric).to_numpy(),
                crs=metric,
            )
        )
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=metric)
    out.insert(0, "building_id", np.arange(len(out)))
    people = cells.people
    values = {
        "path": spec.path,
        "cells": len(people),
        "people": f"{people.sum():,.0f}",
        "homes": int(in_homes.sum()),
    }
    return Read(out, [], [Note("note_population_grid", values)])


def _to_homes(
    homes: gpd.GeoDataFrame, cells: GridCells
) -> tuple[list[gpd.GeoDataFrame], np.ndarray]:
    """The people of the cells with homes, shared among the homes by floor area; and which
    cells had homes."""
    in_homes = np.zeros(len(cells.people), dtype=bool)
    if len(homes) == 0:
        return [], in_homes
    pts = homes.geometry.to_crs(cells.crs)
    cell = cells.cell_of(pts.x.to_numpy(), pts.y.to_numpy())
    floor = (homes["footprint_m2"] * homes["floors"]).to_numpy(float)
    hit = (cell >= 0) & (floor > 0)
    if not hit.any():
        return [], in_homes
    cell, floor = cell[hit], floor[hit]
    total = np.bincount(cell, weights=floor, minlength=len(cells.people))
    in_homes[np.unique(cell)] = True
    part = gpd.GeoDataFrame(
        {
            "residents": cells.people[cell] * floor / total[cell],
            "use_rule": "population grid, buildings",
        },
        geometry=homes.geometry.to_numpy()[hit],
        crs=homes.crs,
    )
    return [part], in_homes
