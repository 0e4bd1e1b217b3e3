"""Everything a planner brings, turned into one validated StudyArea.

:func:`build_study_area` reads the user's files first (units, facilities, population,
candidates), gathering every problem of every file; if there are any, it raises one
:class:`~lifecircle.errors.InputError` listing them all before any heavy work. It then
reads the OSM data clipped to the units plus a buffer of at least the largest walking
threshold (facilities and streets just outside still serve residents inside), projects
everything to one metric CRS, estimates residents, and merges OSM facilities with the
user's. Inputs are only ever read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from lifecircle.errors import InputError, Problem
from lifecircle.geo.catalog import ServiceCatalog, load_catalog
from lifecircle.geo.facilities import FacilityFile, merge_facilities, read_facilities
from lifecircle.geo.osm import OsmLayers, fetch_osm, load_admin_boundaries, load_osm
from lifecircle.geo.residents import (
    PopulationFile,
    ResidentModel,
    estimate_residents,
    residents_from_file,
    scale_to_units,
    site_landuse,
)
from lifecircle.geo.study_area import (
    StudyArea,
    facilities_from_osm,
    metric_crs_for,
    units_at_data_edge,
)
from lifecircle.geo.tables import find_column, read_points
from lifecircle.geo.units import admin_units, assign_units, load_units, make_grid
from lifecircle.i18n import Note
from lifecircle.params import DEFAULT_SPEED_KMH

__all__ = [
    "CandidateFile",
    "StudyInputs",
    "UnitsFile",
    "build_study_area",
    "describe",
    "study_area_from_osm",
]

log = logging.getLogger(__name__)
FAR_OUTSIDE_M = 10_000.0


@dataclass(frozen=True)
class UnitsFile:
    """A boundary file of communities or grid cells and its columns."""

    path: str
    id_col: str | None = None
    name_col: str | None = None
    population_col: str | None = None
    encoding: str | None = None
    crs: str | int | None = None


@dataclass(frozen=True)
class CandidateFile:
    """Sites available for new facilities: points, or parcels (a point inside is used)."""

    path: str
    crs: str | int | None = None
    encoding: str | None = None
    lon_col: str | None = None
    lat_col: str | None = None
    name_col: str | None = None
    id_col: str | None = None


@dataclass(frozen=True)
class StudyInputs:
    """What a study reads. Exactly one source of OSM data: ``osm`` (a file) or ``place``.

    Attributes
    ----------
    osm
        An OSM extract (``.osm.pbf``, ``.osm``, ``.osm.xml``, ``.osm.bz2``).
    place
        A place name, or ``"west,south,east,north"``, fetched with osmnx (needs internet).
    units, admin_level, grid_m, grid_shape, boundary
        Analysis units: a boundary file; or OSM administrative areas of ``admin_level``;
        or a grid of ``grid_m`` cells (``grid_shape`` square or hex) over ``boundary`` (a
        polygon file) or, without one, over the OSM data.
    facilities
        The user's facility files (merged with OSM's per category).
    osm_facilities
        Whether to look for facilities in the OSM data at all.
    population
        A population file instead of estimates from buildings.
    candidates
        Sites for new facilities (else generated on the network).
    catalog
        A bundled catalog name or a TOML file.
    resident_model
        Numbers for resident estimates.
    speed_kmh
        Walking speed, for thresholds in minutes.
    crs
        The metric CRS (default: the UTM zone of the study).
    buffer_m
        How far beyond the units to read streets and facilities (default and minimum:
        the largest walking threshold).
    """

    osm: str | None = None
    place: str | None = None
    units: UnitsFile | None = None
    admin_level: int | None = None
    grid_m: float = 250.0
    grid_shape: str = "square"
    boundary: str | None = None
    facilities: tuple[FacilityFile, ...] = ()
    osm_facilities: bool = True
    population: PopulationFile | None = None
    candidates: CandidateFile | None = None
    catalog: str | ServiceCatalog = "gb50180"
    resident_model: ResidentModel = field(default_factory=ResidentModel)
    speed_kmh: float = DEFAULT_SPEED_KMH
    crs: str | None = None
    buffer_m: float | None = None


def _boundary_polygon(path: str, problems: list[Problem]) -> BaseGeometry | None:
    try:
        units, p, _ = load_units(path)
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    problems.extend(p)
    return shapely.union_all(units.geometry.to_numpy()) if len(units) else None


def build_study_area(inputs: StudyInputs, *, layers: OsmLayers | None = None) -> StudyArea:
    """Read, validate and project everything a study needs (see the module docs).

    Parameters
    ----------
    inputs
        What to read.
    layers
        OSM layers already loaded (then ``inputs.osm`` and ``inputs.place`` are not read).

    Raises
    ------
    InputError
        Listing every problem with every input, each with its file, row or field and fix.
    """
    problems: list[Problem] = []
    notes: list[Note] = []
    catalog = (
        inputs.catalog
        if isinstance(inputs.catalog, ServiceCatalog)
        else load_catalog(inputs.catalog)
    )
    max_threshold = max(c.threshold(inputs.speed_kmh) for c in catalog)
    buffer_m = inputs.buffer_m if inputs.buffer_m is not None else max_threshold
    if buffer_m < max_threshold:
        problems.append(
            Problem(
                "buffer_m",
                f"{buffer_m:g} m is less than the largest walking threshold ({max_threshold:g} m)",
                fix="leave it out or raise it",
            )
        )
    if layers is None and (inputs.osm is None) == (inputs.place is None):
        problems.append(
            Problem(
                "inputs",
                "give exactly one source of OSM data",
                fix="an OSM file (--osm) or a place (--place)",
            )
        )
    if inputs.grid_shape not in ("square", "hex"):
        problems.append(
            Problem(
                "grid_shape", f"unknown grid shape {inputs.grid_shape!r}", fix="use square or hex"
            )
        )
    if inputs.units is not None and inputs.admin_level is not None:
        problems.append(
            Problem(
                "units", "give a boundary file or an admin_level, not both", fix="drop one of them"
            )
        )

    # ---- the user's files, read before anything heavy; problems gathered
    units_wgs: gpd.GeoDataFrame | None = None
    if inputs.units is not None:
        u = inputs.units
        try:
            units_wgs, p, n = load_units(
                u.path,
                id_col=u.id_col,
                name_col=u.name_col,
                population_col=u.population_col,
                encoding=u.encoding,
                crs=u.crs,
            )
            problems += p
            notes += n
            if len(units_wgs) == 0:
                problems.append(
                    Problem(u.path, "holds no usable unit polygons", fix="check the file")
                )
        except InputError as exc:
            problems += exc.problems
    boundary = _boundary_polygon(inputs.boundary, problems) if inputs.boundary else None
    raw_facilities: list[tuple[FacilityFile, object]] = []
    for spec in inputs.facilities:
        try:
            raw_facilities.append((spec, read_facilities(spec, catalog, crs="EPSG:4326")))
        except InputError as exc:
            problems += exc.problems
    cand_table = None
    if inputs.candidates is not None:
        c = inputs.candidates
        try:
            cand_table = read_points(
                c.path, crs=c.crs, encoding=c.encoding, lon_col=c.lon_col, lat_col=c.lat_col
            )
            problems += cand_table.problems
        except InputError as exc:
            problems += exc.problems
    for _spec, res in raw_facilities:
        problems += res[1]  # type: ignore[index]
    if problems:
        raise InputError(problems)

    # ---- where to read OSM data: the units (or boundary) plus the buffer
    area_wgs = None
    if units_wgs is not None:
        area_wgs = shapely.union_all(units_wgs.geometry.to_numpy())
    elif boundary is not None:
        area_wgs = boundary
    clip = None
    if area_wgs is not None:
        local = metric_crs_for(area_wgs.centroid)
        grown = (
            gpd.GeoSeries([area_wgs], crs="EPSG:4326")
            .to_crs(local)
            .buffer(buffer_m)
            .to_crs("EPSG:4326")
            .iloc[0]
        )
        clip = grown
    if layers is None:
        if inputs.osm is not None:
            layers = load_osm(inputs.osm, clip=clip, feature_filter=catalog.osm_filter())
        else:
            assert inputs.place is not None
            layers = fetch_osm(_place(inputs.place), feature_filter=catalog.osm_filter())
    metric = (
        CRS.from_user_input(inputs.crs)
        if inputs.crs
        else metric_crs_for((area_wgs or layers.extent).centroid)
    )
    data_extent = gpd.GeoSeries([layers.extent], crs="EPSG:4326").to_crs(metric).iloc[0]
    network_hull = _network_hull(layers.edges.to_crs(metric))

    # ---- units
    if units_wgs is not None:
        units = units_wgs.to_crs(metric)
    elif inputs.admin_level is not None:
        if inputs.osm is None:
            raise InputError(
                Problem(
                    "admin_level",
                    "administrative units need an OSM file",
                    fix="give --osm, or a boundary file",
                )
            )
        units = admin_units(
            load_admin_boundaries(inputs.osm, clip=clip), inputs.admin_level
        ).to_crs(metric)
        if len(units) == 0:
            raise InputError(
                Problem(
                    inputs.osm,
                    f"no administrative boundary of admin_level {inputs.admin_level}",
                    fix="try another level (8 or 9 for sub-districts in China), "
                    "or give a boundary file",
                )
            )
    else:
        over = (
            gpd.GeoSeries([boundary], crs="EPSG:4326").to_crs(metric).iloc[0]
            if boundary is not None
            else data_extent
        )
        units = make_grid(over, crs=metric, cell_m=inputs.grid_m, shape=inputs.grid_shape)
    units = units.reset_index(drop=True)
    boundary_m = shapely.union_all(units.geometry.to_numpy())

    # ---- residents
    buildings = layers.buildings.to_crs(metric)
    landuse = pd.concat([layers.landuse, site_landuse(layers.features)], ignore_index=True)
    homes = estimate_residents(buildings, landuse=landuse, model=inputs.resident_model)
    if inputs.population is not None:
        demand, p, n = residents_from_file(inputs.population, homes, crs=metric)
        problems += p
        notes += n
    else:
        demand = homes
    demand = demand.copy()
    demand["unit_id"] = assign_units(demand, units)
    demand = demand.loc[demand["unit_id"].notna()].reset_index(drop=True)
    demand, n = scale_to_units(demand, units)
    notes += n
    demand.insert(0, "demand_id", [f"d{i + 1}" for i in range(len(demand))])

    # ---- facilities
    facilities = (
        facilities_from_osm(layers.features, catalog, metric)
        if inputs.osm_facilities
        else facilities_from_osm(layers.features.iloc[:0], catalog, metric)
    )
    user_frames = []
    for spec, res in raw_facilities:
        frame = res[0].to_crs(metric)  # type: ignore[index]
        problems += _far_outside(frame.geometry, boundary_m, buffer_m, spec.path)
        user_frames.append((frame, spec.mode))
    facilities, dropped = merge_facilities(facilities, user_frames)
    for cat, count in dropped.items():
        if count:
            name = {"en": catalog[cat].name_en, "zh": catalog[cat].name_zh}
            notes.append(Note("note_replaced_osm", {"n": count, "category": name}))

    # ---- candidates
    candidates = None
    if cand_table is not None and inputs.candidates is not None:
        c = inputs.candidates
        frame = cand_table.frame.to_crs(metric)
        frame = frame.loc[frame.geometry.notna()]
        problems += _far_outside(frame.geometry, boundary_m, buffer_m, c.path)
        cols = [col for col in frame.columns if col != "geometry"]
        name_col = find_column(cols, "name", c.name_col, source=c.path)
        id_col = find_column(cols, "id", c.id_col, source=c.path)
        geoms = frame.geometry.to_numpy()
        candidates = gpd.GeoDataFrame(
            {
                "candidate_id": frame[id_col].astype(str).to_numpy()
                if id_col
                else [f"c{i + 1}" for i in range(len(frame))],
                "name": frame[name_col].to_numpy() if name_col else None,
            },
            geometry=np.where(
                shapely.get_type_id(geoms) >= 3, shapely.point_on_surface(geoms), geoms
            ),
            crs=metric,
        ).reset_index(drop=True)
    if problems:
        raise InputError(problems)

    edge_units = units_at_data_edge(units, network_hull, max_threshold)
    if edge_units:
        notes.append(
            Note(
                "note_edge_units",
                {"n": len(edge_units), "total": len(units), "distance": f"{max_threshold:.0f}"},
            )
        )
    sources = _sources(inputs, layers)
    edges = layers.edges.to_crs(metric)
    return StudyArea(
        crs=metric,
        units=units,
        demand=demand,
        facilities=facilities.reset_index(drop=True),
        edges=edges,
        catalog=catalog,
        extent=(boundary_m.buffer(buffer_m) if area_wgs is not None else data_extent),
        candidates=candidates,
        sources=sources,
        notes=list(layers.notes) + notes,
        edge_units=edge_units,
    )


def _place(text: str) -> str | tuple[float, float, float, float]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 4:
        try:
            w, s, e, n = (float(p) for p in parts)
            return (w, s, e, n)
        except ValueError:
            pass
    return text


def _network_hull(edges: gpd.GeoDataFrame) -> BaseGeometry:
    if len(edges) == 0:
        return shapely.Polygon()
    coords = shapely.get_coordinates(edges.geometry.to_numpy())
    return shapely.multipoints(coords).convex_hull


def _far_outside(
    geoms: gpd.GeoSeries, area: BaseGeometry, buffer_m: float, source: str
) -> list[Problem]:
    """Points far outside the study: a wrong coordinate system, or the wrong file."""
    if len(geoms) == 0 or area.is_empty:
        return []
    dist = shapely.distance(geoms.to_numpy(), area)
    far = dist > max(FAR_OUTSIDE_M, buffer_m)
    if not far.any():
        return []
    rows = np.flatnonzero(far)
    most = far.mean() > 0.5
    fix = (
        "most points are far away: check the declared coordinate system (wgs84, gcj02, bd09)"
        if most
        else "check those rows' coordinates, or delete them"
    )
    shown = ", ".join(str(i + 2) for i in rows[:5])
    return [
        Problem(
            source,
            f"{len(rows)} points lie more than {FAR_OUTSIDE_M / 1000:.0f} km "
            "outside the study area",
            where=f"rows {shown}",
            fix=fix,
        )
    ]


def _sources(inputs: StudyInputs, layers: OsmLayers) -> list[dict[str, object]]:
    out: list[dict[str, object]] = [{"role": "osm", "path": layers.source}]
    if inputs.units:
        out.append({"role": "units", "path": inputs.units.path})
    if inputs.boundary:
        out.append({"role": "boundary", "path": inputs.boundary})
    for f in inputs.facilities:
        out.append(
            {"role": "facilities", "path": f.path, "crs": str(f.crs or "wgs84"), "mode": f.mode}
        )
    if inputs.population:
        out.append({"role": "population", "path": inputs.population.path})
    if inputs.candidates:
        out.append({"role": "candidates", "path": inputs.candidates.path})
    cat_path = inputs.catalog.path if isinstance(inputs.catalog, ServiceCatalog) else inputs.catalog
    if str(cat_path).endswith(".toml") and not str(cat_path).startswith(
        str(Path(__file__).parents[1])
    ):
        out.append({"role": "catalog", "path": str(cat_path)})
    return out


def describe(area: StudyArea, *, lang: str = "en") -> pd.DataFrame:
    """What was loaded per category: facilities by source, with the threshold."""
    fac = area.facilities
    rows = []
    for c in area.catalog:
        sel = fac.loc[fac["category"] == c.id]
        rows.append(
            {
                "category": c.id,
                "name": c.name(lang),
                "threshold_m": round(c.threshold(4.0)),
                "facilities": len(sel),
                "from_osm": int((sel["source"] == "osm").sum()),
                "from_files": int((sel["source"] != "osm").sum()),
            }
        )
    return pd.DataFrame(rows)


def study_area_from_osm(
    osm: str | Path | OsmLayers,
    *,
    catalog: ServiceCatalog | str = "gb50180",
    grid_m: float = 250.0,
    grid_shape: str = "square",
    resident_model: ResidentModel | None = None,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    crs: str | None = None,
) -> StudyArea:
    """A StudyArea from OSM alone: a management grid over the extract, residents from its
    buildings, facilities from its features (the demo's study)."""
    inputs = StudyInputs(
        osm=None if isinstance(osm, OsmLayers) else str(osm),
        catalog=catalog,
        grid_m=grid_m,
        grid_shape=grid_shape,
        resident_model=resident_model or ResidentModel(),
        speed_kmh=speed_kmh,
        crs=crs,
    )
    return build_study_area(inputs, layers=osm if isinstance(osm, OsmLayers) else None)
