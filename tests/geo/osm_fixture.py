"""A small OSM XML extract written by the tests, with every value known by construction.

Laid out in metres in UTM zone 50N (Beijing) and converted to longitude/latitude, so
expected areas and positions follow from the layout, not from the code under test.

    y
    150 |              5
        |              |            7 (footbridge, layer 1, no shared node)
      0 | 1 ---------- 2 ----------+------ 3      street 学院路 (residential)
        |              |            |
   -150 |              4            6
        +-----------------------------------> x (0 .. 400)
    300 | 8 =============================== 9      motorway (not walkable)
"""

from __future__ import annotations

from pathlib import Path

from pyproj import Transformer

UTM = "EPSG:32650"
ORIGIN = (444_000.0, 4_423_000.0)  # near 116.35 E, 39.96 N
_TO_LL = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)

NODES = {
    1: (0, 0), 2: (200, 0), 3: (400, 0), 4: (200, -150), 5: (200, 150),
    6: (300, -100), 7: (300, 100), 8: (0, 300), 9: (400, 300),
}  # fmt: skip
POIS = {
    # id: (x, y, tags)
    10: (50, -10, {"amenity": "pharmacy", "name": "同仁堂药店"}),
    11: (150, 60, {"amenity": "kindergarten", "name": "北邮幼儿园"}),
    12: (300.5, 2, {"amenity": "pharmacy", "name": "桥下药房"}),  # at street level under the bridge
}
BUILDINGS = {
    # way id: (x0, y0, x1, y1, tags) -- rectangles
    200: (20, 20, 60, 40, {"building": "apartments", "building:levels": "6", "name": "1号楼"}),
    201: (100, 20, 130, 50, {"building": "yes"}),  # inside the residential land use: 900 m2
    202: (250, 20, 280, 40, {"building": "office"}),
    203: (320, -60, 360, -30, {"building": "yes", "shop": "supermarket", "name": "物美超市"}),
}
LANDUSE = {300: (90, 10, 180, 100, {"landuse": "residential"})}
SCHOOL = {204: (300, 40, 380, 90, {"amenity": "school", "name": "海淀实验小学"})}
WAYS = {
    100: ([1, 2, 3], {"highway": "residential", "name": "学院路"}),
    101: ([4, 2, 5], {"highway": "footway"}),
    102: ([6, 7], {"highway": "footway", "bridge": "yes", "layer": "1"}),
    103: ([8, 9], {"highway": "motorway", "name": "京藏高速"}),
}
BOUNDS = (-50, -200, 450, 350)

# what the tests expect, by construction
APARTMENT_RESIDENTS = 40 * 20 * 6 / 33.0  # footprint x levels / 33 m2 per person
GENERIC_RESIDENTS = 30 * 30 * 6 / 33.0  # building=yes in residential land use, default 6 floors
WALKABLE_EDGES = 5  # 学院路 in two, the footway in two, the footbridge; no motorway


def lonlat(x: float, y: float) -> tuple[float, float]:
    """The longitude and latitude of a point given in metres from the origin."""
    lon, lat = _TO_LL.transform(ORIGIN[0] + x, ORIGIN[1] + y)
    return float(lon), float(lat)


def metric(x: float, y: float) -> tuple[float, float]:
    """The UTM coordinates of a point given in metres from the origin."""
    return ORIGIN[0] + x, ORIGIN[1] + y


def _tags(tags: dict[str, str]) -> str:
    return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())


def write_osm(
    path: Path,
    *,
    pois: dict[int, tuple[float, float, dict[str, str]]] | None = None,
    polygons: dict[int, tuple[float, float, float, float, dict[str, str]]] | None = None,
) -> Path:
    """Write the extract as OSM XML (with ``<bounds>``), with extra ``pois`` (node id: x, y,
    tags) and rectangular ``polygons`` (way id: x0, y0, x1, y1, tags) if given."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<osm version="0.6" generator="lifecircle tests">',
    ]
    (w, s), (e, n) = lonlat(BOUNDS[0], BOUNDS[1]), lonlat(BOUNDS[2], BOUNDS[3])
    lines.append(f'<bounds minlat="{s:.7f}" minlon="{w:.7f}" maxlat="{n:.7f}" maxlon="{e:.7f}"/>')
    nid = 1000

    def node(i: int, x: float, y: float, tags: dict[str, str] | None = None) -> None:
        lon, lat = lonlat(x, y)
        body = _tags(tags) if tags else ""
        lines.append(f'<node id="{i}" version="1" lat="{lat:.9f}" lon="{lon:.9f}">{body}</node>')

    for i, (x, y) in NODES.items():
        node(i, x, y)
    for i, (x, y, tags) in {**POIS, **(pois or {})}.items():
        node(i, x, y, tags)
    polygons = {**BUILDINGS, **LANDUSE, **SCHOOL, **(polygons or {})}
    corners: dict[int, list[int]] = {}
    for wid, (x0, y0, x1, y1, _) in polygons.items():
        ids = []
        for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
            nid += 1
            node(nid, x, y)
            ids.append(nid)
        corners[wid] = [*ids, ids[0]]
    for wid, (refs, tags) in WAYS.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        lines.append(f'<way id="{wid}" version="1">{nds}{_tags(tags)}</way>')
    for wid, (*_box, tags) in polygons.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in corners[wid])
        lines.append(f'<way id="{wid}" version="1">{nds}{_tags(tags)}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
