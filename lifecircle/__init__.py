"""lifecircle: plan the 15-minute life circle.

Can every resident walk to the everyday services within a quarter of an hour, where can't
they, and where should the next facilities go?

The pipeline, one package per stage: :mod:`lifecircle.geo` (inputs -> StudyArea),
:mod:`lifecircle.coverage` (walk network, access, coverage, gaps, placement),
:mod:`lifecircle.maps` and :mod:`lifecircle.report` (outputs), drawn from a
:class:`PlanResult` (:mod:`lifecircle.result`). :mod:`lifecircle.analysis` runs the
stages; :mod:`lifecircle.app` runs a whole study and writes its outputs.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from lifecircle.analysis import run_plan
from lifecircle.app import demo, plan
from lifecircle.coverage.access import Access, nearest_facilities
from lifecircle.coverage.network import Snap, WalkNetwork
from lifecircle.coverage.placement import (
    CoverageProblem,
    MaximalCovering,
    PlacementResult,
    SetCovering,
)
from lifecircle.coverage.sites import recommend_sites
from lifecircle.coverage.tables import Coverage, coverage_tables
from lifecircle.errors import (
    InputError,
    LifecircleError,
    OfflineError,
    OutputError,
    Problem,
    SolverError,
)
from lifecircle.geo.build import study_area_from_osm
from lifecircle.geo.catalog import Category, ServiceCatalog, list_catalogs, load_catalog
from lifecircle.geo.osm import OsmLayers, load_osm
from lifecircle.geo.residents import ResidentModel, estimate_residents
from lifecircle.geo.study_area import StudyArea
from lifecircle.geo.units import make_grid
from lifecircle.params import PlacementSpec, PlanParams
from lifecircle.result import PlanResult

try:
    __version__ = version("lifecircle")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Access",
    "Category",
    "Coverage",
    "CoverageProblem",
    "InputError",
    "LifecircleError",
    "MaximalCovering",
    "OfflineError",
    "OsmLayers",
    "OutputError",
    "PlacementResult",
    "PlacementSpec",
    "PlanParams",
    "PlanResult",
    "Problem",
    "ResidentModel",
    "ServiceCatalog",
    "SetCovering",
    "Snap",
    "SolverError",
    "StudyArea",
    "WalkNetwork",
    "__version__",
    "coverage_tables",
    "demo",
    "estimate_residents",
    "list_catalogs",
    "load_catalog",
    "load_osm",
    "make_grid",
    "nearest_facilities",
    "plan",
    "recommend_sites",
    "run_plan",
    "study_area_from_osm",
]
