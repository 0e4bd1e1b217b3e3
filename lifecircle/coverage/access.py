"""Walking access: every resident point's distance to the nearest facility of each category.

One bounded multi-source search per category over all of the category's facilities at
once (:meth:`WalkNetwork.reach`), from the facilities' exact positions on their edges.
Facilities of categories reached at their edge (parks) enter through points along their
boundary, every ``edge_spacing_m``; all of a facility's points share its id. With gated
compounds (:mod:`lifecircle.coverage.gated`) the searches follow the compounds' rule.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.coverage.gated import GatedNetwork, GatedWalk
from lifecircle.coverage.network import Located, PairDistances, Snap, WalkNetwork
from lifecircle.coverage.profiles import category_profiles
from lifecircle.geo.ages import column_of_group, group_of_column
from lifecircle.geo.catalog import ServiceCatalog
from lifecircle.geo.compounds import point_compounds
from lifecircle.geo.study_area import StudyArea
from lifecircle.i18n import Note
from lifecircle.params import (
    DEFAULT_MAX_SNAP_M,
    DEFAULT_SPEED_KMH,
    STANDARD_PROFILE,
    PlanParams,
    WalkProfile,
)

__all__ = [
    "Access",
    "access_notes",
    "access_points",
    "demand_groups",
    "k_nearest_facilities",
    "nearest_facilities",
    "plan_access",
    "plan_gated_network",
]

log = logging.getLogger(__name__)


def access_points(
    facilities: gpd.GeoDataFrame, *, edge_spacing_m: float = 50.0
) -> tuple[np.ndarray, np.ndarray]:
    """Where each facility can be entered: its point, or points along a polygon's boundary.

    Returns
    -------
    (points, facility)
        Shapely points and, for each, the row position of its facility in ``facilities``.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> f = gpd.GeoDataFrame(geometry=[Point(0, 0), box(0, 0, 100, 100)], crs="EPSG:32650")
    >>> pts, fac = access_points(f, edge_spacing_m=100)
    >>> fac.tolist()
    [0, 1, 1, 1, 1]
    """
    geoms = facilities.geometry.to_numpy()
    out_pts: list[np.ndarray] = []
    out_fac: list[np.ndarray] = []
    is_poly = shapely.get_type_id(geoms) >= 3
    point_rows = np.flatnonzero(~is_poly)
    out_pts.append(
        shapely.point_on_surface(geoms[point_rows]) if len(point_rows) else np.empty(0, object)
    )
    out_fac.append(point_rows)
    for row in np.flatnonzero(is_poly):
        rings = shapely.get_exterior_ring(shapely.get_parts(geoms[row]))
        for ring in rings:
            length = ring.length
            steps = np.arange(0.0, length, edge_spacing_m) if length > 0 else np.array([0.0])
            pts = shapely.line_interpolate_point(ring, steps)
            out_pts.append(pts)
            out_fac.append(np.full(len(pts), row))
    pts_all = np.concatenate(out_pts) if out_pts else np.empty(0, object)
    fac_all = np.concatenate(out_fac).astype(np.int64) if out_fac else np.empty(0, np.int64)
    order = np.argsort(fac_all, kind="stable")
    return pts_all[order], fac_all[order]


@dataclass(frozen=True)
class DemandView:
    """The demand points an access result belongs to, row for row: their ids, units and
    residents (so no consumer re-pairs an :class:`Access` with the demand frame by position),
    and the residents of each age group the study knows (``groups``: ``"3-5"`` -> people per
    point, from the demand's ``age_3_5`` columns, :mod:`lifecircle.geo.ages`).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> homes = gpd.GeoDataFrame(
    ...     {"demand_id": [7, 9], "unit_id": ["a", "b"], "residents": [10.0, 2.5]},
    ...     geometry=[Point(0, 0), Point(1, 1)],
    ... )
    >>> view = DemandView.from_frame(homes)
    >>> view.ids.tolist(), view.unit_id.tolist(), view.residents.tolist()
    ([7, 9], ['a', 'b'], [10.0, 2.5])
    >>> view.take([1]).ids.tolist()
    [9]
    >>> DemandView.from_frame(homes.assign(age_3_5=[1.0, 0.5])).groups["3-5"].tolist()
    [1.0, 0.5]
    """

    ids: np.ndarray
    unit_id: np.ndarray
    residents: np.ndarray
    groups: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_frame(cls, demand: pd.DataFrame) -> DemandView:
        """The view of a demand frame: ``demand_id`` (else the index), ``unit_id`` (as
        text; empty when absent) and ``residents`` (1 each when absent)."""
        n = len(demand)
        ids = demand["demand_id"].to_numpy() if "demand_id" in demand else demand.index.to_numpy()
        units = (
            demand["unit_id"].astype(str).to_numpy(dtype=object)
            if "unit_id" in demand
            else np.full(n, "", dtype=object)
        )
        res = demand["residents"].to_numpy(float) if "residents" in demand else np.ones(n)
        groups = {
            group: demand[col].to_numpy(float)
            for col in demand.columns
            if (group := group_of_column(str(col))) is not None
        }
        return cls(ids, units, res, groups)

    def take(self, rows: np.ndarray | list[int]) -> DemandView:
        """The view of some rows, in the order given."""
        idx = np.asarray(rows, dtype=np.int64)
        groups = {g: w[idx] for g, w in self.groups.items()}
        return DemandView(self.ids[idx], self.unit_id[idx], self.residents[idx], groups)

    @staticmethod
    def concat(views: list[DemandView]) -> DemandView:
        """Views one after another."""
        groups = {g: np.concatenate([v.groups[g] for v in views]) for g in views[0].groups}
        return DemandView(
            np.concatenate([v.ids for v in views]),
            np.concatenate([v.unit_id for v in views]),
            np.concatenate([v.residents for v in views]),
            groups,
        )


@dataclass(frozen=True)
class Access:
    """Walking distances from every demand point to the nearest facility of each category.

    Attributes
    ----------
    demand
        The demand points, row for row (ids, units, residents).
    categories
        Category ids, one per column of ``distance_m``.
    thresholds_m
        Each category's walking threshold (metres).
    limits_m
        How far each category's search went: distances beyond are inf ("none in reach").
    distance_m
        ``(n_demand, n_categories)`` walking distance to the nearest facility: inf where none
        is within the search limit, the point is off the network, or on an island without one.
    facility
        Row position (in the study's facilities) of that nearest facility, -1 for none.
    count_within
        Facilities within the threshold per point and category (only when asked for).
    demand_snap
        Where each demand point joins the network.
    demand_component_size
        Nodes in the network piece each demand point is on (0 when not snapped).
    speed_kmh
        The walking speed used for minutes.
    unsnapped_facilities
        Row positions of facilities with no walkable street within the snap distance.
    facility_points, facility_of, facility_snap
        The facilities' access points (:func:`access_points`), the row position of each
        point's facility and where each point joins the network: snapped once here, for
        every later stage (catchments, capacity, scenarios). ``facility_snap`` is None
        when the result was merged from parts, each on its own network.
    """

    demand: DemandView
    categories: list[str]
    thresholds_m: np.ndarray
    limits_m: np.ndarray
    distance_m: np.ndarray
    facility: np.ndarray
    demand_snap: Snap
    demand_component_size: np.ndarray
    speed_kmh: float
    max_snap_m: float
    count_within: np.ndarray | None = None
    unsnapped_facilities: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    facility_points: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    facility_of: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    facility_snap: Snap | None = None
    demand_compound: np.ndarray | None = None
    """The gated compound each demand point walks from (-1: public ways); None when
    compounds are open."""
    facility_compound: np.ndarray | None = None
    """The gated compound of each of ``facility_points`` (-1: public ways); None when
    compounds are open."""
    gated: GatedNetwork | None = field(default=None, repr=False, compare=False)
    """The network split at the gated compounds' walls the result was walked on (None:
    compounds open). Every later stage walks by the same rule: :meth:`walk`."""
    profiles: Mapping[str, WalkProfile] = field(default_factory=dict)
    """The walking profile of each category (absent: the standard one); distances are
    effective walking metres on it (:class:`~lifecircle.params.WalkProfile`)."""

    age_groups: Mapping[str, str] = field(default_factory=dict)
    """The age group whose residents are each category's demand (``"3-5"`` for a
    kindergarten), for the categories whose group the demand knows (:func:`demand_groups`);
    the others' demand is every resident."""

    def group(self, category: str) -> str | None:
        """The age group whose residents are ``category``'s demand (None: every resident)."""
        return self.age_groups.get(category)

    def weights(self, category: str) -> np.ndarray:
        """``category``'s demand at each point: the residents of its age group where the
        study knows them, else the residents. The one place a stage picks a category's
        demand weights (coverage, gaps, 2SFCA, supply and placement all ask here)."""
        group = self.age_groups.get(category)
        return self.demand.residents if group is None else self.demand.groups[group]

    def profile(self, category: str) -> WalkProfile:
        """The walking profile ``category``'s distances were measured on."""
        return self.profiles.get(category, STANDARD_PROFILE)

    def network_for(self, network: WalkNetwork, category: str) -> WalkNetwork:
        """``network`` as ``category``'s residents walk it (itself on the standard profile):
        every later stage measures that category's walks on it."""
        return network.profiled(self.profile(category), self.speed_kmh)

    def column(self, category: str) -> int:
        """Column of ``category`` in the distance arrays."""
        return self.categories.index(category)

    @property
    def covered(self) -> np.ndarray:
        """``(n_demand, n_categories)`` mask: nearest facility within the threshold."""
        return self.distance_m <= self.thresholds_m[None, :]

    def minutes(self) -> np.ndarray:
        """Walking times in minutes at ``speed_kmh``."""
        return self.distance_m / (self.speed_kmh * 1000.0 / 60.0)

    @property
    def snapped(self) -> np.ndarray:
        """Demand points within the snap distance of a walkable street."""
        return self.demand_snap.ok

    def on_island(self, main_size: int) -> np.ndarray:
        """Demand points snapped to a network piece smaller than the main one."""
        return self.snapped & (self.demand_component_size < main_size)

    def entrances(self, facilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, Snap]:
        """The access points of some facilities, as :func:`access_points` orders them.

        Parameters
        ----------
        facilities
            Boolean mask over the study's facilities (row positions).

        Returns
        -------
        (points, facility, snap)
            The points, the row position of each point's facility and their snaps.
        """
        if self.facility_snap is None:
            raise ValueError("this access result keeps no facility snaps (merged from parts)")
        sel = np.flatnonzero(np.asarray(facilities, dtype=bool)[self.facility_of])
        return self.facility_points[sel], self.facility_of[sel], self.facility_snap.take(sel)

    def walk(
        self, points: np.ndarray, visitors: bool, network: WalkNetwork | None = None
    ) -> GatedWalk | None:
        """How pair searches from some facility points to the demand points walk: by the
        gated compounds' rule (None: on the open network).

        Parameters
        ----------
        points
            Which of :attr:`facility_points` are the sources (positions).
        visitors
            Whether the sources inside a compound serve visitors (the category is not
            members-only).
        network
            A category's walking-profile copy of the network (:meth:`network_for`) to walk
            on; None: the network the split was made on.

        Returns
        -------
        GatedWalk or None
            None when compounds are open.
        """
        if self.gated is None or self.facility_compound is None:
            return None
        assert self.demand_compound is not None
        split = self.gated if network is None else self.gated.on(network)
        return GatedWalk(split, self.facility_compound[points], self.demand_compound, visitors)

    def pairs(
        self, network: WalkNetwork, facilities: np.ndarray, limit_m: float, visitors: bool = True
    ) -> PairDistances:
        """Every (access point, demand point) pair within ``limit_m`` for some facilities,
        walked as this result was (by the gated compounds' rule, or on the open network).

        Parameters
        ----------
        network
            The walk network the result was computed on, or a category's walking-profile
            copy of it (:meth:`network_for`).
        facilities
            Boolean mask over the study's facilities; the sources are their access points
            as :meth:`entrances` orders them.
        limit_m
            Pairs farther apart are left out.
        visitors
            Whether facilities inside a gated compound serve visitors.

        Returns
        -------
        PairDistances
            Sources numbered as :meth:`entrances` gives them, targets as the demand.
        """
        if self.facility_snap is None:
            raise ValueError("this access result keeps no facility snaps (merged from parts)")
        sel = np.flatnonzero(np.asarray(facilities, dtype=bool)[self.facility_of])
        src = self.facility_snap.take(sel)
        walk = self.walk(sel, visitors, network)
        if walk is None:
            return network.pair_distances(src, self.demand_snap, limit_m=limit_m)
        return walk.pairs(src, self.demand_snap, limit_m)

    def frame(self, facilities: gpd.GeoDataFrame) -> pd.DataFrame:
        """One row per demand point: distance (m) and nearest facility id per category."""
        out = pd.DataFrame({"demand_id": self.demand.ids})
        fac_ids = facilities["facility_id"].astype(str).to_numpy()
        for k, cat in enumerate(self.categories):
            d = self.distance_m[:, k]
            out[f"{cat}_m"] = np.where(np.isfinite(d), d, np.nan)
            idx = self.facility[:, k]
            out[f"{cat}_facility"] = pd.Series(
                np.where(idx >= 0, fac_ids[np.maximum(idx, 0)], None)
            )
        return out


def nearest_facilities(  # noqa: PLR0913, RUF100 (the study's frames and the access parameters)
    network: WalkNetwork,
    demand: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    catalog: ServiceCatalog,
    *,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    search_factor: float = 3.0,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    edge_spacing_m: float = 50.0,
    count_within: bool = False,
    gated: GatedNetwork | None = None,
    profiles: Mapping[str, WalkProfile] | None = None,
) -> Access:
    """Distances from every demand point to the nearest facility of every category.

    Parameters
    ----------
    network
        The walk network.
    demand
        Resident points (the network's CRS).
    facilities
        ``category`` and point or polygon geometry (the network's CRS).
    catalog
        Categories and thresholds.
    speed_kmh
        Walking speed, for thresholds given in minutes.
    search_factor
        Each category's search stops at ``search_factor x threshold``: farther facilities
        are reported as "none in reach". At least 1.
    max_snap_m
        Points farther than this from any walkable street are unreachable.
    edge_spacing_m
        Spacing of access points along polygons of edge-access categories.
    count_within
        Also count the facilities within each threshold (on the open network).
    gated, profiles
        ``network`` split at gated compounds' walls (:mod:`lifecircle.coverage.gated`);
        the walking profile of each category (absent: the standard one).

    Returns
    -------
    Access
        The distances, with the demand's and the facilities' snaps.
    """
    cats = catalog.ids
    thresholds, limits = _bounds(catalog, speed_kmh, search_factor)
    d_snap, comp, d_group = _snap_demand(network, demand, max_snap_m, gated)
    pts, fac_of, a_snap, unsnapped, f_group = _snap_facilities(
        network, facilities, max_snap_m, edge_spacing_m, gated
    )
    dist, nearest, counts = _searches(
        (network, gated, {c: network.profiled(p, speed_kmh) for c, p in (profiles or {}).items()}),
        (d_snap, d_group),
        (a_snap, fac_of, facilities["category"].to_numpy(), f_group),
        catalog,
        (thresholds, limits),
        count_within,
    )
    return Access(
        demand=DemandView.from_frame(demand),
        categories=list(cats),
        thresholds_m=thresholds,
        limits_m=limits,
        distance_m=dist,
        facility=nearest,
        demand_snap=d_snap,
        demand_component_size=comp,
        speed_kmh=speed_kmh,
        max_snap_m=max_snap_m,
        count_within=counts,
        unsnapped_facilities=unsnapped,
        facility_points=pts,
        facility_of=fac_of,
        facility_snap=a_snap,
        **_walked(d_group, f_group, gated),
        profiles=dict(profiles or {}),
        age_groups=demand_groups(catalog, demand.columns),
    )


def demand_groups(catalog: ServiceCatalog, columns: Iterable[Any]) -> dict[str, str]:
    """Each category's age group (``ages``), where the demand has a column of it.

    Examples
    --------
    >>> from lifecircle.geo.catalog import load_catalog
    >>> demand_groups(load_catalog("gb50180"), ["residents", "age_3_5", "age_60+"])["kindergarten"]
    '3-5'
    >>> "nursery" in demand_groups(load_catalog("gb50180"), ["age_3_5"])
    False
    """
    known = {g for c in columns if (g := group_of_column(str(c))) is not None}
    return {c.id: c.ages_text() for c in catalog if c.ages is not None and c.ages_text() in known}


def _walked(
    demand: np.ndarray | None, facility: np.ndarray | None, gated: GatedNetwork | None
) -> dict[str, Any]:
    """How an access result was walked: the compounds of its points, and the split network."""
    return {"demand_compound": demand, "facility_compound": facility, "gated": gated}


def _bounds(
    catalog: ServiceCatalog, speed_kmh: float, search_factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each category's threshold and search limit (metres)."""
    if search_factor < 1:
        raise ValueError("search_factor must be at least 1")
    thresholds = np.array([catalog[c].threshold(speed_kmh) for c in catalog.ids])
    return thresholds, thresholds * search_factor


def _searches(
    networks: tuple[WalkNetwork, GatedNetwork | None, dict[str, WalkNetwork]],
    demand: tuple[Snap, np.ndarray | None],
    entrances: tuple[Snap, np.ndarray, np.ndarray, np.ndarray | None],
    catalog: ServiceCatalog,
    bounds: tuple[np.ndarray, np.ndarray],
    count_within: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Distances, nearest facilities and counts: on the open network, or by the gated
    compounds' rule (counts are always on the open network). ``networks``: the network,
    its gated split and each category's walking-profile network (absent: ``network``);
    ``entrances``: the access points' snaps, facility rows, the facilities' categories and
    the points' compounds."""
    network, gated, walks = networks
    d_snap, d_group = demand
    a_snap, fac_of, fac_cat, f_group = entrances
    point_cat = fac_cat[fac_of] if len(fac_of) else np.empty(0, dtype=object)
    thresholds, limits = bounds
    cats = list(catalog.ids)
    counts = None
    if gated is None or count_within:
        dist, nearest, counts = _profiled_search(
            (network, walks),
            d_snap,
            (a_snap, fac_of, point_cat),
            cats,
            (thresholds, limits),
            count_within,
        )
    if gated is not None:
        assert d_group is not None and f_group is not None
        dist, nearest = _gated_search(
            (gated, walks),
            (d_snap, d_group),
            (a_snap, fac_of, point_cat, f_group),
            catalog,
            limits,
        )
    return dist, nearest, counts


def _gated_search(
    gateds: tuple[GatedNetwork, dict[str, WalkNetwork]],
    demand: tuple[Snap, np.ndarray],
    entrances: tuple[Snap, np.ndarray, np.ndarray, np.ndarray],
    catalog: ServiceCatalog,
    limits: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each category's nearest facility by the gated compounds' rule (on the category's
    walking-profile network where it has one)."""
    gated, walks = gateds
    snap, fac_of, point_cat, group = entrances
    cats = catalog.ids
    dist = np.full((len(demand[1]), len(cats)), np.inf)
    nearest = np.full(dist.shape, -1, dtype=np.int64)
    for k, cat in enumerate(cats):
        sel = np.flatnonzero(point_cat == cat)
        if len(sel) == 0:
            continue
        visitors = not catalog[cat].members_only
        split = gated.on(walks[cat]) if cat in walks else gated
        d, p = split.nearest((snap.take(sel), group[sel]), demand, visitors, float(limits[k]))
        dist[:, k] = d
        hit = p >= 0
        nearest[hit, k] = fac_of[sel[p[hit]]]
    return dist, nearest


def _snap_demand(
    network: WalkNetwork, demand: gpd.GeoDataFrame, max_snap_m: float, gated: GatedNetwork | None
) -> tuple[Snap, np.ndarray, np.ndarray | None]:
    """Where the demand points join the network, the size of the piece each is on, and
    (gated) the compound each walks from."""
    group = None
    if gated is None:
        d_snap = network.snap(demand, max_snap_m=max_snap_m)
    else:
        d_snap, group = gated.snap(demand, max_snap_m)
    comp = np.zeros(len(demand), dtype=np.int64)
    ok = d_snap.ok
    comp[ok] = network.component_size[network.component[network.u[d_snap.edge[ok]]]]
    return d_snap, comp, group


def _snap_facilities(
    network: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    max_snap_m: float,
    edge_spacing_m: float,
    gated: GatedNetwork | None,
) -> tuple[np.ndarray, np.ndarray, Snap, np.ndarray, np.ndarray | None]:
    """The facilities' access points, their facilities and snaps, the facilities none of
    whose points is within ``max_snap_m`` of a walkable street, and (gated) the compound
    of each point."""
    pts, fac_of = access_points(facilities, edge_spacing_m=edge_spacing_m)
    group = None
    if gated is None:
        a_snap = network.snap(pts, max_snap_m=max_snap_m)
    else:
        a_snap, group = gated.snap(pts, max_snap_m)
    reached = np.zeros(len(facilities), dtype=bool)
    reached[fac_of[a_snap.ok]] = True
    unsnapped = np.flatnonzero(~reached)
    if len(unsnapped):
        log.warning(
            "%d facilities are more than %.0f m from any walkable street",
            len(unsnapped),
            max_snap_m,
        )
    return pts, fac_of, a_snap, unsnapped, group


def _search(  # noqa: PLR0913, RUF100 (as the tests call it)
    network: WalkNetwork,
    targets: Located,
    entrances: tuple[Snap, np.ndarray, np.ndarray],
    categories: list[str],
    thresholds: np.ndarray,
    limits: np.ndarray,
    count_within: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`_profiled_search` on one network, for located demand points."""
    bounds = (thresholds, limits)
    return _profiled_search((network, {}), targets, entrances, categories, bounds, count_within)


def _profiled_search(
    networks: tuple[WalkNetwork, dict[str, WalkNetwork]],
    demand: Snap | Located,
    entrances: tuple[Snap, np.ndarray, np.ndarray],
    categories: list[str],
    bounds: tuple[np.ndarray, np.ndarray],
    count_within: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One bounded search per category from its facilities' access points.

    Parameters
    ----------
    networks
        The network, and each category's walking-profile network (absent: the network).
    demand
        Where the demand points join the network (located: only without profiles).
    entrances
        The access points' snaps, facility rows and categories.
    categories, bounds
        The categories, their thresholds and search limits.
    count_within
        Also count the facilities within each threshold.

    Returns
    -------
    (distance, facility, counts)
        As :class:`Access` has them (counts None unless asked for).
    """
    snap, fac_of, point_cat = entrances
    thresholds, limits = bounds
    network, walks = networks
    assert isinstance(demand, Snap) or not walks
    located: dict[int, Located] = {}  # demand located once per network, for every category
    n, c = len(demand), len(categories)
    dist = np.full((n, c), np.inf)
    nearest = np.full((n, c), -1, dtype=np.int64)
    counts = np.zeros((n, c), dtype=np.int32) if count_within else None
    for k, cat in enumerate(categories):
        sel = np.flatnonzero(point_cat == cat)
        if len(sel) == 0:
            continue
        src = snap.take(sel)
        net = walks.get(cat, network)
        if id(net) not in located:
            located[id(net)] = net.locate(demand)
        targets = located[id(net)]
        d, w = net.distances(src, targets, limit_m=limits[k])
        dist[:, k] = d
        hit = w >= 0
        nearest[hit, k] = fac_of[sel[w[hit]]]
        if counts is not None:
            pairs = net.pair_distances(src, targets, limit_m=thresholds[k])
            fac = fac_of[sel[pairs.source]]
            uniq = pd.DataFrame({"t": pairs.target, "f": fac}).drop_duplicates()
            counts[:, k] = np.bincount(uniq["t"].to_numpy(), minlength=n)
    return dist, nearest, counts


def k_nearest_facilities(
    network: WalkNetwork,
    demand: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    k: int,
    limit_m: float,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    edge_spacing_m: float = 50.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest distinct facilities of each demand point within ``limit_m``.

    Parameters
    ----------
    network
        The walk network.
    demand
        Resident points (the network's CRS).
    facilities
        Point or polygon facilities (the network's CRS).
    k
        How many facilities per demand point.
    limit_m
        Farther facilities are not counted.
    max_snap_m
        Points farther than this from any walkable street are unreachable.
    edge_spacing_m
        Spacing of access points along polygon facilities (:func:`access_points`).

    Returns
    -------
    (distance, facility)
        ``(n_demand, k)`` arrays, nearest first: walking metres (inf where fewer than
        ``k`` are within reach) and row positions in ``facilities`` (-1).

    Examples
    --------
    >>> from shapely.geometry import LineString, Point
    >>> crs = "EPSG:32650"
    >>> street = [LineString([(0, 0), (300, 0)])]
    >>> edges = gpd.GeoDataFrame({"u": [1], "v": [2]}, geometry=street, crs=crs)
    >>> net = WalkNetwork.from_edges(edges)
    >>> fac = gpd.GeoDataFrame(geometry=[Point(0, 0), Point(100, 0), Point(300, 0)], crs=crs)
    >>> home = gpd.GeoDataFrame(geometry=[Point(120, 5)], crs=crs)
    >>> d, f = k_nearest_facilities(net, home, fac, k=2, limit_m=1000)
    >>> d.round(1).tolist(), f.tolist()
    ([[25.0, 125.0]], [[1, 0]])
    """
    pts, fac_of = access_points(facilities, edge_spacing_m=edge_spacing_m)
    pairs = network.pair_distances(
        network.snap(pts, max_snap_m=max_snap_m),
        network.snap(demand, max_snap_m=max_snap_m),
        limit_m=limit_m,
    )
    frame = pd.DataFrame({"t": pairs.target, "f": fac_of[pairs.source], "d": pairs.dist})
    frame = frame.sort_values(["t", "d", "f"]).drop_duplicates(["t", "f"])  # a facility once
    frame["rank"] = frame.groupby("t").cumcount()
    frame = frame.loc[frame["rank"] < k]
    dist = np.full((len(demand), k), np.inf)
    which = np.full((len(demand), k), -1, dtype=np.int64)
    dist[frame["t"].to_numpy(), frame["rank"].to_numpy()] = frame["d"].to_numpy()
    which[frame["t"].to_numpy(), frame["rank"].to_numpy()] = frame["f"].to_numpy()
    return dist, which


def plan_access(network: WalkNetwork, area: StudyArea, params: PlanParams) -> Access:
    """Every resident's walk to each category (:func:`nearest_facilities`), with a plan's
    parameters: the one place whole and partitioned runs compute access.

    Parameters
    ----------
    network
        The walk network built from ``area.edges``.
    area
        The study: residents, facilities and catalog.
    params
        The plan's parameters (speed, search factor, snap distance, ...).

    Returns
    -------
    Access
        As :func:`nearest_facilities` returns it.
    """
    gated = plan_gated_network(network, area)
    return nearest_facilities(
        network,
        area.demand,
        area.facilities,
        area.catalog,
        speed_kmh=params.speed_kmh,
        search_factor=params.search_factor,
        max_snap_m=params.max_snap_m,
        edge_spacing_m=params.edge_spacing_m,
        count_within=params.count_within,
        gated=gated,
        profiles=category_profiles(area, params),
    )


def _no_ways_notes(area: StudyArea) -> list[Note]:
    """A note on gated compounds with residents but no ways (they walk from outside)."""
    if area.compounds is None or "compound" not in area.edges.columns:
        return []
    inside = point_compounds(np.asarray(area.demand.geometry.to_numpy()), area.compounds)
    with_ways = np.unique(area.edges["compound"].to_numpy(dtype=np.int64))
    lost = (inside >= 0) & ~np.isin(inside, with_ways)
    if not lost.any():
        return []
    values = {"n": len(np.unique(inside[lost])), "points": int(lost.sum())}
    return [Note("note_compounds_no_ways", values)]


def plan_gated_network(
    network: WalkNetwork, area: StudyArea, opened: int | None = None
) -> GatedNetwork | None:
    """The study's network split at its gated compounds' walls, or None when they are open.

    Parameters
    ----------
    network
        The walk network built from ``area.edges``.
    area
        The study (``area.compounds`` None: compounds open).
    opened
        A compound (row) to treat as open: its ways public, its residents walking from them.

    Returns
    -------
    GatedNetwork or None
        The split network.
    """
    if area.compounds is None or "compound" not in area.edges.columns:
        return None
    key = ("gated", id(area.compounds), opened)
    hit = network.derived.get(key)
    if not isinstance(hit, GatedNetwork) or hit.compounds is not area.compounds:
        edge_compound = area.edges["compound"].to_numpy(dtype=np.int64).copy()
        if opened is not None:
            edge_compound[edge_compound == opened] = -1
        hit = GatedNetwork.build(network, area.compounds, edge_compound)
        if opened is None:  # the study's own split is built once (its snapping indexes too)
            network.derived[key] = hit
    return hit


def access_notes(access: Access, area: StudyArea, main_piece: int) -> list[Note]:
    """What the planner should know about an access result: required categories without
    any facility, residents too far from any street, residents on islands of the network
    (pieces smaller than ``main_piece`` nodes), facilities that could not be snapped.

    Parameters
    ----------
    access
        The access result.
    area
        The study it was computed for.
    main_piece
        Nodes in the network's largest piece: residents on smaller pieces are on islands.

    Returns
    -------
    list of Note
        The notes, in that order (none when all is well).
    """
    notes = []
    counts = area.facilities["category"].value_counts()
    empty = [c for c in area.catalog if c.required and counts.get(c.id, 0) == 0]
    if empty:
        names = {
            "en": ", ".join(c.name_en for c in empty),
            "zh": "、".join(c.name_zh for c in empty),
        }
        notes.append(Note("note_no_facility", {"n": len(empty), "names": names}))
    res = access.demand.residents
    snap_m = f"{access.max_snap_m:.0f}"
    off = ~access.snapped
    if off.any():
        values = {
            "points": int(off.sum()),
            "residents": f"{res[off].sum():.0f}",
            "distance": snap_m,
        }
        notes.append(Note("note_unsnapped_demand", values))
    island = access.on_island(main_piece)
    if island.any():
        values = {"points": int(island.sum()), "residents": f"{res[island].sum():.0f}"}
        notes.append(Note("note_islands", values))
    notes += _no_ways_notes(area)
    notes += _group_notes(access, area.catalog)
    if len(access.unsnapped_facilities):
        ids = area.facilities["facility_id"].astype(str).to_numpy()[access.unsnapped_facilities]
        shown = ", ".join(ids[:10]) + ("..." if len(ids) > 10 else "")
        notes.append(
            Note("note_unsnapped_facilities", {"n": len(ids), "distance": snap_m, "ids": shown})
        )
    return notes


def _group_notes(access: Access, catalog: ServiceCatalog) -> list[Note]:
    """A note for each category that serves an age group the study does not know while it
    knows others: its demand is then every resident (none without any age data)."""
    if not access.demand.groups:
        return []
    known = ", ".join(sorted(access.demand.groups))
    notes = []
    for cat in catalog:
        if cat.ages is not None and cat.id in access.categories and not access.group(cat.id):
            names = {"en": cat.name_en, "zh": cat.name_zh}
            group = cat.ages_text()
            values = {
                "category": names,
                "group": group,
                "known": known,
                "column": column_of_group(group),
            }
            notes.append(Note("note_age_group_absent", values))
    return notes
