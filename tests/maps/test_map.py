"""The coverage map's HTML: base maps, GCJ-02 overlays, clustering, size, measures."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import shapely

from lifecircle.errors import InputError
from lifecircle.geo.crs import wgs84_to_gcj02
from lifecircle.maps.basemaps import base_map
from lifecircle.maps.compact import decode_ints, encode_ints
from lifecircle.maps.coverage_map import (
    coverage_map,
    detail_zoom,
    map_html,
    polygon_rings,
    save_map,
    simplify_by_ring,
)
from lifecircle.maps.offline import AssetError, inline_assets


def geojson_layers(html: str) -> list[dict]:
    """The FeatureCollections folium wrote into the page (as ``..._add({...})`` calls)."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(html, m.end() - 1)[0] for m in re.finditer(r"_add\(\{", html)]


def test_baidu_tiles_are_refused_with_the_reason() -> None:
    with pytest.raises(InputError, match="BD-09"):
        base_map("https://maponline0.bdimg.com/tile/?qt=vtile&x={x}&y={y}&z={z}")
    with pytest.raises(InputError, match=r"tile URL"):
        base_map("google")


def test_amap_tiles_shift_every_overlay_to_gcj02(demo_run, tmp_path) -> None:
    result, _ = demo_run
    plain = coverage_map(result, tiles="osm").get_root().render()
    shifted = coverage_map(result, tiles="amap").get_root().render()
    assert "autonavi.com" in shifted
    assert "高德".encode("unicode_escape").decode() in shifted  # the attribution, JSON-escaped
    a = np.array(geojson_layers(plain)[0]["features"][0]["geometry"]["coordinates"][0])
    b = np.array(geojson_layers(shifted)[0]["features"][0]["geometry"]["coordinates"][0])
    glon, glat = wgs84_to_gcj02(a[:, 0], a[:, 1])
    np.testing.assert_allclose(b[:, 0], glon, atol=2e-5)
    np.testing.assert_allclose(b[:, 1], glat, atol=2e-5)
    # Helsinki is outside China: GCJ-02 is the identity there, so the shift is nil
    np.testing.assert_allclose(a, b, atol=2e-5)


def test_many_facilities_are_clustered_and_the_page_is_small(demo_run, tmp_path) -> None:
    result, out = demo_run
    html = (out / "map.html").read_text(encoding="utf-8")
    bus = int((result.area.facilities["category"] == "bus_stop").sum())
    assert bus > 80 and "markerClusterGroup" in html  # 92 bus stops: clustered
    assert "MarkerCluster.Default.css" in html  # inlined
    assert (out / "map.html").stat().st_size < 5_000_000
    coords = re.findall(r"\[(-?\d+\.\d+), (-?\d+\.\d+)\]", html)
    assert coords and max(len(x.split(".")[1]) for x, _ in coords[:2000]) <= 6  # about a metre


def test_completeness_measure_and_chinese_labels(demo_run, tmp_path) -> None:
    result, _ = demo_run
    m = coverage_map(result, measure="completeness", level="5min", lang="zh", offline=True)
    path = tmp_path / "m.html"
    save_map(m, path)
    html = path.read_text(encoding="utf-8")
    assert "5分钟生活圈完整的居民比例" in html and "© OpenStreetMap 贡献者" in html
    assert "tile.openstreetmap.org" not in html  # offline: no tiles asked for
    with pytest.raises(ValueError, match="measure"):
        coverage_map(result, measure="beauty")


def test_unknown_external_assets_are_an_error() -> None:
    page = '<html><head><script src="https://cdn.example.com/lib.js"></script></head></html>'
    with pytest.raises(AssetError, match=r"cdn\.example\.com"):
        inline_assets(page)
    dropped = inline_assets('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>')
    assert "jquery" not in dropped


def lc_call(html: str, fn: str) -> dict:
    """The data of the page's ``fn(map, layer, {...})`` call."""
    decoder = json.JSONDecoder()
    m = re.search(rf"{fn}\(map_\w+, \w+, \{{", html)
    assert m is not None, f"no {fn} call in the page"
    return decoder.raw_decode(html, m.end() - 1)[0]


def test_the_integer_stream_is_the_encoded_polyline_format() -> None:
    # the worked example of Google's "Encoded Polyline Algorithm Format" page
    # (developers.google.com/maps/documentation/utilities/polylinealgorithm): the points
    # (38.5, -120.2), (40.7, -120.95), (43.252, -126.453) as 1e-5 degree differences
    deltas = [3850000, -12020000, 220000, -75000, 255200, -550300]
    assert encode_ints(deltas) == "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
    values = np.random.default_rng(7).integers(-(10**8), 10**8, 500)
    assert decode_ints(encode_ints(values)) == values.tolist()
    assert encode_ints([]) == ""


def test_many_residents_are_aggregated_per_unit_in_a_small_page(tiled_k3) -> None:
    result = tiled_k3
    k = result.access.column("pharmacy")
    unc = ~result.access.covered[:, k]
    assert unc.sum() > 300
    html = map_html(coverage_map(result, offline=True, resident_points_max=300))
    plain = map_html(coverage_map(result, offline=True, resident_points_max=None))
    assert len(html.encode()) < 1_500_000 and len(html) < len(plain)

    # no resident point is a GeoJSON feature any more: they are in the compact stream
    def resident_features(page: str) -> int:
        return sum(
            "radius" in f["properties"] for layer in geojson_layers(page) for f in layer["features"]
        )

    assert resident_features(plain) == unc.sum() and resident_features(html) == 0
    data = lc_call(html, "lcResidents")
    assert data["z"] == detail_zoom(result) and 13 <= data["z"] <= 17
    # per unit: its residents, its uncovered residents and its number of points, from the
    # demand table directly
    demand = result.area.demand.assign(unc=unc)
    by_unit = demand.groupby(demand["unit_id"].astype(str))
    total = by_unit["residents"].sum()
    uncovered = demand.loc[unc].groupby(demand.loc[unc, "unit_id"].astype(str))["residents"]
    assert sorted(data["u"]) == sorted(uncovered.groups) == data["u"]
    for uid, (lat, lon, res, unc_res, n) in zip(data["u"], data["a"], strict=True):
        assert res == round(total[uid]) and unc_res == round(uncovered.sum()[uid])
        assert n == uncovered.size()[uid]
        pts = demand.loc[unc & (demand["unit_id"].astype(str) == uid)].to_crs("EPSG:4326")
        assert pts.geometry.y.min() - 1e-5 <= lat / 1e5 <= pts.geometry.y.max() + 1e-5
        assert pts.geometry.x.min() - 1e-5 <= lon / 1e5 <= pts.geometry.x.max() + 1e-5
    stream = np.array(decode_ints(data["p"])).reshape(-1, 4)
    assert len(stream) == unc.sum()
    latlon = np.cumsum(stream[:, :2], axis=0) / 1e5
    ll = demand.loc[unc].to_crs("EPSG:4326")
    got = sorted(map(tuple, np.round(latlon, 5)))
    want = sorted(zip(np.round(ll.geometry.y, 5), np.round(ll.geometry.x, 5), strict=True))
    np.testing.assert_allclose(got, want, atol=1.1e-5)
    assert abs(stream[:, 2].sum() - result.access.demand.residents[unc].sum()) <= len(stream) / 2


def expected_street_vertices(result) -> int:
    """The vertices of the study's streets touching its area, at 1e-5 degree, a vertex that
    rounds onto the previous one not counted, lines left with one vertex not counted."""
    edges = result.area.edges
    inside = edges.loc[edges.intersects(result.area.extent)].to_crs("EPSG:4326")
    total = 0
    for line in inside.geometry:
        kept: list[tuple[int, int]] = []
        for x, y in line.coords:
            q = (round(y * 1e5), round(x * 1e5))
            if not kept or kept[-1] != q:
                kept.append(q)
        total += len(kept) if len(kept) >= 2 else 0
    return total


def test_offline_pages_carry_the_study_streets(tiled_k3) -> None:
    result = tiled_k3
    html = map_html(coverage_map(result, offline=True))
    layers = lc_call(html, "lcStreets")["layers"]
    counts = np.concatenate([decode_ints(s["n"]) for s in layers])
    vertices = sum(len(decode_ints(s["c"])) // 2 for s in layers)
    assert vertices == counts.sum() == expected_street_vertices(result)
    assert 2 * len(counts) <= vertices
    online = map_html(coverage_map(result, tiles="osm"))
    assert "lcStreets(" not in online.split("</script>", 3)[-1]  # tiles: no street layer


def test_ring_by_ring_simplification_is_the_whole_polygons() -> None:
    # a 100 m square with a 2 m outward bump on its bottom edge (under the 3 m tolerance,
    # so simplified away) and wiggles along a hole: ring by ring gives GEOS's own answer
    wiggle = [(20 + 2 * i, 20 + (0.5 if i % 2 else 0.0)) for i in range(21)]
    hole = [*wiggle, (60, 60), (20, 60)]
    shell = [(0, 0), (40, 0), (50, -2), (60, 0), (100, 0), (100, 100), (0, 100)]
    square = shapely.Polygon(shell, [hole])
    far = shapely.affinity.translate(square, 300, 0)
    for geom in (square, shapely.MultiPolygon([square, far])):
        expected = shapely.simplify(geom, 3.0, preserve_topology=True)
        assert shapely.equals_exact(simplify_by_ring(geom, 3.0), expected, 0)
    assert len(simplify_by_ring(square, 3.0).exterior.coords) == 5  # the bump is gone
    # a hole inside the bump: the shell alone would be simplified across it, so that
    # polygon is simplified whole (keeping the bump), and the result stays valid
    pocket = shapely.Polygon(shell, [[(49, -1.5), (51, -1.5), (50, -1)]])
    got = simplify_by_ring(pocket, 3.0)
    assert shapely.is_valid(got)
    assert shapely.equals_exact(got, shapely.simplify(pocket, 3.0, preserve_topology=True), 0)
    assert (50.0, -2.0) in got.exterior.coords


def test_polygon_rings_hold_each_feature_ring_and_vertex() -> None:
    # a square with a hole (a Polygon), and two triangles (a MultiPolygon), in 1e-5 degree
    square = shapely.Polygon(
        [(24.0, 60.0), (24.0001, 60.0), (24.0001, 60.0001), (24.0, 60.0001)],
        [[(24.00002, 60.00002), (24.00003, 60.00002), (24.00003, 60.00003)]],
    )
    tri = shapely.Polygon([(25.0, 61.0), (25.00001, 61.0), (25.0, 61.00001)])
    two = shapely.MultiPolygon([tri, shapely.affinity.translate(tri, 0.00005, 0)])
    props = [{"label": "a", "colour": "#000000"}, {"label": "b", "colour": "#ffffff"}]
    got = polygon_rings(np.array([square, two], dtype=object), props)
    assert decode_ints(got["np"]) == [1, 2]  # polygons per feature
    assert decode_ints(got["nr"]) == [2, 1, 1]  # rings per polygon, the outer one first
    assert decode_ints(got["nv"]) == [5, 4, 4, 4]  # vertices per ring, closed
    c = np.cumsum(np.array(decode_ints(got["c"])).reshape(-1, 2), axis=0)
    assert c[:5].tolist() == [
        [6000000, 2400000], [6000000, 2400010], [6000010, 2400010], [6000010, 2400000],
        [6000000, 2400000],
    ]  # fmt: skip
    assert c[5].tolist() == [6000002, 2400002]
    assert c[-4].tolist() == [6100000, 2500005] and c[-1].tolist() == [6100000, 2500005]
    assert got["f"] == props


def test_polygon_rings_drop_what_rounding_repeats_or_collapses() -> None:
    """Rounded to 1e-5 degree (vertex by vertex, as the map's catchments are): a vertex
    rounded onto the one before is dropped, a hole collapsed to a sliver is dropped, and a
    polygon whose outer ring collapses is dropped with its hole; by hand."""
    square = shapely.Polygon(
        [(24.0, 60.0), (24.000001, 60.0), (24.0001, 60.0), (24.0001, 60.0001), (24.0, 60.0001)],
        [[(24.00002, 60.00002), (24.000021, 60.000021), (24.000022, 60.000022)]],
    )
    speck = shapely.Polygon(
        [(25.0, 61.0), (25.000002, 61.0), (25.0, 61.000002)],
        [[(25.0000005, 61.0000005), (25.000001, 61.0000005), (25.0000005, 61.000001)]],
    )
    tri = shapely.Polygon([(26.0, 62.0), (26.00001, 62.0), (26.0, 62.00001)])
    geoms = shapely.set_precision(
        np.array([square, shapely.MultiPolygon([speck, tri])], dtype=object), 1e-5, mode="pointwise"
    )
    props = [{"label": "a", "colour": "#000000"}, {"label": "b", "colour": "#ffffff"}]
    got = polygon_rings(geoms, props)
    assert decode_ints(got["np"]) == [1, 1]  # the speck is gone, the triangle kept
    assert decode_ints(got["nr"]) == [1, 1]  # the square's collapsed hole is gone
    assert decode_ints(got["nv"]) == [5, 4]  # (24.000001, 60) rounded onto its neighbour
    c = np.cumsum(np.array(decode_ints(got["c"])).reshape(-1, 2), axis=0)
    assert c.tolist() == [
        [6000000, 2400000], [6000000, 2400010], [6000010, 2400010], [6000010, 2400000],
        [6000000, 2400000], [6200000, 2600000], [6200000, 2600001], [6200001, 2600000],
        [6200000, 2600000],
    ]  # fmt: skip
