"""Population grids (issue 17): a GeoTIFF written here with rasterio, cells of known people
in UTM 50N over the hand-made extract (tests/geo/osm_fixture.py), read as resident points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from lifecircle.cli import main
from lifecircle.geo.build import StudyInputs, build_study_area
from lifecircle.geo.popgrid import residents_from_grid
from lifecircle.geo.specs import PopulationGrid, UnitsFile
from tests.geo.osm_fixture import ORIGIN, UTM, lonlat, write_osm

NODATA = -99999.0
# 100 m cells, the grid's corner at (-50, 350) from the fixture's origin: cell (row, col)
# spans x -50 + 100 col .. +100 and y 350 - 100 row .. -100
CELLS = {
    (3, 0): 120.0,  # x -50..50, y 50..-50: holds the apartments 1号楼 (20..60, 20..40)
    (3, 1): 80.0,  # x 50..150: holds the building=yes in the residential land use
    (4, 3): 50.0,  # x 250..350, y -50..-150: no home (an office and a shop are no homes)
    (5, 2): 30.0,  # x 150..250, y -150..-250: centre (200, -200) is outside the units
    (0, 0): NODATA,
}
UNITS = """{{"type": "FeatureCollection", "features": [
 {{"type": "Feature", "properties": {{"id": "C1", "population": 400}},
  "geometry": {{"type": "Polygon", "coordinates": [{west}]}}}},
 {{"type": "Feature", "properties": {{"id": "C2"}},
  "geometry": {{"type": "Polygon", "coordinates": [{east}]}}}}]}}"""


def _ring(x0: float, y0: float, x1: float, y1: float) -> str:
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return "[" + ",".join("[{:.9f},{:.9f}]".format(*lonlat(x, y)) for x, y in corners) + "]"


def write_grid(path: Path, *, crs: str | None = UTM) -> Path:
    data = np.zeros((6, 5), dtype="float32")
    for (r, c), v in CELLS.items():
        data[r, c] = v
    transform = from_origin(ORIGIN[0] - 50, ORIGIN[1] + 350, 100, 100)
    profile = {"driver": "GTiff", "height": 6, "width": 5, "count": 1, "dtype": "float32"}
    with rasterio.open(path, "w", **profile, crs=crs, transform=transform, nodata=NODATA) as dst:
        dst.write(data, 1)
    return path


def _files(tmp: Path) -> tuple[Path, Path, Path]:
    osm = write_osm(tmp / "x.osm")
    units = tmp / "units.geojson"
    units.write_text(
        UNITS.format(west=_ring(-40, -190, 200, 340), east=_ring(200, -190, 440, 340)),
        encoding="utf-8",
    )
    return osm, units, write_grid(tmp / "people.tif")


def _xy(frame) -> list[tuple[float, float]]:
    return [(round(p.x - ORIGIN[0]), round(p.y - ORIGIN[1])) for p in frame.geometry]


def test_cells_go_to_their_homes_or_their_centres(tmp_path: Path) -> None:
    osm, units, grid = _files(tmp_path)
    area = build_study_area(StudyInputs(osm=str(osm), units=UnitsFile(path=str(units))))
    homes = area.demand.drop(columns=["demand_id", "unit_id"])
    got = residents_from_grid(PopulationGrid(path=str(grid)), homes, area.units)
    assert not got.problems
    out = got.value.sort_values("residents", ascending=False).reset_index(drop=True)
    # each home alone in its cell takes the cell's people; the other cells are centres
    assert out["residents"].tolist() == [120.0, 80.0, 50.0, 30.0]
    assert out["use_rule"].tolist()[:2] == ["population grid, buildings"] * 2
    assert _xy(out.iloc[2:]) == [(300, -100), (200, -200)]
    assert out["residents"].sum() == 280.0  # the nodata cell carries no one
    assert got.notes[0].key == "note_population_grid"


def test_a_grid_study_is_scaled_to_the_units_known_totals(tmp_path: Path) -> None:
    osm, units, grid = _files(tmp_path)
    inputs = StudyInputs(
        osm=str(osm),
        units=UnitsFile(path=str(units)),
        population_grid=PopulationGrid(path=str(grid)),
    )
    demand = build_study_area(inputs).demand
    by_unit = demand.groupby("unit_id")["residents"].sum()
    # C1 knows 400 people: the grid's 120 + 80 there are doubled; C2 keeps the grid's 50;
    # the 30 outside the units are no one's
    assert by_unit.to_dict() == pytest.approx({"C1": 400.0, "C2": 50.0})
    c1 = demand.loc[demand["unit_id"] == "C1"].sort_values("residents")
    assert c1["residents"].tolist() == pytest.approx([160.0, 240.0])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_grid_without_a_crs_exits_2(tmp_path: Path, capsys, lang: str) -> None:
    _files(tmp_path)
    write_grid(tmp_path / "nocrs.tif", crs=None)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[inputs]\nosm = "x.osm"\n[inputs.units]\npath = "units.geojson"\n'
        '[inputs.population_grid]\npath = "nocrs.tif"\n'
        f'[outputs]\noffline = true\nlang = "{lang}"\n',
        encoding="utf-8",
    )
    assert main(["plan", str(plan), "--out", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "nocrs.tif" in err and "inputs.population_grid.path" in err
    assert ("没有坐标系" if lang == "zh" else "no coordinate system") in err
    assert "gdal_edit.py -a_srs" in err


def test_a_grid_with_a_population_file_or_a_missing_band_is_refused(tmp_path: Path) -> None:
    from lifecircle.errors import InputError
    from lifecircle.geo.specs import PopulationFile

    osm, units, grid = _files(tmp_path)
    both = StudyInputs(
        osm=str(osm),
        units=UnitsFile(path=str(units)),
        population=PopulationFile(path=str(units)),
        population_grid=PopulationGrid(path=str(grid)),
    )
    with pytest.raises(InputError, match="both a population file and a population grid"):
        build_study_area(both)
    band = StudyInputs(osm=str(osm), population_grid=PopulationGrid(path=str(grid), band=2))
    with pytest.raises(InputError) as err:
        build_study_area(band)
    assert "inputs.population_grid.band" in str(err.value) and "band 2" in str(err.value)
    assert "第 2 波段" in err.value.text("zh")


def test_a_wgs84_grid_like_worldpops_counts_the_cells_over_the_units(tmp_path: Path) -> None:
    """A grid in degrees (WorldPop's EPSG:4326, here 0.0005° cells of one person each): the
    people in the units are the cells whose centre lies in a unit, or whose homes do
    (counted here with pyproj and shapely, cell by cell)."""
    from pyproj import Transformer
    from shapely.geometry import box

    osm, units, _ = _files(tmp_path)
    west, north = lonlat(-150, 450)
    step, rows, cols = 0.0005, 16, 14
    path = tmp_path / "wgs84.tif"
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "float32"}
    transform = from_origin(west, north, step, step)
    with rasterio.open(path, "w", **profile, crs="EPSG:4326", transform=transform) as dst:
        dst.write(np.ones((rows, cols), dtype="float32"), 1)
    inputs = StudyInputs(
        osm=str(osm),
        units=UnitsFile(path=str(units)),
        population_grid=PopulationGrid(path=str(path)),
    )
    area = build_study_area(inputs)
    # the oracle: cell centres in metres from the fixture's origin
    to_m = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    c1, c2 = box(-40, -190, 200, 340), box(200, -190, 440, 340)
    homes = [(40, 30), (115, 35)]  # the fixture's two homes (1号楼 and the building=yes), in C1
    want = {"C1": 0.0, "C2": 0.0}
    for r in range(rows):
        for c in range(cols):
            lon, lat = west + (c + 0.5) * step, north - (r + 0.5) * step
            x, y = to_m.transform(lon, lat)
            x, y = x - ORIGIN[0], y - ORIGIN[1]
            cell = box(*to_m.transform(west + c * step, north - (r + 1) * step),
                       *to_m.transform(west + (c + 1) * step, north - r * step))  # fmt: skip
            has_home = any(
                cell.contains(shapely.Point(hx + ORIGIN[0], hy + ORIGIN[1])) for hx, hy in homes
            )
            if has_home or c1.contains(shapely.Point(x, y)):
                want["C1"] += 1
            elif c2.contains(shapely.Point(x, y)):
                want["C2"] += 1
    got = area.demand.groupby("unit_id")["residents"].sum().to_dict()
    # C1 knows its population (400): its people are scaled to it; C2's are the grid's
    assert got["C1"] == pytest.approx(400.0)
    assert got["C2"] == pytest.approx(want["C2"]) and want["C2"] > 10
    rules = area.demand.loc[area.demand["unit_id"] == "C1", "use_rule"].value_counts()
    assert rules["population grid, buildings"] == 2
    assert rules["population grid, cell centre"] == want["C1"] - 2
