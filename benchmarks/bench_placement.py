"""Placement benchmark: maximal covering on the tiled Helsinki network, against spopt.

Instances (Helsinki walk network tiled 3 x 3, about 50k nodes): candidates and demand
points are random network nodes (fixed seeds), demand weighted 1-500, p = 10 sites,
threshold 1000 m.

- small: 300 candidates x 2,000 demand points;
- large: 1,500 candidates x 20,000 demand points.

For each: the coverage sets from bounded searches (this engine); then this solver
(reductions, greedy, interchange, HiGHS proving the gap); greedy alone with its ratio to
the best bound; and spopt's MCLP (model build from a dense cost matrix + CBC), in its own
process with a time limit, in the same run.

Usage: python benchmarks/bench_placement.py [--instances small large] [--spopt-timeout 300]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

INSTANCES = {"small": (300, 2000, 1), "large": (1500, 20000, 2)}
P_SITES = 10
THRESHOLD_M = 1000.0


def build(name: str):  # type: ignore[no-untyped-def]
    """The coverage problem of an instance, and the time to build its coverage sets."""
    import bench_access as B
    from tiling import tile

    from lifecircle.coverage.network import WalkNetwork
    from lifecircle.coverage.placement import CoverageProblem

    n_cand, n_dem, seed = INSTANCES[name]
    net = WalkNetwork.from_edges(tile(3).edges)
    xy = B._node_points(net)
    main = net.component == np.argmax(net.component_size)
    nodes = np.flatnonzero(main)
    rng = np.random.default_rng(seed)
    cand = xy[rng.choice(nodes, n_cand, replace=False)]
    dem = xy[rng.choice(nodes, n_dem, replace=False)]
    weights = rng.integers(1, 501, n_dem).astype(float)
    t0 = time.perf_counter()
    pairs = net.pair_distances(net.snap(cand), net.snap(dem), limit_m=THRESHOLD_M)
    sets_s = time.perf_counter() - t0
    return CoverageProblem(pairs.to_csr(), weights), pairs, sets_s


def _spopt_worker(cost: np.ndarray, weights: np.ndarray, out: mp.Queue) -> None:
    import pulp
    from spopt.locate import MCLP

    t0 = time.perf_counter()
    model = MCLP.from_cost_matrix(cost, weights, service_radius=THRESHOLD_M, p_facilities=P_SITES)
    t1 = time.perf_counter()
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    t2 = time.perf_counter()
    out.put(
        {
            "build_s": t1 - t0,
            "solve_s": t2 - t1,
            "objective": pulp.value(model.problem.objective),
            "status": pulp.LpStatus[model.problem.status],
        }
    )


def run_spopt(pairs, weights: np.ndarray, timeout_s: float) -> dict:  # type: ignore[no-untyped-def]
    """spopt's MCLP on the dense cost matrix of the same instance, in its own process."""
    cost = np.full((pairs.n_targets, pairs.n_sources), 1e9)
    cost[pairs.target, pairs.source] = pairs.dist
    queue: mp.Queue = mp.Queue()
    proc = mp.get_context("fork").Process(target=_spopt_worker, args=(cost, weights, queue))
    t0 = time.perf_counter()
    proc.start()
    proc.join(timeout_s)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {"status": f"not finished in {timeout_s:.0f} s", "total_s": time.perf_counter() - t0}
    result = queue.get() if not queue.empty() else {"status": "failed"}
    result["total_s"] = time.perf_counter() - t0
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--instances", nargs="+", default=["small", "large"])
    ap.add_argument("--spopt-timeout", type=float, default=300.0)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--skip-spopt", action="store_true")
    args = ap.parse_args()

    from lifecircle.coverage.placement import MaximalCovering

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    results = []
    for name in args.instances:
        problem, pairs, sets_s = build(name)
        n_cand, n_dem, _ = INSTANCES[name]
        print(f"\n{name}: {n_cand} candidates x {n_dem} demand points, {pairs.dist.size:,} pairs")
        print(f"  coverage sets (searches within {THRESHOLD_M:.0f} m): {sets_s:.2f} s")
        red, _ = problem.reduce()
        print(f"  reduced: {red.n_candidates} candidates x {len(red.weights)} demand groups")
        exact = MaximalCovering(P_SITES, time_limit_s=args.time_limit).solve(problem)
        print(
            f"  lifecircle:  {exact.seconds:7.2f} s  covered {exact.covered:,.0f}  "
            f"bound {exact.bound:,.0f}  gap {exact.gap:.4%}  {exact.status} ({exact.method})"
        )
        greedy = MaximalCovering(P_SITES, method="greedy", time_limit_s=args.time_limit).solve(
            problem
        )
        ratio = greedy.covered / exact.bound if exact.bound else float("nan")
        print(
            f"  greedy+swap: {greedy.seconds:7.2f} s  covered {greedy.covered:,.0f}  "
            f"= {ratio:.2%} of the bound (its own LP bound {greedy.bound:,.0f})"
        )
        row = {
            "instance": name,
            "sets_s": sets_s,
            "ours_s": exact.seconds,
            "ours_covered": exact.covered,
            "ours_bound": exact.bound,
            "ours_gap": exact.gap,
            "ours_status": exact.status,
            "greedy_s": greedy.seconds,
            "greedy_covered": greedy.covered,
        }
        if not args.skip_spopt:
            sp = run_spopt(pairs, problem.weights, args.spopt_timeout)
            row["spopt"] = sp
            if "objective" in sp:
                print(
                    f"  spopt+CBC:   {sp['total_s']:7.2f} s  covered {sp['objective']:,.0f}  "
                    f"(build {sp['build_s']:.1f} s, solve {sp['solve_s']:.1f} s, {sp['status']})"
                )
                same = abs(sp["objective"] - exact.covered) < 1e-6
                print(
                    f"  spopt / lifecircle time: {sp['total_s'] / exact.seconds:.1f}x; "
                    f"same objective: {same}"
                )
            else:
                print(f"  spopt+CBC:   {sp['status']}")
        results.append(row)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_placement.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
