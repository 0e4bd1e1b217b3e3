"""The two OSM loaders lifecircle had before its one-pass reader, kept as test oracles.

``.osm.pbf`` files were read with pyrosm (its ``walking`` network, buildings, POIs with the
catalog's filter, land use, the compound filter), ``.osm`` files with osmnx
(``graph_from_xml`` unsimplified, ``features_from_xml``); both then went through the same
street filter, :func:`old_walkable`. Their street edges are one per pair of consecutive
nodes. :mod:`tests.geo.test_osm_reader` compares the new reader against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import osmnx as ox
import pandas as pd
import pyrosm
import shapely

from lifecircle.geo.osm import COMPOUND_FILTER

# the street filter of the old loaders (lifecircle.geo.osm before issue 18)
OLD_NOT_WALKABLE = {
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


def old_walkable(tags: Mapping[str, Any]) -> bool:
    """The old loaders' street filter (after pyrosm's or no network filter)."""
    hw = tags.get("highway")
    if not isinstance(hw, str) or hw in OLD_NOT_WALKABLE:
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


def way_tags(path: str | Path) -> dict[int, dict[str, str]]:
    """Every way's tags, read with a plain osmium pass."""
    out: dict[int, dict[str, str]] = {}
    for obj in osmium.FileProcessor(str(path), osmium.osm.WAY):
        out[obj.id] = {t.k: t.v for t in obj.tags}
    return out


def old_pbf_edges(path: str | Path) -> pd.DataFrame:
    """The old PBF loader's street segments: ``osm_id`` and its two node coordinates."""
    osm = pyrosm.OSM(str(path))
    _nodes, edges = osm.get_network(network_type="walking", nodes=True)
    return _segments(edges, edges["id"].to_numpy(), path)


def old_xml_edges(path: str | Path) -> pd.DataFrame:
    """The old XML loader's street segments (osmnx, one row per direction-free segment)."""
    G = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    rows = []
    xy = {n: (d["x"], d["y"]) for n, d in G.nodes(data=True)}
    seen = set()
    for u, v, k, d in G.edges(keys=True, data=True):
        key = (min(u, v), max(u, v), k)
        if key in seen:
            continue
        seen.add(key)
        osmid = d["osmid"][0] if isinstance(d["osmid"], list) else d["osmid"]
        rows.append({"id": osmid, "geometry": shapely.LineString([xy[u], xy[v]])})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    return _segments(frame, frame["id"].to_numpy(), path)


def _segments(edges: gpd.GeoDataFrame, ids: np.ndarray, path: str | Path) -> pd.DataFrame:
    tags = way_tags(path)
    keep = np.array([old_walkable(tags.get(int(i), {})) for i in ids], dtype=bool)
    return segments(edges.geometry.to_numpy()[keep], ids[keep])


def segments(geoms: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    """Each line cut into its straight segments: ``osm_id``, ``a`` and ``b`` (the two ends
    rounded to 1e-7 degrees, OSM's precision, in sorted order)."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    coords = np.round(coords, 7)
    same = owner[1:] == owner[:-1]
    a = [tuple(c) for c in coords[:-1][same]]
    b = [tuple(c) for c in coords[1:][same]]
    ends = [tuple(sorted(p)) for p in zip(a, b, strict=True)]
    return pd.DataFrame(
        {
            "osm_id": np.asarray(ids)[owner[:-1][same]].astype(np.int64),
            "a": [e[0] for e in ends],
            "b": [e[1] for e in ends],
        }
    ).drop_duplicates()


def old_pbf_features(
    path: str | Path, feature_filter: Mapping[str, Any]
) -> tuple[set[int], set[tuple[str, int]], set[tuple[str, int]]]:
    """Building ids, feature (type, id) and gate node (type, id) of the old PBF loader."""
    osm = pyrosm.OSM(str(path))
    b = osm.get_buildings()
    b = b.loc[b.geom_type.isin(["Polygon", "MultiPolygon"])]
    f = osm.get_pois(custom_filter=dict(feature_filter))
    f = f.loc[f.geometry.notna()]
    c = osm.get_data_by_custom_criteria(custom_filter=dict(COMPOUND_FILTER), filter_type="keep")
    gates = c.loc[(c["osm_type"] == "node") & (c.geom_type == "Point")]
    return (
        {int(i) for i in b["id"]},
        {(str(t), int(i)) for t, i in zip(f["osm_type"], f["id"], strict=True)},
        {("node", int(i)) for i in gates["id"]},
    )


def old_xml_features(
    path: str | Path, feature_filter: Mapping[str, Any]
) -> tuple[set[int], set[tuple[str, int]]]:
    """Building ids and feature (type, id) of the old XML loader (clipped to the bounds)."""
    feats = ox.features_from_xml(path, tags={**dict(feature_filter), "building": True})
    feats = feats.reset_index()
    bounds = _bounds(path)
    feats = feats.loc[feats.geometry.intersects(bounds)]
    is_b = feats["building"].notna() & feats.geom_type.isin(["Polygon", "MultiPolygon"])
    hit = np.zeros(len(feats), dtype=bool)
    for key, values in feature_filter.items():
        if key in feats.columns:
            col = feats[key]
            hit |= (col.notna() if values is True else col.isin(list(values))).to_numpy()
    return (
        {int(i) for i in feats.loc[is_b, "id"]},
        {(str(t), int(i)) for t, i in zip(feats["element"][hit], feats["id"][hit], strict=True)},
    )


def _bounds(path: str | Path) -> shapely.Geometry:
    b = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING).header().box()
    return shapely.box(b.bottom_left.lon, b.bottom_left.lat, b.top_right.lon, b.top_right.lat)
