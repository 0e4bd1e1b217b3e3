"""The audit of Amap and Baidu POI exports (issue 17): every code or tag seen in the
facility files, its rows and the category they went to, as the ``poi_audit.csv`` table and
the report's "POI codes audit" sheet."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lifecircle.geo.catalog import ServiceCatalog
from lifecircle.i18n import tr
from lifecircle.result import PlanResult

__all__ = ["POI_AUDIT_CSV", "audit_header", "audit_rows", "audit_table", "localized_audit"]

POI_AUDIT_CSV = "poi_audit.csv"
_COLUMNS = ["file", "export", "code", "type", "rows", "category", "category_name", "outcome"]


def audit_table(result: PlanResult) -> pd.DataFrame | None:
    """The audit as a table (English values): ``category`` is the category id, or
    ``left out``; None when no facility file was a POI export."""
    audit = result.area.poi_audit
    if audit is None:
        return None
    catalog = result.area.catalog
    frame = audit.copy()
    mapped = frame["outcome"] == "mapped"
    frame["category_name"] = [
        catalog[c].name_en if m and c in catalog else ""
        for c, m in zip(frame["category"], mapped, strict=True)
    ]
    frame["category"] = frame["category"].where(mapped, tr("poi_left_out", "en"))
    return frame[_COLUMNS].reset_index(drop=True)


def localized_audit(
    frame: pd.DataFrame, catalog: ServiceCatalog, lang: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`audit_table`'s table in ``lang``: its values and the new name of each header.

    Parameters
    ----------
    frame
        The audit table.
    catalog
        The study's catalog.
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    (frame, headers)
        The values in ``lang`` and the headers' new names.
    """
    if lang == "en":
        return frame, {}
    out = frame.copy()
    mapped = out["outcome"] == "mapped"
    out["category_name"] = [
        catalog[c].name(lang) if m and c in catalog else ""
        for c, m in zip(out["category"], mapped, strict=True)
    ]
    out["category"] = out["category"].where(mapped, tr("poi_left_out", lang))
    out["export"] = [tr(f"poi_export_{e}", lang) for e in out["export"]]
    out["outcome"] = [tr(f"poi_outcome_{o}", lang) for o in out["outcome"]]
    return out, {c: tr(f"poi_col_{c}", lang) for c in _COLUMNS}


def audit_header(lang: str) -> list[str]:
    """The audit sheet's header in ``lang``."""
    return [tr(f"poi_col_{c}", lang) for c in _COLUMNS]


def audit_rows(result: PlanResult, lang: str) -> list[list[Any]]:
    """The audit sheet's rows in ``lang`` (none without a POI export)."""
    frame = audit_table(result)
    if frame is None:
        return []
    shown, _ = localized_audit(frame, result.area.catalog, lang)
    return shown.to_numpy(object).tolist()
