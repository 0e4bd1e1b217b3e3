"""Read OpenStreetMap extracts into the layers a life-circle study needs.

``.osm.pbf``, ``.osm``, ``.osm.xml`` and ``.osm.bz2`` files are read alike, in one pass
with pyosmium (:mod:`lifecircle.geo.osm_reader`), into :class:`OsmLayers`: walkable
street edges from junction to junction (:func:`is_walkable` is the pedestrian rule),
buildings, service features (POIs) and land use, in WGS84, with every OSM tag of a feature
in a ``tags`` dict.
A place name, bounding box or polygon can be fetched with osmnx when online
(:func:`fetch_osm`); offline that fails at once and says to pass a file instead.
"""

from __future__ import annotations

import bz2
import contextlib
import json
import logging
import re
import socket
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
from lifecircle.geo.osm_reader import (
    OsmColumns,
    Shapes,
    file_format,
    read_columns,
    split_edges,
)
from lifecircle.i18n import Note

__all__ = [
    "COMPOUND_FILTER",
    "OsmLayers",
    "fetch_osm",
    "forget_last_read",
    "has_sidewalk",
    "is_ground_level",
    "is_walkable",
    "load_admin_boundaries",
    "load_compound_features",
    "load_osm",
    "osm_bounds",
]

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
PBF_SUFFIXES = (".osm.pbf", ".pbf")
XML_SUFFIXES = (".osm", ".osm.xml", ".xml", ".osm.bz2", ".xml.bz2")

# Highways nobody may walk on, following the usual walk-network filters (osmnx's "walk").
_NOT_WALKABLE = {
    "abandoned",
    "bus_guideway",
    "busway",
    "construction",
    "motor",
    "motorway",
    "motorway_link",
    "no",
    "planned",
    "platform",
    "proposed",
    "raceway",
    "razed",
    "services",
    "rest_area",
    "escape",
}
# Walked only where walkers are allowed or a sidewalk is on them (:func:`is_walkable`).
_WALKABLE_IF_ALLOWED = {"cycleway", "trunk", "trunk_link"}
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
        Walkable streets (:func:`is_walkable`) from junction to junction: ``u``, ``v`` (the
        OSM nodes where the edge starts and ends: a node two walkable ways share, or a way's
        end), ``osm_id`` (the way), the way's tags of ``highway``, ``name``, ``bridge``,
        ``tunnel``, ``layer``, ``level``, ``foot``, ``access``, ``service``, ``area``
        (``highway=steps`` marks steps), ``ground`` (False for bridges, tunnels and
        non-zero layers or levels), LineString geometry from ``u`` to ``v`` through the
        way's nodes. Coordinates are held to 1e-7 degrees, OSM's own precision.
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
        ``.osm.pbf``, ``.osm``, ``.osm.xml`` or ``.osm.bz2``.
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
    filt = dict(feature_filter or _DEFAULT_FEATURES)
    cols = _columns(p, name, filt)
    layers = _layers(cols, _default_clip(p, cols, clip), name)
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
    walkable = np.array([is_walkable(t) for t in tags], dtype=bool)
    out["ground"] = [
        is_ground_level(
            t.get("bridge"), t.get("tunnel"), t.get("layer"), t.get("level"), t.get("highway")
        )
        for t in tags
    ]
    out = out.loc[walkable & out.geometry.notna().to_numpy()].reset_index(drop=True)
    return out


_RULE_TAGS = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right", "footway")
"""Tags :func:`is_walkable` reads beyond :data:`_EDGE_TAGS`."""
_FOOT_OK = {"yes", "designated", "permissive"}
_CLOSED = {"no", "private"}
_SIDEWALK_SIDES = ("sidewalk:both", "sidewalk:left", "sidewalk:right")
_ON_STREET_SIDEWALK = {"both", "left", "right", "yes"}


def _values(value: str | None) -> set[str]:
    """The values of a tag, several when separated by ``;``."""
    return {v.strip() for v in value.split(";")} if value else set()


def has_sidewalk(tags: Mapping[str, str]) -> bool:
    """Whether a street carries a sidewalk on it (``sidewalk=both|left|right|yes`` or
    ``sidewalk:both|left|right=yes``).

    Examples
    --------
    >>> has_sidewalk({"sidewalk": "right"}), has_sidewalk({"sidewalk:left": "yes"})
    (True, True)
    >>> has_sidewalk({"sidewalk": "separate"}), has_sidewalk({"sidewalk": "no"})
    (False, False)
    """
    if _values(tags.get("sidewalk")) & _ON_STREET_SIDEWALK:
        return True
    return any("yes" in _values(tags.get(k)) for k in _SIDEWALK_SIDES)


def _sidewalk_separate(tags: Mapping[str, str]) -> bool:
    """A sidewalk of the street is mapped as a way of its own, and none is on the street."""
    keys = ("sidewalk", *_SIDEWALK_SIDES)
    return not has_sidewalk(tags) and any("separate" in _values(tags.get(k)) for k in keys)


def is_walkable(tags: Mapping[str, str]) -> bool:
    """Whether a way with these OSM tags is part of the walking network.

    The same rule for every file type:

    - a ``highway`` is needed; motorways, ways not built (yet or any more), platforms,
      raceways, bus-only ways and highway areas (``area=yes``) are never walked;
    - cycleways and trunk roads only where walkers are allowed (``foot=yes|designated``) or
      a sidewalk is on them (:func:`has_sidewalk`);
    - ``foot=no|private`` closes a way; so does ``access=no|private`` (also
      ``service=private``) unless ``foot=yes|permissive|designated`` opens it;
    - a street whose sidewalk is mapped as a way of its own (``sidewalk=separate``, or
      ``sidewalk:both|left|right=separate``) and that has no sidewalk on it is left out: its
      walkers are on the separate ``footway=sidewalk`` ways, which are kept, so no sidewalk
      is counted twice; the ``footway=crossing`` ways between them are kept too;
    - ``highway=steps`` is walkable and stays marked by its ``highway`` value, which the
      walking profiles weigh (:func:`lifecircle.coverage.network.edge_kinds`).

    Examples
    --------
    >>> walk = is_walkable
    >>> walk({"highway": "cycleway"}), walk({"highway": "cycleway", "foot": "designated"})
    (False, True)
    >>> walk({"highway": "trunk", "sidewalk": "both"}), walk({"highway": "motorway", "foot": "yes"})
    (True, False)
    >>> walk({"highway": "residential", "sidewalk": "separate"}), walk({"highway": "steps"})
    (False, True)
    >>> private = {"highway": "service", "access": "private"}
    >>> walk(private), walk({**private, "foot": "yes"})
    (False, True)
    """
    hw = tags.get("highway")
    if not hw or hw in _NOT_WALKABLE or tags.get("area") == "yes":
        return False
    foot = _values(tags.get("foot"))
    if foot & _CLOSED:
        return False
    opened = bool(foot & _FOOT_OK)
    closed = _values(tags.get("access")) & _CLOSED or tags.get("service") == "private"
    if closed and not opened:
        return False
    if hw in _WALKABLE_IF_ALLOWED:
        return bool(foot & {"yes", "designated"}) or has_sidewalk(tags)
    return not _sidewalk_separate(tags)


_GATE_FILTER: dict[str, bool | list[str]] = {
    k: v for k, v in COMPOUND_FILTER.items() if k in {"barrier", "entrance"}
}
_AREA_FILTER: dict[str, bool | list[str]] = {
    k: v for k, v in COMPOUND_FILTER.items() if k not in _GATE_FILTER
}
_DEFAULT_FEATURES: dict[str, bool | list[str]] = {
    "amenity": True,
    "shop": True,
    "leisure": True,
    "healthcare": True,
}
_LAST_READ: dict[tuple[Any, ...], tuple[Any, OsmColumns]] = {}


def forget_last_read() -> None:
    """Drop the layers kept from the last file read (a study keeps what it needs itself;
    a long-running server or batch should not hold a city's file twice)."""
    _LAST_READ.clear()


def _filter_key(filt: Mapping[str, bool | list[str]]) -> tuple[Any, ...]:
    return tuple(
        sorted((k, v if isinstance(v, bool) else tuple(sorted(v))) for k, v in filt.items())
    )


def _columns(p: Path, name: str, filt: Mapping[str, bool | list[str]] | None) -> OsmColumns:
    """One pass over the file, kept for the file's next layers (compounds, boundaries): a
    study reads its extract once. ``filt`` None takes whatever features the last pass kept."""
    if not p.is_file():
        raise InputError(Problem.of("osm_not_found", name))
    if file_format(p) is None:
        raise InputError(Problem.of("osm_unknown_type", name))
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    hit = _LAST_READ.get(key)
    want = _filter_key(filt if filt is not None else _DEFAULT_FEATURES)
    if hit is not None and (filt is None or hit[0] == want):
        return hit[1]
    try:
        cols = read_columns(
            p,
            features=filt if filt is not None else _DEFAULT_FEATURES,
            compounds=_AREA_FILTER,
            gates=_GATE_FILTER,
            walkable=is_walkable,
            street_tags=(*_EDGE_TAGS, *_RULE_TAGS),
        )
    except (OSError, RuntimeError) as exc:  # osmium: RuntimeError on a broken file
        raise InputError(
            Problem.of("osm_unreadable", name, error=f"{type(exc).__name__}: {exc}")
        ) from exc
    if cols.objects == 0:
        raise InputError(Problem.of("osm_no_data", name))
    _LAST_READ.clear()
    _LAST_READ[key] = (want, cols)
    return cols


def _default_clip(p: Path, cols: OsmColumns, clip: BaseGeometry | None) -> BaseGeometry | None:
    """The clip: the caller's, else an XML export's declared ``<bounds>``."""
    if clip is not None or cols.bounds is None or file_format(p) == "pbf":
        return clip
    return box(*cols.bounds)


def _shapes_frame(shapes: Shapes) -> gpd.GeoDataFrame:
    geoms = np.asarray(shapes.geometry, dtype=object)
    if len(geoms):
        poly = shapely.get_type_id(geoms) >= 3
        geoms = np.where(poly, shapely.make_valid(geoms), geoms)
    return gpd.GeoDataFrame(
        {
            "osm_type": np.asarray(shapes.osm_type, dtype=object),
            "osm_id": np.asarray(shapes.osm_id, dtype=np.int64),
            "tags": list(shapes.tags),
        },
        geometry=gpd.GeoSeries(geoms, crs=WGS84).to_numpy() if len(geoms) else [],
        crs=WGS84,
    )


def _edges_frame(cols: OsmColumns) -> gpd.GeoDataFrame:
    """The walkable ways cut into edges (:func:`split_edges`), one row per edge."""
    edges = split_edges(cols.way_refs, cols.way_xy)
    way = edges.way
    if len(way) == 0:
        return _empty(["u", "v", "osm_id", *_EDGE_TAGS, "ground"])
    out = gpd.GeoDataFrame(
        {"u": edges.u, "v": edges.v, "osm_id": np.asarray(cols.way_id, dtype=np.int64)[way]},
        geometry=edges.lines(),
        crs=WGS84,
    )
    # the tags are read once per way (in one walk over its few tags), then repeated for its
    # edges
    tags = cols.way_tags
    columns: dict[str, list[str | None]] = {k: [None] * len(tags) for k in _EDGE_TAGS}
    keys = set(_EDGE_TAGS)
    for i, t in enumerate(tags):
        for key in keys.intersection(t):
            columns[key][i] = t[key]
    for key in _EDGE_TAGS:
        out[key] = np.array(columns[key], dtype=object)[way]
    ground = [
        is_ground_level(
            t.get("bridge"), t.get("tunnel"), t.get("layer"), t.get("level"), t.get("highway")
        )
        for t in tags
    ]
    out["ground"] = np.array(ground, dtype=bool)[way]
    return out


def _layers(cols: OsmColumns, clip: BaseGeometry | None, source: str) -> OsmLayers:
    edges = _edges_frame(cols)
    buildings = _shapes_frame(cols.buildings)
    buildings = gpd.GeoDataFrame(
        {
            "osm_id": buildings["osm_id"].to_numpy(),
            "building": [t.get("building", "yes") for t in buildings["tags"]],
            "tags": buildings["tags"].tolist(),
        },
        geometry=buildings.geometry.to_numpy(),
        crs=WGS84,
    )
    feats = _shapes_frame(cols.features)
    feats.insert(
        2, "name", [t.get("name:zh") or t.get("name") or t.get("name:en") for t in feats["tags"]]
    )
    landuse = _shapes_frame(cols.landuse)
    landuse = gpd.GeoDataFrame(
        {"landuse": [t["landuse"] for t in landuse["tags"]]},
        geometry=landuse.geometry.to_numpy(),
        crs=WGS84,
    )
    return OsmLayers(
        edges=_clip(edges, clip),
        buildings=_clip(buildings, clip),
        features=_clip(feats, clip),
        landuse=_clip(landuse, clip),
        extent=clip if clip is not None else _hull(edges),
        source=source,
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
    # one line through every vertex: GEOS takes the hull of the same distinct coordinates
    # as from points, without making a point geometry per vertex
    return shapely.linestrings(shapely.get_coordinates(edges.geometry.to_numpy())).convex_hull


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
    # every highway, with the tags the pedestrian rule reads, then the same rule as a file
    # (osmnx's "walk" filter would drop every cycleway)
    saved = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = list(dict.fromkeys([*saved, *_EDGE_TAGS, *_RULE_TAGS]))
    try:
        G = ox.graph_from_polygon(
            polygon, custom_filter='["highway"]', simplify=False, retain_all=True
        )
    finally:
        ox.settings.useful_tags_way = saved
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
    raw = _shapes_frame(_columns(p, name, None).boundaries)
    if len(raw) == 0:
        raise InputError(Problem.of("osm_no_boundaries", name))
    out = gpd.GeoDataFrame(
        {
            "osm_id": raw["osm_id"].to_numpy(),
            "name": [t.get("name:zh") or t.get("name") or "" for t in raw["tags"]],
            "admin_level": [t.get("admin_level") for t in raw["tags"]],
        },
        geometry=raw.geometry.to_numpy(),
        crs=WGS84,
    )
    return _clip(out, clip)


def load_compound_features(
    path: str | Path, *, clip: BaseGeometry | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The areas that may be gated compounds, and the gate and entrance nodes, of a file.

    Read in the same pass as :func:`load_osm` (a second call on the same file reads it
    no more).

    Parameters
    ----------
    path
        An OSM extract (as :func:`load_osm` reads).
    clip
        A WGS84 polygon: keep only what intersects it (XML: default its ``<bounds>``).

    Returns
    -------
    (areas, gates)
        Polygons (closed ways and multipolygon relations) with the ``landuse`` and
        ``amenity`` tags of :data:`COMPOUND_FILTER`, and nodes with its ``barrier`` or
        ``entrance`` tags, in WGS84, each with ``osm_type``, ``osm_id`` and every OSM tag in
        ``tags``.
    """
    p = Path(path).expanduser()
    cols = _columns(p, str(path), None)
    clip = _default_clip(p, cols, clip)
    return _clip(_shapes_frame(cols.compounds), clip), _clip(_shapes_frame(cols.gates), clip)
