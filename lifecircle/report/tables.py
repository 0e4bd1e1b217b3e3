"""The tables a run writes as CSV: coverage, checklist, per-resident access, sites, gaps.

CSV files are UTF-8 with a byte-order mark (Excel on Chinese Windows reads them), with an
empty cell for a missing or infinite value. Numbers are written per column
(:func:`float_format`): longitude and latitude with 6 decimals (about 0.1 m), distances
(``*_m``) to 0.1 m whatever their size, other numbers with six significant digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.coverage.access import DemandView
from lifecircle.coverage.tables import aligned_demand
from lifecircle.geo.buildings import largest_default_buildings
from lifecircle.geo.catalog import ServiceCatalog
from lifecircle.i18n import has_text, tr
from lifecircle.report.poi import POI_AUDIT_CSV, audit_table, localized_audit
from lifecircle.result import PlanResult

__all__ = [
    "access_table",
    "csv_tables",
    "default_buildings_table",
    "demand_rows",
    "float_format",
    "gaps_table",
    "sites_table",
    "write_csv",
]

_SITE_COLUMNS = [
    "category",
    "rank",
    "lon",
    "lat",
    "residents_newly_covered",
    "cumulative_share",
    "street",
    "units",
]


COORDINATE_COLUMNS = frozenset({"lon", "lat"})
"""Columns of WGS84 degrees: 6 decimals are 0.11 m of latitude (360° / 40,008 km of
meridian)."""


def float_format(column: str) -> str:
    """The printf format of a column of floats in the CSV tables.

    >>> float_format("lat"), float_format("p90_m"), float_format("share")
    ('%.6f', '%.1f', '%.6g')
    """
    if column in COORDINATE_COLUMNS:
        return "%.6f"
    if column.endswith("_m"):
        return "%.1f"
    return "%.6g"


def write_csv(frame: pd.DataFrame, path: Path, headers: Mapping[str, str] | None = None) -> None:
    """Write a table as UTF-8 with a byte-order mark (Excel on Chinese Windows reads it),
    each column of floats in its :func:`float_format`, missing and infinite values empty,
    columns renamed by ``headers`` (the names of another language).

    Parameters
    ----------
    frame
        The table.
    path
        The file to write.
    headers
        New names of columns (by their names in ``frame``).
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype.kind == "f":
            values = out[col].to_numpy(dtype=float)
            finite = np.isfinite(values)
            shown = np.where(finite, values, 0.0)
            text = np.char.mod(float_format(str(col)), shown)
            # no exponents: 2,123,456 residents are not written as 2.12346e+06
            big = np.abs(shown) >= 1e6
            text = np.where(big, np.char.mod("%.1f", shown), text)
            out[col] = np.where(finite, text, "")
    if headers:
        out = out.rename(columns=dict(headers))
    out.to_csv(path, index=False, encoding="utf-8-sig")


def localized(
    frame: pd.DataFrame, name: str, catalog: ServiceCatalog, lang: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """A CSV table in ``lang``: its headers (texts ``csv_<column>``; a column
    ``<category>_m`` as the category's name and metres), and in ``checklist.csv`` the
    category names and yes/no in ``lang``. English returns the table as it is.

    Parameters
    ----------
    frame
        The table, with its English headers.
    name
        Its file name.
    catalog
        The study's catalog (the categories' names).
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    (frame, headers)
        The table's values in ``lang`` and the new name of each header (for :func:`write_csv`).
    """
    if name == POI_AUDIT_CSV:
        return localized_audit(frame, catalog, lang)
    if lang == "en":
        return frame, {}
    headers = {}
    for col in map(str, frame.columns):
        if has_text(f"csv_{col}"):
            headers[col] = tr(f"csv_{col}", lang)
        elif col.endswith("_m") and col[:-2] in catalog:
            headers[col] = tr("csv_category_m", lang, category=catalog[col[:-2]].name_zh)
        elif col.startswith("share_complete_") and _is_level(catalog, col[15:]):
            level = catalog.level_name(col[15:], lang)
            headers[col] = tr("csv_share_complete_level", lang, level=level)
        elif name in (RANKING_CSV, ENTRANCES_CSV) and col in catalog:
            headers[col] = catalog[col].name_zh
    if name in WALLS_CSV:
        frame = _walls_localized(frame, catalog, lang)
    if name in ("checklist.csv", "checklist_rollup.csv") and "category" in frame.columns:
        frame = frame.copy()
        if "name" in frame.columns:
            frame["name"] = [
                catalog[c].name_zh if c in catalog else n
                for c, n in zip(frame["category"], frame["name"], strict=True)
            ]
        if "level" in frame.columns:
            frame["level"] = [
                catalog.level_name(lv, lang) if _is_level(catalog, lv) else lv
                for lv in frame["level"]
            ]
        if "required" in frame.columns and frame["required"].dtype.kind == "b":
            frame["required"] = frame["required"].map(
                {True: tr("yes", lang), False: tr("no", lang)}
            )
    return frame, headers


RANKING_CSV = "compounds_ranking.csv"
ENTRANCES_CSV = "entrance_candidates.csv"
WALLS_CSV = ("walls.csv", RANKING_CSV, "compounds.csv", ENTRANCES_CSV)
"""The tables of what the gated compounds' walls cost (issue 15)."""


def _walls_localized(frame: pd.DataFrame, catalog: ServiceCatalog, lang: str) -> pd.DataFrame:
    """The walls' tables in ``lang``: category names, yes/no."""
    frame = frame.copy()
    if "name" in frame.columns and "category" in frame.columns:
        frame["name"] = [catalog[c].name(lang) for c in frame["category"]]
    if "kind" in frame.columns and lang != "en":
        frame["kind"] = [tr(f"compound_kind_{k}", lang) for k in frame["kind"]]
    if "entrances_mapped" in frame.columns:
        frame["entrances_mapped"] = frame["entrances_mapped"].map(
            {True: tr("yes", lang), False: tr("no", lang)}
        )
    return frame


def walls_csv(result: PlanResult) -> dict[str, pd.DataFrame]:
    """The walls' tables by file name (none when compounds are open)."""
    walls = result.walls
    if walls is None:
        return {}
    return {
        "walls.csv": walls.by_category,
        RANKING_CSV: walls.ranking,
        "compounds.csv": walls.compounds,
        ENTRANCES_CSV: walls.entrances,
    }


def demand_rows(result: PlanResult) -> tuple[gpd.GeoDataFrame, DemandView]:
    """The demand points' geometry (from the study area) and the access result's own view of
    them, checked to be the same points in the same order."""
    demand = aligned_demand(result.access, result.area.demand)
    return demand, result.access.demand


def access_table(result: PlanResult) -> pd.DataFrame:
    """Per resident point: id, position, residents, unit, distance to each category."""
    demand, view = demand_rows(result)
    ll = demand.geometry.to_crs("EPSG:4326")
    frame = pd.DataFrame(
        {
            "demand_id": view.ids,
            "lon": ll.x.round(6).to_numpy(),
            "lat": ll.y.round(6).to_numpy(),
            "residents": np.round(view.residents, 1),
            "unit_id": view.unit_id,
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
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=_SITE_COLUMNS)


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


DEFAULT_BUILDINGS = 50
"""How many of the largest default-rule buildings the report lists."""


def default_buildings_table(result: PlanResult) -> pd.DataFrame:
    """The largest buildings taken as homes only because OSM tags them ``building=yes``
    (nothing else said what they are): the ones a planner should check first."""
    return largest_default_buildings(result.area.demand, n=DEFAULT_BUILDINGS)


def _is_level(catalog: ServiceCatalog, level_id: str) -> bool:
    try:
        catalog.level(level_id)
    except KeyError:
        return False
    return True


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
    if result.supply is not None:
        tables["supply_need.csv"] = result.supply
    if result.checklist_rollup is not None:
        tables["checklist_rollup.csv"] = result.checklist_rollup
    if result.scenario is not None:
        tables["scenario_overall.csv"] = result.scenario.overall
        tables["scenario_by_unit.csv"] = result.scenario.by_unit
        tables["scenario_completeness.csv"] = result.scenario.completeness
    tables.update(walls_csv(result))
    audit = audit_table(result)
    if audit is not None:
        tables[POI_AUDIT_CSV] = audit
    default = default_buildings_table(result)
    if len(default):
        tables["default_buildings.csv"] = default
    return tables
