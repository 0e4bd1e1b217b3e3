"""The output folder of a run and the tables written into it.

A run writes into a hidden temporary folder beside the one the user named and renames it
into place only when everything is written, so a crash or an error never leaves a
half-written output. An existing folder is refused unless ``force``; even with ``force``, a
folder is only replaced when it holds a lifecircle ``run.json`` (so ``--force`` on the
wrong path cannot delete the user's data).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.errors import InternalError, LifecircleError, OutputError
from lifecircle.maps.basemaps import base_map
from lifecircle.maps.coverage_map import coverage_map, map_html, tiles_reachable
from lifecircle.params import DEFAULT_FORMATS, OutputOptions
from lifecircle.report.gpkg import write_gpkg
from lifecircle.report.html import write_html
from lifecircle.report.xlsx import write_xlsx
from lifecircle.result import PlanResult

__all__ = [
    "ERROR_LOG",
    "FORMATS",
    "RUN_FILE",
    "check_output_folder",
    "csv_tables",
    "output_folder",
    "write_csv",
    "write_outputs",
]

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
ERROR_LOG = "lifecircle-error.log"
_MARK = "lifecircle"


def _run_file(folder: Path) -> dict[str, Any] | None:
    """The folder's ``run.json`` if lifecircle wrote it."""
    try:
        data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == _MARK else None


def _is_lifecircle_output(folder: Path) -> bool:
    return _run_file(folder) is not None


def _is_failed_run(folder: Path) -> bool:
    """A folder holding only what a failed run left: its error log and ``run.json``."""
    data = _run_file(folder)
    names = {p.name for p in folder.iterdir()}
    return data is not None and data.get("status") == "failed" and names <= {RUN_FILE, ERROR_LOG}


def check_output_folder(out: str | Path, *, force: bool) -> Path:
    """Check that ``out`` can receive a run's outputs; return its absolute path.

    Raises
    ------
    OutputError
        When ``out`` is a file, exists and is not empty (without ``force``), holds files
        lifecircle did not write (even with ``force``), or its parent cannot be written.
        A folder that only holds what a failed run left is replaced without ``force``.
    """
    path = Path(out).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise OutputError(
            f"{path} is a file, not a folder: choose a folder for the outputs (--out)"
        )
    if path.is_dir() and any(path.iterdir()) and not _is_failed_run(path):
        if not force:
            raise OutputError(
                f"{path} already exists and is not empty: "
                "pass --force to replace it, or choose another --out"
            )
        if not _is_lifecircle_output(path):
            raise OutputError(
                f"{path} holds files that lifecircle did not write: "
                "refusing to replace it even with --force; "
                "choose a new or empty folder"
            )
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{parent} is a file, so {path} cannot be created: choose another --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in {parent}: choose a folder you can write to (--out)")
    return path


@contextmanager
def output_folder(out: str | Path, *, force: bool = False) -> Iterator[Path]:
    """A temporary folder to write into; moved to ``out`` when the block succeeds.

    On any error inside the block the temporary folder (and any parent folders this
    created) are removed and ``out`` is left as it was. An unexpected error (not a
    :class:`~lifecircle.errors.LifecircleError`) also leaves its traceback in
    ``out/lifecircle-error.log`` and is raised again as
    :class:`~lifecircle.errors.InternalError`.
    """
    path = check_output_folder(out, force=force)
    created: list[Path] = []
    parent = path.parent
    missing = []
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    except OSError as exc:
        for folder in reversed(created):
            shutil.rmtree(folder, ignore_errors=True)
        raise OutputError(
            f"cannot create the output folder {path}: {exc.strerror or exc}"
        ) from None
    try:
        yield tmp
        old: Path | None = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.rmdir(old)
            path.rename(old)
        tmp.rename(path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, LifecircleError):
            log_file = _crash_log(path, exc)
            raise InternalError(f"{type(exc).__name__}: {exc}", log_file) from exc
        for folder in reversed(created):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _crash_log(path: Path, exc: Exception) -> str | None:
    """Write the traceback of an internal error into the output folder; return its path.

    An earlier run's outputs there (``--force``) are kept whole: only the log is added. A new
    folder gets the log and a ``run.json`` marking the run as failed, so the next run may
    replace it.
    """
    import traceback

    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    report = (
        f"lifecircle {_versions().get('lifecircle', '?')} failed at {stamp}\n"
        f"command: {' '.join(sys.argv)}\n"
        f"versions: {json.dumps(_versions())}\n\n{text}"
    )
    try:
        fresh = not path.exists() or _is_failed_run(path) or not any(path.iterdir())
        path.mkdir(parents=True, exist_ok=True)
        (path / ERROR_LOG).write_text(report, encoding="utf-8")
        if fresh:
            record = {"tool": _MARK, "status": "failed", "created": stamp, "error": str(exc)}
            (path / RUN_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    except OSError:  # pragma: no cover - nowhere to write: the traceback goes to stderr
        return None
    return str(path / ERROR_LOG)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a table as UTF-8 with a byte-order mark (Excel on Chinese Windows reads it)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype.kind == "f":
            out[col] = out[col].where(np.isfinite(out[col]))
    out.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.6g")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in (
        "lifecircle",
        "numpy",
        "scipy",
        "pandas",
        "geopandas",
        "shapely",
        "pyproj",
        "networkx",
        "osmnx",
        "pyrosm",
        "folium",
        "highspy",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def input_hashes(files: Mapping[str, str] | None) -> dict[str, str]:
    """SHA-256 of every file a plan reads (``files``: paths by plan key), by path: what a
    rerun compares."""
    paths = (files or {}).values()
    return {path: _sha256(Path(path)) for path in paths if Path(path).is_file()}


def run_record(
    result: PlanResult,
    *,
    command: str,
    plan_doc: Mapping[str, Any] | None = None,
    input_files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What a run used and how long it took: the content of ``run.json``."""
    inputs = []
    for src in result.area.sources:
        entry = dict(src)
        p = Path(str(src.get("path", "")))
        if p.is_file():
            entry["bytes"] = p.stat().st_size
            entry["sha256"] = _sha256(p)
        inputs.append(entry)
    cat = result.area.catalog
    return {
        "tool": _MARK,
        "command": command,
        "status": "done",
        "plan": dict(plan_doc) if plan_doc is not None else None,
        "input_files": input_hashes(input_files),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "inputs": inputs,
        "crs": result.area.crs.to_string(),
        "parameters": asdict(result.params),
        "catalog": {
            "id": cat.id,
            "path": cat.path,
            "categories": cat.to_frame(speed_kmh=result.params.speed_kmh).to_dict("records"),
        },
        "counts": {
            "units": len(result.area.units),
            "resident_points": len(result.area.demand),
            "residents": float(result.area.demand["residents"].sum()),
            "facilities": len(result.area.facilities),
            "network_nodes": result.network_size[0],
            "network_edges": result.network_size[1],
        },
        "placement": {
            cat_id: {
                "status": rec.result.status,
                "method": rec.result.method,
                "objective": rec.result.objective,
                "bound": rec.result.bound,
                "gap": rec.result.gap,
                "seconds": rec.result.seconds,
                "candidates": rec.candidates,
            }
            for cat_id, rec in result.sites.items()
        },
        "parts": None if result.parts is None else result.parts.to_dict("records"),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "notes": [{"key": n.key, "text": n.text("en")} for n in result.notes],
    }


def access_table(result: PlanResult) -> pd.DataFrame:
    """Per resident point: id, position, residents, unit, distance to each category."""
    demand = result.area.demand
    ll = demand.geometry.to_crs("EPSG:4326")
    frame = pd.DataFrame(
        {
            "demand_id": demand["demand_id"].to_numpy(),
            "lon": ll.x.round(6).to_numpy(),
            "lat": ll.y.round(6).to_numpy(),
            "residents": demand["residents"].round(1).to_numpy(),
            "unit_id": demand["unit_id"].to_numpy(),
        }
    )
    d = result.access.distance_m
    for k, cat in enumerate(result.access.categories):
        frame[f"{cat}_m"] = np.where(np.isfinite(d[:, k]), np.round(d[:, k], 1), np.nan)
    return frame


def sites_table(result: PlanResult) -> pd.DataFrame:
    """Recommended sites of every category, in rank order."""
    rows = []
    for cat, rec in result.sites.items():
        s = rec.sites
        rows.append(
            pd.DataFrame(
                {
                    "category": cat,
                    "rank": s["rank"].to_numpy(),
                    "lon": s["lon"].round(6).to_numpy(),
                    "lat": s["lat"].round(6).to_numpy(),
                    "residents_newly_covered": s["new_residents"].round(1).to_numpy(),
                    "cumulative_share": s["cumulative_share"].round(4).to_numpy(),
                    "street": s["street"].to_numpy(),
                    "units": s["units"].to_numpy(),
                }
            )
        )
    cols = [
        "category",
        "rank",
        "lon",
        "lat",
        "residents_newly_covered",
        "cumulative_share",
        "street",
        "units",
    ]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)


def gaps_table(result: PlanResult) -> pd.DataFrame:
    """Clusters of uncovered residents, with their centres in WGS84."""
    gaps = result.gaps
    assert gaps is not None
    centre = gpd.GeoSeries(gpd.points_from_xy(gaps["x"], gaps["y"]), crs=gaps.crs).to_crs(
        "EPSG:4326"
    )
    frame = pd.DataFrame(gaps.drop(columns=["geometry", "x", "y"]))
    frame["lon"] = centre.x.round(6).to_numpy()
    frame["lat"] = centre.y.round(6).to_numpy()
    return frame


FORMATS = DEFAULT_FORMATS
"""The outputs a run can write besides ``run.json`` (which it always writes)."""


def write_outputs(
    result: PlanResult,
    folder: Path,
    *,
    options: OutputOptions | None = None,
    command: str = "plan",
    plan_doc: Mapping[str, Any] | None = None,
    input_files: Mapping[str, str] | None = None,
    step: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write the chosen ``formats`` and ``run.json`` into ``folder``; return the files.

    ``map`` is ``map.html``; ``csv`` the main tables as CSV (UTF-8 with a byte-order mark);
    ``xlsx`` is ``report.xlsx``; ``gpkg`` is ``results.gpkg``; ``html`` is ``report.html``
    (with the map embedded). ``step(done, total)`` is told of each output written.
    """
    options = options or OutputOptions()
    lang, formats, offline = options.lang, options.formats, options.offline
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown output formats {unknown}: use some of {list(FORMATS)}")
    started = time.perf_counter()
    written = []
    parts = {"csv", "xlsx", "gpkg", "html"} & set(formats)
    total = len(parts) + ("map" in formats or "html" in formats)
    count = 0

    def done() -> None:
        nonlocal count
        count += 1
        if step is not None:
            step(count, total)

    if "csv" in formats:
        for name, frame in csv_tables(result).items():
            write_csv(frame, folder / name)
            written.append(folder / name)
        done()
    page = ""
    if "map" in formats or "html" in formats:
        opts = options.map
        if offline is None:
            chosen = base_map(opts.tiles)
            offline = chosen is None or not tiles_reachable(
                urlparse(chosen.url).netloc.replace("{s}", "a")
            )
        page = map_html(
            coverage_map(
                result,
                lang=lang,
                offline=offline,
                category=opts.category,
                measure=opts.measure,
                level=opts.level,
                tiles=opts.tiles,
            )
        )
        done()
    if "map" in formats:
        (folder / "map.html").write_text(page, encoding="utf-8")
        written.append(folder / "map.html")
    record = run_record(result, command=command, plan_doc=plan_doc, input_files=input_files)
    if "xlsx" in formats:
        write_xlsx(result, folder / "report.xlsx", lang=lang, inputs=record["inputs"])
        written.append(folder / "report.xlsx")
        done()
    if "gpkg" in formats:
        write_gpkg(result, folder / "results.gpkg")
        written.append(folder / "results.gpkg")
        done()
    if "html" in formats:
        write_html(result, folder / "report.html", lang=lang, map_html=page, title=options.title)
        written.append(folder / "report.html")
        done()
    record["outputs"] = [p.name for p in written]
    record["timings_s"]["outputs"] = round(time.perf_counter() - started, 3)
    (folder / RUN_FILE).write_text(
        json.dumps(record, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8"
    )
    written.append(folder / RUN_FILE)
    return written


def csv_tables(result: PlanResult) -> dict[str, pd.DataFrame]:
    """The tables written as CSV, by file name."""
    cov = result.coverage
    tables = {
        "coverage_by_unit.csv": cov.by_unit,
        "coverage_summary.csv": cov.overall,
        "completeness_by_unit.csv": cov.completeness_by_unit,
        "checklist.csv": cov.checklist,
        "access.csv": access_table(result),
        "sites.csv": sites_table(result),
    }
    if result.gaps is not None and len(result.gaps):
        tables["gaps.csv"] = gaps_table(result)
    if result.capacity is not None:
        tables["capacity_by_unit.csv"] = result.capacity
    if result.scenario is not None:
        tables["scenario_overall.csv"] = result.scenario.overall
        tables["scenario_by_unit.csv"] = result.scenario.by_unit
        tables["scenario_completeness.csv"] = result.scenario.completeness
    return tables


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)
