"""The what-if server for real: uvicorn on a free local port, under load from concurrent
clients, and its page in a real headless Chromium with every outside request blocked."""

from __future__ import annotations

import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import psutil
import pytest
import uvicorn

from lifecircle.analysis import run_plan
from lifecircle.serve.app import make_app
from lifecircle.serve.state import WhatIf
from tests.maps.test_browser import CHROMIUM_FLAGS, _chromium, _unavailable
from tests.serve.conftest import CAT, street_points

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
"""Where the screenshot goes (docs/serve.png, in the README, is a copy of one)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(served):
    """The served study on a real uvicorn server, for the test's length."""
    _, config, w = served
    while w.undo() is not None:  # a clean scenario
        pass
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(make_app(w, config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", w
    server.should_exit = True
    thread.join(10)
    while w.undo() is not None:
        pass


def test_200_what_ifs_from_20_clients(live) -> None:
    url, w = live
    spots = street_points(w, 100, seed=21)
    proc = psutil.Process(os.getpid())
    rss_before = proc.memory_info().rss

    def one(i: int) -> int:
        lon, lat = spots[i % len(spots)]
        with httpx.Client(base_url=url, timeout=60) as c:
            if i % 2 == 0:
                body = {"op": "add", "category": CAT, "lon": lon, "lat": lat}
                return c.post("/api/change", json=body).status_code
            return c.post("/api/undo", params={"category": CAT}).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(one, range(200)))
    assert all(c in (200, 409) for c in codes), sorted(set(codes))
    assert codes.count(200) >= 150  # refusals only for sites next to an existing pharmacy
    growth = proc.memory_info().rss - rss_before
    assert growth < 200e6, growth


def _fresh_share(w: WhatIf, lon: float, lat: float) -> float:
    """The pharmacy share of a fresh run_plan with one more pharmacy at (lon, lat)."""
    new = gpd.GeoDataFrame(
        {
            "facility_id": ["new"],
            "category": [CAT],
            "name": None,
            "source": "x.csv",
            "capacity": float("nan"),
        },
        geometry=gpd.points_from_xy([lon], [lat]),
        crs="EPSG:4326",
    ).to_crs(w.area.crs)
    fac = gpd.GeoDataFrame(pd.concat([w.area.facilities, new], ignore_index=True), crs=w.area.crs)
    result = run_plan(replace(w.area, facilities=fac), w.params)
    return float(result.coverage.overall.set_index("category").loc[CAT, "share"])


def test_the_page_in_a_real_browser(live) -> None:
    url, w = live
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    exe = _chromium()
    if exe is None:
        _unavailable("no Chromium found")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        blocked: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        def route(r):  # type: ignore[no-untyped-def]
            if r.request.url.startswith(url):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(url + "/")
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        try:
            page.wait_for_function("() => document.body.dataset.ready === '1'", timeout=30000)
        finally:
            assert errors == [], errors
        page.select_option("#cat", CAT)
        page.wait_for_timeout(300)
        before = page.inner_text("#share")
        # a site on a street far from the pharmacies, clicked on the map
        for lon, lat in street_points(w, 40, seed=5):
            try:
                w._check_near(CAT, lon, lat, None)
                break
            except ValueError:
                continue
        expected = f"{100 * _fresh_share(w, lon, lat):.1f}%"
        assert expected != before
        xy = page.evaluate(
            "([lat, lon]) => { const p = window.whatifMap.latLngToContainerPoint([lat, lon]);"
            " const r = window.whatifMap.getContainer().getBoundingClientRect();"
            " return [p.x + r.left, p.y + r.top]; }",
            [lat, lon],
        )
        clicked = page.evaluate(
            "([x, y]) => window.whatifMap.containerPointToLatLng([x, y])", [xy[0], xy[1]]
        )
        page.mouse.click(xy[0], xy[1])
        page.wait_for_function(f"() => document.querySelector('#share').textContent !== '{before}'")
        # the click lands within a pixel of the site: the share of a fresh run with the
        # facility where the click put it
        prop = list(w.proposals.values())[-1]
        assert abs(prop.lon - clicked["lng"]) < 1e-3 and abs(prop.lat - clicked["lat"]) < 1e-3
        assert page.inner_text("#share") == f"{100 * _fresh_share(w, prop.lon, prop.lat):.1f}%"
        # a unit found by its id, its checklist before and after
        uid = str(w.unit_ids[int(w.unit_res.argmax())])
        page.fill("#q", uid)
        page.click("#go")
        page.wait_for_selector("#checklist b")
        assert uid in page.inner_text("#checklist")
        page.click("#export")
        page.wait_for_function("() => window.lastExport !== undefined")
        files = page.evaluate("() => window.lastExport")
        assert "scenario_added.csv" in files and "scenario_added.csv" in files["plan.toml"]
        assert errors == [] and blocked == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "serve.png"))
        browser.close()


def test_serve_beyond_this_machine_asks_for_the_printed_token(served) -> None:
    import subprocess
    import sys

    out, _, _ = served
    port = _free_port()
    cmd = [sys.executable, "-m", "lifecircle", "serve", str(out), "--host", "127.0.0.2"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the study is built
        url = line.split("open ")[1].split()[0]
        assert url.startswith(f"http://127.0.0.2:{port}/?token=")
        token = url.split("token=")[1]
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.2:{port}/api/study", timeout=10)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert r.status_code == 403 and r.json()["error"] == "token"
        assert (
            httpx.get(f"http://127.0.0.2:{port}/api/study", params={"token": "x"}).status_code
            == 403
        )
        ok = httpx.get(f"http://127.0.0.2:{port}/api/study", params={"token": token}, timeout=30)
        assert ok.status_code == 200 and ok.json()["categories"]
    finally:
        proc.terminate()
        proc.wait(10)
