"""The parameters of a study and their one set of defaults.

A leaf module: every layer (geo, coverage, the entry points, the plan file and the command
line) takes its defaults from here, so the walking speed, the snap distance and the other
numbers are written once. The README's table "Defaults, and where they come from" states
where each default comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_FORMATS",
    "DEFAULT_MAX_SNAP_M",
    "DEFAULT_SPEED_KMH",
    "DEFAULT_UNIT_SHARE",
    "MapOptions",
    "OutputOptions",
    "PlacementSpec",
    "PlanParams",
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
