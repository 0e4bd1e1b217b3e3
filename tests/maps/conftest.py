"""A district-sized map study: the real Helsinki network tiled 3 x 3 (tests/tiling.py)."""

from __future__ import annotations

import pytest

from lifecircle.analysis import run_plan
from lifecircle.params import PlacementSpec, PlanParams
from lifecircle.result import PlanResult
from tests.tiling import tiled_study

TILED_CATEGORIES = ["pharmacy", "bus_stop"]


@pytest.fixture(scope="session")
def tiled_k3() -> PlanResult:
    """The 3 x 3 tiled Helsinki study with two categories, two pharmacies placed, no
    catchments (the map's own parts are under test, not the catchments')."""
    area = tiled_study(3, categories=TILED_CATEGORIES)
    params = PlanParams(
        placements=(PlacementSpec("pharmacy", p=2),), candidate_spacing_m=None, catchments=False
    )
    return run_plan(area, params)
