"""The Helsinki OSM extract tiled k x k as a real ``.osm.pbf`` file, for whole-CLI benchmarks.

The same city as ``tests/tiling.py`` builds in memory, but as an OSM file that ``lifecircle
plan --osm`` reads like any other: every node, way and relation of pyrosm's Helsinki extract
copied k x k times, each copy shifted by the extract's width or height in the local UTM
zone (so every tile keeps its shape in metres), ids offset per tile; neighbouring tiles are
joined by short connector footways (``highway=footway``, ``name=connector``) from the
outermost walkable nodes of one tile to the nearest of the next, as in ``tests/tiling.py``.

The file is written with the OSM PBF format's own protobuf messages (the compiled
``osmformat``/``fileformat`` modules pyrosm ships): nodes first (dense), then ways, then
relations, each type sorted by id, one block per source block and tile.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.tiling import CONNECTORS_PER_SIDE

__all__ = ["tile_pbf"]

# walkable street kinds for choosing the tiles' border nodes (ground level only)
WALKABLE = {
    b"footway",
    b"path",
    b"pedestrian",
    b"living_street",
    b"residential",
    b"service",
    b"unclassified",
    b"tertiary",
    b"secondary",
    b"primary",
    b"track",
}
OFF_GROUND = {b"bridge", b"tunnel", b"layer"}
MARGIN_M = 20.0


def _proto() -> tuple[Any, Any]:
    from pyrosm.proto import fileformat_pb2, osmformat_pb2

    return fileformat_pb2, osmformat_pb2


def _blobs(path: Path) -> Iterator[tuple[str, bytes]]:
    """(type, uncompressed data) of each blob of a PBF file."""
    file_pb, _ = _proto()
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        pos += 4
        header = file_pb.BlobHeader()
        header.ParseFromString(data[pos : pos + n])
        pos += n
        blob = file_pb.Blob()
        blob.ParseFromString(data[pos : pos + header.datasize])
        pos += header.datasize
        raw = zlib.decompress(blob.zlib_data) if blob.HasField("zlib_data") else blob.raw
        yield header.type, raw


@dataclass
class _Source:
    """The extract's groups by type, with each dense group's coordinates in degrees."""

    blocks: list[Any] = field(default_factory=list)
    groups: dict[str, list[tuple[int, Any]]] = field(
        default_factory=lambda: {"dense": [], "ways": [], "relations": []}
    )
    lonlat: list[np.ndarray] = field(default_factory=list)
    max_id: int = 0


def _read(path: Path) -> _Source:
    _, osm_pb = _proto()
    src = _Source()
    for kind, raw in _blobs(path):
        if kind != "OSMData":
            continue
        block = osm_pb.PrimitiveBlock()
        block.ParseFromString(raw)
        b = len(src.blocks)
        src.blocks.append(block)
        for g in block.primitivegroup:
            if len(g.nodes):
                raise ValueError("plain (non-dense) nodes are not supported")
            if len(g.dense.id):
                src.groups["dense"].append((b, g))
                gran, lat0, lon0 = block.granularity, block.lat_offset, block.lon_offset
                lat = 1e-9 * (lat0 + gran * np.cumsum(np.asarray(g.dense.lat, np.int64)))
                lon = 1e-9 * (lon0 + gran * np.cumsum(np.asarray(g.dense.lon, np.int64)))
                src.lonlat.append(np.column_stack([lon, lat]))
                src.max_id = max(src.max_id, int(np.cumsum(np.asarray(g.dense.id)).max()))
            if len(g.ways):
                src.groups["ways"].append((b, g))
                src.max_id = max(src.max_id, max(w.id for w in g.ways))
            if len(g.relations):
                src.groups["relations"].append((b, g))
                src.max_id = max(src.max_id, max(r.id for r in g.relations))
    return src


def _utm(lon: float, lat: float) -> str:
    zone = int((lon + 180) // 6) + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def _border_nodes(
    src: _Source, xy_of: dict[int, np.ndarray]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The outermost ground-level walkable nodes of one tile: (ids, xy) per side."""
    ids: set[int] = set()
    for b, g in src.groups["ways"]:
        table = src.blocks[b].stringtable.s
        for w in g.ways:
            keys = [table[k] for k in w.keys]
            tags = dict(zip(keys, (table[v] for v in w.vals), strict=True))
            if tags.get(b"highway") in WALKABLE and not OFF_GROUND & set(keys):
                ids.update(np.cumsum(np.asarray(w.refs, np.int64)).tolist())
    known = np.array(sorted(i for i in ids if i in xy_of), dtype=np.int64)
    xy = np.array([xy_of[i] for i in known])
    n = CONNECTORS_PER_SIDE
    sides = {
        "east": np.argsort(-xy[:, 0])[:n],
        "west": np.argsort(xy[:, 0])[: 3 * n],
        "north": np.argsort(-xy[:, 1])[:n],
        "south": np.argsort(xy[:, 1])[: 3 * n],
    }
    return {side: (known[i], xy[i]) for side, i in sides.items()}


def _block(osm_pb: Any, like: Any) -> Any:
    out = osm_pb.PrimitiveBlock()
    out.stringtable.CopyFrom(like.stringtable)
    for name in ("granularity", "lat_offset", "lon_offset", "date_granularity"):
        setattr(out, name, getattr(like, name))
    return out


def _write_blob(fh: Any, kind: str, raw: bytes) -> None:
    file_pb, _ = _proto()
    blob = file_pb.Blob(raw_size=len(raw), zlib_data=zlib.compress(raw, 6))
    data = blob.SerializeToString()
    header = file_pb.BlobHeader(type=kind, datasize=len(data)).SerializeToString()
    fh.write(struct.pack(">I", len(header)) + header + data)


def tile_pbf(source: str | Path, k: int, out: str | Path) -> Path:
    """Write ``source`` (an ``.osm.pbf``) tiled ``k`` x ``k`` to ``out``; return ``out``.

    Parameters
    ----------
    source
        The extract (dense nodes, as osmium and Geofabrik write them).
    k
        Tiles per side.
    out
        The ``.osm.pbf`` to write.

    Returns
    -------
    Path
        ``out``.
    """
    _, osm_pb = _proto()
    src = _read(Path(source))
    lonlat = np.concatenate(src.lonlat)
    crs = _utm(float(np.median(lonlat[:, 0])), float(np.median(lonlat[:, 1])))
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    xy = np.column_stack(fwd.transform(lonlat[:, 0], lonlat[:, 1]))
    width, height = np.ptp(xy, axis=0) + MARGIN_M
    span = 10 ** len(str(src.max_id))  # ids of tile t: t * span + the source id
    tiles = [(i, j) for i in range(k) for j in range(k)]
    shifted = []  # per tile, the nodes' degrees in the PBF's integer units (1e-9 deg)
    for i, j in tiles:
        lon, lat = back.transform(xy[:, 0] + i * width, xy[:, 1] + j * height)
        shifted.append(np.column_stack([lon, lat]))
    every = np.concatenate(shifted)
    lo, hi = every.min(axis=0), every.max(axis=0)
    node_ids = np.concatenate(
        [np.cumsum(np.asarray(g.dense.id, np.int64)) for _, g in src.groups["dense"]]
    )
    borders = _border_nodes(src, dict(zip(node_ids.tolist(), xy, strict=True)))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        header = osm_pb.HeaderBlock()
        header.bbox.left, header.bbox.bottom = (round(float(v) * 1e9) for v in lo)
        header.bbox.right, header.bbox.top = (round(float(v) * 1e9) for v in hi)
        header.required_features.extend(["OsmSchema-V0.6", "DenseNodes"])
        header.writingprogram = "lifecircle benchmarks/pbf_tiling.py"
        _write_blob(fh, "OSMHeader", header.SerializeToString())
        for t, _ in enumerate(tiles):
            _write_nodes(fh, osm_pb, src, shifted[t], t * span)
        for t, _ in enumerate(tiles):
            _write_ways(fh, osm_pb, src, t * span)
        _write_connectors(fh, osm_pb, borders, k, span, (width, height))
        for t, _ in enumerate(tiles):
            for b, g in src.groups["relations"]:
                block = _block(osm_pb, src.blocks[b])
                group = block.primitivegroup.add()
                group.CopyFrom(g)
                for r in group.relations:
                    r.id += t * span
                    if len(r.memids):
                        r.memids[0] += t * span  # delta-coded: the first is absolute
                _write_blob(fh, "OSMData", block.SerializeToString())
    return out


def _write_nodes(fh: Any, osm_pb: Any, src: _Source, lonlat: np.ndarray, offset: int) -> None:
    start = 0
    for b, g in src.groups["dense"]:
        block = _block(osm_pb, src.blocks[b])
        group = block.primitivegroup.add()
        group.CopyFrom(g)
        n = len(g.dense.id)
        part = lonlat[start : start + n]
        start += n
        gran = block.granularity
        lat = np.round((part[:, 1] * 1e9 - block.lat_offset) / gran).astype(np.int64)
        lon = np.round((part[:, 0] * 1e9 - block.lon_offset) / gran).astype(np.int64)
        dense = group.dense
        dense.id[0] += offset  # delta-coded: the first is absolute
        del dense.lat[:]
        del dense.lon[:]
        dense.lat.extend(np.diff(lat, prepend=0).tolist())
        dense.lon.extend(np.diff(lon, prepend=0).tolist())
        _write_blob(fh, "OSMData", block.SerializeToString())


def _write_ways(fh: Any, osm_pb: Any, src: _Source, offset: int) -> None:
    for b, g in src.groups["ways"]:
        block = _block(osm_pb, src.blocks[b])
        group = block.primitivegroup.add()
        group.CopyFrom(g)
        for w in group.ways:
            w.id += offset
            if len(w.refs):
                w.refs[0] += offset  # delta-coded: the first is absolute
        _write_blob(fh, "OSMData", block.SerializeToString())


def _write_connectors(
    fh: Any,
    osm_pb: Any,
    borders: dict[str, tuple[np.ndarray, np.ndarray]],
    k: int,
    span: int,
    size: tuple[float, float],
) -> None:
    """Footways from each tile's east (north) border nodes to the nearest west (south)
    border node of the next tile."""
    block = osm_pb.PrimitiveBlock()
    block.stringtable.s.extend([b"", b"highway", b"footway", b"name", b"connector"])
    group = block.primitivegroup.add()
    next_id = k * k * span + 1
    for a_side, b_side, step, axis in (("east", "west", (1, 0), 0), ("north", "south", (0, 1), 1)):
        a_ids, a_xy = borders[a_side]
        b_ids, b_xy = borders[b_side]
        shift = np.zeros(2)
        shift[axis] = size[axis]
        _, nearest = cKDTree(b_xy + shift).query(a_xy)
        for i in range(k - step[0]):
            for j in range(k - step[1]):
                ta, tb = i * k + j, (i + step[0]) * k + j + step[1]
                for a, b in zip(a_ids, b_ids[nearest], strict=True):
                    way = group.ways.add()
                    way.id = next_id
                    next_id += 1
                    way.keys.extend([1, 3])
                    way.vals.extend([2, 4])
                    first, second = int(a) + ta * span, int(b) + tb * span
                    way.refs.extend([first, second - first])
    if len(group.ways):
        _write_blob(fh, "OSMData", block.SerializeToString())
