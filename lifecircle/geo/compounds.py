"""Gated compounds (小区, 单位大院, campuses) and their entrances, from OpenStreetMap.

A compound is an area with controlled entry: ``landuse=residential`` areas and campus
areas (``amenity=university``, ``college``, ``school``, ``kindergarten``, ``hospital``;
``landuse=education``, ``military``). An area lying mostly inside a larger one (a school in
a residential compound) is absorbed into it: the larger compound's members may walk its
ways, and its facilities are entered through the larger compound's entrances.

A walkable way *crosses* a compound's boundary where an edge inside the compound (its
midpoint in the polygon) meets an edge outside it. A crossing is an *entrance* when a gate
or entrance node (``barrier=gate``, ``lift_gate``, ..., ``entrance=*``) open to walkers lies
within :data:`ENTRANCE_NEAR_M` of it. A gate tagged ``access=no``/``private`` (or
``foot=no``/``private``, or ``locked=yes``) without ``foot=yes``/``designated``/
``permissive`` is closed, as OSRM's foot profile reads access tags before barriers. A
compound with no gate or entrance node mapped near its boundary at all is entered at every
crossing (and listed in a note, so the planner can add its entrances). Streets of the
public road classes (trunk, primary, secondary, tertiary and their links) are never a
compound's internal ways, even where a polygon was drawn across them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree

from lifecircle.errors import Problem

__all__ = [
    "ENTRANCE_NEAR_M",
    "Compounds",
    "areas_from_file",
    "compound_kind",
    "compounds_from_osm",
    "crossing_entrances",
    "edge_compounds",
    "gate_is_open",
    "in_mainland_china",
    "on_edges",
    "point_compounds",
]

ENTRANCE_NEAR_M = 15.0
"""A gate or entrance node this close (metres) to a boundary crossing makes it an entrance.
A project assumption: OSM maps a compound gate on the way, at or a few metres from the
drawn boundary; no standard gives a figure."""

CAMPUS_AMENITY = frozenset({"university", "college", "school", "kindergarten", "hospital"})
CAMPUS_LANDUSE = frozenset({"education", "military"})
PUBLIC_HIGHWAYS = frozenset(
    {
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "motorway",
        "motorway_link",
    }
)
ABSORB_SHARE = 0.5
"""An area whose overlap with a larger compound is at least this share of its own area is
absorbed into that compound."""

_FOOT_YES = frozenset({"yes", "designated", "permissive"})
_CLOSED = frozenset({"no", "private", "use_sidepath", "delivery", "agricultural", "forestry"})


PLANNER_TAG = "lifecircle:compound"
"""The tag :func:`areas_from_file` gives the planner's compounds (kind ``"planner"``)."""

_YES = frozenset({"yes", "y", "true", "1", "gated", "是", "封闭"})
_NO = frozenset({"no", "n", "false", "0", "open", "否", "开放"})


def areas_from_file(
    frame: gpd.GeoDataFrame, name_col: str | None, gated_col: str | None, source: str
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """The planner's compounds (WGS84 polygons) as :func:`compounds_from_osm` takes areas.

    Parameters
    ----------
    frame
        The polygons, in WGS84.
    name_col, gated_col
        The name column and the gated column (yes/no; absent: every row is gated).
    source
        The file, for problems.

    Returns
    -------
    (areas, problems)
        The gated rows' polygons, and a problem per row whose gated value is not yes/no.
    """
    problems: list[Problem] = []
    keep = np.ones(len(frame), dtype=bool)
    if gated_col is not None:
        for i, value in enumerate(frame[gated_col].astype(str).str.strip().str.lower()):
            if value in _NO:
                keep[i] = False
            elif value not in _YES:
                problems.append(
                    Problem.of(
                        "compound_gated",
                        source,
                        place=("row", i + 1),
                        column=gated_col,
                        value=value,
                    )
                )
    names = frame[name_col].astype(str).tolist() if name_col else [""] * len(frame)
    polygons = (shapely.get_type_id(frame.geometry.to_numpy()) >= 3) & keep
    rows = np.flatnonzero(polygons)
    areas = gpd.GeoDataFrame(
        {
            "osm_type": ["file"] * len(rows),
            "osm_id": rows + 1,
            "tags": [{PLANNER_TAG: "yes", "name": names[i]} for i in rows],
        },
        geometry=shapely.make_valid(frame.geometry.to_numpy()[rows]),
        crs=frame.crs,
    )
    return areas, problems


def compound_kind(tags: Mapping[str, str]) -> str | None:
    """``"residential"``, ``"campus"``, or None for an area that is no compound.

    Parameters
    ----------
    tags
        The area's OSM tags.

    Returns
    -------
    str or None
        The kind.

    Examples
    --------
    >>> compound_kind({"landuse": "residential"}), compound_kind({"amenity": "school"})
    ('residential', 'campus')
    >>> compound_kind({"landuse": "grass"}) is None
    True
    """
    if tags.get(PLANNER_TAG) == "yes":
        return "planner"
    if tags.get("amenity") in CAMPUS_AMENITY or tags.get("landuse") in CAMPUS_LANDUSE:
        return "campus"
    if tags.get("landuse") == "residential":
        return "residential"
    return None


def gate_is_open(tags: Mapping[str, str]) -> bool:
    """Whether walkers may pass a gate or entrance node (``foot`` first, then ``access``).

    Parameters
    ----------
    tags
        The node's OSM tags.

    Returns
    -------
    bool
        False for ``access``/``foot`` = no, private (...) or ``locked=yes`` without a
        positive ``foot`` tag.

    Examples
    --------
    >>> gate_is_open({"barrier": "gate"}), gate_is_open({"barrier": "gate", "access": "private"})
    (True, False)
    >>> gate_is_open({"barrier": "gate", "access": "private", "foot": "yes"})
    True
    """
    foot = tags.get("foot")
    if foot in _FOOT_YES:
        return True
    if foot in _CLOSED or tags.get("access") in _CLOSED:
        return False
    return tags.get("locked") != "yes"


@dataclass(frozen=True)
class Compounds:
    """The compounds of a study and the gate and entrance nodes near them (metric CRS).

    Attributes
    ----------
    areas
        ``compound_id`` (``way/123``), ``kind``, ``name``, ``absorbed`` (ids of areas merged
        into it), polygon geometry; row position is the compound's number.
    gates
        ``osm_id``, ``barrier``, ``entrance``, ``open``, point geometry.
    """

    areas: gpd.GeoDataFrame
    gates: gpd.GeoDataFrame
    edge_compound: np.ndarray | None = None
    """Per row of the study's edges: the compound it is an internal way of, -1 public
    (set by :func:`on_edges`)."""
    crossings: pd.DataFrame | None = None
    """Where ways cross a compound boundary: ``node`` (OSM id), ``compound`` (row),
    ``compound_id``, ``entrance`` (walkers may pass), ``gate`` (OSM id, -1), ``x``, ``y``."""

    def __len__(self) -> int:
        return len(self.areas)

    def with_mapped_entrances(self, near_m: float = ENTRANCE_NEAR_M) -> np.ndarray:
        """Mask of compounds with a gate or entrance node within ``near_m`` of the boundary."""
        out = np.zeros(len(self.areas), dtype=bool)
        if len(self.gates) == 0 or len(self.areas) == 0:
            return out
        rings = shapely.boundary(self.areas.geometry.to_numpy())
        tree = shapely.STRtree(rings)
        _g, hit = tree.query(self.gates.geometry.to_numpy(), predicate="dwithin", distance=near_m)
        out[hit] = True
        return out


def compounds_from_osm(
    areas: gpd.GeoDataFrame, gates: gpd.GeoDataFrame, crs: CRS | str
) -> Compounds:
    """The compounds and gates of :func:`lifecircle.geo.osm.load_compound_features`.

    Parameters
    ----------
    areas, gates
        Tagged polygons and nodes (WGS84), with ``osm_type``, ``osm_id`` and ``tags``.
    crs
        The study's metric CRS.

    Returns
    -------
    Compounds
        Nested areas absorbed into the compound that holds them.
    """
    kinds = [compound_kind(t) for t in areas["tags"]] if len(areas) else []
    keep = np.array([k is not None for k in kinds], dtype=bool)
    a = areas.loc[keep].to_crs(crs)
    frame = gpd.GeoDataFrame(
        {
            "compound_id": [
                f"{t}/{int(i)}" for t, i in zip(a["osm_type"], a["osm_id"], strict=True)
            ],
            "kind": [k for k in kinds if k is not None],
            "name": [t.get("name:zh") or t.get("name") or "" for t in a["tags"]],
        },
        geometry=a.geometry.to_numpy(),
        crs=crs,
    )
    frame = _absorb_nested(frame.drop_duplicates("compound_id").reset_index(drop=True))
    g = gates.to_crs(crs) if len(gates) else gates
    gate_frame = gpd.GeoDataFrame(
        {
            "osm_id": g["osm_id"].to_numpy() if len(g) else [],
            "barrier": [t.get("barrier") for t in g["tags"]] if len(g) else [],
            "entrance": [t.get("entrance") for t in g["tags"]] if len(g) else [],
            "open": [gate_is_open(t) for t in g["tags"]] if len(g) else [],
        },
        geometry=g.geometry.to_numpy() if len(g) else gpd.GeoSeries([]).to_numpy(),
        crs=crs,
    )
    return Compounds(frame, gate_frame)


def _absorb_nested(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Merge each area lying mostly inside a larger one into the largest that holds it."""
    geoms = frame.geometry.to_numpy()
    area = shapely.area(geoms)
    order = np.argsort(-area, kind="stable")
    owner = np.arange(len(frame))
    tree = shapely.STRtree(geoms)
    for i in order:
        if owner[i] != i:
            continue
        for j in tree.query(geoms[i], predicate="intersects"):
            if j == i or area[j] > area[i] or (area[j] == area[i] and j < i) or owner[j] != j:
                continue
            if shapely.area(shapely.intersection(geoms[i], geoms[j])) >= ABSORB_SHARE * area[j]:
                owner[j] = i
    kept = np.flatnonzero(owner == np.arange(len(frame)))
    ids = frame["compound_id"].to_numpy()
    absorbed = [", ".join(ids[(owner == k) & (np.arange(len(frame)) != k)]) for k in kept]
    out = frame.iloc[kept].reset_index(drop=True)
    out["absorbed"] = absorbed
    return out


def point_compounds(points: np.ndarray, compounds: Compounds) -> np.ndarray:
    """The compound each point lies in (the smallest, when several), -1 for none.

    Parameters
    ----------
    points
        Shapely points (the compounds' CRS).
    compounds
        The compounds.

    Returns
    -------
    numpy.ndarray
        Row positions in ``compounds.areas``.
    """
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(compounds) == 0:
        return out
    geoms = compounds.areas.geometry.to_numpy()
    pt, poly = shapely.STRtree(geoms).query(points, predicate="within")
    if len(pt):
        frame = pd.DataFrame({"p": pt, "c": poly, "a": shapely.area(geoms[poly])})
        frame = frame.sort_values(["p", "a", "c"]).drop_duplicates("p")
        out[frame["p"].to_numpy()] = frame["c"].to_numpy()
    return out


def edge_compounds(geometry: np.ndarray, highway: np.ndarray, compounds: Compounds) -> np.ndarray:
    """The compound whose internal way each edge is (its midpoint inside), -1 for public.

    Parameters
    ----------
    geometry
        The edges' LineStrings (the compounds' CRS).
    highway
        Their ``highway`` tags: the public road classes are never internal.
    compounds
        The compounds.

    Returns
    -------
    numpy.ndarray
        Row positions in ``compounds.areas``, -1 for public edges.
    """
    mid = shapely.line_interpolate_point(geometry, 0.5, normalized=True)
    out = point_compounds(np.asarray(mid), compounds)
    public = np.isin(np.asarray(highway, dtype=object), list(PUBLIC_HIGHWAYS))
    out[public] = -1
    return out


def crossing_entrances(
    node_xy: np.ndarray, compound: np.ndarray, compounds: Compounds, near_m: float = ENTRANCE_NEAR_M
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which boundary crossings are entrances.

    Parameters
    ----------
    node_xy
        ``(n, 2)`` coordinates of the crossing nodes.
    compound
        The compound each crossing enters.
    compounds
        The compounds and gates.
    near_m
        Gates this close to a crossing count for it.

    Returns
    -------
    (entrance, gate, unmapped)
        Per crossing: whether walkers may pass, the OSM id of the open gate used (-1 when
        none), and whether its compound has no gate mapped at all (entered everywhere).
    """
    n = len(node_xy)
    mapped = compounds.with_mapped_entrances(near_m)
    unmapped = ~mapped[compound] if n else np.zeros(0, dtype=bool)
    gate = np.full(n, -1, dtype=np.int64)
    state = np.zeros(n, dtype=np.int8)  # 0 no gate near, 1 closed gate, 2 open gate
    if n and len(compounds.gates):
        gxy = shapely.get_coordinates(compounds.gates.geometry.to_numpy())
        near = cKDTree(gxy).query_ball_point(node_xy, near_m)
        is_open = compounds.gates["open"].to_numpy(dtype=bool)
        ids = compounds.gates["osm_id"].to_numpy()
        for i, hits in enumerate(near):
            if not hits:
                continue
            hits = np.asarray(hits)
            d = np.hypot(*(gxy[hits] - node_xy[i]).T)
            ok = hits[is_open[hits]]
            if len(ok):
                state[i] = 2
                gate[i] = ids[ok[np.argmin(d[is_open[hits]])]]
            else:
                state[i] = 1
    entrance = (state == 2) | ((state == 0) & unmapped)
    return entrance, gate, unmapped


def on_edges(compounds: Compounds, edges: gpd.GeoDataFrame) -> Compounds:
    """The compounds laid on a study's walk edges: internal ways and boundary crossings.

    Parameters
    ----------
    compounds
        The compounds (the edges' CRS).
    edges
        The study's edges: ``u``, ``v`` (OSM node ids), ``highway``, LineString geometry.

    Returns
    -------
    Compounds
        With ``edge_compound`` and ``crossings`` set.
    """
    geoms = edges.geometry.to_numpy()
    highway = edges["highway"].to_numpy(dtype=object) if "highway" in edges else None
    label = edge_compounds(
        geoms, np.full(len(geoms), None) if highway is None else highway, compounds
    )
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    last = np.flatnonzero(np.r_[which[1:] != which[:-1], True])
    first = np.r_[0, last[:-1] + 1]
    ends = pd.DataFrame(
        {
            "node": np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]).astype(np.int64),
            "label": np.concatenate([label, label]),
            "x": np.concatenate([coords[first, 0], coords[last, 0]]),
            "y": np.concatenate([coords[first, 1], coords[last, 1]]),
        }
    ).drop_duplicates(["node", "label"])
    public_nodes = set(ends.loc[ends["label"] < 0, "node"].tolist())
    cross = ends.loc[(ends["label"] >= 0) & ends["node"].isin(public_nodes)]
    cross = cross.rename(columns={"label": "compound"}).reset_index(drop=True)
    xy = cross[["x", "y"]].to_numpy(dtype=float).reshape(-1, 2)
    entrance, gate, _unmapped = crossing_entrances(xy, cross["compound"].to_numpy(), compounds)
    cross["compound_id"] = compounds.areas["compound_id"].to_numpy()[cross["compound"].to_numpy()]
    cross["entrance"] = entrance
    cross["gate"] = gate
    cols = ["node", "compound", "compound_id", "entrance", "gate", "x", "y"]
    return Compounds(compounds.areas, compounds.gates, label, cross[cols])


CHINA_EXTREMES = (73.55, 18.17, 134.77, 53.56)
"""West, south, east, north: the extreme points of the People's Republic of China (Mohe
53°33′N, the south of Hainan 18°10′N, Wusu 134°46′E, the Pamirs 73°33′E; Wikipedia,
"Extreme points of China"). A box: Hong Kong, Macau, Taiwan and neighbouring countries'
parts inside it are taken as mainland China too (set ``compounds`` explicitly there)."""


def in_mainland_china(lon: float, lat: float) -> bool:
    """Whether a WGS84 point lies in the box of mainland China (:data:`CHINA_EXTREMES`).

    Examples
    --------
    >>> in_mainland_china(116.35, 39.96), in_mainland_china(24.94, 60.17)
    (True, False)
    """
    w, s, e, n = CHINA_EXTREMES
    return bool(w <= lon <= e and s <= lat <= n)
