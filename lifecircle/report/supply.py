"""The supply-versus-need table as the reports show it: headers and values in the
reader's language (shared by report.xlsx and report.html)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lifecircle.i18n import tr
from lifecircle.result import PlanResult

__all__ = ["has_supply", "supply_header", "supply_rows"]

SHORT_FIRST = {"short": 0, "unknown": 1, "met": 2}


def supply_header(lang: str) -> list[str]:
    """The columns of the table."""
    keys = (
        "col_supply_level",
        "col_unit",
        "category",
        "col_indicator",
        "col_supply_demand",
        "col_need",
        "col_facilities_within",
        "col_supply",
        "col_deficit",
        "col_supply_status",
    )
    return [tr(k, lang) for k in keys]


def supply_rows(result: PlanResult, lang: str, *, only_short: bool = False) -> list[list[Any]]:
    """The table's rows: roll-up rows first, then units; short first within each.

    Parameters
    ----------
    result
        The study, with its supply-versus-need table.
    lang
        The language of the level, category and status texts.
    only_short
        Only the rows where the supply falls short.

    Returns
    -------
    list of list
        One row per table row, in the order of :func:`supply_header`.
    """
    table = result.supply
    if table is None:
        return []
    catalog = result.area.catalog
    frame = table.assign(
        _unit=table["level"].eq("unit"),
        _status=table["status"].map(SHORT_FIRST),
    ).sort_values(["_unit", "_status", "deficit"], ascending=[True, True, False], kind="stable")
    if only_short:
        frame = frame.loc[frame["status"] == "short"]
    return [
        [
            tr("units", lang) if r["level"] == "unit" else r["level"],
            r["unit_id"],
            catalog[r["category"]].name(lang),
            r["indicator"],
            r["demand"],
            r["need"],
            int(r["facilities_within"]),
            r["supply"],
            r["deficit"],
            tr(f"supply_{r['status']}", lang),
        ]
        for _, r in frame.iterrows()
    ]


def has_supply(result: PlanResult) -> bool:
    """Whether the study has a supply-versus-need table."""
    return isinstance(result.supply, pd.DataFrame) and len(result.supply) > 0
