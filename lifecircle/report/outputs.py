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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.errors import OutputError

if TYPE_CHECKING:
    from lifecircle.pipeline import PlanResult

__all__ = ["RUN_FILE", "check_output_folder", "output_folder", "write_csv", "write_outputs"]

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
_MARK = "lifecircle"


def _is_lifecircle_output(folder: Path) -> bool:
    try:
        data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("tool") == _MARK


def check_output_folder(out: str | Path, *, force: bool) -> Path:
    """Check that ``out`` can receive a run's outputs; return its absolute path.

    Raises
    ------
    OutputError
        When ``out`` is a file, exists and is not empty (without ``force``), holds files
        lifecircle did not write (even with ``force``), or its parent cannot be written.
    """
    path = Path(out).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise OutputError(
            f"{path} is a file, not a folder: choose a folder for the outputs (--out)"
        )
    if path.is_dir() and any(path.iterdir()):
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
    created) are removed and ``out`` is left as it was.
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
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in reversed(created):
            shutil.rmtree(folder, ignore_errors=True)
        raise


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


def run_record(
    result: PlanResult, *, command: str, plan_doc: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What a run used and how long it took: the content of ``run.json``."""
    from dataclasses import asdict

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
        "plan": plan_doc,
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
            "network_nodes": result.network.n_nodes,
            "network_edges": result.network.n_edges,
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


def write_outputs(
    result: PlanResult,
    folder: Path,
    *,
    lang: str = "en",
    offline: bool | None = None,
    command: str = "plan",
    plan_doc: dict[str, Any] | None = None,
    map_options: dict[str, Any] | None = None,
) -> list[Path]:
    """Write the tables, the map and ``run.json`` into ``folder``; return the files."""
    from urllib.parse import urlparse

    from lifecircle.maps.basemaps import base_map
    from lifecircle.maps.coverage_map import coverage_map, save_map, tiles_reachable

    cov = result.coverage
    written = []
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
    for name, frame in tables.items():
        write_csv(frame, folder / name)
        written.append(folder / name)
    options = dict(map_options or {})
    if offline is None:
        chosen = base_map(options.get("tiles", "osm"))
        offline = chosen is None or not tiles_reachable(
            urlparse(chosen.url).netloc.replace("{s}", "a")
        )
    m = coverage_map(result, lang=lang, offline=offline, **options)
    save_map(m, folder / "map.html")
    written.append(folder / "map.html")
    record = run_record(result, command=command, plan_doc=plan_doc)
    (folder / RUN_FILE).write_text(
        json.dumps(record, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8"
    )
    written.append(folder / RUN_FILE)
    return written


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
