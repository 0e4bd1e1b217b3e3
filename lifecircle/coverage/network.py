"""The walk network as compressed arrays, with exact point-to-point walking distances.

A :class:`WalkNetwork` is built once from street edges (a GeoDataFrame or a networkx
graph). Every edge is walkable both ways and keeps its geometry for snapping and
catchments. For the searches, runs of edges through nodes of degree two (a street between
two junctions, drawn with many OSM nodes) are contracted into one *chain*: shortest paths
run on the junctions only, in C (scipy.sparse.csgraph), and every point keeps its exact
position along its chain, so nothing is approximated.

Points (residents, facilities, candidate sites) snap to the nearest *edge* at ground level
(:mod:`lifecircle.coverage.snapping`): a point's walk is the straight access leg plus the
part of the street walked. Searches start from the sources' exact positions, through one
virtual node per source joined to its chain's two ends; two points on the same chain also
get the direct walk between them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import connected_components, dijkstra

from lifecircle.coverage.snapping import EdgeIndex, Snap, as_points
from lifecircle.geo.osm import is_ground_level
from lifecircle.params import DEFAULT_MAX_SNAP_M, WalkProfile

__all__ = [
    "DEFAULT_MAX_SNAP_M",
    "EDGE_KINDS",
    "Ends",
    "Located",
    "NodeReach",
    "PairDistances",
    "Search",
    "Snap",
    "WalkNetwork",
    "edge_kinds",
]

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Located:
    """Points located on the network's chains, ready for searches.

    :meth:`WalkNetwork.locate` turns a :class:`Snap` into this once, so that a set of
    points searched for many times (residents, for every category) is located only once.
    """

    chain: np.ndarray
    """The chain each point is on (-1: not snapped)."""
    s: np.ndarray
    """Distance along the chain from its ``a`` end."""
    access: np.ndarray
    """The straight access leg."""

    def __len__(self) -> int:
        return len(self.chain)


Points = Snap | Located


@dataclass(frozen=True)
class Ends:
    """Located points with their chains' ends looked up once, for the walks of many
    searches to the same points (:meth:`Search.walks`; the catchments' lattice, asked by
    every category)."""

    located: Located
    a: np.ndarray
    """The junction at each point's chain's ``a`` end (0 where not located)."""
    b: np.ndarray
    """The junction at its ``b`` end (0 where not located)."""
    to_a: np.ndarray
    """The walk along the chain to ``a`` (infinite where not located)."""
    to_b: np.ndarray
    """The walk along the chain to ``b`` (infinite where not located)."""

    def __len__(self) -> int:
        return len(self.a)


EDGE_KINDS: tuple[str, ...] = ("other", "steps", "footbridge", "underpass")
"""The kinds of way a walking profile may weigh (codes: positions in this tuple)."""

_FOOT_WAYS = {"footway", "path", "pedestrian", "cycleway", "bridleway", "corridor"}


def _tag(values: Any, n: int) -> np.ndarray:
    """A tag column as lower-case text ("" where absent)."""
    if values is None:
        return np.full(n, "", dtype=object)
    out = pd.Series(values, dtype=object).fillna("").astype(str).str.lower()
    return np.asarray(out.to_numpy(dtype=object))


def edge_kinds(edges: pd.DataFrame) -> np.ndarray:
    """The kind of each edge (:data:`EDGE_KINDS` codes) from its OSM tags.

    ``highway=steps`` is steps; a footway, path or pedestrian way on a bridge is a
    footbridge; one in a tunnel (not a building passage) or below ground (``layer`` < 0)
    is an underpass. Edges without the tag columns are "other".

    Examples
    --------
    >>> frame = pd.DataFrame({"highway": ["steps", "footway", "footway", "residential"],
    ...                       "bridge": [None, "yes", None, "yes"],
    ...                       "layer": [None, None, "-1", None]})
    >>> edge_kinds(frame).tolist()
    [1, 2, 3, 0]
    """
    n = len(edges)
    col = edges.get
    highway = _tag(col("highway"), n)
    bridge = _tag(col("bridge"), n)
    tunnel = _tag(col("tunnel"), n)
    layer = pd.to_numeric(
        pd.Series(_tag(col("layer"), n)).str.split(";").str[0], errors="coerce"
    ).to_numpy()
    foot = np.isin(highway, list(_FOOT_WAYS))
    on_bridge = ~np.isin(bridge, ["", "no", "0", "false"])
    in_tunnel = ~np.isin(tunnel, ["", "no", "0", "false", "building_passage"]) | (layer < 0)
    kind = np.zeros(n, dtype=np.int8)
    kind[foot & in_tunnel] = 3
    kind[foot & on_bridge] = 2
    kind[highway == "steps"] = 1
    return kind


LOCAL_SEARCH_NODES = 50_000
"""Above this many search nodes, bounded per-source searches run on local subgraphs."""


class WalkNetwork:
    """A walkable street network as compressed arrays, with edge geometries.

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

    Attributes
    ----------
    edge_row
        The row of the source frame each edge came from (0..m-1 unless :meth:`from_edges`
        built it), so that per-row data (a compound) follows the edges.
    kind
        Each edge's kind of way (:data:`EDGE_KINDS` codes), for walking profiles.
    access_factor
        What a metre of straight access leg (a point to its street) costs: 1 but on a
        walking profile's network (:meth:`profiled`).
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
        self.edge_row = np.arange(len(self.u), dtype=np.int64)
        self.kind = np.zeros(len(self.u), dtype=np.int8)
        self.access_factor = 1.0
        self.derived: dict[object, Any] = {}  # built from this network once, kept with it
        self._contract()
        self._indexes: dict[tuple[bool, bool], EdgeIndex] = {}

    # ------------------------------------------------------------------ contraction
    def _contract(self) -> None:
        """Chains of edges through degree-2 nodes, and the junction graph between them.

        Vectorised: each half-edge (an edge walked one way) points to the half-edge that
        arrives at its start node when that node is interior (degree two); pointer jumping
        then gives every half-edge the first half-edge of its chain and its distance from
        it. Rings of degree-two nodes only get one junction each first.
        """
        junction = self._pieces()
        self._chains(junction)
        self._search_graph()

    def _pieces(self) -> np.ndarray:
        """Set the network's pieces (``component``, ``component_size``); return the
        junction mask: nodes of degree other than two, and one node of each ring."""
        n, m = self.n_nodes, self.n_edges
        u, v = self.u, self.v
        deg = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
        # components of the full graph: pieces of the network, and rings to cut
        full = sp.csr_matrix((np.ones(m), (u, v)), shape=(n, n))
        ncomp, label = connected_components(full, directed=False)
        odd = np.bincount(label, weights=(deg != 2).astype(float), minlength=ncomp) > 0
        junction = deg != 2
        ring_nodes = np.flatnonzero(~odd[label])
        if len(ring_nodes):
            first = np.full(ncomp, -1, dtype=np.int64)
            first[label[ring_nodes][::-1]] = ring_nodes[::-1]
            junction[first[first >= 0]] = True
        self.component = label
        self.component_size = np.bincount(label, minlength=ncomp)
        return np.asarray(junction)

    def _chains(self, junction: np.ndarray) -> None:
        """Set the chains between junctions: each edge's chain, direction and offset along
        it, the chains' lengths and end junctions, and interior nodes' positions."""
        n, m = self.n_nodes, self.n_edges
        u, v, L = self.u, self.v, self.length
        # half-edge h = 2e (u -> v) or 2e + 1 (v -> u)
        h_start = np.empty(2 * m, dtype=np.int64)
        h_start[0::2], h_start[1::2] = u, v
        h_end = np.empty(2 * m, dtype=np.int64)
        h_end[0::2], h_end[1::2] = v, u
        h_len = np.repeat(L, 2)
        # the half-edge arriving at each interior node, per incident edge
        arrive = np.argsort(h_end, kind="stable")  # half-edges grouped by end node
        ptr = np.searchsorted(h_end[arrive], np.arange(n + 1))
        pred = np.full(2 * m, -1, dtype=np.int64)
        inner = ~junction[h_start]
        hs = np.flatnonzero(inner)
        node = h_start[hs]
        a0, a1 = arrive[ptr[node]], arrive[ptr[node] + 1]  # the two half-edges ending there
        # the arriving half-edge on the *other* edge (not h's own edge walked back)
        pred[hs] = np.where(a0 // 2 == hs // 2, a1, a0)
        # pointer jumping: nxt -> chain start, off -> distance from it
        nxt = np.where(pred >= 0, pred, np.arange(2 * m))
        off = np.where(pred >= 0, h_len[np.maximum(pred, 0)], 0.0)
        while True:  # roots point at themselves with offset 0, so adding theirs is harmless
            follow = nxt[nxt]
            if np.array_equal(follow, nxt):
                break
            off = off + off[nxt]
            nxt = follow
        root = nxt
        # one walking direction per chain: the one whose first half-edge has the lower id
        rev_root = root[np.arange(2 * m) ^ 1]
        canon = np.flatnonzero(root < rev_root)
        e_of = canon // 2
        chain_roots, chain_id = np.unique(root[canon], return_inverse=True)
        self.edge_chain = np.empty(m, dtype=np.int64)
        self.edge_chain[e_of] = chain_id
        self.edge_forward = np.empty(m, dtype=bool)
        self.edge_forward[e_of] = (canon % 2) == 0
        self.edge_offset = np.empty(m)
        self.edge_offset[e_of] = off[canon]
        chain_len = np.zeros(len(chain_roots))
        np.add.at(chain_len, chain_id, h_len[canon])
        self.chain_len = chain_len
        ends = np.zeros(len(chain_roots), dtype=np.int64)
        ends[chain_id] = rev_root[canon]  # the reversed chain starts at this chain's b end
        jid = np.full(n, -1, dtype=np.int64)
        self.junctions = np.flatnonzero(junction)
        jid[self.junctions] = np.arange(len(self.junctions))
        self.chain_a = jid[h_start[chain_roots]]
        self.chain_b = jid[h_start[ends]]
        self.node_chain = np.full(n, -1, dtype=np.int64)
        self.node_pos = np.zeros(n)
        inner_end = ~junction[h_end[canon]]
        self.node_chain[h_end[canon][inner_end]] = chain_id[inner_end]
        self.node_pos[h_end[canon][inner_end]] = (off[canon] + h_len[canon])[inner_end]

    def _search_graph(self) -> None:
        """Set the junction graph the searches run on (``csr``, ``search_id``)."""
        # Dead ends (junctions at the end of one chain only) lead nowhere: searches skip
        # them, and points on their chain are reached through the chain's other end.
        nj = len(self.junctions)
        ends = np.bincount(self.chain_a, minlength=nj) + np.bincount(self.chain_b, minlength=nj)
        dead = ends == 1
        both = dead[self.chain_a] & dead[self.chain_b]  # a lone street: keep one end
        dead[self.chain_a[both]] = False
        self.search_id = np.full(nj, -1, dtype=np.int64)
        self.search_id[~dead] = np.arange(int((~dead).sum()))
        ns = int((~dead).sum())
        sa, sb = self.search_id[self.chain_a], self.search_id[self.chain_b]
        keep = (sa != sb) & (sa >= 0) & (sb >= 0)
        rows = np.concatenate([sa[keep], sb[keep]])
        cols = np.concatenate([sb[keep], sa[keep]])
        w = np.concatenate([self.chain_len[keep], self.chain_len[keep]])
        order = np.lexsort((w, cols, rows))  # keep the shortest of parallel chains
        rows, cols, w = rows[order], cols[order], w[order]
        first_pair = np.ones(len(rows), dtype=bool)
        first_pair[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, w = rows[first_pair], cols[first_pair], w[first_pair]
        itype = np.int32 if ns < 2**30 else np.int64
        self._indptr = np.searchsorted(rows, np.arange(ns + 1)).astype(itype)
        self._indices = cols.astype(itype)
        self._data = w.astype(float)
        self.csr = sp.csr_matrix((self._data, self._indices, self._indptr), shape=(ns, ns))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(cls, edges: gpd.GeoDataFrame, *, length_col: str | None = None) -> WalkNetwork:
        """Build from street edges with ``u``, ``v`` (node ids) and LineString geometry.

        The frame must be in a metric CRS. A ``ground`` column (as written by
        :func:`lifecircle.geo.osm.load_osm`) marks bridges and tunnels; reciprocal copies of
        the same edge (u-v and v-u with one geometry) are kept once; geometries running
        from ``v`` to ``u`` are reversed. Without ``u`` and ``v``, lines meet where their
        ends share coordinates (to the centimetre).
        """
        if edges.crs is None or not edges.crs.is_projected:
            raise ValueError("project the edges to a metric CRS first (StudyArea does this)")
        geoms = edges.geometry.to_numpy()
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        edges = edges.loc[keep]
        geoms = geoms[keep]
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        bounds = np.searchsorted(owner, np.arange(len(geoms) + 1))
        start, end = coords[bounds[:-1]], coords[bounds[1:] - 1]
        if "u" in edges.columns and "v" in edges.columns:
            raw_u = edges["u"].to_numpy()
            raw_v = edges["v"].to_numpy()
        else:
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
        flip = _reversed(u, v, start, end, len(node_ids))
        if flip.any():
            geoms = geoms.copy()
            geoms[flip] = shapely.reverse(geoms[flip])
        # reciprocal copies: same ends, same length, same vertices (their sum ignores direction)
        sums = np.add.reduceat(coords, bounds[:-1], axis=0)
        key = pd.DataFrame(
            {
                "a": np.minimum(u, v),
                "b": np.maximum(u, v),
                "len": np.round(length, 2),
                "n": np.diff(bounds),
                "x": np.round(sums[:, 0], 1),
                "y": np.round(sums[:, 1], 1),
            }
        )
        sel = ~key.duplicated().to_numpy()
        ground = edges["ground"].to_numpy(dtype=bool) if "ground" in edges.columns else None
        names = edges["name"].to_numpy(dtype=object) if "name" in edges.columns else None
        net = cls(
            u[sel],
            v[sel],
            geoms[sel],
            crs=edges.crs,
            node_ids=node_ids,
            length=length[sel],
            ground=None if ground is None else ground[sel],
            names=None if names is None else names[sel],
        )
        net.edge_row = np.flatnonzero(keep)[sel]
        net.kind = edge_kinds(edges)[sel]
        return net

    @classmethod
    def from_graph(cls, G: Any, *, crs: Any = None, length_attr: str | None = None) -> WalkNetwork:
        """Build from a networkx graph made by osmnx or pyrosm.

        Node positions come from the ``x`` / ``y`` node attributes, edge shapes from the
        ``geometry`` edge attribute (a straight line when absent). A graph in degrees is
        projected to its UTM zone. OSM ``bridge``, ``tunnel``, ``layer`` and ``level`` edge
        attributes mark edges that are not at ground level.

        Parameters
        ----------
        G
            The graph (a MultiGraph or Graph; edges are walkable both ways).
        crs
            The CRS of the node coordinates (default: the graph's ``crs``, else WGS84).
        length_attr
            Edge attribute holding lengths in metres (default: the geometries' lengths).

        Returns
        -------
        WalkNetwork
            The network, in a metric CRS.
        """
        graph_crs = CRS.from_user_input(crs or G.graph.get("crs", "EPSG:4326"))
        xy = {n: (float(d["x"]), float(d["y"])) for n, d in G.nodes(data=True)}
        rows = []
        for a, b, d in G.edges(data=True):
            geom = d.get("geometry")
            if geom is None:
                geom = shapely.LineString([xy[a], xy[b]])
            name = d.get("name")
            rows.append(
                {
                    "u": a,
                    "v": b,
                    "geometry": geom,
                    "ground": is_ground_level(
                        d.get("bridge"),
                        d.get("tunnel"),
                        d.get("layer"),
                        d.get("level"),
                        d.get("highway"),
                    ),
                    "name": name[0] if isinstance(name, list) else name,
                    "length": d.get(length_attr) if length_attr else np.nan,
                    **{k: _first(d.get(k)) for k in ("highway", "bridge", "tunnel", "layer")},
                }
            )
        frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=graph_crs)
        if not graph_crs.is_projected:
            frame = frame.to_crs(frame.estimate_utm_crs())
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

    @property
    def n_junctions(self) -> int:
        """Nodes the searches run on (ends of chains)."""
        return len(self.junctions)

    def __repr__(self) -> str:
        return (
            f"WalkNetwork({self.n_nodes} nodes, {self.n_edges} edges, "
            f"{self.n_junctions} junctions, "
            f"{len(self.component_size)} pieces, crs={self.crs.to_string()})"
        )

    def use_piece_sizes(self, node_sizes: np.ndarray) -> None:
        """Take each piece's size from a larger network this one was cut from.

        ``node_sizes`` gives, per node, the number of nodes of its piece in the larger
        network: a piece the cut left small is then not mistaken for an island.
        """
        sizes = np.asarray(node_sizes, dtype=np.int64)
        per_piece = np.zeros(len(self.component_size), dtype=np.int64)
        np.maximum.at(per_piece, self.component, sizes)
        self.component_size = np.maximum(per_piece, self.component_size)
        self._indexes.clear()

    # ------------------------------------------------------------------ profiles
    def edge_factors(self, profile: WalkProfile, speed_kmh: float) -> np.ndarray | None:
        """What a metre of each edge costs on a walking profile (None: 1 everywhere).

        Parameters
        ----------
        profile
            The walking profile.
        speed_kmh
            The reference speed (the plan's), at which a metre costs a metre.

        Returns
        -------
        numpy.ndarray or None
            Per edge: the kind's factor times the speed ratio; None for a neutral profile.
        """
        if profile.is_neutral(speed_kmh):
            return None
        by_kind = np.array(
            [1.0, profile.steps_factor, profile.footbridge_factor, profile.underpass_factor]
        )
        return np.asarray(by_kind[self.kind] * profile.speed_ratio(speed_kmh))

    def profiled(self, profile: WalkProfile, speed_kmh: float) -> WalkNetwork:
        """This network as walked on ``profile``: the same edges, geometries and snaps,
        with every length in effective walking metres (:class:`WalkProfile`).

        The network itself for a neutral profile (no copy); otherwise built once per
        profile and kept with this network. A snap made on this network is valid on the
        profiled one (same edges): the part of the edge walked and the access leg are
        scaled when it is located there.
        """
        factors = self.edge_factors(profile, speed_kmh)
        if factors is None:
            return self
        key = ("profile", profile, float(speed_kmh))
        hit = self.derived.get(key)
        if isinstance(hit, WalkNetwork):
            return hit
        net = WalkNetwork(
            self.u,
            self.v,
            self.geometry,
            crs=self.crs,
            node_ids=self.node_ids,
            length=self.length * factors,
            ground=self.ground,
            names=self.names,
        )
        net.access_factor = self.access_factor * profile.speed_ratio(speed_kmh)
        net.edge_row, net.kind = self.edge_row, self.kind
        net.component_size = self.component_size
        net._indexes = self._indexes  # snapping is on the geometries: the same indexes
        self.derived[key] = net
        return net

    # ------------------------------------------------------------------ snapping
    SMALL_PIECE_NODES = 50

    def _in_small_piece(self) -> np.ndarray:
        """Edges on pieces of the network too small to be more than a mapping gap.

        A piece is small below ``SMALL_PIECE_NODES`` nodes and a tenth of the largest
        piece (so that a small network as a whole is never small).
        """
        size = self.component_size[self.component[self.u]]
        largest = int(self.component_size.max()) if len(self.component_size) else 0
        return np.asarray(size < min(self.SMALL_PIECE_NODES, largest / 10.0))

    def _index(self, tier: tuple[bool, bool]) -> EdgeIndex:
        """The snapping index of one tier: (ground level only, connected pieces only)."""
        if tier not in self._indexes:
            ground, connected = tier
            mask = np.ones(self.n_edges, dtype=bool)
            if ground:
                mask &= self.ground
            if connected:
                mask &= ~self._in_small_piece()
            idx = np.flatnonzero(mask)
            self._indexes[tier] = EdgeIndex(self.geometry[idx], idx)
        return self._indexes[tier]

    def snap(
        self, points: Any, *, max_snap_m: float = DEFAULT_MAX_SNAP_M, ground_only: bool = True
    ) -> Snap:
        """Snap points to their nearest edge (exactly; ties go to the lower segment).

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

        Points join the connected network before small disconnected pieces (fewer than
        ``SMALL_PIECE_NODES`` nodes and a tenth of the largest piece: usually paths drawn
        without their link to the street): a point joins such a piece only when nothing
        larger is within ``max_snap_m``, and then reaches nothing off it.

        Returns
        -------
        Snap
            The edge, position along it and access leg of every point.
        """
        arr = (
            np.asarray(points) if not isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries) else None
        )
        if arr is not None and arr.dtype != object and arr.ndim == 2 and arr.shape[1] == 2:
            xy = arr.astype(float)  # coordinates already
            valid = np.isfinite(xy).all(axis=1)
        else:
            pts = as_points(points, self.crs)
            valid = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
            xy = np.full((len(pts), 2), np.nan)
            if valid.any():
                xy[valid] = shapely.get_coordinates(pts[valid])
        n = len(xy)
        edge = np.full(n, -1, dtype=np.int64)
        t = np.zeros(n)
        dist = np.full(n, np.nan)
        # tiers, tried in order: a point joins the first that has an edge within reach
        small = self._in_small_piece()
        if ground_only:
            tiers = [(True, True), (True, False), (False, True), (False, False)]
        else:
            tiers = [(False, True), (False, False)]
        tiers = [
            t for t in tiers if (not t[0] or self.ground.any()) and (not t[1] or small.any())
        ] or [(False, False)]
        for tier in tiers:
            todo = np.flatnonzero(valid & (edge < 0))
            if len(todo) == 0:
                break
            e, tt, d = self._index(tier).nearest(xy[todo], max_snap_m)
            hit = e >= 0
            edge[todo[hit]], t[todo[hit]], dist[todo[hit]] = e[hit], tt[hit], d[hit]
        return Snap(edge, t, dist)

    def snapped_points(self, snap: Snap) -> np.ndarray:
        """The points on the edges where ``snap`` joins the network (None where not snapped)."""
        out = np.full(len(snap), None, dtype=object)
        ok = snap.ok
        out[ok] = shapely.line_interpolate_point(
            self.geometry[snap.edge[ok]], snap.t[ok], normalized=True
        )
        return out

    def locate(self, points: Points) -> Located:
        """Snapped points as positions along chains (chain -1 where not snapped)."""
        if isinstance(points, Located):
            return points
        snap = points
        ok = snap.ok
        e = np.where(ok, snap.edge, 0)
        along = np.where(self.edge_forward[e], snap.t, 1.0 - snap.t) * self.length[e]
        chain = np.where(ok, self.edge_chain[e], -1)
        # offsets are sums in one order, chain lengths in another: keep s inside the chain
        s = np.clip(self.edge_offset[e] + along, 0.0, self.chain_len[self.edge_chain[e]])
        access = snap.access_m if self.access_factor == 1.0 else snap.access_m * self.access_factor
        return Located(chain, s, np.where(ok, access, np.nan))

    def _node_positions(self) -> Located:
        """Every node as a point on a chain (junctions: the start of one of their chains)."""
        n = self.n_nodes
        chain = self.node_chain.copy()
        s = self.node_pos.copy()
        j = self.junctions
        # a junction sits at the a or b end of some chain: find one
        ends = np.concatenate([self.chain_a, self.chain_b])
        which = np.concatenate([np.arange(len(self.chain_a)), np.arange(len(self.chain_b))])
        at_end = np.concatenate([np.zeros(len(self.chain_a)), self.chain_len])
        first = np.full(len(j), -1, dtype=np.int64)
        first[ends[::-1]] = np.arange(len(ends))[::-1]
        has = first >= 0
        chain[j[has]] = which[first[has]]
        s[j[has]] = at_end[first[has]]
        return Located(chain, s, np.zeros(n))

    # ------------------------------------------------------------------ searches
    def _with_sources(
        self, src: Located, idx: np.ndarray, nodes: np.ndarray | None = None
    ) -> sp.csr_matrix:
        """The search graph plus one virtual node per source, joined to its chain's live ends.

        With ``nodes`` (sorted search-node ids holding every source's live ends), only the
        graph between those nodes is used, numbered by their position in ``nodes``.
        """
        m = len(idx)
        c = src.chain[idx]
        a, b = self.search_id[self.chain_a[c]], self.search_id[self.chain_b[c]]
        if nodes is None:
            indptr0, indices0, data0 = self._indptr, self._indices, self._data
            ns = self.csr.shape[0]
        else:
            sub = self.csr[nodes][:, nodes]
            indptr0, indices0, data0 = sub.indptr, sub.indices, sub.data
            ns = len(nodes)
            a = np.where(a >= 0, np.searchsorted(nodes, a), -1)
            b = np.where(b >= 0, np.searchsorted(nodes, b), -1)
        L = self.chain_len[c]
        wa = src.access[idx] + src.s[idx]
        wb = src.access[idx] + (L - src.s[idx])
        loop = self.chain_a[c] == self.chain_b[c]
        wa[loop] = wb[loop] = np.minimum(wa[loop], wb[loop])
        use_b = (b >= 0) & ~loop  # a loop's two ends are one junction: one edge is enough
        count = (a >= 0).astype(np.int64) + use_b
        cols = np.concatenate([a, b])[np.concatenate([a >= 0, use_b])]
        data = np.concatenate([wa, wb])[np.concatenate([a >= 0, use_b])]
        order = np.argsort(
            np.concatenate([np.flatnonzero(a >= 0), np.flatnonzero(use_b)]), kind="stable"
        )
        cols, data = cols[order], data[order]
        indptr = np.concatenate([indptr0, indptr0[-1] + np.cumsum(count).astype(indptr0.dtype)])
        return sp.csr_matrix(
            (
                np.concatenate([data0, data]),
                np.concatenate([indices0, cols.astype(indices0.dtype)]),
                indptr,
            ),
            shape=(ns + m, ns + m),
        )

    @cached_property
    def _search_xy(self) -> np.ndarray:
        """Coordinates of the search graph's nodes."""
        xy = np.full((self.n_nodes, 2), np.nan)
        coords, which = shapely.get_coordinates(self.geometry, return_index=True)
        last = np.flatnonzero(np.r_[which[1:] != which[:-1], True])
        first = np.r_[0, last[:-1] + 1]
        xy[self.u[which[first]]] = coords[first]
        xy[self.v[which[last]]] = coords[last]
        live = self.search_id >= 0
        out = np.empty((self.csr.shape[0], 2))
        out[self.search_id[live]] = xy[self.junctions[live]]
        return out

    def _junction_reach(self, src: Located, limit_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Distance and nearest source of every junction (dead ends get inf)."""
        nj, ns = self.n_junctions, self.csr.shape[0]
        jdist = np.full(nj, np.inf)
        jsrc = np.full(nj, -1, dtype=np.int64)
        valid = np.flatnonzero(src.chain >= 0)
        if len(valid) == 0:
            return jdist, jsrc
        A = self._with_sources(src, valid)
        dist, _pred, origin = dijkstra(
            A,
            directed=True,
            indices=ns + np.arange(len(valid)),
            min_only=True,
            limit=limit_m,
            return_predecessors=True,
        )
        origin = origin[:ns]
        who = np.full(ns, -1, dtype=np.int64)
        hit = origin >= ns
        who[hit] = valid[origin[hit] - ns]
        live = self.search_id >= 0
        jdist[live] = dist[self.search_id[live]]
        jsrc[live] = who[self.search_id[live]]
        return jdist, jsrc

    def _compose(
        self, jdist: np.ndarray, jsrc: np.ndarray, src: Located, tgt: Located, limit_m: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Target distances from junction distances, plus direct walks along shared chains."""
        nt = len(tgt.chain)
        out = np.full(nt, np.inf)
        which = np.full(nt, -1, dtype=np.int64)
        ok = np.flatnonzero(tgt.chain >= 0)
        if len(ok):
            c = tgt.chain[ok]
            a, b = self.chain_a[c], self.chain_b[c]
            s = tgt.s[ok]
            via_a = jdist[a] + s
            via_b = jdist[b] + (self.chain_len[c] - s)
            use_a = via_a <= via_b
            out[ok] = tgt.access[ok] + np.where(use_a, via_a, via_b)
            which[ok] = np.where(use_a, jsrc[a], jsrc[b])
            self._shortcut(src, tgt, out, which)
        beyond = ~(out <= limit_m)
        out[beyond] = np.inf
        which[beyond] = -1
        return out, which

    def _shortcut(
        self, src: Located, tgt: Located, out: np.ndarray, which: np.ndarray | None
    ) -> None:
        """Lower the walks ``out`` (and set ``which`` source) of the targets that a source
        on their own chain reaches more directly along it."""
        si, tj, direct = self._same_chain(src, tgt)
        if len(si) == 0:
            return
        order = np.lexsort((direct, tj))
        si, tj, direct = si[order], tj[order], direct[order]
        first = np.ones(len(tj), bool)
        first[1:] = tj[1:] != tj[:-1]
        si, tj, direct = si[first], tj[first], direct[first]
        better = direct < out[tj]
        out[tj[better]] = direct[better]
        if which is not None:
            which[tj[better]] = si[better]

    def ends(self, points: Points) -> Ends:
        """Points located on their chains with the chains' ends looked up, for
        :meth:`Search.walks`."""
        at = self.locate(points)
        ok = at.chain >= 0
        c = np.where(ok, at.chain, 0)
        small = np.int32 if self.n_junctions < 2**31 else np.int64
        a = np.where(ok, self.chain_a[c], 0).astype(small)
        b = np.where(ok, self.chain_b[c], 0).astype(small)
        to_a = np.where(ok, at.s, np.inf)
        to_b = np.where(ok, self.chain_len[c] - at.s, np.inf)
        return Ends(at, a, b, to_a, to_b)

    def _same_chain(self, src: Located, tgt: Located) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (source, target) pairs on the same chain, with their direct walk along it."""
        empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0))
        s_ok = np.flatnonzero(src.chain >= 0)
        if len(s_ok) == 0:
            return empty
        has_source = np.zeros(len(self.chain_len) + 1, dtype=bool)  # last slot: chain -1
        has_source[src.chain[s_ok]] = True
        cand = np.flatnonzero(has_source[tgt.chain])
        if len(cand) == 0:
            return empty
        order = s_ok[np.argsort(src.chain[s_ok], kind="stable")]
        sorted_chain = src.chain[order]
        tc = tgt.chain[cand]
        lo = np.searchsorted(sorted_chain, tc, side="left")
        count = np.searchsorted(sorted_chain, tc, side="right") - lo
        total = int(count.sum())
        tj = np.repeat(cand, count)
        offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        si = order[np.repeat(lo, count) + offset]
        direct = src.access[si] + tgt.access[tj] + np.abs(src.s[si] - tgt.s[tj])
        return si, tj, direct

    def search(self, sources: Points, *, limit_m: float = np.inf) -> Search:
        """One multi-source search from all ``sources`` at once, to ask about any points after.

        Parameters
        ----------
        sources
            Snapped (or located) sources; unsnapped ones are ignored.
        limit_m
            Stop at this distance (farther points get inf).
        """
        src = self.locate(sources)
        jdist, jsrc = self._junction_reach(src, limit_m)
        return Search(self, src, jdist, jsrc, limit_m)

    def reach(self, sources: Points, *, limit_m: float = np.inf) -> NodeReach:
        """Every node's distance to its nearest source (one multi-source search)."""
        return self.search(sources, limit_m=limit_m).nodes()

    def distances(
        self, sources: Points, targets: Points, *, limit_m: float = np.inf
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each target's walking distance to its nearest source, and which source.

        One bounded multi-source search over all sources at once.

        Parameters
        ----------
        sources
            Snapped (or located) sources; unsnapped ones are ignored.
        targets
            Snapped (or located) targets.
        limit_m
            Stop the search at this distance.

        Returns
        -------
        (distance, source)
            Distances in metres (inf when none is within ``limit_m``, the target is not
            snapped, or no source is on its piece of the network) and source indices (-1).
        """
        return self.search(sources, limit_m=limit_m).to(targets)

    def _reach_each(
        self, src: Located, limit_m: float, max_bytes: float
    ) -> Iterator[tuple[np.ndarray, sp.csr_matrix]]:
        """Bounded searches from each source, a chunk at a time: (sources, chunk x search nodes).

        A walk of at most ``limit_m`` from a source never leaves the disc of that radius
        around the ends of the source's chain (a walk is never shorter than the straight
        line). So on a large network the sources are grouped into blocks of ``2 * limit_m``
        and each block searches only the graph within ``limit_m`` of its sources' chain
        ends: time and memory follow the sources times their neighbourhoods, not the sources
        times the whole network.
        """
        valid = np.flatnonzero(src.chain >= 0)
        ns = self.csr.shape[0]
        if len(valid) == 0:
            return
        if not np.isfinite(limit_m) or ns <= LOCAL_SEARCH_NODES:
            chunk = int(max(1, min(len(valid), max_bytes // (8 * (ns + 1) * 2))))
            for start in range(0, len(valid), chunk):
                idx = valid[start : start + chunk]
                yield idx, self._reach_chunk(src, idx, None, limit_m)
            return
        xy = self._search_xy
        c = src.chain[valid]
        ends = np.stack([self.search_id[self.chain_a[c]], self.search_id[self.chain_b[c]]], 1)
        end_xy = np.where((ends >= 0)[..., None], xy[np.maximum(ends, 0)], np.nan)
        anchor = np.nanmean(end_xy, axis=1)  # every valid source has a live end
        block = 2.0 * limit_m
        origin = np.nanmin(xy, axis=0)
        bx = np.floor((anchor[:, 0] - origin[0]) / block).astype(np.int64)
        by = np.floor((anchor[:, 1] - origin[1]) / block).astype(np.int64)
        order = np.lexsort((by, bx))
        key = bx[order] * (int(by.max()) + 1) + by[order]
        bounds = np.flatnonzero(np.diff(key)) + 1
        # nodes bucketed on a grid of ``limit_m`` cells, for the neighbourhood of a block
        cell = limit_m
        ok = np.isfinite(xy[:, 0])
        cx = np.floor((xy[:, 0] - origin[0]) / cell).astype(np.int64)
        cy = np.floor((xy[:, 1] - origin[1]) / cell).astype(np.int64)
        ny = int(cy[ok].max()) + 1
        node_key = np.where(ok, cx * ny + cy, -1)
        node_order = np.argsort(node_key, kind="stable")
        sorted_key = node_key[node_order]
        for group in np.split(order, bounds):
            pts = end_xy[group].reshape(-1, 2)
            lo = np.nanmin(pts, axis=0) - limit_m
            hi = np.nanmax(pts, axis=0) + limit_m
            x0, x1 = np.floor((np.array([lo[0], hi[0]]) - origin[0]) / cell).astype(np.int64)
            y0, y1 = np.floor((np.array([lo[1], hi[1]]) - origin[1]) / cell).astype(np.int64)
            y0, y1 = max(y0, 0), min(y1, ny - 1)
            cols = np.arange(max(x0, 0), x1 + 1)
            start = np.searchsorted(sorted_key, cols * ny + y0, side="left")
            stop = np.searchsorted(sorted_key, cols * ny + y1, side="right")
            picked = [node_order[a:b] for a, b in zip(start, stop, strict=True)]
            nodes = np.sort(np.concatenate(picked))
            chunk = int(max(1, max_bytes // (8 * (len(nodes) + 1) * 2)))
            for first in range(0, len(group), chunk):
                idx = valid[np.sort(group[first : first + chunk])]
                yield idx, self._reach_chunk(src, idx, nodes, limit_m)

    def _reach_chunk(
        self, src: Located, idx: np.ndarray, nodes: np.ndarray | None, limit_m: float
    ) -> sp.csr_matrix:
        """Searches from the sources ``idx`` (within ``nodes`` if given): sources x nodes."""
        ns = self.csr.shape[0]
        A = self._with_sources(src, idx, nodes)
        k = A.shape[0] - len(idx)
        D = dijkstra(A, directed=True, indices=k + np.arange(len(idx)), limit=limit_m)[:, :k]
        r, c = np.nonzero(np.isfinite(D))
        cols = c if nodes is None else nodes[c]
        return sp.csr_matrix((D[r, c], (r, cols)), shape=(len(idx), ns))

    def pair_distances(
        self, sources: Points, targets: Points, *, limit_m: float, max_bytes: float = 256e6
    ) -> PairDistances:
        """Every (source, target) pair within ``limit_m`` walking, with its exact distance.

        One bounded search per source (in chunks of ``max_bytes``); only pairs within the
        limit are kept, so memory follows the number of pairs, not sources x targets.

        Parameters
        ----------
        sources, targets
            Snapped (or located) points; unsnapped ones are in no pair.
        limit_m
            Pairs farther apart are left out.
        max_bytes
            Memory for one chunk of per-source searches.

        Returns
        -------
        PairDistances
            The pairs within the limit, each once with its shortest walk.
        """
        ss, tt, dd = self._raw_pairs(sources, targets, limit_m, max_bytes)
        if len(ss):
            order = np.lexsort((dd, tt, ss))
            ss, tt, dd = ss[order], tt[order], dd[order]
            first = np.ones(len(ss), bool)
            first[1:] = (ss[1:] != ss[:-1]) | (tt[1:] != tt[:-1])
            ss, tt, dd = ss[first], tt[first], dd[first]
        return PairDistances(ss, tt, dd, len(sources), len(targets))

    def within(
        self, sources: Points, targets: Points, *, limit_m: float, max_bytes: float = 256e6
    ) -> sp.csr_matrix:
        """Which (source, target) pairs are within ``limit_m`` walking: the pattern of
        :meth:`pair_distances` without the distances (no sort of the pairs: the sparse
        matrix merges a pair found by several walks).

        Parameters
        ----------
        sources, targets
            Snapped (or located) points; unsnapped ones are in no pair.
        limit_m
            Pairs farther apart are left out.
        max_bytes
            Memory for one chunk of per-source searches.

        Returns
        -------
        scipy.sparse.csr_matrix
            Boolean, sources x targets.
        """
        ss, tt, _ = self._raw_pairs(sources, targets, limit_m, max_bytes)
        M = sp.csr_matrix(
            (np.ones(len(ss), dtype=bool), (ss, tt)), shape=(len(sources), len(targets))
        )
        M.sum_duplicates()
        return M

    def _raw_pairs(
        self, sources: Points, targets: Points, limit_m: float, max_bytes: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pairs within ``limit_m`` and a walk's length for each: a pair may come more
        than once (through either end of a chain, or along it)."""
        src = self.locate(sources)
        tgt = self.locate(targets)
        att_target, att_cost, att_ptr = self._attachments(tgt)
        parts_s, parts_t, parts_d = [], [], []
        for idx, M in self._reach_each(src, limit_m, max_bytes):
            rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
            nodes = M.indices
            cnt = att_ptr[nodes + 1] - att_ptr[nodes]
            total = int(cnt.sum())
            if total:
                pos = np.repeat(att_ptr[nodes], cnt) + (
                    np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                )
                dd = np.repeat(M.data, cnt) + att_cost[pos]
                keep = dd <= limit_m
                parts_s.append(idx[np.repeat(rows, cnt)][keep])
                parts_t.append(att_target[pos][keep])
                parts_d.append(dd[keep])
        si, tj, direct = self._same_chain(src, tgt)
        keep = direct <= limit_m
        parts_s.append(si[keep])
        parts_t.append(tj[keep])
        parts_d.append(direct[keep])
        ss = np.concatenate(parts_s).astype(np.int64)
        tt = np.concatenate(parts_t).astype(np.int64)
        return ss, tt, np.concatenate(parts_d)

    def _attachments(self, tgt: Located) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Search node -> attached targets, with the walk from the node to the target:
        (targets, costs) sorted by node, and each node's first row."""
        t_ok = np.flatnonzero(tgt.chain >= 0)
        c = tgt.chain[t_ok]
        att_node = np.concatenate(
            [self.search_id[self.chain_a[c]], self.search_id[self.chain_b[c]]]
        )
        att_target = np.concatenate([t_ok, t_ok])
        s = tgt.s[t_ok]
        att_cost = tgt.access[t_ok][None, :] + np.stack([s, self.chain_len[c] - s])
        att_cost = att_cost.ravel()
        live = att_node >= 0  # through live chain ends only
        att_node, att_target, att_cost = att_node[live], att_target[live], att_cost[live]
        order = np.argsort(att_node, kind="stable")
        att_node, att_target, att_cost = att_node[order], att_target[order], att_cost[order]
        att_ptr = np.searchsorted(att_node, np.arange(self.csr.shape[0] + 1))
        return att_target, att_cost, att_ptr


@dataclass(frozen=True)
class Search:
    """The result of one multi-source search, from which any points' distances follow."""

    network: WalkNetwork
    sources: Located
    junction_dist: np.ndarray
    junction_source: np.ndarray
    limit_m: float

    def to(self, targets: Points) -> tuple[np.ndarray, np.ndarray]:
        """Walking distance from the nearest source to each target, and which source."""
        net = self.network
        return net._compose(
            self.junction_dist,
            self.junction_source,
            self.sources,
            net.locate(targets),
            self.limit_m,
        )

    def walks(self, ends: Ends) -> np.ndarray:
        """Walking distance from the nearest source to points whose ends are looked up
        (:meth:`WalkNetwork.ends`): the distances of :meth:`to`, without the sources."""
        jd = self.junction_dist
        out = np.minimum(jd[ends.a] + ends.to_a, jd[ends.b] + ends.to_b)
        out = ends.located.access + out
        self.network._shortcut(self.sources, ends.located, out, None)
        out[~(out <= self.limit_m)] = np.inf
        return out

    def nodes(self) -> NodeReach:
        """Walking distance from the nearest source to every node."""
        dist, who = self.to(self.network._node_positions())
        return NodeReach(dist, who)


def _first(value: Any) -> Any:
    """A graph attribute's first value (osmnx keeps lists where merged ways disagree)."""
    return value[0] if isinstance(value, list) and value else value


def _reversed(
    u: np.ndarray, v: np.ndarray, start: np.ndarray, end: np.ndarray, n: int
) -> np.ndarray:
    """Which edges' geometries run from ``v`` to ``u``.

    Each node's position is the end point most of its edges agree on; an edge is judged by
    its better-attested end (a dead end's only vote may come from the very edge in doubt).
    """
    votes = pd.DataFrame(
        {
            "node": np.concatenate([u, v]),
            "x": np.round(np.concatenate([start[:, 0], end[:, 0]]), 2),
            "y": np.round(np.concatenate([start[:, 1], end[:, 1]]), 2),
        }
    )
    tally = votes.groupby(["node", "x", "y"], sort=False).size().rename("n").reset_index()
    tally = tally.sort_values("n", ascending=False, kind="stable").drop_duplicates("node")
    xy = np.zeros((n, 2))
    count = np.zeros(n)
    xy[tally["node"].to_numpy()] = tally[["x", "y"]].to_numpy()
    count[tally["node"].to_numpy()] = tally["n"].to_numpy()
    by_u = count[u] >= count[v]
    ref = np.where(by_u[:, None], xy[u], xy[v])
    d_start = np.hypot(*(start - ref).T)
    d_end = np.hypot(*(end - ref).T)
    return np.asarray(np.where(by_u, d_start > d_end, d_end > d_start))
