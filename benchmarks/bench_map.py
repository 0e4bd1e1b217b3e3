"""Map benchmark: the coverage map's page size and its time to ready in headless Chromium.

The Helsinki network tiled k x k (``tiling.py``, its 8 categories), a plan of 5 pharmacy
sites, then three pages of the same result:

- ``points``: every uncovered resident a GeoJSON point (aggregation disabled: the page
  before issue 18), OpenStreetMap tiles;
- ``aggregated``: above ``--points-max`` uncovered points, one circle per unit and the points
  on zoom, OpenStreetMap tiles;
- ``offline``: as ``aggregated`` with no tiles, so with the study's streets as a base layer.

Each page is opened ``--repeat`` times in a fresh Chromium tab (every request outside
file:// aborted, so tiles cost nothing); ready = the load event, the layer control drawn, the
resident layer drawn, then two animation frames. Medians are printed, with the time Python
takes to write the page.

Usage: python benchmarks/bench_map.py [--k 3 10] [--repeat 3] [--points-max 3000]
[--catchments] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

READY = (
    "() => window.L !== undefined && document.querySelector('.leaflet-control-layers')"
    " && (window.LC_RESIDENTS === undefined || window.LC_RESIDENTS.mode !== null)"
)
FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def _result(k: int, catchments: bool):  # type: ignore[no-untyped-def]
    from benchmarks.tiling import tiled_study
    from lifecircle.analysis import run_plan
    from lifecircle.params import PlacementSpec, PlanParams

    area = tiled_study(k)
    params = PlanParams(
        placements=(PlacementSpec("pharmacy", p=5),),
        candidate_spacing_m=None,
        catchments=catchments,
    )
    return run_plan(area, params)


def _pages(result, points_max: int, folder: Path) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    from lifecircle.maps.coverage_map import coverage_map, map_html

    variants = {
        "points": {"tiles": "osm", "resident_points_max": None},
        "aggregated": {"tiles": "osm", "resident_points_max": points_max},
        "offline": {"offline": True, "resident_points_max": points_max},
    }
    out = {}
    for name, kwargs in variants.items():
        t0 = time.perf_counter()
        html = map_html(coverage_map(result, **kwargs))
        seconds = time.perf_counter() - t0
        path = folder / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        out[name] = {"path": path, "mb": path.stat().st_size / 1e6, "write_s": seconds}
    return out


def _ready_s(browser, path: Path) -> float:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort()
    )
    t0 = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load", timeout=300_000)
    page.wait_for_function(READY, timeout=300_000)
    page.evaluate(FRAMES)
    seconds = time.perf_counter() - t0
    page.close()
    if errors:
        raise RuntimeError(f"{path.name}: {errors}")
    return seconds


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, nargs="+", default=[3, 10])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--points-max", type=int, default=3000)
    ap.add_argument("--catchments", action="store_true", help="draw catchments too")
    chromium = os.environ.get("LIFECIRCLE_CHROMIUM", "/usr/bin/chromium")
    ap.add_argument("--chromium", default=chromium)
    args = ap.parse_args()
    summary: dict[str, dict] = {}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        for k in args.k:
            result = _result(k, args.catchments)
            k_unc = ~result.access.covered[:, result.access.column(result.focus_category)]
            folder = Path(tmp) / f"k{k}"
            folder.mkdir()
            pages = _pages(result, args.points_max, folder)
            times: dict[str, list[float]] = {name: [] for name in pages}
            for _ in range(args.repeat):  # alternate the pages within each round
                for name, rec in pages.items():
                    times[name].append(_ready_s(browser, rec["path"]))
            summary[f"k{k}"] = {
                "edges": len(result.area.edges),
                "units": len(result.area.units),
                "resident_points": len(result.area.demand),
                "uncovered_points": int(k_unc.sum()),
                "pages": {
                    name: {
                        "mb": rec["mb"],
                        "write_s": rec["write_s"],
                        "ready_s": statistics.median(times[name]),
                        "ready_runs_s": times[name],
                    }
                    for name, rec in pages.items()
                },
            }
            for name, rec in summary[f"k{k}"]["pages"].items():
                print(
                    f"k={k} {name}: {rec['mb']:.2f} MB, written in {rec['write_s']:.1f} s, "
                    f"ready in {rec['ready_s']:.2f} s (median of {args.repeat})",
                    flush=True,
                )
        browser.close()
    record = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_end": os.getloadavg(),
            "note": "shared by other agents while it ran",
        },
        "args": vars(args),
        "summary": summary,
    }
    target = HERE / "results" / "bench_map.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
