"""Amap (高德) and Baidu (百度) POI exports as facility files.

An Amap export has ``name``, ``type`` (``大类;中类;小类``, e.g. ``科教文化服务;学校;幼儿园``), a
six-digit ``typecode`` (several joined by ``|`` in both columns) and ``location`` as
``"lng,lat"`` in GCJ-02. A Baidu export has ``name``, a ``tag`` (``一级;二级``, e.g.
``教育培训;幼儿园``) and BD-09 coordinates. :func:`detect_layout` recognises both from their
columns; :func:`classify_pois` gives each row its catalog categories through the bundled
tables (``lifecircle/data/poi_amap.toml``, ``poi_baidu.toml``: code or tag -> concept, refined
by name where the code is too coarse; ``poi_categories.toml``: concept -> each catalog's
category), and an audit of every code seen: its rows and where they went.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import numpy as np
import pandas as pd

from lifecircle.geo.catalog import ServiceCatalog

__all__ = [
    "AUDIT_COLUMNS",
    "PoiLayout",
    "PoiMatch",
    "PoiTable",
    "classify_pois",
    "concept_table",
    "detect_layout",
    "load_poi_table",
]

IGNORE = "ignore"
AUDIT_COLUMNS = ["file", "export", "code", "type", "rows", "category", "outcome"]
"""The audit's columns: the file, ``amap`` or ``baidu``, the code (or tag), its type name,
the rows carrying it, the category they went to (empty when left out) and the outcome:
``mapped``, ``ignored`` (not a service the catalog plans for) or ``unmapped``."""

_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class PoiLayout:
    """How a POI export is laid out: whose it is, the coordinates' system and its columns."""

    export: Literal["amap", "baidu"]
    crs: str
    code_col: str | None = None
    type_col: str | None = None


@dataclass(frozen=True)
class PoiEntry:
    """A code's (or tag's) type name, concept and name rule set."""

    type: str
    concept: str
    names: str | None = None


@dataclass(frozen=True)
class PoiTable:
    """A bundled mapping table (``poi_amap.toml`` or ``poi_baidu.toml``)."""

    export: str
    title: str
    version: str
    entries: dict[str, PoiEntry]
    rules: dict[str, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)

    def by_type(self) -> dict[str, str]:
        """The code of each type name (``大类;中类;小类``)."""
        return {e.type: code for code, e in self.entries.items() if e.type}

    def entry(self, key: str) -> PoiEntry | None:
        """The entry of a code or tag: itself, else (Amap) its 中类 ``xxyy00``, else (Baidu)
        its first two levels."""
        if key in self.entries:
            return self.entries[key]
        if self.export == "amap" and _CODE.match(key):
            return self.entries.get(key[:4] + "00")
        parts = key.split(";")
        return self.entries.get(";".join(parts[:2])) if len(parts) > 2 else None


def _data(name: str) -> dict[str, Any]:
    text = (resources.files("lifecircle.data") / name).read_text(encoding="utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=4)
def load_poi_table(export: str) -> PoiTable:
    """The bundled table of ``export`` (``"amap"`` or ``"baidu"``).

    Examples
    --------
    >>> t = load_poi_table("amap")
    >>> t.entry("141204").concept, t.entry("150702").concept, t.entry("150904").concept
    ('kindergarten', 'bus_stop', 'ignore')
    """
    doc = _data(f"poi_{export}.toml")
    raw = doc["codes"] if export == "amap" else doc["tags"]
    entries = {
        str(k): PoiEntry(str(v.get("type", k)), str(v["concept"]), v.get("names"))
        for k, v in raw.items()
    }
    rule_doc = _data("poi_amap.toml").get("names", {})
    rules = {
        name: [(str(words), tuple(map(str, to))) for words, to in spec["rules"]]
        for name, spec in rule_doc.items()
    }
    head = doc["table"]
    return PoiTable(export, str(head["title"]), str(head["version"]), entries, rules)


def concept_table(catalog: ServiceCatalog) -> dict[str, str]:
    """Concept -> category id (or ``"ignore"``) for ``catalog``: its table in
    ``poi_categories.toml`` (with the table it ``extends``), else every table; categories the
    catalog lacks are dropped.

    Examples
    --------
    >>> from lifecircle.geo.catalog import load_catalog
    >>> t = concept_table(load_catalog("beijing"))
    >>> t["kindergarten"], t["vegetable_market"], t["hospital"]
    ('kindergarten', 'vegetable_retail', 'ignore')
    """
    doc = _data("poi_categories.toml")

    def table(name: str) -> dict[str, str]:
        own = dict(doc[name])
        base = table(own.pop("extends")) if "extends" in own else {}
        return {**base, **own}

    if catalog.id in doc:
        merged = table(catalog.id)
    else:
        merged = {}
        for name in doc:
            for concept, cat in table(name).items():
                if cat in catalog and concept not in merged:
                    merged[concept] = cat
    return {k: v for k, v in merged.items() if v == IGNORE or v in catalog}


def _norm(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "", str(name).replace("\ufeff", "")).casefold()


def _share(values: pd.Series, pattern: str) -> float:
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    return float(text.str.fullmatch(pattern).mean()) if len(text) else 0.0


def detect_layout(frame: pd.DataFrame) -> PoiLayout | None:
    """The POI layout of a table, or None: Amap when it has a ``typecode`` column of
    six-digit codes (``|``-joined), or a ``type`` column of three-level names; Baidu when it
    has a ``tag`` column of ``一级;二级`` names and no Amap columns.

    Examples
    --------
    >>> f = pd.DataFrame({"type": ["科教文化服务;学校;幼儿园"], "typecode": ["141204"]})
    >>> detect_layout(f)
    PoiLayout(export='amap', crs='gcj02', code_col='typecode', type_col='type')
    >>> detect_layout(pd.DataFrame({"name": ["b"], "tag": ["教育培训;幼儿园"]})).export
    'baidu'
    """
    cols = {_norm(c): str(c) for c in frame.columns}
    code = cols.get("typecode")
    kind = cols.get("type")
    if code and _share(frame[code], r"\d{6}(\|\d{6})*") >= 0.5:
        ok_type = kind and _share(frame[kind], r"[^;|]+;[^;|]+;[^;|]+(\|[^;|]+;[^;|]+;[^;|]+)*")
        return PoiLayout("amap", "gcj02", code, kind if ok_type else None)
    if kind and _share(frame[kind], r"[^;|]+;[^;|]+;[^;|]+(\|[^;|]+;[^;|]+;[^;|]+)*") >= 0.5:
        return PoiLayout("amap", "gcj02", None, kind)
    for key in ("tag", "detailinfotag", "classifiedpoitag"):
        tag = cols.get(key)
        if tag and _share(frame[tag], r"[^;|]+(;[^;|]+)+") >= 0.5:
            return PoiLayout("baidu", "bd09", None, tag)
    return None


@dataclass(frozen=True)
class PoiMatch:
    """What :func:`classify_pois` found.

    Attributes
    ----------
    positions, categories
        For each facility: the row (0-based position in the table) and its category; a row
        of several categories appears once per category.
    audit
        Every code seen (:data:`AUDIT_COLUMNS`), one row per code and outcome.
    unmapped
        Each unmapped code (or tag) and the positions of its rows.
    table
        The bundled table used.
    """

    positions: np.ndarray
    categories: np.ndarray
    audit: pd.DataFrame
    unmapped: dict[str, np.ndarray]
    table: PoiTable


def _keys(frame: pd.DataFrame, layout: PoiLayout, table: PoiTable) -> pd.DataFrame:
    """One row per (row, code): ``pos``, ``key`` (code or tag) and ``type`` (its name)."""
    col = layout.code_col or layout.type_col
    assert col is not None
    codes = frame[col].fillna("").astype(str).to_numpy(object)
    both = bool(layout.code_col and layout.type_col)
    types = frame[layout.type_col].fillna("").astype(str).to_numpy(object) if both else codes
    by_type = table.by_type() if layout.export == "amap" and layout.code_col is None else {}
    known = {k: e.type for k, e in table.entries.items()}
    pairs = pd.DataFrame({"c": codes, "t": types})
    group = pairs.groupby(["c", "t"], sort=False).ngroup().to_numpy()
    uniq = pairs.drop_duplicates().reset_index(drop=True)
    split: list[list[tuple[str, str]]] = []
    for code_text, type_text in zip(uniq["c"], uniq["t"], strict=True):
        keys = [k.strip() for k in code_text.split("|")]
        names = [t.strip() for t in type_text.split("|")] if both else keys
        names = names if len(names) == len(keys) else [""] * len(keys)
        got = []
        for key, name in zip(keys, names, strict=True):
            key = by_type.get(key, key)
            if key:
                got.append((key, known.get(key) or name))
        split.append(got)
    counts = np.array([len(x) for x in split])[group]
    flat = [kt for g in group for kt in split[g]]
    return pd.DataFrame(
        {
            "pos": np.repeat(np.arange(len(frame)), counts),
            "key": [k for k, _ in flat],
            "type": [t for _, t in flat],
        }
    )


def _concepts(long: pd.DataFrame, names: pd.Series, table: PoiTable) -> pd.DataFrame:
    """``long`` with each code's ``concept`` (None when the table lacks it), refined by the
    POI's name where the code has a rule set; a name giving several concepts gives a row
    each."""
    entries = {k: table.entry(k) for k in long["key"].unique()}
    name = names.to_numpy()[long["pos"].to_numpy()] if len(long) else np.array([])
    rule_of = {k: e.names if e else None for k, e in entries.items()}
    seen: dict[tuple[str, Any], list[str | None]] = {}  # (code, name) -> concepts
    out: list[Any] = []
    for key, nm in zip(long["key"], name, strict=True):
        pair = (key, nm if rule_of[key] and isinstance(nm, str) else None)
        got = seen.get(pair)
        if got is None:
            entry = entries[key]
            got = [entry.concept] if entry else [None]
            if pair[1] is not None:
                for words, to in table.rules.get(str(rule_of[key]), []):
                    if re.search(words, pair[1]):
                        got = list(to)
                        break
            seen[pair] = got
        out.append(got)
    long = long.assign(concept=out).explode("concept")
    return long.reset_index(drop=True)


def classify_pois(
    frame: pd.DataFrame,
    layout: PoiLayout,
    catalog: ServiceCatalog,
    *,
    names: pd.Series | None = None,
    user_map: dict[str, str] | None = None,
    source: str = "",
) -> PoiMatch:
    """Each row's catalog categories, by its codes (or tags) and name.

    Parameters
    ----------
    frame
        The export.
    layout
        Its layout (:func:`detect_layout`).
    catalog
        The study's catalog.
    names
        The POIs' names (aligned with ``frame``), for the name rules.
    user_map
        The user's own mapping: a code, tag or type name -> a category id or ``"ignore"``
        (tried before the bundled tables).
    source
        The file's name, for the audit.

    Returns
    -------
    PoiMatch
        The facilities' rows and categories, the audit and the unmapped codes.
    """
    table = load_poi_table(layout.export)
    names = names if names is not None else pd.Series([None] * len(frame))
    long = _concepts(_keys(frame, layout, table), names.reset_index(drop=True), table)
    to_cat = concept_table(catalog)
    mine = user_map or {}
    triples = long[["key", "type", "concept"]].drop_duplicates()
    decided = {}
    for key, kind, concept in triples.itertuples(index=False):
        given = mine.get(key) or mine.get(kind)
        if not given and isinstance(concept, str):
            given = IGNORE if concept == IGNORE else to_cat.get(concept)
        decided[(key, kind, concept)] = given or None
    triples["category"] = list(decided.values())
    long = long.merge(triples, on=["key", "type", "concept"], how="left", sort=False)
    long["outcome"] = np.where(
        long["category"].isna(),
        "unmapped",
        np.where(long["category"] == IGNORE, "ignored", "mapped"),
    )
    kept = long.loc[long["outcome"] == "mapped", ["pos", "category"]].drop_duplicates()
    kept = kept.sort_values(["pos", "category"], kind="stable")
    audit = (
        long.assign(category=long["category"].where(long["outcome"] == "mapped", ""))
        .groupby(["key", "type", "category", "outcome"], sort=True)["pos"]
        .nunique()
        .rename("rows")
        .reset_index()
        .rename(columns={"key": "code"})
    )
    audit.insert(0, "file", source)
    audit.insert(1, "export", layout.export)
    audit = audit[AUDIT_COLUMNS].sort_values(["outcome", "rows"], ascending=[True, False])
    unmapped = {
        str(k): np.unique(g["pos"].to_numpy())
        for k, g in long.loc[long["outcome"] == "unmapped"].groupby("key", sort=True)
    }
    return PoiMatch(
        kept["pos"].to_numpy(int),
        kept["category"].to_numpy(object),
        audit.reset_index(drop=True),
        unmapped,
        table,
    )
