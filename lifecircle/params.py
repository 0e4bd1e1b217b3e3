"""The parameters of a study and their one set of defaults.

A leaf module: every layer (geo, coverage, the entry points, the plan file and the command
line) takes its defaults from here, so the walking speed, the snap distance and the other
numbers are written once. The README's table "Defaults, and where they come from" states
where each default comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_FORMATS",
    "DEFAULT_MAX_SNAP_M",
    "DEFAULT_SPEED_KMH",
    "DEFAULT_UNIT_SHARE",
    "ELDERLY_PROFILE",
    "PROFILE_MODES",
    "STANDARD_PROFILE",
    "MapOptions",
    "OutputOptions",
    "PlacementSpec",
    "PlanParams",
    "WalkProfile",
    "builtin_profiles",
]

DEFAULT_SPEED_KMH = 4.0
"""Walking speed for thresholds given in minutes: 1000 m in 15 minutes, the GB 50180-2018
15-minute life circle's walking distance (GB 50180-2018, 2.0.2 and table 3.0.4)."""

DEFAULT_MAX_SNAP_M = 250.0
"""Points farther than this from any walkable street are unreachable, not snapped."""

DEFAULT_UNIT_SHARE = 0.5
"""A unit counts as covered when at least this share of its residents is."""

DEFAULT_FORMATS: tuple[str, ...] = ("map", "csv", "xlsx", "gpkg", "html")
"""The output formats a run writes unless told otherwise."""


@dataclass(frozen=True)
class WalkProfile:
    """How a group of residents walks: a speed and cost factors per kind of way.

    A walk on a profile is measured in *effective walking metres*: the metres a walker at
    the reference speed (the plan's ``speed_kmh``, the speed the catalog's metres assume)
    would cover in the same time. An edge of length ``L`` costs ``L x factor(kind) x
    (reference speed / speed_m_s)``; the straight access leg from a point to its street
    costs its length times the speed ratio. ``speed_m_s=None`` is the reference speed.

    The factors for steps, footbridges and underpasses are 1.0 (no extra cost) unless a
    plan sets them: no published factor per kind of way was found to cite (walking speeds
    on stairs depend on their gradient and length: Fujiyama & Tyler 2010, Transportation
    Planning and Technology 33(2): 177-202), so none is assumed.
    """

    name: str
    speed_m_s: float | None = None
    steps_factor: float = 1.0
    footbridge_factor: float = 1.0
    underpass_factor: float = 1.0

    def speed_ratio(self, speed_kmh: float) -> float:
        """Reference speed over this profile's speed (exactly 1.0 at the reference)."""
        if self.speed_m_s is None:
            return 1.0
        return (speed_kmh / 3.6) / self.speed_m_s

    def is_neutral(self, speed_kmh: float) -> bool:
        """Whether every effective distance equals the plain walking distance."""
        factors = (self.steps_factor, self.footbridge_factor, self.underpass_factor)
        return self.speed_ratio(speed_kmh) == 1.0 and all(f == 1.0 for f in factors)


STANDARD_PROFILE = WalkProfile("standard")
"""The reference walker: the plan's speed, no extra cost anywhere (today's distances)."""

ELDERLY_PROFILE = WalkProfile("elderly", speed_m_s=1.0)
"""Older residents: 1.0 m/s, the design walking speed Coffin & Morrall found satisfactory
where most pedestrians are elderly (near seniors' and nursing homes): A. Coffin and J.
Morrall, "Walking speeds of elderly pedestrians at crosswalks", Transportation Research
Record 1487 (1995), 63-67. For comparison, T. J. Gates, D. A. Noyce, A. R. Bill and N. Van
Ee, "Recommended walking speeds for pedestrian clearance timing based on pedestrian
characteristics", Transportation Research Record 1982 (2006), 38-47, measured pedestrians
older than 65 (n = 326) at a mean of 3.81 ft/s (1.16 m/s) and a 15th percentile of 3.02 ft/s
(0.92 m/s): faster on average than the 4 km/h (1.11 m/s) reference. Steps, footbridges
and underpasses cost nothing extra by default (see :class:`WalkProfile`)."""

PROFILE_MODES: tuple[str, ...] = ("auto", "catalog")
"""``[analysis] profile`` values other than a profile's name: ``auto``, each category walks
its catalog's profile where the study lies in mainland China and the standard profile
elsewhere; ``catalog``, each category walks its catalog's profile anywhere."""


def builtin_profiles() -> dict[str, WalkProfile]:
    """The profiles every plan may name, by name."""
    return {p.name: p for p in (STANDARD_PROFILE, ELDERLY_PROFILE)}


@dataclass(frozen=True)
class PlacementSpec:
    """New sites wanted for a category.

    ``category=None`` means the required category with the most uncovered residents.
    Give ``p`` (number of sites, maximal covering) or ``share`` (fewest sites that cover
    this share of the coverable uncovered residents, set covering).
    """

    category: str | None = None
    p: int | None = 3
    share: float | None = None


@dataclass(frozen=True)
class PlanParams:
    """Parameters of an analysis (the defaults are stated in the README)."""

    speed_kmh: float = DEFAULT_SPEED_KMH
    search_factor: float = 3.0
    max_snap_m: float = DEFAULT_MAX_SNAP_M
    unit_share: float = DEFAULT_UNIT_SHARE
    edge_spacing_m: float = 50.0
    candidate_spacing_m: float | None = 100.0
    placements: tuple[PlacementSpec, ...] = (PlacementSpec(),)
    time_limit_s: float = 60.0
    count_within: bool = False
    catchments: bool = True
    catchment_width_m: float = 40.0
    catchments_max_edges: int | None = None  # deprecated, ignored (with a note) since issue 18
    parts: int | str | None = None
    rollup: str | None = None
    gap_link_m: float = 150.0
    gap_walking: bool = False
    profile: str = "auto"
    category_profiles: Mapping[str, str] = field(default_factory=dict)
    profiles: tuple[WalkProfile, ...] = ()  # the plan's own ([profiles.NAME] tables)


@dataclass(frozen=True)
class MapOptions:
    """What the map shows: the category or measure units are coloured by, the life-circle
    level of the completeness measure, and the base map (``osm``, ``none``, ``amap`` or a
    tile URL)."""

    category: str | None = None
    measure: Literal["coverage", "completeness"] = "coverage"
    level: str = "all"
    tiles: str = "osm"


@dataclass(frozen=True)
class OutputOptions:
    """How the outputs are written: language, formats, a map with no web tiles
    (``offline=None``: when no network is reachable), the report's title."""

    lang: Literal["en", "zh"] = "en"
    formats: tuple[str, ...] = DEFAULT_FORMATS
    offline: bool | None = None
    title: str = ""
    map: MapOptions = field(default_factory=MapOptions)
