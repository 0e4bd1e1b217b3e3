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
import pytest

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
