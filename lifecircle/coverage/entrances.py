"""Candidate new entrances of gated compounds, ranked by the residents they would newly
cover (issue 15, stretch): where a new gate in a wall would help the neighbourhood most.

A candidate is a point on a gated compound's boundary, every ``spacing_m`` along it,
within :data:`CANDIDATE_NEAR_M` of a public way and of one of the compound's own ways: a
new entrance there links the two by a straight path through the point (its length is the
two legs). Each candidate is evaluated alone, the other compounds and entrances as they
are: the study's walks with one more entrance (:meth:`GatedNetwork.with_entrance`), for
the residents a walk through the point can reach within a threshold and the facilities
within twice that (a walk is never shorter than the straight line), so the gains are
exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from lifecircle.coverage.access import Access
from lifecircle.coverage.gated import GatedNetwork
from lifecircle.coverage.snapping import snap_within_groups
from lifecircle.geo.catalog import ServiceCatalog

__all__ = [
    "CANDIDATE_NEAR_M",
    "ENTRANCE_MAX_CANDIDATES",
    "candidate_entrances",
    "entrance_ranking",
]

CANDIDATE_NEAR_M = 30.0
"""A candidate entrance lies within this many metres of a public way (issue 15: "points on
a compound's boundary within 30 m of a public way"); it must be as near one of the
compound's own ways, which the new entrance joins (a project assumption)."""

ENTRANCE_MAX_CANDIDATES = 300
"""At most this many candidates are evaluated (those of the compounds with the most
residents inside first); each costs one search per category near it."""


def candidate_entrances(
    gated: GatedNetwork, compounds: np.ndarray, spacing_m: float = 50.0
) -> pd.DataFrame:
    """Points on the boundaries of some compounds where a new entrance could go.

    Parameters
    ----------
    gated
        The study's network split at the walls.
    compounds
        The compounds (rows) to look along, in order.
    spacing_m
        Spacing of the points along each boundary.

    Returns
    -------
    pandas.DataFrame
        ``compound`` (row), ``x``, ``y``, ``connector_m`` (the straight path from the
        compound's nearest way to the nearest public way through the point), ``edge_in``,
        ``t_in``, ``edge_out``, ``t_out`` (where it joins the two, on the whole network).
    """
    net, pub = gated.network, gated.public
    rows = []
    geoms = gated.compounds.areas.geometry.to_numpy()
    for c in compounds:
        ring = shapely.boundary(geoms[c])
        steps = np.arange(0.0, max(float(shapely.length(ring)), spacing_m), spacing_m)
        pts = shapely.line_interpolate_point(ring, steps)
        xy = shapely.get_coordinates(pts)
        group = np.full(len(xy), int(c), dtype=np.int64)
        inside = snap_within_groups(
            net.geometry, net.ground, gated.edge_compound, xy, group, CANDIDATE_NEAR_M
        )
        if pub.net is None:
            continue
        out = pub.net.snap(xy, max_snap_m=CANDIDATE_NEAR_M)
        back = np.flatnonzero(pub.edge_of >= 0)  # whole-network edge of each public edge
        ok = inside.ok & out.ok
        rows.append(
            pd.DataFrame(
                {
                    "compound": int(c),
                    "x": xy[ok, 0],
                    "y": xy[ok, 1],
                    "connector_m": inside.access_m[ok] + out.access_m[ok],
                    "edge_in": inside.edge[ok],
                    "t_in": inside.t[ok],
                    "edge_out": back[out.edge[ok]],
                    "t_out": out.t[ok],
                }
            )
        )
    columns = ["compound", "x", "y", "connector_m", "edge_in", "t_in", "edge_out", "t_out"]
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
    return frame.head(ENTRANCE_MAX_CANDIDATES)


def entrance_ranking(
    access: Access,
    catalog: ServiceCatalog,
    facility_category: np.ndarray,
    compounds: np.ndarray,
    spacing_m: float = 50.0,
) -> pd.DataFrame:
    """The candidate entrances (:func:`candidate_entrances`) ranked by residents newly
    covered, each alone.

    Parameters
    ----------
    access
        The study's access as walked (gated: its split network, snaps and compounds).
    catalog
        The catalog (members-only categories).
    facility_category
        The category of each of the study's facilities (rows of ``access.facility_of``).
    compounds
        The compounds to look along, in order.
    spacing_m
        Spacing of the candidates along each boundary.

    Returns
    -------
    pandas.DataFrame
        :func:`candidate_entrances`' ``compound``, ``x``, ``y`` and ``connector_m``, one
        column per category (residents newly covered), ``newly_covered`` (their sum),
        best first, with ``rank``; empty when compounds are open.
    """
    gated = access.gated
    if gated is None or access.demand_compound is None or access.facility_snap is None:
        return pd.DataFrame(columns=["rank", "compound", "x", "y", "newly_covered"])
    assert access.facility_compound is not None
    cand = candidate_entrances(gated, compounds, spacing_m)
    radius = float(access.thresholds_m.max(initial=0.0)) / _least_ratio(gated)
    ok_d = access.demand_snap.ok
    d_xy = np.full((len(ok_d), 2), np.inf)  # where each resident joins the network
    d_xy[ok_d] = shapely.get_coordinates(gated.network.snapped_points(access.demand_snap)[ok_d])
    f_xy = shapely.get_coordinates(access.facility_points)
    gains = np.zeros((len(cand), len(access.categories)))
    point_cat = np.asarray(facility_category)[access.facility_of]
    where = cand[["compound", "edge_in", "edge_out"]].to_numpy(np.int64)
    along = cand[["t_in", "t_out", "connector_m", "x", "y"]].to_numpy(float)
    for i in range(len(cand)):
        (c, e_in, e_out), (t_in, t_out, connector, x, y) = where[i], along[i]
        new = gated.with_entrance(int(c), (int(e_in), t_in), (int(e_out), t_out), connector)
        near = np.flatnonzero(np.hypot(d_xy[:, 0] - x, d_xy[:, 1] - y) <= radius)
        if len(near) == 0:
            continue
        f_near = np.hypot(f_xy[:, 0] - x, f_xy[:, 1] - y) <= 2.0 * radius
        gains[i] = _gain(access, (catalog, point_cat), new, near, f_near)
    out = cand[["compound", "x", "y", "connector_m"]].copy()
    for k, cat in enumerate(access.categories):
        out[cat] = gains[:, k]
    out["newly_covered"] = gains.sum(axis=1)
    out = out.sort_values("newly_covered", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def _least_ratio(gated: GatedNetwork) -> float:
    """The least walking length per drawn metre of the network's edges (at most 1)."""
    net = gated.network
    drawn = shapely.length(net.geometry)
    ratio = np.divide(net.length, drawn, out=np.ones(len(drawn)), where=drawn > 0)
    return max(min(1.0, float(ratio.min(initial=1.0))), 1e-9)


def _gain(
    access: Access,
    categories: tuple[ServiceCatalog, np.ndarray],
    gated: GatedNetwork,
    near: np.ndarray,
    f_near: np.ndarray,
) -> np.ndarray:
    """Residents newly covered per category, among the demand rows ``near``, with the
    facility points ``f_near`` (``categories``: the catalog and each point's category),
    walking on ``gated``."""
    assert access.facility_snap is not None and access.facility_compound is not None
    assert access.demand_compound is not None
    catalog, point_cat = categories
    demand = (access.demand_snap.take(near), access.demand_compound[near])
    res = access.demand.residents[near]
    out = np.zeros(len(access.categories))
    for k, cat in enumerate(access.categories):
        sel = np.flatnonzero(f_near & (point_cat == cat))
        if len(sel) == 0:
            continue
        facilities = (access.facility_snap.take(sel), access.facility_compound[sel])
        threshold = float(access.thresholds_m[k])
        d, _ = gated.nearest(facilities, demand, not catalog[cat].members_only, threshold)
        newly = (d <= threshold) & ~access.covered[near, k]
        out[k] = float(res[newly].sum())
    return out
