"""The Excel report a planning office opens: one sheet per table, headers in its language.

Sheets: summary; coverage per unit and category; the grid managers' checklist of missing
services per unit; recommended sites; gaps; before and after the sites; inputs and
parameters. Numbers are numbers (shares formatted as percentages), columns are sized to
their contents and header rows are frozen.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from lifecircle.i18n import tr
from lifecircle.report.poi import audit_header, audit_rows
from lifecircle.report.summary import SITE_COLUMNS, category_summary, headers, parameter_rows
from lifecircle.report.supply import has_supply, supply_header, supply_rows
from lifecircle.report.tables import default_buildings_table
from lifecircle.report.walls import (
    compounds_header,
    compounds_rows,
    entrances_header,
    entrances_rows,
    ranking_header,
    ranking_rows,
    walls_header,
    walls_rows,
)
from lifecircle.result import PlanResult

__all__ = ["sheet_names", "write_xlsx"]

PERCENT = "0.0%"
METRES = "#,##0"
COUNT = "#,##0"


def sheet_names(lang: str) -> dict[str, str]:
    """The sheets' titles in ``lang`` (Excel allows at most 31 characters)."""
    keys = ("summary", "coverage", "checklist", "sites", "gaps", "scenario", "inputs")
    return {k: tr(f"sheet_{k}", lang)[:31] for k in keys}


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
    return value


def _write(
    ws: Any, header: list[str], rows: list[list[Any]], formats: dict[int, str] | None = None
) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    values = [[_cell(v) for v in row] for row in rows]
    for row in values:
        ws.append(row)
    for col, fmt in (formats or {}).items():
        for cell in ws.iter_cols(min_col=col, max_col=col, min_row=2):
            for c in cell:
                c.number_format = fmt
    ws.freeze_panes = "A2"
    # the widths from the values written (not read back from the cells: fewer per-cell steps)
    for col, column in enumerate(itertools.zip_longest(*[header, *values]), start=1):
        width = max(_width(v) for v in column)
        ws.column_dimensions[get_column_letter(col)].width = min(60, max(8, width + 2))


def _width(value: Any) -> int:
    if value is None:
        return 0
    text = str(value)
    if text.isascii():
        return len(text)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters are double width


def _supply_sheet(wb: Any, result: PlanResult, lang: str) -> None:
    """Supply against the catalog's indicators, per roll-up and unit (when there is one)."""
    if not has_supply(result):
        return
    ws = wb.create_sheet(tr("sheet_supply", lang)[:31])
    rows = supply_rows(result, lang)
    _write(ws, supply_header(lang), rows, {5: COUNT, 6: "#,##0.0", 8: "#,##0.0", 9: "#,##0.0"})


def _walls_sheets(wb: Any, result: PlanResult, lang: str) -> None:
    """What the gated compounds' walls cost: coverage gated against open, the ranking of
    the compounds (with every category's residents newly covered) and the compounds."""
    walls = result.walls
    if walls is None:
        return
    ws = wb.create_sheet(tr("sheet_walls", lang)[:31])
    _write(ws, walls_header(lang), walls_rows(result, lang), {2: PERCENT, 3: PERCENT, 4: COUNT})
    for col in (5, 6):
        for c in ws.iter_cols(min_col=col, max_col=col, min_row=2):
            for cell in c:
                cell.number_format = COUNT
    catalog = result.area.catalog
    cats = [c for c in walls.ranking.columns if c in catalog]
    header = ranking_header(lang)[:-1] + [catalog[c].name(lang) for c in cats]
    rows = [
        r[:5] + [float(v) for v in values]
        for r, values in zip(
            ranking_rows(result, lang), walls.ranking[cats].to_numpy(), strict=True
        )
    ]
    formats = {k: COUNT for k in range(4, 6 + len(cats))}
    _write(wb.create_sheet(tr("sheet_compound_ranking", lang)[:31]), header, rows, formats)
    ws = wb.create_sheet(tr("sheet_compounds", lang)[:31])
    _write(ws, compounds_header(lang), compounds_rows(result, lang), {4: COUNT})
    if len(walls.entrances):
        ws = wb.create_sheet(tr("sheet_entrance_candidates", lang)[:31])
        formats = {4: "0.000000", 5: "0.000000", 6: "#,##0.0", 7: COUNT}
        _write(ws, entrances_header(lang), entrances_rows(result, lang), formats)


def _poi_audit_sheet(wb: Any, result: PlanResult, lang: str) -> None:
    """Every code or tag of the Amap and Baidu exports, its rows and their category (when
    a facility file was one)."""
    if result.area.poi_audit is None:
        return
    ws = wb.create_sheet(tr("sheet_poi_audit", lang)[:31])
    _write(ws, audit_header(lang), audit_rows(result, lang), {5: COUNT})


def _default_buildings_sheet(wb: Any, result: PlanResult, lang: str) -> None:
    """The largest buildings taken as homes only by the ``building=yes`` default."""
    table = default_buildings_table(result)
    if len(table) == 0:
        return
    ws = wb.create_sheet(tr("sheet_default_buildings", lang)[:31])
    header = [tr(f"csv_{c}", lang) for c in table.columns]
    rows = [list(r) for r in table.itertuples(index=False)]
    formats = {3: "0.000000", 4: "0.000000", 5: METRES, 6: "0", 7: METRES, 8: COUNT}
    _write(ws, header, rows, formats)


def write_xlsx(
    result: PlanResult, path: Path, *, lang: str = "en", inputs: list[dict[str, Any]] | None = None
) -> None:
    """Write ``report.xlsx``: the sheets of :func:`sheet_names`, the scenario's only when
    the result has one.

    Parameters
    ----------
    result
        The plan result.
    path
        The file written (its folder is made if missing).
    lang
        The language of sheet names, headers and labels.
    inputs
        The input files to list in the inputs sheet (each a dict with ``role``, ``path``,
        ``bytes`` and ``sha256``), before the parameters.
    """
    from openpyxl import Workbook

    names = sheet_names(lang)
    wb = Workbook()
    ws = wb.active
    ws.title = names["summary"]
    _summary_sheet(ws, result, lang)
    _coverage_sheet(wb.create_sheet(names["coverage"]), result, lang)
    _checklist_sheet(wb.create_sheet(names["checklist"]), result, lang)
    _sites_sheet(wb.create_sheet(names["sites"]), result, lang)
    _gaps_sheet(wb.create_sheet(names["gaps"]), result, lang)
    if result.scenario is not None:
        _scenario_sheet(wb.create_sheet(names["scenario"]), result, lang)
    _supply_sheet(wb, result, lang)
    _walls_sheets(wb, result, lang)
    _poi_audit_sheet(wb, result, lang)
    _default_buildings_sheet(wb, result, lang)
    _inputs_sheet(wb.create_sheet(names["inputs"]), result, lang, inputs)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def _summary_sheet(ws: Any, result: PlanResult, lang: str) -> None:
    """One row per category (:func:`category_summary`), then the shares complete per level."""
    rows = [
        [
            r["category"],
            r["name"],
            r["level_name"],
            tr("yes" if r["required"] else "no", lang),
            r["threshold_m"],
            r["facilities"],
            r["share"],
            r["share_units"],
            r["p50_m"],
            r["p90_m"],
            r["covered_residents"],
            r["unreachable_residents"],
        ]
        for r in category_summary(result, lang=lang).to_dict("records")
    ]
    header = [
        tr("col_category_id", lang),
        tr("category", lang),
        tr("level", lang),
        tr("col_required", lang),
        tr("threshold_m", lang),
        tr("facilities", lang),
        tr("share_covered", lang),
        tr("share_units_covered", lang),
        tr("median_distance_m", lang),
        tr("p90_distance_m", lang),
        tr("covered_residents", lang),
        tr("col_unreachable", lang),
    ]
    _write(
        ws,
        header,
        rows,
        {5: METRES, 6: COUNT, 7: PERCENT, 8: PERCENT, 9: METRES, 10: METRES, 11: COUNT, 12: COUNT},
    )
    comp = result.coverage.completeness_overall
    ws.append([])
    ws.append([tr("complete_share", lang)])
    for _, r in comp.iterrows():
        ws.append([result.area.catalog.level_name(r["level"], lang), _cell(r["share_complete"])])
        ws.cell(ws.max_row, 2).number_format = PERCENT


def _coverage_sheet(ws: Any, result: PlanResult, lang: str) -> None:
    """Per unit: residents, share complete, and the share covered of each category."""
    catalog = result.area.catalog
    units = result.area.units
    share = result.coverage.by_unit.pivot(index="unit_id", columns="category", values="share")
    res = result.coverage.by_unit.groupby("unit_id")["residents"].first()
    complete = result.coverage.completeness_by_unit.set_index("unit_id")
    header = [
        tr("unit", lang),
        tr("col_unit_name", lang),
        tr("residents", lang),
        tr("complete_share", lang),
    ]
    header += [catalog[c].name(lang) for c in catalog.ids]
    ids = units["unit_id"].astype(str)
    # every unit's shares in one lookup (a unit or category without any: NaN, written empty)
    shares = share.reindex(index=ids.to_numpy(), columns=list(catalog.ids)).to_numpy()
    rows = []
    for uid, name, values in zip(ids, units["name"].astype(str), shares, strict=True):
        row = [
            uid,
            name,
            res.get(uid),
            complete.at[uid, "share_complete_all"] if uid in complete.index else None,
        ]
        row += list(values)
        rows.append(row)
    fmts = {3: COUNT, 4: PERCENT} | {5 + i: PERCENT for i in range(len(catalog.ids))}
    _write(ws, header, rows, fmts)


def _checklist_sheet(ws: Any, result: PlanResult, lang: str) -> None:
    """The grid managers' checklist: per unit, the categories it misses."""
    catalog = result.area.catalog
    units = result.area.units
    unit_name = dict(zip(units["unit_id"].astype(str), units["name"].astype(str), strict=True))
    header = [
        tr("unit", lang),
        tr("col_unit_name", lang),
        tr("category", lang),
        tr("level", lang),
        tr("col_required", lang),
        tr("share_covered", lang),
        tr("col_nearest_m", lang),
    ]
    check = result.coverage.checklist
    columns = ("unit_id", "category", "level", "required", "share", "distance_m")
    rows = [
        [
            uid,
            unit_name.get(str(uid)),
            catalog[cat].name(lang),
            catalog.level_name(level, lang),
            tr("yes" if required else "no", lang),
            share,
            d if math.isfinite(d) else tr("col_none_in_reach", lang),
        ]
        for uid, cat, level, required, share, d in zip(
            *(check[c].tolist() for c in columns), strict=True
        )
    ]
    if "nearest_name" in check.columns:  # the facility nearest to most of the unit's residents
        header += [tr("col_nearest_facility", lang), tr("col_nearest_facility_m", lang)]
        for row, name, walk in zip(rows, check["nearest_name"], check["nearest_m"], strict=True):
            row += [name if isinstance(name, str) else None, _cell(walk)]
    _write(ws, header, rows, {6: PERCENT, 7: METRES, 9: METRES})


def _sites_sheet(ws: Any, result: PlanResult, lang: str) -> None:
    """The recommended sites of each category, in rank order."""
    catalog = result.area.catalog
    header = headers(("category", *SITE_COLUMNS, "col_status", "col_gap"), lang)
    rows = []
    for cat, rec in result.sites.items():
        for _, s in rec.sites.iterrows():
            rows.append(
                [
                    catalog[cat].name(lang),
                    s["rank"],
                    round(s["lon"], 6),
                    round(s["lat"], 6),
                    s["street"] if isinstance(s["street"], str) else None,
                    s["new_residents"],
                    s["cumulative_share"],
                    s["units"],
                    tr("status_" + rec.result.status.replace(" ", "_"), lang),
                    rec.result.gap,
                ]
            )
    _write(ws, header, rows, {6: COUNT, 7: PERCENT, 10: "0.00%"})


def _gaps_sheet(ws: Any, result: PlanResult, lang: str) -> None:
    """The clusters of uncovered residents."""
    catalog = result.area.catalog
    header = [
        tr("category", lang),
        tr("rank", lang),
        tr("uncovered_residents", lang),
        tr("units", lang),
        tr("nearest_facility", lang),
        tr("col_nearest_m", lang),
    ]
    rows = []
    if result.gaps is not None and len(result.gaps):
        for _, g in result.gaps.iterrows():
            d = g["nearest_m"]
            rows.append(
                [
                    catalog[g["category"]].name(lang),
                    g["rank"],
                    g["residents"],
                    g["units"],
                    g["nearest_facility"],
                    d if math.isfinite(d) else tr("col_none_in_reach", lang),
                ]
            )
    _write(ws, header, rows, {3: COUNT, 6: METRES})


def _scenario_sheet(ws: Any, result: PlanResult, lang: str) -> None:
    """Each category's share covered before and after the proposed sites."""
    assert result.scenario is not None
    catalog = result.area.catalog
    header = [
        tr("category", lang),
        tr("col_share_before", lang),
        tr("col_share_after", lang),
        tr("col_residents_gained", lang),
    ]
    rows = [
        [
            catalog[r["category"]].name(lang),
            r["share_before"],
            r["share_after"],
            r["residents_gained"],
        ]
        for _, r in result.scenario.overall.iterrows()
    ]
    _write(ws, header, rows, {2: PERCENT, 3: PERCENT, 4: COUNT})


def _inputs_sheet(
    ws: Any, result: PlanResult, lang: str, inputs: list[dict[str, Any]] | None
) -> None:
    """The input files (role, path, size, hash), then the analysis parameters."""
    rows = []
    for src in inputs or []:
        rows.append(
            [
                f"{tr('col_input', lang)}: {src.get('role')}",
                str(src.get("path")),
                src.get("bytes"),
                src.get("sha256"),
            ]
        )
    rows += [[label, value] for label, value in parameter_rows(result, lang)]
    _write(ws, [tr("col_item", lang), tr("col_value", lang), tr("col_bytes", lang), "sha256"], rows)
