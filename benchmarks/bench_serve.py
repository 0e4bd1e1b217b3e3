"""What-if latency of ``lifecircle serve``: one change (add, move, remove) answered on the
tiled Helsinki network (benchmarks/tiling.py, k x k tiles), with its category's headline.

Each change runs against the study held in memory (:class:`lifecircle.serve.state.WhatIf`),
then is undone; times are medians over ``--repeat`` changes at different street points.
Targets (issue 19): under 1 s at k = 3, under 3 s at k = 10. The machine's load average is
printed with the figures: on a shared machine they are upper bounds.

Usage: python benchmarks/bench_serve.py [--k 3 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lifecircle.params import PlanParams  # noqa: E402
from lifecircle.serve.state import ChangeError, WhatIf  # noqa: E402
from tests.tiling import tiled_study  # noqa: E402

CATEGORY = "pharmacy"


def _spots(w: WhatIf, n: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    edges = w.area.edges.geometry.to_numpy()
    picks = rng.choice(len(edges), 4 * n, replace=False)
    mids = [edges[i].interpolate(0.5, normalized=True) for i in picks]
    pts = gpd.GeoSeries(mids, crs=w.area.crs).to_crs("EPSG:4326")
    return [(p.x, p.y) for p in pts]


def _timed(fn, *args: object) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def bench(k: int, repeat: int) -> dict[str, float]:
    """Median seconds of each kind of change at ``k`` x ``k`` tiles."""
    area = tiled_study(k)
    t0 = time.perf_counter()
    w = WhatIf(area, PlanParams())
    start = time.perf_counter() - t0
    spots = iter(_spots(w, repeat * 3, seed=k))
    kk = w.column(CATEGORY)
    times: dict[str, list[float]] = {"add": [], "move": [], "remove": []}
    existing = [str(i) for i in w.ids[w.cats == CATEGORY]][:repeat]
    while len(times["add"]) < repeat:
        lon, lat = next(spots)
        try:
            times["add"].append(
                _timed(lambda a, b: (w.add(CATEGORY, a, b), w.headline(kk)), lon, lat)
            )
        except ChangeError:
            continue
        lon2, lat2 = next(spots)
        pid = w.changes[-1].facility
        try:
            move = lambda f, a, b: (w.move(f, a, b), w.headline(kk))  # noqa: E731
            times["move"].append(_timed(move, pid, lon2, lat2))
            w.undo()
        except ChangeError:
            pass
        w.undo()
    for fid in existing:
        times["remove"].append(_timed(lambda f: (w.remove(f), w.headline(kk)), fid))
        w.undo()
    out = {op: statistics.median(v) for op, v in times.items() if v}
    out["start_s"] = start
    out["nodes"] = float(w.network.n_nodes)
    out["residents_points"] = float(len(w.access.demand))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, nargs="+", default=[3, 10])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    for k in args.k:
        r = bench(k, args.repeat)
        load = os.getloadavg()
        print(
            f"k={k}: {int(r['nodes'])} nodes, {int(r['residents_points'])} resident points;"
            f" start {r['start_s']:.1f} s; median of {args.repeat}: add {r['add']:.3f} s,"
            f" move {r.get('move', float('nan')):.3f} s,"
            f" remove {r.get('remove', float('nan')):.3f} s"
            f" (load average {load[0]:.1f}, {os.cpu_count()} cores)",
            flush=True,
        )


if __name__ == "__main__":
    main()
