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

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from lifecircle.coverage.network import Located, PairDistances, Search, WalkNetwork
from lifecircle.coverage.snapping import EdgeIndex, Snap, as_points, snap_within_groups
from lifecircle.geo.compounds import Compounds, point_compounds

__all__ = ["GatedNetwork", "GatedWalk"]


def _concat(parts: list[Located]) -> Located:
    return Located(
        np.concatenate([p.chain for p in parts]).astype(np.int64),
        np.concatenate([p.s for p in parts]),
        np.concatenate([p.access for p in parts]),
    )


def _seeded(at: Located, dist: np.ndarray) -> Located:
    """Positions (entrances) as search sources that start ``dist`` into the walk, plus
    their own access legs (0, but for a candidate entrance's connector)."""
    ok = np.isfinite(dist)
    return Located(np.where(ok, at.chain, -1), at.s, np.where(ok, dist + at.access, np.nan))


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
    sub.access_factor = net.access_factor  # a walking profile's access legs
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

    def pairs(self, src: Located, tgt: Located, limit_m: float) -> _Pairs:
        """Every (source, target) pair within ``limit_m`` here.

        Parameters
        ----------
        src, tgt
            The sources and targets, located on this part.
        limit_m
            Pairs farther apart are left out.

        Returns
        -------
        _Pairs
            The pairs, numbered as ``src`` and ``tgt`` are.
        """
        if self.net is None or len(src) == 0 or len(tgt) == 0:
            return _Pairs.empty()
        p = self.net.pair_distances(src, tgt, limit_m=limit_m)
        return _Pairs(p.source, p.target, p.dist)

    def snap_of(self, snap: Snap, rows: np.ndarray) -> Snap:
        """Some points of a whole-network snap, as snaps on this part (edge -1 where not)."""
        e = snap.edge[rows]
        mine = np.where(e >= 0, self.edge_of[np.maximum(e, 0)], -1)
        return Snap(mine, snap.t[rows], snap.access_m[rows])


@dataclass(frozen=True)
class _Pairs:
    """Walks between two sets of points: parallel arrays of source, target and metres."""

    s: np.ndarray
    t: np.ndarray
    d: np.ndarray

    @staticmethod
    def empty() -> _Pairs:
        return _Pairs(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"s": self.s, "t": self.t, "d": self.d})

    def rows(self, s_rows: np.ndarray, t_rows: np.ndarray) -> _Pairs:
        """The pairs with their sources and targets renumbered."""
        return _Pairs(s_rows[self.s], t_rows[self.t], self.d)


def _then(first: pd.DataFrame, second: pd.DataFrame, limit_m: float) -> pd.DataFrame:
    """Walks of ``first`` (s to x) followed by walks of ``second`` (x to t), within the limit."""
    if len(first) == 0 or len(second) == 0:
        return pd.DataFrame({"s": [], "t": [], "d": []})
    both = first.rename(columns={"t": "x"}).merge(
        second.rename(columns={"s": "x", "d": "d2"}), on="x"
    )
    both["d"] = both["d"] + both["d2"]
    return both.loc[both["d"] <= limit_m, ["s", "t", "d"]]


def _shortest(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Each (s, t) pair once, with its shortest walk among ``parts``."""
    frame = pd.concat([p for p in parts if len(p)] or [parts[0]], ignore_index=True)
    if len(frame) == 0:
        return frame
    return frame.groupby(["s", "t"], sort=True, as_index=False).agg(d=("d", "min"))


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

    def on(self, network: WalkNetwork) -> GatedNetwork:
        """The same split of a walking profile's copy of the network
        (:meth:`WalkNetwork.profiled`), kept with that copy for the last split asked."""
        if network is self.network:
            return self
        slot = network.derived.get("gated_on")
        if isinstance(slot, tuple) and slot[0] is self:
            return slot[1]
        rows = np.full(int(self.network.edge_row.max(initial=-1)) + 1, -1, dtype=np.int64)
        rows[self.network.edge_row] = self.edge_compound
        hit = GatedNetwork.build(network, self.compounds, rows)
        network.derived["gated_on"] = (self, hit)
        return hit

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

    def pair_distances(
        self,
        sources: tuple[Snap, np.ndarray],
        targets: tuple[Snap, np.ndarray],
        limit_m: float,
        visitors: bool = True,
    ) -> PairDistances:
        """Every (source, target) pair within ``limit_m`` by the rule, with its walk.

        The same walks as :meth:`nearest` (sources are the facilities' side), composed
        exactly from pair searches on the two networks: the sources inside a compound to
        its entrances, the public ways from the public sources and every entrance to the
        public targets and every entrance, and the entrances to the targets inside a
        compound; plus the walks along one compound's ways alone.

        Parameters
        ----------
        sources
            The sources' snaps (whole network) and compounds (facilities, candidate sites).
        targets
            The targets' snaps and compounds (residents).
        limit_m
            Pairs farther apart are left out.
        visitors
            Whether sources inside a compound serve visitors (else only its members,
            along its ways).

        Returns
        -------
        PairDistances
            Each pair within the limit once, with its shortest walk by the rule.
        """
        (s_snap, s_group), (t_snap, t_group) = sources, targets
        s_pub, s_in = np.flatnonzero(s_group < 0), np.flatnonzero(s_group >= 0)
        t_pub, t_in = np.flatnonzero(t_group < 0), np.flatnonzero(t_group >= 0)
        ins, pub = self.inside, self.public
        n_e = len(self.entrance_compound)
        ent = np.arange(n_e)
        # along one compound's ways alone (its pieces are apart: same compound only)
        alone = ins.pairs(ins.locate(s_snap, s_in), ins.locate(t_snap, t_in), limit_m)
        # public: from public sources and entrances (after them), to public targets and
        # entrances (after them)
        mid = pub.pairs(
            _concat([pub.locate(s_snap, s_pub), self.entrance_public]),
            _concat([pub.locate(t_snap, t_pub), self.entrance_public]),
            limit_m,
        ).frame()
        k_s, k_t = len(s_pub), len(t_pub)
        from_pub = mid.loc[mid["s"] < k_s].assign(s=lambda f: s_pub[f["s"]])
        from_ent = mid.loc[mid["s"] >= k_s].assign(s=lambda f: f["s"] - k_s)
        out = [from_pub]
        if visitors and len(s_in):  # out of the source's compound through its entrances
            leave = ins.pairs(ins.locate(s_snap, s_in), self.entrance_inside, limit_m)
            out.append(_then(leave.rows(s_in, ent).frame(), from_ent, limit_m))
        walked = _shortest(out)  # source to public target / entrance (t >= k_t)
        to_pub = walked.loc[walked["t"] < k_t].assign(t=lambda f: t_pub[f["t"]])
        at_ent = walked.loc[walked["t"] >= k_t].assign(t=lambda f: f["t"] - k_t)
        enter = ins.pairs(self.entrance_inside, ins.locate(t_snap, t_in), limit_m)
        to_in = _then(at_ent, enter.rows(ent, t_in).frame(), limit_m)
        best = _shortest([to_pub, to_in, alone.rows(s_in, t_in).frame()])
        return PairDistances(
            best["s"].to_numpy(np.int64),
            best["t"].to_numpy(np.int64),
            best["d"].to_numpy(float),
            len(s_group),
            len(t_group),
        )

    def searches(
        self, facilities: tuple[Snap, np.ndarray], visitors: bool, limit_m: float
    ) -> tuple[Search | None, Search | None]:
        """The walks from a category's facilities as two searches, public and inside.

        A point on a public way is walked as the public search says, a point on a
        compound's ways as the inside search says (it stands for a member of that
        compound): the same walks as :meth:`nearest`, for any point (catchments).

        Parameters
        ----------
        facilities
            The facilities' access points: their snaps (whole network) and compounds.
        visitors
            Whether facilities inside a compound serve visitors.
        limit_m
            The searches stop here.

        Returns
        -------
        (public, inside)
            The searches on :attr:`public` and :attr:`inside` (None: no such ways).
        """
        f_snap, f_group = facilities
        pub, ins = np.flatnonzero(f_group < 0), np.flatnonzero(f_group >= 0)
        vis = ins if visitors else ins[:0]
        d1, _ = self.inside.distances(
            self.inside.locate(f_snap, vis), self.entrance_inside, limit_m
        )
        src2 = _concat([self.public.locate(f_snap, pub), _seeded(self.entrance_public, d1)])
        p_net, i_net = self.public.net, self.inside.net
        public = p_net.search(src2, limit_m=limit_m) if p_net is not None else None
        d2 = (
            public.to(self.entrance_public)[0]
            if public is not None
            else np.full(len(self.entrance_compound), np.inf)
        )
        src3 = _concat([self.inside.locate(f_snap, ins), _seeded(self.entrance_inside, d2)])
        inside = i_net.search(src3, limit_m=limit_m) if i_net is not None else None
        return public, inside

    def with_entrance(
        self,
        compound: int,
        inside: tuple[int, float],
        outside: tuple[int, float],
        connector_m: float,
    ) -> GatedNetwork:
        """This split network with one more entrance (a candidate new gate).

        Parameters
        ----------
        compound
            The compound (row) it enters.
        inside, outside
            Where it joins the compound's ways and the public ways: an edge of the whole
            network and the position along it (0..1).
        connector_m
            The walk between the two through the gate (counted on the public side).

        Returns
        -------
        GatedNetwork
            The same networks and snapping indexes, one entrance more.
        """
        one = np.array([0])

        def at(part: _Part, edge_t: tuple[int, float], access: float) -> Located:
            snap = Snap(np.array([edge_t[0]]), np.array([edge_t[1]]), np.zeros(1))
            loc = part.locate(snap, one)
            return Located(loc.chain, loc.s, np.array([access]))

        return dataclasses.replace(
            self,
            entrance_compound=np.append(self.entrance_compound, compound),
            entrance_public=_concat([self.entrance_public, at(self.public, outside, connector_m)]),
            entrance_inside=_concat([self.entrance_inside, at(self.inside, inside, 0.0)]),
        )

    def entrances(self) -> pd.DataFrame:
        """The entrances used: compound row and id."""
        ids = self.compounds.areas["compound_id"].to_numpy()
        return pd.DataFrame(
            {"compound": self.entrance_compound, "compound_id": ids[self.entrance_compound]}
        )


@dataclass(frozen=True)
class GatedWalk:
    """How pair searches walk under the rule: the split network, the compound of every
    source and of every target, and whether sources inside a compound serve visitors.

    The one way every planning stage (placement, 2SFCA, gaps) gets its source-target
    walks in gated mode: :meth:`pairs` gives what ``WalkNetwork.pair_distances`` gives
    in open mode.
    """

    network: GatedNetwork
    source_compound: np.ndarray
    target_compound: np.ndarray
    visitors: bool = True

    def pairs(
        self,
        sources: Snap,
        targets: Snap,
        limit_m: float,
        target_rows: np.ndarray | None = None,
    ) -> PairDistances:
        """Every pair within ``limit_m`` by the rule (:meth:`GatedNetwork.pair_distances`).

        Parameters
        ----------
        sources, targets
            The sources' and the targets' snaps (whole network), row for row with
            :attr:`source_compound` and :attr:`target_compound`, unless
            ``target_rows`` says which targets ``targets`` holds.
        limit_m
            Pairs farther apart are left out.
        target_rows
            Rows of :attr:`target_compound` that ``targets`` holds (all when None).

        Returns
        -------
        PairDistances
            The pairs, numbered as ``sources`` and ``targets`` are.
        """
        t_group = self.target_compound
        if target_rows is not None:
            t_group = t_group[target_rows]
        return self.network.pair_distances(
            (sources, self.source_compound), (targets, t_group), limit_m, self.visitors
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
