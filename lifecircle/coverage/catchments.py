"""Walking catchments (isochrones) drawn from the network actually walked.

A catchment of a band of ``b`` metres is the area where a resident standing there would be
counted as covered: the point snaps to its nearest street exactly as residents do, its
straight access leg is at most ``width_m`` (default 40 m), and the leg plus the walk along
the network to the nearest source is at most ``b``. So beside a point walked ``p`` metres
from the sources the catchment reaches ``min(width, b - p)`` metres, tapering to nothing
where the band runs out; a point nearer to a street walked farther (across a river, a rail
line, a wall) is left out, so barriers show as holes or edges, never bridged the way a
convex hull of reached nodes bridges them.

Two constructions of that one definition:

- the grid construction (the default): the definition is evaluated at every node of a
  lattice of ``GRID_CELL_M`` spacing within reach of the reached streets, as the
  continuous margin ``min(width - leg, b - walk)`` (a distance, clamped to two cells), and
  the outline of ``margin >= 0`` is traced by marching squares with linear interpolation
  between nodes (:mod:`lifecircle.coverage.lattice`). Where the nearest street changes
  between two nodes, from one walked within the band to one beyond, the margin jumps; there
  the outline is put where the two streets are equally near (:class:`_Margin`). The nodes
  are snapped once per study, whatever the number of categories and bands, and nothing
  grows faster than the reached streets: it draws a whole city.
- the exact construction (``exact=True``, the test oracle): every edge reached within
  ``b`` is kept, an edge reached only in part is cut at the exact point where ``b`` runs
  out (from either end, and around any source standing on the edge itself), and each
  reached piece is buffered as wide as a resident beside it could stand; the pieces are
  dissolved, then the points whose nearest street is another one, walked farther, are cut
  away on square cells of ``cell_m`` (5 m), tested at their centres.

Polygons are for display: coverage is always counted on residents by network distance.

With gated compounds (:mod:`lifecircle.coverage.gated`) a catchment is drawn by the same
rule residents walk by: outside the compounds that have ways, on the public ways with the
public search (a point there joins public ways); inside such a compound, on the
compounds' ways with the inside search (a point there joins its compound's ways, so it is
covered as that compound's member would be). A point inside one compound within
``width_m`` of a second, adjacent compound's ways is drawn as if it joined the nearer of
them (a display simplification at a shared wall; residents themselves join their own).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from lifecircle.coverage.access import Access
from lifecircle.coverage.exact_catchments import DEFAULT_WIDTH_M, exact_catchment, reached_pieces
from lifecircle.coverage.gated import GatedNetwork
from lifecircle.coverage.lattice import EdgeSegments, Lattice, LatticeNodes, trace_outline
from lifecircle.coverage.network import Search, Snap, WalkNetwork
from lifecircle.geo.study_area import StudyArea
from lifecircle.params import DEFAULT_MAX_SNAP_M, DEFAULT_SPEED_KMH

__all__ = [
    "DEFAULT_WIDTH_M",
    "GRID_CELL_M",
    "catchment",
    "catchments",
    "grid_lattice",
    "reached_pieces",
    "ready_lattice",
    "study_catchments",
]

GRID_CELL_M = 5.0
"""The grid construction's lattice spacing. On the Helsinki demo its polygons are within
1% of the definition sampled point by point (2.5 m: within 0.4%, at three times the time
and four times the memory; ``benchmarks/bench_catchments.py``)."""


def catchment(  # noqa: PLR0913, RUF100 (keyword-only drawing options)
    network: WalkNetwork,
    sources: Snap,
    band_m: float,
    *,
    width_m: float = DEFAULT_WIDTH_M,
    exact: bool = False,
    lattice: Lattice | None = None,
    search: Search | None = None,
    source_points: np.ndarray | None = None,
    taper: bool = True,
    consistent: bool = True,
    cell_m: float = 5.0,
) -> BaseGeometry:
    """The walking catchment polygon of a set of sources for one band.

    Parameters
    ----------
    network
        The walk network.
    sources
        Where walking starts (snapped facilities or sites).
    band_m
        How far a resident may walk, access leg included.
    width_m
        The longest access leg a covered resident may have.
    exact
        Draw with the exact construction (the test oracle, slower) instead of the grid.
    lattice
        The grid construction's lattice, shared between the catchments of one study
        (default: a new one of ``GRID_CELL_M`` spacing and the default snap distance).
    search
        ``network.search(sources)`` when already done, with a limit of at least
        ``band_m`` (the grid construction: ``band_m + 2 * lattice.cell_m``).
    source_points
        Exact construction: the facilities' own positions, whose access legs are drawn
        too (the grid construction needs none: the definition decides).
    taper
        Exact construction: narrow the pieces near the catchment's edge to ``band_m -
        walk`` (else every piece is ``width_m`` wide: the plain buffer of the reached
        network). ``False`` needs ``exact``.
    consistent
        Exact construction: cut away what a resident standing there would not be counted
        as covered, on square cells of ``cell_m`` tested at their centres (located exactly
        as residents are). ``False`` needs ``exact``.
    cell_m
        Exact construction: the side of those cells.

    Returns
    -------
    shapely.geometry.base.BaseGeometry
        A Polygon or MultiPolygon in the network's CRS (empty when nothing is reached).
    """
    if not exact:
        if not (taper and consistent):
            raise ValueError("taper=False and consistent=False are options of exact=True")
        lattice = lattice or grid_lattice(network, width_m=width_m)
        search = search or network.search(sources, limit_m=band_m + _clamp(lattice))
        return _grid_catchments(network, sources, [band_m], search, lattice, width_m)[0]
    search = search or network.search(sources, limit_m=band_m)
    return exact_catchment(
        network,
        sources,
        band_m,
        search,
        width_m=width_m,
        source_points=source_points,
        taper=taper,
        consistent=consistent,
        cell_m=cell_m,
    )


def _clamp(lattice: Lattice) -> float:
    """How far the grid construction's margin is followed either side of zero: two cells
    (the margin changes by at most 2 m a metre, so every node next to the outline keeps
    its exact value). :func:`grid_lattice` takes the nodes that far beyond the width."""
    return 2.0 * lattice.cell_m


def _grid_catchments(  # noqa: PLR0913, RUF100 (one search, its bands and the lattice)
    network: WalkNetwork,
    sources: Snap,
    bands_m: Sequence[float],
    search: Search,
    lattice: Lattice,
    width_m: float,
) -> list[BaseGeometry]:
    """The grid construction, for several bands from one search (see the module docs).

    ``search`` has a limit of at least the largest band plus :func:`_clamp`: every node
    whose margin is within the clamp of zero has its exact walk.
    """
    clamp = _clamp(lattice)
    if lattice.reach_m < width_m + clamp:
        raise ValueError(f"the lattice reaches {lattice.reach_m} m: at least {width_m + clamp}")
    # every node is asked: one snapped to a street not reached, or farther than the width
    # and the clamp, has a margin below -clamp, as the nodes not snapped at all
    nodes = lattice.all_nodes(_reached_edges(network, sources, search, search.limit_m))
    if len(nodes) == 0:
        return [shapely.Polygon() for _ in bands_m]
    walk = search.walks(nodes.ends)
    field = _Margin(network, search, width_m, lattice.cell_m, nodes, walk, lattice.segments)
    out = []
    for band in bands_m:
        margin = np.clip(np.nan_to_num(field.at_band(float(band)), nan=-clamp), -clamp, clamp)
        out.append(
            trace_outline(nodes.i, nodes.j, margin, lattice.cell_m, fill=-clamp, tiles=nodes.tiles)
        )
    return out


@dataclass(frozen=True)
class _Margin:
    """The grid construction's margin at a lattice's nodes, from one search.

    The margin ``min(width - leg, band - walk)`` is a distance (to where the leg reaches
    the width, or the walk the band), so that linear interpolation between two nodes puts
    the outline where it is. Where the street nearest changes between two nodes, from one
    walked within the band to one walked beyond, the margin jumps instead: there each node
    takes, when nearer, half the difference between its distances to the two streets (a
    distance to the line where they are equally near), which puts the outline on that line.
    """

    network: WalkNetwork
    search: Search
    width_m: float
    cell_m: float
    nodes: LatticeNodes
    walk: np.ndarray
    segments: EdgeSegments

    def at_band(self, band: float) -> np.ndarray:
        """The margin of every node for a band, jumps placed."""
        at = self.nodes.ends.located
        margin = np.minimum(self.width_m - at.access, band - self.walk)
        p, q = self.nodes.flips(margin >= 0)
        inside_q = margin[q] >= 0  # the covered node first
        p, q = np.where(inside_q, q, p), np.where(inside_q, p, q)
        chain, s, edge = at.chain, at.s, self.nodes.snap.edge
        apart = (chain[p] != chain[q]) | (np.abs(s[p] - s[q]) > 2 * self.cell_m)
        apart &= edge[q] >= 0
        p, q = p[apart], q[apart]
        if len(p) == 0:
            return margin
        dist_q, margin_q = self._as_if_on(p, edge[q], band)  # p beside q's street
        dist_p, margin_p = self._as_if_on(q, edge[p], band)  # q beside p's street
        jump = (margin_p > 0) & (margin_q < 0)
        p, q = p[jump], q[jump]
        np.minimum.at(margin, p, (dist_q[jump] - at.access[p]) / 2.0)
        np.maximum.at(margin, q, (at.access[q] - dist_p[jump]) / 2.0)
        return margin

    def _as_if_on(
        self, nodes: np.ndarray, edges: np.ndarray, band: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The distance from nodes to given edges, and their margin were they snapped there."""
        xy = np.column_stack([self.nodes.i[nodes], self.nodes.j[nodes]]) * self.cell_m
        dist, t = self.segments.measure(xy, edges)
        walk, _ = self.search.to(Snap(edges, t, dist))
        return dist, np.minimum(self.width_m - dist, band - walk)


def _reached_edges(
    network: WalkNetwork, sources: Snap, search: Search, limit_m: float
) -> np.ndarray:
    """Which edges are reached within ``limit_m`` from either end or hold a source: the
    only streets a covered point can snap to."""
    dist = search.nodes().dist
    reached = (dist[network.u] <= limit_m) | (dist[network.v] <= limit_m)
    ok = sources.ok & (sources.access_m <= limit_m)
    reached[sources.edge[ok]] = True
    return np.asarray(reached)


def grid_lattice(
    network: WalkNetwork,
    *,
    cell_m: float = GRID_CELL_M,
    width_m: float = DEFAULT_WIDTH_M,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Lattice:
    """The lattice the grid construction draws on, to share between catchments.

    Parameters
    ----------
    network
        The walk network.
    cell_m
        The lattice spacing.
    width_m
        The widest catchment to draw on it (nodes are taken that far from the streets,
        plus two cells).
    max_snap_m
        The snap distance of the residents.

    Returns
    -------
    Lattice
        An empty lattice: nodes are snapped as catchments need them.
    """
    return Lattice(network, cell_m=cell_m, reach_m=width_m + 2.0 * cell_m, max_snap_m=max_snap_m)


def catchments(  # noqa: PLR0913, RUF100 (keyword-only drawing options)
    network: WalkNetwork,
    sources: Snap,
    groups: np.ndarray,
    bands_m: Sequence[float],
    *,
    width_m: float = DEFAULT_WIDTH_M,
    exact: bool = False,
    lattice: Lattice | None = None,
    source_points: np.ndarray | None = None,
    crs: object = None,
    taper: bool = True,
    consistent: bool = True,
    cell_m: float = 5.0,
) -> gpd.GeoDataFrame:
    """Catchments of several groups of sources (categories, or single facilities), in bands.

    One bounded search per group, at the largest band; every band is cut from it.

    Parameters
    ----------
    network
        The walk network.
    sources
        Where walking starts, one row per source.
    groups
        The group of each source: one catchment per group and band.
    bands_m
        The bands (walks in metres, access leg included); duplicates are drawn once.
    width_m
        The longest access leg a covered resident may have.
    exact
        Draw with the exact construction (the test oracle) instead of the grid.
    lattice
        The grid construction's lattice, shared by the groups (default: a new one of
        ``GRID_CELL_M`` spacing and the default snap distance).
    source_points
        Exact construction: the sources' own positions (see :func:`catchment`).
    crs
        The frame's CRS (default: the network's).
    taper, consistent, cell_m
        Exact construction: see :func:`catchment`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``group``, ``band_m`` and the polygon, one row per group and band (largest first,
        so that drawn in order the smaller bands lie on top).
    """
    bands = sorted({float(b) for b in bands_m}, reverse=True)
    if not exact:
        if not (taper and consistent):
            raise ValueError("taper=False and consistent=False are options of exact=True")
        lattice = lattice or grid_lattice(network, width_m=width_m)
    options = {"taper": taper, "consistent": consistent, "cell_m": cell_m}
    rows_group, rows_band, rows_geom = [], [], []
    groups = np.asarray(groups)
    for g in dict.fromkeys(groups.tolist()):
        sel = np.flatnonzero(groups == g)
        src = sources.take(sel)
        if not src.ok.any():
            continue
        rows_group += [g] * len(bands)
        rows_band += bands
        pts = source_points[sel] if source_points is not None else None
        rows_geom += _bands(network, src, bands, width_m, lattice, pts, options)
    return gpd.GeoDataFrame(
        {"group": rows_group, "band_m": rows_band},
        geometry=gpd.GeoSeries(rows_geom, crs=crs or network.crs),
        crs=crs or network.crs,
    )


def _bands(  # noqa: PLR0913, RUF100 (one group's sources and how to draw them)
    network: WalkNetwork,
    src: Snap,
    bands: list[float],
    width_m: float,
    lattice: Lattice | None,
    points: np.ndarray | None,
    options: dict[str, Any],
) -> list[BaseGeometry]:
    """One group's catchments, largest band first, from one search: on ``lattice`` (the
    grid construction), or exactly with ``options`` when there is none."""
    if lattice is not None:
        found = network.search(src, limit_m=bands[0] + _clamp(lattice))
        return _grid_catchments(network, src, bands, found, lattice, width_m)
    found = network.search(src, limit_m=bands[0])
    return [
        exact_catchment(network, src, b, found, width_m=width_m, source_points=points, **options)
        for b in bands
    ]


def study_catchments(  # noqa: PLR0913, RUF100 (keyword-only drawing options)
    access: Access,
    area: StudyArea,
    network: WalkNetwork,
    new_sites: dict[str, gpd.GeoDataFrame],
    *,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    width_m: float = DEFAULT_WIDTH_M,
    exact: bool = False,
    cell_m: float | None = None,
    step: Callable[[int, int], None] | None = None,
    lattice: Lattice | None = None,
) -> gpd.GeoDataFrame:
    """A study's catchments: each category's at its threshold; the first category of
    ``new_sites`` also at 5/10/15 minutes; and what the proposed sites of each category in
    ``new_sites`` would add.

    Parameters
    ----------
    access
        The study's access (its categories, thresholds and facility snaps).
    area
        The study (its facilities).
    network
        The walk network.
    new_sites
        Proposed sites per category, in placement order.
    speed_kmh, width_m
        The walking speed of the minute bands and the catchments' width.
    exact
        Draw with the exact construction (the test oracle, slower) instead of the grid.
    cell_m
        The grid construction's lattice spacing (default ``GRID_CELL_M``; its nodes are
        snapped as the residents are, with ``access.max_snap_m``, once for all the
        categories), or with ``exact`` the side of the consistency cells (default 5 m).
    step
        Called with (categories done, categories) as the drawing goes.
    lattice
        The grid construction's lattice when made already (:func:`ready_lattice`, for
        this network, ``access``, ``width_m`` and ``cell_m``; not with gated compounds).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``category``, ``kind`` (``existing`` or ``proposed``), ``band_m``, polygon.
    """
    if access.gated is not None:
        return _gated_study(access, area, new_sites, (speed_kmh, width_m), exact, cell_m)
    fac_cat = area.facilities["category"].to_numpy()
    if exact:
        lattice = None
    else:
        lattice = lattice or ready_lattice(network, access, width_m=width_m, cell_m=cell_m)
    draw = partial(
        catchments, network, width_m=width_m, exact=exact, lattice=lattice, cell_m=cell_m or 5.0
    )
    jobs: list[tuple[int, Callable[[], pd.DataFrame]]] = []
    bands_of = _study_bands(access, next(iter(new_sites), None), speed_kmh)
    for k, cat in enumerate(access.categories):
        pts, _, snaps = access.entrances(fac_cat == cat)
        if len(pts):
            jobs.append((k, partial(_profiled_draw, draw, access, (snaps, pts), cat, bands_of[k])))
        if cat in new_sites and len(new_sites[cat]):
            new = new_sites[cat].geometry.to_numpy()
            src = (network.snap(new, max_snap_m=access.max_snap_m), new)
            jobs.append(
                (k, partial(_profiled_draw, draw, access, src, cat, bands_of[k][:1], "proposed"))
            )
    return _study_frame(_run(jobs, len(access.categories), step), area.crs)


def ready_lattice(
    network: WalkNetwork,
    access: Access,
    *,
    width_m: float = DEFAULT_WIDTH_M,
    cell_m: float | None = None,
) -> Lattice:
    """The lattice a study's catchments are drawn on, snapped around every street at once
    (as the residents are, with ``access.max_snap_m``), with its nodes' neighbours and
    tiles found, so that the categories can be drawn side by side on it.

    Parameters
    ----------
    network
        The walk network.
    access
        The study's access (its snap distance).
    width_m
        The catchments' width.
    cell_m
        The lattice spacing (default ``GRID_CELL_M``).

    Returns
    -------
    Lattice
        Ready for :func:`study_catchments`.
    """
    lattice = grid_lattice(
        network, cell_m=cell_m or GRID_CELL_M, width_m=width_m, max_snap_m=access.max_snap_m
    )
    nodes = lattice.all_nodes(np.ones(network.n_edges, dtype=bool))
    _ = nodes.north, nodes.east, nodes.tiles, lattice.segments
    return lattice


def _run(
    jobs: list[tuple[int, Callable[[], pd.DataFrame]]],
    n_categories: int,
    step: Callable[[int, int], None] | None,
) -> list[pd.DataFrame]:
    """Draw the categories' catchments on every core (numpy, GEOS and contourpy do the
    work outside the GIL), and return them in order; ``step`` is told the category of each
    as it is collected."""
    if not jobs:
        return []
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(job) for _, job in jobs]
        frames = []
        for (k, _), future in zip(jobs, futures, strict=True):
            if step is not None:
                step(k, n_categories)
            frames.append(future.result())
    return frames


def _profiled_draw(
    draw: Callable[..., gpd.GeoDataFrame],
    access: Access,
    sources: tuple[Snap, np.ndarray],
    cat: str,
    bands: list[float],
    kind: str = "existing",
) -> pd.DataFrame:
    """One category's catchments from ``sources`` (snaps and points) at ``bands``, in the
    study's frame columns. A walking profile's effective metres are plain metres times
    its speed ratio, so they are drawn at band / ratio (steps' and footbridges' own
    factors are not drawn)."""
    src, points = sources
    ratio = access.profile(cat).speed_ratio(access.speed_kmh)
    plain = [b / ratio for b in bands] if ratio != 1.0 else bands
    found = draw(src, np.full(len(src), cat, dtype=object), plain, source_points=points)
    if ratio != 1.0:
        found["band_m"] = found["band_m"].map(dict(zip(plain, bands, strict=True)))
    return found.rename(columns={"group": "category"}).assign(kind=kind)


def _study_frame(frames: list[pd.DataFrame], crs: object) -> gpd.GeoDataFrame:
    """The study's catchment frames as one, in its columns' order (empty when none)."""
    if not frames:
        empty: dict[str, list[object]] = {"category": [], "kind": [], "band_m": []}
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(
        out[["category", "kind", "band_m", "geometry"]], geometry="geometry", crs=crs
    )


def _study_bands(access: Access, focus: str | None, speed_kmh: float) -> list[list[float]]:
    """Each category's bands: its threshold; the focus category's also 5/10/15 minutes."""
    per_min = speed_kmh * 1000 / 60
    out = []
    for k, cat in enumerate(access.categories):
        bands = [float(access.thresholds_m[k])]
        if cat == focus:
            bands += [5 * per_min, 10 * per_min, 15 * per_min]
        out.append(bands)
    return out


@dataclass(frozen=True)
class _GatedDraw:
    """How catchments are drawn in gated mode: on the public and inside networks, each
    with its lattice (None: the exact construction), and the area of the compounds with
    ways (where a point joins a compound's ways, not public ones)."""

    gated: GatedNetwork
    lattices: tuple[Lattice | None, Lattice | None]
    walled: BaseGeometry
    width_m: float
    cell_m: float

    def bands(
        self, points: tuple[Snap, np.ndarray], visitors: bool, bands: list[float]
    ) -> list[BaseGeometry]:
        """One category's catchments (largest band first) from its access points' snaps
        and compounds, by the gated rule."""
        snap, group = points
        lat = self.lattices[0] if self.lattices[0] is not None else self.lattices[1]
        reach = bands[0] + (_clamp(lat) if lat is not None else 0.0)
        found = self.gated.searches((snap, group), visitors, reach)
        parts = (self.gated.public, self.gated.inside)
        drawn: list[list[BaseGeometry]] = []
        for part, search, lattice, rows in zip(
            parts,
            found,
            self.lattices,
            (np.flatnonzero(group < 0), np.flatnonzero(group >= 0)),
            strict=True,
        ):
            if part.net is None or search is None:
                drawn.append([shapely.Polygon() for _ in bands])
                continue
            src = part.snap_of(snap, rows)
            if lattice is not None:
                drawn.append(_grid_catchments(part.net, src, bands, search, lattice, self.width_m))
            else:
                drawn.append(
                    [
                        exact_catchment(
                            part.net,
                            src,
                            b,
                            search,
                            width_m=self.width_m,
                            source_points=None,
                            taper=True,
                            consistent=True,
                            cell_m=self.cell_m,
                        )
                        for b in bands
                    ]
                )
        return [
            shapely.union(shapely.difference(p, self.walled), shapely.intersection(i, self.walled))
            for p, i in zip(drawn[0], drawn[1], strict=True)
        ]


def _gated_study(
    access: Access,
    area: StudyArea,
    new_sites: dict[str, gpd.GeoDataFrame],
    speed_width: tuple[float, float],
    exact: bool,
    cell_m: float | None,
) -> gpd.GeoDataFrame:
    """:func:`study_catchments` by the gated compounds' rule."""
    gated = access.gated
    assert gated is not None and access.facility_compound is not None
    speed_kmh, width_m = speed_width

    def lattice(net: WalkNetwork | None) -> Lattice | None:
        if exact or net is None:
            return None
        return grid_lattice(
            net, cell_m=cell_m or GRID_CELL_M, width_m=width_m, max_snap_m=access.max_snap_m
        )

    walls = gated.compounds.areas.geometry.to_numpy()[gated.has_ways()]
    draw = _GatedDraw(
        gated,
        (lattice(gated.public.net), lattice(gated.inside.net)),
        shapely.union_all(walls) if len(walls) else shapely.Polygon(),
        width_m,
        cell_m or 5.0,
    )
    fac_cat = area.facilities["category"].to_numpy()
    bands_of = _study_bands(access, next(iter(new_sites), None), speed_kmh)
    rows: list[tuple[str, str, float, BaseGeometry]] = []
    for k, cat in enumerate(access.categories):
        visitors = not area.catalog[cat].members_only
        bands = sorted(set(bands_of[k]), reverse=True)
        # a walking profile's effective metres are plain metres times its speed ratio, as
        # in the open construction (steps' and footbridges' own factors are not drawn)
        ratio = access.profile(cat).speed_ratio(access.speed_kmh)
        plain = [b / ratio for b in bands]
        sel = np.flatnonzero((fac_cat == cat)[access.facility_of])
        if len(sel) and access.facility_snap is not None:
            pts = (access.facility_snap.take(sel), access.facility_compound[sel])
            if pts[0].ok.any():
                geoms = draw.bands(pts, visitors, plain)
                rows += [(cat, "existing", b, g) for b, g in zip(bands, geoms, strict=True)]
        if cat in new_sites and len(new_sites[cat]):
            new = gated.snap(new_sites[cat].geometry.to_numpy(), access.max_snap_m)
            if new[0].ok.any():
                geom = draw.bands(new, visitors, [bands_of[k][0] / ratio])[0]
                rows.append((cat, "proposed", bands_of[k][0], geom))
    frame = pd.DataFrame(rows, columns=["category", "kind", "band_m", "geometry"])
    return _study_frame([frame] if len(frame) else [], area.crs)
