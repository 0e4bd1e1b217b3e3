"""``results.gpkg``: every layer of a study for QGIS or ArcGIS.

Layers, all in WGS84 (EPSG:4326): ``units`` (with residents, the share covered for each
category and the share in a complete life circle), ``facilities`` (with the residents each
serves), ``residents`` (the walk to the nearest facility of each category), ``catchments``,
``gaps`` and ``sites``; and a table ``metadata`` noting the metric CRS the distances were
computed in, the catalog, the parameters and when the study ran.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from lifecircle.coverage.tables import residents_served
from lifecircle.report.tables import demand_rows
from lifecircle.result import PlanResult

__all__ = ["LAYERS", "write_gpkg"]

LAYERS = (
    "units",
    "facilities",
    "residents",
    "catchments",
    "gaps",
    "sites",
    "compounds",
    "entrances",
    "entrance_candidates",
)
WGS84 = "EPSG:4326"


def _finite(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame.copy()
    for col in out.columns:
        if col != "geometry" and out[col].dtype.kind == "f":
            out[col] = out[col].where(np.isfinite(out[col]))
    return out


def _layer(frame: gpd.GeoDataFrame, path: Path, name: str) -> None:
    out = _finite(frame).to_crs(WGS84)
    out.to_file(path, layer=name, driver="GPKG", engine="pyogrio")


def _walls_layers(result: PlanResult, path: Path) -> list[str]:
    """The gated compounds (their table, with the residents newly covered if each alone
    were opened) and the boundary crossings (entrances and closed ones), when gated."""
    walls, comp = result.walls, result.area.compounds
    if walls is None or comp is None or len(comp) == 0:
        return []
    table = walls.compounds.merge(
        walls.ranking[["compound_id", "newly_covered"]]
        if len(walls.ranking)
        else pd.DataFrame({"compound_id": [], "newly_covered": []}),
        on="compound_id",
        how="left",
    )
    frame = gpd.GeoDataFrame(table, geometry=comp.areas.geometry.to_numpy(), crs=result.area.crs)
    _layer(frame, path, "compounds")
    if comp.crossings is None or len(comp.crossings) == 0:
        return ["compounds"]
    cross = comp.crossings
    points = gpd.GeoDataFrame(
        cross[["compound_id", "node", "entrance", "gate"]].reset_index(drop=True),
        geometry=gpd.points_from_xy(cross["x"], cross["y"]),
        crs=result.area.crs,
    )
    _layer(points, path, "entrances")
    cand = walls.entrances
    if len(cand) == 0:
        return ["compounds", "entrances"]
    where = gpd.points_from_xy(cand["lon"], cand["lat"], crs=WGS84)
    _layer(gpd.GeoDataFrame(cand, geometry=where, crs=WGS84), path, "entrance_candidates")
    return ["compounds", "entrances", "entrance_candidates"]


def write_gpkg(result: PlanResult, path: Path) -> list[str]:
    """Write the GeoPackage; return the names of the layers written."""
    area = result.area
    written = []
    share = result.coverage.by_unit.pivot(index="unit_id", columns="category", values="share")
    units = area.units[["unit_id", "name", "population", "geometry"]].copy()
    res = result.coverage.by_unit.groupby("unit_id")["residents"].first()
    units["residents"] = units["unit_id"].map(res).astype(float)
    complete = result.coverage.completeness_by_unit.set_index("unit_id")
    if "share_complete_all" in complete.columns:
        units["share_complete"] = units["unit_id"].map(complete["share_complete_all"]).astype(float)
    for cat in area.catalog.ids:
        units[f"share_{cat}"] = (
            units["unit_id"].map(share[cat]).astype(float) if cat in share.columns else np.nan
        )
    _layer(units, path, "units")
    written.append("units")

    fac = area.facilities.copy()
    fac["category_name"] = [
        area.catalog[c].name_zh + " / " + area.catalog[c].name_en for c in fac["category"]
    ]
    fac["residents_served"] = residents_served(result.access, len(fac))
    _layer(fac, path, "facilities")
    written.append("facilities")

    points, view = demand_rows(result)
    demand = gpd.GeoDataFrame(
        {"demand_id": view.ids, "residents": view.residents, "unit_id": view.unit_id},
        geometry=points.geometry.to_numpy(),
        crs=points.crs,
    )
    for k, cat in enumerate(result.access.categories):
        demand[f"{cat}_m"] = result.access.distance_m[:, k]
    _layer(demand, path, "residents")
    written.append("residents")

    for name, frame in (("catchments", result.catchments), ("gaps", result.gaps)):
        if frame is not None and len(frame):
            _layer(frame, path, name)
            written.append(name)
    site_frames = [
        rec.sites.assign(category=cat) for cat, rec in result.sites.items() if len(rec.sites)
    ]
    if site_frames:
        _layer(
            gpd.GeoDataFrame(
                pd.concat(site_frames, ignore_index=True), geometry="geometry", crs=area.crs
            ),
            path,
            "sites",
        )
        written.append("sites")
    written += _walls_layers(result, path)
    meta = pd.DataFrame(
        {
            "key": ["metric_crs", "layers_crs", "catalog", "created", "parameters"],
            "value": [
                area.crs.to_string(),
                WGS84,
                area.catalog.id,
                datetime.now(UTC).isoformat(timespec="seconds"),
                json.dumps(asdict(result.params), default=str),
            ],
        }
    )
    pyogrio.write_dataframe(meta, path, layer="metadata")
    return written
