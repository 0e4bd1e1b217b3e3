"""Read OpenStreetMap extracts into the layers a life-circle study needs.

``.osm.pbf`` files are read with pyrosm; ``.osm``, ``.osm.xml`` and ``.osm.bz2`` files with
osmnx. Both give the same :class:`OsmLayers`: walkable street edges, buildings, service
features (POIs) and land use, in WGS84, with every OSM tag of a feature in a ``tags`` dict.
A place name, bounding box or polygon can be fetched with osmnx when online
(:func:`fetch_osm`); offline that fails at once and says to pass a file instead.
"""

from __future__ import annotations

import bz2
import contextlib
import json
import logging
import re
import shutil
import socket
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from lifecircle.errors import InputError, OfflineError, Problem
from lifecircle.i18n import Note

__all__ = [
    "COMPOUND_FILTER",
    "OsmLayers",
    "fetch_osm",
    "is_ground_level",
    "load_admin_boundaries",
    "load_compound_features",
    "load_osm",
    "osm_bounds",
]

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
PBF_SUFFIXES = (".osm.pbf", ".pbf")
XML_SUFFIXES = (".osm", ".osm.xml", ".xml", ".osm.bz2", ".xml.bz2")

# Highways nobody may walk on, following the usual walk-network filters.
_NOT_WALKABLE = {
    "abandoned",
    "bus_guideway",
    "busway",
    "construction",
    "cycleway",
    "motor",
    "motorway",
    "motorway_link",
    "no",
    "planned",
    "platform",
    "proposed",
    "raceway",
    "razed",
    "trunk",
    "trunk_link",
    "services",
    "rest_area",
    "escape",
}
_EDGE_TAGS = (
    "highway",
    "name",
    "bridge",
    "tunnel",
    "layer",
    "level",
    "foot",
    "access",
    "service",
    "area",
)
COMPOUND_FILTER: dict[str, bool | list[str]] = {
    "landuse": ["residential", "education", "military"],
    "amenity": ["university", "college", "school", "kindergarten", "hospital"],
    "barrier": [
        "gate",
        "lift_gate",
        "swing_gate",
        "sliding_gate",
        "wicket_gate",
        "kissing_gate",
        "turnstile",
        "full-height_turnstile",
        "entrance",
        "sally_port",
    ],
    "entrance": True,
}
"""OSM tags of the areas that may be gated compounds and of the gates and entrances into
them (read by :func:`load_compound_features`; :mod:`lifecircle.geo.compounds` sorts them)."""

_META_COLUMNS = {
    "id",
    "osm_id",
    "osm_type",
    "lon",
    "lat",
    "tags",
    "visible",
    "version",
    "timestamp",
    "changeset",
    "geometry",
    "element",
    "element_type",
    "osmid",
    "nodes",
    "ways",
    "members",
}


@dataclass
class OsmLayers:
    """The OSM layers of a study, all in WGS84.

    Attributes
    ----------
    edges
        Walkable street segments: ``u``, ``v`` (OSM node ids), ``highway``, ``name``,
        ``ground`` (False for bridges, tunnels and non-zero layers or levels), LineString
        geometry from ``u`` to ``v``.
    buildings
        ``osm_id``, ``building``, ``tags``, polygon geometry.
    features
        Candidate service features: ``osm_type``, ``osm_id``, ``name``, ``tags``, geometry.
    landuse
        ``landuse``, polygon geometry.
    extent
        The area the data covers (the clip polygon, the file's bounds, or the network's hull).
    source
        Where the data came from (a path or a query), for provenance.
    """

    edges: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    features: gpd.GeoDataFrame
    landuse: gpd.GeoDataFrame
    extent: BaseGeometry
    source: str
    notes: list[Note] = field(default_factory=list)


def is_ground_level(
    bridge: Any = None,
    tunnel: Any = None,
    layer: Any = None,
    level: Any = None,
    highway: Any = None,
) -> bool:
    """Whether a way is at ground level, so that a point beside it may join it.

    Bridges, tunnels (a building passage counts as ground), non-zero ``layer``, indoor
    ``level`` other than 0, and elevators are not.

    Parameters
    ----------
    bridge, tunnel, layer, level, highway
        The way's OSM tags of those keys (None, NaN or "" when absent).

    Returns
    -------
    bool
        True at ground level.

    Examples
    --------
    >>> is_ground_level(), is_ground_level(bridge="yes"), is_ground_level(tunnel="building_passage")
    (True, False, True)
    >>> is_ground_level(layer="-1"), is_ground_level(layer="0"), is_ground_level(level="1;2")
    (False, True, False)
    """
    if _present(bridge) and str(bridge).lower() not in {"no", "0", "false"}:
        return False
    if _present(tunnel) and str(tunnel).lower() not in {"no", "0", "false", "building_passage"}:
        return False
    if _first_number(layer) not in (None, 0.0):
        return False
    if _first_number(level) not in (None, 0.0):
        return False
    return not (_present(highway) and str(highway) == "elevator")


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and np.isnan(value):
        return False
    return value is not pd.NA and str(value) != ""


def _first_number(value: Any) -> float | None:
    if not _present(value):
        return None
    m = re.search(r"-?\d+(?:\.\d+)?", str(value))
    return float(m.group()) if m else None


def osm_bounds(path: str | Path) -> Polygon | None:
    """The ``<bounds>`` box an OSM XML export declares, or None when it has none."""
    path = Path(path)
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rb") as fh:
        for _event, elem in ET.iterparse(fh, events=("start",)):
            if elem.tag == "bounds":
                a = elem.attrib
                return box(
                    float(a["minlon"]), float(a["minlat"]), float(a["maxlon"]), float(a["maxlat"])
                )
            if elem.tag in {"node", "way", "relation"}:
                return None
    return None


def load_osm(
    path: str | Path,
    *,
    clip: BaseGeometry | None = None,
    feature_filter: Mapping[str, bool | list[str]] | None = None,
) -> OsmLayers:
    """Read an OSM extract file.

    Parameters
    ----------
    path
        ``.osm.pbf`` (pyrosm) or ``.osm`` / ``.osm.xml`` / ``.osm.bz2`` (osmnx).
    clip
        A WGS84 polygon: keep only streets, buildings and features that intersect it. OSM
        XML exports declare ``<bounds>``; without ``clip`` the data is clipped to them.
    feature_filter
        Tags that make a feature a candidate service, as ``{key: True | [values]}``
        (any key matching keeps the feature); usually ``ServiceCatalog.osm_filter()``.

    Returns
    -------
    OsmLayers
        The streets, buildings, features and land use, clipped, with the file as source.

    Raises
    ------
    InputError
        When the file is missing, of an unknown type, unreadable, or has no walkable streets.
    """
    p = Path(path).expanduser()
    name = str(path)
    if not p.is_file():
        raise InputError(Problem.of("osm_not_found", name))
    lower = p.name.lower()
    filt = dict(
        feature_filter or {"amenity": True, "shop": True, "leisure": True, "healthcare": True}
    )
    try:
        if lower.endswith(PBF_SUFFIXES):
            layers = _load_pbf(p, clip, filt)
        elif lower.endswith(XML_SUFFIXES):
            bounds = osm_bounds(p)
            if clip is None and bounds is not None:
                clip = bounds
            layers = _load_xml(p, clip, filt)
        else:
            raise InputError(Problem.of("osm_unknown_type", name))
    except InputError:
        raise
    except (OSError, ET.ParseError) as exc:
        raise InputError(
            Problem.of("osm_unreadable", name, error=f"{type(exc).__name__}: {exc}")
        ) from exc
    except Exception as exc:  # osmnx: InsufficientResponseError when the file has no data
        if type(exc).__name__ != "InsufficientResponseError":
            raise
        raise InputError(Problem.of("osm_no_data", name)) from None
    layers.source = name
    if len(layers.edges) == 0:
        raise InputError(Problem.of("osm_no_streets", name))
    return layers


def _clip(gdf: gpd.GeoDataFrame, clip: BaseGeometry | None) -> gpd.GeoDataFrame:
    if clip is None or len(gdf) == 0:
        return gdf
    keep = gdf.geometry.intersects(clip)
    return gdf.loc[keep].reset_index(drop=True)


def _tags_dict(row_tags: Any, row: Mapping[str, Any], tag_columns: Iterable[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    if isinstance(row_tags, str) and row_tags:
        with contextlib.suppress(json.JSONDecodeError):
            tags.update({k: str(v) for k, v in json.loads(row_tags).items()})
    elif isinstance(row_tags, dict):
        tags.update({k: str(v) for k, v in row_tags.items()})
    for col in tag_columns:
        value = row[col]
        if _present(value):
            tags[col] = str(value)
    return tags


def _with_tags(gdf: gpd.GeoDataFrame) -> list[dict[str, str]]:
    cols = [c for c in gdf.columns if c not in _META_COLUMNS]
    raw = gdf["tags"] if "tags" in gdf.columns else pd.Series([None] * len(gdf), index=gdf.index)
    records = gdf[cols].to_dict("records") if cols else [{}] * len(gdf)
    return [_tags_dict(t, r, cols) for t, r in zip(raw.tolist(), records, strict=True)]


def _empty(columns: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: [] for c in columns}, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84
    )


def _normalise_edges(edges: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    tags = _with_tags(edges)
    out = gpd.GeoDataFrame(
        {
            "u": edges["u"].astype("int64").to_numpy(),
            "v": edges["v"].astype("int64").to_numpy(),
            "osm_id": pd.to_numeric(
                edges.get("id", edges.get("osmid")), errors="coerce"
            ).to_numpy(),
        },
        geometry=edges.geometry.to_numpy(),
        crs=WGS84,
    )
    for key in _EDGE_TAGS:
        out[key] = [t.get(key) for t in tags]
    walkable = np.array([_walkable(t) for t in tags], dtype=bool)
    out["ground"] = [
        is_ground_level(
            t.get("bridge"), t.get("tunnel"), t.get("layer"), t.get("level"), t.get("highway")
        )
        for t in tags
    ]
    out = out.loc[walkable & out.geometry.notna().to_numpy()].reset_index(drop=True)
    return out


def _walkable(tags: Mapping[str, str]) -> bool:
    hw = tags.get("highway")
    if not hw or hw in _NOT_WALKABLE:
        return False
    if tags.get("foot") in {"no", "private"}:
        return False
    if tags.get("access") in {"no", "private"} and tags.get("foot") not in {
        "yes",
        "designated",
        "permissive",
    }:
        return False
    return tags.get("service") != "private"


def _load_pbf(
    path: Path, clip: BaseGeometry | None, filt: dict[str, bool | list[str]]
) -> OsmLayers:
    import pyrosm

    bbox = list(clip.bounds) if clip is not None else None
    osm = pyrosm.OSM(str(path), bounding_box=bbox)
    network = osm.get_network(network_type="walking", nodes=True)
    if network is None or len(network[1]) == 0:
        edges_n = _empty(["u", "v", "osm_id", *_EDGE_TAGS, "ground"])
    else:
        edges_n = _normalise_edges(network[1])
    buildings = osm.get_buildings()
    feats = osm.get_pois(custom_filter={k: v for k, v in filt.items()})
    landuse = osm.get_landuse()
    layers = OsmLayers(
        edges=_clip(edges_n, clip),
        buildings=_clip(_normalise_buildings(buildings), clip),
        features=_clip(_normalise_features(feats), clip),
        landuse=_clip(_normalise_landuse(landuse), clip),
        extent=clip if clip is not None else _hull(edges_n),
        source=str(path),
    )
    return layers


def _load_xml(
    path: Path, clip: BaseGeometry | None, filt: dict[str, bool | list[str]]
) -> OsmLayers:
    import osmnx as ox

    src = path
    tmp: Path | None = None
    if path.suffix == ".bz2":
        # osmnx reads .bz2 itself, but only when the name ends in .osm.bz2 or .xml.bz2; a
        # decompressed copy in a private temporary folder avoids depending on the name.
        tmp = Path(tempfile.mkdtemp(prefix="lifecircle-osm-"))
        src = tmp / "extract.osm"
        with bz2.open(path, "rb") as fin, open(src, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    try:
        wanted = list(dict.fromkeys([*ox.settings.useful_tags_way, *_EDGE_TAGS]))
        saved = ox.settings.useful_tags_way
        ox.settings.useful_tags_way = wanted
        try:
            G = ox.graph_from_xml(src, bidirectional=True, simplify=False, retain_all=True)
        finally:
            ox.settings.useful_tags_way = saved
        edges = _graph_edges(G)
        tags = _merge_filters({"building": True, "landuse": True}, filt)
        try:
            feats = ox.features_from_xml(src, tags=tags)
        except Exception as exc:  # osmnx raises its own InsufficientResponseError on no match
            if type(exc).__name__ != "InsufficientResponseError":
                raise
            feats = _empty([])
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    buildings, features, landuse = _split_features(feats, filt)
    edges_n = _normalise_edges(edges)
    return OsmLayers(
        edges=_clip(edges_n, clip),
        buildings=_clip(buildings, clip),
        features=_clip(features, clip),
        landuse=_clip(landuse, clip),
        extent=clip if clip is not None else _hull(edges_n),
        source=str(path),
    )


def _merge_filters(*filters: Mapping[str, bool | list[str]]) -> dict[str, bool | str | list[str]]:
    """One OSM tag filter from several: a key any of them wants whole stays whole.

    Examples
    --------
    >>> _merge_filters({"building": True}, {"building": ["kindergarten"], "shop": ["bakery"]})
    {'building': True, 'shop': ['bakery']}
    """
    out: dict[str, bool | str | list[str]] = {}
    for filt in filters:
        for key, val in filt.items():
            have = out.get(key)
            if have is True or val is True:
                out[key] = True
            else:
                values = list(val) if not isinstance(val, bool) else []
                out[key] = sorted(set(values) | set(have if isinstance(have, list) else []))
    return out


def _split_features(
    feats: gpd.GeoDataFrame, filt: Mapping[str, bool | list[str]]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Buildings, service features and land use from one osmnx features frame."""
    feats = feats.reset_index()
    feats = feats.rename(
        columns={"element": "osm_type", "element_type": "osm_type", "id": "osm_id"}
    )

    def tagged(key: str, values: bool | list[str] = True) -> np.ndarray:
        if key not in feats.columns:
            return np.zeros(len(feats), dtype=bool)
        col = feats[key]
        hit = col.notna() if values is True else col.isin(list(values) if values else [])
        return hit.to_numpy(dtype=bool)

    polygons = feats.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    in_filter = np.zeros(len(feats), dtype=bool)
    for key, values in filt.items():
        in_filter |= tagged(key, values)
    return (
        _normalise_buildings(feats.loc[tagged("building")]),
        _normalise_features(feats.loc[in_filter]),
        _normalise_landuse(feats.loc[tagged("landuse") & polygons]),
    )


def _graph_edges(G: Any) -> gpd.GeoDataFrame:
    """Edges of an osmnx graph, one row per direction-free street segment."""
    rows: list[dict[str, Any]] = []
    xy = {n: (d["x"], d["y"]) for n, d in G.nodes(data=True)}
    seen: set[tuple[int, int, int]] = set()
    for u, v, k, d in G.edges(keys=True, data=True):
        key = (min(u, v), max(u, v), k)
        if key in seen:
            continue
        seen.add(key)
        geom = d.get("geometry")
        if geom is None:
            geom = shapely.LineString([xy[u], xy[v]])
        row = {"u": u, "v": v, "id": _first_osmid(d.get("osmid")), "geometry": geom}
        for tag in _EDGE_TAGS:
            val = d.get(tag)
            row[tag] = val[0] if isinstance(val, list) else val
        rows.append(row)
    if not rows:
        return _empty(["u", "v", "id", *_EDGE_TAGS])
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)


def _first_osmid(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


def _normalise_buildings(b: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if b is None or len(b) == 0:
        return _empty(["osm_id", "building", "tags"])
    b = b.loc[b.geom_type.isin(["Polygon", "MultiPolygon"])]
    tags = _with_tags(b)
    ids = b["osm_id"] if "osm_id" in b.columns else b["id"]
    return gpd.GeoDataFrame(
        {
            "osm_id": pd.to_numeric(ids, errors="coerce").to_numpy(),
            "building": [t.get("building", "yes") for t in tags],
            "tags": tags,
        },
        geometry=shapely.make_valid(b.geometry.to_numpy()),
        crs=WGS84,
    )


def _normalise_features(f: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if f is None or len(f) == 0:
        return _empty(["osm_type", "osm_id", "name", "tags"])
    f = f.loc[f.geometry.notna()]
    tags = _with_tags(f)
    ids = f["osm_id"] if "osm_id" in f.columns else f["id"]
    osm_type = f["osm_type"] if "osm_type" in f.columns else pd.Series("node", index=f.index)
    geoms = f.geometry.to_numpy()
    poly = shapely.get_type_id(geoms) >= 3
    geoms = np.where(poly, shapely.make_valid(geoms), geoms)
    out = gpd.GeoDataFrame(
        {
            "osm_type": osm_type.astype(str).to_numpy(),
            "osm_id": pd.to_numeric(ids, errors="coerce").to_numpy(),
            "name": [t.get("name:zh") or t.get("name") or t.get("name:en") for t in tags],
            "tags": tags,
        },
        geometry=geoms,
        crs=WGS84,
    )
    return out.drop_duplicates(subset=["osm_type", "osm_id"]).reset_index(drop=True)


def _normalise_landuse(lu: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if lu is None or len(lu) == 0 or "landuse" not in lu.columns:
        return _empty(["landuse"])
    lu = lu.loc[lu.geom_type.isin(["Polygon", "MultiPolygon"]) & lu["landuse"].notna()]
    return gpd.GeoDataFrame(
        {"landuse": lu["landuse"].astype(str).to_numpy()},
        geometry=shapely.make_valid(lu.geometry.to_numpy()),
        crs=WGS84,
    )


def _hull(edges: gpd.GeoDataFrame) -> BaseGeometry:
    if len(edges) == 0:
        return Polygon()
    return shapely.multipoints(shapely.get_coordinates(edges.geometry.to_numpy())).convex_hull


def _network_reachable(
    host: str = "overpass-api.de", port: int = 443, timeout: float = 3.0
) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_osm(
    query: str | tuple[float, float, float, float] | BaseGeometry,
    *,
    feature_filter: Mapping[str, bool | list[str]] | None = None,
) -> OsmLayers:
    """Fetch the layers for a place name, ``(west, south, east, north)`` box or polygon.

    Needs the internet (Overpass API through osmnx).

    Raises
    ------
    OfflineError
        At once, without waiting for timeouts, when the Overpass API cannot be reached.
    """
    if not _network_reachable():
        raise OfflineError(Problem.of("osm_offline", "place", query=repr(query)))
    import osmnx as ox

    if isinstance(query, str):
        polygon = ox.geocode_to_gdf(query).union_all()
    elif isinstance(query, tuple):
        polygon = box(*query)
    else:
        polygon = query
    G = ox.graph_from_polygon(polygon, network_type="walk", simplify=False, retain_all=True)
    edges = _normalise_edges(_graph_edges(G))
    filt = dict(feature_filter or {"amenity": True, "shop": True, "leisure": True})
    tags = _merge_filters({"building": True, "landuse": True}, filt)
    buildings, features, landuse = _split_features(
        ox.features_from_polygon(polygon, tags=tags), filt
    )
    return OsmLayers(
        edges=edges,
        buildings=buildings,
        features=features,
        landuse=landuse,
        extent=polygon,
        source=f"OpenStreetMap via Overpass: {query}",
    )


def load_admin_boundaries(
    path: str | Path, *, clip: BaseGeometry | None = None
) -> gpd.GeoDataFrame:
    """Administrative boundary polygons of an OSM extract (``osm_id``, ``name``, ``admin_level``).

    Raises
    ------
    InputError
        When the file holds no administrative boundaries.
    """
    p = Path(path).expanduser()
    name = str(path)
    lower = p.name.lower()
    if lower.endswith(PBF_SUFFIXES):
        import pyrosm

        osm = pyrosm.OSM(str(p), bounding_box=list(clip.bounds) if clip is not None else None)
        raw = osm.get_boundaries(boundary_type="administrative")
    else:
        import osmnx as ox

        try:
            raw = ox.features_from_xml(p, tags={"boundary": "administrative"}).reset_index()
        except Exception as exc:
            if type(exc).__name__ != "InsufficientResponseError":
                raise
            raw = None
        if raw is not None:
            raw = raw.rename(columns={"element": "osm_type", "id": "osm_id"})
    if raw is None or len(raw) == 0:
        raise InputError(Problem.of("osm_no_boundaries", name))
    raw = raw.loc[raw.geom_type.isin(["Polygon", "MultiPolygon"])]
    tags = _with_tags(raw)
    ids = raw["osm_id"] if "osm_id" in raw.columns else raw["id"]
    out = gpd.GeoDataFrame(
        {
            "osm_id": pd.to_numeric(ids, errors="coerce").to_numpy(),
            "name": [t.get("name:zh") or t.get("name") or "" for t in tags],
            "admin_level": [t.get("admin_level") for t in tags],
        },
        geometry=shapely.make_valid(raw.geometry.to_numpy()),
        crs=WGS84,
    )
    return _clip(out, clip)


def load_compound_features(
    path: str | Path, *, clip: BaseGeometry | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The areas that may be gated compounds, and the gate and entrance nodes, of a file.

    Parameters
    ----------
    path
        An OSM extract (as :func:`load_osm` reads).
    clip
        A WGS84 polygon: keep only what intersects it (XML: default its ``<bounds>``).

    Returns
    -------
    (areas, gates)
        Polygons and nodes tagged as :data:`COMPOUND_FILTER` says, in WGS84, each with
        ``osm_type``, ``osm_id`` and every OSM tag in ``tags``.
    """
    p = Path(path).expanduser()
    lower = p.name.lower()
    if lower.endswith(PBF_SUFFIXES):
        import pyrosm

        osm = pyrosm.OSM(str(p), bounding_box=list(clip.bounds) if clip is not None else None)
        raw = osm.get_data_by_custom_criteria(
            custom_filter=dict(COMPOUND_FILTER), filter_type="keep"
        )
    else:
        import osmnx as ox

        if clip is None:
            clip = osm_bounds(p)
        try:
            raw = ox.features_from_xml(p, tags=dict(COMPOUND_FILTER)).reset_index()
        except Exception as exc:  # osmnx raises its own InsufficientResponseError on no match
            if type(exc).__name__ != "InsufficientResponseError":
                raise
            raw = None
        if raw is not None:
            raw = raw.rename(columns={"element": "osm_type", "element_type": "osm_type"})
    if raw is None or len(raw) == 0:
        return _empty(["osm_type", "osm_id", "tags"]), _empty(["osm_type", "osm_id", "tags"])
    raw = raw.loc[raw.geometry.notna()]
    tags = _with_tags(raw)
    ids = raw["osm_id"] if "osm_id" in raw.columns else raw["id"]
    geoms = raw.geometry.to_numpy()
    poly = shapely.get_type_id(geoms) >= 3
    frame = gpd.GeoDataFrame(
        {
            "osm_type": raw["osm_type"].astype(str).to_numpy(),
            "osm_id": pd.to_numeric(ids, errors="coerce").to_numpy(),
            "tags": tags,
        },
        geometry=np.where(poly, shapely.make_valid(geoms), geoms),
        crs=WGS84,
    )
    is_node = (frame["osm_type"] == "node").to_numpy() & (shapely.get_type_id(geoms) == 0)
    areas = _clip(frame.loc[poly].reset_index(drop=True), clip)
    gates = _clip(frame.loc[is_node].reset_index(drop=True), clip)
    return areas, gates
