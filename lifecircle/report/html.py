"""``report.html``: one self-contained page a planning office can file or send on.

What was studied, the headline figures, charts (coverage by category, walking distance
distributions), the tables (coverage, new sites, gaps, the services each unit misses),
the map embedded, the method and its parameters, the data sources and their attribution,
and which font drew the Chinese in the charts. Charts are PNG data URIs and the map sits in
an ``iframe`` ``srcdoc``, so the page is one file with nothing to fetch but map tiles.
"""

from __future__ import annotations

import math
from datetime import date
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from jinja2 import Environment

from lifecircle.i18n import tr, translations
from lifecircle.report.charts import cjk_font, coverage_chart, distance_chart, png_data_uri
from lifecircle.report.summary import SITE_COLUMNS, category_summary, headers, parameter_rows
from lifecircle.report.supply import has_supply, supply_header, supply_rows
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

__all__ = ["write_html"]

UNIT_ROWS = 300
"""Units listed in the page's checklist (those with the most residents missing a
service first); report.xlsx has them all."""

GAP_ROWS = 15


def _num(v: Any, fmt: str = "{:,.0f}") -> dict[str, Any]:
    """A right-aligned number cell; a dash for a missing value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return {"v": "–", "n": True}
    return {"v": fmt.format(v), "n": True}


def _text(v: Any) -> dict[str, Any]:
    """A text cell."""
    missing = v is None or (isinstance(v, float) and math.isnan(v))
    return {"v": "" if missing else str(v), "n": False}


def _table(header: list[str], rows: list[list[dict[str, Any]]], **extra: Any) -> dict[str, Any]:
    return {"header": header, "rows": rows, **extra}


def _figures(result: PlanResult, lang: str) -> list[dict[str, str]]:
    area = result.area
    comp = result.coverage.completeness_overall.set_index("level")["share_complete"]
    complete = float(comp.get("all", float("nan")))
    return [
        {"value": f"{float(area.demand['residents'].sum()):,.0f}", "label": tr("residents", lang)},
        {"value": f"{len(area.units):,}", "label": tr("units", lang)},
        {"value": f"{float(area.units.area.sum()) / 1e6:.2f}", "label": tr("area_km2", lang)},
        {"value": f"{len(area.facilities):,}", "label": tr("facilities", lang)},
        {"value": f"{complete:.1%}", "label": tr("complete_share", lang)},
    ]


def _coverage(result: PlanResult, lang: str) -> dict[str, Any]:
    header = [
        tr("category", lang),
        tr("level", lang),
        tr("threshold_m", lang),
        tr("facilities", lang),
        tr("share_covered", lang),
        tr("share_units_covered", lang),
        tr("median_distance_m", lang),
    ]
    rows, low = [], []
    for r in category_summary(result, lang=lang).to_dict("records"):
        rows.append(
            [
                _text(r["name"] + ("" if r["required"] else " *")),
                _text(r["level_name"]),
                _num(r["threshold_m"]),
                _num(r["facilities"]),
                _num(r["share"], "{:.1%}"),
                _num(r["share_units"], "{:.1%}"),
                _num(r["p50_m"]),
            ]
        )
        low.append(bool(r["required"] and not r["share"] >= 0.5))
    return _table(header, rows, low=low)


def _sites(result: PlanResult, lang: str) -> list[dict[str, Any]]:
    catalog = result.area.catalog
    header = headers(SITE_COLUMNS, lang)
    blocks = []
    for cat, rec in result.sites.items():
        r = rec.result
        title = tr(
            "placement_header",
            lang,
            n=len(rec.sites),
            category=catalog[cat].name(lang),
            status=tr("status_" + r.status.replace(" ", "_"), lang),
            gap="0%" if r.gap == 0 else f"{r.gap:.2%}",
        )
        rows = [
            [
                _num(s["rank"]),
                _num(s["lon"], "{:.5f}"),
                _num(s["lat"], "{:.5f}"),
                _text(s["street"] if isinstance(s["street"], str) else ""),
                _num(s["new_residents"]),
                _num(s["cumulative_share"], "{:.1%}"),
                _text(s["units"]),
            ]
            for _, s in rec.sites.iterrows()
        ]
        blocks.append(_table(header, rows, title=title))
    return blocks


def _gaps(result: PlanResult, lang: str) -> dict[str, Any] | None:
    if result.gaps is None or not len(result.gaps):
        return None
    catalog = result.area.catalog
    header = [
        tr("category", lang),
        tr("rank", lang),
        tr("uncovered_residents", lang),
        tr("units", lang),
        tr("col_nearest_m", lang),
    ]
    top = result.gaps.sort_values("residents", ascending=False, kind="stable").head(GAP_ROWS)
    rows = [
        [
            _text(catalog[g["category"]].name(lang)),
            _num(g["rank"]),
            _num(g["residents"]),
            _text(g["units"]),
            _num(g["nearest_m"])
            if math.isfinite(g["nearest_m"])
            else _text(tr("col_none_in_reach", lang)),
        ]
        for _, g in top.iterrows()
    ]
    return _table(header, rows, more=max(0, len(result.gaps) - GAP_ROWS))


def _supply(result: PlanResult, lang: str) -> dict[str, Any] | None:
    """Where supply falls short of the catalog's indicators (roll-ups first)."""
    if not has_supply(result):
        return None
    short = supply_rows(result, lang, only_short=True)
    rows = [
        [_text(v) for v in r[:4]]
        + [_num(v, "{:,.1f}") for v in r[4:6]]
        + [_num(r[6])]
        + [_num(v, "{:,.1f}") for v in r[7:9]]
        + [_text(r[9])]
        for r in short[:GAP_ROWS]
    ]
    return _table(supply_header(lang), rows, more=max(0, len(short) - GAP_ROWS))


def _walls(result: PlanResult, lang: str) -> dict[str, Any] | None:
    """What the gated compounds' walls cost: coverage gated against open, the costliest
    walls (the first rows of the ranking) and the compounds with their entrances."""
    if result.walls is None:
        return None
    pct = "{:.1%}"
    by_cat = [
        [_text(r[0]), _num(r[1], pct), _num(r[2], pct)] + [_num(v) for v in r[3:]]
        for r in walls_rows(result, lang)
    ]
    ranking = ranking_rows(result, lang)
    ranked = [
        [_num(r[0]), _text(r[1]), _text(r[2]), _num(r[3]), _num(r[4]), _text(r[5])]
        for r in ranking[:GAP_ROWS]
    ]
    comps = compounds_rows(result, lang)
    listed = [
        [_text(v) for v in r[:3]] + [_num(v) for v in r[3:8]] + [_text(r[8])]
        for r in comps[:GAP_ROWS]
    ]
    gates = entrances_rows(result, lang, only_gains=True)
    shown = [
        [
            _num(r[0]),
            _text(r[1]),
            _text(r[2]),
            _num(r[3], "{:.6f}"),
            _num(r[4], "{:.6f}"),
            _num(r[5], "{:,.1f}"),
            _num(r[6]),
            _text(r[7]),
        ]
        for r in gates[:GAP_ROWS]
    ]
    return {
        "entrances": _table(entrances_header(lang), shown, more=max(0, len(gates) - GAP_ROWS)),
        "by_category": _table(walls_header(lang), by_cat),
        "ranking": _table(ranking_header(lang), ranked, more=max(0, len(ranking) - GAP_ROWS)),
        "compounds": _table(compounds_header(lang), listed, more=max(0, len(comps) - GAP_ROWS)),
    }


def _units(result: PlanResult, lang: str) -> dict[str, Any]:
    """Per unit: the required services most of its residents cannot reach in time."""
    catalog = result.area.catalog
    units = result.area.units
    check = result.coverage.checklist
    check = check.loc[check["required"]]
    residents = result.coverage.by_unit.groupby("unit_id")["residents"].first()
    names = dict(zip(units["unit_id"].astype(str), units["name"].astype(str), strict=True))
    show_name = any(k != v for k, v in names.items())
    order = residents.reindex(check["unit_id"].unique()).sort_values(ascending=False)
    header = [tr("unit", lang)]
    header += [tr("col_unit_name", lang)] if show_name else []
    header += [tr("residents", lang), tr("col_missing_count", lang), tr("col_missing", lang)]
    # each unit's rows (positions, in order), not a frame per unit: only the first are shown
    by_unit = check.groupby("unit_id", sort=False).indices
    category, distance = check["category"].to_numpy(), check["distance_m"].to_numpy()
    rows = []
    for uid in order.index[:UNIT_ROWS]:
        missing = by_unit[uid]
        parts = []
        for cat, d in zip(category[missing], distance[missing], strict=True):
            dist = f"{d:,.0f} m" if math.isfinite(d) else tr("col_none_in_reach", lang)
            parts.append(f"{catalog[cat].name(lang)} ({dist})")
        row = [_text(uid)]
        row += [_text(names.get(str(uid)))] if show_name else []
        row += [_num(order[uid]), _num(len(missing)), _text(", ".join(parts))]
        rows.append(row)
    return _table(header, rows, more=max(0, len(order) - UNIT_ROWS))


def _method(result: PlanResult, lang: str) -> tuple[list[str], list[tuple[str, str]]]:
    area = result.area
    p = result.params
    population = next((s for s in area.sources if s.get("role") == "population"), None)
    residents = (
        tr("report_method_population", lang, file=Path(str(population["path"])).name)
        if population is not None
        else tr("report_method_residents", lang)
    )
    method = [
        residents,
        tr("report_method_walk", lang, snap=f"{p.max_snap_m:.0f}", speed=f"{p.speed_kmh:g}"),
        tr("report_method_coverage", lang, share=f"{p.unit_share:.0%}"),
        tr("report_method_sites", lang),
        tr("report_method_catchments", lang, width=f"{p.catchment_width_m:.0f}"),
    ]
    return method, parameter_rows(result, lang)


def _sources(result: PlanResult, lang: str) -> list[str]:
    out = []
    for s in result.area.sources:
        path = Path(str(s.get("path")))
        size = f", {path.stat().st_size / 1e6:,.1f} MB" if path.is_file() else ""
        out.append(f"{tr('col_input', lang)}: {s.get('role')} — {path.name}{size}")
    return out


def _font_note(lang: str) -> str:
    if lang != "zh":
        return ""
    font = cjk_font()
    if font.family:
        return tr("report_font", lang, font=font.family, source=font.source)
    return tr("report_no_font", lang)


def write_html(
    result: PlanResult, path: Path, *, lang: str = "en", map_html: str = "", title: str = ""
) -> None:
    """Write ``report.html``.

    Parameters
    ----------
    result
        The plan result.
    path
        The file written.
    lang
        The language of every label.
    map_html
        The map page to embed in the report (none when empty).
    title
        The page's title (default: the report title naming the catalog).
    """
    area = result.area
    strings = translations("en") | translations(lang)
    method, parameters = _method(result, lang)
    template = Environment(autoescape=True).from_string(
        (resources.files("lifecircle.report") / "templates" / "report.html.j2").read_text(
            encoding="utf-8"
        )
    )
    try:
        version = metadata.version("lifecircle")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "?"
    page = template.render(
        lang=lang,
        t=strings,
        title=title or tr("report_title", lang, catalog=area.catalog.name(lang)),
        date=date.today().isoformat(),
        figures=_figures(result, lang),
        notes=[n.text(lang) for n in result.notes],
        coverage_chart=png_data_uri(coverage_chart(result, lang=lang)),
        distance_chart=png_data_uri(distance_chart(result, lang=lang)),
        coverage=_coverage(result, lang),
        sites=_sites(result, lang),
        gaps=_gaps(result, lang),
        supply=_supply(result, lang),
        walls=_walls(result, lang),
        units=_units(result, lang),
        map_html=map_html,
        method=method,
        parameters=parameters,
        sources=_sources(result, lang),
        font_note=_font_note(lang),
        attribution=tr("osm_attribution", lang)
        if any(s.get("role") == "osm" for s in area.sources)
        else "",
        version=version,
    )
    Path(path).write_text(page, encoding="utf-8")
