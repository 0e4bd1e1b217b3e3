"""The walk network as compressed arrays, with exact point-to-point walking distances.

A :class:`WalkNetwork` is built once from street edges (a GeoDataFrame or a networkx
graph) into a symmetric CSR matrix for scipy's C shortest paths, keeping every edge's
geometry for snapping and catchments. Points (residents, facilities, candidate sites) snap
to the nearest *edge* at ground level, not to the nearest node: a point's walk is the
straight access leg to the edge plus the part of the edge walked to either end. Searches
start from the sources' exact positions on their edges, through one virtual node per
source, so distances between two snapped points are exact, the same edge included.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import connected_components, dijkstra

__all__ = ["DEFAULT_MAX_SNAP_M", "NodeReach", "PairDistances", "Snap", "WalkNetwork"]

log = logging.getLogger(__name__)

DEFAULT_MAX_SNAP_M = 250.0


@dataclass(frozen=True)
class Snap:
    """Where points join the network.

    Attributes
    ----------
    edge
        Index of the edge each point joins; -1 when no edge is within the snap distance.
    t
        Position along the edge as a fraction from its ``u`` end (0) to its ``v`` end (1).
    access_m
        Length of the straight leg from the point to the edge (NaN when not snapped).
    """

    edge: np.ndarray
    t: np.ndarray
    access_m: np.ndarray

    def __len__(self) -> int:
        return len(self.edge)

    @property
    def ok(self) -> np.ndarray:
        """Mask of snapped points."""
        return self.edge >= 0

    def take(self, idx: np.ndarray) -> Snap:
        """The snaps of a subset of points."""
        return Snap(self.edge[idx], self.t[idx], self.access_m[idx])

    @staticmethod
    def concat(parts: list[Snap]) -> Snap:
        """Snaps of several point sets, one after another."""
        if not parts:
            return Snap(np.empty(0, np.int64), np.empty(0), np.empty(0))
        return Snap(
            np.concatenate([p.edge for p in parts]),
            np.concatenate([p.t for p in parts]),
            np.concatenate([p.access_m for p in parts]),
        )


@dataclass(frozen=True)
class NodeReach:
    """Distances from a set of sources to the network's nodes."""

    dist: np.ndarray
    """Walking distance to each node from the nearest source (inf beyond the limit)."""
    source: np.ndarray
    """Index (into the sources) of the nearest source of each node, -1 when none."""


@dataclass(frozen=True)
class PairDistances:
    """Sparse source-target distances: every pair within the limit, and only those."""

    source: np.ndarray
    target: np.ndarray
    dist: np.ndarray
    n_sources: int
    n_targets: int

    def to_csr(self) -> sp.csr_matrix:
        """A sources x targets boolean matrix of the pairs (within the limit)."""
        return sp.csr_matrix(
            (np.ones(len(self.dist), dtype=bool), (self.source, self.target)),
            shape=(self.n_sources, self.n_targets),
        )


class WalkNetwork:
    """A walkable street network as compressed arrays (CSR), with edge geometries.

    Edges are walkable both ways. Disconnected pieces are kept: a point on an island
    reaches nothing off the island (its distance is infinite, never a false zero).

    Parameters
    ----------
    u, v
        Internal node index (0..n-1) of each edge's two ends.
    geometry
        Each edge's LineString in a metric CRS, running from ``u`` to ``v``.
    crs
        That metric CRS.
    node_ids
        The original id (e.g. OSM node id) of each internal node.
    length
        Edge lengths in metres (default: the geometries' lengths).
    ground
        Whether each edge is at ground level (default: all are).
    names
        Street names, for reports (optional).
    """

    def __init__(
        self,
        u: np.ndarray,
        v: np.ndarray,
        geometry: np.ndarray,
        *,
        crs: Any,
        node_ids: np.ndarray,
        length: np.ndarray | None = None,
        ground: np.ndarray | None = None,
        names: np.ndarray | None = None,
    ) -> None:
        self.crs = CRS.from_user_input(crs)
        if not self.crs.is_projected:
            raise ValueError("WalkNetwork needs edges in a projected (metric) CRS")
        self.u = np.asarray(u, dtype=np.int64)
        self.v = np.asarray(v, dtype=np.int64)
        self.geometry = np.asarray(geometry, dtype=object)
        self.node_ids = np.asarray(node_ids)
        self.length = (
            shapely.length(self.geometry).astype(float)
            if length is None
            else np.asarray(length, dtype=float)
        )
        self.ground = np.ones(len(self.u), bool) if ground is None else np.asarray(ground, bool)
        self.names = (
            np.full(len(self.u), None, dtype=object)
            if names is None
            else np.asarray(names, dtype=object)
        )
        n = len(self.node_ids)
        rows = np.concatenate([self.u, self.v])
        cols = np.concatenate([self.v, self.u])
        w = np.concatenate([self.length, self.length])
        # keep the shortest of parallel edges between the same two nodes
        order = np.lexsort((w, cols, rows))
        rows, cols, w = rows[order], cols[order], w[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, w = rows[first], cols[first], w[first]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.add.at(indptr, rows + 1, 1)
        self._indptr = np.cumsum(indptr).astype(np.int32 if n < 2**30 else np.int64)
        self._indices = cols.astype(self._indptr.dtype)
        self._data = w.astype(float)
        self.csr = sp.csr_matrix((self._data, self._indices, self._indptr), shape=(n, n))
        ncomp, labels = connected_components(self.csr, directed=False)
        self.component = labels
        self.component_size = np.bincount(labels, minlength=ncomp)
        self._trees: dict[bool, tuple[shapely.STRtree, np.ndarray]] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(cls, edges: gpd.GeoDataFrame, *, length_col: str | None = None) -> WalkNetwork:
        """Build from street edges with ``u``, ``v`` (node ids) and LineString geometry.

        The frame must be in a metric CRS. A ``ground`` column (as written by
        :func:`lifecircle.geo.osm.load_osm`) marks bridges and tunnels; reciprocal copies of
        the same edge (u-v and v-u with one geometry) are kept once. Geometries running from
        ``v`` to ``u`` are reversed.
        """
        if edges.crs is None or not edges.crs.is_projected:
            raise ValueError("project the edges to a metric CRS first (StudyArea does this)")
        geoms = edges.geometry.to_numpy()
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        edges = edges.loc[keep]
        geoms = geoms[keep]
        start = shapely.get_coordinates(shapely.get_point(geoms, 0))
        end = shapely.get_coordinates(shapely.get_point(geoms, -1))
        if "u" in edges.columns and "v" in edges.columns:
            raw_u = edges["u"].to_numpy()
            raw_v = edges["v"].to_numpy()
        else:  # plain lines: lines meet where their ends share coordinates (to the cm)
            ends = np.round(np.concatenate([start, end]), 2)
            _, ids = np.unique(ends, axis=0, return_inverse=True)
            raw_u, raw_v = ids[: len(geoms)], ids[len(geoms) :]
        node_ids, inverse = np.unique(np.concatenate([raw_u, raw_v]), return_inverse=True)
        u, v = inverse[: len(raw_u)], inverse[len(raw_u) :]
        length = (
            edges[length_col].to_numpy(dtype=float)
            if length_col
            else shapely.length(geoms).astype(float)
        )
        # Each node's position is the end point most of its edges agree on; a geometry
        # whose start lies at its v node rather than its u node is reversed.
        votes = pd.DataFrame(
            {
                "node": np.concatenate([u, v]),
                "x": np.concatenate([start[:, 0], end[:, 0]]),
                "y": np.concatenate([start[:, 1], end[:, 1]]),
            }
        )
        votes["n"] = 1
        tally = votes.groupby(["node", votes["x"].round(2), votes["y"].round(2)], sort=False)[
            "n"
        ].sum()
        best = tally.reset_index(level=[1, 2]).sort_values("n", ascending=False)
        best = best[~best.index.duplicated(keep="first")].sort_index()
        node_xy = best[["x", "y"]].to_numpy()
        votes_for = best["n"].to_numpy()
        # orient by the better-attested end: a dead end's only vote may come from the
        # very edge whose direction is in doubt
        by_u = votes_for[u] >= votes_for[v]
        ref = np.where(by_u[:, None], node_xy[u], node_xy[v])
        d_start = np.hypot(*(start - ref).T)
        d_end = np.hypot(*(end - ref).T)
        flip = np.where(by_u, d_start > d_end, d_end > d_start)
        if flip.any():
            geoms = geoms.copy()
            geoms[flip] = shapely.reverse(geoms[flip])
        # drop reciprocal duplicates: same ends, same length, same middle point
        mid = shapely.get_coordinates(shapely.line_interpolate_point(geoms, 0.5, normalized=True))
        key = pd.DataFrame(
            {
                "a": np.minimum(u, v),
                "b": np.maximum(u, v),
                "len": np.round(length, 2),
                "x": np.round(mid[:, 0], 1),
                "y": np.round(mid[:, 1], 1),
            }
        )
        dup = key.duplicated().to_numpy()
        sel = ~dup
        ground = edges["ground"].to_numpy(dtype=bool) if "ground" in edges.columns else None
        names = edges["name"].to_numpy(dtype=object) if "name" in edges.columns else None
        return cls(
            u[sel],
            v[sel],
            geoms[sel],
            crs=edges.crs,
            node_ids=node_ids,
            length=length[sel],
            ground=None if ground is None else ground[sel],
            names=None if names is None else names[sel],
        )

    @classmethod
    def from_graph(cls, G: Any, *, crs: Any = None, length_attr: str | None = None) -> WalkNetwork:
        """Build from a networkx graph made by osmnx or pyrosm.

        Node positions come from the ``x`` / ``y`` node attributes, edge shapes from the
        ``geometry`` edge attribute (a straight line when absent). A graph in degrees is
        projected to its UTM zone. OSM ``bridge``, ``tunnel``, ``layer`` and ``level`` edge
        attributes mark edges that are not at ground level.
        """
        from lifecircle.geo.osm import is_ground_level

        graph_crs = CRS.from_user_input(crs or G.graph.get("crs", "EPSG:4326"))
        xy = {n: (float(d["x"]), float(d["y"])) for n, d in G.nodes(data=True)}
        rows = []
        for a, b, d in G.edges(data=True):
            geom = d.get("geometry")
            if geom is None:
                geom = shapely.LineString([xy[a], xy[b]])
            elif shapely.get_point(geom, 0).distance(shapely.Point(xy[a])) > shapely.get_point(
                geom, -1
            ).distance(shapely.Point(xy[a])):
                geom = shapely.reverse(geom)
            ground = is_ground_level(
                d.get("bridge"), d.get("tunnel"), d.get("layer"), d.get("level"), d.get("highway")
            )
            name = d.get("name")
            rows.append(
                {
                    "u": a,
                    "v": b,
                    "geometry": geom,
                    "ground": ground,
                    "name": name[0] if isinstance(name, list) else name,
                    "length": d.get(length_attr) if length_attr else np.nan,
                }
            )
        frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=graph_crs)
        if not graph_crs.is_projected:
            frame = frame.to_crs(frame.estimate_utm_crs())
        # node ids may be any hashable: map non-integers to integers in graph order
        if not all(isinstance(n, int | np.integer) for n in xy):
            index = {n: i for i, n in enumerate(xy)}
            frame["u"] = frame["u"].map(index)
            frame["v"] = frame["v"].map(index)
        return cls.from_edges(frame, length_col="length" if length_attr else None)

    # ------------------------------------------------------------------ basics
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        """Number of (undirected) edges."""
        return len(self.u)

    def __repr__(self) -> str:
        return (
            f"WalkNetwork({self.n_nodes} nodes, {self.n_edges} edges, "
            f"{len(self.component_size)} pieces, crs={self.crs.to_string()})"
        )

    def edges_frame(self) -> gpd.GeoDataFrame:
        """The edges as a GeoDataFrame (``u``, ``v``, ``length``, ``ground``, ``name``)."""
        return gpd.GeoDataFrame(
            {
                "u": self.node_ids[self.u],
                "v": self.node_ids[self.v],
                "length": self.length,
                "ground": self.ground,
                "name": self.names,
            },
            geometry=self.geometry,
            crs=self.crs,
        )

    # ------------------------------------------------------------------ snapping
    def _tree(self, ground_only: bool) -> tuple[shapely.STRtree, np.ndarray]:
        if ground_only not in self._trees:
            idx = np.flatnonzero(self.ground) if ground_only else np.arange(self.n_edges)
            self._trees[ground_only] = (shapely.STRtree(self.geometry[idx]), idx)
        return self._trees[ground_only]

    def snap(
        self, points: Any, *, max_snap_m: float = DEFAULT_MAX_SNAP_M, ground_only: bool = True
    ) -> Snap:
        """Snap points to their nearest edge.

        Parameters
        ----------
        points
            Shapely points (array, GeoSeries or GeoDataFrame) in the network's CRS, or an
            ``(n, 2)`` array of coordinates.
        max_snap_m
            Points farther than this from every edge are not snapped (edge -1).
        ground_only
            Snap to ground-level edges; a point falls back to a bridge or tunnel only when
            no ground-level edge is within ``max_snap_m``.
        """
        pts = _as_points(points, self.crs)
        n = len(pts)
        edge = np.full(n, -1, dtype=np.int64)
        dist = np.full(n, np.nan)
        valid = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
        passes = [True, False] if ground_only and self.ground.any() else [False]
        for ground in passes:
            todo = np.flatnonzero(valid & (edge < 0))
            if len(todo) == 0:
                break
            tree, idx = self._tree(ground)
            (i, j), d = tree.query_nearest(
                pts[todo], max_distance=max_snap_m, return_distance=True, all_matches=False
            )
            edge[todo[i]] = idx[j]
            dist[todo[i]] = d
        t = np.zeros(n)
        ok = edge >= 0
        if ok.any():
            t_ok = shapely.line_locate_point(self.geometry[edge[ok]], pts[ok], normalized=True)
            t[ok] = np.clip(np.nan_to_num(t_ok, nan=0.0), 0.0, 1.0)
        return Snap(edge, t, dist)

    def snapped_points(self, snap: Snap) -> np.ndarray:
        """The points on the edges where ``snap`` joins the network (None where not snapped)."""
        out = np.full(len(snap), None, dtype=object)
        ok = snap.ok
        out[ok] = shapely.line_interpolate_point(
            self.geometry[snap.edge[ok]], snap.t[ok], normalized=True
        )
        return out

    # ------------------------------------------------------------------ searches
    def _with_sources(self, sources: Snap, idx: np.ndarray) -> sp.csr_matrix:
        """The CSR matrix plus one virtual node per source, joined to its edge's two ends."""
        n, m = self.n_nodes, len(idx)
        e = sources.edge[idx]
        t = sources.t[idx]
        a = sources.access_m[idx]
        L = self.length[e]
        wu = a + t * L
        wv = a + (1.0 - t) * L
        loop = self.u[e] == self.v[e]
        wu[loop] = wv[loop] = np.minimum(wu[loop], wv[loop])
        cols = np.empty(2 * m, dtype=self._indices.dtype)
        cols[0::2], cols[1::2] = self.u[e], self.v[e]
        data = np.empty(2 * m)
        data[0::2], data[1::2] = wu, wv
        indptr = np.concatenate(
            [self._indptr, self._indptr[-1] + 2 * np.arange(1, m + 1, dtype=self._indptr.dtype)]
        )
        return sp.csr_matrix(
            (np.concatenate([self._data, data]), np.concatenate([self._indices, cols]), indptr),
            shape=(n + m, n + m),
        )

    def reach(self, sources: Snap, *, limit_m: float = np.inf) -> NodeReach:
        """One multi-source search: every node's distance to its nearest source.

        Parameters
        ----------
        sources
            Snapped sources; unsnapped ones are ignored.
        limit_m
            Stop at this distance (nodes farther away get inf).
        """
        n = self.n_nodes
        valid = np.flatnonzero(sources.ok)
        if len(valid) == 0:
            return NodeReach(np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
        A = self._with_sources(sources, valid)
        virtual = n + np.arange(len(valid))
        dist, _pred, origin = dijkstra(
            A,
            directed=True,
            indices=virtual,
            min_only=True,
            limit=limit_m,
            return_predecessors=True,
        )
        origin = origin[:n]
        src = np.full(n, -1, dtype=np.int64)
        hit = origin >= n
        src[hit] = valid[origin[hit] - n]
        return NodeReach(dist[:n], src)

    def nearest(
        self, reach: NodeReach, sources: Snap, targets: Snap, *, limit_m: float = np.inf
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each target's walking distance to its nearest source, and which source.

        ``reach`` must come from :meth:`reach` with the same ``sources`` and a limit at
        least ``limit_m``. Targets on the same edge as a source also get the direct walk
        along the edge.

        Returns
        -------
        (distance, source)
            Distances in metres (inf when none is within ``limit_m`` or the target is not
            snapped) and source indices (-1 for none).
        """
        nt = len(targets)
        out = np.full(nt, np.inf)
        which = np.full(nt, -1, dtype=np.int64)
        ok = np.flatnonzero(targets.ok)
        if len(ok):
            e = targets.edge[ok]
            L = self.length[e]
            t = targets.t[ok]
            du = reach.dist[self.u[e]] + t * L
            dv = reach.dist[self.v[e]] + (1.0 - t) * L
            via_u = du <= dv
            out[ok] = targets.access_m[ok] + np.where(via_u, du, dv)
            which[ok] = np.where(via_u, reach.source[self.u[e]], reach.source[self.v[e]])
            si, tj, direct = self._same_edge(sources, targets)
            if len(si):
                order = np.lexsort((direct, tj))
                si, tj, direct = si[order], tj[order], direct[order]
                first = np.ones(len(tj), bool)
                first[1:] = tj[1:] != tj[:-1]
                si, tj, direct = si[first], tj[first], direct[first]
                better = direct < out[tj]
                out[tj[better]] = direct[better]
                which[tj[better]] = si[better]
        beyond = ~(out <= limit_m)
        out[beyond] = np.inf
        which[beyond] = -1
        return out, which

    def distances(
        self, sources: Snap, targets: Snap, *, limit_m: float = np.inf
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest-source distance and index for every target (one multi-source search)."""
        reach = self.reach(sources, limit_m=limit_m)
        return self.nearest(reach, sources, targets, limit_m=limit_m)

    def _same_edge(self, sources: Snap, targets: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (source, target) pairs on the same edge, with their direct walk along it."""
        s_ok = np.flatnonzero(sources.ok)
        if len(s_ok) == 0 or not targets.ok.any():
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        order = s_ok[np.argsort(sources.edge[s_ok], kind="stable")]
        sorted_edges = sources.edge[order]
        te = targets.edge
        lo = np.searchsorted(sorted_edges, te, side="left")
        hi = np.searchsorted(sorted_edges, te, side="right")
        count = np.where(te >= 0, hi - lo, 0)
        total = int(count.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        tj = np.repeat(np.arange(len(te)), count)
        offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        si = order[np.repeat(lo, count) + offset]
        L = self.length[te[tj]]
        direct = (
            sources.access_m[si] + targets.access_m[tj] + np.abs(sources.t[si] - targets.t[tj]) * L
        )
        return si, tj, direct

    def reach_each(
        self, sources: Snap, *, limit_m: float, max_bytes: float = 256e6
    ) -> Iterator[tuple[np.ndarray, sp.csr_matrix]]:
        """Bounded searches from each source separately, a chunk of sources at a time.

        Yields
        ------
        (source indices, matrix)
            A chunk of source indices and a sparse ``chunk x nodes`` matrix of the node
            distances within ``limit_m`` (zeros stored explicitly).
        """
        valid = np.flatnonzero(sources.ok)
        n = self.n_nodes
        chunk = int(max(1, min(len(valid), max_bytes // (8 * (n + 1) * 2)))) if len(valid) else 1
        for start in range(0, len(valid), chunk):
            idx = valid[start : start + chunk]
            A = self._with_sources(sources, idx)
            D = dijkstra(A, directed=True, indices=n + np.arange(len(idx)), limit=limit_m)[:, :n]
            r, c = np.nonzero(np.isfinite(D))
            yield idx, sp.csr_matrix((D[r, c], (r, c)), shape=(len(idx), n))

    def pair_distances(
        self, sources: Snap, targets: Snap, *, limit_m: float, max_bytes: float = 256e6
    ) -> PairDistances:
        """Every (source, target) pair within ``limit_m`` walking, with its exact distance.

        One bounded search per source (in chunks); only pairs within the limit are kept,
        so memory follows the number of pairs, not sources x targets.
        """
        n = self.n_nodes
        t_ok = np.flatnonzero(targets.ok)
        e = targets.edge[t_ok]
        L = self.length[e]
        a = targets.access_m[t_ok]
        # node -> attached targets, with the walk from the node to the target
        att_node = np.concatenate([self.u[e], self.v[e]])
        att_target = np.concatenate([t_ok, t_ok])
        att_cost = np.concatenate([a + targets.t[t_ok] * L, a + (1.0 - targets.t[t_ok]) * L])
        order = np.argsort(att_node, kind="stable")
        att_node, att_target, att_cost = att_node[order], att_target[order], att_cost[order]
        att_ptr = np.searchsorted(att_node, np.arange(n + 1))
        parts_s, parts_t, parts_d = [], [], []
        for idx, M in self.reach_each(sources, limit_m=limit_m, max_bytes=max_bytes):
            rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
            nodes = M.indices
            d0 = M.data
            cnt = att_ptr[nodes + 1] - att_ptr[nodes]
            total = int(cnt.sum())
            if total:
                pos = np.repeat(att_ptr[nodes], cnt) + (
                    np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                )
                s = idx[np.repeat(rows, cnt)]
                tt = att_target[pos]
                dd = np.repeat(d0, cnt) + att_cost[pos]
                keep = dd <= limit_m
                parts_s.append(s[keep])
                parts_t.append(tt[keep])
                parts_d.append(dd[keep])
        si, tj, direct = self._same_edge(sources, targets)
        keep = direct <= limit_m
        parts_s.append(si[keep])
        parts_t.append(tj[keep])
        parts_d.append(direct[keep])
        s = np.concatenate(parts_s).astype(np.int64)
        tt = np.concatenate(parts_t).astype(np.int64)
        dd = np.concatenate(parts_d)
        if len(s):
            order = np.lexsort((dd, tt, s))
            s, tt, dd = s[order], tt[order], dd[order]
            first = np.ones(len(s), bool)
            first[1:] = (s[1:] != s[:-1]) | (tt[1:] != tt[:-1])
            s, tt, dd = s[first], tt[first], dd[first]
        return PairDistances(s, tt, dd, len(sources), len(targets))


def _as_points(points: Any, crs: CRS) -> np.ndarray:
    if isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        if points.crs is not None and CRS.from_user_input(points.crs) != crs:
            points = points.to_crs(crs)
        return np.asarray(
            points.geometry.to_numpy()
            if isinstance(points, gpd.GeoDataFrame)
            else points.to_numpy(),
            dtype=object,
        )
    arr = np.asarray(points)
    if arr.dtype != object and arr.ndim == 2 and arr.shape[1] == 2:
        return shapely.points(arr)
    return np.asarray(arr, dtype=object)
