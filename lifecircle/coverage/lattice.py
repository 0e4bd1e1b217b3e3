"""A fine square lattice near the streets, snapped as residents are, and outlines traced on it.

The grid construction of the catchments (:mod:`lifecircle.coverage.catchments`) asks, at
every node of a lattice of ``cell_m`` spacing near the reached streets, whether a resident
standing there would be covered, and traces the outline of the answer. This module holds
the two halves that know nothing of catchments:

- :class:`Lattice`: the nodes near some of the network's edges, each snapped to the
  network once (with the residents' own snapping rule) and kept for the next question, so
  that the catchments of a study's categories snap each node once between them;
- :func:`trace_outline`: the polygons where a field sampled at lattice nodes is at least
  zero, by marching squares (contourpy) with linear interpolation between nodes, in tiles
  of ``TILE`` nodes so that memory stays bounded on a whole city.

Nodes sit at integer multiples of ``cell_m`` in the network's CRS, so that every question
asked of one lattice lands on the same nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, cast

import contourpy
import numpy as np
import shapely
from scipy import ndimage
from scipy.spatial import cKDTree

from lifecircle.coverage.network import Ends, Located, WalkNetwork
from lifecircle.coverage.snapping import Snap
from lifecircle.params import DEFAULT_MAX_SNAP_M

if TYPE_CHECKING:
    from contourpy._contourpy import FillReturn_ChunkCombinedOffsetOffset

__all__ = [
    "BLOCK",
    "TILE",
    "EdgeSegments",
    "Lattice",
    "LatticeNodes",
    "Tile",
    "Tiles",
    "trace_outline",
]

BLOCK = 4
"""Nodes per side of a block: the lattice's neighbourhoods are made of whole blocks."""
TILE = 4096
"""Nodes per side of a traced tile (neighbouring tiles share their seam row or column)."""

_J_OFFSET = 2**31  # keys: i * 2**32 + (j + 2**31), ordered by i, then j


def _key(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return np.asarray(i, dtype=np.int64) * 2**32 + (np.asarray(j, dtype=np.int64) + _J_OFFSET)


def _unkey(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i = np.floor_divide(key, 2**32)
    return i, key - i * 2**32 - _J_OFFSET


class Lattice:
    """Nodes of a square lattice of ``cell_m`` spacing near a network's streets, snapped on
    demand.

    The nodes within ``reach_m`` of an edge are snapped the first time that edge is asked
    about, and kept: asking about the reached edges of one category after another snaps
    each node once.

    Parameters
    ----------
    network
        The walk network the nodes snap to.
    cell_m
        The lattice spacing.
    reach_m
        How far from an edge its nodes are taken.
    max_snap_m
        The snap distance (as for residents: a node farther from every street is not
        snapped).
    """

    def __init__(
        self,
        network: WalkNetwork,
        *,
        cell_m: float,
        reach_m: float,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
    ) -> None:
        if not (cell_m > 0 and reach_m > 0):
            raise ValueError(f"cell_m and reach_m must be positive, got {cell_m}, {reach_m}")
        self.network = network
        self.cell_m = float(cell_m)
        self.reach_m = float(reach_m)
        self.max_snap_m = float(max_snap_m)
        self._done = np.zeros(network.n_edges, dtype=bool)
        self._keys = np.empty(0, dtype=np.int64)
        self._snap = Snap(np.empty(0, np.int64), np.empty(0), np.empty(0))
        self._at = network.locate(self._snap)
        self._all: LatticeNodes | None = None

    @cached_property
    def segments(self) -> EdgeSegments:
        """The network's edges' segments, to measure nodes against given edges."""
        return EdgeSegments.of(self.network.geometry)

    @property
    def n_snapped(self) -> int:
        """How many nodes have been snapped so far."""
        return len(self._keys)

    def cover(self, edges: np.ndarray) -> None:
        """Snap the nodes within ``reach_m`` of ``edges`` (a mask) not snapped yet."""
        edges = np.asarray(edges, dtype=bool)
        new = edges & ~self._done
        if new.any():
            self._add(self._node_keys(self.network.geometry[new], self.reach_m))
            self._done |= new

    def all_nodes(self, edges: np.ndarray | None = None) -> LatticeNodes:
        """Every node snapped so far (after covering ``edges``, a mask, when given), with
        what every question asks of them looked up once: kept until more are snapped."""
        if edges is not None:
            self.cover(edges)
        if self._all is None:
            # lattice coordinates, and indices below, fit 32 bits: half the memory
            i, j = (c.astype(np.int32) for c in _unkey(self._keys))
            self._all = LatticeNodes(i, j, self._snap, self.network.ends(self._at))
        return self._all

    def nodes(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, Snap, Located]:
        """The nodes that snap to one of ``edges``, within ``reach_m`` of it, and the nodes
        next to them (one cell east, west, north or south) snapped to others.

        Parameters
        ----------
        edges
            A mask of the network's edges.

        Returns
        -------
        (i, j, snap, located)
            The nodes' integer lattice coordinates (the node stands at ``(i, j) *
            cell_m``), sorted by ``(i, j)``, and where each joins the network: its snap,
            and the same located on the chains (:meth:`WalkNetwork.locate`).
        """
        edges = np.asarray(edges, dtype=bool)
        every = self.all_nodes(edges)
        edge = every.snap.edge
        at = every.ends.located
        sel = (edge >= 0) & edges[np.where(edge >= 0, edge, 0)] & (at.access <= self.reach_m)
        keep = np.flatnonzero(every.around(sel))
        return (
            every.i[keep].astype(np.int64),
            every.j[keep].astype(np.int64),
            every.snap.take(keep),
            Located(at.chain[keep], at.s[keep], at.access[keep]),
        )

    def _node_keys(self, lines: np.ndarray, within_m: float) -> np.ndarray:
        """Keys of the nodes of every block within ``within_m`` of the lines, sorted."""
        lines = np.asarray(lines, dtype=object)
        lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))]
        if len(lines) == 0:
            return np.empty(0, dtype=np.int64)
        side = BLOCK * self.cell_m
        # the lines sampled every cell: each of their points is within half a cell of a sample
        step = self.cell_m
        pts = shapely.get_coordinates(shapely.segmentize(lines, step))
        bi = np.floor(pts[:, 0] / side).astype(np.int64)
        bj = np.floor(pts[:, 1] / side).astype(np.int64)
        r = int((within_m + step / 2.0) // side) + 1
        i0, j0 = int(bi.min()) - r, int(bj.min()) - r
        grid = np.zeros((int(bi.max()) - i0 + r + 1, int(bj.max()) - j0 + r + 1), dtype=bool)
        grid[bi - i0, bj - j0] = True
        grid = ndimage.binary_dilation(grid, structure=np.ones((2 * r + 1, 2 * r + 1), bool))
        ci, cj = np.nonzero(grid)
        ci, cj = ci + i0, cj + j0
        # the blocks around the samples' blocks; kept when their centre is within reach of a
        # sample, plus the block's half diagonal and half a cell
        half_diag = (BLOCK - 1) * self.cell_m / np.sqrt(2.0)
        centres = np.column_stack([ci, cj]) * side + (BLOCK - 1) * self.cell_m / 2.0
        reach = within_m + half_diag + step / 2.0
        d, _ = cKDTree(pts).query(centres, distance_upper_bound=reach * (1 + 1e-9))
        ci, cj = ci[d <= reach], cj[d <= reach]
        offsets = np.arange(BLOCK)
        ni = (ci[:, None, None] * BLOCK + offsets[None, :, None]).repeat(BLOCK, axis=2)
        nj = (cj[:, None, None] * BLOCK + offsets[None, None, :]).repeat(BLOCK, axis=1)
        return np.sort(_key(ni.ravel(), nj.ravel()))

    def _add(self, keys: np.ndarray) -> None:
        """Snap the nodes of ``keys`` not snapped yet, and keep them."""
        pos = np.searchsorted(self._keys, keys)
        known = pos < len(self._keys)
        known[known] = self._keys[pos[known]] == keys[known]
        new = keys[~known]
        if len(new) == 0:
            return
        i, j = _unkey(new)
        xy = np.column_stack([i * self.cell_m, j * self.cell_m]).astype(float)
        snap = self.network.snap(xy, max_snap_m=self.max_snap_m)
        at = self.network.locate(snap)
        order = np.argsort(np.concatenate([self._keys, new]), kind="stable")
        self._keys = np.concatenate([self._keys, new])[order]
        self._snap = Snap.concat([self._snap, snap]).take(order)
        old = self._at
        self._all = None
        self._at = Located(
            np.concatenate([old.chain, at.chain])[order],
            np.concatenate([old.s, at.s])[order],
            np.concatenate([old.access, at.access])[order],
        )


@dataclass(frozen=True)
class EdgeSegments:
    """The straight segments of every edge of a network, to measure points against given
    edges (as ``shapely.distance`` and ``shapely.line_locate_point`` do, in one pass).

    Attributes
    ----------
    first, count
        Each edge's first segment and how many it has.
    ax, ay, dx, dy
        Each segment's start and its vector.
    start
        Each segment's distance along its edge from the edge's start.
    length
        Each edge's length.
    """

    first: np.ndarray
    count: np.ndarray
    ax: np.ndarray
    ay: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    start: np.ndarray
    length: np.ndarray

    @staticmethod
    def of(geometry: np.ndarray) -> EdgeSegments:
        """The segments of LineStrings ``geometry``."""
        xy, gi = shapely.get_coordinates(geometry, return_index=True)
        same = gi[1:] == gi[:-1]
        a, b, g = xy[:-1][same], xy[1:][same], gi[:-1][same]
        seg_len = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
        count = np.bincount(g, minlength=len(geometry))
        first = np.cumsum(count) - count
        length = np.bincount(g, weights=seg_len, minlength=len(geometry))
        before = np.cumsum(seg_len) - seg_len
        start = before - np.repeat(before[first[count > 0]], count[count > 0])
        d = b - a
        return EdgeSegments(first, count, a[:, 0], a[:, 1], d[:, 0], d[:, 1], start, length)

    def measure(self, xy: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distance from each point to its edge, and the fraction of the edge's length
        from its start to the nearest point on it (the first segment of the nearest, on a
        tie)."""
        cnt = self.count[edges]
        if len(edges) == 0 or (cnt == 0).any():
            if len(edges) == 0:
                return np.empty(0), np.empty(0)
            raise ValueError("an edge without segments")
        starts = np.cumsum(cnt) - cnt
        pair = np.repeat(np.arange(len(edges)), cnt)
        seg = np.repeat(self.first[edges], cnt) + (np.arange(len(pair)) - starts[pair])
        px, py = xy[pair, 0] - self.ax[seg], xy[pair, 1] - self.ay[seg]
        dx, dy = self.dx[seg], self.dy[seg]
        l2 = dx * dx + dy * dy
        u = np.divide(px * dx + py * dy, l2, out=np.zeros_like(l2), where=l2 > 0)
        np.clip(u, 0.0, 1.0, out=u)
        d = np.hypot(px - u * dx, py - u * dy)
        best = np.minimum.reduceat(d, starts)
        at = np.minimum.reduceat(np.where(d == best[pair], np.arange(len(d)), len(d)), starts)
        s = seg[at]
        along = self.start[s] + u[at] * np.hypot(self.dx[s], self.dy[s])
        size = self.length[edges]
        t = np.divide(along, size, out=np.zeros_like(along), where=size > 0)
        return best, np.clip(t, 0.0, 1.0)


@dataclass(frozen=True)
class LatticeNodes:
    """A lattice's nodes, sorted by ``(i, j)``, with their snaps and chain ends, and the
    neighbours and tiles that every catchment asks of them, found once.

    Attributes
    ----------
    i, j
        Integer lattice coordinates (the node stands at ``(i, j) * cell_m``).
    snap
        Where each node joins the network.
    ends
        The same, located on the chains with their ends (:meth:`WalkNetwork.ends`).
    """

    i: np.ndarray
    j: np.ndarray
    snap: Snap
    ends: Ends

    def __len__(self) -> int:
        return len(self.i)

    @cached_property
    def north(self) -> np.ndarray:
        """Whether the next node is this one's north neighbour ``(i, j + 1)`` (sorted by
        ``(i, j)``, a north neighbour can only come next)."""
        out = np.zeros(len(self.i), dtype=bool)
        out[:-1] = (self.i[1:] == self.i[:-1]) & (self.j[1:] == self.j[:-1] + 1)
        return out

    @cached_property
    def east(self) -> tuple[np.ndarray, np.ndarray]:
        """Every node that has an east neighbour ``(i + 1, j)``, and that neighbour."""
        keys = _key(self.i, self.j)
        pos = np.searchsorted(keys, keys + 2**32)
        hit = pos < len(keys)
        hit[hit] = keys[pos[hit]] == keys[hit] + 2**32
        small = np.int32 if len(keys) < 2**31 else np.int64
        return np.flatnonzero(hit).astype(small), pos[hit].astype(small)

    @cached_property
    def tiles(self) -> Tiles:
        """The nodes by traced tile."""
        return Tiles.of(self.i, self.j)

    def around(self, sel: np.ndarray) -> np.ndarray:
        """The mask ``sel`` and the nodes one cell east, west, north or south of it."""
        out = sel.copy()
        north = self.north[:-1]
        out[1:] |= sel[:-1] & north
        out[:-1] |= sel[1:] & north
        p, q = self.east
        out[q[sel[p]]] = True
        out[p[sel[q]]] = True
        return out

    def flips(self, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every pair of neighbours (east pairs, then north) of which exactly one node is
        ``inside`` (a mask), as node indices: the west or south node first."""
        p, q = self.east
        east = inside[p] != inside[q]
        north = np.flatnonzero(self.north[:-1] & (inside[:-1] != inside[1:]))
        return np.concatenate([p[east], north]), np.concatenate([q[east], north + 1])


@dataclass(frozen=True)
class Tile:
    """One traced tile: its nodes, and the grid they fill.

    Attributes
    ----------
    index
        The tile's nodes, as indices (None: every node, in order).
    origin
        The lattice coordinates of the grid's first row and column.
    shape
        The grid's size, one row per ``i`` and one column per ``j``: the nodes' extent
        within the tile and a row and column of fill around, where the tile has room.
    flat
        Each node's place in the flattened grid.
    """

    index: np.ndarray | None
    origin: tuple[int, int]
    shape: tuple[int, int]
    flat: np.ndarray


@dataclass(frozen=True)
class Tiles:
    """Lattice nodes by traced tile (a node on a seam belongs to both tiles)."""

    tiles: list[Tile]

    @staticmethod
    def of(i: np.ndarray, j: np.ndarray) -> Tiles:
        """The tiles of nodes ``(i, j)`` (each node once)."""
        parts = _tiles(i, j, np.arange(len(i)))
        out = []
        for base_i, base_j, li, lj, idx in parts:
            a0, a1 = max(int(li.min()) - 1, 0), min(int(li.max()) + 1, TILE)
            b0, b1 = max(int(lj.min()) - 1, 0), min(int(lj.max()) + 1, TILE)
            shape = (a1 - a0 + 1, b1 - b0 + 1)
            flat = ((li - a0) * shape[1] + (lj - b0)).astype(np.int32)  # under 4098**2
            whole = len(parts) == 1  # one tile: every node, in order
            out.append(Tile(None if whole else idx, (base_i + a0, base_j + b0), shape, flat))
        return Tiles(out)


def trace_outline(  # noqa: PLR0913, RUF100 (the nodes, their field and how to read it)
    i: np.ndarray,
    j: np.ndarray,
    z: np.ndarray,
    cell_m: float,
    *,
    fill: float,
    tiles: Tiles | None = None,
) -> shapely.Geometry:
    """The (multi)polygon where a field sampled at lattice nodes is at least zero.

    Parameters
    ----------
    i, j
        Integer lattice coordinates of the sampled nodes (each node once).
    z
        The field at those nodes; every other node takes ``fill`` (negative).
    cell_m
        The lattice spacing: node ``(i, j)`` stands at ``(i * cell_m, j * cell_m)``.
    fill
        The value of the nodes not given.
    tiles
        The nodes' tiles, when found already (:attr:`LatticeNodes.tiles`).

    Returns
    -------
    shapely.Geometry
        The union of the filled contours ``z >= 0`` (marching squares, linear between
        nodes), holes kept; an empty polygon when nothing is at least zero.
    """
    if not fill < 0:
        raise ValueError("fill must be negative")
    pos = z >= 0
    if not pos.any():
        return shapely.Polygon()
    # no node exactly on the outline (a ten-millionth of a cell off it): every outline vertex
    # lies strictly between two nodes, so no two rings can meet
    eps = 1e-7 * cell_m
    z = np.where(np.abs(z) < eps, np.where(pos, eps, -eps), z)
    top = float(np.max(z)) + 1.0
    tiles = tiles or Tiles.of(i, j)
    pieces = [_trace_tile(tile, z, cell_m, (fill, top)) for tile in tiles.tiles]
    polys = np.concatenate(pieces) if pieces else np.empty(0, object)
    if len(polys) == 0:
        return shapely.Polygon()
    if len(pieces) == 1:
        # one tile: marching squares' polygons cover disjoint parts of the cells, and with
        # no node on the outline their rings never meet; a ring that crosses itself all
        # the same (a check far cheaper than full validity) is mended by the union
        out = polys[0] if len(polys) == 1 else shapely.multipolygons(polys)
        rings = shapely.get_rings(polys)
        return out if shapely.is_simple(rings).all() else shapely.union_all(polys)
    # tiles meet along shared seams, whose vertices both tiles compute alike
    return shapely.union_all(polys)


def _tiles(
    i: np.ndarray, j: np.ndarray, z: np.ndarray
) -> list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """The nodes by tile: (the tile's first node, nodes in tile coordinates, values).

    Tiles of ``TILE`` x ``TILE`` cells start one node before the nodes' smallest
    coordinates; a node on a seam belongs to both tiles (the tile before holds it as its
    last row or column).
    """
    # one column and row of fill before the first nodes, one after the last
    i0, j0 = int(i.min()) - 1, int(j.min()) - 1
    if int(i.max()) + 1 - i0 <= TILE and int(j.max()) + 1 - j0 <= TILE:
        return [(i0, j0, i - i0, j - j0, z)]
    ti, tj = np.floor_divide(i - i0, TILE), np.floor_divide(j - j0, TILE)
    li, lj = i - i0 - ti * TILE, j - j0 - tj * TILE
    parts_t = [(ti, tj, li, lj, z)]
    for di, dj in ((1, 0), (0, 1), (1, 1)):
        on = ((li == 0) if di else True) & ((lj == 0) if dj else True)
        if np.any(on):
            parts_t.append(
                (ti[on] - di, tj[on] - dj, li[on] + di * TILE, lj[on] + dj * TILE, z[on])
            )
    ti, tj, li, lj, z = (np.concatenate(c) for c in zip(*parts_t, strict=True))
    tkey = _key(ti, tj)
    order = np.argsort(tkey, kind="stable")
    tkey, ti, tj, li, lj, z = tkey[order], ti[order], tj[order], li[order], lj[order], z[order]
    cuts = np.flatnonzero(np.diff(tkey)) + 1
    starts = np.r_[0, cuts]
    return [
        (i0 + int(ti[s]) * TILE, j0 + int(tj[s]) * TILE, a, b, c)
        for s, a, b, c in zip(
            starts, np.split(li, cuts), np.split(lj, cuts), np.split(z, cuts), strict=True
        )
    ]


def _trace_tile(
    tile: Tile, z: np.ndarray, cell_m: float, levels: tuple[float, float]
) -> np.ndarray:
    """The filled contours of one tile of the field ``z`` (at every node) between the
    ``levels`` (fill, top), as shapely polygons."""
    fill, top = levels
    zz = z if tile.index is None else z[tile.index]
    if not (zz >= 0).any():
        return np.empty(0, dtype=object)
    grid = np.full(tile.shape[0] * tile.shape[1], fill, dtype=float)
    grid[tile.flat] = zz
    grid = grid.reshape(tile.shape)
    # cropped to the rows and columns with a node at least zero, and one around
    pos = grid >= 0
    rows, cols = np.flatnonzero(pos.any(axis=1)), np.flatnonzero(pos.any(axis=0))
    r0, r1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 1, tile.shape[0] - 1)
    c0, c1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 1, tile.shape[1] - 1)
    xs = (tile.origin[0] + np.arange(r0, r1 + 1)) * cell_m
    ys = (tile.origin[1] + np.arange(c0, c1 + 1)) * cell_m
    gen = contourpy.contour_generator(
        xs,
        ys,
        np.ascontiguousarray(grid[r0 : r1 + 1, c0 : c1 + 1].T),
        name="serial",
        fill_type=contourpy.FillType.ChunkCombinedOffsetOffset,
    )
    filled = cast("FillReturn_ChunkCombinedOffsetOffset", gen.filled(0.0, top))
    points, offsets, outer = filled[0][0], filled[1][0], filled[2][0]
    if points is None or offsets is None or outer is None:
        return np.empty(0, dtype=object)
    polys = shapely.from_ragged_array(shapely.GeometryType.POLYGON, points, (offsets, outer))
    return np.asarray(polys, dtype=object)
