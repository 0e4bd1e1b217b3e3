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
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from lifecircle.errors import InputError, Problem
from lifecircle.geo.ages import (
    file_age_shares,
    groups_from_shares,
    spread_age_groups,
    unit_age_groups,
)
from lifecircle.geo.buildings import (
    households_areas,
    largest_default_buildings,
    named_areas,
    read_buildings,
    replace_covered,
    use_mapping,
)
from lifecircle.geo.catalog import ServiceCatalog, load_catalog
from lifecircle.geo.compounds import (
    Compounds,
    areas_from_file,
    compounds_from_osm,
    in_mainland_china,
    on_edges,
)
from lifecircle.geo.facilities import merge_facilities, read_facilities
from lifecircle.geo.osm import (
    OsmLayers,
    fetch_osm,
    forget_last_read,
    load_admin_boundaries,
    load_compound_features,
    load_osm,
    osm_bounds,
)
from lifecircle.geo.popgrid import PopulationGrid, grid_problems, residents_from_grid
from lifecircle.geo.residents import (
    classify_buildings,
    estimate_residents,
    residents_from_file,
    residents_in_areas,
    scale_to_units,
    site_landuse,
)
from lifecircle.geo.specs import (
    BuildingsFile,
    CandidateFile,
    CompoundsFile,
    FacilityFile,
    PopulationFile,
    Read,
    ResidentModel,
    UnitsFile,
    source_problems,
)
from lifecircle.geo.study_area import (
    StudyArea,
    facilities_from_osm,
    metric_crs_for,
    units_at_data_edge,
)
from lifecircle.geo.tables import _row_place, find_column, read_points, read_table
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
T = TypeVar("T")
FAR_OUTSIDE_M = 10_000.0


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
    population_grid
        A GeoTIFF of people per cell instead (:mod:`lifecircle.geo.popgrid`).
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
    compounds
        ``"gated"``: compounds are walked only by their members and by visitors to a
        facility inside (:mod:`lifecircle.geo.compounds`); ``"open"``: like public streets;
        ``"auto"``: gated where the study lies in mainland China (or a compounds file is
        given), else open.
    compounds_file
        The planner's own gated compounds, replacing OSM's compound areas (OSM's gates
        still mark their entrances); with a households column (户数), their residents.
    buildings
        The planner's own buildings (floors, use, households), replacing OSM's where the
        file covers the area (:mod:`lifecircle.geo.buildings`).
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
    population_grid: PopulationGrid | None = None
    candidates: CandidateFile | None = None
    catalog: str | ServiceCatalog = "gb50180"
    resident_model: ResidentModel = field(default_factory=ResidentModel)
    speed_kmh: float = DEFAULT_SPEED_KMH
    crs: str | None = None
    buffer_m: float | None = None
    compounds: str = "auto"
    compounds_file: CompoundsFile | None = None
    buildings: BuildingsFile | None = None


@dataclass(frozen=True)
class _UserFiles:
    """The user's files, read (in WGS84) before anything heavy."""

    units: gpd.GeoDataFrame | None
    boundary: BaseGeometry | None
    facilities: list[tuple[FacilityFile, gpd.GeoDataFrame]]
    candidates: gpd.GeoDataFrame | None
    notes: list[Note]
    poi_audit: pd.DataFrame | None = None
    buildings: gpd.GeoDataFrame | None = None
    households: gpd.GeoDataFrame | None = None

    @property
    def area(self) -> BaseGeometry | None:
        """The area of the study (WGS84): the units, else the boundary."""
        if self.units is not None:
            return shapely.union_all(self.units.geometry.to_numpy())
        return self.boundary


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
    try:
        return _build_study_area(inputs, layers)
    finally:
        forget_last_read()  # the file's layers were kept only for this study's own reads


def _build_study_area(inputs: StudyInputs, layers: OsmLayers | None) -> StudyArea:
    """:func:`build_study_area`'s steps."""
    catalog = (
        inputs.catalog
        if isinstance(inputs.catalog, ServiceCatalog)
        else load_catalog(inputs.catalog)
    )
    max_threshold = max(c.threshold(inputs.speed_kmh) for c in catalog)
    buffer_m = inputs.buffer_m if inputs.buffer_m is not None else max_threshold
    problems = _check_inputs(inputs, buffer_m, max_threshold, osm_given=layers is not None)
    files = _read_user_files(inputs, catalog, problems)
    area_wgs = files.area
    if area_wgs is not None:  # points far outside the units: found before the OSM is read
        problems += _far_from_area(inputs, files, area_wgs, buffer_m)
        if problems:
            raise InputError(problems)
    clip = _grown(area_wgs, buffer_m) if area_wgs is not None else None
    if layers is None:
        problems += _outside_osm_bounds(inputs, area_wgs)
        if problems:  # every problem found so far, before the (slow) OSM file is read
            raise InputError(problems)
        layers = _read_osm(inputs, catalog, clip)
    metric = (
        CRS.from_user_input(inputs.crs)
        if inputs.crs
        else metric_crs_for((area_wgs or layers.extent).centroid)
    )
    data_extent = gpd.GeoSeries([layers.extent], crs="EPSG:4326").to_crs(metric).iloc[0]
    edges = layers.edges.to_crs(metric)  # projected once, for the hull and the study
    network_hull = _network_hull(edges)
    units = _units(inputs, files, clip, metric, data_extent)
    boundary_m = shapely.union_all(units.geometry.to_numpy())
    notes = list(files.notes)
    centre = (area_wgs or layers.extent).centroid
    osm_areas = _osm_compound_areas(inputs, clip, centre)
    demand = _demand(inputs, _Sources(layers, files, osm_areas), units, metric, problems, notes)
    problems += _overlap_problems(inputs, units, network_hull, demand, notes)
    facilities, user_frames = _facilities(inputs, files, layers, catalog, metric, notes)
    # points far outside: with units or a boundary, found before the OSM file was read
    far = _Far(boundary_m, buffer_m, problems) if area_wgs is None else None
    if far is not None:
        for spec, frame in user_frames:
            problems += _far_outside(frame.geometry, boundary_m, buffer_m, spec.path)
    candidates = None
    if files.candidates is not None and inputs.candidates is not None:
        candidates = _candidates(files.candidates, inputs.candidates, metric, far)
    if problems:
        raise InputError(problems)
    notes += _edge_notes(units, network_hull, max_threshold)
    compounds = _compounds(inputs, osm_areas, edges, centre)
    return StudyArea(
        crs=metric,
        units=units,
        demand=demand,
        facilities=facilities.reset_index(drop=True),
        edges=edges,
        compounds=compounds,
        catalog=catalog,
        extent=(boundary_m.buffer(buffer_m) if area_wgs is not None else data_extent),
        candidates=candidates,
        sources=_sources(inputs, layers) + _compound_sources(compounds),
        notes=list(layers.notes) + notes + compound_notes(compounds),
        poi_audit=files.poi_audit,
    )


def _compound_mode(inputs: StudyInputs, centre: BaseGeometry) -> str:
    """``"gated"`` or ``"open"``: the plan's choice, or for ``"auto"`` where the study is."""
    mode = inputs.compounds
    if mode == "auto":
        china = in_mainland_china(centre.x, centre.y)
        mode = "gated" if china or inputs.compounds_file is not None else "open"
    return mode


def _osm_compound_areas(
    inputs: StudyInputs, clip: BaseGeometry | None, centre: BaseGeometry
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame] | None:
    """OSM's compound areas and gates (read once: their names also tell which
    ``building=yes`` are not homes), where compounds are gated and an OSM file is read."""
    if _compound_mode(inputs, centre) != "gated" or inputs.osm is None:
        return None
    return load_compound_features(inputs.osm, clip=clip)


def _compounds(
    inputs: StudyInputs,
    osm_areas: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame] | None,
    edges: gpd.GeoDataFrame,
    centre: BaseGeometry,
) -> Compounds | None:
    """The gated compounds laid on the edges, or None when compounds are open."""
    if _compound_mode(inputs, centre) != "gated":
        return None
    if osm_areas is None:  # fetched data: no file to read the areas and gates from
        log.warning("compounds are read from an OSM file only; treating them as open")
        return None
    areas, gates = osm_areas
    if inputs.compounds_file is not None:  # the planner's compounds replace OSM's areas
        areas = _planner_compounds(inputs.compounds_file)
    compounds = on_edges(compounds_from_osm(areas, gates, edges.crs), edges)
    assert compounds.edge_compound is not None
    edges["compound"] = compounds.edge_compound  # travels with the edges into parts
    return compounds


def _planner_compounds(spec: CompoundsFile) -> gpd.GeoDataFrame:
    """The planner's gated compounds (WGS84); their problems are raised together."""
    problems: list[Problem] = []
    frame, _info = read_table(spec.path, encoding=spec.encoding)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(
            Problem(
                spec.path,
                "is a table, not a layer of polygons",
                fix="give a GeoJSON, GeoPackage or Shapefile",
            )
        )
    if spec.crs is not None:
        frame = frame.set_crs(spec.crs, allow_override=True)
    elif frame.crs is None:
        raise InputError(
            Problem(
                spec.path,
                "the layer has no coordinate system",
                fix="add crs = ... to [inputs.compounds]",
            )
        )
    frame = frame.to_crs("EPSG:4326")
    cols = [c for c in frame.columns if c != "geometry"]
    name_col = find_column(cols, "name", spec.name_col, source=spec.path)
    gated_col = (
        find_column(cols, "gated", spec.gated_col, source=spec.path) if spec.gated_col else None
    )
    areas, more = areas_from_file(frame, name_col, gated_col, spec.path)
    if problems + more:
        raise InputError(problems + more)
    return areas


def _compound_sources(compounds: Compounds | None) -> list[dict[str, object]]:
    """The compounds and their entrances, for ``run.json``."""
    if compounds is None or compounds.crossings is None:
        return []
    cross = compounds.crossings
    rows = []
    for k, row in enumerate(compounds.areas.itertuples()):
        mine = cross.loc[cross["compound"] == k]
        rows.append(
            {
                "id": row.compound_id,
                "kind": row.kind,
                "name": row.name,
                "absorbed": row.absorbed,
                "entrances": [
                    {"node": int(n), "gate": int(g) if g >= 0 else None}
                    for n, g in zip(mine["node"], mine["gate"], strict=True)
                ],
                "closed_crossings": int((~mine["entrance"]).sum()),
            }
        )
    return [{"role": "compounds", "mode": "gated", "compounds": rows}]


def compound_notes(compounds: Compounds | None) -> list[Note]:
    """Notes on the gated compounds: how many, their entrances, those with none mapped.

    Parameters
    ----------
    compounds
        The compounds laid on the edges (None: open, no notes).

    Returns
    -------
    list of Note
        The notes.
    """
    if compounds is None or compounds.crossings is None:
        return []
    cross = compounds.crossings
    entrances = int(cross["entrance"].sum())
    values = {
        "compounds": len(compounds),
        "entrances": entrances,
        "gates": int((cross["gate"] >= 0).sum()),
        "closed": int((~cross["entrance"]).sum()),
    }
    notes = [Note("note_compounds_gated", values)]
    unmapped = ~compounds.with_mapped_entrances()
    has_crossing = np.isin(np.arange(len(compounds)), cross["compound"].to_numpy())
    ids = compounds.areas["compound_id"].to_numpy()[unmapped & has_crossing]
    if len(ids):
        shown = ", ".join(ids[:10]) + ("..." if len(ids) > 10 else "")
        notes.append(Note("note_compounds_unmapped", {"n": len(ids), "ids": shown}))
    return notes


def _check_inputs(
    inputs: StudyInputs, buffer_m: float, max_threshold: float, *, osm_given: bool
) -> list[Problem]:
    """What the inputs say wrongly before any file is read."""
    problems: list[Problem] = []
    if buffer_m < max_threshold:
        problems.append(
            Problem.of(
                "buffer_too_small", "analysis.buffer_m", buffer=buffer_m, threshold=max_threshold
            )
        )
    given = ("layers", None) if osm_given else (inputs.osm, inputs.place)
    problems += source_problems(*given, inputs.units, inputs.admin_level)
    if inputs.grid_shape not in ("square", "hex"):
        problems.append(
            Problem.of("unknown_grid_shape", "inputs.grid.shape", shape=inputs.grid_shape)
        )
    if inputs.population is not None and inputs.population_grid is not None:
        place = ("key", "inputs.population_grid")
        problems.append(Problem.of("population_and_grid", "inputs", place=place))
    elif inputs.population_grid is not None:  # before the (slow) OSM file is read
        problems += grid_problems(inputs.population_grid)
    return problems


def _read_user_files(
    inputs: StudyInputs, catalog: ServiceCatalog, problems: list[Problem]
) -> _UserFiles:
    """Units, boundary, facilities and candidates, read with every problem gathered.

    Raises
    ------
    InputError
        With ``problems`` and every problem of the files, if there are any.
    """
    units, notes = None, []
    if inputs.units is not None:
        spec = inputs.units
        got_units = _gather(lambda: load_units(spec), problems)
        if got_units is not None:
            units, notes = got_units.value, got_units.notes
            problems += got_units.problems
            if len(units) == 0:
                problems.append(Problem.of("no_unit_polygons", spec.path))
    boundary = None
    if inputs.boundary:
        got_b = _gather(lambda: load_units(UnitsFile(path=str(inputs.boundary))), problems)
        if got_b is not None:
            problems += got_b.problems
            if len(got_b.value):
                boundary = shapely.union_all(got_b.value.geometry.to_numpy())
    facilities = []
    for f in inputs.facilities:
        got_f = _gather(partial(read_facilities, f, catalog, crs="EPSG:4326"), problems)
        if got_f is not None:
            facilities.append((f, got_f))
    candidates = None
    if inputs.candidates is not None:
        c = inputs.candidates
        got_c = _gather(lambda: _read_candidates(c), problems)
        if got_c is not None:
            candidates = got_c.value
            problems += got_c.problems
    buildings, households = _read_resident_files(inputs, problems, notes)
    for _f, got in facilities:  # each file's own problems after every file's fatal one
        problems += got.problems
        notes += got.notes
    if problems:
        raise InputError(problems)
    frames = [(f, got.value) for f, got in facilities]
    audits = [got.audit for _f, got in facilities if got.audit is not None]
    audit = pd.concat(audits, ignore_index=True) if audits else None
    return _UserFiles(units, boundary, frames, candidates, notes, audit, buildings, households)


def _read_resident_files(
    inputs: StudyInputs, problems: list[Problem], notes: list[Note]
) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """The planner's buildings and the compounds' households (WGS84), if given; their
    problems join ``problems``."""
    model = inputs.resident_model
    buildings = households = None
    if inputs.buildings is not None:
        spec = inputs.buildings
        got = _gather(lambda: read_buildings(spec, crs="EPSG:4326", model=model), problems)
        if got is not None:
            buildings = got.value
            problems += got.problems
            notes += got.notes
    if inputs.compounds_file is not None:
        cf = inputs.compounds_file
        got_h = _gather(lambda: households_areas(cf, crs="EPSG:4326", model=model), problems)
        if got_h is not None:
            households = got_h.value if len(got_h.value) else None
            problems += got_h.problems
    return buildings, households


def _gather(read: Callable[[], Read[T]], problems: list[Problem]) -> Read[T] | None:
    """Run a reader; the error it raises, if any, joins ``problems`` (and None is returned)."""
    try:
        return read()
    except InputError as exc:
        problems += exc.problems
        return None


def _read_candidates(spec: CandidateFile) -> Read[gpd.GeoDataFrame]:
    """The user's candidate sites (points or parcels, WGS84)."""
    table = read_points(
        spec.path, crs=spec.crs, encoding=spec.encoding, lon_col=spec.lon_col, lat_col=spec.lat_col
    )
    return Read(table.frame, list(table.problems))


def _grown(area_wgs: BaseGeometry, buffer_m: float) -> BaseGeometry:
    """The area plus ``buffer_m`` (WGS84): where to read OSM data."""
    local = metric_crs_for(area_wgs.centroid)
    return (
        gpd.GeoSeries([area_wgs], crs="EPSG:4326")
        .to_crs(local)
        .buffer(buffer_m)
        .to_crs("EPSG:4326")
        .iloc[0]
    )


def _outside_osm_bounds(inputs: StudyInputs, area_wgs: BaseGeometry | None) -> list[Problem]:
    """Units that lie wholly outside the box an OSM XML export declares (WGS84)."""
    xml = inputs.osm is not None and str(inputs.osm).lower().endswith((".osm", ".xml", ".bz2"))
    if area_wgs is None or not xml or not Path(str(inputs.osm)).is_file():
        return []
    bounds = osm_bounds(str(inputs.osm))
    if bounds is None or area_wgs.intersects(bounds):
        return []
    source = inputs.units.path if inputs.units is not None else "units"
    own, data = (",".join(f"{v:.4f}" for v in g.bounds) for g in (area_wgs, bounds))
    return [Problem.of("units_outside_data", source, units=own, data=data)]


def _read_osm(inputs: StudyInputs, catalog: ServiceCatalog, clip: BaseGeometry | None) -> OsmLayers:
    """The OSM layers: from the file (clipped), else fetched for the place."""
    if inputs.osm is not None:
        return load_osm(inputs.osm, clip=clip, feature_filter=catalog.osm_filter())
    assert inputs.place is not None
    return fetch_osm(_place(inputs.place), feature_filter=catalog.osm_filter())


def _units(
    inputs: StudyInputs,
    files: _UserFiles,
    clip: BaseGeometry | None,
    metric: CRS,
    data_extent: BaseGeometry,
) -> gpd.GeoDataFrame:
    """The analysis units in the metric CRS: the user's, OSM's administrative areas, or a
    grid over the boundary (else over the data)."""
    if files.units is not None:
        units = files.units.to_crs(metric)
    elif inputs.admin_level is not None:
        units = _admin_units(inputs, inputs.admin_level, clip).to_crs(metric)
    else:
        over = (
            gpd.GeoSeries([files.boundary], crs="EPSG:4326").to_crs(metric).iloc[0]
            if files.boundary is not None
            else data_extent
        )
        units = make_grid(over, crs=metric, cell_m=inputs.grid_m, shape=inputs.grid_shape)
    return units.reset_index(drop=True)


def _admin_units(
    inputs: StudyInputs, admin_level: int, clip: BaseGeometry | None
) -> gpd.GeoDataFrame:
    """Units from the OSM file's administrative boundaries of ``admin_level``."""
    if inputs.osm is None:
        raise InputError(Problem.of("admin_needs_osm", "inputs.admin_level"))
    units = admin_units(load_admin_boundaries(inputs.osm, clip=clip), admin_level)
    if len(units) == 0:
        raise InputError(Problem.of("no_admin_boundary", inputs.osm, level=admin_level))
    return units


@dataclass(frozen=True)
class _Sources:
    """What residents are estimated from: the OSM layers, the user's files (buildings,
    compounds' households) and OSM's compound areas (their names)."""

    layers: OsmLayers
    files: _UserFiles
    osm_areas: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame] | None


def _homes(inputs: StudyInputs, src: _Sources, metric: CRS, notes: list[Note]) -> gpd.GeoDataFrame:
    """Resident points of the residential buildings: OSM's, replaced by the planner's
    where their file covers the area; compounds' households where a compounds file
    counts them."""
    layers = src.layers
    buildings = layers.buildings.to_crs(metric)
    spec = inputs.buildings
    if spec is not None and src.files.buildings is not None:
        buildings, replaced = replace_covered(
            buildings, src.files.buildings.to_crs(metric), spec.path
        )
        notes += replaced
    landuse = pd.concat([layers.landuse, site_landuse(layers.features)], ignore_index=True)
    planner_areas = None
    if inputs.compounds_file is not None:
        planner_areas = _planner_compounds(inputs.compounds_file)
    osm_areas = src.osm_areas[0] if src.osm_areas is not None else None
    areas = named_areas(layers.features, osm_areas, planner_areas, crs=metric)
    model = inputs.resident_model
    uses = use_mapping(spec.uses if spec is not None else None)
    use = classify_buildings(buildings, landuse, model, areas=areas, uses=uses)
    notes += _named_note(buildings, use)
    demand = estimate_residents(buildings, landuse=landuse, model=model, use=use)
    if src.files.households is not None and inputs.compounds_file is not None:
        demand, more = residents_in_areas(
            demand, src.files.households.to_crs(metric), source=inputs.compounds_file.path
        )
        notes += more
    return demand


def _named_note(buildings: gpd.GeoDataFrame, use: pd.DataFrame) -> list[Note]:
    """A note on the ``building=yes`` that their names (or their areas') made not homes."""
    named = (use["use_rule"] == "name").to_numpy()
    if not named.any():
        return []
    tags = buildings["tags"].to_numpy()[named]
    names = sorted({str(t.get("name:zh") or t.get("name")) for t in tags if t and t.get("name")})
    shown = ", ".join(names[:8]) + ("..." if len(names) > 8 else "")
    return [Note("note_named_not_homes", {"n": int(named.sum()), "names": shown or "-"})]


def _default_note(demand: gpd.GeoDataFrame) -> list[Note]:
    """A note listing the largest buildings taken as homes by the ``building=yes`` default."""
    top = largest_default_buildings(demand, n=5)
    if len(top) == 0:
        return []
    default = (demand["use_rule"] == "default").to_numpy()
    share = float(demand["residents"].to_numpy(float)[default].sum())
    share /= max(float(demand["residents"].sum()), 1e-9)
    shown = "; ".join(
        f"{r['name'] or r['building_id']} ({r['floor_area_m2']:,.0f} m2, {r['residents']:,.0f})"
        for r in top.to_dict("records")
    )
    values = {"n": int(default.sum()), "share": f"{share:.1%}", "largest": shown}
    return [Note("note_default_buildings", values)]


def _demand(
    inputs: StudyInputs,
    src: _Sources,
    units: gpd.GeoDataFrame,
    metric: CRS,
    problems: list[Problem],
    notes: list[Note],
) -> gpd.GeoDataFrame:
    """Resident points: estimated from buildings (or the population file), in units,
    scaled to the units' known populations."""
    demand = _homes(inputs, src, metric, notes)
    if inputs.population is not None:
        got = residents_from_file(inputs.population, demand, crs=metric)
        problems += got.problems
        notes += got.notes
        shares, bad = file_age_shares(inputs.population, got.value, crs=metric)
        problems += bad
        demand = gpd.GeoDataFrame(pd.concat([got.value, shares], axis=1), crs=metric)
    elif inputs.population_grid is not None:
        got = residents_from_grid(inputs.population_grid, demand, units)
        problems += got.problems
        notes += got.notes
        demand = got.value
    demand = demand.copy()
    demand["unit_id"] = assign_units(demand, units)
    demand = demand.loc[demand["unit_id"].notna()].reset_index(drop=True)
    demand, scaled = scale_to_units(demand, units)
    notes += scaled + _default_note(demand)
    demand = groups_from_shares(demand)
    spec = inputs.units
    groups, bad = unit_age_groups(
        units, spec.age_cols if spec else None, source=spec.path if spec else "units"
    )
    problems += bad
    demand, spread = spread_age_groups(demand, units, groups)
    notes += spread
    demand.insert(0, "demand_id", [f"d{i + 1}" for i in range(len(demand))])
    return demand


def _facilities(
    inputs: StudyInputs,
    files: _UserFiles,
    layers: OsmLayers,
    catalog: ServiceCatalog,
    metric: CRS,
    notes: list[Note],
) -> tuple[gpd.GeoDataFrame, list[tuple[FacilityFile, gpd.GeoDataFrame]]]:
    """OSM's facilities merged with the user's, and the user's in the metric CRS."""
    features = layers.features if inputs.osm_facilities else layers.features.iloc[:0]
    facilities = facilities_from_osm(features, catalog, metric)
    user = [(spec, frame.to_crs(metric)) for spec, frame in files.facilities]
    facilities, dropped = merge_facilities(facilities, [(f, s.mode, s.replaces) for s, f in user])
    for cat, count in dropped.items():
        if count:
            name = {"en": catalog[cat].name_en, "zh": catalog[cat].name_zh}
            notes.append(Note("note_replaced_osm", {"n": count, "category": name}))
    return facilities, user


@dataclass(frozen=True)
class _Far:
    """Where points far outside the study are reported."""

    area: BaseGeometry
    buffer_m: float
    problems: list[Problem]


def _candidates(
    table: gpd.GeoDataFrame, spec: CandidateFile, metric: CRS, far: _Far | None
) -> gpd.GeoDataFrame:
    """The candidate sites (``candidate_id``, ``name``, a point inside parcels); those far
    outside the study are reported in ``far`` when it is given."""
    frame = table.to_crs(metric)
    frame = frame.loc[frame.geometry.notna()]
    if far is not None:
        far.problems.extend(_far_outside(frame.geometry, far.area, far.buffer_m, spec.path))
    cols = [col for col in frame.columns if col != "geometry"]
    name_col = find_column(cols, "name", spec.name_col, source=spec.path)
    id_col = find_column(cols, "id", spec.id_col, source=spec.path)
    geoms = frame.geometry.to_numpy()
    return gpd.GeoDataFrame(
        {
            "candidate_id": frame[id_col].astype(str).to_numpy()
            if id_col
            else [f"c{i + 1}" for i in range(len(frame))],
            "name": frame[name_col].to_numpy() if name_col else None,
        },
        geometry=np.where(shapely.get_type_id(geoms) >= 3, shapely.point_on_surface(geoms), geoms),
        crs=metric,
    ).reset_index(drop=True)


def _bbox_text(geom: BaseGeometry, crs: CRS) -> str:
    """A geometry's extent as "west,south,east,north" in degrees."""
    if geom.is_empty:
        return "-"
    box = gpd.GeoSeries([geom], crs=crs).to_crs("EPSG:4326").total_bounds
    return ",".join(f"{v:.4f}" for v in box)


def _overlap_problems(
    inputs: StudyInputs,
    units: gpd.GeoDataFrame,
    network_hull: BaseGeometry,
    demand: gpd.GeoDataFrame,
    notes: list[Note],
) -> list[Problem]:
    """Units that the streets do not reach, and studies without residents: input problems,
    not a run with every category at 0 %. A partial overlap, and units whose known
    population is 0, are notes."""
    source = inputs.units.path if inputs.units is not None else "units"
    core = shapely.union_all(units.geometry.to_numpy())
    if len(units) and not core.intersects(network_hull):
        own, data = _bbox_text(core, units.crs), _bbox_text(network_hull, units.crs)
        return [Problem.of("units_outside_data", source, units=own, data=data)]
    problems = []
    residents = demand["residents"].to_numpy(float)
    if len(units) and residents.sum() <= 0:
        problems.append(Problem.of("no_residents", source))
    elif len(demand):
        outside = ~shapely.within(demand.geometry.to_numpy(), network_hull)
        share = float(residents[outside].sum() / residents.sum())
        if share > 0:
            notes.append(Note("note_residents_outside_data", {"share": f"{share:.1%}"}))
    known = units["population"].to_numpy(float)
    empty = units.loc[known == 0, "unit_id"].astype(str).tolist()
    if empty:
        shown = ", ".join(empty[:10]) + (f" (+{len(empty) - 10})" if len(empty) > 10 else "")
        notes.append(Note("note_units_without_population", {"n": len(empty), "units": shown}))
    return problems


def _edge_notes(
    units: gpd.GeoDataFrame, network_hull: BaseGeometry, max_threshold: float
) -> list[Note]:
    """A note when units lie at the edge of the data."""
    edge_units = units_at_data_edge(units, network_hull, max_threshold)
    if not edge_units:
        return []
    values = {"n": len(edge_units), "total": len(units), "distance": f"{max_threshold:.0f}"}
    return [Note("note_edge_units", values)]


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
    # one line through every vertex: GEOS takes the hull of the same distinct coordinates
    # as from points, without making a point geometry per vertex
    return shapely.linestrings(coords).convex_hull


def _far_from_area(
    inputs: StudyInputs, files: _UserFiles, area_wgs: BaseGeometry, buffer_m: float
) -> list[Problem]:
    """The user's facilities and candidates far outside the units (or the boundary)."""
    crs = inputs.crs
    metric = CRS.from_user_input(crs) if crs else metric_crs_for(area_wgs.centroid)
    area = gpd.GeoSeries([area_wgs], crs="EPSG:4326").to_crs(metric).iloc[0]
    frames = [(spec.path, frame) for spec, frame in files.facilities]
    if files.candidates is not None and inputs.candidates is not None:
        frames.append((inputs.candidates.path, files.candidates))
    problems: list[Problem] = []
    for source, frame in frames:
        problems += _far_outside(frame.geometry.to_crs(metric), area, buffer_m, source)
    return problems


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
    key = "far_outside_most" if far.mean() > 0.5 else "far_outside"
    km = f"{FAR_OUTSIDE_M / 1000:.0f}"
    return [Problem.of(key, source, place=_row_place(rows), n=len(rows), km=km)]


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
    if inputs.population_grid:
        out.append({"role": "population_grid", "path": inputs.population_grid.path})
    if inputs.candidates:
        out.append({"role": "candidates", "path": inputs.candidates.path})
    if inputs.buildings:
        out.append({"role": "buildings", "path": inputs.buildings.path})
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
    buildings, facilities from its features (the demo's study).

    Parameters
    ----------
    osm
        An OSM file, or layers already loaded.
    catalog
        The service catalog (a bundled name, a TOML file or one loaded).
    grid_m, grid_shape
        The grid's cell size and shape (``"square"`` or ``"hex"``).
    resident_model
        How buildings become residents (the defaults when omitted).
    speed_kmh
        Walking speed, for the catalog's thresholds in minutes.
    crs
        The metric CRS (a UTM zone of the extract when omitted).

    Returns
    -------
    StudyArea
        The study.
    """
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
