"""Partitioned runs: a study split into parts, each analysed on its units plus a buffer.

A whole city need not be one search graph. Split its units into parts (by a column such as
the district, or into ``n`` groups of neighbouring units); each part keeps its own units
and residents (its *core*) and the streets, facilities and candidate sites within the
*reach* of the core: the farthest search (``search_factor`` x the largest threshold) plus
four snap distances. No walk from a core resident that any search can follow, and no
street that a point it could reach would snap to, lies beyond that, so every resident's
distances, nearest facilities and coverage come out exactly as in a whole-area run; the
coverage tables merged from the parts equal the whole run's.

New sites are proposed per part (each part's best ``p`` sites, from the candidates within
its reach, for the uncovered residents of the whole study near its units), then a final
pass chooses among all parts' proposals for the whole study, counting exactly whom each
proposed site would serve in every part: sites near part borders serve the neighbours'
residents too. Each part's optimum bounds what any ``p`` sites could do for the residents
near it, so the sum of the parts' bounds bounds the whole study's optimum.

Parts run one after another, or as tasks on a Dask cluster (:func:`run_partitioned`'s
``client``): each part's network stays on the worker that built it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

from lifecircle.coverage.access import Access, DemandView, plan_access
from lifecircle.coverage.gated import GatedWalk
from lifecircle.coverage.network import WalkNetwork
from lifecircle.coverage.placement import CoverageProblem, PlacementResult
from lifecircle.coverage.sites import (
    SiteRecommendation,
    coverage_sets,
    network_candidates,
    placement_category,
    select_sites,
    site_points,
    site_weights,
    snap_sites,
    solve_sites,
)
from lifecircle.coverage.snapping import Snap
from lifecircle.coverage.tables import Coverage, coverage_tables
from lifecircle.errors import InputError, Problem
from lifecircle.geo.study_area import StudyArea
from lifecircle.params import PlacementSpec, PlanParams
from lifecircle.progress import Stages

__all__ = [
    "Part",
    "PartitionedResult",
    "make_parts",
    "part_reach_m",
    "run_partitioned",
    "split_units",
]


def split_units(area: StudyArea, by: str | int) -> dict[str, np.ndarray]:
    """Groups of units: by the values of a column of ``area.units`` (e.g. ``"district"``),
    or ``n`` groups of neighbouring units (strips of about equal numbers of units, cut in
    rows). Returns the row positions of each group's units, by group name."""
    units = area.units
    if isinstance(by, str):
        if by not in units.columns:
            columns = ", ".join(map(str, units.columns.drop("geometry")))
            raise InputError(
                Problem.of("partition_no_column", "analysis.parts", column=by, columns=columns)
            )
        values = units[by].astype(str).to_numpy()
        return {str(v): np.flatnonzero(values == v) for v in dict.fromkeys(values.tolist())}
    n = int(by)
    if n < 1:
        raise InputError(Problem.of("partition_no_parts", "analysis.parts", n=n))
    n = min(n, len(units))
    centre = shapely.get_coordinates(shapely.centroid(units.geometry.to_numpy()))
    cols = max(1, round(math.sqrt(n)))
    by_x = np.argsort(centre[:, 0], kind="stable")
    groups: dict[str, np.ndarray] = {}
    for i, strip in enumerate(np.array_split(by_x, cols)):
        rows = n // cols + (1 if i < n % cols else 0)
        by_y = strip[np.argsort(centre[strip, 1], kind="stable")]
        for j, cell in enumerate(np.array_split(by_y, rows)):
            if len(cell):
                groups[f"part {i + 1}.{j + 1}"] = np.sort(cell)
    return groups


def part_reach_m(
    area: StudyArea, *, speed_kmh: float, search_factor: float, max_snap_m: float
) -> float:
    """How far beyond its units a part keeps streets and facilities: the farthest search
    plus four snap distances (a resident's leg, a facility's leg, and the slack for a
    facility whose nearest street must be the same one in the part as in the whole).

    Parameters
    ----------
    area
        The study (its catalog's thresholds).
    speed_kmh
        Walking speed.
    search_factor
        How far searches go, as a multiple of the longest threshold.
    max_snap_m
        The longest snap allowed.

    Returns
    -------
    float
        Metres.
    """
    longest = max(c.threshold(speed_kmh) for c in area.catalog)
    return float(longest * search_factor + 4 * max_snap_m)


@dataclass
class Part:
    """One part of a study: its core (units and residents) and what lies within reach."""

    name: str
    order: int
    area: StudyArea
    demand_index: np.ndarray
    facility_index: np.ndarray
    region: BaseGeometry
    site_area: BaseGeometry
    piece_nodes: tuple[np.ndarray, np.ndarray]
    near_index: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    near_points: np.ndarray = field(default_factory=lambda: np.empty(0, object))


def _piece_sizes(edges: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The whole network's nodes (sorted) and the size of the connected piece each is in, so
    that a piece cut by a part's edge is not mistaken for a small island when snapping."""
    raw = np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()])
    node_ids, inverse = np.unique(raw, return_inverse=True)
    m = len(edges)
    graph = sp.csr_matrix(
        (np.ones(m), (inverse[:m], inverse[m:])), shape=(len(node_ids), len(node_ids))
    )
    _, label = connected_components(graph, directed=False)
    return node_ids, np.bincount(label)[label]


def _candidates_in(
    candidates: gpd.GeoDataFrame | None, region: BaseGeometry
) -> gpd.GeoDataFrame | None:
    """The candidate sites inside a part's region."""
    if candidates is None:
        return None
    return candidates.loc[candidates.intersects(region).to_numpy()].reset_index(drop=True)


def make_parts(
    area: StudyArea, groups: dict[str, np.ndarray], reach_m: float, near_m: float = 0.0
) -> list[Part]:
    """The parts for ``groups`` of unit rows (see :func:`split_units`).

    Parameters
    ----------
    area
        The whole study.
    groups
        The unit rows of each part, by part name.
    reach_m
        How far beyond its units a part keeps streets and facilities (:func:`part_reach_m`).
    near_m
        Residents this close to a part's units (its own and its neighbours') are the ones
        its proposed sites are chosen for; at most ``(reach_m - near_m) / 2`` keeps their
        coverage by the part's sites exact.

    Returns
    -------
    list of Part
        One per group.
    """
    unit_of_demand = area.demand["unit_id"].astype(str).to_numpy()
    unit_ids = area.units["unit_id"].astype(str).to_numpy()
    claimed = np.zeros(len(area.demand), dtype=bool)
    node_ids, piece_size = _piece_sizes(area.edges)
    boundary = area.boundary
    edge_tree = area.edges.sindex
    fac_tree = area.facilities.sindex
    demand_tree = area.demand.sindex
    demand_points = area.demand.geometry.to_numpy()
    parts: list[Part] = []
    for name, rows in groups.items():
        units = area.units.iloc[rows].reset_index(drop=True)
        core = shapely.union_all(units.geometry.to_numpy())
        region = core.buffer(reach_m)
        d_idx = np.flatnonzero(np.isin(unit_of_demand, unit_ids[rows]))
        claimed[d_idx] = True
        e_idx = np.sort(edge_tree.query(region, predicate="intersects"))
        f_idx = np.sort(fac_tree.query(region, predicate="intersects"))
        edges = area.edges.iloc[e_idx].reset_index(drop=True)
        ends = np.unique(np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]))
        sizes = piece_size[np.searchsorted(node_ids, ends)]
        near = np.sort(demand_tree.query(core.buffer(near_m), predicate="intersects"))
        sub = StudyArea(
            crs=area.crs,
            units=units,
            demand=area.demand.iloc[d_idx].reset_index(drop=True),
            facilities=area.facilities.iloc[f_idx].reset_index(drop=True),
            edges=edges,
            catalog=area.catalog,
            extent=region,
            candidates=_candidates_in(area.candidates, region),
            sources=area.sources,
            compounds=area.compounds,  # the edges carry their compound column
        )
        parts.append(
            Part(
                name=name,
                order=len(parts),
                area=sub,
                demand_index=d_idx,
                facility_index=f_idx,
                region=region,
                site_area=boundary.intersection(region),
                piece_nodes=(ends, sizes),
                near_index=near,
                near_points=demand_points[near],
            )
        )
    if not claimed.all():
        lost = area.demand["demand_id"].astype(str).to_numpy()[~claimed]
        raise InputError(_unclaimed(lost))
    return parts


def _unclaimed(lost: np.ndarray) -> Problem:
    """The problem of resident points that no part holds (the first five named)."""
    return Problem.of(
        "partition_unclaimed", "analysis.parts", n=len(lost), points=", ".join(lost[:5])
    )


# ---------------------------------------------------------------------- work done per part
@dataclass
class _PartState:
    """A part's network and access, kept where the part was analysed."""

    part: Part
    network: WalkNetwork
    access: Access
    seconds: dict[str, float]


def _analyse(part: Part, params: PlanParams) -> _PartState:
    t0 = time.perf_counter()
    net = WalkNetwork.from_edges(part.area.edges)
    ends, sizes = part.piece_nodes
    net.use_piece_sizes(sizes[np.searchsorted(ends, net.node_ids)])
    t1 = time.perf_counter()
    access = plan_access(net, part.area, params)
    seconds = {"network": t1 - t0, "access": time.perf_counter() - t1}
    return _PartState(part, net, access, seconds)


def _access_of(state: _PartState) -> dict[str, Any]:
    """What the merge needs of a part's access (arrays only)."""
    a = state.access
    fac = np.where(a.facility >= 0, state.part.facility_index[np.maximum(a.facility, 0)], -1)
    return {
        "name": state.part.name,
        "categories": a.categories,
        "thresholds_m": a.thresholds_m,
        "limits_m": a.limits_m,
        "speed_kmh": a.speed_kmh,
        "profiles": a.profiles,
        "age_groups": a.age_groups,
        "max_snap_m": a.max_snap_m,
        "demand_index": state.part.demand_index,
        "distance_m": a.distance_m,
        "facility": fac,
        "snap": a.demand_snap,
        "demand": a.demand,
        "component_size": a.demand_component_size,
        "count_within": a.count_within,
        "unsnapped": state.part.facility_index[a.unsnapped_facilities],
        "seconds": state.seconds,
        "order": state.part.order,
        "main_piece": int(state.network.component_size.max(initial=0)),
        "nodes": state.network.n_nodes,
        "edges": state.network.n_edges,
    }


def _propose(
    state: _PartState,
    category: str,
    p: int | None,
    share: float | None,
    weights: np.ndarray,
    params: PlanParams,
) -> _Proposal:
    """The part's own best sites: the ``p`` that cover most of the residents near the part
    (its own and its neighbours' within reach, by their ``weights`` in the whole study); or
    the fewest that cover ``share`` of its own residents."""
    part, net = state.part, state.network
    cand = part.area.candidates
    if cand is None:
        cand = network_candidates(net, part.site_area, spacing_m=params.candidate_spacing_m)
    k = state.access.column(category)
    threshold = float(state.access.thresholds_m[k])
    if p is not None:
        idx, points = part.near_index, part.near_points
    else:  # a share of the part's own residents: the parts' choices together reach it
        idx, points = part.demand_index, part.area.demand.geometry.to_numpy()
    w = weights[idx]
    pts = site_points(cand.to_crs(net.crs).geometry.to_numpy())
    visitors = not part.area.catalog[category].members_only
    snap, d_snap, walk = _snap_both(state, pts, points, params.max_snap_m, visitors)
    on = state.access.network_for(net, category)  # the category's walking profile
    if walk is not None:
        walk = replace(walk, network=walk.network.on(on))
    problem = CoverageProblem(coverage_sets(on, snap, d_snap, w, threshold, walk=walk), w)
    result = solve_sites(problem, p=p, share=share, time_limit_s=params.time_limit_s)
    sel = result.selected
    xy = shapely.get_coordinates(pts[sel]) if len(sel) else np.empty((0, 2))
    table = pd.DataFrame(
        {
            "candidate_id": cand["candidate_id"].astype(str).to_numpy()[sel]
            if "candidate_id" in cand
            else sel.astype(str),
            "name": cand["name"].to_numpy()[sel] if "name" in cand else None,
            "street": [net.names[e] if e >= 0 else None for e in snap.edge[sel]],
            "part": part.name,
        }
    )
    reached = idx[np.asarray(problem.sets.sum(axis=0)).ravel() > 0]
    return _Proposal(xy.reshape(-1, 2), table, result, reached)


@dataclass
class _Proposal:
    """A part's proposed sites: positions, their ``candidate_id``, ``name``, ``street`` and
    ``part``, and the part's solver result."""

    xy: np.ndarray
    table: pd.DataFrame
    result: PlacementResult
    reached: np.ndarray  # demand rows (whole study) some candidate of the part reaches


def _snap_both(
    state: _PartState, sites: np.ndarray, points: np.ndarray, max_snap_m: float, visitors: bool
) -> tuple[Snap, Snap, GatedWalk | None]:
    """Sites and demand points snapped as the part's access was walked, and (gated) how
    the sites' walks to the points go by the compounds' rule."""
    gated = state.access.gated
    if gated is None:
        net = state.network
        return net.snap(sites, max_snap_m=max_snap_m), net.snap(points, max_snap_m=max_snap_m), None
    s_snap, s_group = gated.snap(sites, max_snap_m)
    d_snap, d_group = gated.snap(points, max_snap_m)
    return s_snap, d_snap, GatedWalk(gated, s_group, d_group, visitors)


def _cover(
    state: _PartState, xy: np.ndarray, weights: np.ndarray, threshold_m: float, category: str
) -> tuple[np.ndarray, np.ndarray]:
    """Which of the pooled sites ``xy`` reach which of the part's residents: (site, demand
    row in the whole study) pairs, for residents of positive ``weights`` (whole study)."""
    part = state.part
    inside = np.flatnonzero(shapely.contains_xy(part.region, xy[:, 0], xy[:, 1]))
    if len(inside) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    visitors = not part.area.catalog[category].members_only
    snap, walk = snap_sites(
        state.network, state.access, shapely.points(xy[inside]), state.access.max_snap_m, visitors
    )
    w = weights[part.demand_index]
    sets = coverage_sets(
        state.network, snap, state.access.demand_snap, w, threshold_m, walk=walk
    ).tocoo()
    return inside[sets.row], part.demand_index[sets.col]


# ---------------------------------------------------------------------- running the parts
class _Local:
    """Runs tasks at once in this process (the same interface as a Dask client)."""

    def submit(self, fn: Callable[..., Any], *args: Any, pure: bool = True) -> Any:
        return fn(*args)

    def gather(self, items: list[Any]) -> list[Any]:
        return items


@dataclass
class PartitionedResult:
    """A partitioned study, merged.

    Attributes
    ----------
    access
        Every resident's access, in the study's demand order (as a whole run gives it;
        ``access.demand_snap.edge`` refers to each part's own network).
    coverage
        The coverage tables, from the merged access.
    sites
        Per placement category: the final pass's sites, as a whole run gives them (the
        candidate ids are the parts' own, or yours when candidates were given), with the
        ``part`` that proposed each site.
    placement
        Per placement category: the final pass's :class:`PlacementResult`, and
        ``part_bound``: the sum of the parts' bounds, an upper bound on what any ``p``
        sites could cover (maximal covering; None for a share).
    parts
        One row per part: ``part``, ``units``, ``residents``, ``nodes``, ``edges`` and
        seconds per stage.
    timings
        Seconds per stage of the whole run.
    main_piece
        Nodes of the largest piece of the network.
    """

    access: Access
    coverage: Coverage
    sites: dict[str, SiteRecommendation]
    placement: dict[str, dict[str, Any]]
    parts: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    main_piece: int = 0


def run_partitioned(
    area: StudyArea,
    params: PlanParams | None = None,
    *,
    by: str | int = 4,
    client: Any = None,
    stages: Stages | None = None,
) -> PartitionedResult:
    """Analyse ``area`` in parts and merge the results.

    Parameters
    ----------
    area
        The whole study.
    params
        :class:`lifecircle.params.PlanParams` (defaults when omitted).
    by
        A column of the units to split by, or a number of parts.
    client
        A ``dask.distributed.Client``: the parts run as its tasks. Without one, they run
        here one after another.
    stages
        A :class:`lifecircle.progress.Stages` to time the stages and report progress.

    Returns
    -------
    PartitionedResult
        The merged access, coverage and sites, with the parts and the sites' bound.
    """
    params = params or PlanParams()
    stages = stages or Stages()
    runner = client if client is not None else _Local()
    with stages("split"):
        parts = _split(area, params, by)
    with stages("access"):
        states, pieces = _part_access(runner, parts, params, stages)
        access = _merge_access(pieces, len(area.demand))
    with stages("coverage"):
        coverage = coverage_tables(
            access,
            area.units,
            area.catalog,
            unit_share=params.unit_share,
            facilities=area.facilities,
        )
    with stages("placement"):
        sites, placement = _place(area, access, runner, states, params, stages)
    return PartitionedResult(
        access,
        coverage,
        sites,
        placement,
        _parts_table(parts, pieces, access.demand.residents),
        dict(stages.timings),
        main_piece=max(piece["main_piece"] for piece in pieces),
    )


def _split(area: StudyArea, params: PlanParams, by: str | int) -> list[Part]:
    """The parts of a study, with the reach and nearness the parameters call for."""
    reach = part_reach_m(
        area,
        speed_kmh=params.speed_kmh,
        search_factor=params.search_factor,
        max_snap_m=params.max_snap_m,
    )
    # residents near a part, whose coverage by its own sites its network gives exactly
    leg = max(c.threshold(params.speed_kmh) for c in area.catalog) + 2 * params.max_snap_m
    near = max(0.0, min(leg, reach - leg))
    return make_parts(area, split_units(area, by), reach, near)


def _part_access(
    runner: Any, parts: list[Part], params: PlanParams, stages: Stages
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Each part analysed (its state, kept where it ran) and its access, in part order."""
    states = [runner.submit(_analyse, part, params, pure=False) for part in parts]
    pieces = []
    asked = [runner.submit(_access_of, s, pure=False) for s in states]
    for i, piece in enumerate(_as_done(runner, asked)):
        pieces.append(piece)
        stages.step("access", i + 1, len(states))
    pieces.sort(key=lambda piece: piece["order"])
    return states, pieces


def _place(
    area: StudyArea,
    access: Access,
    runner: Any,
    states: list[Any],
    params: PlanParams,
    stages: Stages,
) -> tuple[dict[str, SiteRecommendation], dict[str, dict[str, Any]]]:
    """Every placement: the parts' proposals, then the final pass over them."""
    sites: dict[str, SiteRecommendation] = {}
    placement: dict[str, dict[str, Any]] = {}
    for n, spec in enumerate(params.placements):
        stages.step("placement", n, len(params.placements))
        cat = spec.category or placement_category(access, area.catalog)
        p = _sites_wanted(spec)
        weights = site_weights(access, cat)
        proposals = runner.gather(
            [
                runner.submit(_propose, s, cat, p, spec.share, weights, params, pure=False)
                for s in states
            ]
        )
        sites[cat], placement[cat] = _final_pass(
            area, access, runner, states, proposals, cat, spec, params
        )
    return sites, placement


def _parts_table(
    parts: list[Part], pieces: list[dict[str, Any]], residents: np.ndarray
) -> pd.DataFrame:
    """One row per part: its size and seconds per stage."""
    rows = []
    for part, piece in zip(parts, pieces, strict=True):
        rows.append(
            {
                "part": part.name,
                "units": len(part.area.units),
                "residents": float(residents[part.demand_index].sum()),
                "nodes": piece["nodes"],
                "edges": piece["edges"],
                **{f"{k}_s": v for k, v in piece["seconds"].items()},
            }
        )
    return pd.DataFrame(rows)


def _as_done(runner: Any, futures: list[Any]) -> Iterator[Any]:
    """Results as they come (in order without Dask)."""
    if isinstance(runner, _Local):
        yield from futures
        return
    from dask.distributed import as_completed

    for fut in as_completed(futures):
        yield fut.result()


def _merge_access(pieces: Sequence[dict[str, Any]], n: int) -> Access:
    """The parts' access, in the study's demand order (each row is in exactly one part)."""
    order = np.argsort(np.concatenate([p["demand_index"] for p in pieces]), kind="stable")
    assert len(order) == n

    def merged(key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in pieces])[order]

    first = pieces[0]
    return Access(
        demand=DemandView.concat([p["demand"] for p in pieces]).take(order),
        categories=list(first["categories"]),
        thresholds_m=first["thresholds_m"],
        limits_m=first["limits_m"],
        distance_m=merged("distance_m"),
        facility=merged("facility"),
        demand_snap=Snap.concat([p["snap"] for p in pieces]).take(order),
        demand_component_size=merged("component_size"),
        speed_kmh=first["speed_kmh"],
        max_snap_m=first["max_snap_m"],
        count_within=None if first["count_within"] is None else merged("count_within"),
        unsnapped_facilities=np.unique(np.concatenate([p["unsnapped"] for p in pieces])),
        profiles=first["profiles"],
        age_groups=first["age_groups"],
    )


def _final_pass(
    area: StudyArea,
    access: Access,
    runner: Any,
    states: list[Any],
    proposals: list[_Proposal],
    category: str,
    spec: PlacementSpec,
    params: PlanParams,
) -> tuple[SiteRecommendation, dict[str, Any]]:
    """Choose among all parts' sites for the whole study."""
    p = _sites_wanted(spec)
    weights = site_weights(access, category)
    threshold = float(access.thresholds_m[access.column(category)])
    xy_all = np.concatenate([q.xy for q in proposals]) if proposals else np.empty((0, 2))
    table = pd.concat([q.table for q in proposals], ignore_index=True)
    # the same site proposed by two parts is one (to the centimetre), at its exact position
    _xy, first = np.unique(np.round(xy_all, 2), axis=0, return_index=True)
    xy = xy_all[first]
    table = table.iloc[first].reset_index(drop=True)
    pairs = runner.gather(
        [runner.submit(_cover, s, xy, weights, threshold, category, pure=False) for s in states]
    )
    rows = np.concatenate([r for r, _ in pairs]) if pairs else np.empty(0, np.int64)
    cols = np.concatenate([c for _, c in pairs]) if pairs else np.empty(0, np.int64)
    sets = sp.csr_matrix(
        (np.ones(len(rows), dtype=bool), (rows, cols)), shape=(len(xy), len(weights))
    )
    problem = CoverageProblem(sets, weights)
    pts = shapely.points(xy) if len(xy) else np.empty(0, dtype=object)
    sites_table = gpd.GeoDataFrame(table, geometry=pts, crs=area.crs)
    rec = select_sites(
        problem,
        sites_table,
        access,
        category,
        p=p,
        share=spec.share,
        time_limit_s=params.time_limit_s,
    )
    rec.sites["part"] = table["part"].to_numpy(dtype=object)[rec.result.selected]
    coverable = np.zeros(len(weights), dtype=bool)
    for q in proposals:
        coverable[q.reached] = True
    # no candidate of any part reaches them (the pooled sites are only the parts' choices)
    rec = replace(rec, uncoverable_residents=float(weights[~coverable].sum()))
    # each part's bound covers every resident any p sites could serve near it, so their
    # sum bounds the whole; a share has no such bound from the parts
    part_bound = float(sum(q.result.bound for q in proposals)) if p is not None else None
    return rec, {
        "result": rec.result,
        "part_bound": part_bound,
        "pooled_sites": len(xy),
        "part_results": [q.result for q in proposals],
    }


def _sites_wanted(spec: PlacementSpec) -> int | None:
    """The number of sites a placement asks for (None when it asks for a share)."""
    return spec.p if spec.share is None else None
