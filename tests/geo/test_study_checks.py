"""Inputs that are each fine but do not meet: units beside the OSM data, a study without
residents, a unit whose known population is 0 (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lifecircle.cli import main
from lifecircle.geo.build import StudyInputs, build_study_area
from lifecircle.geo.specs import UnitsFile
from tests.geo.osm_fixture import lonlat, write_osm


def _units(path: Path, boxes: dict[str, tuple[float, float, float, float]], pops: dict) -> Path:
    features = []
    for uid, (x0, y0, x1, y1) in boxes.items():
        ring = [lonlat(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
        props = {"id": uid, "population": pops.get(uid)}
        features.append({"type": "Feature", "properties": props, "geometry": {
            "type": "Polygon", "coordinates": [[list(p) for p in ring]]}})  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", "do not overlap the streets of the OSM data"), ("zh", "没有重叠")],
)
@pytest.mark.parametrize(
    "west",
    [20_000, 1_200],  # beyond the file's <bounds>; inside them, near but off the streets
)
def test_units_beside_the_osm_data_exit_2_naming_both_extents(
    west: float, lang: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_osm(tmp_path / "x.osm")
    units = _units(tmp_path / "u.geojson", {"far": (west, 0, west + 300, 100)}, {})
    args = ["plan", "--osm", str(tmp_path / "x.osm"), "--units", str(units)]
    code = main([*args, "--out", str(tmp_path / "out"), "--lang", lang])
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err and "u.geojson" in err, err
    lon, _ = lonlat(west, 0)
    assert f"{lon:.4f}," in err  # the units' own extent is named
    assert not (tmp_path / "out").exists()


def test_a_study_without_residents_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_osm(tmp_path / "x.osm")
    # south of the street: streets, no buildings, no population given
    units = _units(tmp_path / "u.geojson", {"south": (0, -150, 400, -20)}, {})
    args = ["plan", "--osm", str(tmp_path / "x.osm"), "--units", str(units)]
    code = main([*args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "u.geojson: no residents" in err and "population" in err, err


def test_a_unit_of_known_population_0_gets_a_note(tmp_path: Path) -> None:
    write_osm(tmp_path / "x.osm")
    boxes = {"homes": (0, 0, 400, 150), "south": (0, -150, 400, -20)}
    units = _units(tmp_path / "u.geojson", boxes, {"homes": 100, "south": 0})
    area = build_study_area(
        StudyInputs(osm=str(tmp_path / "x.osm"), units=UnitsFile(path=str(units)))
    )
    texts = [n.text("en") for n in area.notes]
    assert any("1 units have a known population of 0" in t and "south" in t for t in texts)
    assert area.demand["residents"].sum() == pytest.approx(100)
