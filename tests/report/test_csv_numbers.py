"""CSV tables write each column of numbers in its own format: coordinates with 6 decimals,
distances to 0.1 m whatever their size, other numbers with six significant digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lifecircle.report.tables import write_csv


def test_coordinates_and_distances_keep_their_precision_whatever_their_size(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame(
        {
            "unit_id": ["a", "b", "c"],
            "lon": [116.3029049, 24.9, -0.0000004],
            "lat": [39.9876543, 60.1674, 89.9999996],
            "threshold_m": [300, 1000, 5000],  # integers stay as they are
            "distance_m": [123456.78, 1234567.04, 0.04],
            "p50_m": [np.nan, np.inf, 80.0],
            "share": [0.68331712, 1.0, 1e-7],
            "residents": [14200.63, 0.0, np.nan],
            "population": [2123456.4, 999999.0, 12.0],  # never as 2.12346e+06
        }
    )
    write_csv(frame, tmp_path / "t.csv")
    raw = (tmp_path / "t.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines == [
        "unit_id,lon,lat,threshold_m,distance_m,p50_m,share,residents,population",
        "a,116.302905,39.987654,300,123456.8,,0.683317,14200.6,2123456.4",
        "b,24.900000,60.167400,1000,1234567.0,,1,0,999999",
        "c,-0.000000,90.000000,5000,0.0,80.0,1e-07,,12",
    ]
    assert frame["distance_m"].iloc[0] == 123456.78  # the caller's frame is not changed
