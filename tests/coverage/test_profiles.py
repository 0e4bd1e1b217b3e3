"""Walking profiles (issue 15): effective walking metres on a hand-made street with a flight
of steps and a footbridge, checked by hand and against networkx with the same weights.

The OSM file is written here, laid out in metres (UTM 50N, near Beijing)::

    y
     30 |  R (resident's point, a block of flats at x 0..20, y 20..40)
      0 |  1 ---------- 2 ==== 3 ---------- 4 ~~~~~~~~ 5 ---------- 6
        |  0          200    260          400        500          700   x
        |                     steps         footway   footbridge        street
    -10 |                                                        E (690, -10) nursing home

``==`` is ``highway=steps`` (60 m), ``~~`` a footbridge (``highway=footway``, ``bridge=yes``,
100 m). The resident's walk to the nursing home: 30 m access leg, 190 m of street, the
steps, 140 m of footway, the footbridge, 190 m of street and a 10 m access leg: 720 m.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import Point

from lifecircle.analysis import run_plan
from lifecircle.cli import main
from lifecircle.coverage.access import nearest_facilities, plan_access
from lifecircle.coverage.catchments import GRID_CELL_M, catchments, grid_lattice
from lifecircle.coverage.network import WalkNetwork
from lifecircle.coverage.profiles import resolve_profiles
from lifecircle.coverage.walls import open_compounds_table
from lifecircle.errors import InputError
from lifecircle.geo.build import StudyInputs, build_study_area
from lifecircle.geo.catalog import load_catalog
from lifecircle.geo.osm import load_osm
from lifecircle.params import ELDERLY_PROFILE, STANDARD_PROFILE, PlanParams, WalkProfile
from lifecircle.report.provenance import run_record
from lifecircle.report.summary import parameter_rows, profile_rows
from tests.coverage.test_gated import GATED, fixture_area
from tests.geo.test_compounds import write_compound_osm

UTM = "EPSG:32650"
ORIGIN = (444_000.0, 4_423_000.0)
_TO_LL = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
NODES = {1: (0, 0), 2: (200, 0), 3: (260, 0), 4: (400, 0), 5: (500, 0), 6: (700, 0)}
WAYS = {
    100: ([1, 2], {"highway": "residential", "name": "学院路"}),
    101: ([2, 3], {"highway": "steps"}),
    102: ([3, 4], {"highway": "footway"}),
    103: ([4, 5], {"highway": "footway", "bridge": "yes", "layer": "1"}),
    104: ([5, 6], {"highway": "residential", "name": "西土城路"}),
}
HOME = (10.0, 30.0)
CARE = (690.0, -10.0)
REFERENCE = 4.0 / 3.6  # m/s: the plan's 4 km/h


def _ll(x: float, y: float) -> tuple[float, float]:
    lon, lat = _TO_LL.transform(ORIGIN[0] + x, ORIGIN[1] + y)
    return float(lon), float(lat)


def write_steps_osm(path: Path) -> Path:
    """The file of the module's layout, with the block of flats and the nursing home."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    (w, s), (e, n) = _ll(-50, -100), _ll(750, 100)
    lines.append(f'<bounds minlat="{s:.7f}" minlon="{w:.7f}" maxlat="{n:.7f}" maxlon="{e:.7f}"/>')

    def node(i: int, x: float, y: float, tags: dict[str, str] | None = None) -> None:
        lon, lat = _ll(x, y)
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())
        lines.append(f'<node id="{i}" version="1" lat="{lat:.9f}" lon="{lon:.9f}">{body}</node>')

    for i, (x, y) in NODES.items():
        node(i, x, y)
    node(50, *CARE, {"amenity": "nursing_home", "name": "养老院"})
    flats = [(0, 20), (20, 20), (20, 40), (0, 40)]
    for j, (x, y) in enumerate(flats):
        node(60 + j, x, y)
    for wid, (refs, tags) in WAYS.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<way id="{wid}" version="1">{nds}{body}</way>')
    nds = "".join(f'<nd ref="{r}"/>' for r in [60, 61, 62, 63, 60])
    tags = '<tag k="building" v="apartments"/><tag k="building:levels" v="6"/>'
    lines.append(f'<way id="200" version="1">{nds}{tags}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _network(path: Path) -> tuple[WalkNetwork, gpd.GeoDataFrame]:
    edges = load_osm(path).edges.to_crs(UTM)
    return WalkNetwork.from_edges(edges), edges


def _points(*xy: tuple[float, float]) -> gpd.GeoDataFrame:
    pts = [Point(ORIGIN[0] + x, ORIGIN[1] + y) for x, y in xy]
    return gpd.GeoDataFrame(geometry=pts, crs=UTM)


def _by_hand(steps: float, bridge: float, speed_m_s: float | None) -> float:
    """The walk of the module docstring, each part times its factor and the speed ratio."""
    ratio = 1.0 if speed_m_s is None else REFERENCE / speed_m_s
    return ratio * (30 + 190 + 60 * steps + 140 + 100 * bridge + 190 + 10)


def _oracle(edges: gpd.GeoDataFrame, factor: dict[str, float], ratio: float) -> float:
    """networkx on the OSM edges with the same weights; the two access legs by hand
    (perpendicular feet at (10, 0) and (690, 0), on the two streets)."""
    G = nx.Graph()
    for _, row in edges.iterrows():
        kind = "steps" if row["highway"] == "steps" else "other"
        if row["bridge"] == "yes":
            kind = "footbridge"
        G.add_edge(int(row["u"]), int(row["v"]), w=row.geometry.length * factor[kind] * ratio)
    G.add_edge("home", 1, w=ratio * (30 + 10))
    G.add_edge("home", 2, w=ratio * (30 + 190))
    G.add_edge("care", 6, w=ratio * (10 + 10))
    G.add_edge("care", 5, w=ratio * (10 + 190))
    return float(nx.shortest_path_length(G, "home", "care", weight="w"))


def _walk(net: WalkNetwork, profile: WalkProfile | None) -> float:
    """The resident's walk to the nursing home on ``profile`` (None: no profiles at all)."""
    catalog = load_catalog("gb50180")
    fac = _points(CARE)
    fac["category"] = "elderly_care_home"
    profiles = None if profile is None else {"elderly_care_home": profile}
    acc = nearest_facilities(net, _points(HOME), fac, catalog, profiles=profiles)
    return float(acc.distance_m[0, acc.column("elderly_care_home")])


def test_the_edges_kinds_come_from_their_tags(tmp_path: Path) -> None:
    net, edges = _network(write_steps_osm(tmp_path / "s.osm"))
    kinds = dict(zip(edges["highway"] + "/" + edges["bridge"].fillna(""), net.kind, strict=True))
    assert kinds == {"residential/": 0, "steps/": 1, "footway/": 0, "footway/yes": 2}


@pytest.mark.parametrize(
    ("steps", "bridge", "speed"),
    [(1.0, 1.0, None), (1.0, 1.0, 1.0), (3.0, 2.0, 1.0), (2.5, 1.0, None)],
)
# Walks agree to 2 cm: the reader holds coordinates to 1e-7 degrees, OSM's precision (a
# node of the hand-made files moves by up to 6 mm).
def test_an_elderly_walk_is_the_hand_computation_and_the_oracles(
    tmp_path: Path, steps: float, bridge: float, speed: float | None
) -> None:
    net, edges = _network(write_steps_osm(tmp_path / "s.osm"))
    profile = WalkProfile("p", speed_m_s=speed, steps_factor=steps, footbridge_factor=bridge)
    got = _walk(net, profile)
    assert got == pytest.approx(_by_hand(steps, bridge, speed), abs=2e-2)
    ratio = 1.0 if speed is None else REFERENCE / speed
    factor = {"other": 1.0, "steps": steps, "footbridge": bridge}
    assert got == pytest.approx(_oracle(edges, factor, ratio), abs=2e-2)


def test_the_neutral_profile_is_the_network_itself_and_todays_distance(tmp_path: Path) -> None:
    net, _ = _network(write_steps_osm(tmp_path / "s.osm"))
    assert net.profiled(STANDARD_PROFILE, 4.0) is net  # no copy
    assert net.profiled(WalkProfile("same", speed_m_s=REFERENCE), 4.0) is not None
    assert _walk(net, STANDARD_PROFILE) == _walk(net, None)  # exactly today's distance
    assert _walk(net, None) == pytest.approx(720.0, abs=2e-2)
    elderly = net.profiled(ELDERLY_PROFILE, 4.0)
    assert elderly is net.profiled(ELDERLY_PROFILE, 4.0)  # built once
    assert np.array_equal(elderly.length, net.length * REFERENCE)


def test_profiles_follow_the_plan_the_catalog_and_the_place() -> None:
    catalog = load_catalog("gb50180")
    china = resolve_profiles(catalog, PlanParams(), in_china=True)
    assert china["elderly_care_home"] is ELDERLY_PROFILE
    assert china["elderly_day_care"] is ELDERLY_PROFILE
    assert china["kindergarten"] is STANDARD_PROFILE
    elsewhere = resolve_profiles(catalog, PlanParams(), in_china=False)
    assert set(elsewhere.values()) == {STANDARD_PROFILE}  # Helsinki keeps plain metres
    anywhere = resolve_profiles(catalog, PlanParams(profile="catalog"), in_china=False)
    assert anywhere["elderly_care_home"] is ELDERLY_PROFILE
    slow = WalkProfile("slow", speed_m_s=0.8, steps_factor=2.0)
    params = PlanParams(
        profile="standard", category_profiles={"pharmacy": "slow"}, profiles=(slow,)
    )
    mixed = resolve_profiles(catalog, params, in_china=True)
    assert mixed["pharmacy"] is slow and mixed["elderly_care_home"] is STANDARD_PROFILE
    with pytest.raises(InputError, match="unknown walking profile 'fast'"):
        resolve_profiles(catalog, PlanParams(profile="fast"), in_china=True)


def test_coverage_of_the_elderly_changes_as_computed(tmp_path: Path) -> None:
    """The whole analysis on the file: in Beijing (auto) the nursing home's walk is on the
    elderly profile; with steps and footbridge factors the resident is no longer covered."""
    area = build_study_area(StudyInputs(osm=str(write_steps_osm(tmp_path / "s.osm"))))
    k = list(area.catalog.ids).index("elderly_care_home")
    plain = run_plan(area, PlanParams(profile="standard", placements=(), catchments=False))
    assert plain.access.distance_m[0, k] == pytest.approx(720.0, abs=2e-2)
    assert bool(plain.access.covered[0, k])
    auto = run_plan(area, PlanParams(placements=(), catchments=False))
    assert auto.access.distance_m[0, k] == pytest.approx(_by_hand(1, 1, 1.0), abs=2e-2)
    assert bool(auto.access.covered[0, k])  # 800 effective metres: still within 1000
    steep = dataclasses.replace(ELDERLY_PROFILE, steps_factor=3.0, footbridge_factor=2.0)
    params = PlanParams(placements=(), catchments=False, profiles=(steep,))
    hard = run_plan(area, params)
    assert hard.access.distance_m[0, k] == pytest.approx(_by_hand(3, 2, 1.0), abs=2e-2)
    assert not bool(hard.access.covered[0, k])  # 1044.4 effective metres
    for result, share in ((plain, 1.0), (auto, 1.0), (hard, 0.0)):
        row = result.coverage.overall.set_index("category").loc["elderly_care_home"]
        assert float(row["share"]) == share
    # the report says what the distances are, and names each category's profile
    assert profile_rows(plain) == [] and not any("profile" in k for k, _ in parameter_rows(plain))
    [(label, text)] = profile_rows(auto)
    assert label == "walking profiles" and "effective walking metres" in text
    assert "Elderly care home: elderly (1.00 m/s)" in text and "Kindergarten" not in text
    [(label, text)] = profile_rows(auto, "zh")
    assert label == "步行方式" and "等效步行距离" in text and "养老院：老年人（1.00 米/秒）" in text
    record = run_record(auto, command="plan")["walking_profiles"]
    assert record["distances"] == "effective walking metres"
    assert record["categories"]["elderly_care_home"]["speed_m_s"] == 1.0
    assert record["categories"]["kindergarten"]["name"] == "standard"
    assert run_record(plain, command="plan")["walking_profiles"]["distances"] == "metres"


@pytest.mark.parametrize(
    ("lang", "unknown", "low"),
    [
        (
            "en",
            "key analysis.category_profiles.pharmacy: unknown walking profile 'slowest'",
            "key profiles.elderly.steps_factor: Input should be greater than or equal to 1",
        ),
        (
            "zh",
            "键 analysis.category_profiles.pharmacy：没有名为“slowest”的步行方式",
            "键 profiles.elderly.steps_factor：",
        ),
    ],
)
def test_a_bad_profile_is_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lang: str, unknown: str, low: str
) -> None:
    osm = write_steps_osm(tmp_path / "s.osm")
    plan = tmp_path / "plan.toml"
    head = f'[inputs]\nosm = "{osm.name}"\n[outputs]\nlang = "{lang}"\n'
    for body, text, fix in (
        ('[analysis.category_profiles]\npharmacy = "slowest"\n', unknown, "[profiles.slowest]"),
        ("[profiles.elderly]\nsteps_factor = 0.5\n", low, "0.5"),
    ):
        plan.write_text(head + body, encoding="utf-8")
        assert main(["plan", str(plan), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert text in err and fix in err, err
        assert not (tmp_path / "out").exists()


def test_gated_walks_on_a_profile_are_the_hand_computed_walks_scaled(tmp_path: Path) -> None:
    """The walled compound of :mod:`tests.coverage.test_gated`: with no way of a kind that
    costs more, an elderly walk by the compounds' rule is the hand-computed walk times the
    speed ratio (members only and closed gates included); other categories are unchanged."""
    area = fixture_area(write_compound_osm(tmp_path / "c.osm"))
    net = WalkNetwork.from_edges(area.edges)
    params = PlanParams(category_profiles={"kindergarten": "elderly", "park": "elderly"})
    acc = plan_access(net, area, params)
    rows = {d: i for i, d in enumerate(acc.demand.ids)}
    for (cat, who), walk in GATED.items():
        got = acc.distance_m[rows[who], acc.column(cat)]
        ratio = REFERENCE / 1.0 if cat != "shop" else 1.0
        assert got == pytest.approx(walk * ratio, abs=2e-2), (cat, who)
    table = open_compounds_table(net, area, params, acc).set_index("category")
    assert table.loc["park", "gated_share"] == pytest.approx(0.5)  # the members' 190 m x 1.11


def test_an_elderly_catchment_is_drawn_at_its_effective_threshold(tmp_path: Path) -> None:
    """On a profile at half the speed, 1000 effective metres are 500 plain metres: the
    catchment is the standard walker's at 500 m, labelled 1000 m."""
    area = build_study_area(StudyInputs(osm=str(write_steps_osm(tmp_path / "s.osm"))))
    half = WalkProfile("half", speed_m_s=REFERENCE / 2)
    params = PlanParams(
        placements=(), profiles=(half,), category_profiles={"elderly_care_home": "half"}
    )
    res = run_plan(area, params)
    assert res.catchments is not None and res.network is not None
    c = res.catchments
    rows = c.loc[(c["category"] == "elderly_care_home") & (c["kind"] == "existing")]
    assert rows["band_m"].tolist() == [1000.0]
    pts, _, snaps = res.access.entrances(
        area.facilities["category"].to_numpy() == "elderly_care_home"
    )
    lattice = grid_lattice(res.network, cell_m=GRID_CELL_M, width_m=40.0, max_snap_m=250.0)
    groups = np.full(len(snaps), "x", dtype=object)
    kw = {"width_m": 40.0, "lattice": lattice, "source_points": pts}
    at_500 = catchments(res.network, snaps, groups, [500.0], **kw).geometry.iloc[0]
    at_1000 = catchments(res.network, snaps, groups, [1000.0], **kw).geometry.iloc[0]
    slow = rows.geometry.iloc[0]
    assert slow.symmetric_difference(at_500).area < 1e-6 * at_500.area
    assert slow.area < at_1000.area - 100 * 40  # 100 m of street and more out of reach
