"""The what-if study walks as the plan does: by the gated compounds' rule, and each category
on its walking profile (issue 15), change after change.

On the walled compound of :mod:`tests.geo.test_compounds` (a kindergarten inside it, a shop
north of it, a members-only park inside), every change's distances equal a fresh run_plan
with the same facilities, and the hand-checked ones the networkx oracle of
:mod:`tests.coverage.test_gated_planning`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from lifecircle.analysis import run_plan
from lifecircle.params import ELDERLY_PROFILE, PlanParams
from lifecircle.serve.state import WhatIf
from tests.coverage.test_gated import RESIDENTS, fixture_area
from tests.coverage.test_gated_planning import oracle_walk
from tests.geo.test_compounds import LOCAL, write_compound_osm

PARAMS = PlanParams(
    candidate_spacing_m=None, catchments=False, category_profiles={"shop": "elderly"}
)
TO_WGS = Transformer.from_crs(LOCAL, "EPSG:4326", always_xy=True)


def _study(tmp_path: Path) -> tuple[WhatIf, Path]:
    path = write_compound_osm(tmp_path / "c.osm")
    area = fixture_area(path)
    fac = area.facilities.assign(source="osm", name=None, capacity=np.nan)
    return WhatIf(replace(area, facilities=fac), PARAMS), path


def _fresh(w: WhatIf) -> np.ndarray:
    """run_plan's distances with the scenario's facilities (kept ones and proposals)."""
    area = w.area
    rows = list(w.proposals.values())
    new = gpd.GeoDataFrame(
        {
            "facility_id": [p.pid for p in rows],
            "category": [p.category for p in rows],
            "name": None,
            "source": "scenario.csv",
            "capacity": np.nan,
        },
        geometry=gpd.points_from_xy([p.lon for p in rows], [p.lat for p in rows]),
        crs="EPSG:4326",
    ).to_crs(area.crs)
    kept = area.facilities.loc[w.active]
    fac = gpd.GeoDataFrame(pd.concat([kept, new], ignore_index=True), crs=area.crs)
    acc = run_plan(replace(area, facilities=fac), PARAMS).access
    return acc.distance_m[:, [acc.column(c) for c in w.access.categories]]


def test_changes_walk_through_the_gates_on_each_categorys_profile(tmp_path: Path) -> None:
    w, path = _study(tmp_path)
    assert w.gated is not None
    assert w.access.profile("shop") == ELDERLY_PROFILE
    ratio = ELDERLY_PROFILE.speed_ratio(PARAMS.speed_kmh)
    assert ratio == pytest.approx((4 / 3.6) / 1.0)
    np.testing.assert_allclose(w.distance, _fresh(w), atol=1e-6)
    # a kindergarten proposed on the east street: residents inside the compound walk out
    # through the east gate to it; then the one inside the compound is removed
    kg = w.column("kindergarten")
    east = (410.0, 160.0)
    w.add("kindergarten", *TO_WGS.transform(*east))
    w.remove("kindergarten")
    np.testing.assert_allclose(w.distance, _fresh(w), atol=1e-6)
    for i, (name, xy) in enumerate(RESIDENTS.items()):
        want = oracle_walk(path, east, xy, members=False)
        assert w.distance[i, kg] == pytest.approx(want, abs=1e-6), name
    # a shop proposed inside the compound serves visitors; the elderly walk it at 1.0 m/s
    shop = w.column("shop")
    inside = (290.0, 150.0)
    w.add("shop", *TO_WGS.transform(*inside))
    np.testing.assert_allclose(w.distance, _fresh(w), atol=1e-6)
    for i, (name, xy) in enumerate(RESIDENTS.items()):
        plain = min(
            oracle_walk(path, inside, xy, members=False),
            oracle_walk(path, (150.0, 310.0), xy, members=False),
        )
        assert w.distance[i, shop] == pytest.approx(plain * ratio, abs=1e-6), name
    while w.undo() is not None:
        pass
    np.testing.assert_array_equal(w.distance, w.base_distance)
