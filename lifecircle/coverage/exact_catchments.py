"""The exact construction of walking catchments: the test oracle of the grid construction.

For a band of ``b`` metres: every edge reached within ``b`` from the sources is kept; an
edge reached only in part is cut at the exact point where ``b`` runs out (from either end,
and around any source standing on the edge itself). Each reached piece is then drawn as
wide as a resident beside it could stand and still be served (``min(width, b - walk)``,
on pieces of at most ``_STEP_M``), and the pieces are dissolved. Last, the points whose
nearest street is another one, walked farther, are cut away on square cells of ``cell_m``
tested at their centres (located exactly as residents are): those cuts are a staircase of
the cells, so at 5 m cells the polygon is about 3% of its area off the definition
(:mod:`lifecircle.coverage.catchments`), at 1 m cells under 1%.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from lifecircle.coverage.network import Search, Snap, WalkNetwork

__all__ = ["DEFAULT_WIDTH_M", "exact_catchment", "reached_pieces"]

DEFAULT_WIDTH_M = 40.0
"""The widest a catchment reaches from its streets: the longest access leg of a covered
resident."""
_STEP_M = 5.0  # length of the tapered pieces near the catchment's edge


def reached_pieces(
    network: WalkNetwork,
    sources: Snap,
    band_m: float,
    *,
    width_m: float = DEFAULT_WIDTH_M,
    dist: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The parts of the network within ``band_m`` of the sources, and how wide to draw each.

    Parameters
    ----------
    network, sources, band_m
        The network, where walking starts, and how far to walk.
    width_m
        The widest a piece is drawn (the access leg a resident may have).
    dist
        Node distances from ``network.reach(sources)`` when already computed (with a
        limit of at least ``band_m``).

    Returns
    -------
    (lines, widths)
        LineStrings and, for each, ``min(width_m, band_m - farthest walk along it)``.
    """
    if dist is None:
        dist = network.reach(sources, limit_m=band_m).dist
    L = network.length
    du, dv = dist[network.u], dist[network.v]
    ok = sources.ok & (sources.access_m < band_m)
    on_edge: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for e, t, a in zip(
        sources.edge[ok].tolist(),
        sources.t[ok].tolist(),
        sources.access_m[ok].tolist(),
        strict=True,
    ):
        on_edge[e].append((t * L[e], a))
    with np.errstate(invalid="ignore"):
        peak = (du + dv + L) / 2.0  # the farthest walk along an edge reached from both ends
    deep = np.isfinite(peak) & (peak <= band_m - width_m)
    lines: list[np.ndarray] = [network.geometry[deep]]
    widths: list[np.ndarray] = [np.full(int(deep.sum()), width_m)]
    near = ~deep & ((du < band_m) | (dv < band_m))
    if on_edge:
        holding = np.fromiter(on_edge, dtype=np.int64)
        near[holding] = ~deep[holding]
    pieces, piece_w = [], []
    for e in np.flatnonzero(near).tolist():
        for lo, hi, w in _tapered(
            float(L[e]), float(du[e]), float(dv[e]), on_edge.get(e, []), band_m, width_m
        ):
            length = L[e] if L[e] > 0 else 1.0
            pieces.append(substring(network.geometry[e], lo / length, hi / length, normalized=True))
            piece_w.append(w)
    lines.append(np.asarray(pieces, dtype=object))
    widths.append(np.asarray(piece_w, dtype=float))
    return np.concatenate(lines), np.concatenate(widths)


def _tapered(
    length: float, du: float, dv: float, srcs: list[tuple[float, float]], band: float, width: float
) -> list[tuple[float, float, float]]:
    """Reached stretches of one edge as ``(from, to, width)`` in metres from its u end.

    The walk along the edge, ``p(x) = min(du + x, dv + length - x, a + |x - s|)``, is
    piecewise linear; cutting at all of its breakpoints (peaks, sources, the points where
    it reaches the band) and every ``_STEP_M`` leaves pieces on which its maximum is at an
    end, so each piece gets its exact width.
    """
    # where p reaches the band from either end, and where the two ends' walks meet
    marks = [0.0, length, band - du, length - (band - dv), (dv + length - du) / 2.0]
    for s, a in srcs:
        # the source itself, where its walk reaches the band, and where it meets the ends' walks
        marks += [
            s,
            s - (band - a),
            s + (band - a),
            (s + a - du) / 2.0,
            (s - a + length + dv) / 2.0,
        ]
    for (s1, a1), (s2, a2) in zip(sorted(srcs), sorted(srcs)[1:], strict=False):
        marks.append((s1 + s2 + a2 - a1) / 2.0)  # where two neighbouring sources' walks meet
    n = max(1, int(np.ceil(length / _STEP_M)))
    xs = np.unique(
        np.clip(
            np.concatenate([np.linspace(0.0, length, n + 1), np.asarray(marks, dtype=float)]),
            0.0,
            length,
        )
    )
    xs = xs[np.isfinite(xs)]
    p = np.minimum(du + xs, dv + length - xs)
    for s, a in srcs:
        p = np.minimum(p, a + np.abs(xs - s))
    pmax = np.maximum(p[:-1], p[1:])
    w = np.minimum(width, band - pmax)
    out: list[tuple[float, float, float]] = []
    for x0, x1, wi in zip(xs[:-1].tolist(), xs[1:].tolist(), w.tolist(), strict=True):
        if wi < 0 or x1 <= x0:  # not reached (a reached tip has width 0 and is kept)
            continue
        if out and out[-1][2] == wi == width and abs(out[-1][1] - x0) < 1e-9:
            out[-1] = (out[-1][0], x1, wi)  # merge full-width runs
        else:
            out.append((x0, x1, wi))
    return out


def exact_catchment(  # noqa: PLR0913, RUF100 (the exact construction's options)
    network: WalkNetwork,
    sources: Snap,
    band_m: float,
    search: Search,
    *,
    width_m: float,
    source_points: np.ndarray | None,
    taper: bool,
    consistent: bool,
    cell_m: float,
) -> BaseGeometry:
    """The exact construction of one catchment (see the module docs).

    Parameters
    ----------
    network, sources, band_m, search
        The network, where walking starts, the band, and ``network.search(sources)`` with
        a limit of at least ``band_m``.
    width_m
        The longest access leg.
    source_points
        The sources' own positions: their access legs are drawn too.
    taper
        Narrow the pieces near the catchment's edge to ``band_m - walk``.
    consistent
        Cut away, on square cells of ``cell_m`` tested at their centres, what a resident
        there would not be counted as covered.
    cell_m
        The side of those cells.

    Returns
    -------
    shapely.geometry.base.BaseGeometry
        The polygon (empty when nothing is reached).
    """
    dist = search.nodes().dist
    lines, widths = reached_pieces(network, sources, band_m, width_m=width_m, dist=dist)
    if not taper:
        widths = np.full(len(widths), width_m)
    if source_points is not None:
        ok = sources.ok & (sources.access_m < band_m)
        if ok.any():
            on_net = network.snapped_points(sources.take(np.flatnonzero(ok)))
            legs = shapely.linestrings(
                np.stack(
                    [shapely.get_coordinates(source_points[ok]), shapely.get_coordinates(on_net)],
                    axis=1,
                )
            )
            leg_w = (
                np.minimum(width_m, band_m - sources.access_m[ok])
                if taper
                else np.full(int(ok.sum()), width_m)
            )
            lines = np.concatenate([lines, legs])
            widths = np.concatenate([widths, leg_w])
    if len(lines) == 0:
        return shapely.Polygon()
    # buffering pieces one by one and dissolving is far faster than buffering one
    # multi-line (about 150 times on Helsinki), with the same result
    poly = shapely.union_all(shapely.buffer(lines, widths, quad_segs=8))
    if consistent:
        poly = _as_residents_see_it(poly, network, search, band_m, width_m, cell_m)
    return poly


_MAX_CELLS = 2_000_000


def _as_residents_see_it(
    poly: BaseGeometry,
    network: WalkNetwork,
    search: Search,
    band_m: float,
    width_m: float,
    cell_m: float,
) -> BaseGeometry:
    """``poly`` without the cells whose centre a resident would not be covered at."""
    if poly.is_empty:
        return poly
    minx, miny, maxx, maxy = poly.bounds
    cell = max(cell_m, float(np.sqrt((maxx - minx) * (maxy - miny) / _MAX_CELLS)))
    xs = np.arange(minx + cell / 2, maxx, cell)
    ys = np.arange(miny + cell / 2, maxy, cell)
    if len(xs) == 0 or len(ys) == 0:
        return poly
    mesh_x, mesh_y = np.meshgrid(xs, ys)
    gx, gy = mesh_x.ravel(), mesh_y.ravel()
    inside = shapely.contains_xy(poly, gx, gy)
    centres = np.column_stack([gx[inside], gy[inside]])
    if len(centres) == 0:
        return poly
    snap = network.snap(centres)
    d, _ = search.to(snap)
    covered = (d <= band_m + 1e-9) & (snap.access_m <= width_m + 1e-9)
    bad = centres[~covered]
    if len(bad) == 0:
        return poly
    half = cell / 2.0
    cut = shapely.union_all(
        shapely.box(bad[:, 0] - half, bad[:, 1] - half, bad[:, 0] + half, bad[:, 1] + half)
    )
    return poly.difference(cut)
