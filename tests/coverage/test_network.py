"""The walk network: snapping and exact walking distances.

Hand-computed cases on small graphs, and the networkx oracle (points inserted as nodes
that split their edges) on the real Helsinki network.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

from lifecircle.coverage.network import WalkNetwork
from tests.conftest import assert_aligned, lines
from tests.oracle import oracle_distances, split_graph

# A-B-C along the x axis (A=1 at 0, B=2 at 100, C=3 at 300), a dead end B-D north of B
# (D=4 at (100, 80)), and an island E-F far away (E=5, F=6).
ROWS = [
    (1, 2, [(0, 0), (100, 0)]),
    (2, 3, [(100, 0), (300, 0)]),
    (2, 4, [(100, 0), (100, 80)]),
    (5, 6, [(0, 1000), (50, 1000)]),
]


@pytest.fixture
def net() -> WalkNetwork:
    return WalkNetwork.from_edges(lines(ROWS))


def pts(*xy: tuple[float, float]) -> np.ndarray:
    return shapely.points(np.array(xy, dtype=float))


def test_snap_is_to_the_nearest_edge_with_its_access_leg(net: WalkNetwork) -> None:
    s = net.snap(pts((50, 10), (250, -5), (103, 40)))
    assert net.node_ids[net.u[s.edge]].tolist() == [1, 2, 2]
    np.testing.assert_allclose(s.t, [0.5, 0.75, 0.5])
    np.testing.assert_allclose(s.access_m, [10, 5, 3])


def test_distance_along_edges_plus_both_access_legs(net: WalkNetwork) -> None:
    # facility at x=50 (10 m off A-B), resident at x=250 (5 m off B-C):
    # 10 + (100 - 50) + (250 - 100) + 5 = 215
    d, w = net.distances(net.snap(pts((50, 10))), net.snap(pts((250, -5))))
    assert d.tolist() == pytest.approx([215.0], abs=1e-9)
    assert w.tolist() == [0]


def test_two_points_on_the_same_edge_walk_directly(net: WalkNetwork) -> None:
    # both on A-B: 3 + (70 - 20) + 4 = 57, not via a node (20 + 70 = 90 + legs)
    d, _ = net.distances(net.snap(pts((20, 3))), net.snap(pts((70, -4))))
    assert d.tolist() == pytest.approx([57.0], abs=1e-9)


def test_nearest_of_several_sources_and_its_index(net: WalkNetwork) -> None:
    facilities = net.snap(pts((0, 0), (290, 0), (100, 80)))
    targets = net.snap(pts((60, 0), (200, 0), (100, 30)))
    d, w = net.distances(facilities, targets)
    # (60,0): A at 60 / D at 40+80=120 -> 60 from 0; (200,0): 90 to the one at 290;
    # (100,30): on the dead end, 50 from D
    assert d.tolist() == pytest.approx([60.0, 90.0, 50.0])
    assert w.tolist() == [0, 1, 2]


def test_dead_end_is_walked_out_and_back(net: WalkNetwork) -> None:
    # from the tip of the dead end (100, 80) to (150, 0): 80 down + 50 along
    d, _ = net.distances(net.snap(pts((100, 80))), net.snap(pts((150, 0))))
    assert d.tolist() == pytest.approx([130.0])


def test_island_reaches_nothing_off_the_island(net: WalkNetwork) -> None:
    facility = net.snap(pts((0, 0)))
    island = net.snap(pts((25, 1000)))
    d, w = net.distances(facility, island)
    assert np.isinf(d[0]) and w[0] == -1
    assert sorted(net.component_size.tolist()) == [2, 4]
    # and on the island itself distances are normal
    d2, _ = net.distances(net.snap(pts((0, 1000))), island)
    assert d2.tolist() == pytest.approx([25.0])


def test_points_beyond_the_snap_distance_are_unreachable(net: WalkNetwork) -> None:
    # (400, 400) is 412 m from C and 438 m from the dead end's tip: not snapped;
    # (300, 240) is 240 m from C (256 m from the tip): snapped at C
    s = net.snap(pts((400, 400), (300, 240)), max_snap_m=250)
    assert s.edge.tolist()[0] == -1 and s.edge.tolist()[1] >= 0
    assert s.access_m[1] == pytest.approx(240.0)
    d, w = net.distances(net.snap(pts((150, 0))), s)
    assert np.isinf(d[0]) and w[0] == -1
    assert d[1] == pytest.approx(150.0 + 240.0)


def test_limit_bounds_the_search(net: WalkNetwork) -> None:
    d, w = net.distances(net.snap(pts((0, 0))), net.snap(pts((250, 0), (90, 0))), limit_m=200)
    assert np.isinf(d[0]) and w[0] == -1
    assert d[1] == pytest.approx(90.0)


def test_going_round_beats_the_same_edge_when_shorter() -> None:
    # A bent edge 1-2 (length 2 x 141.4) and a straight way round 1-3-2 (200 in all)
    rows = [
        (1, 2, [(0, 0), (100, 100), (200, 0)]),
        (1, 3, [(0, 0), (100, 0)]),
        (3, 2, [(100, 0), (200, 0)]),
    ]
    net = WalkNetwork.from_edges(lines(rows))
    L = 2 * np.hypot(100, 100)
    # points near both ends of the curved edge, 1 m off it
    a = shapely.line_interpolate_point(net.geometry[0], 0.05, normalized=True)
    b = shapely.line_interpolate_point(net.geometry[0], 0.95, normalized=True)
    d, _ = net.distances(net.snap([a]), net.snap([b]))
    direct = 0.9 * L
    round_trip = 0.05 * L + 200 + 0.05 * L
    assert d[0] == pytest.approx(min(direct, round_trip))
    assert round_trip < direct


def test_ground_level_snapping_ignores_a_bridge_overhead() -> None:
    # a street along y=0 and a bridge crossing above it along x=50, not connected
    rows = [(1, 2, [(0, 0), (100, 0)]), (3, 4, [(50, -100), (50, 100)])]
    edges = lines(rows, ground=[True, False])
    net = WalkNetwork.from_edges(edges)
    s = net.snap(pts((50.5, 3)))  # nearer the bridge (0.5 m) than the street (3 m)
    assert net.node_ids[net.u[s.edge[0]]] == 1
    assert s.access_m[0] == pytest.approx(3.0)
    # without a ground edge in reach, a point falls back to the bridge
    s2 = net.snap(pts((50.5, 90)), max_snap_m=50)
    assert net.node_ids[net.u[s2.edge[0]]] == 3


def test_reciprocal_and_reversed_edges_are_handled() -> None:
    rows = [(1, 2, [(0, 0), (100, 0)]), (2, 1, [(100, 0), (0, 0)]), (2, 3, [(200, 0), (100, 0)])]
    net = WalkNetwork.from_edges(lines(rows))
    assert net.n_edges == 2  # the copy 2-1 of 1-2 is dropped
    # the 2-3 geometry ran from 3 to 2: it is reversed to run from u=2
    e = int(np.flatnonzero(net.node_ids[net.u] == 2)[0])
    assert shapely.get_coordinates(net.geometry[e])[0].tolist() == [100.0, 0.0]
    d, _ = net.distances(net.snap(pts((10, 0))), net.snap(pts((190, 0))))
    assert d[0] == pytest.approx(180.0)


def test_zero_length_access_at_a_node_is_an_edge_not_a_missing_link(net: WalkNetwork) -> None:
    d, _ = net.distances(net.snap(pts((100, 0))), net.snap(pts((100, 0), (300, 0))))
    assert d.tolist() == pytest.approx([0.0, 200.0])


def test_pair_distances_keep_only_pairs_within_the_limit(net: WalkNetwork) -> None:
    sources = net.snap(pts((0, 0), (300, 0)))
    targets = net.snap(pts((50, 0), (250, 0), (100, 80)))
    pairs = net.pair_distances(sources, targets, limit_m=180)
    got = {
        (int(s), int(t)): float(d)
        for s, t, d in zip(pairs.source, pairs.target, pairs.dist, strict=True)
    }
    expected = {(0, 0): 50.0, (0, 2): 180.0, (1, 1): 50.0}
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v)


def test_from_graph_matches_from_edges() -> None:
    G = nx.MultiDiGraph(crs="EPSG:32650")
    for n, (x, y) in {1: (0, 0), 2: (100, 0), 3: (300, 0)}.items():
        G.add_node(n, x=x, y=y)
    G.add_edge(1, 2, geometry=shapely.LineString([(0, 0), (100, 0)]))
    G.add_edge(2, 1, geometry=shapely.LineString([(100, 0), (0, 0)]))
    G.add_edge(2, 3)  # no geometry: a straight line
    G.add_edge(3, 2, bridge="yes")
    net = WalkNetwork.from_graph(G)
    assert net.n_edges == 2
    d, _ = net.distances(net.snap(pts((10, 0))), net.snap(pts((200, 0))))
    assert d[0] == pytest.approx(190.0)


def test_helsinki_distances_equal_networkx_on_split_edges(helsinki_area, helsinki_network) -> None:
    """Every resident's distance to every category equals the networkx oracle (1e-6 m)."""
    from lifecircle.coverage.access import access_points

    net = helsinki_network
    area = helsinki_area
    demand = net.snap(area.demand)
    pts_, fac_of = access_points(area.facilities)
    fac = net.snap(pts_)
    G = split_graph(net, {"r": demand, "f": fac})
    cats = area.facilities["category"].to_numpy()[fac_of]
    checked = 0
    for cat in area.catalog.ids:
        sel = np.flatnonzero(cats == cat)
        if len(sel) == 0:
            continue
        limit = area.catalog[cat].threshold(4.0) * 3
        d, w = net.distances(fac.take(sel), demand, limit_m=limit)
        ref = oracle_distances(G, "f", sel)
        expect = np.array([ref.get(("r", i), np.inf) for i in range(len(demand))])
        expect[expect > limit] = np.inf
        np.testing.assert_allclose(d, expect, rtol=0, atol=1e-6)
        # the nearest facility is one at that distance
        ok = np.isfinite(d)
        for i in np.flatnonzero(ok)[:50]:
            src = sel[w[i]]
            one = nx.dijkstra_path_length(G, ("f", int(src)), ("r", int(i)), weight="w")
            assert one == pytest.approx(d[i], abs=1e-6)
        # node distances too
        reach = net.reach(fac.take(sel), limit_m=limit)
        node_ref = np.array([ref.get(n, np.inf) for n in range(net.n_nodes)])
        node_ref[node_ref > limit] = np.inf
        np.testing.assert_allclose(reach.dist, node_ref, rtol=0, atol=1e-6)
        checked += 1
    assert checked >= 15


def test_helsinki_snap_never_joins_tunnels_when_a_street_is_near(
    helsinki_area, helsinki_network
) -> None:
    net = helsinki_network
    s = net.snap(helsinki_area.demand)
    assert s.ok.all()
    assert net.ground[s.edge].all()
    # the extract is full of tunnels under the streets (edges run from junction to junction)
    assert (~net.ground).sum() > 300


def test_rings_loops_and_parallel_streets_equal_networkx() -> None:
    """Shapes the chain contraction must get right, against the split-edge oracle."""
    rows = [
        # a street A(1)-B(2)-C(3) with a lollipop loop at C through D(4) and E(5)
        (1, 2, [(0, 0), (100, 0)]),
        (2, 3, [(100, 0), (200, 0)]),
        (3, 4, [(200, 0), (250, 50)]),
        (4, 5, [(250, 50), (300, 0)]),
        (5, 3, [(300, 0), (200, 0)]),
        # two parallel streets between B and F(6): a straight one and a bent one
        (2, 6, [(100, 0), (100, 100)]),
        (2, 6, [(100, 0), (60, 50), (100, 100)]),
        # a self-loop at F
        (6, 6, [(100, 100), (80, 140), (120, 140), (100, 100)]),
        # a ring of degree-two nodes only, far away (an island)
        (7, 8, [(0, 1000), (100, 1000)]),
        (8, 9, [(100, 1000), (100, 1100)]),
        (9, 7, [(100, 1100), (0, 1000)]),
    ]
    net = WalkNetwork.from_edges(lines(rows))
    assert net.n_edges == len(rows)
    rng = np.random.default_rng(3)
    cand = rng.uniform([-20, -20], [320, 1120], size=(3000, 2))
    near = shapely.distance(shapely.points(cand), shapely.union_all(net.geometry)) < 30
    points = net.snap(cand[near])
    assert set(points.edge.tolist()) == set(range(net.n_edges))  # points on every shape
    sources = points.take(np.arange(0, len(points), 7))
    G = split_graph(net, {"p": points, "s": sources})
    ref = oracle_distances(G, "s", np.arange(len(sources)))
    d, _ = net.distances(sources, points)
    expect = np.array([ref.get(("p", i), np.inf) for i in range(len(points))])
    np.testing.assert_allclose(d, expect, rtol=0, atol=1e-9)
    reach = net.reach(sources)
    node_ref = np.array([ref.get(n, np.inf) for n in range(net.n_nodes)])
    np.testing.assert_allclose(reach.dist, node_ref, rtol=0, atol=1e-9)
    assert sorted(net.component_size.tolist()) == [3, 6]


def test_k_nearest_and_counts_within_equal_the_oracle(helsinki_area, helsinki_network) -> None:
    """Counts within the threshold and the 3 nearest pharmacies, against networkx."""
    from lifecircle.coverage.access import access_points, k_nearest_facilities, nearest_facilities

    area, net = helsinki_area, helsinki_network
    fac = area.facilities.loc[area.facilities["category"] == "pharmacy"].reset_index(drop=True)
    d, f = k_nearest_facilities(net, area.demand, fac, k=3, limit_m=900)
    demand = net.snap(area.demand)
    pts, fac_of = access_points(fac)
    fsnap = net.snap(pts)
    G = split_graph(net, {"r": demand, "f": fsnap})
    per_facility = [
        oracle_distances(G, "f", np.flatnonzero(fac_of == j), cutoff=900) for j in range(len(fac))
    ]
    for i in range(0, len(demand), 7):
        ref = sorted((r.get(("r", i), np.inf), j) for j, r in enumerate(per_facility))
        ref = [(dist, j) for dist, j in ref if dist <= 900][:3]
        got = [(d[i, r], f[i, r]) for r in range(3) if f[i, r] >= 0]
        assert len(got) == len(ref)
        for (gd, gj), (rd, rj) in zip(got, ref, strict=True):
            assert gd == pytest.approx(rd, abs=1e-6)
            assert gj == rj or gd == pytest.approx(per_facility[gj].get(("r", i), np.inf), abs=1e-6)
    acc = nearest_facilities(
        net, area.demand, area.facilities, area.catalog.select(["pharmacy"]), count_within=True
    )
    threshold = acc.thresholds_m[0]
    expect = np.array(
        [
            sum(r.get(("r", i), np.inf) <= threshold for r in per_facility)
            for i in range(len(demand))
        ]
    )
    np.testing.assert_array_equal(acc.count_within[:, 0], expect)
    assert expect.max() >= 2  # the test covers points with several pharmacies in reach
    assert_aligned(acc, area.demand)
    # the facilities' access points are kept with their snaps, as made here
    all_pts, all_of = access_points(area.facilities)
    np.testing.assert_array_equal(acc.facility_of, all_of)
    assert shapely.equals(acc.facility_points, all_pts).all()
    snap = net.snap(all_pts)
    assert acc.facility_snap is not None
    np.testing.assert_array_equal(acc.facility_snap.edge, snap.edge)
    np.testing.assert_array_equal(acc.facility_snap.t, snap.t)
    pharmacy = (area.facilities["category"] == "pharmacy").to_numpy()
    _, of, _ = acc.entrances(pharmacy)
    assert pharmacy[of].all() and len(of) == pharmacy[all_of].sum()


def _pairs(p) -> dict[tuple[int, int], float]:
    return {(int(s), int(t)): float(d) for s, t, d in zip(p.source, p.target, p.dist, strict=True)}


def test_local_pair_searches_equal_whole_network_searches_and_are_symmetric(
    helsinki_area, helsinki_network, monkeypatch
) -> None:
    """Per-source searches on local subgraphs (large networks) give exactly the pairs of
    searches on the whole network, and swapping sources and targets changes nothing."""
    import lifecircle.coverage.network as network_module

    net = helsinki_network
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = helsinki_area.units.total_bounds
    xy = np.column_stack([rng.uniform(minx, maxx, 400), rng.uniform(miny, maxy, 400)])
    sources = net.snap(shapely.points(xy))
    targets = net.snap(helsinki_area.demand.geometry.to_numpy())
    whole = _pairs(net.pair_distances(sources, targets, limit_m=400.0))
    assert len(whole) > 1000
    monkeypatch.setattr(network_module, "LOCAL_SEARCH_NODES", 0)
    local = _pairs(net.pair_distances(sources, targets, limit_m=400.0, max_bytes=2e5))
    assert local.keys() == whole.keys()
    np.testing.assert_allclose([local[k] for k in whole], list(whole.values()), atol=1e-9)
    back = net.pair_distances(targets, sources, limit_m=400.0)
    swapped = {(t, s): d for (s, t), d in _pairs(back).items()}
    assert swapped.keys() == whole.keys()
    np.testing.assert_allclose([swapped[k] for k in whole], list(whole.values()), atol=1e-9)


def test_within_is_the_pattern_of_the_pair_distances(helsinki_area, helsinki_network) -> None:
    """The coverage pattern (no distances, pairs merged by the sparse matrix) holds exactly
    the pairs :meth:`pair_distances` finds within the limit, on the whole network and on
    local subgraphs."""
    net = helsinki_network
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = helsinki_area.units.total_bounds
    xy = np.column_stack([rng.uniform(minx, maxx, 300), rng.uniform(miny, maxy, 300)])
    sources = net.snap(shapely.points(xy))
    targets = net.snap(helsinki_area.demand.geometry.to_numpy())
    pairs = net.pair_distances(sources, targets, limit_m=350.0)
    near = net.within(sources, targets, limit_m=350.0)
    assert near.shape == (300, len(helsinki_area.demand)) and near.dtype == bool
    assert near.nnz == len(pairs.dist) > 500
    assert (near != pairs.to_csr()).nnz == 0
    local = net.within(sources, targets, limit_m=350.0, max_bytes=2e5)
    assert (local != near).nnz == 0
