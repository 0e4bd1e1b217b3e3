"""The gated compounds' tables as the reports show them (issue 15): coverage per category
as walked against coverage if every compound were open, the compounds ranked by the
residents newly covered if that one alone let people through, and the compounds with
their entrances. Headers and values in the reader's language (report.xlsx and report.html).
"""

from __future__ import annotations

from typing import Any

from lifecircle.i18n import tr
from lifecircle.result import PlanResult

__all__ = [
    "compounds_header",
    "compounds_rows",
    "entrances_header",
    "entrances_rows",
    "ranking_header",
    "ranking_rows",
    "walls_header",
    "walls_rows",
]


def walls_header(lang: str) -> list[str]:
    """The columns of the gated-against-open table."""
    keys = (
        "category",
        "col_gated_share",
        "col_open_share",
        "col_gated_residents",
        "col_open_residents",
        "col_open_minus_gated",
    )
    return [tr(k, lang) for k in keys]


def walls_rows(result: PlanResult, lang: str) -> list[list[Any]]:
    """One row per category, in the catalog's order (none when compounds are open)."""
    if result.walls is None:
        return []
    catalog = result.area.catalog
    return [
        [
            catalog[str(r["category"])].name(lang),
            float(r["gated_share"]),
            float(r["open_share"]),
            float(r["gated_residents"]),
            float(r["open_residents"]),
            float(r["open_minus_gated"]),
        ]
        for _, r in result.walls.by_category.iterrows()
    ]


def ranking_header(lang: str) -> list[str]:
    """The columns of the ranking."""
    keys = ("rank", "col_compound", "col_compound_name", "col_residents_inside")
    return [tr(k, lang) for k in keys] + [
        tr("col_newly_covered", lang),
        tr("col_newly_by_category", lang),
    ]


def ranking_rows(result: PlanResult, lang: str) -> list[list[Any]]:
    """The compounds, best first: rank, id, name, residents inside, residents newly
    covered (summed over categories) and the categories that gain, most first."""
    if result.walls is None:
        return []
    catalog = result.area.catalog
    frame = result.walls.ranking
    cats = [c for c in frame.columns if c in catalog]
    sep = "；" if lang == "zh" else "; "
    rows = []
    for _, r in frame.iterrows():
        gains = sorted(((float(r[c]), c) for c in cats if float(r[c]) > 0.5), reverse=True)
        text = sep.join(f"{catalog[c].name(lang)} +{g:,.0f}" for g, c in gains)
        rows.append(
            [
                int(r["rank"]),
                r["compound_id"],
                r["name"] or "",
                float(r["residents_inside"]),
                float(r["newly_covered"]),
                text,
            ]
        )
    return rows


def compounds_header(lang: str) -> list[str]:
    """The columns of the compounds table."""
    keys = (
        "col_compound",
        "col_compound_kind",
        "col_compound_name",
        "col_residents_inside",
        "col_crossings",
        "col_entrances",
        "col_gates",
        "col_closed_crossings",
        "col_entrances_mapped",
    )
    return [tr(k, lang) for k in keys]


def compounds_rows(result: PlanResult, lang: str) -> list[list[Any]]:
    """One row per gated compound, most residents first."""
    if result.walls is None:
        return []
    frame = result.walls.compounds.sort_values("residents_inside", ascending=False, kind="stable")
    return [
        [
            r["compound_id"],
            tr(f"compound_kind_{r['kind']}", lang),
            r["name"] or "",
            float(r["residents_inside"]),
            int(r["crossings"]),
            int(r["entrances"]),
            int(r["gates"]),
            int(r["closed_crossings"]),
            tr("yes" if bool(r["entrances_mapped"]) else "no", lang),
        ]
        for _, r in frame.iterrows()
    ]


def entrances_header(lang: str) -> list[str]:
    """The columns of the candidate new entrances."""
    keys = ("rank", "col_compound", "col_compound_name", "col_lon", "col_lat")
    return [tr(k, lang) for k in keys] + [
        tr("col_connector_m", lang),
        tr("col_newly_covered_entrance", lang),
        tr("col_newly_by_category", lang),
    ]


def entrances_rows(result: PlanResult, lang: str, *, only_gains: bool = False) -> list[list[Any]]:
    """The candidate new entrances, best first.

    Parameters
    ----------
    result
        The study, with its walls' tables.
    lang
        The language of the category names.
    only_gains
        Only the candidates that newly cover someone.

    Returns
    -------
    list of list
        One row per candidate, in the order of :func:`entrances_header`.
    """
    if result.walls is None or len(result.walls.entrances) == 0:
        return []
    catalog = result.area.catalog
    frame = result.walls.entrances
    if only_gains:
        frame = frame.loc[frame["residents_newly_covered"] > 0.5]
    cats = [c for c in frame.columns if c in catalog]
    sep = "；" if lang == "zh" else "; "
    rows = []
    for _, r in frame.iterrows():
        gains = sorted(((float(r[c]), c) for c in cats if float(r[c]) > 0.5), reverse=True)
        rows.append(
            [
                int(r["rank"]),
                r["compound_id"],
                r["name"] or "",
                float(r["lon"]),
                float(r["lat"]),
                float(r["connector_m"]),
                float(r["residents_newly_covered"]),
                sep.join(f"{catalog[c].name(lang)} +{g:,.0f}" for g, c in gains),
            ]
        )
    return rows
