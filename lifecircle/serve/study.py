"""The study a ``lifecircle serve`` reads: a finished plan's output folder (its
``run.json`` records the plan) or a plan file; and the scenario written back as a facility
CSV and a plan file that ``lifecircle plan`` reruns to the same figures."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from lifecircle.app import demo_data
from lifecircle.config import PlanConfig, load_plan, plan_from_dict
from lifecircle.errors import InputError, Problem
from lifecircle.serve.state import WhatIf

__all__ = ["SCENARIO_ADD", "SCENARIO_REPLACE", "load_config", "scenario_files", "to_toml"]

SCENARIO_ADD = "scenario_added.csv"
"""The proposed facilities of categories that kept all their facilities (mode "add")."""
SCENARIO_REPLACE = "scenario_replaced.csv"
"""Every facility of categories that lost one (mode "replace")."""


def load_config(path: str | Path) -> PlanConfig:
    """The plan behind a results folder (its ``run.json``) or a plan file."""
    p = Path(path).expanduser()
    if p.is_file():
        return load_plan(p)
    record_path = p / "run.json"
    if not record_path.is_file():
        raise InputError(Problem.of("serve_no_run", str(p)))
    record = json.loads(record_path.read_text(encoding="utf-8"))
    doc = record.get("plan")
    if doc is None and record.get("command") == "demo":
        doc = {"catalog": record["catalog"]["id"], "inputs": {"osm": str(demo_data())}}
    if not isinstance(doc, dict):
        raise InputError(Problem.of("serve_no_run", str(record_path)))
    return plan_from_dict(doc, source=str(record_path))


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        inner = ", ".join(
            f"{json.dumps(str(k))} = {_value(x)}" for k, x in v.items() if x is not None
        )
        return "{" + inner + "}"
    raise TypeError(f"no TOML for {type(v).__name__}")


def to_toml(doc: dict[str, Any]) -> str:
    """A plan document as TOML (tables inline, ``None`` left out)."""
    return "".join(f"{json.dumps(str(k))} = {_value(v)}\n" for k, v in doc.items() if v is not None)


def _csv(rows: list[tuple[str, str, float, float]]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["id", "category", "lon", "lat"])
    for fid, cat, lon, lat in rows:
        out.writerow([fid, cat, repr(lon), repr(lat)])
    return buf.getvalue()


def scenario_files(config: PlanConfig, w: WhatIf) -> dict[str, str]:
    """The scenario as files: the facility CSVs and ``plan.toml`` (the study's plan with
    them added, no placement), by file name."""
    touched = {c.category for c in w.changes}
    lost = {str(c) for c in w.cats[~w.active]}
    add = [
        (p.pid, p.category, p.lon, p.lat) for p in w.proposals.values() if p.category not in lost
    ]
    keep = w.active & ~w.from_file & np.isin(w.cats, sorted(lost))
    pts = w.area.facilities.loc[keep].to_crs("EPSG:4326")
    replace = [
        (str(i), str(c), g.x, g.y)
        for i, c, g in zip(pts["facility_id"], pts["category"], pts.geometry, strict=True)
    ]
    replace += [
        (p.pid, p.category, p.lon, p.lat) for p in w.proposals.values() if p.category in lost
    ]
    doc = config.model_dump(mode="json")
    files = {}
    extra = []
    for name, rows, mode in ((SCENARIO_ADD, add, "add"), (SCENARIO_REPLACE, replace, "replace")):
        # a category that lost its every facility is replaced by none: the file names it
        if rows or (mode == "replace" and lost):
            files[name] = _csv(rows)
            entry: dict[str, Any] = {
                "path": name,
                "mode": mode,
                "category_col": "category",
                "id_col": "id",
                "lon_col": "lon",
                "lat_col": "lat",
            }
            if mode == "replace":
                entry["replaces"] = sorted(lost)
            extra.append(entry)
    doc["inputs"]["facilities"] = list(doc["inputs"].get("facilities") or []) + extra
    doc["placement"] = []
    doc["title"] = (doc.get("title") or "") + " (what-if: " + ", ".join(sorted(touched)) + ")"
    files["plan.toml"] = to_toml(doc)
    return files
