"""The data a Beijing planning office holds, together, on the real BUPT extract (issue 17):
its own buildings with 层数 and 用途, an Amap POI export in GCJ-02, and communities with
their census population and children aged 3-5. One plan, run end to end by the CLI; every
figure checked against what the test computes from the files it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from lifecircle.cli import main
from lifecircle.geo.osm import load_osm
from tests.geo.test_poi import _amap_frame, _check_facilities, _expected

BUPT = Path(__file__).resolve().parents[2] / "shared" / "data" / "beijing-bupt" / "map.osm"
SHIFT = (350.0, 300.0)  # the Amap rows moved into the extract (as tests.geo.test_poi does)
# two communities splitting the extract at 116.352 E: census residents and children 3-5
COMMUNITIES = {"西社区": (116.3485, 116.352, 5000, 120), "东社区": (116.352, 116.3555, 3000, 40)}


def _write(tmp: Path) -> Path:
    b = load_osm(BUPT).buildings
    kind = b["building"].astype(str)
    uses = np.where(kind.isin(["apartments", "residential", "dormitory"]), "住宅", "办公")
    floors = [str(3 + i % 15) for i in range(len(b))]
    gpd.GeoDataFrame(
        {"层数": floors, "用途": uses}, geometry=b.geometry.to_numpy(), crs=b.crs
    ).to_file(tmp / "buildings.gpkg")
    _amap_frame(shift=SHIFT).to_csv(tmp / "amap.csv", index=False)
    features = [
        {
            "type": "Feature",
            "properties": {"社区名称": name, "常住人口": pop, "age_3_5": kids},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[w, 39.9565], [e, 39.9565], [e, 39.964], [w, 39.964], [w, 39.9565]]
                ],
            },
        }
        for name, (w, e, pop, kids) in COMMUNITIES.items()
    ]
    (tmp / "communities.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    plan = tmp / "plan.toml"
    plan.write_text(
        f'catalog = "gb50180"\n[inputs]\nosm = "{BUPT}"\nosm_facilities = false\n'
        '[inputs.units]\npath = "communities.geojson"\nid_col = "社区名称"\n'
        'population_col = "常住人口"\n'
        '[inputs.buildings]\npath = "buildings.gpkg"\n'
        '[[inputs.facilities]]\npath = "amap.csv"\n'
        "[analysis]\ncatchments = false\n"
        '[outputs]\nlang = "en"\nformats = ["csv", "xlsx", "gpkg"]\n',
        encoding="utf-8",
    )
    return plan


@pytest.mark.skipif(
    not BUPT.is_file(), reason="../shared/data/beijing-bupt is not beside this clone"
)
def test_an_offices_buildings_amap_export_and_census_groups_on_bupt(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["plan", str(_write(tmp_path)), "--out", str(out), "-q"]) == 0
    access = pd.read_csv(out / "access.csv", encoding="utf-8-sig")
    # residents from the office's homes (住宅) only, scaled to each community's census total
    per_unit = access.groupby("unit_id")["residents"].sum()
    for name, (_w, _e, pop, _kids) in COMMUNITIES.items():
        assert per_unit[name] == pytest.approx(pop, abs=0.05 * (access["unit_id"] == name).sum())
    # the Amap rows are the facilities, per category, within 1 m of their WGS-84 places
    facilities = pyogrio.read_dataframe(out / "results.gpkg", layer="facilities")
    assert set(facilities["source"]) == {"amap.csv"}
    _check_facilities(facilities, _expected(shift=SHIFT))
    wb = load_workbook(out / "report.xlsx", read_only=True)
    assert "POI codes audit" in wb.sheetnames
    # kindergarten coverage is of the children 3-5, by brute force from the access table
    res = access["residents"].to_numpy(float)
    unit_total = access.groupby("unit_id")["residents"].transform("sum").to_numpy(float)
    kids_of = {n: k for n, (_w, _e, _p, k) in COMMUNITIES.items()}
    kids = access["unit_id"].map(kids_of).to_numpy(float) * res / unit_total
    within = access["kindergarten_m"].fillna(np.inf).to_numpy(float) <= 300.0
    assert 0 < within.sum() < len(access)
    summary = pd.read_csv(out / "coverage_summary.csv", encoding="utf-8-sig")
    row = summary.set_index("category").loc["kindergarten"]
    assert row["age_group"] == "3-5" and row["demand"] == pytest.approx(160.0, rel=1e-6)
    assert row["share"] == pytest.approx(kids[within].sum() / kids.sum(), rel=1e-3)
