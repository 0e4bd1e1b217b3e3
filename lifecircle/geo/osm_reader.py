"""One pass over an OSM extract (PBF or XML alike) with pyosmium.

The pass keeps only what a plan needs, in plain columns: the walkable ways (their node ids,
locations and tags), buildings, candidate service features (nodes, ways and multipolygon
relations), land use, the areas that may be gated compounds with their gate and entrance
nodes, and administrative boundaries. Multipolygon and boundary relations are assembled
by osmium's area handler; closed ways become polygons here. Street ways are then cut into
edges at the nodes they share and at their ends (:func:`split_ways`), so an edge runs from
one junction or dead end to the next. :mod:`lifecircle.geo.osm` turns the columns into
GeoDataFrames and clips them to the study area.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["Edges", "OsmColumns", "Shapes", "read_columns", "split_edges", "split_ways"]

Filter = Mapping[str, "bool | list[str]"]

_FORMATS = (
    (".osm.pbf", "pbf"),
    (".pbf", "pbf"),
    (".osm.bz2", "osm.bz2"),
    (".xml.bz2", "osm.bz2"),
    (".osm.xml", "osm"),
    (".osm", "osm"),
    (".xml", "osm"),
)

_WKB = osmium.geom.WKBFactory()
POINT, LINE, POLYGON = 0, 1, 2
"""The kinds of geometry :meth:`Shapes.add_coords` builds."""
_DENSE_IDS = 1 << 30
"""Area ids below which osmium's id filter is used: measured here, 12,000 ids below 4e7
take it 0.01 s, the 8,600 of the tiled Helsinki k=10 file (near 2e12) 0.4 s and 600 MB. A
relation's area id is twice its id plus one; OSM's relation ids are far below this."""


@dataclass
class Shapes:
    """Features of one kind as columns: OSM type and id, tags, geometry.

    Points, lines and polygons given as coordinates (:meth:`add_coords`) are built all at
    once, vectorised, by :meth:`finish`, which the reader calls at the end of its pass.
    """

    osm_type: list[str] = field(default_factory=list)
    osm_id: list[int] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    geometry: list[BaseGeometry | None] = field(default_factory=list)
    _pending: dict[int, tuple[list[int], list[np.ndarray]]] = field(
        default_factory=dict, repr=False
    )

    def add(
        self, osm_type: str, osm_id: int, tags: dict[str, str], geom: BaseGeometry | None
    ) -> None:
        """Append one feature.

        Parameters
        ----------
        osm_type, osm_id
            ``node``, ``way`` or ``relation``, and its OSM id.
        tags
            Every OSM tag of the object.
        geom
            Its geometry (WGS84).
        """
        self.osm_type.append(osm_type)
        self.osm_id.append(osm_id)
        self.tags.append(tags)
        self.geometry.append(geom)

    def add_coords(
        self, osm_type: str, osm_id: int, tags: dict[str, str], kind: int, xy: np.ndarray
    ) -> None:
        """Append one feature whose geometry :meth:`finish` builds from coordinates.

        Parameters
        ----------
        osm_type, osm_id
            ``node``, ``way`` or ``relation``, and its OSM id.
        tags
            Every OSM tag of the object.
        kind
            ``POINT``, ``LINE`` or ``POLYGON`` (a ring, closed if it is not).
        xy
            Its WGS84 coordinates, ``(n, 2)``.
        """
        rows, coords = self._pending.setdefault(kind, ([], []))
        rows.append(len(self.geometry))
        coords.append(xy)
        self.add(osm_type, osm_id, tags, None)

    def finish(self) -> None:
        """Build the geometries given as coordinates, one vectorised call per kind."""
        for kind, (rows, coords) in self._pending.items():
            xy = np.concatenate(coords).reshape(-1, 2)
            index = np.repeat(np.arange(len(coords)), [len(c) for c in coords])
            if kind == POINT:
                geoms = shapely.points(xy)
            elif kind == LINE:
                geoms = shapely.linestrings(xy, indices=index)
            else:
                geoms = shapely.polygons(shapely.linearrings(xy, indices=index))
            for row, geom in zip(rows, geoms.tolist(), strict=True):
                self.geometry[row] = geom
        self._pending.clear()


@dataclass
class OsmColumns:
    """What one pass over an extract keeps (WGS84 coordinates)."""

    way_id: list[int] = field(default_factory=list)
    way_tags: list[dict[str, str]] = field(default_factory=list)
    way_refs: list[np.ndarray] = field(default_factory=list)
    way_xy: list[np.ndarray] = field(default_factory=list)
    buildings: Shapes = field(default_factory=Shapes)
    features: Shapes = field(default_factory=Shapes)
    landuse: Shapes = field(default_factory=Shapes)
    compounds: Shapes = field(default_factory=Shapes)
    gates: Shapes = field(default_factory=Shapes)
    boundaries: Shapes = field(default_factory=Shapes)
    bounds: tuple[float, float, float, float] | None = None
    objects: int = 0


@dataclass(frozen=True)
class _Wanted:
    """Which tags put an object into which layer."""

    features: Filter
    compounds: Filter
    gates: Filter
    walkable: Callable[[Mapping[str, str]], bool]
    street_tags: tuple[str, ...] | None = None
    other_keys: tuple[str, ...] = ()

    def area_keys(self) -> list[str]:
        keys = {"building", "landuse", "boundary", *self.features, *self.compounds}
        return sorted(keys)


def matches(tags: Mapping[str, str], filt: Filter) -> bool:
    """Whether any key of ``filt`` is on ``tags`` with a wanted value (True: any value).

    Examples
    --------
    >>> matches({"shop": "bakery"}, {"shop": True})
    True
    >>> matches({"leisure": "park"}, {"leisure": ["pitch"]})
    False
    """
    for key in tags.keys() & filt.keys():  # an object has few tags, a filter many keys
        values = filt[key]
        if values is True or (not isinstance(values, bool) and tags[key] in values):
            return True
    return False


def file_format(path: Path) -> str | None:
    """The osmium format name of an extract from its file name, or None when unknown."""
    lower = path.name.lower()
    for suffix, fmt in _FORMATS:
        if lower.endswith(suffix):
            return fmt
    return None


def read_columns(
    path: Path,
    *,
    features: Filter,
    compounds: Filter,
    gates: Filter,
    walkable: Callable[[Mapping[str, str]], bool],
    street_tags: Iterable[str] | None = None,
) -> OsmColumns:
    """Read an extract once and keep the layers a plan needs.

    Parameters
    ----------
    path
        An ``.osm.pbf``, ``.osm``, ``.osm.xml`` or ``.osm.bz2`` file.
    features
        Tags of candidate service features, ``{key: True | [values]}``.
    compounds
        Tags of the areas that may be gated compounds.
    gates
        Tags of the gate and entrance nodes.
    walkable
        Whether a way with these tags is a walkable street.
    street_tags
        The tags ``walkable`` and the edges read: a way that is a street only keeps these
        (and they are read faster); None keeps every tag of every street.

    Returns
    -------
    OsmColumns
        The kept objects; ``bounds`` is the file header's box, when it declares one.
    """
    fmt = file_format(path)
    street = tuple(dict.fromkeys(street_tags)) if street_tags is not None else None
    others = {"building", "landuse", *features, *compounds} - set(street or ())
    wanted = _Wanted(features, compounds, gates, walkable, street, tuple(sorted(others)))
    src = osmium.io.File(str(path), fmt) if fmt else str(path)
    out = OsmColumns()
    box = osmium.io.Reader(src, osmium.osm.osm_entity_bits.NOTHING)
    try:
        b = box.header().box()
        if b.valid():
            out.bounds = (b.bottom_left.lon, b.bottom_left.lat, b.top_right.lon, b.top_right.lat)
    finally:
        box.close()
    try:
        _pass(src, wanted, out)
    except RuntimeError as exc:  # the area handler needs objects in id order
        if "out of order" not in str(exc):
            raise
        with tempfile.TemporaryDirectory(prefix="lifecircle-osm-") as tmp:
            bounds = out.bounds
            out = OsmColumns(bounds=bounds)
            _pass(_sorted_copy(src, Path(tmp) / "sorted.osm.pbf"), wanted, out)
    return out


def _pass(src: Any, wanted: _Wanted, out: OsmColumns) -> None:
    """The one pass: node locations for ways, multipolygons assembled, tagged objects kept.

    It reads as :class:`osmium.FileProcessor` does, every filter in C++, so that only the
    nodes and ways some layer asks for and the areas osmium assembles from relations reach
    the Python code (osmium also makes an area of each closed way, which the ways give
    already: the relations' areas are picked by id). The first reading, of the relations
    for the area handler, also takes the nodes wanted for a key's value only (a filter
    passes either any value of some keys or some values, not both at once).
    """
    keys, pairs = _node_keys(wanted)
    # every handler and filter is held here while osmium uses it (it does not hold them)
    areas = osmium.area.AreaManager()
    area_keys = osmium.filter.KeyFilter(*wanted.area_keys())
    area_keys.enable_for(osmium.osm.RELATION)
    by_value = osmium.filter.TagFilter(*sorted(pairs)) if pairs else None
    if by_value is not None:
        by_value.enable_for(osmium.osm.NODE)
    first_kinds = osmium.osm.RELATION | (osmium.osm.NODE if by_value else osmium.osm.NOTHING)
    chain = [area_keys, areas.first_pass_handler(), *([by_value] if by_value else [])]
    area_ids: list[int] = []
    early: list[tuple[int, float, float, dict[str, str]]] = []
    with osmium.io.Reader(src, first_kinds) as reader:
        first: Iterable[Any] = osmium.OsmFileIterator(reader, *chain)
        for obj in first:
            if obj.is_relation():
                area_ids.append(_area_id(obj.id))
            elif obj.location.valid() and not any(k in obj.tags for k in keys):
                loc = obj.location
                early.append((obj.id, loc.lon, loc.lat, _all_tags(obj)))
    # osmium's id filter holds a block of bits per stretch of ids: cheap for the ids of
    # real OSM data, slow and large for ids far apart (an extract tiled with offset ids);
    # there, the areas of closed ways are dropped in Python
    dense = not area_ids or max(map(abs, area_ids)) < _DENSE_IDS
    of_relations = [osmium.filter.IdFilter(area_ids)] if dense else []
    relation_areas = osmium.BufferIterator(*of_relations)
    second = areas.second_pass_to_buffer(relation_areas)
    store = osmium.index.create_map("flex_mem")
    locations = osmium.NodeLocationsForWays(store)
    locations.ignore_errors()
    filters = _filters(keys, wanted)
    at = 0  # the nodes read early join the others in the file's order
    with osmium.io.Reader(src) as reader:
        objects: Iterable[Any] = osmium.OsmFileIterator(reader, locations, second, *filters)
        for obj in objects:
            out.objects += 1
            if obj.is_node():
                at = _early_nodes(early, at, obj.id, wanted, out)
                loc = obj.location
                if loc.valid():
                    _node(obj.id, loc.lon, loc.lat, _all_tags(obj), wanted, out)
            else:
                at = _early_nodes(early, at, None, wanted, out)
                _way(obj, wanted, out)
            if relation_areas:  # (an empty buffer is slow to iterate)
                for area in relation_areas:
                    _relation_area(area, wanted, out)
    _early_nodes(early, at, None, wanted, out)
    for area in relation_areas:
        _relation_area(area, wanted, out)
    for shapes in (out.buildings, out.features, out.landuse, out.compounds, out.gates):
        shapes.finish()


def _early_nodes(
    early: list[tuple[int, float, float, dict[str, str]]],
    at: int,
    before: int | None,
    wanted: _Wanted,
    out: OsmColumns,
) -> int:
    """Keep the nodes read early from ``at`` on whose id is below ``before`` (all when it is
    None); returns where the next are."""
    while at < len(early) and (before is None or early[at][0] < before):
        _node(*early[at], wanted, out)
        out.objects += 1
        at += 1
    return at


def _all_tags(obj: Any) -> dict[str, str]:
    """Every tag of an object (read through pyosmium's own accessors, when it has them:
    it is much the slowest step of the reader else)."""
    data = getattr(obj, "_pyosmium_data", None)
    if data is None or not hasattr(data, "tags_next"):
        return {t.k: t.v for t in obj.tags}
    return dict(map(data.tags_next, repeat(data.tags_begin(), data.tags_size())))


def _area_id(relation_id: int) -> int:
    """The id osmium gives the area of a relation (that of a way is even)."""
    area = abs(relation_id) * 2 + 1
    return area if relation_id >= 0 else -area


def _filters(node_keys: set[str], wanted: _Wanted) -> list[Any]:
    """The C++ filters an object passes to be read: nodes with one of ``node_keys`` (any
    value), ways with a key some layer asks for, no relations (the area handler reads them)."""
    way_keys = sorted({"highway", "building", "landuse", *wanted.features, *wanted.compounds})
    kinds = osmium.osm.WAY | (osmium.osm.NODE if node_keys else osmium.osm.NOTHING)
    out: list[Any] = [osmium.filter.EntityFilter(kinds), osmium.filter.EmptyTagFilter()]
    if node_keys:
        nodes = osmium.filter.KeyFilter(*sorted(node_keys))
        nodes.enable_for(osmium.osm.NODE)
        out.append(nodes)
    ways = osmium.filter.KeyFilter(*way_keys)
    ways.enable_for(osmium.osm.WAY)
    out.append(ways)
    return out


def _node_keys(wanted: _Wanted) -> tuple[set[str], set[tuple[str, str]]]:
    """The keys a node is wanted for whatever their value, and the (key, value) pairs it is
    wanted for, of the feature and gate filters."""
    keys: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for filt in (wanted.features, wanted.gates):
        for key, values in filt.items():
            if values is True:
                keys.add(key)
            elif not isinstance(values, bool):
                pairs.update((key, str(v)) for v in values)
    return keys, {(k, v) for k, v in pairs if k not in keys}


def _sorted_copy(src: Any, dest: Path) -> Path:
    """A copy of a file whose objects are out of order (hand-edited files often are), with
    nodes, then ways, then relations, each in id order. It is held in memory while sorted:
    extracts from the usual tools are sorted already and never take this way."""
    nodes: list[Any] = []
    ways: list[Any] = []
    rels: list[Any] = []
    mut = osmium.osm.mutable
    source: Iterable[Any] = osmium.FileProcessor(src)
    for o in source:
        tags = {t.k: t.v for t in o.tags}
        if o.is_node() and o.location.valid():
            nodes.append(mut.Node(id=o.id, location=(o.location.lon, o.location.lat), tags=tags))
        elif o.is_way():
            ways.append(mut.Way(id=o.id, nodes=[n.ref for n in o.nodes], tags=tags))
        elif o.is_relation():
            members = [(m.type, m.ref, m.role) for m in o.members]
            rels.append(mut.Relation(id=o.id, members=members, tags=tags))
    writer = osmium.SimpleWriter(str(dest))
    try:
        for n in sorted(nodes, key=lambda x: x.id):
            writer.add_node(n)
        for w in sorted(ways, key=lambda x: x.id):
            writer.add_way(w)
        for r in sorted(rels, key=lambda x: x.id):
            writer.add_relation(r)
    finally:
        writer.close()
    return dest


def _node(
    node_id: int, lon: float, lat: float, tags: dict[str, str], wanted: _Wanted, out: OsmColumns
) -> None:
    xy: np.ndarray | None = None
    for shapes, filt in ((out.features, wanted.features), (out.gates, wanted.gates)):
        if matches(tags, filt):
            xy = np.array([lon, lat]) if xy is None else xy
            shapes.add_coords("node", node_id, tags, POINT, xy)


def _way_nodes(way: Any, with_refs: bool) -> tuple[np.ndarray | None, np.ndarray]:
    """A way's node ids (None unless ``with_refs``, or some node is missing) and
    coordinates, of the nodes whose location is known."""
    try:  # every location known: the coordinates in one call
        wkb = _WKB.create_linestring(way, osmium.geom.ALL)
    except (osmium.InvalidLocationError, RuntimeError):  # some missing, or a single node
        nodes = way.nodes
        valid = [n.location.valid() for n in nodes]
        kept = [n for n, ok in zip(nodes, valid, strict=True) if ok]
        xy = np.array([(n.lon, n.lat) for n in kept], dtype=float).reshape(-1, 2)
        return np.array([n.ref for n in kept], dtype=np.int64), xy
    xy = np.frombuffer(bytes.fromhex(wkb), dtype="<f8", offset=9).reshape(-1, 2)
    refs = np.array([n.ref for n in way.nodes], dtype=np.int64) if with_refs else None
    return refs, xy


def _three_nodes(way: Any, refs: np.ndarray | None, xy: np.ndarray) -> bool:
    """Whether the kept nodes of a way are three or more different nodes (three different
    locations are; else the ids tell)."""
    if refs is None:
        if len(set(map(tuple, xy.tolist()))) >= 3:
            return True
        refs = np.array([n.ref for n in way.nodes], dtype=np.int64)
    return len(set(refs.tolist())) >= 3


def _street_tags(way: Any, wanted: _Wanted) -> dict[str, str] | None:
    """The street tags of a way that can be nothing but a street (no key of another layer),
    else None."""
    data = getattr(way, "_pyosmium_data", None)
    if wanted.street_tags is None or data is None or not hasattr(data, "tags_has_key"):
        return None
    if any(map(data.tags_has_key, wanted.other_keys)):
        return None
    keys = wanted.street_tags
    values = map(data.tags_get_value_by_key, keys, repeat(None))
    tags = {k: v for k, v in zip(keys, values, strict=True) if v is not None}
    if matches(tags, wanted.features) or matches(tags, wanted.compounds):
        return None  # a feature by a street key's value (``highway=bus_stop``)
    return tags


def _street(way: Any, tags: dict[str, str], out: OsmColumns) -> None:
    """Keep a way that is a walkable street and nothing else."""
    refs, xy = _way_nodes(way, True)
    if refs is not None and len(refs) >= 2:
        out.way_id.append(way.id)
        out.way_tags.append(tags)
        out.way_refs.append(refs)
        out.way_xy.append(xy)


def _way(way: Any, wanted: _Wanted, out: OsmColumns) -> None:
    tags = _street_tags(way, wanted)
    if tags is not None:  # a street or nothing
        if "highway" in tags and wanted.walkable(tags):
            _street(way, tags, out)
        return
    tags = _all_tags(way)
    street = "highway" in tags and wanted.walkable(tags)
    building = "building" in tags
    feature = matches(tags, wanted.features)
    landuse = "landuse" in tags
    compound = matches(tags, wanted.compounds)
    if not (street or building or feature or landuse or compound):
        return
    refs, xy = _way_nodes(way, street)
    if street and refs is not None and len(refs) >= 2:
        out.way_id.append(way.id)
        out.way_tags.append(tags)
        out.way_refs.append(refs)
        out.way_xy.append(xy)
    if not (building or feature or landuse or compound):
        return  # a street only
    # A closed way is a polygon; in an extract cut at its edge some of its nodes may be
    # missing, and the polygon is made of those present (as pyrosm does).
    closed = len(way.nodes) >= 4 and way.is_closed() and _three_nodes(way, refs, xy)
    for shapes, wants in ((out.buildings, building), (out.landuse, landuse)):
        if closed and wants:
            shapes.add_coords("way", way.id, tags, POLYGON, xy)
    if closed and compound:
        out.compounds.add_coords("way", way.id, tags, POLYGON, xy)
    if feature and len(xy) >= 2:
        line = not closed or tags.get("area") == "no"
        out.features.add_coords("way", way.id, tags, LINE if line else POLYGON, xy)


def _relation_area(area: Any, wanted: _Wanted, out: OsmColumns) -> None:
    if area.from_way():
        return  # the way itself is read
    tags = _all_tags(area)
    try:
        geom = shapely.from_wkb(_WKB.create_multipolygon(area))
    except RuntimeError:  # osmium could not build a valid polygon from the members
        return
    rid = area.orig_id()
    if "building" in tags:
        out.buildings.add("relation", rid, tags, geom)
    if "landuse" in tags:
        out.landuse.add("relation", rid, tags, geom)
    if matches(tags, wanted.features):
        out.features.add("relation", rid, tags, geom)
    if matches(tags, wanted.compounds):
        out.compounds.add("relation", rid, tags, geom)
    if tags.get("boundary") == "administrative":
        out.boundaries.add("relation", rid, tags, geom)


def split_ways(
    refs: list[np.ndarray], xy: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Cut ways into edges at the nodes two or more of them share, and at their ends.

    A node shared twice by one way (a loop) also cuts it; a closed way is cut once more at
    its middle node, so that no edge starts and ends at the same node.

    Parameters
    ----------
    refs, xy
        Per way, its node ids and their coordinates.

    Returns
    -------
    (way, u, v, coords)
        Per edge: the index of its way, its first and last node ids, its coordinates.

    Examples
    --------
    >>> refs = [np.array([1, 2, 3]), np.array([4, 2, 5])]
    >>> xy = [np.array([[0, 0], [1, 0], [2, 0]]), np.array([[1, 1], [1, 0], [1, -1]])]
    >>> way, u, v, _ = split_ways(refs, xy)
    >>> way.tolist(), u.tolist(), v.tolist()
    ([0, 0, 1, 1], [1, 2, 4, 2], [2, 3, 2, 5])
    """
    edges = split_edges(refs, xy)
    ends = zip(edges.first.tolist(), edges.last.tolist(), strict=True)
    coords = [edges.xy[i : j + 1] for i, j in ends]
    return edges.way, edges.u, edges.v, coords


@dataclass(frozen=True)
class Edges:
    """Ways cut into edges (:func:`split_edges`): per edge its way's index, first and last
    node ids, and the range ``first..last`` (inclusive) of its vertices in ``xy``."""

    way: np.ndarray
    u: np.ndarray
    v: np.ndarray
    xy: np.ndarray
    first: np.ndarray
    last: np.ndarray

    def lines(self) -> np.ndarray:
        """The edges' LineStrings, built in one vectorised call."""
        n = self.last - self.first + 1
        edge = np.repeat(np.arange(len(n)), n)
        vertex = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n) + self.first[edge]
        return shapely.linestrings(self.xy[vertex], indices=edge)


def split_edges(refs: list[np.ndarray], xy: list[np.ndarray]) -> Edges:
    """:func:`split_ways` with the edges' vertices as ranges of one coordinate array."""
    empty = np.zeros(0, dtype=np.int64)
    if not refs:
        return Edges(empty, empty, empty, np.zeros((0, 2)), empty, empty)
    r = np.concatenate(refs).astype(np.int64, copy=False)
    c = np.concatenate(xy).reshape(-1, 2)
    w = np.repeat(np.arange(len(refs)), [len(x) for x in refs])
    ids, counts = np.unique(r, return_counts=True)
    keep = np.ones(len(r), dtype=bool)
    keep[1:] = (r[1:] != r[:-1]) | (w[1:] != w[:-1])  # a node repeated in a row is one vertex
    r, c, w = r[keep], c[keep], w[keep]
    long = (np.bincount(w, minlength=len(refs)) >= 2)[w]  # a way of one vertex has no edge
    r, c, w = r[long], c[long], w[long]
    if len(r) == 0:
        return Edges(empty, empty, empty, c, empty, empty)
    cut = counts[np.searchsorted(ids, r)] >= 2
    ends = np.flatnonzero(w[1:] != w[:-1])
    cut[0] = cut[-1] = True
    cut[ends] = cut[ends + 1] = True
    at = np.flatnonzero(cut)
    a, b = at[:-1], at[1:]
    same = w[a] == w[b]
    a, b = a[same], b[same]
    # a piece from a node back to itself is cut at its middle vertex
    halve = (r[a] == r[b]) & (b - a >= 2)
    mid = (a + b) // 2
    pair = np.repeat(np.arange(len(a)), 1 + halve)
    p, q = a[pair], b[pair]
    first = np.cumsum(1 + halve) - (1 + halve)
    q[first[halve]] = mid[halve]
    p[first[halve] + 1] = mid[halve]
    return Edges(w[p], r[p], r[q], c, p, q)
