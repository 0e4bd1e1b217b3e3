"""Who lives where: residents estimated per residential building.

Without a census layer, residents per building are ``footprint x floors / floor area per
person`` (DOMAIN.md). The defaults, all configurable in :class:`ResidentModel`:

- 33 m2 of floor area per person (Beijing urban housing per person, 2020 census);
- floors from ``building:levels``, else ``height / 3 m``, else 6 floors (the common
  Chinese walk-up block; OSM in China rarely records levels);
- residential use decided, in this order, by the ``building`` tag (apartments, house,
  dormitory... are residential; office, retail, school... are not), then by tags on the
  building that say it is used for something else (shop, office, amenity...), then by the
  land-use polygon the building stands in (``landuse=residential`` yes; commercial,
  industrial, retail and similar no), and last by ``generic_use`` for buildings tagged only
  ``building=yes`` outside any telling land use (residential by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.errors import InputError, Problem
from lifecircle.i18n import Note

__all__ = ["ResidentModel", "classify_buildings", "estimate_residents", "scale_to_units"]

RESIDENTIAL_BUILDINGS = frozenset(
    {
        "apartments",
        "residential",
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "dormitory",
        "bungalow",
        "cabin",
        "farm",
        "static_caravan",
        "houseboat",
        "stilt_house",
        "ger",
    }
)
NON_RESIDENTIAL_BUILDINGS = frozenset(
    {
        "commercial", "office", "retail", "industrial", "warehouse", "supermarket", "kiosk",
        "church", "cathedral", "chapel", "mosque", "temple", "synagogue", "shrine", "religious",
        "monastery", "school", "university", "college", "kindergarten", "hospital", "public",
        "government", "civic", "train_station", "transportation", "roof", "garage", "garages",
        "carport", "parking", "shed", "hut", "service", "utility", "tower", "barn", "greenhouse",
        "stable", "cowshed", "farm_auxiliary", "sports_hall", "sports_centre", "stadium",
        "grandstand", "museum", "hotel", "toilets", "bunker", "construction", "ruins", "bridge",
        "pavilion", "atrium", "ship", "fire_station", "water_tower", "conservatory",
        "boathouse", "transformer_tower", "military", "castle", "gatehouse", "digester",
        "silo", "storage_tank", "container", "shelter", "power", "substation",
    }
)  # fmt: skip
USE_TAGS = ("shop", "office", "amenity", "tourism", "craft", "healthcare", "leisure", "industrial")
RESIDENTIAL_LANDUSE = frozenset({"residential"})
NON_RESIDENTIAL_LANDUSE = frozenset(
    {
        "commercial", "retail", "industrial", "railway", "military", "education", "religious",
        "institutional", "civic", "civil", "construction", "brownfield", "garages", "port",
        "depot", "cemetery", "landfill", "quarry", "university", "hospital",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ResidentModel:
    """The numbers behind resident estimates.

    Parameters
    ----------
    floor_area_m2_per_person
        Gross floor area per resident.
    storey_height_m
        Height of one floor, to turn ``height`` into floors.
    default_floors
        Floors of a building with neither ``building:levels`` nor ``height``.
    generic_use
        ``"residential"`` or ``"exclude"``: what a ``building=yes`` with nothing else to go
        on is taken to be.
    """

    floor_area_m2_per_person: float = 33.0
    storey_height_m: float = 3.0
    default_floors: float = 6.0
    generic_use: str = "residential"

    def __post_init__(self) -> None:
        problems = []
        for name in ("floor_area_m2_per_person", "storey_height_m", "default_floors"):
            if not getattr(self, name) > 0:
                problems.append(
                    Problem("resident model", f"{name} must be positive", fix=f"set {name} > 0")
                )
        if self.generic_use not in {"residential", "exclude"}:
            problems.append(
                Problem(
                    "resident model",
                    f"generic_use {self.generic_use!r} is unknown",
                    fix="use residential or exclude",
                )
            )
        if problems:
            raise InputError(problems)


def _first_number(value: Any) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    m = re.search(r"\d+(?:[.,]\d+)?", str(value))
    return float(m.group().replace(",", ".")) if m else np.nan


def classify_buildings(
    buildings: gpd.GeoDataFrame, landuse: gpd.GeoDataFrame | None, model: ResidentModel
) -> pd.DataFrame:
    """Decide which buildings are homes, and why.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``buildings``: ``residential`` (bool) and ``use_rule`` (``"building tag"``,
        ``"use tags"``, ``"land use"`` or ``"default"``).
    """
    n = len(buildings)
    kind = buildings["building"].astype(str).str.lower().to_numpy()
    residential = np.zeros(n, dtype=bool)
    rule = np.full(n, "default", dtype=object)
    decided = np.zeros(n, dtype=bool)

    is_res = np.isin(kind, list(RESIDENTIAL_BUILDINGS))
    is_non = np.isin(kind, list(NON_RESIDENTIAL_BUILDINGS))
    residential[is_res] = True
    rule[is_res | is_non] = "building tag"
    decided |= is_res | is_non

    tags = buildings["tags"].tolist()
    uses = np.array([any(t and t.get(k) for k in USE_TAGS) for t in tags], dtype=bool)
    hit = uses & ~decided
    rule[hit] = "use tags"
    decided |= hit

    if landuse is not None and len(landuse) and (~decided).any():
        undecided = buildings.loc[~decided]
        pts = gpd.GeoDataFrame(
            geometry=undecided.geometry.representative_point(), crs=buildings.crs
        )
        lu = landuse.to_crs(buildings.crs)
        joined = gpd.sjoin(pts, lu[["landuse", "geometry"]], how="left", predicate="within")
        joined = joined[~joined.index.duplicated(keep="first")]
        lu_val = joined["landuse"].reindex(undecided.index).astype("string").str.lower()
        pos = np.flatnonzero(~decided)
        res_lu = lu_val.isin(list(RESIDENTIAL_LANDUSE)).to_numpy(dtype=bool)
        non_lu = lu_val.isin(list(NON_RESIDENTIAL_LANDUSE)).to_numpy(dtype=bool)
        residential[pos[res_lu]] = True
        rule[pos[res_lu | non_lu]] = "land use"
        decided[pos[res_lu | non_lu]] = True

    residential[~decided] = model.generic_use == "residential"
    return pd.DataFrame({"residential": residential, "use_rule": rule}, index=buildings.index)


def estimate_residents(
    buildings: gpd.GeoDataFrame,
    *,
    landuse: gpd.GeoDataFrame | None = None,
    model: ResidentModel | None = None,
) -> gpd.GeoDataFrame:
    """Resident points, one per residential building.

    Parameters
    ----------
    buildings
        Building polygons in a metric CRS with ``building`` and ``tags`` columns.
    landuse
        Land-use polygons (any CRS) used to decide the use of ``building=yes``.
    model
        The numbers; :class:`ResidentModel` defaults when omitted.

    Returns
    -------
    geopandas.GeoDataFrame
        ``building_id``, ``floors``, ``floors_from``, ``footprint_m2``, ``residents``,
        ``use_rule`` and a point inside each residential building, in the buildings' CRS.
    """
    model = model or ResidentModel()
    if buildings.crs is None or not buildings.crs.is_projected:
        raise ValueError("estimate_residents needs buildings in a projected (metric) CRS")
    use = classify_buildings(buildings, landuse, model)
    homes = buildings.loc[use["residential"].to_numpy()]
    tags = homes["tags"].tolist()
    levels = np.array([_first_number(t.get("building:levels")) for t in tags], dtype=float)
    height = np.array([_first_number(t.get("height")) for t in tags], dtype=float)
    from_height = np.maximum(1.0, np.round(height / model.storey_height_m))
    floors = np.where(
        np.isfinite(levels) & (levels > 0),
        levels,
        np.where(np.isfinite(height), from_height, model.default_floors),
    )
    floors_from = np.where(
        np.isfinite(levels) & (levels > 0),
        "building:levels",
        np.where(np.isfinite(height), "height", "default"),
    )
    area = homes.geometry.area.to_numpy()
    residents = area * floors / model.floor_area_m2_per_person
    out = gpd.GeoDataFrame(
        {
            "building_id": homes["osm_id"].to_numpy()
            if "osm_id" in homes
            else homes.index.to_numpy(),
            "floors": floors,
            "floors_from": floors_from,
            "footprint_m2": area,
            "residents": residents,
            "use_rule": use.loc[homes.index, "use_rule"].to_numpy(),
        },
        geometry=homes.geometry.representative_point().to_numpy(),
        crs=buildings.crs,
    )
    return out.loc[out["residents"] > 0].reset_index(drop=True)


def scale_to_units(
    demand: gpd.GeoDataFrame, units: gpd.GeoDataFrame, *, population_col: str = "population"
) -> tuple[gpd.GeoDataFrame, list[Note]]:
    """Scale residents so that each unit with a known population sums to it.

    A unit with a known population but no resident points gets its residents spread over
    its area (points on a regular lattice inside it), and a note says so.

    Parameters
    ----------
    demand
        Resident points with ``residents`` and ``unit_id``.
    units
        ``unit_id``, ``population_col`` (missing where unknown) and polygons, same CRS.

    Returns
    -------
    (geopandas.GeoDataFrame, list of str)
        The scaled points (a new frame) and notes for the report.
    """
    notes: list[Note] = []
    out = demand.copy()
    if population_col not in units.columns:
        return out, notes
    known = units.loc[units[population_col].notna()]
    totals = out.groupby("unit_id")["residents"].sum()
    extra: list[gpd.GeoDataFrame] = []
    for uid, pop, geom in zip(known["unit_id"], known[population_col], known.geometry, strict=True):
        current = float(totals.get(uid, 0.0))
        if current > 0:
            sel = out["unit_id"] == uid
            out.loc[sel, "residents"] = out.loc[sel, "residents"] * (float(pop) / current)
        elif pop > 0:
            pts = _lattice(geom, n=max(1, min(50, int(np.ceil(float(pop) / 200.0)))))
            extra.append(
                gpd.GeoDataFrame(
                    {
                        "unit_id": uid,
                        "residents": float(pop) / len(pts),
                        "use_rule": "spread over unit",
                    },
                    geometry=pts,
                    crs=units.crs,
                )
            )
            values = {"unit": uid, "population": f"{pop:g}", "points": len(pts)}
            notes.append(Note("note_spread_population", values))
    if extra:
        out = pd.concat([out, *extra], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=demand.crs), notes


def _lattice(geom: Any, n: int) -> list[Any]:
    """About ``n`` lattice points inside ``geom`` (at least its representative point)."""
    import shapely

    minx, miny, maxx, maxy = geom.bounds
    area = max(geom.area, 1.0)
    step = max(np.sqrt(area / n), 1.0)
    xs = np.arange(minx + step / 2, maxx, step)
    ys = np.arange(miny + step / 2, maxy, step)
    grid = (
        shapely.points(np.array(np.meshgrid(xs, ys)).reshape(2, -1).T)
        if len(xs) and len(ys)
        else np.array([])
    )
    inside = [p for p in grid if geom.contains(p)]
    return inside or [geom.representative_point()]
