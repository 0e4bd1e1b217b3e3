"""The planning stages walk as residents do in gated mode (issue 15): placement, the
scenario, 2SFCA, gaps and catchments on the walled compound of :mod:`tests.geo.test_compounds`.

Every value is hand-computed or recomputed by brute force from the networkx phase-graph
oracle of :mod:`tests.coverage.test_gated` (which knows the fixture, not the module).
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook

from lifecircle.analysis import run_plan
from lifecircle.coverage.access import (
    Access,
    nearest_facilities,
    plan_access,
    plan_gated_network,
)
from lifecircle.coverage.catchments import study_catchments
from lifecircle.coverage.entrances import candidate_entrances, entrance_ranking
from lifecircle.coverage.fca import capacity_by_unit, two_step_fca
from lifecircle.coverage.gaps import find_gaps
from lifecircle.coverage.network import WalkNetwork
from lifecircle.coverage.scenario import with_new_sites
from lifecircle.coverage.sites import recommend_sites
from lifecircle.coverage.walls import compound_ranking
from lifecircle.geo.build import StudyInputs, build_study_area
from lifecircle.geo.catalog import Category, ServiceCatalog
from lifecircle.geo.study_area import StudyArea
from lifecircle.params import PlanParams
from lifecircle.report.gpkg import write_gpkg
from lifecircle.report.html import write_html
from lifecircle.report.xlsx import write_xlsx
from tests.coverage.test_gated import (
    BUPT,
    FACILITIES,
    INSIDE_NODES,
    RESIDENTS,
    _pair,
    fixture_area,
    load_edges,
)
from tests.geo.test_compounds import LOCAL, node_id, write_compound_osm

THRESHOLD = 300.0
ENTRANCES = {node_id("Gs"), node_id("Ge")}
# candidate sites: inside the compound (near K, near P), on the north, east and south streets
CANDIDATES = {
    "k": (300, 160),
    "p": (110, 140),
    "north": (190, 290),
    "east": (410, 150),
    "south": (200, 10),
}
WEIGHTS = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0]  # residents per point, in RESIDENTS order


def _inside_xy(xy: tuple[float, float]) -> bool:
    return 50 < xy[0] < 350 and 50 < xy[1] < 250


def oracle_walk(path: Path, src: tuple[float, float], dst: tuple[float, float], members: bool):
    """The oracle's walk from a source point (a facility or site) to a resident point."""
    edges = load_edges(path)
    u, v = edges["u"].to_numpy(), edges["v"].to_numpy()
    inside = np.array([a in INSIDE_NODES and b in INSIDE_NODES for a, b in zip(u, v, strict=True)])
    return _pair(edges, inside, ENTRANCES, (src, _inside_xy(src)), (dst, _inside_xy(dst)), members)


def study(tmp_path: Path, members_only: bool = False) -> tuple[StudyArea, WalkNetwork, Access]:
    """The fixture's study with one more category, ``clinic`` (300 m, no facility yet),
    weighted residents and kindergarten places."""
    area = fixture_area(write_compound_osm(tmp_path / "c.osm"))
    cats = (
        *(dataclasses.replace(c, threshold_m=THRESHOLD) for c in area.catalog),
        Category(
            "clinic",
            "clinic",
            "clinic",
            "15min",
            "basic",
            True,
            threshold_m=THRESHOLD,
            members_only=members_only,
        ),
    )
    demand = area.demand.assign(residents=WEIGHTS)
    fac = area.facilities.assign(capacity=[np.nan, 60.0, np.nan], name=None, source="test")
    units = area.units.assign(name="u", population=np.nan)
    area = dataclasses.replace(
        area,
        catalog=ServiceCatalog("t", "t", "t", "test", cats),
        demand=demand,
        facilities=fac,
        units=units,
    )
    net = WalkNetwork.from_edges(area.edges)
    return area, net, plan_access(net, area, PlanParams())


def candidates() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"candidate_id": list(CANDIDATES), "name": None},
        geometry=shapely.points(list(CANDIDATES.values())),
        crs=LOCAL,
    )


def test_a_site_across_the_wall_does_not_cover_an_outsider(tmp_path: Path) -> None:
    """The site near K (300, 160), inside, to the point north of the compound (190, 310):
    the open walk through the closed north gate is 10 + 100 + 100 + 50 + 10 + 10 = 280 m,
    within 300 m; the gated walk, out at the east gate and round, is
    10 + 50 + 50 + 150 + 210 + 10 = 480 m."""
    path = tmp_path / "c.osm"
    _area, net, acc = study(tmp_path)
    assert oracle_walk(path, CANDIDATES["k"], RESIDENTS["north_out"], False) == pytest.approx(
        480, abs=2e-2
    )  # OSM holds coordinates to 1e-7 degrees: about 1 cm
    rec = recommend_sites(net, acc, candidates().iloc[[0]], "clinic", p=1)
    covered = set(np.array(list(RESIDENTS))[rec.newly_covered > 0])
    # member: 10 + 10 + 10 = 30; north: 10 + 100 + 90 + 10 = 210; east, by the east gate:
    # 10 + 50 + 50 + 10 + 10 = 130; out, by the south gate: 10 + 100 + 100 + 50 + 10 + 10 =
    # 280; wall: 10 + 200 + 98.5 > 300; north_out: 480 > 300
    assert covered == {"member", "north", "east", "out"}
    opened = recommend_sites(
        net, dataclasses.replace(acc, gated=None), candidates().iloc[[0]], "clinic", p=1
    )
    assert "north_out" in set(np.array(list(RESIDENTS))[opened.newly_covered > 0])


@pytest.mark.parametrize("members_only", [False, True])
def test_placement_is_optimal_under_the_gated_walks(tmp_path: Path, members_only: bool) -> None:
    """Every pair of sites, brute force over the oracle's walks: the solver's pair covers
    the most residents, and each site's coverage set is the oracle's."""
    path = tmp_path / "c.osm"
    _area, net, acc = study(tmp_path, members_only)
    cover = {
        c: {
            r
            for r, rxy in RESIDENTS.items()
            if oracle_walk(path, cxy, rxy, members_only) <= THRESHOLD
        }
        for c, cxy in CANDIDATES.items()
    }
    weight = dict(zip(RESIDENTS, WEIGHTS, strict=True))
    best = max(
        itertools.combinations(CANDIDATES, 2),
        key=lambda pair: sum(weight[r] for r in cover[pair[0]] | cover[pair[1]]),
    )
    best_value = sum(weight[r] for r in cover[best[0]] | cover[best[1]])
    visitors = not members_only
    rec = recommend_sites(net, acc, candidates(), "clinic", p=2, visitors=visitors)
    assert set(rec.sites["candidate_id"]) == set(best)
    assert rec.sites["cumulative_residents"].iloc[-1] == pytest.approx(best_value)
    for name in CANDIDATES:  # one site at a time: exactly the oracle's coverage
        mine = candidates().loc[candidates()["candidate_id"] == name]
        one = recommend_sites(net, acc, mine, "clinic", p=1, visitors=visitors)
        assert set(np.array(list(RESIDENTS))[one.newly_covered > 0]) == cover[name], name
    if members_only:  # the site inside serves its members only
        assert cover["k"] <= {"member", "north", "wall"}


def test_scenario_newly_covered_equals_brute_force(tmp_path: Path) -> None:
    path = tmp_path / "c.osm"
    area, net, acc = study(tmp_path)
    sites = candidates().iloc[[0, 3]].assign(rank=[1, 2])  # near K, and the east street
    after, _fac = with_new_sites(net, acc, area.facilities, {"shop": sites})
    k = acc.column("shop")
    points = [(150, 310), *(CANDIDATES[c] for c in ("k", "east"))]
    for i, rxy in enumerate(RESIDENTS.values()):
        want = min(oracle_walk(path, p, rxy, False) for p in points)
        assert after.distance_m[i, k] == pytest.approx(want, abs=1e-6)
    newly = after.covered[:, k] & ~acc.covered[:, k]
    brute = [
        min(oracle_walk(path, p, rxy, False) for p in points) <= THRESHOLD
        and oracle_walk(path, points[0], rxy, False) > THRESHOLD
        for rxy in RESIDENTS.values()
    ]
    assert newly.tolist() == brute
    assert newly.any()


def test_two_step_fca_equals_brute_force_with_gated_walks(tmp_path: Path) -> None:
    """60 places at the kindergarten inside; step one divides them by the residents within
    300 m by the rule, step two gives those residents the ratio."""
    path = tmp_path / "c.osm"
    area, net, acc = study(tmp_path)
    table = capacity_by_unit(acc, area, net)
    assert table is not None
    within = [
        w
        for w, rxy in zip(WEIGHTS, RESIDENTS.values(), strict=True)
        if oracle_walk(path, (250, 160), rxy, False) <= THRESHOLD
    ]
    ratio = 60.0 / sum(within)
    want = 1000 * ratio * sum(within) / sum(WEIGHTS)
    got = table.loc[table["category"] == "kindergarten", "places_per_1000"].item()
    assert got == pytest.approx(want)
    # out (230), member (60), north (160), east (180), wall (98.5 + 150 + 10): not north_out
    assert len(within) == 5
    # per resident: the ratio within 300 m by the rule, 0 beyond (north_out)
    mask = (area.facilities["category"] == "kindergarten").to_numpy()
    _pts, of, snap = acc.entrances(mask)
    score, per_fac = two_step_fca(
        net,
        acc.demand_snap,
        acc.demand.residents,
        area.facilities.loc[mask].reset_index(drop=True),
        threshold_m=THRESHOLD,
        entrances=(snap, np.zeros(len(of), dtype=np.int64)),
        pairs=acc.pairs(net, mask, THRESHOLD),
    )
    assert per_fac["residents_within"].item() == pytest.approx(sum(within))
    assert score.tolist() == pytest.approx([ratio] * 5 + [0.0])
    # open, north_out is within 300 m too (10 + 50 + 100 + 50 + 10 + 10): everyone shares
    opened = dataclasses.replace(acc, gated=None).pairs(net, mask, THRESHOLD)
    assert sorted(opened.target.tolist()) == list(range(6))


def test_gaps_link_residents_only_along_gated_walks(tmp_path: Path) -> None:
    """The clinic has no facility: every point is a gap. Linked within 150 m walking, the
    member (290, 160) and the outsider east (410, 140) are 10 + 10 + 50 + 10 + 10 + ... apart
    by the east gate; the north point (190, 240) and north_out (190, 310) are apart only
    round the compound (the north gate is closed)."""
    area, net, acc = study(tmp_path)
    gaps = find_gaps(
        acc, area.demand, area.facilities, "clinic", link_m=150, walking=True, network=net
    )
    groups = {frozenset(g.split(", ")) for g in gaps["units"]}  # one unit: count points
    assert sorted(gaps["points"].tolist()) == sorted(_oracle_clusters(tmp_path / "c.osm", 150))
    assert groups == {frozenset({"u"})}


def _oracle_clusters(path: Path, link_m: float) -> list[int]:
    """Cluster sizes of the residents linked within ``link_m`` by the oracle's walks."""
    names = list(RESIDENTS)
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(names)), 2):
        if oracle_walk(path, RESIDENTS[names[i]], RESIDENTS[names[j]], False) <= link_m:
            parent[root(i)] = root(j)
    sizes: dict[int, int] = {}
    for i in range(len(names)):
        sizes[root(i)] = sizes.get(root(i), 0) + 1
    return list(sizes.values())


def test_catchments_follow_the_walls(tmp_path: Path) -> None:
    """The shop (150, 310) on the north street, at 300 m: in the open the compound is
    entered through the closed north gate ((200, 200): 10 + 50 + 50 + 50 = 160 m plus its
    leg); gated, the nearest open gate is 10 + 250 + 150 + 50 = 460 m away, so nothing
    inside is covered. The kindergarten inside reaches the south street through the south
    gate ((200, -10): 10 + 50 + 100 + 50 + 10 = 220 m); the park serves members only."""
    area, net, acc = study(tmp_path)
    gated = study_catchments(acc, area, net, {})
    opened = study_catchments(dataclasses.replace(acc, gated=None), area, net, {})

    def polygon(frame: gpd.GeoDataFrame, cat: str):  # type: ignore[no-untyped-def]
        return frame.loc[frame["category"] == cat].geometry.iloc[0]

    inside, outside = shapely.Point(205, 200), shapely.Point(100, 290)
    assert polygon(opened, "shop").contains(inside)
    assert not polygon(gated, "shop").intersects(shapely.box(55, 55, 345, 245))
    assert polygon(gated, "shop").contains(outside)
    assert polygon(gated, "kindergarten").contains(shapely.Point(200, -10))
    park = polygon(gated, "park")
    assert park.contains(shapely.Point(120, 155))
    assert (
        shapely.box(50, 50, 350, 250).buffer(2e-2).contains(park)
    )  # OSM holds coordinates to 1e-7 degrees: about 1 cm
    # the member (290, 160) is covered by the park in the compound (190 m)
    assert acc.covered[list(RESIDENTS).index("member"), acc.column("park")]


def test_the_walls_tables_reach_every_report(tmp_path: Path) -> None:
    """The gated-against-open table, the ranking and the compounds, in report.xlsx (their
    sheets), report.html (their section) and results.gpkg (compounds and entrances)."""
    area, _net, _acc = study(tmp_path)
    result = run_plan(area, PlanParams(catchments=False))
    assert result.walls is not None
    by_cat = result.walls.by_category.set_index("category")
    # the park (120, 160) at 300 m serves members only: member 2, north 3, wall 5 = 10 of
    # 22 residents. Open: out (260 m) 1, member 2, north 3, north_out (10 + 80 + 100 + 50 +
    # 10 + 10 = 260 m) 7 = 13; not east (310 m), nor wall, which joins the street at x = 0
    # across the wall (60 m) when the compound is open
    assert by_cat.loc["park", "gated_residents"] == pytest.approx(10.0)
    assert by_cat.loc["park", "open_residents"] == pytest.approx(13.0)
    assert result.walls.ranking["park"].tolist() == [8.0]  # newly: out 1 + north_out 7
    comp = result.walls.compounds.iloc[0]
    assert (comp["crossings"], comp["entrances"], comp["closed_crossings"]) == (3, 2, 1)
    assert comp["residents_inside"] == pytest.approx(10.0)
    write_xlsx(result, tmp_path / "r.xlsx", lang="zh")
    wb = load_workbook(tmp_path / "r.xlsx")
    assert {"围墙影响：封闭与开放", "围墙影响排名", "封闭小区与出入口"} <= set(wb.sheetnames)
    rows = list(wb["围墙影响：封闭与开放"].iter_rows(values_only=True))
    park = next(r for r in rows if r[0] == "park")
    assert park[1:3] == pytest.approx((10 / 22, 13 / 22))
    ranking = list(wb["围墙影响排名"].iter_rows(values_only=True))
    assert ranking[1][:4] == (1, "way/506", None, 10.0)
    write_xlsx(result, tmp_path / "en.xlsx", lang="en")  # sheet titles Excel accepts
    assert "Walls - ranking" in load_workbook(tmp_path / "en.xlsx").sheetnames
    write_html(result, tmp_path / "r.html", lang="en")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="table-walls"' in page and 'id="table-compound-ranking"' in page
    assert "park +8" in page
    # the candidate new entrance at the closed north gate: shop +3, kindergarten +7
    assert 'id="table-entrance-candidates"' in page and "kindergarten +7; shop +3" in page
    top = result.walls.entrances.iloc[0]
    assert (top["compound_id"], top["residents_newly_covered"]) == ("way/506", 10.0)
    assert "围墙影响：新增出入口" in wb.sheetnames
    layers = write_gpkg(result, tmp_path / "r.gpkg")
    assert {"compounds", "entrances", "entrance_candidates"} <= set(layers)
    ent = pyogrio.read_dataframe(tmp_path / "r.gpkg", layer="entrances")
    assert sorted(ent["entrance"].tolist()) == [False, True, True]


@pytest.mark.skipif(not BUPT.is_file(), reason="../shared/data/beijing-bupt is not here")
def test_the_ranking_reruns_only_near_each_compound_exactly() -> None:
    """On real data the ranking (residents and facilities near each compound only) equals
    the brute force: the whole study's access rerun with that compound alone open."""
    area = build_study_area(StudyInputs(osm=str(BUPT), grid_m=100))
    net = WalkNetwork.from_edges(area.edges)
    params = PlanParams()
    acc = plan_access(net, area, params)
    ranking = compound_ranking(net, area, params, acc).set_index("compound_id")
    assert area.compounds is not None and len(ranking) == len(area.compounds)
    assert ranking["newly_covered"].max() > 0
    for c, cid in enumerate(area.compounds.areas["compound_id"]):
        alone = nearest_facilities(
            net,
            area.demand,
            area.facilities,
            area.catalog,
            gated=plan_gated_network(net, area, opened=c),
        )
        gain = ((alone.covered & ~acc.covered) * acc.demand.residents[:, None]).sum(axis=0)
        got = ranking.loc[cid, list(acc.categories)].to_numpy(dtype=float)
        assert got == pytest.approx(gain, abs=1e-9), cid


def test_candidate_entrances_are_ranked_by_residents_newly_covered(tmp_path: Path) -> None:
    """Boundary points every 50 m within 30 m of a public way and of the compound's ways:
    the south and east gates (already entrances) and the closed north gate, Gn (200, 250),
    where a new entrance newly covers, at 300 m, the north point from the shop (710 m ->
    130 m: 3 residents) and north_out from the kindergarten (530 m -> 230 m: 7); the oracle
    with Gn open agrees."""
    path = tmp_path / "c.osm"
    area, _net, acc = study(tmp_path)
    cats = area.facilities["category"].to_numpy()
    ranking = entrance_ranking(acc, area.catalog, cats, np.array([0]))
    xy = sorted(
        zip(ranking["x"].round(1), ranking["y"].round(1), strict=True)
    )  # OSM holds coordinates to 1e-7 degrees: about 1 cm
    assert xy == [(200.0, 50.0), (200.0, 250.0), (350.0, 150.0)]
    best = ranking.iloc[0]
    assert (round(best["x"], 1), round(best["y"], 1)) == (200.0, 250.0)  # to 1e-7 degrees
    assert best["connector_m"] == pytest.approx(0.0, abs=2e-2)  # coordinates to 1e-7 degrees
    assert (best["shop"], best["kindergarten"], best["park"]) == (3.0, 7.0, 0.0)
    assert ranking["newly_covered"].tolist() == [10.0, 0.0, 0.0]
    edges = load_edges(path)
    u, v = edges["u"].to_numpy(), edges["v"].to_numpy()
    inside = np.array([a in INSIDE_NODES and b in INSIDE_NODES for a, b in zip(u, v, strict=True)])
    weight = dict(zip(RESIDENTS, WEIGHTS, strict=True))
    for cat, fxy in FACILITIES.items():
        members = cat == "park"
        gain = 0.0
        for r, rxy in RESIDENTS.items():
            fac, res = (fxy, _inside_xy(fxy)), (rxy, _inside_xy(rxy))
            before = _pair(edges, inside, ENTRANCES, fac, res, members)
            after = _pair(edges, inside, ENTRANCES | {node_id("Gn")}, fac, res, members)
            gain += weight[r] * (after <= THRESHOLD < before)
        assert best[cat] == gain, cat


def test_a_candidate_entrance_counts_its_connector_both_ways(tmp_path: Path) -> None:
    """The north gate's candidate with a 100 m path through it: the shop to the north point
    is 130 + 100 = 230 m, the kindergarten to north_out 230 + 100 = 330 m."""
    _area, _net, acc = study(tmp_path)
    assert acc.gated is not None and acc.facility_snap is not None
    assert acc.demand_compound is not None and acc.facility_compound is not None
    cand = candidate_entrances(acc.gated, np.array([0]))
    row = cand.loc[(cand["x"].round(1) == 200.0) & (cand["y"].round(1) == 250.0)].iloc[
        0
    ]  # OSM holds coordinates to 1e-7 degrees: about 1 cm
    new = acc.gated.with_entrance(
        0,
        (int(row["edge_in"]), float(row["t_in"])),
        (int(row["edge_out"]), float(row["t_out"])),
        100.0,
    )
    demand = (acc.demand_snap, acc.demand_compound)
    for cat, r, want in (("shop", "north", 230.0), ("kindergarten", "north_out", 330.0)):
        sel = np.flatnonzero(_area.facilities["category"].to_numpy()[acc.facility_of] == cat)
        fac = (acc.facility_snap.take(sel), acc.facility_compound[sel])
        d, _ = new.nearest(fac, demand, True, 2000.0)
        assert d[list(RESIDENTS).index(r)] == pytest.approx(want, abs=2e-2), cat  # 1e-7 deg
        pairs = new.pair_distances(fac, demand, 2000.0)
        hit = pairs.target == list(RESIDENTS).index(r)
        assert pairs.dist[hit].min() == pytest.approx(want, abs=2e-2), cat


@pytest.mark.parametrize("members_only", [False, True])
def test_pair_distances_match_the_oracle(tmp_path: Path, members_only: bool) -> None:
    """Every candidate-resident walk of :meth:`GatedNetwork.pair_distances` (and none
    beyond the limit) is the oracle's, to 1e-6 m."""
    path = tmp_path / "c.osm"
    _area, _net, acc = study(tmp_path)
    assert acc.gated is not None and acc.demand_compound is not None
    snap, group = acc.gated.snap(shapely.points(list(CANDIDATES.values())), 250.0)
    limit = 700.0
    pairs = acc.gated.pair_distances(
        (snap, group), (acc.demand_snap, acc.demand_compound), limit, not members_only
    )
    walks = zip(pairs.source, pairs.target, pairs.dist, strict=True)
    got = {(int(s), int(t)): d for s, t, d in walks}
    for i, cxy in enumerate(CANDIDATES.values()):
        for j, rxy in enumerate(RESIDENTS.values()):
            want = oracle_walk(path, cxy, rxy, members_only)
            if want <= limit:
                assert got[(i, j)] == pytest.approx(want, abs=1e-6), (i, j)
            else:
                assert (i, j) not in got, (i, j)
