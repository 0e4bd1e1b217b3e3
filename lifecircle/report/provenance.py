"""What a run used and how long it took: the content of ``run.json``.

The inputs' sizes and SHA-256 digests, the versions of lifecircle and the libraries it
ran with, the parameters, catalog, counts, placement results and the stages' timings.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import sys
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from lifecircle.result import PlanResult

__all__ = ["MARK", "input_hashes", "run_record", "sha256", "versions"]

MARK = "lifecircle"
"""The ``tool`` of every ``run.json`` lifecircle writes (how a folder is known as its own)."""

_PACKAGES = (
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
)


def sha256(path: Path) -> str:
    """The SHA-256 digest of a file, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def versions() -> dict[str, str]:
    """Python's, the platform's and the installed packages' versions, by name."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def input_hashes(files: Mapping[str, str] | None) -> dict[str, str]:
    """SHA-256 of every file a plan reads (``files``: paths by plan key), by path: what a
    rerun compares."""
    paths = (files or {}).values()
    return {path: sha256(Path(path)) for path in paths if Path(path).is_file()}


def _inputs(result: PlanResult) -> list[dict[str, Any]]:
    """The study's sources, with the size and digest of each that is a file."""
    inputs = []
    for src in result.area.sources:
        entry = dict(src)
        p = Path(str(src.get("path", "")))
        if p.is_file():
            entry["bytes"] = p.stat().st_size
            entry["sha256"] = sha256(p)
        inputs.append(entry)
    return inputs


def _profiles(result: PlanResult) -> dict[str, Any]:
    """Each category's walking profile, and what the distances are measured in."""
    acc = result.access
    each = {cat: acc.profile(cat) for cat in acc.categories}
    effective = any(not p.is_neutral(acc.speed_kmh) for p in each.values())
    return {
        "distances": "effective walking metres" if effective else "metres",
        "reference_speed_kmh": acc.speed_kmh,
        "categories": {cat: asdict(p) for cat, p in each.items()},
    }


def _counts(result: PlanResult) -> dict[str, Any]:
    area = result.area
    return {
        "units": len(area.units),
        "resident_points": len(area.demand),
        "residents": float(area.demand["residents"].sum()),
        "facilities": len(area.facilities),
        "network_nodes": result.network_size[0],
        "network_edges": result.network_size[1],
    }


def _placement(result: PlanResult) -> dict[str, dict[str, Any]]:
    return {
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
    }


def run_record(
    result: PlanResult,
    *,
    command: str,
    plan_doc: Mapping[str, Any] | None = None,
    input_files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What a run used and how long it took: the content of ``run.json``.

    Parameters
    ----------
    result
        The run's result.
    command
        What ran (``plan``, ``demo``).
    plan_doc
        The plan file's content, if a plan file ran.
    input_files
        The files the plan reads, by plan key (their digests are recorded).

    Returns
    -------
    dict[str, Any]
        The record.
    """
    cat = result.area.catalog
    return {
        "tool": MARK,
        "command": command,
        "status": "done",
        "plan": dict(plan_doc) if plan_doc is not None else None,
        "input_files": input_hashes(input_files),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "inputs": _inputs(result),
        "crs": result.area.crs.to_string(),
        "parameters": asdict(result.params),
        "catalog": {
            "id": cat.id,
            "path": cat.path,
            "categories": cat.to_frame(speed_kmh=result.params.speed_kmh).to_dict("records"),
        },
        "walking_profiles": _profiles(result),
        "counts": _counts(result),
        "placement": _placement(result),
        "parts": None if result.parts is None else result.parts.to_dict("records"),
        "placement_bounds": dict(result.bounds),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "notes": [{"key": n.key, "text": n.text("en")} for n in result.notes],
    }
