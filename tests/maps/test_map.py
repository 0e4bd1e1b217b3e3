"""The coverage map's HTML: base maps, GCJ-02 overlays, clustering, size, measures."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from lifecircle.errors import InputError
from lifecircle.geo.crs import wgs84_to_gcj02
from lifecircle.maps.basemaps import base_map
from lifecircle.maps.coverage_map import coverage_map, save_map
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
