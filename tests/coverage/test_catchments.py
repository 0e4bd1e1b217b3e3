"""Catchment polygons: areas and holes by hand, exact cuts, barriers, and Helsinki."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from lifecircle.analysis import run_plan
from lifecircle.coverage.catchments import catchment, catchments, reached_pieces
from lifecircle.coverage.network import WalkNetwork
from lifecircle.params import PlanParams
from tests.conftest import lines

WIDTH = 40.0
# the consistency check works on 5 m cells, and the taper on 5 m pieces: edges may be off
# by up to a cell and a half
CELL_SLACK = 7.5
# GEOS draws a round cap with 4 x 8 = 32 segments: a regular 32-gon of radius 40
DISK = 0.5 * 32 * WIDTH**2 * math.sin(2 * math.pi / 32)


def pt(x: float, y: float) -> np.ndarray:
    return shapely.points(np.array([[x, y]], dtype=float))


def test_straight_street_catchment_area_by_hand() -> None:
    net = WalkNetwork.from_edges(lines([(1, 2, [(0, 0), (1000, 0)])]))
    src = net.snap(pt(500, 0))
    poly = catchment(net, src, 300.0, width_m=WIDTH, taper=False, consistent=False)
    # reached: x from 200 to 800; a 600 x 80 rectangle with a round cap at each end
    assert poly.area == pytest.approx(600 * 2 * WIDTH + DISK, rel=1e-9)
    assert poly.bounds == pytest.approx((200 - WIDTH, -WIDTH, 800 + WIDTH, WIDTH))


def test_cut_points_are_exact() -> None:
    # a main street and a side street from x=600; the facility at x=0; band 800 m
    net = WalkNetwork.from_edges(
        lines(
            [
                (1, 2, [(0, 0), (600, 0)]),
                (2, 3, [(600, 0), (1000, 0)]),
                (2, 4, [(600, 0), (600, 500)]),
            ]
        )
    )
    reached, _ = reached_pieces(net, net.snap(pt(0, 0)), 800.0)
    total = float(shapely.length(reached).sum())
    assert total == pytest.approx(800 + 200, abs=1e-9)  # 800 along the main street, 200 up the side
    ends = shapely.get_coordinates(reached)
    assert [800.0, 0.0] in ends.round(9).tolist() and [600.0, 200.0] in ends.round(9).tolist()


def test_a_block_walked_all_round_has_its_hole() -> None:
    ring = [(0, 0), (400, 0), (400, 400), (0, 400)]
    rows = [(i + 1, (i + 1) % 4 + 1, [ring[i], ring[(i + 1) % 4]]) for i in range(4)]
    net = WalkNetwork.from_edges(lines(rows))
    poly = catchment(net, net.snap(pt(0, 0)), 2000.0, width_m=WIDTH, taper=False, consistent=False)
    assert poly.geom_type == "Polygon" and len(poly.interiors) == 1
    hole = shapely.Polygon(poly.interiors[0])
    assert hole.area == pytest.approx((400 - 2 * WIDTH) ** 2, rel=1e-9)  # sharp inner corners
    corner_loss = 4 * (WIDTH**2 - DISK / 4)  # rounded outer corners
    assert poly.area == pytest.approx((400 + 2 * WIDTH) ** 2 - corner_loss - hole.area, rel=1e-9)


def test_the_catchment_does_not_jump_a_river() -> None:
    # two parallel streets 200 m apart (a river between), joined only at their west end
    rows = [
        (1, 2, [(0, 0), (1000, 0)]),
        (3, 4, [(0, 200), (1000, 200)]),
        (1, 3, [(0, 0), (0, 200)]),
    ]
    net = WalkNetwork.from_edges(lines(rows))
    src = net.snap(pt(1000, 0))
    poly = catchment(net, src, 1400.0, width_m=WIDTH)
    across = pt(900, 200)[0]  # 200 m straight across the river, 2,100 m on foot
    river = pt(500, 100)[0]
    reached_west = pt(150, 200)[0]  # 1,000 + 200 + 150 = 1,350 m on foot
    assert not poly.contains(across) and not poly.contains(river)
    assert poly.contains(reached_west)
    d, _ = net.distances(src, net.snap(np.array([[900.0, 200.0]])))
    assert d[0] == pytest.approx(2100.0)
    # what the convex hull of the reached nodes claims instead
    reach = net.reach(src, limit_m=1400.0)
    nodes = np.array([[1000, 0], [0, 0], [0, 200], [1000, 200]], dtype=float)
    reached_nodes = nodes[np.isfinite(reach.dist[[1, 0, 2, 3]])]
    hull = shapely.convex_hull(shapely.multipoints(np.vstack([reached_nodes, [[200, 200]]])))
    assert hull.contains(river)  # the hull bridges the river; the catchment does not


def test_bands_are_nested_and_from_one_search() -> None:
    net = WalkNetwork.from_edges(lines([(1, 2, [(0, 0), (1000, 0)])]))
    src = net.snap(np.array([[500.0, 5.0]]))
    groups = np.array(["a"], dtype=object)
    frame = catchments(
        net, src, groups, [100, 300, 200], width_m=10.0, taper=False, consistent=False
    )
    assert frame["band_m"].tolist() == [300.0, 200.0, 100.0]
    geoms = frame.geometry.to_numpy()
    assert geoms[0].contains(geoms[1]) and geoms[1].contains(geoms[2])
    # the 5 m access leg counts: 100 m reaches 95 m each way along the street
    assert geoms[2].bounds[0] == pytest.approx(500 - 95 - 10.0)
    tapered = catchments(net, src, groups, [100], width_m=10.0)
    assert tapered.geometry.iloc[0].bounds[0] == pytest.approx(
        500 - 95, abs=1.0
    )  # nothing past the cut


def test_tapering_follows_the_walk_left() -> None:
    """Beside a point walked p metres the catchment is min(width, band - p) wide."""
    net = WalkNetwork.from_edges(lines([(1, 2, [(0, 0), (1000, 0)])]))
    poly = catchment(net, net.snap(pt(500, 0)), 300.0, width_m=WIDTH)
    assert poly.bounds[0] == pytest.approx(200, abs=1.0) and poly.bounds[2] == pytest.approx(
        800, abs=1.0
    )

    def half_width(x: float) -> float:
        cut = poly.intersection(shapely.LineString([(x, -100), (x, 100)]))
        return cut.length / 2

    assert half_width(600) == pytest.approx(WIDTH)  # walked 100 m: the full width
    for x in (740.0, 760.0, 780.0, 790.0):
        # walked 240 to 290 m: 60 to 10 m left (at most the width); the shape is drawn from
        # 5 m pieces and checked on 5 m cells, so it may be off by one cell
        left = min(WIDTH, 300 - (x - 500))
        assert left - CELL_SLACK <= half_width(x) <= left + CELL_SLACK


def test_points_nearer_a_street_walked_farther_are_cut_away() -> None:
    # street A (y=0) has the facility; street B (y=30) joins A only 2 km away
    rows = [
        (1, 2, [(0, 0), (400, 0)]),
        (3, 4, [(0, 30), (400, 30)]),
        (2, 5, [(400, 0), (2400, 0)]),
        (5, 6, [(2400, 0), (2400, 30)]),
        (6, 4, [(2400, 30), (400, 30)]),
    ]
    net = WalkNetwork.from_edges(lines(rows))
    src = net.snap(pt(200, 0))
    home = pt(200, 22)[0]  # 22 m from A, 8 m from B: a resident here joins B
    plain = catchment(net, src, 300.0, width_m=WIDTH, consistent=False)
    fair = catchment(net, src, 300.0, width_m=WIDTH)
    assert plain.contains(home) and not fair.contains(home)
    d, _ = net.distances(src, net.snap(np.array([[200.0, 22.0]])), limit_m=1e9)
    assert d[0] > 300  # indeed not covered
    assert fair.contains(pt(200, -30)[0])  # the other side of A, nearest A, stays


def test_helsinki_polygons_agree_with_network_coverage(helsinki_area, helsinki_network) -> None:
    """Residents inside each category's polygon vs within its threshold on the network."""
    from lifecircle.coverage.access import access_points, nearest_facilities

    area, net = helsinki_area, helsinki_network
    access = nearest_facilities(net, area.demand, area.facilities, area.catalog, speed_kmh=4.0)
    pts, fac_of = access_points(area.facilities)
    snaps = net.snap(pts)
    cats = area.facilities["category"].to_numpy()[fac_of]
    res = area.demand["residents"].to_numpy()
    homes = area.demand.geometry.to_numpy()
    agree = total = 0.0
    outside_but_covered = inside_but_not = 0.0
    for k, cat in enumerate(access.categories):
        sel = np.flatnonzero(cats == cat)
        if len(sel) == 0:
            continue
        poly = catchment(
            net,
            snaps.take(sel),
            float(access.thresholds_m[k]),
            width_m=WIDTH,
            source_points=pts[sel],
        )
        inside = shapely.contains(poly, homes)
        covered = access.covered[:, k]
        agree += res[inside == covered].sum()
        total += res.sum()
        outside_but_covered += res[covered & ~inside].sum()
        inside_but_not += res[inside & ~covered].sum()
        # a covered home outside the polygon has an access leg longer than the width, or
        # stands within a cell of the edge (the check is made on 5 m cells)
        out = np.flatnonzero(covered & ~inside)
        near_edge = shapely.distance(poly.boundary, homes[out]) <= CELL_SLACK
        assert ((access.demand_snap.access_m[out] > WIDTH - 1e-6) | near_edge).all()
    share = agree / total
    print(
        f"\nHelsinki catchment agreement: {share:.1%} of residents; covered but outside: "
        f"{outside_but_covered / total:.1%}; inside but not covered: {inside_but_not / total:.1%}"
    )
    assert share >= 0.95


def test_catchments_are_left_out_on_networks_above_the_limit_with_a_note(helsinki_area) -> None:
    params = PlanParams(placements=(), catchments_max_edges=1000)
    result = run_plan(helsinki_area, params)
    assert result.catchments is None
    note = next(n for n in result.notes if n.key == "note_catchments_skipped")
    assert f"{result.network.n_edges} edges" in note.text("en")
    assert "1000" in note.text("en") and "1000" in note.text("zh")
    # the coverage itself is whole: every resident point has its distances
    assert result.access.distance_m.shape == (
        len(helsinki_area.demand),
        len(result.access.categories),
    )
