"""Walk-access benchmark: this engine against networkx, pandana and a bare scipy search.

The Helsinki walk network is tiled k x k (k = 1, 3, 6, 10: about 5k to 560k nodes) with its
facilities; every network node is a resident; 8 categories with their GB 50180 thresholds
(300, 500 or 1000 m). Each method runs in its own process, so that its peak memory is its
own; times are medians of repeated runs in the same session.

- engine search: the 8 bounded multi-source searches, points already snapped;
- engine step: snapping residents and facilities + the searches;
- engine index: building the snapping index (once per network, like the CSR);
- engine build: WalkNetwork construction from the edge table (once per network);
- bare scipy: scipy.sparse.csgraph.dijkstra(min_only=True, limit=threshold) on the full,
  uncontracted graph from the facilities' nearest nodes: the same search with no snapping,
  no contraction and no point positions;
- networkx: multi_source_dijkstra_path_length(cutoff=threshold) on the same full graph
  from the same nearest nodes (graph construction not timed);
- pandana: Network build (contraction hierarchies) + set_pois + nearest_pois per category,
  without precompute (nearest_pois does not need it), POIs at the facilities' positions.

Usage: python benchmarks/bench_access.py [--k 1 3 6 10] [--repeat 3] [--skip networkx pandana]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

METHODS = ["engine", "bare_scipy", "networkx", "pandana"]


def _mem_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _prepare(k: int):  # type: ignore[no-untyped-def]
    import shapely
    from tiling import BENCH_CATEGORIES, tile

    from lifecircle.coverage.access import access_points
    from lifecircle.geo.catalog import load_catalog

    T = tile(k)
    cat = load_catalog("gb50180")
    limits = {c: cat[c].threshold(4.0) for c in BENCH_CATEGORIES}
    pts, fac_of = access_points(T.facilities)
    fac_cat = T.facilities["category"].to_numpy()[fac_of]
    fac_xy = shapely.get_coordinates(pts)
    return T, limits, fac_xy, fac_cat


def _node_points(net):  # type: ignore[no-untyped-def]
    import shapely

    xy = np.zeros((net.n_nodes, 2))
    xy[net.v] = shapely.get_coordinates(shapely.get_point(net.geometry, -1))
    xy[net.u] = shapely.get_coordinates(shapely.get_point(net.geometry, 0))
    return xy


def _full_csr(net):  # type: ignore[no-untyped-def]
    import scipy.sparse as sp

    rows = np.concatenate([net.u, net.v])
    cols = np.concatenate([net.v, net.u])
    w = np.concatenate([net.length, net.length])
    order = np.lexsort((w, cols, rows))
    rows, cols, w = rows[order], cols[order], w[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix((w[first], (rows[first], cols[first])), shape=(net.n_nodes, net.n_nodes))


def _nearest_nodes(node_xy: np.ndarray, xy: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    return cKDTree(node_xy).query(xy)[1]


def worker(method: str, k: int, repeat: int) -> dict:
    """Run one method on the k x k tiling; return its timings and memory."""
    T, limits, fac_xy, fac_cat = _prepare(k)
    cats = list(limits)
    out: dict = {"method": method, "k": k}
    if method in ("engine", "bare_scipy", "networkx"):
        from lifecircle.coverage.network import WalkNetwork

        t0 = time.perf_counter()
        net = WalkNetwork.from_edges(T.edges)
        out["build_s"] = time.perf_counter() - t0
        out["nodes"], out["edges"], out["junctions"] = net.n_nodes, net.n_edges, net.n_junctions
        node_xy = _node_points(net)
    base = _rss_mb()
    if method == "engine":
        search, step, index = [], [], []
        for _ in range(repeat):
            net._indexes.clear()
            ti = time.perf_counter()
            net.snap(node_xy[:1])  # builds the snapping index: once per network, timed apart
            t0 = time.perf_counter()
            res = net.locate(net.snap(node_xy))
            fac = net.locate(net.snap(fac_xy))
            t1 = time.perf_counter()
            index.append(t0 - ti)
            checksum = 0.0
            for c in cats:
                sel = np.flatnonzero(fac_cat == c)
                src = type(fac)(fac.chain[sel], fac.s[sel], fac.access[sel])
                d, _ = net.distances(src, res, limit_m=limits[c])
                checksum += float(np.isfinite(d).sum())
            t2 = time.perf_counter()
            search.append(t2 - t1)
            step.append(t2 - t0)
        out["search_s"], out["step_s"], out["reached"] = (
            float(np.median(search)),
            float(np.median(step)),
            checksum,
        )
        out["index_s"] = float(np.median(index))
    elif method == "bare_scipy":
        from scipy.sparse.csgraph import dijkstra

        A = _full_csr(net)
        src_nodes = {c: np.unique(_nearest_nodes(node_xy, fac_xy[fac_cat == c])) for c in cats}
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for c in cats:
                dijkstra(A, directed=True, indices=src_nodes[c], min_only=True, limit=limits[c])
            runs.append(time.perf_counter() - t0)
        out["search_s"] = float(np.median(runs))
    elif method == "networkx":
        import networkx as nx

        A = _full_csr(net).tocoo()
        G = nx.Graph()
        G.add_nodes_from(range(net.n_nodes))
        G.add_weighted_edges_from(zip(A.row.tolist(), A.col.tolist(), A.data.tolist(), strict=True))
        src_nodes = {
            c: np.unique(_nearest_nodes(node_xy, fac_xy[fac_cat == c])).tolist() for c in cats
        }
        base = _rss_mb()
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for c in cats:
                nx.multi_source_dijkstra_path_length(G, src_nodes[c], cutoff=limits[c])
            runs.append(time.perf_counter() - t0)
        out["search_s"] = float(np.median(runs))
    elif method == "pandana":
        import pandana as pdna
        import pandas as pd
        import shapely

        edges = T.edges
        ends = np.concatenate(
            [
                shapely.get_coordinates(shapely.get_point(edges.geometry.to_numpy(), i))
                for i in (0, -1)
            ]
        )
        ids = np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()])
        nodes = (
            pd.DataFrame({"id": ids, "x": ends[:, 0], "y": ends[:, 1]})
            .drop_duplicates("id")
            .set_index("id")
        )
        out["nodes"], out["edges"] = len(nodes), len(edges)
        weights = pd.DataFrame({"w": shapely.length(edges.geometry.to_numpy())})
        base = _rss_mb()
        runs, builds = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            with open(os.devnull, "w") as devnull:
                saved = os.dup(1)
                os.dup2(devnull.fileno(), 1)
                try:
                    net = pdna.Network(
                        nodes["x"], nodes["y"], edges["u"], edges["v"], weights, twoway=True
                    )
                    t1 = time.perf_counter()
                    for c in cats:
                        sel = fac_cat == c
                        net.set_pois(
                            c, limits[c], 1, pd.Series(fac_xy[sel, 0]), pd.Series(fac_xy[sel, 1])
                        )
                        net.nearest_pois(limits[c], c, num_pois=1)
                finally:
                    os.dup2(saved, 1)
                    os.close(saved)
            t2 = time.perf_counter()
            builds.append(t1 - t0)
            runs.append(t2 - t0)
        out["build_s"], out["step_s"] = float(np.median(builds)), float(np.median(runs))
    out["peak_rss_mb"] = _rss_mb()
    out["step_rss_mb"] = _rss_mb() - base
    return out


def run(method: str, k: int, repeat: int) -> dict | None:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        method,
        "--k",
        str(k),
        "--repeat",
        str(repeat),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {method} k={k} failed: {last}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--k", type=int, nargs="+", default=[1, 3, 6, 10])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip", nargs="*", default=[])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.k[0], args.repeat)))
        return
    try:
        import pandana  # noqa: F401
    except ImportError:
        args.skip.append("pandana")
        print("pandana is not installed (pip install pandana): skipped", file=sys.stderr)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{_mem_gb():.0f} GB, Python {platform.python_version()}"
    )
    header = (
        f"{'k':>3} {'nodes':>8} {'method':<12} {'search s':>9} {'step s':>8} {'index s':>8} "
        f"{'build s':>8} "
        f"{'peak MB':>8} {'nx/search':>9} {'bare/search':>11} {'step/bare':>9} {'pandana/step':>12}"
    )
    print(header)
    results = []
    for k in args.k:
        rows = {}
        for m in METHODS:
            if m in args.skip:
                continue
            reps = 1 if (m in ("networkx", "pandana") and k >= 6) else args.repeat
            r = run(m, k, reps)
            if r:
                rows[m] = r
        eng = rows.get("engine", {})
        for m, r in rows.items():
            ratio_nx = (
                rows["networkx"]["search_s"] / eng["search_s"]
                if m == "engine" and "networkx" in rows
                else None
            )
            bare = rows.get("bare_scipy", {}).get("search_s")
            ratio_bare = bare / eng["search_s"] if m == "engine" and bare else None
            step_bare = eng["step_s"] / bare if m == "engine" and bare else None
            pan = (
                rows["pandana"]["step_s"] / eng["step_s"]
                if m == "engine" and "pandana" in rows
                else None
            )

            def f(x: float | None, fmt: str = "{:.3f}") -> str:
                return fmt.format(x) if x is not None else "-"

            nodes = r.get("nodes", eng.get("nodes", 0))
            print(
                f"{k:>3} {nodes:>8} {m:<12} {f(r.get('search_s')):>9} "
                f"{f(r.get('step_s')):>8} {f(r.get('index_s')):>8} {f(r.get('build_s')):>8} "
                f"{r['peak_rss_mb']:>8.0f} "
                f"{f(ratio_nx, '{:.1f}x'):>9} {f(ratio_bare, '{:.2f}x'):>11} "
                f"{f(step_bare, '{:.2f}x'):>9} {f(pan, '{:.1f}x'):>12}"
            )
            results.append(r)
        sys.stdout.flush()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_access.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
