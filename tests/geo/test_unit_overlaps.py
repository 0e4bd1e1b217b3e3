"""Overlapping units get a note naming the pairs and the area they share; asking for more
sites than there are candidates gets a note saying how many were placed (issue 14)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import shapely
from shapely.geometry import box

from lifecircle.cli import main
from lifecircle.geo.specs import UnitsFile
from lifecircle.geo.units import load_units
from tests.geo.osm_fixture import lonlat, write_osm


def _units(path: Path, squares: dict[str, tuple[float, float, float, float]]) -> None:
    features = []
    for uid, (x0, y0, x1, y1) in squares.items():
        ring = [list(lonlat(x, y)) for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]]
        features.append(
            {
                "type": "Feature",
                "properties": {"id": uid},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


SQUARES = {
    "A": (0.0, 0.0, 100.0, 100.0),
    "B": (80.0, 0.0, 180.0, 100.0),  # shares 20 x 100 m with A
    "C": (180.0, 0.0, 280.0, 100.0),  # only touches B
    "D": (0.0, 50.0, 30.0, 150.0),  # shares 30 x 50 m with A
}


def test_overlapping_units_are_named_with_their_shared_area(tmp_path: Path) -> None:
    _units(tmp_path / "units.geojson", SQUARES)
    got = load_units(UnitsFile(path=str(tmp_path / "units.geojson")))
    assert got.problems == []
    (note,) = [n for n in got.notes if n.key == "note_units_overlap"]
    text = note.text("en")
    assert ": 2 pairs of units overlap" in text, text
    shared = {
        m[0]: float(m[1].replace(",", "")) for m in re.findall(r"(\w & \w) \(([\d,]+) m²\)", text)
    }
    # oracle: the squares' intersections in the fixture's own metres (UTM)
    boxes = {k: box(*v) for k, v in SQUARES.items()}
    expected = {
        "A & B": shapely.area(boxes["A"] & boxes["B"]),
        "A & D": shapely.area(boxes["A"] & boxes["D"]),
    }
    assert set(shared) == set(expected)
    for pair, area in expected.items():
        assert shared[pair] == pytest.approx(area, rel=0.01), (pair, shared[pair], area)
    assert text.index("A & B") < text.index("A & D")  # the largest first
    assert "对单元相互重叠" in note.text("zh")


def test_units_that_only_touch_give_no_note(tmp_path: Path) -> None:
    _units(tmp_path / "units.geojson", {k: SQUARES[k] for k in ("B", "C")})
    got = load_units(UnitsFile(path=str(tmp_path / "units.geojson")))
    assert [n for n in got.notes if n.key == "note_units_overlap"] == []


def test_more_sites_than_candidates_says_how_many_were_placed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_osm(tmp_path / "x.osm")
    rows = ["name,lon,lat"] + [
        "c{},{},{}".format(n, *lonlat(x, 60)) for n, x in enumerate((100, 300))
    ]
    (tmp_path / "cand.csv").write_text("\n".join(rows) + "\n")
    args = ["plan", "--osm", str(tmp_path / "x.osm"), "--candidates", str(tmp_path / "cand.csv")]
    args += ["--sites", "5", "--site-category", "elderly_day_care", "--grid-m", "100"]
    args += ["--format", "csv", "--offline", "--no-catchments", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    err = " ".join(capsys.readouterr().err.split())
    with (tmp_path / "out" / "sites.csv").open(encoding="utf-8-sig") as f:
        placed = sum(1 for r in csv.DictReader(f) if r["category"] == "elderly_day_care")
    assert 1 <= placed <= 2
    assert (
        "Elderly day care: 5 new sites were asked for, but there are only 2 candidate "
        f"sites; {placed} could be placed"
    ) in err, err
