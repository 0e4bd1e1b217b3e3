"""The demo map in a real headless Chromium, with every request outside file:// blocked.

Skipped, with the reason, when no Chromium is installed; CI sets
LIFECIRCLE_REQUIRE_BROWSER=1, which makes a missing browser a failure instead.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("LIFECIRCLE_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if candidate and (shutil.which(candidate) or Path(candidate).is_file()):
            return shutil.which(candidate) or candidate
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get("LIFECIRCLE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and LIFECIRCLE_REQUIRE_BROWSER=1 requires the browser test to run")
    pytest.skip(
        f"{reason}: install Debian's chromium (apt install chromium) to run the map in a browser"
    )


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    exe = _chromium()
    if exe is None:
        _unavailable("no Chromium found")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def expected_overlays(result) -> int:
    """Layers the map's layer control should list, counted from the result."""
    cat = result.focus_category
    k = result.access.column(cat)
    fac_cats = set(result.area.facilities["category"])
    bands = (
        result.catchments is not None
        and (
            (result.catchments["category"] == cat)
            & (result.catchments["kind"] == "existing")
            & (result.catchments["band_m"] != result.access.thresholds_m[k])
        ).any()
    )
    gaps = result.gaps is not None and (result.gaps["category"] == cat).any()
    uncovered = (~result.access.covered[:, k]).any()
    sites = sum(1 for rec in result.sites.values() if len(rec.sites))
    return 1 + int(bands) + int(gaps) + len(fac_cats) + int(uncovered) + sites + 1


def test_demo_map_in_a_real_browser(demo_run, browser) -> None:
    result, out = demo_run
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):  # type: ignore[no-untyped-def]
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto((out / "map.html").as_uri())
    page.wait_for_function(
        "() => window.L !== undefined && document.querySelector('.leaflet-control-layers')"
    )
    page.wait_for_timeout(500)
    assert errors == [], errors
    assert blocked == [], blocked  # the page asks for nothing outside the file
    find_map = "Object.keys(window).filter(k => k.startsWith('map_') && window[k] instanceof L.Map)"
    assert page.evaluate(f"() => {find_map}.length") == 1
    overlays = page.locator(".leaflet-control-layers-overlays label").count()
    assert overlays == expected_overlays(result)
    # the grid manager's checklist: click the unit with the most residents
    by_unit = result.coverage.by_unit.groupby("unit_id")["residents"].first()
    uid = by_unit.idxmax()
    unit = result.area.units.set_index("unit_id").loc[[uid]].to_crs("EPSG:4326")
    pt = unit.geometry.iloc[0].representative_point()
    boxes = page.locator(".leaflet-control-layers-overlays input")
    for i in range(1, boxes.count()):  # only the units on, so that the click lands on the cell
        boxes.nth(i).uncheck()
    xy = page.evaluate(
        f"([lat, lon]) => {{ const map = window[{find_map}[0]];"
        " const p = map.latLngToContainerPoint([lat, lon]);"
        " const r = map.getContainer().getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; }",
        [pt.y, pt.x],
    )
    page.mouse.click(xy[0], xy[1])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=3000)
    text = popup.inner_text()
    assert str(uid) in text
    assert "Missing services" in text and "Kindergarten" in text
    # the proposed sites and the study area back on for the picture, after the popup's fade
    for label in ("Proposed sites", "Study area"):
        page.locator(".leaflet-control-layers-overlays label", has_text=label).locator(
            "input"
        ).check()
    page.wait_for_timeout(600)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / "demo-map.png"))
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=float)
    assert pixels.std() > 20  # not blank
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100
    page.close()


def open_page(browser, path: Path):  # type: ignore[no-untyped-def]
    """The page at ``path`` in a fresh tab with every request outside file:// blocked, once
    its layer control is drawn; and the lists of errors and blocked requests."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):  # type: ignore[no-untyped-def]
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_function(
        "() => window.L !== undefined && document.querySelector('.leaflet-control-layers')"
    )
    return page, errors, blocked


MAP_JS = "Object.values(window).find(v => v instanceof L.Map)"
RESIDENT_MARKERS = (
    f"() => {{ let n = 0; {MAP_JS}.eachLayer(l => {{"
    " if (l instanceof L.CircleMarker && l.options.color === '#7f0000') n += 1; }); return n; }"
)


def test_aggregated_residents_open_to_points_on_zoom(tiled_k3, browser, tmp_path) -> None:
    from lifecircle.maps.coverage_map import coverage_map, detail_zoom, save_map

    result = tiled_k3
    path = tmp_path / "k3.html"
    save_map(coverage_map(result, offline=True, resident_points_max=300), path)
    page, errors, blocked = open_page(browser, path)
    page.wait_for_timeout(300)
    assert errors == [] and blocked == []
    k = result.access.column("pharmacy")
    unc = ~result.access.covered[:, k]
    points = result.area.demand.loc[unc].to_crs("EPSG:4326")
    units = points["unit_id"].astype(str)
    zoom = detail_zoom(result)
    assert page.evaluate(f"() => {MAP_JS}.getZoom()") < zoom
    assert page.evaluate(RESIDENT_MARKERS) == units.nunique()  # one circle per unit
    # the circle of the unit with the most uncovered residents tells its numbers
    res = pd.Series(result.access.demand.residents, dtype=float)
    all_units = pd.Series(result.access.demand.unit_id).astype(str)
    top = res[unc].groupby(all_units[unc]).sum().idxmax()
    mine = points.loc[units == top]
    w = res[unc].to_numpy()[(units == top).to_numpy()]
    centre = [float(np.average(mine.geometry.y, weights=w))]
    centre.append(float(np.average(mine.geometry.x, weights=w)))
    text = page.evaluate(
        f"([lat, lon]) => {{ let best = null, d = Infinity; {MAP_JS}.eachLayer(l => {{"
        " if (l instanceof L.Circle) { const e = l.getLatLng().distanceTo([lat, lon]);"
        " if (e < d) { d = e; best = l; } } }); best.openPopup();"
        " return document.querySelector('.leaflet-popup-content').innerText; }",
        centre,
    )
    total = res.groupby(all_units).sum()[top]
    uncovered = res[unc].groupby(all_units[unc]).sum()[top]
    assert top in text and f"{round(total):,}" in text and f"{round(uncovered):,}" in text
    assert f"{round(100 * round(uncovered) / round(total))}%" in text
    page.evaluate(f"() => {{ {MAP_JS}.closePopup(); }}")
    # zoom in on the unit with the most uncovered points: its points, and those around it
    busiest = points.loc[units == units.value_counts().idxmax()]
    lat, lon = float(busiest.geometry.y.mean()), float(busiest.geometry.x.mean())
    page.evaluate(f"() => {{ {MAP_JS}.setView([{lat}, {lon}], {zoom}, {{animate: false}}); }}")
    page.wait_for_function("() => window.LC_RESIDENTS.mode === 'detail'")
    page.wait_for_timeout(300)
    s, w, n, e = page.evaluate(
        f"() => {{ const b = {MAP_JS}.getBounds();"
        " return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; }"
    )
    dy, dx = (n - s) * 0.25, (e - w) * 0.25  # the page draws the view padded by a quarter
    y, x = points.geometry.y.to_numpy(), points.geometry.x.to_numpy()
    in_view = (y >= s - dy) & (y <= n + dy) & (x >= w - dx) & (x <= e + dx)
    shown = page.evaluate(RESIDENT_MARKERS)
    assert shown > len(busiest) and abs(shown - int(in_view.sum())) <= 2  # 1e-5 degree rounding
    page.evaluate(f"() => {{ {MAP_JS}.setZoom({zoom - 2}, {{animate: false}}); }}")
    page.wait_for_function("() => window.LC_RESIDENTS.mode === 'aggregate'")
    assert page.evaluate(RESIDENT_MARKERS) == units.nunique()
    assert errors == [] and blocked == []
    page.close()


def test_offline_page_draws_the_study_streets(tiled_k3, browser, tmp_path) -> None:
    from lifecircle.maps.coverage_map import coverage_map, save_map
    from tests.maps.test_map import expected_street_vertices

    path = tmp_path / "streets.html"
    save_map(coverage_map(tiled_k3, offline=True), path)
    page, errors, blocked = open_page(browser, path)
    assert errors == [] and blocked == []
    stats = page.evaluate("() => window.LC_STREETS")
    assert stats["vertices"] == expected_street_vertices(tiled_k3)
    inked = page.evaluate(
        "() => { const c = document.querySelector('canvas.lc-streets');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n += 1; } return n; }"
    )
    assert inked > 10_000  # the streets are drawn, not only decoded
    page.close()


CATCHMENT_RINGS = (
    "() => { const out = []; Object.values(window).forEach(g => {"
    " if (!(g instanceof L.FeatureGroup)) return; g.eachLayer(l => {"
    " if (l instanceof L.Polygon && l.options.fillOpacity === 0.15 && l.getTooltip()) {"
    " const ll = l.getLatLngs(); const polys = Array.isArray(ll[0][0]) ? ll : [ll];"
    " out.push(polys.map(p => p.map(r => r.length))); } }); }); return out; }"
)


def test_demo_catchments_are_drawn_ring_for_ring(demo_run, browser) -> None:
    # every catchment the map draws (each category's reach, the bands, the proposed reach)
    # arrives in the page as Leaflet polygons with the rings and vertices of the geometry
    # written (Leaflet drops each ring's closing vertex)
    from lifecircle.maps.coverage_map import _Display, _ready_catchments

    result, out = demo_run
    drawn = _ready_catchments(result, result.focus_category, _Display())
    assert drawn is not None and len(drawn)
    page, errors, blocked = open_page(browser, out / "map.html")
    got = page.evaluate(CATCHMENT_RINGS)
    assert errors == [] and blocked == []

    def corners(ring: shapely.LinearRing) -> int:  # repeated vertices dropped (1e-5 deg)
        c = np.rint(np.asarray(ring.coords) * 1e5)
        return 1 + int((np.diff(c, axis=0) != 0).any(axis=1).sum())

    expected = []
    for geom in drawn.geometry:
        feature = []
        for p in shapely.get_parts(geom):  # rings left with under 3 corners are not drawn
            n = [corners(r) for r in (p.exterior, *p.interiors)]
            if n[0] >= 4:
                feature.append([k - 1 for k in n if k >= 4])
        expected.append(feature)
    # the drawn frame holds the rows the page shows, once each (the facility layers'
    # reaches, the bands and the proposed reaches); a category without facilities has none
    assert sorted(map(str, got)) == sorted(map(str, expected))
    page.close()
