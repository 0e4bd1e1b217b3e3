"""Catchments benchmark: the grid construction against the exact one, on the same studies.

Two studies, the access already computed (the timing is the catchment stage alone,
:func:`lifecircle.coverage.catchments.study_catchments`, as the pipeline calls it):

- the Helsinki demo (``lifecircle demo``'s inputs and plan: every category at its
  threshold, 3 proposed sites for the category with the most uncovered residents);
- the Helsinki network tiled k x k (default k = 3, ``tiling.py``), its 8 categories at their
  thresholds, no proposed sites.

The exact construction and the grid at each ``--cells`` spacing run ``--repeat`` times in
the same process, alternating; the medians and their ratios are printed. The accuracy is
measured in the same run: per catchment, the symmetric difference between the grid polygon
and the exact construction's, as a share of the exact area, at the exact construction's
default 5 m cells (and, on the demo, at 1 m cells, closer to the definition: at 5 m its
cuts are themselves a staircase of 5 m squares, about 3% of the area off).

Usage: python benchmarks/bench_catchments.py [--k 3] [--repeat 3] [--cells 2.5 5] [--skip-fine]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _demo_study():  # type: ignore[no-untyped-def]
    from lifecircle.analysis import run_plan
    from lifecircle.app import DEMO_PARAMS, demo_inputs
    from lifecircle.geo.build import build_study_area

    area = build_study_area(demo_inputs())
    result = run_plan(area, dataclasses.replace(DEMO_PARAMS, catchments=False))
    new_sites = {cat: rec.sites for cat, rec in result.sites.items()}
    return result.access, area, result.network, new_sites


def _tiled_study(k: int):  # type: ignore[no-untyped-def]
    from benchmarks.tiling import tiled_study
    from lifecircle.coverage.access import plan_access
    from lifecircle.coverage.network import WalkNetwork
    from lifecircle.params import PlanParams

    area = tiled_study(k)
    network = WalkNetwork.from_edges(area.edges)
    access = plan_access(network, area, PlanParams(placements=()))
    return access, area, network, {}


def _worst_difference(grid, exact) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    import shapely

    worst, which = 0.0, ""
    for g, e, cat, band in zip(
        grid.geometry, exact.geometry, exact["category"], exact["band_m"], strict=True
    ):
        share = float(shapely.symmetric_difference(g, e).area / e.area)
        if share > worst:
            worst, which = share, f"{cat} {band:.0f} m"
    return worst, which


def _measure(  # type: ignore[no-untyped-def]
    name: str, study, repeat: int, cells: list[float], fine: bool
) -> dict:
    from lifecircle.coverage.catchments import study_catchments

    access, area, network, new_sites = study
    kinds = ["exact"] + [f"grid {c:g} m" for c in cells]
    times: dict[str, list[float]] = {k: [] for k in kinds}
    frames = {}
    for _ in range(repeat):
        for kind, cell in zip(kinds, [None, *cells], strict=True):
            t0 = time.perf_counter()
            frames[kind] = study_catchments(
                access, area, network, new_sites, exact=cell is None, cell_m=cell
            )
            times[kind].append(time.perf_counter() - t0)
            print(f"{name}: {kind} {times[kind][-1]:.2f} s", flush=True)
    medians = {k: statistics.median(v) for k, v in times.items()}
    finer = (
        study_catchments(access, area, network, new_sites, exact=True, cell_m=1.0) if fine else None
    )
    grids = {}
    for kind in kinds[1:]:
        rec = {
            "median_s": medians[kind],
            "exact_over_grid": medians["exact"] / medians[kind],
            "worst_vs_exact_5m": _worst_difference(frames[kind], frames["exact"]),
        }
        if finer is not None:
            rec["worst_vs_exact_1m"] = _worst_difference(frames[kind], finer)
        grids[kind] = rec
    return {
        "edges": network.n_edges,
        "catchments": len(frames["exact"]),
        "exact_s": medians["exact"],
        "grids": grids,
        "runs": times,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=3, help="tiling of the second study")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cells", type=float, nargs="+", default=[2.5, 5.0], help="grid spacings")
    ap.add_argument("--skip-fine", action="store_true", help="no 1 m exact run on the demo")
    args = ap.parse_args()
    summary = {
        "helsinki_demo": _measure(
            "demo", _demo_study(), args.repeat, args.cells, not args.skip_fine
        ),
        f"tiled_k{args.k}": _measure(
            f"k={args.k}", _tiled_study(args.k), args.repeat, args.cells, False
        ),
    }
    for name, rec in summary.items():
        print(
            f"{name}: {rec['catchments']} catchments on {rec['edges']:,} edges; exact "
            f"{rec['exact_s']:.2f} s (median of {args.repeat})"
        )
        for kind, g in rec["grids"].items():
            line = (
                f"  {kind}: {g['median_s']:.2f} s, exact/grid {g['exact_over_grid']:.1f}x; "
                f"worst symmetric difference vs exact at 5 m {g['worst_vs_exact_5m'][0]:.2%} "
                f"({g['worst_vs_exact_5m'][1]})"
            )
            if "worst_vs_exact_1m" in g:
                line += (
                    f", vs exact at 1 m {g['worst_vs_exact_1m'][0]:.2%}"
                    f" ({g['worst_vs_exact_1m'][1]})"
                )
            print(line)
    record = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_end": os.getloadavg(),
        },
        "summary": summary,
    }
    target = HERE / "results" / "bench_catchments.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(record, indent=2, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
