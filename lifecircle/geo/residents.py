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
  industrial, retail and similar no; campus, school and hospital sites drawn as amenity
  areas no; where areas nest, the smallest decides, so staff housing on a campus stays
  residential), and last by ``generic_use`` for buildings tagged only ``building=yes``
  outside any telling land use (residential by default) -- unless the building's name, or
  the name of the smallest named area it stands in, says otherwise (产业园, 大厦, 中心...:
  :mod:`lifecircle.geo.buildings`).

Buildings from the planner's own file (:func:`lifecircle.geo.buildings.read_buildings`)
carry their use (``residential``), their ``floors`` and, where they count households,
their residents (``residents_given``); those win over the OSM rules above.
"""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.errors import Problem
from lifecircle.geo.buildings import UseMapping, named_not_homes, use_mapping
from lifecircle.geo.specs import PopulationFile, Read, ResidentModel
from lifecircle.geo.tables import _row_place, find_column, parse_numbers, read_points
from lifecircle.i18n import Note

__all__ = [
    "PopulationFile",
    "ResidentModel",
    "classify_buildings",
    "estimate_residents",
    "residents_from_file",
    "residents_in_areas",
    "scale_to_units",
    "site_landuse",
]

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
# sites drawn as amenity areas rather than land use: buildings on them are not homes
SITE_AMENITIES = {
    "university": "education",
    "college": "education",
    "school": "education",
    "kindergarten": "education",
    "hospital": "hospital",
    "prison": "institutional",
}
RESIDENTIAL_LANDUSE = frozenset({"residential"})
NON_RESIDENTIAL_LANDUSE = frozenset(
    {
        "commercial", "retail", "industrial", "railway", "military", "education", "religious",
        "institutional", "civic", "civil", "construction", "brownfield", "garages", "port",
        "depot", "cemetery", "landfill", "quarry", "university", "hospital",
    }
)  # fmt: skip


def _first_number(value: Any) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    m = re.search(r"\d+(?:[.,]\d+)?", str(value))
    return float(m.group().replace(",", ".")) if m else np.nan


def site_landuse(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Campus, school and hospital sites (amenity areas) as land-use polygons."""
    if len(features) == 0:
        return gpd.GeoDataFrame(
            {"landuse": []}, geometry=gpd.GeoSeries([], crs=features.crs), crs=features.crs
        )
    kind = [SITE_AMENITIES.get(str(t.get("amenity"))) if t else None for t in features["tags"]]
    polygon = features.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    keep = polygon & np.array([k is not None for k in kind])
    return gpd.GeoDataFrame(
        {"landuse": np.array(kind, dtype=object)[keep]},
        geometry=features.geometry.to_numpy()[keep],
        crs=features.crs,
    )


def classify_buildings(
    buildings: gpd.GeoDataFrame,
    landuse: gpd.GeoDataFrame | None,
    model: ResidentModel,
    *,
    areas: gpd.GeoDataFrame | None = None,
    uses: UseMapping | None = None,
) -> pd.DataFrame:
    """Decide which buildings are homes, and why.

    Parameters
    ----------
    buildings
        Building footprints with their OSM tags (and, from a planner's file, a
        ``residential`` column).
    landuse
        Land-use areas (``landuse`` tags), or ``None``.
    model
        The resident model (which tags make a home).
    areas
        Named areas (:func:`lifecircle.geo.buildings.named_areas`) whose names may say that
        a ``building=yes`` inside is not a home.
    uses
        The words that say so (default: the bundled ``building_uses.toml``).

    Returns
    -------
    pandas.DataFrame
        Aligned to ``buildings``: ``residential`` (bool) and ``use_rule`` (``"buildings
        file"``, ``"building tag"``, ``"use tags"``, ``"land use"``, ``"name"`` or
        ``"default"``).
    """
    n = len(buildings)
    kind = buildings["building"].astype(str).str.lower().to_numpy()
    residential = np.zeros(n, dtype=bool)
    rule = np.full(n, "default", dtype=object)
    decided = np.zeros(n, dtype=bool)
    if "residential" in buildings.columns:  # the planner's file says
        given = buildings["residential"]
        mine = given.notna().to_numpy(dtype=bool)
        residential[mine] = given[mine].astype(bool).to_numpy()
        rule[mine] = "buildings file"
        decided |= mine

    is_res = np.isin(kind, list(RESIDENTIAL_BUILDINGS)) & ~decided
    is_non = np.isin(kind, list(NON_RESIDENTIAL_BUILDINGS)) & ~decided
    residential[is_res] = True
    rule[is_res | is_non] = "building tag"
    decided |= is_res | is_non

    tags = buildings["tags"].tolist()
    tagged = np.array([any(t and t.get(k) for k in USE_TAGS) for t in tags], dtype=bool)
    hit = tagged & ~decided
    rule[hit] = "use tags"
    decided |= hit

    if landuse is not None and len(landuse) and (~decided).any():
        pos = np.flatnonzero(~decided)
        res_lu, non_lu = _landuse_use(buildings.iloc[pos], landuse)
        residential[pos[res_lu]] = True
        rule[pos[res_lu | non_lu]] = "land use"
        decided[pos[res_lu | non_lu]] = True

    residential[~decided] = model.generic_use == "residential"
    if residential[~decided].any():  # building=yes named (or in an area named) 大厦, 中心...
        pos = np.flatnonzero(~decided)
        words = (uses or use_mapping()).name_words
        named = named_not_homes(buildings.iloc[pos], areas, words)
        residential[pos[named]] = False
        rule[pos[named]] = "name"
    return pd.DataFrame({"residential": residential, "use_rule": rule}, index=buildings.index)


def _landuse_use(
    undecided: gpd.GeoDataFrame, landuse: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each building stands in residential land use, and in non-residential land
    use (where areas nest, the smallest decides: staff housing on a campus)."""
    pts = gpd.GeoDataFrame(geometry=undecided.geometry.representative_point(), crs=undecided.crs)
    lu = landuse.to_crs(undecided.crs)[["landuse", "geometry"]]
    kind = lu["landuse"].astype(str).str.lower()
    lu = lu.loc[kind.isin(list(RESIDENTIAL_LANDUSE | NON_RESIDENTIAL_LANDUSE)).to_numpy()]
    lu = lu.assign(area=lu.geometry.area)
    joined = gpd.sjoin(pts, lu, how="inner", predicate="within")
    joined = joined.sort_values("area", kind="stable")
    joined = joined[~joined.index.duplicated(keep="first")]
    lu_val = joined["landuse"].reindex(undecided.index).astype("string").str.lower()
    res_lu = lu_val.isin(list(RESIDENTIAL_LANDUSE)).to_numpy(dtype=bool)
    non_lu = lu_val.isin(list(NON_RESIDENTIAL_LANDUSE)).to_numpy(dtype=bool)
    return res_lu, non_lu


def estimate_residents(
    buildings: gpd.GeoDataFrame,
    *,
    landuse: gpd.GeoDataFrame | None = None,
    model: ResidentModel | None = None,
    use: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Resident points, one per residential building.

    Parameters
    ----------
    buildings
        Building polygons in a metric CRS with ``building`` and ``tags`` columns (and,
        from a planner's file, ``residential``, ``floors`` and ``residents_given``).
    landuse
        Land-use polygons (any CRS) used to decide the use of ``building=yes``.
    model
        The numbers; :class:`ResidentModel` defaults when omitted.
    use
        :func:`classify_buildings`' answer for ``buildings``, when already made.

    Returns
    -------
    geopandas.GeoDataFrame
        ``building_id``, ``name``, ``floors``, ``floors_from``, ``footprint_m2``,
        ``residents``, ``use_rule`` and a point inside each residential building, in the
        buildings' CRS.
    """
    model = model or ResidentModel()
    if buildings.crs is None or not buildings.crs.is_projected:
        raise ValueError("estimate_residents needs buildings in a projected (metric) CRS")
    if use is None:
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
    given = _column(homes, "floors")  # the planner's file's floors win
    floors = np.where(np.isfinite(given), given, floors)
    floors_from = np.where(np.isfinite(given), "buildings file", floors_from)
    area = homes.geometry.area.to_numpy()
    residents = area * floors / model.floor_area_m2_per_person
    counted = _column(homes, "residents_given")  # households x persons per household
    residents = np.where(np.isfinite(counted), counted, residents)
    out = gpd.GeoDataFrame(
        {
            "building_id": homes["osm_id"].to_numpy()
            if "osm_id" in homes
            else homes.index.to_numpy(),
            "name": [t.get("name:zh") or t.get("name") if t else None for t in tags],
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


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A float column of ``frame``, all NaN where it has none."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


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
    population_col
        The units' population column.

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
                    index=range(len(pts)),
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


def residents_from_file(
    spec: PopulationFile, homes: gpd.GeoDataFrame, *, crs: Any
) -> Read[gpd.GeoDataFrame]:
    """Resident points from a user's population file, in the metric ``crs``.

    Points keep their residents. A polygon's population goes to the residential buildings
    whose point lies inside it, in proportion to their floor area (footprint x floors);
    a polygon with none spreads its residents over its area, and a note says so.

    Parameters
    ----------
    spec
        The file and its columns.
    homes
        Residential building points from :func:`estimate_residents` (same ``crs``).
    crs
        The study's metric CRS.

    Returns
    -------
    Read
        The resident points (``building_id``, ``residents``, ``use_rule``, point), the
        problems found and notes.
    """
    table = read_points(
        spec.path, crs=spec.crs, encoding=spec.encoding, lon_col=spec.lon_col, lat_col=spec.lat_col
    )
    problems = list(table.problems)
    frame = table.frame
    cols = [c for c in frame.columns if c != "geometry"]
    pop_col = find_column(cols, "population", spec.population_col, source=spec.path)
    empty = gpd.GeoDataFrame(
        {"residents": [], "use_rule": []}, geometry=gpd.GeoSeries([], crs=crs), crs=crs
    )
    if pop_col is None:
        problems.append(
            Problem.of("no_population_column", spec.path, columns=", ".join(map(str, cols)))
        )
        return Read(empty, problems)
    pop = _population_numbers(frame[pop_col], spec.path, problems)
    frame = frame.loc[pop.notna() & frame.geometry.notna()].to_crs(crs)
    pop = pop.loc[frame.index]
    geoms = frame.geometry.to_numpy()
    is_poly = shapely.get_type_id(geoms) >= 3
    parts: list[gpd.GeoDataFrame] = []
    notes: list[Note] = []
    if (~is_poly).any():
        parts.append(
            gpd.GeoDataFrame(
                {"residents": pop.to_numpy()[~is_poly], "use_rule": "population points"},
                geometry=geoms[~is_poly],
                crs=crs,
            )
        )
    if is_poly.any():
        polys = gpd.GeoDataFrame(
            {"pop": pop.to_numpy()[is_poly]}, geometry=geoms[is_poly], crs=crs
        ).reset_index(drop=True)
        parts += _population_areas(polys, homes, spec.path, notes)
    if not parts:
        return Read(empty, problems, notes)
    out = pd.concat(parts, ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=crs)
    out.insert(0, "building_id", np.arange(len(out)))
    return Read(out.loc[out["residents"] > 0].reset_index(drop=True), problems, notes)


def residents_in_areas(
    homes: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *, source: str
) -> tuple[gpd.GeoDataFrame, list[Note]]:
    """Homes with the residents of the areas they stand in (a compounds file's households
    x persons per household), shared by floor area as a population file's polygons are;
    homes outside every area keep their estimates.

    Parameters
    ----------
    homes
        Resident points from :func:`estimate_residents` (metric CRS).
    areas
        ``pop`` and polygons, same CRS.
    source
        The file, for the notes.

    Returns
    -------
    (geopandas.GeoDataFrame, list of Note)
        The resident points (a new frame) and notes (areas with no home).
    """
    if len(areas) == 0:
        return homes.copy(), []
    notes: list[Note] = []
    inside = gpd.sjoin(homes[["geometry"]], areas[["geometry"]], how="inner", predicate="within")
    outside = homes.loc[~homes.index.isin(inside.index)]
    parts = _population_areas(areas.reset_index(drop=True), homes, source, notes)
    parts = [
        p.assign(use_rule=p["use_rule"].replace("population areas", "households")) for p in parts
    ]
    out = pd.concat([outside, *parts], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=homes.crs), notes


def _population_numbers(values: pd.Series, source: str, problems: list[Problem]) -> pd.Series:
    """The population column as numbers; text that is not a number, and negative numbers,
    are problems."""
    pop = parse_numbers(values)
    bad = pop.isna() & values.notna()
    if bad.any():
        problems.append(
            Problem.of(
                "population_not_number",
                source,
                place=_row_place(np.flatnonzero(bad.to_numpy())),
                column=values.name,
            )
        )
    negative = (pop < 0).to_numpy()
    if negative.any():
        problems.append(
            Problem.of(
                "negative_population",
                source,
                place=_row_place(np.flatnonzero(negative)),
                column=values.name,
            )
        )
    return pop


def _population_areas(
    polys: gpd.GeoDataFrame, homes: gpd.GeoDataFrame, source: str, notes: list[Note]
) -> list[gpd.GeoDataFrame]:
    """Polygons' populations shared among the homes inside by floor area; a polygon with no
    home spreads its residents over its area (with a note)."""
    crs = polys.crs
    floor = homes.assign(floor_area=homes["footprint_m2"] * homes["floors"])
    hit = gpd.sjoin(floor[["floor_area", "geometry"]], polys, how="inner", predicate="within")
    totals = hit.groupby("index_right")["floor_area"].sum()
    hit = hit.assign(residents=hit["pop"] * hit["floor_area"] / hit["index_right"].map(totals))
    parts = [
        gpd.GeoDataFrame(
            {"residents": hit["residents"].to_numpy(), "use_rule": "population areas"},
            geometry=hit.geometry.to_numpy(),
            crs=crs,
        )
    ]
    bare = polys.loc[~polys.index.isin(totals.index) & (polys["pop"] > 0)]
    for i, row in bare.iterrows():
        pts = _lattice(row.geometry, n=max(1, min(50, int(np.ceil(row["pop"] / 200.0)))))
        parts.append(
            gpd.GeoDataFrame(
                {"residents": row["pop"] / len(pts), "use_rule": "spread over area"},
                geometry=pts,
                index=range(len(pts)),
                crs=crs,
            )
        )
        notes.append(
            Note(
                "note_spread_population",
                {
                    "unit": f"{source} #{int(i) + 1}",
                    "population": f"{row['pop']:g}",
                    "points": len(pts),
                },
            )
        )
    return parts
