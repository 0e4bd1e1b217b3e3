"""Service catalogs: which everyday services a life circle needs, how far is walkable, and
how to find each service in OpenStreetMap.

A catalog is a TOML file with a ``[catalog]`` table and one ``[[category]]`` table per
service. The bundled catalogs live in ``lifecircle/data/catalogs``; a user's file can extend
or override one of them (``extends = "gb50180"``). Each category has:

``id``, ``name_zh``, ``name_en``
    A stable identifier and the names shown to users.
``level``
    ``"block"``, ``"5min"``, ``"10min"`` or ``"15min"`` (GB 50180 life-circle levels), or a
    level the catalog defines in a ``[[level]]`` table (``id``, ``name_zh``, ``name_en``,
    optionally a default ``threshold_m`` or ``threshold_min`` for its categories and a
    ``source``), such as Beijing's 街道 / 社区 / 项目. ``[catalog] level_map`` moves the
    categories a catalog inherits (``extends``) to its own levels.
``kind``
    ``"basic"`` (basic public service), ``"non-basic"`` or ``"market"``.
``threshold_m`` or ``threshold_min``
    The walking distance (metres) or time (minutes at the plan's walking speed) within which
    a resident counts as served.
``required``
    Whether a complete life circle must include it.
``access``
    ``"point"`` (reached at the facility's position) or ``"edge"`` (parks and other large
    areas, reached anywhere along their boundary).
``aliases``
    Other names a user's facility table may use for the category.
``capacity_tag``
    The OSM tag or column holding the facility's capacity (places, beds), if any.
``indicator``
    The supply a standard asks for, as ``{ value = 4.5, per = "1000 residents", measure =
    "places" }``: ``per`` is ``"1000 residents"``, ``"100 households"`` or ``"1000 in age
    group"`` (the residents of the ``ages`` served), ``measure`` is
    ``"count"`` (facilities), ``"places"`` (the facilities' capacities) or ``"floor_area_m2"``.
``ages``
    The age group served, ``[first, last]`` in whole years (``[3, 5]`` for a kindergarten),
    or ``[60]`` for "60 and over". Where the study knows that group's residents
    (:mod:`lifecircle.geo.ages`), they are the category's demand in every stage (coverage,
    gaps, 2SFCA, supply, placement: :meth:`lifecircle.coverage.access.Access.weights`).
``source``
    The document and clause the category's figures come from.
``min_size_m2``
    The smallest area (square metres) a facility must have to count, e.g. 10000 for a
    10-minute park; a feature mapped as a point, whose size is unknown, does not count.
``members_only``
    Whether a facility inside a gated compound serves only the compound's residents
    (its park, its sports ground), not visitors (default false: a kindergarten or a
    clinic inside a compound serves visitors too).
``profile``
    The walking profile its residents walk on by default (``"elderly"`` for the elderly
    categories of the Chinese catalogs; :mod:`lifecircle.coverage.profiles`): a profile's
    name, the built-in ones or the plan's ``[profiles.NAME]``.
``match``
    A list of tag rules. A feature belongs to the category when any rule matches; a rule
    matches when all its tags match. A tag's value is a string or a list of strings
    (``"*"`` matches any value, a value list matches any item of a ``;``-separated tag
    value), or ``false`` for "tag absent". Two special keys test the feature's names:
    ``name_regex`` and ``name_not_regex`` (Python regular expressions, searched in
    ``name``, ``name:zh`` and ``name:en``).

A rule with ``name_regex`` never matches a feature whose own tags say it is something
else: an ``amenity`` in :data:`NOT_A_SERVICE` (a car park named 原幼儿园停车场 is no
kindergarten), or a tag of :data:`OTHER_PURPOSE_KEYS` (``shop``, ``office``, ...) that the
rule does not itself test.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lifecircle.errors import CatalogError, Problem
from lifecircle.i18n import tr
from lifecircle.params import DEFAULT_SPEED_KMH

__all__ = [
    "GB_LEVELS",
    "LEVELS",
    "Category",
    "Indicator",
    "Level",
    "ServiceCatalog",
    "TagRule",
    "list_catalogs",
    "load_catalog",
]

LEVELS: tuple[str, ...] = ("block", "5min", "10min", "15min")
KINDS: tuple[str, ...] = ("basic", "non-basic", "market")
ACCESS: tuple[str, ...] = ("point", "edge")
NAME_TAGS: tuple[str, ...] = ("name", "name:zh", "name:en")
_SPECIAL_KEYS = {"name_regex", "name_not_regex"}
NOT_A_SERVICE: tuple[str, ...] = (
    "parking",
    "parking_space",
    "parking_entrance",
    "bicycle_parking",
    "motorcycle_parking",
    "charging_station",
    "fuel",
    "car_wash",
    "vending_machine",
    "waste_basket",
    "waste_disposal",
    "recycling",
    "bench",
    "shelter",
    "atm",
    "post_box",
    "telephone",
    "drinking_water",
    "fountain",
    "loading_dock",
    "veterinary",
    "dentist",
)
"""``amenity`` values that a name rule never turns into a service (see the module docs)."""
OTHER_PURPOSE_KEYS: tuple[str, ...] = ("shop", "office", "craft", "tourism")
"""Tags that give a feature its own purpose: a name rule testing other keys skips it."""
_CATEGORY_KEYS = {
    "id",
    "name_zh",
    "name_en",
    "level",
    "kind",
    "threshold_m",
    "threshold_min",
    "required",
    "access",
    "aliases",
    "capacity_tag",
    "min_size_m2",
    "indicator",
    "ages",
    "source",
    "members_only",
    "profile",
    "match",
    "note",
}


PER: tuple[str, ...] = ("1000 residents", "100 households", "1000 in age group")
MEASURES: tuple[str, ...] = ("count", "places", "floor_area_m2")
_LEVEL_KEYS = {"id", "name_zh", "name_en", "threshold_m", "threshold_min", "source", "note"}


@dataclass(frozen=True)
class Level:
    """A life-circle level: its names and the default walking threshold of its categories."""

    id: str
    name_zh: str
    name_en: str
    threshold_m: float | None = None
    threshold_min: float | None = None
    source: str = ""

    def name(self, lang: str = "en") -> str:
        """The level's name in ``lang``."""
        return self.name_zh if lang == "zh" else self.name_en


GB_LEVELS: tuple[Level, ...] = (
    Level("block", "居住街坊", "Residential block"),
    Level("5min", "5分钟生活圈", "5-minute life circle"),
    Level("10min", "10分钟生活圈", "10-minute life circle"),
    Level("15min", "15分钟生活圈", "15-minute life circle"),
)
"""The GB 50180 levels every catalog knows."""


@dataclass(frozen=True)
class Indicator:
    """How much of a service a standard asks for: ``value`` per ``per`` in ``measure``.

    Examples
    --------
    >>> Indicator(4.5, "1000 residents", "places").need(residents=2000.0)
    9.0
    >>> Indicator(30.0, "100 households", "floor_area_m2").need(residents=900.0)
    nan
    """

    value: float
    per: str
    measure: str

    def need(
        self,
        *,
        residents: float,
        households: float | None = None,
        age_group: float | None = None,
    ) -> float:
        """The supply that ``residents`` (or their ``households``, or the residents of the
        age group served) need; NaN when the population it is per is not known.

        Parameters
        ----------
        residents, households, age_group
            The population, its households and the residents of the age group.

        Returns
        -------
        float
            The indicator times the population it is per.
        """
        base = {
            "1000 residents": (residents, 1000.0),
            "100 households": (households, 100.0),
            "1000 in age group": (age_group, 1000.0),
        }[self.per]
        count, per = base
        if count is None or not np.isfinite(count):
            return float("nan")
        return self.value * float(count) / per

    def text(self) -> str:
        """A short description, e.g. ``4.5 places / 1000 residents``."""
        unit = {"count": "facilities", "places": "places", "floor_area_m2": "m2 floor area"}
        return f"{self.value:g} {unit[self.measure]} / {self.per}"


@dataclass(frozen=True)
class TagRule:
    """One OSM tag rule: every tag condition must hold.

    ``tags`` maps a tag key to a tuple of accepted values; ``("*",)`` accepts any value and
    ``()`` means the tag must be absent.
    """

    tags: tuple[tuple[str, tuple[str, ...]], ...]
    name_regex: str | None = None
    name_not_regex: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """Tag keys the rule reads (names excluded); a name rule also reads the guard keys."""
        own = tuple(k for k, _ in self.tags)
        if not self.name_regex:
            return own
        return tuple(dict.fromkeys([*own, "amenity", *OTHER_PURPOSE_KEYS]))

    def _other_purpose(self, tags: pd.DataFrame) -> np.ndarray:
        """Features whose own tags say they are something else (for name rules)."""
        own = {k for k, _ in self.tags}
        other = np.zeros(len(tags), dtype=bool)
        if "amenity" in tags.columns:
            other |= tags["amenity"].isin(NOT_A_SERVICE).to_numpy(dtype=bool)
        for key in OTHER_PURPOSE_KEYS:
            if key not in own and key in tags.columns:
                other |= tags[key].notna().to_numpy(dtype=bool)
        return other

    def mask(self, tags: pd.DataFrame, names: pd.Series) -> np.ndarray:
        """Vectorised test over features.

        Parameters
        ----------
        tags
            One column per tag key (strings or missing), one row per feature.
        names
            All of a feature's names joined by a newline (empty when it has none).
        """
        ok = np.ones(len(tags), dtype=bool)
        for key, values in self.tags:
            col = tags[key] if key in tags.columns else pd.Series(pd.NA, index=tags.index)
            present = col.notna().to_numpy()
            if not values:
                ok &= ~present
            elif values == ("*",):
                ok &= present
            else:
                alternatives = "|".join(re.escape(v) for v in values)
                pattern = rf"(?:^|;)\s*(?:{alternatives})\s*(?:;|$)"
                ok &= _contains(col, pattern)
        if self.name_regex:
            ok &= _contains(names, self.name_regex)
            ok &= ~self._other_purpose(tags)
        if self.name_not_regex:
            ok &= ~_contains(names, self.name_not_regex)
        return ok


def _contains(values: pd.Series, pattern: str) -> np.ndarray:
    """Whether ``pattern`` is found (``re.search``) in each value, missing ones never; the
    pattern is tried once per distinct value (features share few tag values; a categorical
    column has them already).

    Examples
    --------
    >>> _contains(pd.Series(["a;b", None, "c", "a;b"]), r"(?:^|;)b(?:;|$)").tolist()
    [True, False, False, True]
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, distinct = values.cat.codes.to_numpy(), values.cat.categories
    else:
        codes, distinct = pd.factorize(values)
    rx = re.compile(pattern)
    hit = np.array([rx.search(str(v)) is not None for v in distinct], dtype=bool)
    return np.append(hit, False)[codes]  # code -1 (missing) takes the appended False


def _categorical(values: list[str | None], index: pd.Index) -> pd.Series:
    """Strings (or None) as a categorical column: each distinct value once."""
    codes, distinct = pd.factorize(np.array(values, dtype=object))
    categories = pd.Index(distinct, dtype=object)
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=index)


def _tag_table(tags: list[Any], keys: list[str], index: pd.Index) -> pd.DataFrame:
    """One categorical column per tag key (missing where a feature lacks the key), read in
    one walk over the features' few tags."""
    columns: dict[str, list[str | None]] = {k: [None] * len(tags) for k in keys}
    wanted = set(keys)
    for i, t in enumerate(tags):
        if not t:
            continue
        for key in wanted.intersection(t):
            columns[key][i] = _tag_value(t, key)
    return pd.DataFrame({k: _categorical(v, index) for k, v in columns.items()}, index=index)


@dataclass(frozen=True)
class Category:
    """A service category of a life circle (kindergarten, pharmacy, ...)."""

    id: str
    name_zh: str
    name_en: str
    level: str
    kind: str
    required: bool
    threshold_m: float | None = None
    threshold_min: float | None = None
    access: str = "point"
    aliases: tuple[str, ...] = ()
    capacity_tag: str | None = None
    min_size_m2: float | None = None
    indicator: Indicator | None = None
    ages: tuple[int, int | None] | None = None
    source: str = ""
    rules: tuple[TagRule, ...] = ()
    note: str = ""
    members_only: bool = False
    profile: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def ages_text(self) -> str:
        """The age group served, e.g. ``3-5`` or ``60+`` (empty when any age)."""
        if self.ages is None:
            return ""
        first, last = self.ages
        return f"{first}+" if last is None else f"{first}-{last}"

    def name(self, lang: str = "en") -> str:
        """The category's name in ``lang`` (``"zh"`` or ``"en"``)."""
        return self.name_zh if lang == "zh" else self.name_en

    def threshold(self, speed_kmh: float) -> float:
        """Walking threshold in metres (minutes are converted at ``speed_kmh``).

        Examples
        --------
        >>> Category("x", "x", "x", "5min", "basic", True, threshold_min=15).threshold(4.0)
        1000.0
        """
        if self.threshold_m is not None:
            return float(self.threshold_m)
        assert self.threshold_min is not None
        return float(self.threshold_min) * speed_kmh * 1000.0 / 60.0


@dataclass(frozen=True)
class ServiceCatalog:
    """An ordered set of service categories with their OSM tag rules."""

    id: str
    name_zh: str
    name_en: str
    source: str
    categories: tuple[Category, ...]
    path: str = ""
    level_defs: tuple[Level, ...] = GB_LEVELS
    _by_id: dict[str, Category] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({c.id: c for c in self.categories})

    def __len__(self) -> int:
        return len(self.categories)

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories)

    def __contains__(self, category_id: object) -> bool:
        return category_id in self._by_id

    def __getitem__(self, category_id: str) -> Category:
        try:
            return self._by_id[category_id]
        except KeyError:
            known = ", ".join(self.ids)
            raise CatalogError(
                Problem(
                    f"catalog {self.id}",
                    f"no category {category_id!r}",
                    fix=f"use one of: {known}",
                )
            ) from None

    @property
    def ids(self) -> list[str]:
        """Category ids in catalog order."""
        return [c.id for c in self.categories]

    def name(self, lang: str = "en") -> str:
        """The catalog's name in ``lang``."""
        return self.name_zh if lang == "zh" else self.name_en

    def levels(self) -> list[str]:
        """Life-circle levels used by this catalog, smallest first: by the shortest walking
        threshold among each level's categories (at the default speed), then as defined."""
        shortest: dict[str, float] = {}
        for c in self.categories:
            t = c.threshold(DEFAULT_SPEED_KMH)
            shortest[c.level] = min(t, shortest.get(c.level, t))
        defined = [lv.id for lv in self.level_defs if lv.id in shortest]
        return sorted(defined, key=lambda lv: shortest[lv])

    def level(self, level_id: str) -> Level:
        """The definition of level ``level_id``."""
        for lv in self.level_defs:
            if lv.id == level_id:
                return lv
        raise KeyError(level_id)

    def level_name(self, level_id: str, lang: str = "en") -> str:
        """A level's name in ``lang``; ``"all"`` (every level together) is named too.

        >>> load_catalog("beijing").level_name("community", "zh")
        '社区级'
        >>> load_catalog("beijing").level_name("all", "en")
        'Complete life circle'
        """
        if level_id == "all":
            return tr("level_all", lang)
        return self.level(level_id).name(lang)

    def with_indicators(self) -> list[Category]:
        """The categories that have an indicator, in catalog order."""
        return [c for c in self.categories if c.indicator is not None]

    def required_at(self, level: str) -> list[str]:
        """Ids of the required categories of ``level``."""
        return [c.id for c in self.categories if c.required and c.level == level]

    def select(self, ids: Iterable[str]) -> ServiceCatalog:
        """A catalog holding only ``ids`` (in catalog order)."""
        wanted = list(ids)
        for cid in wanted:
            self[cid]  # raises with the list of known ids
        keep = tuple(c for c in self.categories if c.id in set(wanted))
        return replace(self, categories=keep, _by_id={})

    def resolve(self, label: str) -> str | None:
        """The category id a user's label means, by id, Chinese or English name or alias.

        Examples
        --------
        >>> cat = load_catalog("gb50180")
        >>> cat.resolve("幼儿园"), cat.resolve("Pharmacy"), cat.resolve("bakery")
        ('kindergarten', 'pharmacy', None)
        """
        key = _norm_label(label)
        for c in self.categories:
            labels = (c.id, c.name_zh, c.name_en, *c.aliases)
            if key in {_norm_label(x) for x in labels}:
                return c.id
        return None

    def match(self, features: pd.DataFrame) -> pd.DataFrame:
        """Assign OSM features to categories by the catalog's tag rules.

        Parameters
        ----------
        features
            One row per feature with a ``tags`` column of dicts (all OSM tags).

        Returns
        -------
        pandas.DataFrame
            Columns ``feature`` (the row label in ``features``) and ``category``; a feature
            matching several categories appears once per category.
        """
        if len(features) == 0:
            return pd.DataFrame({"feature": [], "category": []})
        keys = sorted({k for c in self.categories for r in c.rules for k in r.keys})
        tag_dicts = features["tags"].tolist()
        table = _tag_table(tag_dicts, keys, features.index)
        names = _categorical(
            ["\n".join(str(t[n]) for n in NAME_TAGS if t and t.get(n)) for t in tag_dicts],
            features.index,
        )
        rows: list[pd.DataFrame] = []
        for c in self.categories:
            hit = np.zeros(len(features), dtype=bool)
            for rule in c.rules:
                hit |= rule.mask(table, names)
            if hit.any():
                rows.append(pd.DataFrame({"feature": features.index[hit], "category": c.id}))
        if not rows:
            return pd.DataFrame({"feature": [], "category": []})
        return pd.concat(rows, ignore_index=True)

    def osm_filter(self) -> dict[str, bool | list[str]]:
        """The OSM filter that finds every feature some rule could match.

        Each rule's first tag decides: ``{key: True}`` for any value, else the listed values.

        Examples
        --------
        >>> load_catalog("gb50180").osm_filter()["highway"]
        ['bus_stop']
        """
        anything: set[str] = set()
        values_of: dict[str, set[str]] = {}
        for c in self.categories:
            for r in c.rules:
                key, values = r.tags[0]
                if values == ("*",):
                    anything.add(key)
                else:
                    values_of.setdefault(key, set()).update(values)
        keys = list(dict.fromkeys([*values_of, *anything]))
        return {k: True if k in anything else sorted(values_of[k]) for k in keys}

    def describe(self, *, lang: str = "en", speed_kmh: float = DEFAULT_SPEED_KMH) -> pd.DataFrame:
        """Every category with its level, threshold, indicator, age group and source."""
        cats = self.categories
        return pd.DataFrame(
            {
                "id": [c.id for c in cats],
                "name": [c.name(lang) for c in cats],
                "level": [self.level_name(c.level, lang) for c in cats],
                "threshold_m": [round(c.threshold(speed_kmh)) for c in cats],
                "required": [c.required for c in cats],
                "indicator": [c.indicator.text() if c.indicator else "" for c in cats],
                "ages": [c.ages_text() for c in cats],
                "min_size_m2": [f"{c.min_size_m2:g}" if c.min_size_m2 else "" for c in cats],
                "source": [c.source for c in cats],
            }
        )

    def to_frame(self, *, lang: str = "en", speed_kmh: float = DEFAULT_SPEED_KMH) -> pd.DataFrame:
        """A table of the categories, for printing and reports."""
        return pd.DataFrame(
            {
                "id": [c.id for c in self.categories],
                "name": [c.name(lang) for c in self.categories],
                "level": [c.level for c in self.categories],
                "kind": [c.kind for c in self.categories],
                "threshold_m": [round(c.threshold(speed_kmh)) for c in self.categories],
                "required": [c.required for c in self.categories],
                "access": [c.access for c in self.categories],
            }
        )


def _norm_label(text: str) -> str:
    return re.sub(r"[\s_\-/]+", " ", str(text)).strip().casefold()


def _tag_value(tags: Mapping[str, Any] | None, key: str) -> str | None:
    if not tags:
        return None
    value = tags.get(key)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def list_catalogs() -> list[str]:
    """Names of the catalogs bundled with lifecircle.

    Examples
    --------
    >>> "gb50180" in list_catalogs()
    True
    """
    folder = resources.files("lifecircle.data") / "catalogs"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_catalog(name_or_path: str | Path = "gb50180") -> ServiceCatalog:
    """Load a bundled catalog by name, or a user's TOML file by path.

    A user's file may say ``extends = "<bundled name or path>"`` in its ``[catalog]``
    table: its categories then override those with the same id and add the others, and
    ``remove = ["id", ...]`` drops categories of the base.

    Raises
    ------
    CatalogError
        When the file is missing, is not valid TOML, or has invalid categories; every
        problem is listed.
    """
    path, label = _find_catalog(name_or_path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(
            Problem(label, f"not valid TOML: {exc}", fix="correct the syntax")
        ) from None
    except UnicodeDecodeError:
        raise CatalogError(Problem(label, "not UTF-8 text", fix="save the file as UTF-8")) from None
    return _parse_catalog(doc, label, str(path))


def _find_catalog(name_or_path: str | Path) -> tuple[Path, str]:
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text
    if looks_like_path:
        path = Path(text).expanduser()
        if not path.is_file():
            raise CatalogError(
                Problem(
                    text, "catalog file not found", fix="check the path, or name a bundled catalog"
                )
            )
        return path, text
    bundled = resources.files("lifecircle.data") / "catalogs" / f"{text}.toml"
    if not bundled.is_file():
        raise CatalogError(
            Problem(
                f"catalog {text!r}",
                "no bundled catalog of that name",
                fix=f"use one of {', '.join(list_catalogs())}, or the path of a .toml file",
            )
        )
    return Path(str(bundled)), f"catalog {text}"


def _parse_catalog(doc: dict[str, Any], label: str, path: str) -> ServiceCatalog:
    problems: list[Problem] = []
    head = doc.get("catalog", {})
    unknown_top = set(doc) - {"catalog", "category", "level"}
    if unknown_top:
        problems.append(
            Problem(
                label,
                f"unknown table(s): {', '.join(sorted(unknown_top))}",
                fix="use [catalog], [[level]] and [[category]]",
            )
        )
    base: ServiceCatalog | None = None
    if "extends" in head:
        base = load_catalog(head["extends"])
    levels = _parse_levels(doc.get("level", []), base, label, problems)
    base_raw = _base_raw(base, head.get("level_map", {}), levels, label, problems)
    cats: list[Category] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc.get("category", [])):
        where = f"category #{i + 1}" + (
            f" ({raw.get('id')})" if isinstance(raw, dict) and raw.get("id") else ""
        )
        if isinstance(raw, dict) and raw.get("id") in base_raw:
            raw = _override(base_raw[raw["id"]], raw)
        cat = _parse_category(raw, label, where, problems, levels)
        if cat is None:
            continue
        if cat.id in seen:
            problems.append(
                Problem(
                    label,
                    f"duplicate category id {cat.id!r}",
                    where=where,
                    fix="give each category its own id",
                )
            )
        seen.add(cat.id)
        cats.append(cat)
    if base is not None:
        cats = _merge_base(base, base_raw, cats, head, label, levels, problems)
    if not cats and not problems:
        problems.append(
            Problem(label, "the catalog has no categories", fix="add [[category]] tables")
        )
    if problems:
        raise CatalogError(problems)
    base_id = base.id if base else ""
    return ServiceCatalog(
        id=str(head.get("id", base_id or Path(path).stem)),
        name_zh=str(head.get("name_zh", base.name_zh if base else head.get("id", ""))),
        name_en=str(head.get("name_en", base.name_en if base else head.get("id", ""))),
        source=str(head.get("source", base.source if base else "")),
        categories=tuple(cats),
        path=path,
        level_defs=levels,
    )


def _override(base: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """An inherited category table with a catalog's partial override of it applied (a
    threshold given in the override replaces the base's, in metres or minutes)."""
    if "threshold_m" in raw or "threshold_min" in raw:
        base = {k: v for k, v in base.items() if k not in ("threshold_m", "threshold_min")}
    return {**base, **raw}


def _merge_base(
    base: ServiceCatalog,
    base_raw: dict[str, dict[str, Any]],
    cats: list[Category],
    head: Mapping[str, Any],
    label: str,
    levels: tuple[Level, ...],
    problems: list[Problem],
) -> list[Category]:
    """The base catalog's categories (moved to this catalog's levels, overridden or removed)
    followed by this catalog's new ones."""
    removed = set(head.get("remove", []))
    unknown_removed = removed - set(base.ids)
    if unknown_removed:
        problems.append(
            Problem(
                label,
                f"remove names unknown categories {sorted(unknown_removed)}",
                fix=f"base has {base.ids}",
            )
        )
    own = {c.id: c for c in cats}
    merged: list[Category] = []
    for c in base.categories:
        if c.id in removed:
            continue
        if c.id in own:
            merged.append(own.pop(c.id))
            continue
        moved = _parse_category(base_raw[c.id], label, f"inherited {c.id}", problems, levels)
        if moved is not None:
            merged.append(moved)
    return merged + [c for c in cats if c.id in own]


def _base_raw(
    base: ServiceCatalog | None,
    level_map: Any,
    levels: tuple[Level, ...],
    label: str,
    problems: list[Problem],
) -> dict[str, dict[str, Any]]:
    """The base catalog's category tables, with ``level_map`` applied to their levels."""
    if base is None:
        return {}
    ids = {lv.id for lv in levels}
    if not isinstance(level_map, dict) or any(
        not isinstance(v, str) or v not in ids for v in level_map.values()
    ):
        problems.append(
            Problem(
                label,
                "level_map must map inherited levels to levels of this catalog",
                where="[catalog] level_map",
                fix=f'for example level_map = {{ "5min" = "..." }} with one of {sorted(ids)}',
            )
        )
        level_map = {}
    out: dict[str, dict[str, Any]] = {}
    for c in base.categories:
        raw = dict(c.raw)
        raw["level"] = level_map.get(c.level, c.level)
        out[c.id] = raw
    return out


def _parse_levels(
    raw_levels: Any, base: ServiceCatalog | None, label: str, problems: list[Problem]
) -> tuple[Level, ...]:
    """The base's levels (or GB 50180's), then this catalog's own (which may replace one)."""
    levels = {lv.id: lv for lv in (base.level_defs if base else GB_LEVELS)}
    if not isinstance(raw_levels, list):
        problems.append(Problem(label, "level must be a list of tables", fix="write [[level]]"))
        return tuple(levels.values())
    for i, raw in enumerate(raw_levels):
        where = f"level #{i + 1}"
        if not isinstance(raw, dict):
            problems.append(Problem(label, "a level must be a table", where=where))
            continue
        n0 = len(problems)
        unknown = set(raw) - _LEVEL_KEYS
        if unknown:
            problems.append(
                Problem(
                    label,
                    f"unknown key(s) {sorted(unknown)}",
                    where=where,
                    fix=f"allowed keys are {sorted(_LEVEL_KEYS)}",
                )
            )
        for key in ("id", "name_zh", "name_en"):
            if not isinstance(raw.get(key), str) or not raw.get(key):
                problems.append(
                    Problem(label, f"{key} is missing or not text", where=where, fix="give text")
                )
        _check_positive(raw, ("threshold_m", "threshold_min"), label, where, problems)
        if "threshold_m" in raw and "threshold_min" in raw:
            problems.append(
                Problem(label, "give at most one of threshold_m and threshold_min", where=where)
            )
        if len(problems) > n0:
            continue
        levels[raw["id"]] = Level(
            id=raw["id"],
            name_zh=raw["name_zh"],
            name_en=raw["name_en"],
            threshold_m=_float_or_none(raw.get("threshold_m")),
            threshold_min=_float_or_none(raw.get("threshold_min")),
            source=str(raw.get("source", "")),
        )
    return tuple(levels.values())


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _parse_category(
    raw: Any, label: str, where: str, problems: list[Problem], levels: tuple[Level, ...]
) -> Category | None:
    if not isinstance(raw, dict):
        problems.append(Problem(label, "a category must be a table", where=where))
        return None
    n0 = len(problems)
    level = next((lv for lv in levels if lv.id == raw.get("level")), None)
    if level is not None and "threshold_m" not in raw and "threshold_min" not in raw:
        default = {"threshold_m": level.threshold_m, "threshold_min": level.threshold_min}
        raw = {**raw, **{k: v for k, v in default.items() if v is not None}}
    _check_category_keys(raw, label, where, problems, levels)
    indicator = _parse_indicator(raw.get("indicator"), label, where, problems)
    ages = _parse_ages(raw.get("ages"), label, where, problems)
    rules: list[TagRule] = []
    for j, rule in enumerate(raw.get("match", [])):
        parsed = _parse_rule(rule, label, f"{where}, match #{j + 1}", problems)
        if parsed is not None:
            rules.append(parsed)
    if len(problems) > n0:
        return None
    return Category(
        id=raw["id"],
        name_zh=raw["name_zh"],
        name_en=raw["name_en"],
        level=raw["level"],
        kind=raw["kind"],
        required=bool(raw.get("required", False)),
        threshold_m=_float_or_none(raw.get("threshold_m")),
        threshold_min=_float_or_none(raw.get("threshold_min")),
        access=raw.get("access", "point"),
        aliases=tuple(str(a) for a in raw.get("aliases", [])),
        capacity_tag=raw.get("capacity_tag"),
        min_size_m2=_float_or_none(raw.get("min_size_m2")),
        indicator=indicator,
        ages=ages,
        source=str(raw.get("source", "")),
        rules=tuple(rules),
        note=str(raw.get("note", "")),
        raw=dict(raw),
        members_only=bool(raw.get("members_only", False)),
        profile=raw.get("profile"),
    )


def _parse_indicator(raw: Any, label: str, where: str, problems: list[Problem]) -> Indicator | None:
    """``indicator = { value = ..., per = ..., measure = ... }`` (None when absent)."""
    if raw is None:
        return None
    fix = 'write indicator = { value = 4.5, per = "1000 residents", measure = "places" }'
    ok = (
        isinstance(raw, dict)
        and set(raw) == {"value", "per", "measure"}
        and isinstance(raw["value"], int | float)
        and not isinstance(raw["value"], bool)
        and raw["value"] > 0
        and raw["per"] in PER
        and raw["measure"] in MEASURES
    )
    if not ok:
        problems.append(
            Problem(
                label,
                f"indicator must have a positive value, per one of {list(PER)} "
                f"and measure one of {list(MEASURES)}",
                where=where,
                fix=fix,
            )
        )
        return None
    return Indicator(float(raw["value"]), str(raw["per"]), str(raw["measure"]))


def _parse_ages(
    raw: Any, label: str, where: str, problems: list[Problem]
) -> tuple[int, int | None] | None:
    """``ages = [first, last]`` or ``[first]`` (and over); None when absent."""
    if raw is None:
        return None
    whole = isinstance(raw, list) and all(
        isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in raw
    )
    if not whole or len(raw) not in (1, 2) or (len(raw) == 2 and raw[1] < raw[0]):
        problems.append(
            Problem(
                label,
                "ages must be [first, last] or [first] in whole years",
                where=where,
                fix="for example ages = [3, 5], or ages = [60] for 60 and over",
            )
        )
        return None
    return (int(raw[0]), int(raw[1]) if len(raw) == 2 else None)


def _check_positive(
    raw: Mapping[str, Any], keys: Iterable[str], label: str, where: str, problems: list[Problem]
) -> None:
    for key in keys:
        if key in raw and (
            not isinstance(raw[key], int | float) or isinstance(raw[key], bool) or raw[key] <= 0
        ):
            problems.append(
                Problem(
                    label,
                    f"{key} must be a positive number",
                    where=where,
                    fix=f"for example {key} = 500",
                )
            )


def _check_category_keys(
    raw: dict[str, Any],
    label: str,
    where: str,
    problems: list[Problem],
    levels: tuple[Level, ...],
) -> None:
    """Problems with a category table's keys and values (its match rules aside)."""

    def bad(msg: str, fix: str) -> None:
        problems.append(Problem(label, msg, where=where, fix=fix))

    unknown = set(raw) - _CATEGORY_KEYS
    if unknown:
        bad(f"unknown key(s) {sorted(unknown)}", f"allowed keys are {sorted(_CATEGORY_KEYS)}")
    for key in ("id", "name_zh", "name_en", "level", "kind"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            bad(f"{key} is missing or not text", f"give {key} as a string")
    level_ids = [lv.id for lv in levels]
    if raw.get("level") not in level_ids:
        bad(
            f"level {raw.get('level')!r} is not one of {level_ids}",
            f"use one of {', '.join(level_ids)}, or define the level in a [[level]] table",
        )
    if raw.get("kind") not in KINDS:
        bad(
            f"kind {raw.get('kind')!r} is not one of {list(KINDS)}",
            "use basic, non-basic or market",
        )
    if raw.get("access", "point") not in ACCESS:
        bad(f"access {raw.get('access')!r} is not one of {list(ACCESS)}", "use point or edge")
    has_m, has_min = "threshold_m" in raw, "threshold_min" in raw
    if has_m == has_min:
        bad("give exactly one of threshold_m and threshold_min", "for example threshold_m = 500")
    _check_positive(raw, ("threshold_m", "threshold_min", "min_size_m2"), label, where, problems)
    if not isinstance(raw.get("required", False), bool):
        bad("required must be true or false", "write required = true")
    if "profile" in raw and (not isinstance(raw["profile"], str) or not raw["profile"]):
        bad("profile must be a walking profile's name", 'write profile = "elderly"')


def _parse_rule(rule: Any, label: str, where: str, problems: list[Problem]) -> TagRule | None:
    if not isinstance(rule, dict) or not rule:
        problems.append(Problem(label, "a match rule must be a non-empty table", where=where))
        return None
    tags: list[tuple[str, tuple[str, ...]]] = []
    for key, value in rule.items():
        if key in _SPECIAL_KEYS:
            if not isinstance(value, str):
                problems.append(Problem(label, f"{key} must be a string", where=where))
                continue
            try:
                re.compile(value)
            except re.error as exc:
                problems.append(
                    Problem(label, f"{key} is not a valid regular expression: {exc}", where=where)
                )
            continue
        if value is False:
            tags.append((key, ()))
        elif isinstance(value, str):
            tags.append((key, (value,)))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            tags.append((key, tuple(value)))
        else:
            problems.append(
                Problem(
                    label, f"tag {key!r} must be a string, a list of strings or false", where=where
                )
            )
            return None
    if not tags:
        problems.append(
            Problem(
                label,
                "a rule needs at least one tag besides names",
                where=where,
                fix='add e.g. amenity = "*"',
            )
        )
        return None
    if not tags[0][1]:
        problems.append(
            Problem(
                label,
                "a rule's first tag must be present (not false)",
                where=where,
                fix="put the tag that finds the feature first",
            )
        )
        return None
    return TagRule(
        tags=tuple(tags),
        name_regex=rule.get("name_regex"),
        name_not_regex=rule.get("name_not_regex"),
    )
