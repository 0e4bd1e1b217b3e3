"""Whole-city benchmark: the pipeline on the tiled Helsinki network at k = 10 and k = 20.

The study is the Helsinki walk network tiled k x k (k = 20: about 2.5 million edges),
with its residents (53,200 points at k = 20), the facilities of 8 categories and a 250 m
management grid (11,777 cells at k = 20); one placement (10 new pharmacies, every network
node a candidate). Loading is excluded: the network is in memory when timing starts.

- whole: :func:`lifecircle.analysis.run_plan` in one process; time and peak memory (peak
  resident set, reset before each stage) per stage;
- partitioned: :func:`lifecircle.partition.run_partitioned` in 4 parts on a Dask
  LocalCluster of 2 worker processes; end-to-end time, and the peak memory of the client
  and of each worker.

Each configuration runs in its own process, so that peak memory is its own. Ratios: k = 20
against k = 10 (growth against the 4 x larger study), partitioned against whole.

Usage: python benchmarks/bench_scale.py [--k 10 20] [--repeat 1] [--parts 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _reset_peak() -> None:
    """Reset this process's peak resident set (Linux: /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # pragma: no cover - not Linux
        pass


def _peak_gb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _params():  # type: ignore[no-untyped-def]
    from lifecircle.params import PlacementSpec, PlanParams

    return PlanParams(placements=(PlacementSpec("pharmacy", p=10),), candidate_spacing_m=None)


def _whole(k: int) -> dict:
    from benchmarks.tiling import tiled_study
    from lifecircle.analysis import run_plan
    from lifecircle.progress import Stages

    area = tiled_study(k)
    stages: dict[str, dict[str, float]] = {}

    def progress(event: str, stage: str, value: float | None) -> None:
        if event == "start":
            _reset_peak()
        elif event == "done":
            stages[stage] = {"seconds": float(value or 0.0), "peak_gb": _peak_gb()}

    _reset_peak()
    t0 = time.perf_counter()
    result = run_plan(area, _params(), stages=Stages(progress))
    total = time.perf_counter() - t0
    rec = result.sites["pharmacy"].result
    return {
        "edges": len(area.edges),
        "resident_points": len(area.demand),
        "facilities": len(area.facilities),
        "units": len(area.units),
        "seconds": total,
        "peak_gb": max(s["peak_gb"] for s in stages.values()),
        "stages": stages,
        "placement": {"objective": rec.objective, "bound": rec.bound, "status": rec.status},
        "notes": [n.key for n in result.notes],
    }


def _partitioned(k: int, parts: int) -> dict:
    from dask.distributed import Client, LocalCluster

    from benchmarks.tiling import tiled_study
    from lifecircle.partition import run_partitioned

    area = tiled_study(k)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_reset_peak)
        _reset_peak()
        t0 = time.perf_counter()
        result = run_partitioned(area, _params(), by=parts, client=client)
        total = time.perf_counter() - t0
        workers = list(client.run(_peak_gb).values())
    final = result.placement["pharmacy"]
    return {
        "seconds": total,
        "stages": result.timings,
        "client_peak_gb": _peak_gb(),
        "worker_peak_gb": workers,
        "parts": result.parts.to_dict("records"),
        "placement": {
            "objective": final["result"].objective,
            "part_bound": final["part_bound"],
            "pooled_sites": final["pooled_sites"],
        },
    }


def _child(kind: str, k: int, parts: int) -> dict:
    cmd = [sys.executable, __file__, "--one", kind, "--k", str(k), "--parts", str(parts)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, nargs="+", default=[10, 20])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--one", choices=["whole", "partitioned"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        k = args.k[0]
        found = _whole(k) if args.one == "whole" else _partitioned(k, args.parts)
        print(json.dumps(found, default=float))
        return
    runs: dict[str, dict[str, list[dict]]] = {}
    for k in args.k:
        for kind in ("whole", "partitioned"):
            for _ in range(args.repeat):
                found = _child(kind, k, args.parts)
                runs.setdefault(str(k), {}).setdefault(kind, []).append(found)
                print(f"k={k} {kind}: {found['seconds']:.1f} s", flush=True)
    summary = {}
    for k, kinds in runs.items():
        whole = kinds["whole"]
        part = kinds["partitioned"]
        med = statistics.median
        summary[k] = {
            "whole_s": med(r["seconds"] for r in whole),
            "whole_peak_gb": med(r["peak_gb"] for r in whole),
            "whole_stages_s": {
                s: med(r["stages"][s]["seconds"] for r in whole) for s in whole[0]["stages"]
            },
            "whole_stages_peak_gb": {
                s: med(r["stages"][s]["peak_gb"] for r in whole) for s in whole[0]["stages"]
            },
            "partitioned_s": med(r["seconds"] for r in part),
            "partitioned_peak_gb_per_worker": med(max(r["worker_peak_gb"]) for r in part),
            "partitioned_peak_gb_client": med(r["client_peak_gb"] for r in part),
            "partitioned_over_whole_time": med(r["seconds"] for r in part)
            / med(r["seconds"] for r in whole),
        }
    if "10" in summary and "20" in summary:
        summary["k20_over_k10"] = {
            "size": runs["20"]["whole"][0]["edges"] / runs["10"]["whole"][0]["edges"],
            "time": summary["20"]["whole_s"] / summary["10"]["whole_s"],
            "peak_memory": summary["20"]["whole_peak_gb"] / summary["10"]["whole_peak_gb"],
        }
    record = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "summary": summary,
        "runs": runs,
    }
    target = HERE / "results" / "bench_scale.json"
    target.write_text(json.dumps(record, indent=2, default=float), encoding="utf-8")
    print(json.dumps(summary, indent=2, default=float))


if __name__ == "__main__":
    main()
