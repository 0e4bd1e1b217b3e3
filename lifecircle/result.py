"""What a study produced (data only): maps and reports are drawn from a :class:`PlanResult`.

It sits between the analysis that fills it and the maps and reports that read it, so the
latter never depend on the analysis, the entry points or the plan file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from lifecircle.coverage.access import Access
from lifecircle.coverage.network import WalkNetwork
from lifecircle.coverage.scenario import Comparison
from lifecircle.coverage.sites import SiteRecommendation
from lifecircle.coverage.tables import Coverage
from lifecircle.coverage.walls import Walls
from lifecircle.geo.study_area import StudyArea
from lifecircle.i18n import Note
from lifecircle.params import PlanParams

__all__ = ["PlanResult"]


@dataclass
class PlanResult:
    """Everything a study produced; maps and reports are drawn from it.

    ``bound`` is, for a partitioned run, the proven upper bound of each placement category's
    newly covered residents (the sum of the parts' bounds); ``plan_files`` the files the
    plan read, by plan key (their hashes go to ``run.json``).
    """

    area: StudyArea
    params: PlanParams
    network: WalkNetwork | None
    access: Access
    coverage: Coverage
    sites: dict[str, SiteRecommendation]
    candidates: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame | None = None
    gaps: gpd.GeoDataFrame | None = None
    capacity: pd.DataFrame | None = None
    supply: pd.DataFrame | None = None
    checklist_rollup: pd.DataFrame | None = None
    scenario: Comparison | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    parts: pd.DataFrame | None = None
    bounds: dict[str, float] = field(default_factory=dict)
    walls: Walls | None = None
    """What the gated compounds' walls cost (None: compounds open)."""

    @property
    def network_size(self) -> tuple[int, int]:
        """Nodes and edges of the walk network (summed over the parts of a partitioned run,
        whose reaches overlap)."""
        if self.network is not None:
            return self.network.n_nodes, self.network.n_edges
        if self.parts is not None:
            return int(self.parts["nodes"].sum()), int(self.parts["edges"].sum())
        return 0, 0

    @property
    def focus_category(self) -> str:
        """The category the map colours by: the first with recommended sites, else the
        required category with the lowest coverage."""
        if self.sites:
            return next(iter(self.sites))
        overall = self.coverage.overall
        req = [c for c in overall["category"] if self.area.catalog[c].required]
        rows = overall.loc[overall["category"].isin(req or list(overall["category"]))]
        return str(rows.sort_values("share").iloc[0]["category"])
