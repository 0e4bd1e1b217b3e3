"""The analysis of a study: walk network, access, coverage, sites, gaps, capacity,
scenario and catchments, in that order, into a :class:`~lifecircle.result.PlanResult`.

:func:`run_plan` reads as the list of its stages; each stage's logic lives in its
``lifecircle.coverage`` module, and a partitioned run (:mod:`lifecircle.partition`) uses
the same stages part by part.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import geopandas as gpd
import pandas as pd

from lifecircle.coverage.access import Access, access_notes, plan_access
from lifecircle.coverage.catchments import ready_lattice, study_catchments
from lifecircle.coverage.fca import capacity_by_unit
from lifecircle.coverage.gaps import gaps_by_category
from lifecircle.coverage.lattice import Lattice
from lifecircle.coverage.network import WalkNetwork
from lifecircle.coverage.scenario import Comparison, scenario_coverage
from lifecircle.coverage.sites import (
    SiteRecommendation,
    network_candidates,
    placement_category,
    recommend_sites,
)
from lifecircle.coverage.supply import checklist_rollup, supply_need
from lifecircle.coverage.tables import Coverage, coverage_tables
from lifecircle.coverage.walls import Walls, walls_notes, walls_tables
from lifecircle.errors import InputError, Problem
from lifecircle.geo.catalog import ServiceCatalog
from lifecircle.geo.study_area import StudyArea
from lifecircle.i18n import Note
from lifecircle.params import PlanParams
from lifecircle.partition import run_partitioned
from lifecircle.progress import Stages
from lifecircle.result import PlanResult

__all__ = ["category_problems", "check_categories", "run_plan"]


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

    Returns
    -------
    PlanResult
        Everything the study produced.
    """
    params = params or PlanParams()
    stages = stages or Stages()
    check_categories(area, [spec.category for spec in params.placements], "placement")
    _check_rollup(area, params)
    if params.parts is not None:
        return _run_parts(area, params, stages, client)
    notes = list(area.notes)
    with stages("network"):
        network = WalkNetwork.from_edges(area.edges)
    with stages("access"):
        access = plan_access(network, area, params)
        notes += access_notes(access, area, int(network.component_size.max(initial=0)))
    walls = _walls(network, access, area, params, stages, notes)
    with _lattice_ahead(network, access, params) as lattice:
        return _from_access(area, params, stages, (network, access, walls), notes, lattice)


def _from_access(  # noqa: PLR0913, RUF100 (the study, where it stands and what comes ahead)
    area: StudyArea,
    params: PlanParams,
    stages: Stages,
    walked: tuple[WalkNetwork, Access, Walls | None],
    notes: list[Note],
    lattice: Future[Lattice] | None,
) -> PlanResult:
    """The stages after access: coverage, placement, gaps, capacity, supply, scenario and
    catchments (on ``lattice``, made meanwhile, when given)."""
    network, access, walls = walked
    with stages("coverage"):
        coverage = coverage_tables(
            access,
            area.units,
            area.catalog,
            unit_share=params.unit_share,
            facilities=area.facilities,
        )
    with stages("placement"):
        candidates, sites = _placement(network, access, area, params, stages, notes)
    with stages("gaps"):
        gaps = gaps_by_category(
            access, area, network, link_m=params.gap_link_m, walking=params.gap_walking
        )
    with stages("capacity"):
        capacity = capacity_by_unit(access, area, network)
    with stages("supply"):
        supply, rolled = _supply(access, area, network, params, coverage)
    new_sites = {cat: rec.sites for cat, rec in sites.items()}
    scenario = _scenario(network, access, area, params, new_sites, coverage, stages)
    catchment_frame = _catchments(
        network, access, area, params, (new_sites, lattice), stages, notes
    )
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
        supply=supply,
        checklist_rollup=rolled,
        scenario=scenario,
        timings=stages.timings,
        notes=notes,
        walls=walls,
    )


def _supply(
    access: Access, area: StudyArea, network: WalkNetwork, params: PlanParams, coverage: Coverage
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Supply against the catalog's indicators, per unit and per ``params.rollup``; and the
    checklist rolled up by it."""
    supply = supply_need(access, area, network, rollup=params.rollup)
    if params.rollup is None:
        return supply, None
    cov = coverage
    return supply, checklist_rollup(cov.checklist, cov.by_unit, area.units, params.rollup)


def _check_rollup(area: StudyArea, params: PlanParams) -> None:
    """The roll-up column must be one of the units'."""
    if params.rollup is not None and params.rollup not in area.units.columns:
        columns = ", ".join(str(c) for c in area.units.columns if c != "geometry")
        raise InputError(
            Problem.of("rollup_column", "[analysis] rollup", column=params.rollup, columns=columns)
        )


def _walls(  # noqa: PLR0913, RUF100 (the study, its access and where to report)
    network: WalkNetwork,
    access: Access,
    area: StudyArea,
    params: PlanParams,
    stages: Stages,
    notes: list[Note],
) -> Walls | None:
    """What the gated compounds' walls cost (:mod:`lifecircle.coverage.walls`): the tables,
    and their notes added to ``notes`` (None when compounds are open)."""
    if area.compounds is None:
        return None
    with stages("walls"):
        walls = walls_tables(network, area, params, access)
        notes += walls_notes(walls.by_category, walls.ranking, area)
    return walls


def _scenario(
    network: WalkNetwork,
    access: Access,
    area: StudyArea,
    params: PlanParams,
    new_sites: dict[str, gpd.GeoDataFrame],
    before: Coverage,
    stages: Stages,
) -> Comparison | None:
    """Coverage with the recommended sites (None when there are none)."""
    if not new_sites:
        return None
    with stages("scenario"):
        return scenario_coverage(
            network,
            access,
            area.units,
            area.facilities,
            area.catalog,
            new_sites,
            before,
            edge_spacing_m=params.edge_spacing_m,
        )


def _catchments(
    network: WalkNetwork,
    access: Access,
    area: StudyArea,
    params: PlanParams,
    sites_lattice: tuple[dict[str, gpd.GeoDataFrame], Future[Lattice] | None],
    stages: Stages,
    notes: list[Note],
) -> gpd.GeoDataFrame | None:
    """The catchments when asked for, on a network of any size (the old size limit,
    ``catchments_max_edges``, is ignored with a note in ``notes``), from the proposed
    sites and the lattice made meanwhile (when one is)."""
    new_sites, lattice = sites_lattice
    if params.catchments_max_edges is not None:
        notes.append(
            Note("note_catchments_max_edges_ignored", {"limit": params.catchments_max_edges})
        )
    if not params.catchments:
        return None
    with stages("catchments"):
        return study_catchments(
            access,
            area,
            network,
            new_sites,
            speed_kmh=params.speed_kmh,
            width_m=params.catchment_width_m,
            step=lambda i, n: stages.step("catchments", i, n),
            lattice=lattice.result() if lattice is not None else None,
        )


@contextmanager
def _lattice_ahead(
    network: WalkNetwork, access: Access, params: PlanParams
) -> Iterator[Future[Lattice] | None]:
    """The catchments' lattice, snapped in the background while coverage, placement, gaps
    and the scenario run (its snapping is most of the catchments' time on a city, and
    needs only the network and the snap distance); None when no lattice is drawn on
    (no catchments, or gated compounds, whose lattices are their own)."""
    if not params.catchments or access.gated is not None:
        yield None
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lattice")
    try:
        yield pool.submit(ready_lattice, network, access, width_m=params.catchment_width_m)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _placement(
    network: WalkNetwork,
    access: Access,
    area: StudyArea,
    params: PlanParams,
    stages: Stages,
    notes: list[Note],
) -> tuple[gpd.GeoDataFrame, dict[str, SiteRecommendation]]:
    """The candidates (the user's, else points on the network) and each placement's sites;
    a placement asking for more sites than there are candidates gets a note."""
    from_user = area.candidates
    sites: dict[str, SiteRecommendation] = {}
    if not params.placements:
        return (from_user if from_user is not None else _no_candidates(area)), sites
    candidates = (
        from_user
        if from_user is not None
        else network_candidates(network, area.boundary, spacing_m=params.candidate_spacing_m)
    )
    for i, spec in enumerate(params.placements):
        stages.step("placement", i, len(params.placements))
        cat = spec.category or placement_category(access, area.catalog)
        sites[cat] = recommend_sites(
            network,
            access,
            candidates,
            cat,
            p=spec.p if spec.share is None else None,
            share=spec.share,
            time_limit_s=params.time_limit_s,
            visitors=not area.catalog[cat].members_only,
        )
        if spec.share is None and spec.p is not None and spec.p > len(candidates):
            name = {"en": area.catalog[cat].name_en, "zh": area.catalog[cat].name_zh}
            values = {"category": name, "asked": spec.p, "candidates": len(candidates)}
            notes.append(
                Note("note_sites_over_candidates", {**values, "placed": len(sites[cat].sites)})
            )
    return candidates, sites


def _no_candidates(area: StudyArea) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"candidate_id": []}, geometry=gpd.GeoSeries([], crs=area.crs), crs=area.crs
    )


def category_problems(
    catalog: ServiceCatalog, named: Sequence[tuple[str | None, str | None]], source: str
) -> list[Problem]:
    """The rule that a category a plan names (for placement, for the map) is in its
    catalog, checked here only.

    Parameters
    ----------
    catalog
        The study's catalog.
    named
        ``(key, category)`` pairs: the plan key naming it (``None`` when not from a plan
        file), and the category id (``None`` where none is named).
    source
        The plan file or command line that named them.

    Returns
    -------
    list of Problem
        One for each category the catalog lacks.
    """
    return [
        Problem.of(
            "unknown_category",
            source,
            place=("key", where) if where else None,
            category=category,
            catalog=catalog.id,
            ids=", ".join(catalog.ids),
        )
        for where, category in named
        if category is not None and category not in catalog
    ]


def check_categories(area: StudyArea, categories: list[str | None], what: str) -> None:
    """Fail when a category that a placement or the map names is not in the catalog.

    Parameters
    ----------
    area
        The study (its catalog).
    categories
        The categories named (``None`` where none is).
    what
        What names them (``"placement"``, ``"map category"``).

    Raises
    ------
    InputError
        Naming the category and the catalog's categories.
    """
    problems = category_problems(area.catalog, [(None, c) for c in categories], what)
    if problems:
        raise InputError(problems)


def _run_parts(area: StudyArea, params: PlanParams, stages: Stages, client: object) -> PlanResult:
    """A partitioned run, as a :class:`PlanResult` (no network, catchments, capacity or
    scenario: they need the whole network; a note says so)."""
    assert params.parts is not None
    parted = run_partitioned(area, params, by=params.parts, client=client, stages=stages)
    notes = list(area.notes)
    notes += access_notes(parted.access, area, parted.main_piece)
    notes.append(Note("note_partitioned", {"parts": len(parted.parts)}))
    with stages("gaps"):
        gaps = gaps_by_category(parted.access, area, None, link_m=params.gap_link_m, walking=False)
    bounds = {
        cat: float(info["part_bound"])
        for cat, info in parted.placement.items()
        if info.get("part_bound") is not None
    }
    return PlanResult(
        area=area,
        params=params,
        network=None,
        access=parted.access,
        coverage=parted.coverage,
        sites=parted.sites,
        candidates=area.candidates if area.candidates is not None else _no_candidates(area),
        gaps=gaps,
        timings=stages.timings,
        notes=notes,
        parts=parted.parts,
        bounds=bounds,
    )
