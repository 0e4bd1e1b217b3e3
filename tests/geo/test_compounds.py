"""Gated compounds and their entrances read from a hand-made OSM file (issue 15).

The file (written by :func:`write_compound_osm`) holds a walled compound between two
streets, drawn in metres on a local azimuthal equidistant projection so that every
distance is exact:

    N0 ------------ N2 ------------ N4      y = 300  (public street)
    |               |closed gate    |
    |    +----------Gn----------+   |       compound: x 50..350, y 50..250
    |    |  P ---- C ---- K ----Ge--E1      y = 150  (east gate: lift_gate, open)
    |    |          |            |  |
    |    +----------Gs----------+   |       south gate: barrier=gate
    S0 ------------ S2 ------------ S4      y = 0

Internal ways: Gs-C-Gn (x = 200) and P-C-K-Ge (y = 150, P at x = 100, K at x = 300).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import box

from lifecircle.cli import _flags_to_doc
from lifecircle.config import plan_from_dict
from lifecircle.errors import PlanFileError
from lifecircle.geo.build import _planner_compounds
from lifecircle.geo.compounds import (
    areas_from_file,
    compounds_from_osm,
    gate_is_open,
    in_mainland_china,
    on_edges,
    point_compounds,
)
from lifecircle.geo.osm import load_compound_features, load_osm
from lifecircle.geo.specs import CompoundsFile

LOCAL = CRS.from_proj4("+proj=aeqd +lat_0=39.96 +lon_0=116.35 +datum=WGS84 +units=m")

NODES = {
    "S0": (0, 0),
    "S2": (200, 0),
    "S4": (400, 0),
    "E1": (400, 150),
    "N4": (400, 300),
    "N2": (200, 300),
    "N0": (0, 300),
    "Gs": (200, 50),
    "C": (200, 150),
    "Gn": (200, 250),
    "P": (100, 150),
    "K": (300, 150),
    "Ge": (350, 150),
    "B1": (50, 50),
    "B2": (350, 50),
    "B3": (350, 250),
    "B4": (50, 250),
}
WAYS = [
    ("street", ["S0", "S2", "S4", "E1", "N4", "N2", "N0", "S0"], {"highway": "residential"}),
    ("south link", ["S2", "Gs"], {"highway": "footway"}),
    ("north link", ["Gn", "N2"], {"highway": "footway"}),
    ("east link", ["Ge", "E1"], {"highway": "service"}),
    ("inner ns", ["Gs", "C", "Gn"], {"highway": "service"}),
    ("inner ew", ["P", "C", "K", "Ge"], {"highway": "footway"}),
]
GATES = {
    "Gs": {"barrier": "gate"},
    "Gn": {"barrier": "gate", "access": "private"},
    "Ge": {"barrier": "lift_gate"},
}


def node_id(name: str) -> int:
    """The OSM id of a named node."""
    return 1000 + list(NODES).index(name)


def write_compound_osm(path: Path, *, gates: bool = True, wall: bool = True) -> Path:
    """Write the compound file (without its gate tags when ``gates`` is False, without the
    compound's polygon when ``wall`` is False)."""
    to_wgs = Transformer.from_crs(LOCAL, "EPSG:4326", always_xy=True)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lon0, lat0 = to_wgs.transform(-100, -100)
    lon1, lat1 = to_wgs.transform(500, 400)
    lines.append(f'<bounds minlat="{lat0}" minlon="{lon0}" maxlat="{lat1}" maxlon="{lon1}"/>')
    for name, (x, y) in NODES.items():
        lon, lat = to_wgs.transform(x, y)
        tags = GATES.get(name, {}) if gates else {}
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<node id="{node_id(name)}" lat="{lat:.10f}" lon="{lon:.10f}">{body}</node>')
    ways = [*WAYS, ("wall", ["B1", "B2", "B3", "B4", "B1"], {"landuse": "residential"})]
    ways = ways if wall else ways[:-1]
    for i, (_label, nds, tags) in enumerate(ways):
        refs = "".join(f'<nd ref="{node_id(n)}"/>' for n in nds)
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<way id="{500 + i}">{refs}{body}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def laid_out(path: Path):  # type: ignore[no-untyped-def]
    """The file's edges (local metres) and its compounds laid on them."""
    edges = load_osm(path).edges.to_crs(LOCAL)
    areas, gates = load_compound_features(path)
    return edges, on_edges(compounds_from_osm(areas, gates, LOCAL), edges)


def test_the_compound_its_internal_ways_and_gates(tmp_path: Path) -> None:
    edges, comp = laid_out(write_compound_osm(tmp_path / "c.osm"))
    assert comp.areas["compound_id"].tolist() == ["way/506"]
    assert comp.areas["kind"].tolist() == ["residential"]
    # (coordinates held to 1e-7 degrees, OSM's precision, about 1 cm: the area to 1e-4)
    assert comp.areas.geometry.iloc[0].area == pytest.approx(300 * 200, rel=1e-4)
    inner = {
        (int(u), int(v))
        for u, v, c in zip(edges["u"], edges["v"], comp.edge_compound, strict=True)
        if c >= 0
    }
    ids = {node_id(n) for n in ["Gs", "C", "Gn", "P", "K", "Ge"]}
    assert inner and all(u in ids and v in ids for u, v in inner)
    assert int((comp.edge_compound >= 0).sum()) == len(inner)
    assert sorted(comp.gates["osm_id"].astype(int)) == sorted(node_id(n) for n in GATES)
    cross = comp.crossings.set_index("node")
    assert sorted(cross.index) == sorted(node_id(n) for n in ["Gs", "Gn", "Ge"])
    assert cross.loc[node_id("Gs"), "entrance"] and cross.loc[node_id("Ge"), "entrance"]
    assert not cross.loc[node_id("Gn"), "entrance"]  # access=private, no foot tag
    assert cross.loc[node_id("Ge"), "gate"] == node_id("Ge")
    assert bool(comp.with_mapped_entrances()[0])


def test_a_compound_without_mapped_gates_is_entered_at_every_crossing(tmp_path: Path) -> None:
    _edges, comp = laid_out(write_compound_osm(tmp_path / "c.osm", gates=False))
    assert not comp.with_mapped_entrances()[0]
    assert comp.crossings["entrance"].all() and len(comp.crossings) == 3
    assert (comp.crossings["gate"] == -1).all()


def test_gate_access_tags_follow_the_foot_profile() -> None:
    assert gate_is_open({"barrier": "gate"})
    assert gate_is_open({"barrier": "entrance", "access": "no", "foot": "permissive"})
    assert not gate_is_open({"barrier": "gate", "access": "no"})
    assert not gate_is_open({"barrier": "lift_gate", "foot": "private"})
    assert not gate_is_open({"barrier": "gate", "locked": "yes"})


def test_nested_areas_are_absorbed_and_points_find_their_compound(tmp_path: Path) -> None:
    path = write_compound_osm(tmp_path / "c.osm")
    refs = "".join(f'<nd ref="{node_id(n)}"/>' for n in ["B1", "B2", "B3", "B1"])
    kindergarten = f'<way id="900">{refs}<tag k="amenity" v="kindergarten"/></way>'
    text = path.read_text(encoding="utf-8").replace("</osm>", kindergarten + "</osm>")
    path.write_text(text, encoding="utf-8")
    _edges, comp = laid_out(path)
    assert comp.areas["compound_id"].tolist() == ["way/506"]
    assert comp.areas["absorbed"].tolist() == ["way/900"]
    pts = shapely.points([(200, 150), (10, 10), (349, 249)])
    assert point_compounds(pts, comp).tolist() == [0, -1, 0]


def test_mainland_china_box() -> None:
    assert in_mainland_china(116.35, 39.96)  # Beijing
    assert not in_mainland_china(24.94, 60.17)  # Helsinki


def test_the_planners_compounds_file_replaces_osm_areas(tmp_path: Path) -> None:
    path = write_compound_osm(tmp_path / "c.osm")
    to_wgs = Transformer.from_crs(LOCAL, "EPSG:4326", always_xy=True)
    walled = shapely.transform(
        box(50, 50, 350, 250), lambda xy: np.column_stack(to_wgs.transform(*xy.T))
    )
    other = shapely.transform(
        box(-90, -90, -60, -60), lambda xy: np.column_stack(to_wgs.transform(*xy.T))
    )
    layer = gpd.GeoDataFrame(
        {"名称": ["北区", "空地"], "gated": ["是", "no"]}, geometry=[walled, other], crs="EPSG:4326"
    )
    layer.to_file(tmp_path / "compounds.geojson")
    areas = _planner_compounds(
        CompoundsFile(path=str(tmp_path / "compounds.geojson"), gated_col="gated")
    )
    assert len(areas) == 1 and areas["tags"].iloc[0]["name"] == "北区"
    edges = load_osm(path).edges.to_crs(LOCAL)
    _areas, gates = load_compound_features(path)
    comp = on_edges(compounds_from_osm(areas, gates, LOCAL), edges)
    assert comp.areas["kind"].tolist() == ["planner"]
    assert comp.areas["name"].tolist() == ["北区"]
    cross = comp.crossings.set_index("node")["entrance"]
    assert cross.to_dict() == {node_id("Gs"): True, node_id("Gn"): False, node_id("Ge"): True}


def test_a_gated_value_that_is_not_yes_or_no_is_a_problem() -> None:
    frame = gpd.GeoDataFrame(
        {"gated": ["yes", "maybe"]}, geometry=[box(0, 0, 1, 1), box(2, 2, 3, 3)], crs="EPSG:4326"
    )
    areas, problems = areas_from_file(frame, None, "gated", "c.geojson")
    assert len(areas) == 2
    assert [p.key for p in problems] == ["compound_gated"]
    assert problems[0].place == ("row", 2) and "maybe" in problems[0].message


def test_plan_file_and_flag_set_the_compounds(tmp_path: Path) -> None:
    (tmp_path / "x.osm").write_text("", encoding="utf-8")
    (tmp_path / "c.geojson").write_text("", encoding="utf-8")
    doc = {
        "inputs": {"osm": "x.osm", "compounds": {"path": "c.geojson", "gated_col": "封闭"}},
        "analysis": {"compounds": "gated"},
    }
    inputs = plan_from_dict(doc, base=tmp_path).study_inputs()
    assert inputs.compounds == "gated"
    assert inputs.compounds_file is not None and inputs.compounds_file.gated_col == "封闭"
    assert Path(inputs.compounds_file.path) == tmp_path / "c.geojson"
    assert (
        plan_from_dict({"inputs": {"osm": "x.osm"}}, base=tmp_path).study_inputs().compounds
        == "auto"
    )
    with pytest.raises(PlanFileError):
        plan_from_dict(
            {"inputs": {"osm": "x.osm"}, "analysis": {"compounds": "walled"}}, base=tmp_path
        )
    assert _flags_to_doc({"compounds": "open"}) == {"analysis": {"compounds": "open"}}
