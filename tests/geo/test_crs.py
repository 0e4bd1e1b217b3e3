"""Chinese coordinate systems: published reference pairs, round trips, the 0.5 m inverse."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from lifecircle.errors import InputError
from lifecircle.geo.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    parse_crs,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.abs(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# Published by the coordtransform project (github.com/wandergis/coordtransform, test/app.js)
# for the input (116.404, 39.915): its forward conversions use the same public formulas.
REF_IN = (116.404, 39.915)
REF_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
REF_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
REF_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)
# its gcj02towgs84 is a one-step approximation of the inverse (error up to a metre or two)
REF_GCJ02_TO_WGS84_APPROX = (116.39775550083061, 39.91359571849836)
# Beijing railway station, as documented by the R package "coordtransform" style examples:
# GCJ-02 (39.90245, 116.42703), BD-09 (39.90851, 116.43351), 5 decimals (about 1 m)
STATION_GCJ02 = (116.42703, 39.90245)
STATION_BD09 = (116.43351, 39.90851)


def test_forward_conversions_match_published_values() -> None:
    assert wgs84_to_gcj02(*REF_IN) == pytest.approx(REF_WGS84_TO_GCJ02, abs=1e-12)
    assert gcj02_to_bd09(*REF_IN) == pytest.approx(REF_GCJ02_TO_BD09, abs=1e-12)
    lon, lat = gcj02_to_bd09(*STATION_GCJ02)
    assert metres(lon, lat, *STATION_BD09) < 1.5


def test_inverse_recovers_the_input_to_far_better_than_half_a_metre() -> None:
    lon, lat = gcj02_to_wgs84(*REF_WGS84_TO_GCJ02)
    assert metres(lon, lat, *REF_IN) < 0.001
    lon, lat = bd09_to_gcj02(*REF_GCJ02_TO_BD09)
    assert metres(lon, lat, *REF_IN) < 0.001
    # the published closed-form BD-09 inverse is close to ours
    lon, lat = bd09_to_gcj02(*REF_IN)
    assert metres(lon, lat, *REF_BD09_TO_GCJ02) < 0.5
    # and the published one-step GCJ-02 inverse is within a couple of metres of the exact one
    lon, lat = gcj02_to_wgs84(*REF_IN)
    assert metres(lon, lat, *REF_GCJ02_TO_WGS84_APPROX) < 3.0
    lon, lat = bd09_to_gcj02(*STATION_BD09)
    assert metres(lon, lat, *STATION_GCJ02) < 1.5


def test_round_trips_over_china_stay_under_half_a_metre() -> None:
    rng = np.random.default_rng(0)
    lon = rng.uniform(73.5, 134.5, 20000)
    lat = rng.uniform(18.5, 53.0, 20000)
    for fwd, inv in (
        (wgs84_to_gcj02, gcj02_to_wgs84),
        (wgs84_to_bd09, bd09_to_wgs84),
        (gcj02_to_bd09, bd09_to_gcj02),
    ):
        back = inv(*fwd(lon, lat))
        assert metres(lon, lat, *back).max() < 0.5
    shift = metres(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert 50 < np.median(shift) < 1000  # the offset is real: hundreds of metres


def test_outside_china_gcj02_is_identity() -> None:
    lon, lat = wgs84_to_gcj02(np.array([24.94, -74.0]), np.array([60.17, 40.7]))
    assert lon.tolist() == [24.94, -74.0] and lat.tolist() == [60.17, 40.7]


def test_to_wgs84_dispatches_on_the_declared_system() -> None:
    x, y = np.array([444_000.0]), np.array([4_423_000.0])
    lon, lat = to_wgs84(x, y, "EPSG:32650")
    assert 116.3 < lon[0] < 116.4 and 39.9 < lat[0] < 40.0
    assert to_wgs84(np.array([1.0]), np.array([2.0]), None) == (
        pytest.approx([1.0]),
        pytest.approx([2.0]),
    )
    lon, lat = to_wgs84(np.array([REF_GCJ02_TO_BD09[0]]), np.array([REF_GCJ02_TO_BD09[1]]), "bd09")
    assert metres(lon[0], lat[0], *gcj02_to_wgs84(*REF_IN)) < 0.001


def test_unknown_systems_are_named_in_the_error() -> None:
    with pytest.raises(InputError, match="gcj03"):
        parse_crs("gcj03", source="shops.csv")
    assert parse_crs("Baidu") == "bd09" and parse_crs("4326") == "wgs84"
