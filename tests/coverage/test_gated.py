"""Walking with gated compounds (issue 15): hand-computed distances on the walled compound
of :mod:`tests.geo.test_compounds`, each also checked against an independent oracle.

The oracle knows the fixture, not the module: which ways are inside (both ends among the
compound's nodes), which nodes are entrances, and which points are inside (the rectangle);
it snaps by brute force over the ways a point may join and, for every facility-resident
pair, runs networkx on a state graph whose nodes carry the walk's phase: still in the
facility's compound, on public ways, or in the resident's compound.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from lifecircle.coverage.access import (
    Access,
    _search,
    access_notes,
    nearest_facilities,
    plan_access,
)
from lifecircle.coverage.gated import GatedNetwork
from lifecircle.coverage.network import WalkNetwork
from lifecircle.coverage.walls import compound_ranking, open_compounds_table, walls_notes
from lifecircle.geo.build import StudyInputs, build_study_area
from lifecircle.geo.catalog import Category, ServiceCatalog
from lifecircle.geo.study_area import StudyArea
from lifecircle.params import PlanParams
from tests.conftest import SHARED_DATA
from tests.geo.test_compounds import LOCAL, laid_out, node_id, write_compound_osm

INSIDE_NODES = {node_id(n) for n in ["Gs", "C", "Gn", "P", "K", "Ge"]}

FACILITIES = {"shop": (150, 310), "kindergarten": (250, 160), "park": (120, 160)}
RESIDENTS = {
    "out": (210, -10),
    "member": (290, 160),
    "north": (190, 240),
    "east": (410, 140),
    "wall": (60, 60),
    "north_out": (190, 310),
}
WALL = float(np.hypot(40, 90))  # (60, 60) to its compound's nearest way, at P (100, 150)

# hand-computed walks (metres), gates mapped: south and east open, north closed
GATED = {
    ("shop", "out"): 680,  # around the compound: 10 + 210 + 300 + 150 + 10
    ("shop", "member"): 530,  # out through the east gate: 10 + 60 + 50 + 150 + 250 + 10
    ("shop", "north"): 710,  # not through the closed north gate: 10 + 90 + 150 + 450 + 10
    ("shop", "east"): 430,
    ("shop", "wall"): WALL + 100 + 150 + 50 + 150 + 250 + 10,
    ("shop", "north_out"): 60,
    ("kindergarten", "out"): 230,  # a visitor in through the south gate
    ("kindergarten", "east"): 180,  # in through the east gate
    ("kindergarten", "member"): 60,
    ("kindergarten", "north"): 160,
    ("kindergarten", "wall"): WALL + 150 + 10,
    ("kindergarten", "north_out"): 530,  # round to the east gate: 10 + 210 + 150 + 50 + 100 + 10
    ("park", "out"): np.inf,  # members only
    ("park", "east"): np.inf,
    ("park", "north_out"): np.inf,
    ("park", "member"): 190,
    ("park", "north"): 190,
    ("park", "wall"): WALL + 20 + 10,
}
# no gate mapped: the compound is entered at every crossing (still nobody walks through)
UNMAPPED = {
    **GATED,
    ("shop", "member"): 310,
    ("shop", "north"): 130,
    ("shop", "wall"): WALL + 100 + 100 + 100 + 10,
    ("kindergarten", "north_out"): 10 + 10 + 50 + 100 + 50 + 10,
}
# compounds open: every way is public
OPEN = {
    ("shop", "out"): 380,
    ("shop", "member"): 310,
    ("shop", "north"): 130,
    ("kindergarten", "out"): 230,
    ("park", "out"): 260,
}


def catalog() -> ServiceCatalog:
    cats = tuple(
        Category(c, c, c, "15min", "basic", True, threshold_m=1000, members_only=c == "park")
        for c in FACILITIES
    )
    return ServiceCatalog("t", "t", "t", "test", cats)


def frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    fac = gpd.GeoDataFrame(
        {"category": list(FACILITIES), "facility_id": list(FACILITIES)},
        geometry=shapely.points(list(FACILITIES.values())),
        crs=LOCAL,
    )
    dem = gpd.GeoDataFrame(
        {"demand_id": list(RESIDENTS)}, geometry=shapely.points(list(RESIDENTS.values())), crs=LOCAL
    )
    return fac, dem


def access_table(
    path: Path, gated: bool
) -> tuple[dict[tuple[str, str], float], tuple[gpd.GeoDataFrame, Access]]:
    edges, comp = laid_out(path)
    edges["compound"] = comp.edge_compound
    net = WalkNetwork.from_edges(edges)
    g = GatedNetwork.build(net, comp, comp.edge_compound) if gated else None
    fac, dem = frames()
    acc = nearest_facilities(net, dem, fac, catalog(), gated=g)
    table = {
        (cat, r): float(acc.distance_m[i, acc.column(cat)])
        for cat in FACILITIES
        for i, r in enumerate(RESIDENTS)
    }
    return table, (edges, acc)


# ---------------------------------------------------------------------- the oracle
def _oracle_snap(edges: gpd.GeoDataFrame, inside: np.ndarray, xy: tuple[float, float], me: bool):
    """Brute force: the nearest way among those the point may join (its compound's, or
    the public ones)."""
    pt = shapely.Point(xy)
    allowed = np.flatnonzero(inside == me)
    d = shapely.distance(edges.geometry.to_numpy()[allowed], pt)
    e = int(allowed[np.argmin(d)])
    return e, float(edges.geometry.iloc[e].project(pt)), float(d.min())


def oracle(path: Path, entrances: set[int], open_all: bool = False) -> dict:
    edges = load_edges(path)
    u, v = edges["u"].to_numpy(), edges["v"].to_numpy()
    inside = np.array([a in INSIDE_NODES and b in INSIDE_NODES for a, b in zip(u, v, strict=True)])
    if open_all:
        inside[:] = False

    def is_in(xy: tuple[float, float]) -> bool:
        return not open_all and 50 < xy[0] < 350 and 50 < xy[1] < 250

    out = {}
    for cat, fxy in FACILITIES.items():
        for r, rxy in RESIDENTS.items():
            out[(cat, r)] = _pair(
                edges, inside, entrances, (fxy, is_in(fxy)), (rxy, is_in(rxy)), cat == "park"
            )
    return out


def _pair(edges, inside, entrances, fac, res, members_only) -> float:  # type: ignore[no-untyped-def]
    """The shortest walk from a facility to a resident by the rule, on a phase graph."""
    (fxy, f_in), (rxy, r_in) = fac, res
    if members_only and f_in and not r_in:
        return np.inf
    cuts: dict[int, list[tuple[float, str, float]]] = defaultdict(list)
    for name, xy, me in (("F", fxy, f_in), ("R", rxy, r_in)):
        e, s, a = _oracle_snap(edges, inside, xy, me)
        cuts[e].append((s, name, a))
    pieces = []  # (a, b, length, inside)
    for e, (a, b, geom) in enumerate(zip(edges["u"], edges["v"], edges.geometry, strict=True)):
        prev, prev_s = int(a), 0.0
        for s, name, acc in sorted(cuts.get(e, [])):
            pieces.append((prev, ("cut", name), s - prev_s, inside[e]))
            pieces.append((("cut", name), name, acc, inside[e]))
            prev, prev_s = ("cut", name), s
        pieces.append((prev, int(b), geom.length - prev_s, inside[e]))
    G = nx.DiGraph()
    layers = {0: f_in, 1: None, 2: r_in}  # which ways each phase may walk
    for a, b, w, ins in pieces:
        for layer, wanted in layers.items():
            if (layer == 1 and not ins) or (layer != 1 and wanted and ins):
                G.add_edge((a, layer), (b, layer), w=w)
                G.add_edge((b, layer), (a, layer), w=w)
    nodes = {x for x, _layer in G.nodes}
    for n in nodes & entrances:
        if not members_only:
            G.add_edge((n, 0), (n, 1), w=0.0)
        G.add_edge((n, 1), (n, 2), w=0.0)
    if f_in and r_in:  # the same compound: a walk along its ways alone
        for x in nodes:
            G.add_edge((x, 0), (x, 2), w=0.0)
    src, dst = ("F", 0 if f_in else 1), ("R", 2 if r_in else 1)
    try:
        return float(nx.dijkstra_path_length(G, src, dst, weight="w"))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return np.inf


def load_edges(path: Path) -> gpd.GeoDataFrame:
    edges, _comp = laid_out(path)
    return edges


# ---------------------------------------------------------------------- the tests
def _check(table: dict, hand: dict, ref: dict) -> None:
    # the reader holds coordinates to 1e-7 degrees, OSM's precision: a node moves by up
    # to 6 mm, so walks agree with the hand's to 2 cm
    for key, want in hand.items():
        assert table[key] == pytest.approx(want, abs=2e-2), key
    for key, want in ref.items():
        assert table[key] == pytest.approx(want, abs=1e-6), ("oracle", key)


def test_gated_walks_match_hand_and_oracle(tmp_path: Path) -> None:
    path = write_compound_osm(tmp_path / "c.osm")
    table, _ = access_table(path, gated=True)
    ref = oracle(path, {node_id("Gs"), node_id("Ge")})
    _check(table, GATED, ref)


def test_unmapped_compound_is_entered_at_every_crossing(tmp_path: Path) -> None:
    path = write_compound_osm(tmp_path / "c.osm", gates=False)
    table, _ = access_table(path, gated=True)
    ref = oracle(path, {node_id("Gs"), node_id("Ge"), node_id("Gn")})
    _check(table, UNMAPPED, ref)


def test_open_compounds_are_walked_through(tmp_path: Path) -> None:
    path = write_compound_osm(tmp_path / "c.osm")
    table, _ = access_table(path, gated=False)
    _check(table, OPEN, oracle(path, set(), open_all=True))


def test_a_point_near_the_wall_joins_its_own_compound(tmp_path: Path) -> None:
    path = write_compound_osm(tmp_path / "c.osm")
    _table, (_edges, acc) = access_table(path, gated=True)
    i = list(RESIDENTS).index("wall")
    assert acc.demand_compound is not None
    assert acc.demand_compound.tolist() == [-1, 0, 0, -1, 0, -1]
    assert acc.demand_snap.access_m[i] == pytest.approx(
        WALL, abs=2e-2
    )  # OSM holds coordinates to 1e-7 degrees: about 1 cm
    _open, (_e, acc_open) = access_table(path, gated=False)
    assert acc_open.demand_snap.access_m[i] == pytest.approx(60.0, abs=2e-2)  # across the wall


BUPT = SHARED_DATA / "beijing-bupt" / "map.osm"


@pytest.mark.skipif(not BUPT.is_file(), reason="../shared/data/beijing-bupt is not here")
def test_beijing_bupt_gated_walks_are_never_shorter_than_open_ones() -> None:
    """On real data: the campuses and their gates are found, residents inside walk from
    their campus's ways, and no gated walk beats the open walk between the same points."""
    area = build_study_area(StudyInputs(osm=str(BUPT), grid_m=100))  # auto: Beijing, gated
    assert area.compounds is not None and len(area.compounds) == 3
    assert area.compounds.crossings is not None
    assert int(area.compounds.crossings["entrance"].sum()) == 6
    net = WalkNetwork.from_edges(area.edges)
    acc = plan_access(net, area, PlanParams())
    assert acc.demand_compound is not None and (acc.demand_compound >= 0).any()
    assert acc.facility_snap is not None
    cats = acc.categories
    point_cat = area.facilities["category"].to_numpy()[acc.facility_of]
    open_d, _w, _c = _search(
        net,
        net.locate(acc.demand_snap),
        (acc.facility_snap, acc.facility_of, point_cat),
        cats,
        acc.thresholds_m,
        acc.limits_m,
        False,
    )
    assert (acc.distance_m >= open_d - 1e-6).all()
    assert (acc.distance_m > open_d + 1).any()  # some walks do go round


def fixture_area(path: Path) -> StudyArea:
    """The walled compound as a whole study: one unit, one resident per point."""
    edges, comp = laid_out(path)
    edges["compound"] = comp.edge_compound
    fac, dem = frames()
    dem["residents"] = 1.0
    dem["unit_id"] = "u"
    units = gpd.GeoDataFrame({"unit_id": ["u"]}, geometry=[box(-100, -100, 500, 400)], crs=LOCAL)
    return StudyArea(
        crs=LOCAL,
        units=units,
        demand=dem,
        facilities=fac,
        edges=edges,
        catalog=catalog(),
        extent=box(-100, -100, 500, 400),
        compounds=comp,
    )


def test_walls_cost_table_and_ranking(tmp_path: Path) -> None:
    area = fixture_area(write_compound_osm(tmp_path / "c.osm"))
    net = WalkNetwork.from_edges(area.edges)
    params = PlanParams()
    gated = plan_access(net, area, params)
    table = open_compounds_table(net, area, params, gated).set_index("category")
    # the park serves members only (3 of the 6 points) while the compound is gated
    assert table.loc["park", "gated_share"] == pytest.approx(0.5)
    assert table.loc["park", "open_share"] == pytest.approx(1.0)
    assert table.loc["shop", "gated_share"] == table.loc["shop", "open_share"] == 1.0
    ranking = compound_ranking(net, area, params, gated)
    assert ranking["compound_id"].tolist() == ["way/506"]
    assert ranking["residents_inside"].tolist() == [3.0]
    assert ranking["park"].tolist() == [3.0] and ranking["newly_covered"].tolist() == [3.0]
    notes = walls_notes(table.reset_index(), ranking, area)
    assert [n.key for n in notes] == ["note_compounds_open_scenario", "note_compounds_ranking"]
    assert "park 50.0% → 100.0%" in notes[0].text("en")


def test_no_compound_walks_as_open(tmp_path: Path) -> None:
    path = write_compound_osm(tmp_path / "c.osm", wall=False)
    edges, comp = laid_out(path)
    assert len(comp) == 0 and (comp.edge_compound == -1).all()
    net = WalkNetwork.from_edges(edges)
    fac, dem = frames()
    gated = nearest_facilities(
        net, dem, fac, catalog(), gated=GatedNetwork.build(net, comp, comp.edge_compound)
    )
    opened = nearest_facilities(net, dem, fac, catalog())
    assert np.array_equal(gated.distance_m, opened.distance_m)
    assert np.array_equal(gated.facility, opened.facility)


def test_a_compound_without_ways_lets_its_residents_walk_from_outside(tmp_path: Path) -> None:
    area = fixture_area(write_compound_osm(tmp_path / "c.osm"))
    edges = area.edges.loc[area.edges["compound"] < 0].reset_index(drop=True)
    area = dataclasses.replace(area, edges=edges)
    net = WalkNetwork.from_edges(area.edges)
    acc = plan_access(net, area, PlanParams())
    assert acc.demand_compound is not None and (acc.demand_compound == -1).all()
    notes = [n for n in access_notes(acc, area, 0) if n.key == "note_compounds_no_ways"]
    assert [n.values for n in notes] == [{"n": 1, "points": 3}]
    # the member at (290, 160) joins the east link (350..400, 150) at its end
    assert acc.demand_snap.access_m[list(RESIDENTS).index("member")] == pytest.approx(
        np.hypot(60, 10), abs=2e-2
    )  # OSM holds coordinates to 1e-7 degrees: about 1 cm
