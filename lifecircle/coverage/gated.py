"""Walking where gated compounds let their members out and visitors in, but nobody through.

The rule, like OSRM's private ways (which may be used only at the start or the end of a
route) but per compound: a gated compound's internal ways (:mod:`lifecircle.geo.compounds`)
are walked only by a walk that starts or ends in that compound, and entered or left only
at its entrances. A walk from a facility to a resident is then

* the facility's compound's ways to one of its entrances (when the facility is inside one),
  public ways, and the resident's compound's ways from one of its entrances (when the
  resident is inside one); or
* when both are in the same compound, that compound's ways alone.

Members walk out, visitors walk in to a facility inside, nobody walks through. A facility
of a *members-only* category inside a compound (its park, its sports ground) serves only
that compound's residents, along the compound's ways. Points inside a compound join its
own ways (never a street across the wall); points outside every compound join public ways.

Exact and fast: per category, three bounded multi-source searches (not one per resident).
The compounds' ways form one *inside* network, in which every compound is its own piece
(an entrance node has one copy per compound it enters); the public ways form the *public*
network, which holds every entrance node.

1. inside: from the visitor-serving facilities inside compounds, to every entrance;
2. public: from the facilities on public ways and from every entrance, seeded with (1):
   the distance of every resident on public ways, and the public distance at each entrance;
3. inside: from every facility inside a compound (members-only ones too) and from every
   entrance, seeded with (2): the distance of every resident inside a compound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from lifecircle.coverage.network import Located, WalkNetwork
from lifecircle.coverage.snapping import EdgeIndex, Snap, as_points, snap_within_groups
from lifecircle.geo.compounds import Compounds, point_compounds

__all__ = ["GatedNetwork"]


def _concat(parts: list[Located]) -> Located:
    return Located(
        np.concatenate([p.chain for p in parts]).astype(np.int64),
        np.concatenate([p.s for p in parts]),
        np.concatenate([p.access for p in parts]),
    )


def _seeded(at: Located, dist: np.ndarray) -> Located:
    """Positions (entrances) as search sources that start ``dist`` into the walk."""
    ok = np.isfinite(dist)
    return Located(np.where(ok, at.chain, -1), at.s, np.where(ok, dist, np.nan))


def _subnetwork(
    net: WalkNetwork, edges: np.ndarray, keys_u: np.ndarray, keys_v: np.ndarray
) -> tuple[WalkNetwork | None, np.ndarray]:
    """The network of some of ``net``'s edges, its nodes keyed by ``keys`` (sorted)."""
    if len(edges) == 0:
        return None, np.empty(0, dtype=np.int64)
    keys, inverse = np.unique(np.concatenate([keys_u, keys_v]), return_inverse=True)
    m = len(edges)
    sub = WalkNetwork(
        inverse[:m],
        inverse[m:],
        net.geometry[edges],
        crs=net.crs,
        node_ids=keys,
        length=net.length[edges],
        ground=net.ground[edges],
        names=net.names[edges],
    )
    return sub, keys


def _find(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Positions of ``wanted`` in the sorted ``keys`` (-1 where absent)."""
    pos = np.searchsorted(keys, wanted)
    pos = np.minimum(pos, max(len(keys) - 1, 0))
    found = (len(keys) > 0) & (keys[pos] == wanted) if len(keys) else np.zeros(len(wanted), bool)
    return np.where(found, pos, -1)


@dataclass(frozen=True)
class _Part:
    """One of the two networks (public or inside), with the map from the whole network."""

    net: WalkNetwork | None
    edge_of: np.ndarray
    """Per edge of the whole network: its index here, -1 when it is not here."""

    def locate(self, snap: Snap, rows: np.ndarray) -> Located:
        """Some points of a whole-network snap, located here (chain -1 where not)."""
        if self.net is None:
            return Located(np.full(len(rows), -1), np.zeros(len(rows)), np.zeros(len(rows)))
        e = snap.edge[rows]
        mine = np.where(e >= 0, self.edge_of[np.maximum(e, 0)], -1)
        return self.net.locate(Snap(mine, snap.t[rows], snap.access_m[rows]))

    def distances(
        self, src: Located, tgt: Located, limit_m: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each target's distance to its nearest source, and which (inf / -1 for none)."""
        if self.net is None or len(tgt) == 0:
            return np.full(len(tgt), np.inf), np.full(len(tgt), -1, dtype=np.int64)
        return self.net.distances(src, tgt, limit_m=limit_m)


@dataclass(frozen=True)
class GatedNetwork:
    """A walk network split at the gated compounds' walls (see the module docs).

    Attributes
    ----------
    network
        The whole network (snaps are expressed on it).
    compounds
        The compounds.
    edge_compound
        Per edge of ``network``: the compound it is an internal way of, -1 public.
    public, inside
        The public ways, and every compound's ways (each compound a piece of its own).
    entrance_compound
        The compound of each entrance.
    entrance_public, entrance_inside
        Each entrance's position on the public network and on its compound's ways.
    """

    network: WalkNetwork
    compounds: Compounds
    edge_compound: np.ndarray
    public: _Part
    inside: _Part
    entrance_compound: np.ndarray
    entrance_public: Located
    entrance_inside: Located
    _indexes: dict[tuple[int, bool], EdgeIndex] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def build(
        cls, network: WalkNetwork, compounds: Compounds, edge_compound: np.ndarray
    ) -> GatedNetwork:
        """Split ``network`` (built from a study's edges) at its compounds' walls.

        Parameters
        ----------
        network
            The whole walk network.
        compounds
            The compounds, laid on the study's edges (:func:`~lifecircle.geo.compounds.on_edges`).
        edge_compound
            The compound of each row of the study's edges (-1 public).

        Returns
        -------
        GatedNetwork
            The public and inside networks and the entrances on both.
        """
        label = np.asarray(edge_compound, dtype=np.int64)[network.edge_row]
        n = np.int64(network.n_nodes)
        pub = np.flatnonzero(label < 0)
        ins = np.flatnonzero(label >= 0)
        u, v = network.u, network.v
        ids = network.node_ids.astype(np.int64)
        p_net, p_keys = _subnetwork(network, pub, ids[u[pub]], ids[v[pub]])
        i_net, i_keys = _subnetwork(network, ins, label[ins] * n + u[ins], label[ins] * n + v[ins])
        public = _Part(p_net, _index_of(pub, network.n_edges))
        inside = _Part(i_net, _index_of(ins, network.n_edges))
        cross = compounds.crossings
        ent = cross.loc[cross["entrance"].to_numpy(dtype=bool)] if cross is not None else None
        ent_node = _find(ids, ent["node"].to_numpy(np.int64)) if ent is not None else np.empty(0)
        ent_comp = ent["compound"].to_numpy(np.int64) if ent is not None else np.empty(0)
        at_p = _find(p_keys, np.where(ent_node >= 0, ids[np.maximum(ent_node, 0)], -1))
        at_i = _find(i_keys, np.where(ent_node >= 0, ent_comp * n + ent_node, -1))
        keep = (at_p >= 0) & (at_i >= 0)
        assert p_net is not None or not keep.any()
        e_pub = p_net._node_positions() if p_net is not None else None
        e_ins = i_net._node_positions() if i_net is not None else None
        return cls(
            network,
            compounds,
            label,
            public,
            inside,
            ent_comp[keep],
            _take(e_pub, at_p[keep]),
            _take(e_ins, at_i[keep]),
        )

    # ------------------------------------------------------------------ snapping
    def has_ways(self) -> np.ndarray:
        """Mask of compounds with internal ways on the network."""
        out = np.zeros(len(self.compounds), dtype=bool)
        out[self.edge_compound[self.edge_compound >= 0]] = True
        return out

    def snap(self, points: object, max_snap_m: float) -> tuple[Snap, np.ndarray]:
        """Snap points: inside a compound with ways, to its ways; else to public ways.

        Parameters
        ----------
        points
            Shapely points, a GeoSeries/GeoDataFrame or an ``(n, 2)`` array (the
            network's CRS).
        max_snap_m
            Farther points are not snapped.

        Returns
        -------
        (snap, compound)
            Where each point joins the whole network, and the compound it is in (-1: it
            walks from the public ways).
        """
        pts = as_points(points, self.network.crs)
        xy = np.full((len(pts), 2), np.nan)
        valid = (
            ~(shapely.is_missing(pts) | shapely.is_empty(pts)) if len(pts) else np.zeros(0, bool)
        )
        if valid.any():
            xy[valid] = shapely.get_coordinates(pts[valid])
        group = np.full(len(pts), -1, dtype=np.int64)
        group[valid] = point_compounds(pts[valid], self.compounds)
        ways = np.append(self.has_ways(), False)  # the last slot stands for -1
        group[~ways[group]] = -1
        net = self.network
        snap = snap_within_groups(
            net.geometry, net.ground, self.edge_compound, xy, group, max_snap_m, self._indexes
        )
        out = group < 0
        p = self.public
        if p.net is not None and out.any():
            ps = p.net.snap(xy[out], max_snap_m=max_snap_m)
            back = np.flatnonzero(p.edge_of >= 0)  # whole-network edge of each public edge
            rows = np.flatnonzero(out)
            snap.edge[rows] = np.where(ps.edge >= 0, back[np.maximum(ps.edge, 0)], -1)
            snap.t[rows], snap.access_m[rows] = ps.t, ps.access_m
        return snap, group

    def points_without_ways(self, points: object) -> int:
        """How many points lie in compounds that have no ways (and so walk from outside)."""
        pts = as_points(points, self.network.crs)
        group = point_compounds(pts, self.compounds)
        ways = np.append(self.has_ways(), True)  # the last slot stands for -1
        return int((~ways[group]).sum())

    # ------------------------------------------------------------------ searches
    def nearest(
        self,
        facilities: tuple[Snap, np.ndarray],
        demand: tuple[Snap, np.ndarray],
        visitors: bool,
        limit_m: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each demand point's walk to its nearest facility (of one category) by the rule.

        Parameters
        ----------
        facilities
            The facilities' access points: their snaps (whole network) and compounds.
        demand
            The demand points' snaps and compounds.
        visitors
            Whether facilities inside a compound serve visitors (else members only).
        limit_m
            Searches stop here (farther: inf).

        Returns
        -------
        (distance, point)
            Metres (inf for none in reach) and the facility access point (-1).
        """
        f_snap, f_group = facilities
        d_snap, d_group = demand
        pub = np.flatnonzero(f_group < 0)
        ins = np.flatnonzero(f_group >= 0)
        vis = ins if visitors else ins[:0]
        # 1. from facilities inside compounds to their compounds' entrances
        d1, w1 = self.inside.distances(
            self.inside.locate(f_snap, vis), self.entrance_inside, limit_m
        )
        # 2. the public network, from public facilities and the entrances
        src2 = _concat([self.public.locate(f_snap, pub), _seeded(self.entrance_public, d1)])
        who2 = np.concatenate([pub, _pick(vis, w1)])
        d_out = np.flatnonzero(d_group < 0)
        d_in = np.flatnonzero(d_group >= 0)
        targets2 = _concat([self.public.locate(d_snap, d_out), self.entrance_public])
        d2, w2 = self.public.distances(src2, targets2, limit_m)
        k = len(d_out)
        # 3. the compounds' ways, from facilities inside and the entrances
        src3 = _concat([self.inside.locate(f_snap, ins), _seeded(self.entrance_inside, d2[k:])])
        w2e = w2[k:]
        who3 = np.concatenate([ins, _pick(who2, w2e)])
        d3, w3 = self.inside.distances(src3, self.inside.locate(d_snap, d_in), limit_m)
        dist = np.full(len(d_group), np.inf)
        point = np.full(len(d_group), -1, dtype=np.int64)
        dist[d_out], point[d_out] = d2[:k], _pick(who2, w2[:k])
        dist[d_in], point[d_in] = d3, _pick(who3, w3)
        return dist, point

    def entrances(self) -> pd.DataFrame:
        """The entrances used: compound row and id."""
        ids = self.compounds.areas["compound_id"].to_numpy()
        return pd.DataFrame(
            {"compound": self.entrance_compound, "compound_id": ids[self.entrance_compound]}
        )


def _pick(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values[idx]``, -1 where ``idx`` is -1."""
    out = np.full(len(idx), -1, dtype=np.int64)
    hit = idx >= 0
    out[hit] = values[idx[hit]]
    return out


def _index_of(edges: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    out[edges] = np.arange(len(edges))
    return out


def _take(at: Located | None, idx: np.ndarray) -> Located:
    if at is None:
        return Located(np.full(len(idx), -1), np.zeros(len(idx)), np.zeros(len(idx)))
    return Located(at.chain[idx], at.s[idx], np.zeros(len(idx)))
