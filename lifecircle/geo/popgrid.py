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

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.windows
import shapely
from pyproj import CRS
from rasterio.errors import RasterioIOError

from lifecircle.errors import Problem
from lifecircle.geo.specs import PopulationGrid, Read
from lifecircle.i18n import Note

__all__ = ["PopulationGrid", "grid_cells", "residents_from_grid"]

_KEY = ("key", "inputs.population_grid.path")


def grid_cells(
    spec: PopulationGrid, area: gpd.GeoDataFrame
) -> Read[tuple[np.ndarray, np.ndarray, np.ndarray, CRS]]:
    """The people of each cell of the grid over ``area``'s extent.

    Parameters
    ----------
    spec
        The GeoTIFF and its band.
    area
        Polygons (any CRS) whose extent is read.

    Returns
    -------
    Read
        ``(x, y, people, crs)``: the centres of the cells with people (in the raster's CRS),
        their people, and the raster's CRS; or the problems (no file, not a raster, no CRS,
        no such band).
    """
    empty = (np.empty(0), np.empty(0), np.empty(0), CRS.from_epsg(4326))
    if not Path(spec.path).exists():
        return Read(empty, [Problem.of("file_not_found", spec.path, place=_KEY, path=spec.path)])
    try:
        src = rasterio.open(spec.path)
    except RasterioIOError as err:
        return Read(empty, [Problem.of("grid_unreadable", spec.path, place=_KEY, error=str(err))])
    with src:
        if src.crs is None:
            return Read(empty, [Problem.of("grid_no_crs", spec.path, place=_KEY)])
        if spec.band > src.count:
            place = ("key", "inputs.population_grid.band")
            problem = Problem.of("grid_band", spec.path, place=place, band=spec.band, n=src.count)
            return Read(empty, [problem])
        crs = CRS.from_user_input(src.crs.to_wkt())
        west, south, east, north = area.to_crs(crs).total_bounds
        full = rasterio.windows.Window(0, 0, src.width, src.height)
        window = rasterio.windows.from_bounds(west, south, east, north, transform=src.transform)
        window = window.round_offsets("floor").round_lengths("ceil")
        try:
            window = window.intersection(full)
        except rasterio.errors.WindowError:  # the units lie outside the grid
            return Read(empty)
        # one cell more on each side: a rounded window may miss a cell the units touch
        window = rasterio.windows.Window(
            window.col_off - 1, window.row_off - 1, window.width + 2, window.height + 2
        ).intersection(full)
        data = src.read(spec.band, window=window, masked=True)
        transform = src.window_transform(window)
    people = np.ma.filled(data.astype(float), 0.0)
    people = np.where(np.isfinite(people) & (people > 0), people, 0.0)
    rows, cols = np.nonzero(people)
    xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center")
    return Read((np.asarray(xs, float), np.asarray(ys, float), people[rows, cols], crs))


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
    xs, ys, people, crs = got.value
    frame = gpd.GeoDataFrame(
        {"building_id": [], "residents": [], "use_rule": []},
        geometry=gpd.GeoSeries([], crs=metric),
        crs=metric,
    )
    if got.problems or len(people) == 0:
        return Read(frame, got.problems)
    with rasterio.open(spec.path) as src:
        inverse = ~src.transform
    col, row = inverse * (xs, ys)
    cell_of = pd.Series(
        np.arange(len(people)), index=pd.MultiIndex.from_arrays([np.floor(row), np.floor(col)])
    )
    parts, in_homes = _to_homes(homes, crs, inverse, cell_of, people)
    centres = ~in_homes
    if centres.any():
        pts = gpd.GeoSeries(shapely.points(xs[centres], ys[centres]), crs=crs).to_crs(metric)
        parts.append(
            gpd.GeoDataFrame(
                {"residents": people[centres], "use_rule": "population grid, cell centre"},
                geometry=pts.to_numpy(),
                crs=metric,
            )
        )
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=metric)
    out.insert(0, "building_id", np.arange(len(out)))
    values = {
        "path": spec.path,
        "cells": len(people),
        "people": f"{people.sum():,.0f}",
        "homes": int(in_homes.sum()),
    }
    return Read(out, [], [Note("note_population_grid", values)])


def _to_homes(
    homes: gpd.GeoDataFrame,
    crs: CRS,
    inverse: object,
    cell_of: pd.Series,
    people: np.ndarray,
) -> tuple[list[gpd.GeoDataFrame], np.ndarray]:
    """The people of the cells with homes, shared among the homes by floor area; and which
    cells had homes."""
    in_homes = np.zeros(len(people), dtype=bool)
    if len(homes) == 0:
        return [], in_homes
    pts = homes.geometry.to_crs(crs)
    col, row = inverse * (pts.x.to_numpy(), pts.y.to_numpy())  # type: ignore[operator]
    key = pd.MultiIndex.from_arrays([np.floor(row), np.floor(col)])
    cell = cell_of.reindex(key).to_numpy()
    hit = np.isfinite(cell)
    if not hit.any():
        return [], in_homes
    cell = cell[hit].astype(np.int64)
    floor = (homes["footprint_m2"] * homes["floors"]).to_numpy(float)[hit]
    total = np.bincount(cell, weights=floor, minlength=len(people))
    in_homes[np.unique(cell[floor > 0])] = True
    share = np.divide(floor, total[cell], out=np.zeros(len(cell)), where=total[cell] > 0)
    part = gpd.GeoDataFrame(
        {"residents": people[cell] * share, "use_rule": "population grid, buildings"},
        geometry=homes.geometry.to_numpy()[hit],
        crs=homes.crs,
    )
    return [part.loc[part["residents"] > 0]], in_homes
