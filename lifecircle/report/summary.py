"""Headline tables of a result, shared by the CLI summary, the reports and the map."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lifecircle.i18n import tr, translations
from lifecircle.result import PlanResult

__all__ = [
    "SITE_COLUMNS",
    "SUMMARY_COLUMNS",
    "category_summary",
    "headers",
    "parameter_rows",
    "placement_summary",
    "profile_rows",
]

SITE_COLUMNS = (
    "rank",
    "col_lon",
    "col_lat",
    "street",
    "new_residents",
    "cumulative_share",
    "units_gaining",
)
"""Translation keys of the columns of a recommended-sites table, in order."""


def headers(keys: tuple[str, ...] | list[str], lang: str = "en") -> list[str]:
    """Column headers in ``lang`` from translation keys."""
    return [tr(k, lang) for k in keys]


SUMMARY_COLUMNS = (
    "category",
    "name",
    "level",
    "level_name",
    "required",
    "threshold_m",
    "facilities",
    "residents",
    "covered_residents",
    "share",
    "units",
    "units_covered",
    "share_units",
    "p50_m",
    "p90_m",
    "unreachable_residents",
)
"""Columns of :func:`category_summary`, in order."""


def category_summary(result: PlanResult, *, lang: str = "en") -> pd.DataFrame:
    """The per-category table the CLI summary, report.xlsx and report.html show.

    Parameters
    ----------
    result
        The plan result.
    lang
        The language of the ``name`` and ``level_name`` columns.

    Returns
    -------
    pandas.DataFrame
        One row per category of the catalog, in catalog order, with the columns of
        :data:`SUMMARY_COLUMNS`: the category id, its ``name`` and level (id and
        ``level_name``), whether it is ``required``, its threshold, the number of
        ``facilities``, residents in all and covered, the ``share`` of residents covered,
        units with residents and ``units_covered`` (and their ``share_units``), the
        residents' median (``p50_m``) and 90th percentile (``p90_m``) walk to the nearest
        facility (inf when more than that share has none within reach; NaN without
        residents), and the residents with no facility within reach. Where the category's
        demand is an age group (:meth:`~lifecircle.coverage.access.Access.weights`), its
        ``name`` says so ("Kindergarten (residents aged 3-5)") and the residents and
        shares are that group's.
    """
    catalog = result.area.catalog
    overall = result.coverage.overall.set_index("category")
    counts = result.area.facilities["category"].value_counts()
    rows = []
    for c in catalog:
        o: dict[str, Any] = {str(k): v for k, v in overall.loc[c.id].to_dict().items()}
        group = o.get("age_group") or ""  # its shares are of this age group's residents
        name = c.name(lang)
        if group:
            of = tr("age_group_residents", lang, group=group)
            name += f"（{of}）" if lang == "zh" else f" ({of})"
        rows.append(
            {
                "category": c.id,
                "name": name,
                "level": c.level,
                "level_name": catalog.level_name(c.level, lang),
                "required": bool(c.required),
                "threshold_m": float(o["threshold_m"]),
                "facilities": int(counts.get(c.id, 0)),
                "residents": float(o.get("demand", o["residents"])),
                "covered_residents": float(o["covered_residents"]),
                "share": float(o["share"]),
                "units": int(o["units"]),
                "units_covered": int(o["units_covered"]),
                "share_units": float(o["share_units"]),
                "p50_m": float(o["p50_m"]),
                "p90_m": float(o["p90_m"]),
                "unreachable_residents": float(o["unreachable_residents"]),
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def placement_summary(result: PlanResult, *, lang: str = "en") -> list[str]:
    """Lines describing the recommended sites of each category."""
    lines = []
    for cid, rec in result.sites.items():
        r = rec.result
        gap = "0%" if r.gap == 0 else f"{r.gap * 100:.2f}%"
        lines.append(
            tr(
                "placement_header",
                lang,
                n=len(rec.sites),
                category=result.area.catalog[cid].name(lang),
                status=tr("status_" + r.status.replace(" ", "_"), lang),
                gap=gap,
            )
        )
        for _, row in rec.sites.iterrows():
            street = row["street"] if isinstance(row["street"], str) else ""
            lines.append(
                "  "
                + tr(
                    "placement_line",
                    lang,
                    rank=int(row["rank"]),
                    lon=row["lon"],
                    lat=row["lat"],
                    street=street,
                    residents=f"{row['new_residents']:,.0f}",
                )
            )
        if rec.uncoverable_residents > 0.5:
            lines.append(
                "  " + tr("uncoverable", lang, residents=f"{rec.uncoverable_residents:,.0f}")
            )
    return lines


def _param_value(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "; ".join(_param_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    return "–" if value is None else str(value)


def parameter_rows(result: PlanResult, lang: str = "en") -> list[tuple[str, str]]:
    """The analysis parameters as (label, value) rows, then the metric CRS and catalog."""
    from dataclasses import asdict

    en, local = translations("en"), translations(lang)
    rows = []
    for key, value in asdict(result.params).items():
        if key in _PROFILE_KEYS:
            continue  # in the walking profiles' row, when a category walks one
        label = local.get(f"param_{key}") or en.get(f"param_{key}") or key
        if key == "candidate_spacing_m" and value is None:
            text = tr("param_candidate_nodes", lang)
        else:
            text = _param_value(value)
        rows.append((f"{label} ({key})", text))
    area = result.area
    rows += [
        (tr("col_metric_crs", lang), area.crs.to_string()),
        (tr("col_catalog", lang), f"{area.catalog.name(lang)} ({area.catalog.id})"),
    ]
    return rows + profile_rows(result, lang)


_PROFILE_KEYS = {"profile", "category_profiles", "profiles"}


def profile_rows(result: PlanResult, lang: str = "en") -> list[tuple[str, str]]:
    """A row saying the distances are effective walking metres and naming each category's
    walking profile, when some category walks on one that is not neutral (else none)."""
    acc = result.access
    speed = acc.speed_kmh
    walked = [(c, acc.profile(c.id)) for c in result.area.catalog if c.id in acc.categories]
    walked = [(c, p) for c, p in walked if not p.is_neutral(speed)]
    if not walked:
        return []
    each = [
        tr(
            "report_profile_of",
            lang,
            category=c.name(lang),
            profile=translations(lang).get(f"profile_name_{p.name}", p.name),
            speed=f"{p.speed_m_s if p.speed_m_s is not None else speed / 3.6:.2f}",
        )
        for c, p in walked
    ]
    text = tr(
        "report_profiles",
        lang,
        speed=f"{speed:g}",
        profiles=("；" if lang == "zh" else "; ").join(each),
    )
    return [(tr("param_profiles", lang), text)]
