"""The coverage map: an interactive folium map for planners and grid managers.

Layers a user can switch: units coloured by the chosen measure (coverage of one category,
or life-circle completeness), facilities by category, uncovered residents, proposed sites
(numbered by rank), and the study-area edge. Popups are built in the browser from compact
feature properties, so large studies stay small. Every script and stylesheet is inlined
from installed packages (:mod:`lifecircle.maps.offline`); ``offline`` maps also leave out
the tile layer, so the page makes no request at all.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.plugins import FastMarkerCluster
from jinja2 import Template
from pyproj import Transformer

from lifecircle.coverage.tables import aligned_demand, residents_served
from lifecircle.geo.crs import wgs84_to_gcj02
from lifecircle.i18n import tr
from lifecircle.maps.basemaps import BaseMap, base_map
from lifecircle.maps.compact import COORD_SCALE, delta_stream, encode_ints, line_vertices
from lifecircle.maps.offline import inline_assets
from lifecircle.result import PlanResult

__all__ = [
    "CATEGORY_COLOURS",
    "coverage_map",
    "detail_zoom",
    "map_html",
    "polygon_rings",
    "save_map",
    "share_colour",
    "simplify_by_ring",
    "tiles_reachable",
]

CATEGORY_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363", "#969696", "#9c9ede", "#cedb9c", "#e7ba52",
]  # fmt: skip
SITE_COLOUR = "#6a00a8"
CLUSTER_ABOVE = 80  # a category with more facilities than this is clustered
NO_DATA = "#bdbdbd"
WGS84 = "EPSG:4326"
_PRECISION = 1e-5  # degrees, about 1 m
RESIDENT_POINTS_MAX = 3000
"""Above this many uncovered resident points the map draws one circle per unit, and the
points only when zoomed in (a choice: thousands of separate markers make a page slow to
open and large; see benchmarks/bench_map.py)."""
RESIDENT_DETAIL_CAP = 20_000  # at most this many points drawn at once when zoomed in
MAX_ZOOM = 19  # the deepest zoom of OpenStreetMap's own tiles
STREET_COLOUR = "#a0a0a0"
MAJOR_STREETS = frozenset(
    {
        "motorway", "trunk", "primary", "secondary", "tertiary",
        "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
    }
)  # fmt: skip


def share_colour(share: float | None) -> str:
    """Red (0) through yellow (0.5) to green (1); grey for no residents.

    Examples
    --------
    >>> share_colour(0.0), share_colour(1.0), share_colour(None)
    ('#d73027', '#1a9850', '#bdbdbd')
    """
    if share is None or not np.isfinite(share):
        return NO_DATA
    stops = [(0.0, (215, 48, 39)), (0.5, (254, 224, 139)), (1.0, (26, 152, 80))]
    s = float(min(1.0, max(0.0, share)))
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if s <= b:
            f = (s - a) / (b - a)
            rgb = [round(x + (y - x) * f) for x, y in zip(ca, cb, strict=True)]
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return "#1a9850"


def _num(x: Any, digits: int = 1) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return round(v, digits) if math.isfinite(v) else None


@dataclass(frozen=True)
class _Display:
    """How geometry is drawn: WGS84, or shifted to GCJ-02 to match Chinese commercial tiles."""

    gcj02: bool = False
    catchments: gpd.GeoDataFrame | None = None
    """The catchment rows the map draws, ready (:func:`_ready_catchments`)."""

    def frame(
        self, gdf: gpd.GeoDataFrame, *, simplify_m: float = 0.0, valid: bool = True
    ) -> gpd.GeoDataFrame:
        """``gdf`` simplified (metres), in display coordinates, rounded to about 1 m: kept
        valid, or (``valid=False``, for shapes only drawn, as the catchments) rounded vertex
        by vertex, many times faster on a city's outlines (:func:`polygon_rings` drops the
        repeated vertices and the rings that rounding collapses)."""
        out = gdf
        if simplify_m > 0:
            out = out.copy()
            out.geometry = out.geometry.simplify(simplify_m, preserve_topology=True)
        out = out.to_crs(WGS84).copy()
        geoms = out.geometry.to_numpy()
        if self.gcj02 and len(geoms):
            geoms = shapely.transform(
                geoms, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
            )
        mode = "valid_output" if valid else "pointwise"
        out.geometry = shapely.set_precision(geoms, _PRECISION, mode=mode)
        return out

    def lines(self, geoms: np.ndarray, crs: Any) -> np.ndarray:
        """Many lines in display coordinates, fast (coordinates transformed as one array)."""
        xy = shapely.get_coordinates(geoms)
        if len(xy) == 0:
            return geoms
        lon, lat = Transformer.from_crs(crs, WGS84, always_xy=True).transform(xy[:, 0], xy[:, 1])
        if self.gcj02:
            lon, lat = wgs84_to_gcj02(np.asarray(lon), np.asarray(lat))
        return shapely.set_coordinates(geoms.copy(), np.column_stack([lon, lat]))


def _features(gdf: gpd.GeoDataFrame, props: list[dict[str, Any]]) -> dict[str, Any]:
    arr = gdf.geometry.to_numpy()
    if len(arr) and not (shapely.is_missing(arr) | shapely.is_empty(arr)).any():
        # GEOS writes the GeoJSON (about 5 times faster than through geopandas' mappings;
        # the same coordinates, float for float, on the Helsinki map's 2,000 features)
        geoms = [json.loads(text) for text in shapely.to_geojson(arr)]
    else:
        features = json.loads(gpd.GeoSeries(arr, crs=WGS84).to_json(drop_id=True))["features"]
        geoms = [f["geometry"] for f in features]
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": g, "properties": p}
            for g, p in zip(geoms, props, strict=True)
        ],
    }


class _Call(MacroElement):
    """A call ``fn(map, parent, data)`` placed after its parent layer is created."""

    _template = Template(
        """{% macro script(this, kwargs) %}
{{ this.fn }}({{ this.map_name }}, {{ this._parent.get_name() }}, {{ this.data }});
{% endmacro %}"""
    )

    def __init__(self, fn: str, m: folium.Map, data: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "LifecircleCall"
        self.fn = fn
        self.map_name = m.get_name()
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        # the rendered script is read again as a Jinja template: no "{{", "{%" or "{#" may
        # stay (compact JSON has none outside strings, so these are in strings: escape them)
        for pair, escaped in (("{{", "{\\u007b"), ("{%", "{\\u0025"), ("{#", "{\\u0023")):
            text = text.replace(pair, escaped)
        self.data = text


class _Script(MacroElement):
    """A script placed after the map is created (it may use the map's variable)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
{{ this.code.replace("__MAP__", this._parent.get_name()) }}
{% endmacro %}"""
    )

    def __init__(self, code: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "LifecircleScript"
        self.code = code


def coverage_map(
    result: PlanResult,
    *,
    lang: str = "en",
    category: str | None = None,
    measure: str = "coverage",
    level: str = "all",
    tiles: str | None = "osm",
    offline: bool = False,
    resident_points_max: int | None = RESIDENT_POINTS_MAX,
) -> folium.Map:
    """An interactive map of a study's coverage.

    Parameters
    ----------
    result
        The plan result.
    lang
        ``"en"`` or ``"zh"`` for every label.
    category
        The category whose coverage colours the units (default: the result's focus).
    measure
        ``"coverage"`` (share of residents within the category's threshold) or
        ``"completeness"`` (share of residents in a complete life circle of ``level``).
    level
        With ``measure="completeness"``: ``"all"`` or a level such as ``"15min"``.
    tiles
        ``"osm"`` (OpenStreetMap tiles), ``"none"`` (a plain background), ``"amap"``
        (Gaode, GCJ-02: the overlays are shifted to match), or a tile URL template
        (``https://.../{z}/{x}/{y}.png``; Baidu's are refused, see
        :mod:`lifecircle.maps.basemaps`).
    offline
        Leave out the tile layer whatever ``tiles`` says (the page then needs no network).
        With no tile layer the study's own streets are drawn as a light base layer.
    resident_points_max
        Above this many uncovered resident points, draw one circle per unit (its uncovered
        residents and their share) and the points only from :func:`detail_zoom` on;
        ``None``: always the points.

    Returns
    -------
    folium.Map
        The map, its layers switchable; :func:`map_html` or :func:`save_map` makes it one
        self-contained page.
    """
    cat_id = category or result.focus_category
    result.area.catalog[cat_id]  # an unknown category fails here, before any drawing
    result.access.column(cat_id)
    if measure not in ("coverage", "completeness"):
        raise ValueError(f"unknown map measure {measure!r}: use coverage or completeness")
    basemap = None if offline else base_map(tiles)
    disp = _Display(gcj02=bool(basemap and basemap.gcj02))
    disp = replace(disp, catchments=_ready_catchments(result, cat_id, disp))
    m, extent_ll = _base_map(result, basemap, disp)
    if basemap is None:
        _street_layer(m, result, disp)
    _unit_layer(m, result, disp, lang=lang, cat_id=cat_id, measure=measure, level=level)
    _band_layer(m, result, cat_id, lang, disp)
    _gap_layer(m, result, cat_id, lang, disp)
    _supply_layer(m, result, cat_id, lang, disp)
    _facility_layers(m, result, cat_id, lang, disp)
    _resident_layer(m, result, cat_id, lang, disp, resident_points_max)
    _site_layers(m, result, lang, disp)
    _edge_layer(m, extent_ll, lang)
    folium.LayerControl(collapsed=False).add_to(m)
    used_osm = any(str(s.get("role")) == "osm" for s in result.area.sources)
    _decorate(m, result, lang=lang, cat_id=cat_id, measure=measure, level=level, used_osm=used_osm)
    return m


def _base_map(
    result: PlanResult, basemap: BaseMap | None, disp: _Display
) -> tuple[folium.Map, gpd.GeoDataFrame]:
    """The map fitted to the study area, with its tile layer (if any); and the study
    area's edge in display coordinates."""
    area = result.area
    extent_ll = disp.frame(gpd.GeoDataFrame(geometry=[area.extent], crs=area.crs))
    minx, miny, maxx, maxy = extent_ll.total_bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=15,
        control_scale=True,
        prefer_canvas=False,
    )
    if basemap is None:  # no tile layer gives the map its deepest zoom: clusters need one
        m.options["maxZoom"] = MAX_ZOOM
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    if basemap is not None:
        folium.TileLayer(
            basemap.url,
            name=basemap.name,
            attr=basemap.attribution,
            subdomains=basemap.subdomains,
            control=False,
        ).add_to(m)
    return m, extent_ll


def street_lines(result: PlanResult, disp: _Display) -> dict[bool, np.ndarray]:
    """The study's streets that touch its area, in display coordinates (not rounded):
    major roads (``True``) and the rest (``False``)."""
    edges = result.area.edges
    if len(edges) == 0:
        return {}
    inside = edges.loc[edges.intersects(result.area.extent)]
    geoms = disp.lines(inside.geometry.to_numpy(), result.area.crs)
    highway = inside["highway"].astype(str).to_numpy() if "highway" in inside else None
    major = (
        np.isin(highway, list(MAJOR_STREETS)) if highway is not None else np.zeros(len(geoms), bool)
    )
    return {True: geoms[major], False: geoms[~major]}


def street_layers(lines: dict[bool, np.ndarray]) -> list[dict[str, Any]]:
    """Streets (WGS84 or display lines: major roads under ``True``, the rest under
    ``False``) as the page's ``lcStreets`` draws them: per kind, the vertex counts and the
    coordinates as compact integer streams, with the colour and the line weight."""
    layers = []
    for major, geoms in sorted(lines.items()):
        counts, latlon = line_vertices(geoms)
        if len(counts) == 0:
            continue
        layers.append(
            {
                "n": encode_ints(counts),
                "c": encode_ints(delta_stream(latlon)),
                "colour": STREET_COLOUR,
                "weight": 2.5 if major else 1.0,
            }
        )
    return layers


def _street_layer(m: folium.Map, result: PlanResult, disp: _Display) -> None:
    """The study's own streets as a light base layer, for pages with no web tiles."""
    layers = street_layers(street_lines(result, disp))
    if layers:
        _Call("lcStreets", m, {"layers": layers}).add_to(m)


def _unit_props(
    result: PlanResult, units: gpd.GeoDataFrame, *, cat_id: str, measure: str, level: str
) -> list[dict[str, Any]]:
    """Each unit's popup and colour: its residents, the measure's value and colour, the
    share complete, and per category the share covered and the median walk."""
    catalog = result.area.catalog
    by_unit = result.coverage.by_unit
    share = by_unit.pivot(index="unit_id", columns="category", values="share")
    p50 = by_unit.pivot(index="unit_id", columns="category", values="p50_m")
    residents = by_unit.loc[by_unit["category"] == cat_id].set_index("unit_id")["residents"]
    comp = result.coverage.completeness_by_unit.set_index("unit_id")
    comp_col = f"share_complete_{level}" if f"share_complete_{level}" in comp.columns else None
    ids = units["unit_id"].astype(str).tolist()
    # every unit's row looked up at once (absent units: NaN, drawn as None as before)
    shares = share.reindex(index=ids, columns=list(catalog.ids)).to_numpy(float)
    p50s = p50.reindex(index=ids, columns=list(catalog.ids)).to_numpy(float)
    res = residents.reindex(ids, fill_value=0.0).to_numpy(float)
    nan = np.full(len(ids), np.nan)
    if measure == "coverage":
        values = share[cat_id].reindex(ids).to_numpy(float) if cat_id in share else nan
    else:
        values = comp[comp_col].reindex(ids).to_numpy(float) if comp_col else nan
    complete = (
        comp["share_complete_all"].reindex(ids).to_numpy(float)
        if "share_complete_all" in comp.columns
        else nan
    )
    props = []
    for i, (uid, name) in enumerate(zip(ids, units["name"].astype(str), strict=True)):
        value = _num(values[i], 4)
        props.append(
            {
                "id": uid,
                "name": name,
                "res": _num(res[i], 0),
                "value": value,
                "colour": share_colour(value),
                "complete": _num(complete[i], 4),
                "s": [_num(v, 4) for v in shares[i]],
                "d": [_num(v, 0) for v in p50s[i]],
            }
        )
    return props


def _unit_layer(
    m: folium.Map,
    result: PlanResult,
    disp: _Display,
    *,
    lang: str,
    cat_id: str,
    measure: str,
    level: str,
) -> None:
    """The units, coloured by the measure."""
    area = result.area
    units = disp.frame(area.units, simplify_m=2.0)
    props = _unit_props(result, units, cat_id=cat_id, measure=measure, level=level)
    unit_layer = folium.GeoJson(
        _features(units, props),
        name=tr(
            "grid_cells"
            if area.units["unit_id"].astype(str).str.match(r"^R\d+C\d+$").all()
            else "communities",
            lang,
        ),
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "color": "#555555",
            "weight": 0.8,
            "fillOpacity": 0.55,
        },
        highlight_function=lambda f: {"weight": 2.5, "color": "#000000"},
        on_each_feature=folium.JsCode("lcBindUnit"),
    )
    unit_layer.add_to(m)


def _facility_layers(
    m: folium.Map, result: PlanResult, cat_id: str, lang: str, disp: _Display
) -> None:
    """One switchable group per category: its facilities (clustered when many) and their
    walking reach; only the focus category's is shown at first."""
    catalog = result.area.catalog
    fac = result.area.facilities
    served = residents_served(result.access, len(fac))
    fac_pts = fac.copy()
    fac_pts.geometry = shapely.point_on_surface(fac.geometry.to_numpy())
    fac_ll = disp.frame(fac_pts)
    for i, cid in enumerate(catalog.ids):
        sel = np.flatnonzero(fac_ll["category"].to_numpy() == cid)
        if len(sel) == 0:
            continue
        colour = CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
        sub = fac_ll.iloc[sel]
        fprops = [
            {
                "id": str(fid),
                "name": None if nm is None or nm != nm else str(nm),
                "cat": catalog[cid].name(lang),
                "served": _num(served[j], 0),
            }
            for fid, nm, j in zip(sub["facility_id"], sub["name"], sel, strict=True)
        ]
        group = folium.FeatureGroup(
            name=f"<span style='color:{colour}'>●</span> {catalog[cid].name(lang)} ({len(sel)})",
            show=cid == cat_id,
        )
        _catchment(m, result, cid, "existing", colour, lang, disp).add_to(
            group
        )  # its walking reach
        _facility_markers(sub, fprops, colour).add_to(group)
        group.add_to(m)


def _facility_markers(
    sub: gpd.GeoDataFrame, fprops: list[dict[str, Any]], colour: str
) -> FastMarkerCluster | folium.GeoJson:
    """One category's facility markers: clustered and made in the browser when many."""
    if len(sub) > CLUSTER_ABOVE:
        rows = [
            [round(g.y, 6), round(g.x, 6), p["name"] or p["id"], p["cat"], p["served"], colour]
            for g, p in zip(sub.geometry, fprops, strict=True)
        ]
        return FastMarkerCluster(rows, callback="lcClusterMarker", control=False)
    return folium.GeoJson(
        _features(sub, fprops),
        marker=folium.CircleMarker(
            radius=6,
            weight=1.5,
            color="#ffffff",
            fill=True,
            fill_color=colour,
            fill_opacity=0.95,
        ),
        on_each_feature=folium.JsCode("lcBindFacility"),
    )


def _resident_layer(
    m: folium.Map,
    result: PlanResult,
    cat_id: str,
    lang: str,
    disp: _Display,
    points_max: int | None,
) -> None:
    """The resident points the focus category does not cover, sized by residents; above
    ``points_max`` points, one circle per unit at first and the points on zooming in."""
    acc = result.access
    k = acc.column(cat_id)
    unc = ~acc.covered[:, k]
    if not unc.any():
        return
    d_ll = disp.frame(aligned_demand(acc, result.area.demand).loc[unc])
    dist = acc.distance_m[unc, k]
    res = acc.weights(cat_id)[unc]  # the category's age group where the study knows it
    name = (
        f"{tr('uncovered_residents', lang)}: "
        f"{result.area.catalog[cat_id].name(lang)} ({res.sum():,.0f})"
    )
    if points_max is not None and int(unc.sum()) > points_max:
        group = folium.FeatureGroup(name=name, show=True)
        data = _resident_data(result, d_ll, unc, dist, float(acc.limits_m[k]), cat_id)
        _Call("lcResidents", m, data).add_to(group)
        group.add_to(m)
        return
    rprops = [
        {
            "res": _num(r, 0),
            "unit": str(u),
            "d": _num(d, 0),
            "limit": float(acc.limits_m[k]),
            "radius": round(float(min(14.0, 2.0 + math.sqrt(max(r, 0.0)) / 2.5)), 1),
        }
        for r, u, d in zip(res, acc.demand.unit_id[unc], dist, strict=True)
    ]
    folium.GeoJson(
        _features(d_ll, rprops),
        name=name,
        marker=folium.CircleMarker(
            radius=4,
            weight=0.5,
            color="#7f0000",
            fill=True,
            fill_color="#e34a33",
            fill_opacity=0.6,
        ),
        style_function=lambda f: {"radius": f["properties"]["radius"]},
        on_each_feature=folium.JsCode("lcBindResident"),
    ).add_to(m)


def detail_zoom(result: PlanResult) -> int:
    """The zoom from which the resident points replace their units' circles: where the
    median unit is about 48 pixels wide on a 256-pixel web-map tile, between 13 and 17."""
    side_m = _unit_side_m(result)
    lat = float(_centre_lat(result))
    metres_per_px_z0 = 2 * math.pi * 6_378_137 * math.cos(math.radians(lat)) / 256
    zoom = math.log2(metres_per_px_z0 * 48 / max(side_m, 1.0))
    return int(min(17, max(13, math.ceil(zoom))))


def _unit_side_m(result: PlanResult) -> float:
    """The side of the median unit's square (metres)."""
    units = result.area.units
    return float(np.median(np.sqrt(units.area.to_numpy()))) if len(units) else 250.0


def _centre_lat(result: PlanResult) -> float:
    """The study area's central latitude (WGS84)."""
    ext = gpd.GeoSeries([result.area.extent], crs=result.area.crs).to_crs(WGS84)
    miny, maxy = ext.total_bounds[[1, 3]]
    return float((miny + maxy) / 2)


def _resident_data(
    result: PlanResult,
    d_ll: gpd.GeoDataFrame,
    unc: np.ndarray,
    dist: np.ndarray,
    limit: float,
    category: str,
) -> dict[str, Any]:
    """What ``lcResidents`` draws: per unit its uncovered residents' centre, the unit's
    residents and uncovered residents and its number of points; the points themselves, in
    unit order, as one integer stream (:mod:`lifecircle.maps.compact`)."""
    weights = result.access.weights(category)  # the category's age group where known
    all_units = result.access.demand.unit_id.astype(str)
    total = pd.Series(weights).groupby(all_units).sum()
    units = all_units[unc]
    res = weights[unc]
    xy = shapely.get_coordinates(d_ll.geometry.to_numpy())
    latlon = np.rint(xy[:, ::-1] * COORD_SCALE).astype(np.int64)
    order = np.lexsort((latlon[:, 1], latlon[:, 0], units))
    units, res, latlon, dist = units[order], res[order], latlon[order], dist[order]
    ids, start, counts = np.unique(units, return_index=True, return_counts=True)
    weight = np.maximum(res, 1e-9)
    unc_res = np.add.reduceat(res, start)
    centre = np.column_stack(
        [np.add.reduceat(latlon[:, j] * weight, start) / np.add.reduceat(weight, start)
         for j in (0, 1)]
    )  # fmt: skip
    aggregates = [
        [round(float(c[0])), round(float(c[1])), round(float(total[u])), round(float(r)), int(n)]
        for c, u, r, n in zip(centre, ids, unc_res, counts, strict=True)
    ]
    metres = np.where(np.isfinite(dist), np.rint(np.nan_to_num(dist, nan=-1.0)), -1)
    stream = np.column_stack([delta_stream(latlon), np.rint(res), metres]).astype(np.int64)
    return {
        "z": detail_zoom(result),
        "r": round(_unit_side_m(result) / 2, 1),
        "cap": RESIDENT_DETAIL_CAP,
        "limit": limit,
        "u": ids.tolist(),
        "a": aggregates,
        "p": encode_ints(stream),
    }


def _site_layers(m: folium.Map, result: PlanResult, lang: str, disp: _Display) -> None:
    """Each category's proposed sites, numbered by rank, with their walking reach."""
    catalog = result.area.catalog
    for rec in result.sites.values():
        if len(rec.sites) == 0:
            continue
        s_ll = disp.frame(rec.sites)
        sprops = [
            {
                "rank": int(r),
                "cat": catalog[rec.category].name(lang),
                "gain": _num(g, 0),
                "share": _num(sh, 4),
                "street": st if isinstance(st, str) else None,
                "units": str(u),
            }
            for r, g, sh, st, u in zip(
                s_ll["rank"],
                s_ll["new_residents"],
                s_ll["cumulative_share"],
                s_ll["street"],
                s_ll["units"],
                strict=True,
            )
        ]
        star = f"<span style='color:{SITE_COLOUR}'>★</span>"
        name = catalog[rec.category].name(lang)
        label = f"{star} {tr('proposed_sites', lang)}: {name} ({len(sprops)})"
        site_group = folium.FeatureGroup(name=label, show=True)
        _catchment(m, result, rec.category, "proposed", SITE_COLOUR, lang, disp).add_to(site_group)
        folium.GeoJson(
            _features(s_ll, sprops),
            marker=folium.Marker(),
            on_each_feature=folium.JsCode("lcBindSite"),
        ).add_to(site_group)
        site_group.add_to(m)


def _edge_layer(m: folium.Map, extent_ll: gpd.GeoDataFrame, lang: str) -> None:
    """The study area's edge, dashed."""
    folium.GeoJson(
        json.loads(extent_ll.to_json(drop_id=True)),
        name=tr("study_area", lang),
        style_function=lambda f: {
            "fill": False,
            "color": "#222222",
            "weight": 2,
            "dashArray": "6 4",
        },
        interactive=False,
    ).add_to(m)


def _root(m: folium.Map) -> Figure:
    root = m.get_root()
    assert isinstance(root, Figure)
    return root


CATCHMENT_SIMPLIFY_M = 3.0
"""How far a drawn catchment's outline may move when simplified (metres)."""


def _ready_catchments(result: PlanResult, cat_id: str, disp: _Display) -> gpd.GeoDataFrame | None:
    """The catchments the map draws (each category's at its threshold, the focus category's
    bands), simplified and in display coordinates: :meth:`_Display.frame` of those rows,
    with the simplification (the slow part, elementwise) one polygon per thread, as shapely
    releases the GIL."""
    frame = result.catchments
    if frame is None or len(frame) == 0:
        return None
    access = result.access
    threshold = dict(zip(access.categories, np.asarray(access.thresholds_m, float), strict=True))
    at_threshold = frame["band_m"].to_numpy(float) == frame["category"].map(threshold).to_numpy(
        float
    )
    bands = ((frame["category"] == cat_id) & (frame["kind"] == "existing")).to_numpy()
    rows = np.flatnonzero(at_threshold | bands)
    ready = frame.iloc[rows].copy()
    geoms = frame.geometry.to_numpy()[rows]
    if len(rows):
        with ThreadPoolExecutor(max_workers=max(1, min(len(rows), os.cpu_count() or 1))) as pool:
            ready.geometry = list(
                pool.map(lambda g: simplify_by_ring(g, CATCHMENT_SIMPLIFY_M), geoms)
            )
    return disp.frame(ready, valid=False)


def simplify_by_ring(geom: Any, tolerance: float) -> Any:
    """``shapely.simplify(geom, tolerance, preserve_topology=True)`` of a (multi)polygon, one
    ring at a time: each ring is simplified as a polygon of its own, and the polygon made of
    them is kept when valid (else that polygon is simplified whole, as before).

    GEOS's topology-preserving simplifier slows faster than the vertex count grows on one
    polygon with many holes (a city's catchment: 8.4 times the vertices took 35 times as
    long); ring by ring it is linear. On the Helsinki catchments (k=3, 17 of them, and one
    nine times larger) the result is the same geometry, vertex for vertex.
    """
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        return shapely.simplify(geom, tolerance, preserve_topology=True)
    parts = shapely.get_parts(geom)
    rings, owner = shapely.get_rings(parts, return_index=True)
    simple = shapely.get_exterior_ring(
        shapely.simplify(shapely.polygons(rings), tolerance, preserve_topology=True)
    )
    starts = np.searchsorted(owner, np.arange(len(parts) + 1))
    out = []
    for i, part in enumerate(parts):
        own = simple[starts[i] : starts[i + 1]]
        poly = shapely.polygons(own[0], holes=own[1:] if len(own) > 1 else None)
        if not shapely.is_valid(poly):
            poly = shapely.simplify(part, tolerance, preserve_topology=True)
        out.append(poly)
    return out[0] if geom.geom_type == "Polygon" else shapely.multipolygons(out)


BAND_COLOURS = ["#08519c", "#3182bd", "#6baed6", "#bdd7e7"]


def _catchment(
    m: folium.Map, result: PlanResult, cat: str, kind: str, colour: str, lang: str, disp: _Display
) -> _Call:
    """One category's catchment at its threshold, existing or proposed (empty if none), as
    compact rings (:func:`polygon_rings`) the page draws with ``lcRings``."""
    frame = disp.catchments if disp.catchments is not None else result.catchments
    k = result.access.column(cat)
    threshold = float(result.access.thresholds_m[k])
    if frame is not None and len(frame):
        rows = frame.loc[
            (frame["category"] == cat) & (frame["kind"] == kind) & (frame["band_m"] == threshold)
        ]
    else:
        rows = gpd.GeoDataFrame(
            {"band_m": []}, geometry=gpd.GeoSeries([], crs=result.area.crs), crs=result.area.crs
        )
    label = tr(
        "walk_reach" if kind == "existing" else "walk_reach_new",
        lang,
        category=result.area.catalog[cat].name(lang),
        metres=f"{threshold:.0f}",
    )
    props = [{"label": label, "colour": colour} for _ in range(len(rows))]
    return _Call("lcRings", m, polygon_rings(_drawn(rows, disp).geometry.to_numpy(), props))


def polygon_rings(geoms: np.ndarray, props: list[dict[str, Any]]) -> dict[str, Any]:
    """(Multi)polygons in display coordinates (rounded to 1e-5 degree) as the page's
    ``lcRings`` draws them: per feature its polygons (``np``), per polygon its rings
    (``nr``, the outer one first), per ring its vertices (``nv``) and the vertices as
    [dlat, dlon] (``c``), all compact integer streams; ``f`` the features' properties
    (``label``, ``colour``). The same rings GeoJSON would hold, a fifth of the size."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_owner = shapely.get_rings(parts, return_index=True)
    xy, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    latlon = np.rint(xy[:, ::-1] * COORD_SCALE).astype(np.int64)
    # a vertex rounded onto the one before is dropped; a ring left with fewer than three
    # corners is dropped, and a polygon whose outer ring is, with its holes
    keep = np.ones(len(latlon), dtype=bool)
    keep[1:] = (latlon[1:] != latlon[:-1]).any(axis=1) | (vertex_ring[1:] != vertex_ring[:-1])
    nv = np.bincount(vertex_ring[keep], minlength=len(rings))
    outer = np.ones(len(rings), dtype=bool)
    outer[1:] = ring_owner[1:] != ring_owner[:-1]
    part_ok = np.zeros(len(parts), dtype=bool)
    part_ok[ring_owner[outer]] = nv[outer] >= 4
    ring_ok = (nv >= 4) & part_ok[ring_owner]
    keep &= ring_ok[vertex_ring]
    return {
        "np": encode_ints(np.bincount(owner[part_ok], minlength=len(geoms))),
        "nr": encode_ints(np.bincount(ring_owner[ring_ok], minlength=len(parts))[part_ok]),
        "nv": encode_ints(nv[ring_ok]),
        "c": encode_ints(delta_stream(latlon[keep])),
        "f": props,
    }


def _drawn(rows: gpd.GeoDataFrame, disp: _Display) -> gpd.GeoDataFrame:
    """Catchment rows as drawn: ready already (from ``disp.catchments``), or made so."""
    if disp.catchments is not None and rows.crs == disp.catchments.crs:
        return rows
    return disp.frame(rows, simplify_m=CATCHMENT_SIMPLIFY_M, valid=False)


def _band_layer(m: folium.Map, result: PlanResult, cat_id: str, lang: str, disp: _Display) -> None:
    """The focus category's catchment in 5/10/15-minute bands, as a layer of its own."""
    frame = disp.catchments if disp.catchments is not None else result.catchments
    if frame is None or len(frame) == 0:
        return
    k = result.access.column(cat_id)
    own = frame.loc[
        (frame["category"] == cat_id)
        & (frame["kind"] == "existing")
        & (frame["band_m"] != result.access.thresholds_m[k])
    ]
    if len(own) == 0:
        return
    own = own.sort_values("band_m", ascending=False)
    minutes = own["band_m"].to_numpy() / (result.params.speed_kmh * 1000 / 60)
    props = [
        {
            "label": tr("walk_minutes", lang, minutes=round(float(mn)), metres=f"{b:.0f}"),
            "colour": BAND_COLOURS[i % len(BAND_COLOURS)],
        }
        for i, (b, mn) in enumerate(zip(own["band_m"], minutes, strict=True))
    ]
    group = folium.FeatureGroup(
        name=f"{tr('catchments', lang)}: {result.area.catalog[cat_id].name(lang)} (5/10/15 min)",
        show=False,
    )
    _Call("lcRings", m, polygon_rings(_drawn(own, disp).geometry.to_numpy(), props)).add_to(group)
    group.add_to(m)


SUPPLY_COLOURS = {"short": "#d7301f", "met": "#1a9850", "unknown": "#bdbdbd"}
"""Fill of a unit in the supply layer, by its status against the category's indicator."""


def _supply_layer(
    m: folium.Map, result: PlanResult, cat_id: str, lang: str, disp: _Display
) -> None:
    """Units coloured by supply against the indicator of the focus category (or, when it has
    none, the first category that has one), with need, supply and shortfall on hover."""
    supply = result.supply
    if supply is None or len(supply) == 0:
        return
    rows = supply.loc[supply["level"] == "unit"]
    cats = list(dict.fromkeys(rows["category"]))
    if not cats:
        return
    cat = cat_id if cat_id in cats else cats[0]
    rows = rows.loc[rows["category"] == cat].set_index("unit_id")
    units = result.area.units
    units = units.loc[units["unit_id"].astype(str).isin(rows.index.astype(str))]
    own = rows.loc[units["unit_id"].astype(str).to_numpy()]
    props = [
        {
            "unit": str(u),
            "need": _num(n, 1),
            "supply": _num(sv, 1),
            "short": _num(d, 1),
            "status": tr(f"supply_{st}", lang),
            "fill": SUPPLY_COLOURS.get(str(st), "#bdbdbd"),
        }
        for u, n, sv, d, st in zip(
            own.index, own["need"], own["supply"], own["deficit"], own["status"], strict=True
        )
    ]
    fields = ["unit", "need", "supply", "short", "status"]
    aliases = [tr(k, lang) for k in ("col_unit", "col_need", "col_supply", "col_deficit")]
    folium.GeoJson(
        _features(disp.frame(units, simplify_m=2.0), props),
        name=f"{tr('supply_title', lang)}: {result.area.catalog[cat].name(lang)}",
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.45,
            "color": "#555555",
            "weight": 1,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=fields, aliases=[*aliases, tr("col_supply_status", lang)]
        ),
        show=False,
    ).add_to(m)


def _gap_layer(m: folium.Map, result: PlanResult, cat_id: str, lang: str, disp: _Display) -> None:
    """Clusters of uncovered residents of the focus category, outlined and ranked."""
    gaps = result.gaps
    if gaps is None or len(gaps) == 0:
        return
    own = gaps.loc[gaps["category"] == cat_id]
    if len(own) == 0:
        return
    ll = disp.frame(own, simplify_m=2.0)
    fac_names = result.area.facilities.set_index("facility_id")["name"]
    fac_names = fac_names[~fac_names.index.duplicated()]
    props = [
        {
            "rank": int(r),
            "res": _num(res, 0),
            "units": str(u),
            "nearest": (
                None
                if f is None
                else str(fac_names.get(f) if isinstance(fac_names.get(f), str) else f)
            ),
            "d": _num(d, 0),
            "limit": float(result.access.limits_m[result.access.column(cat_id)]),
        }
        for r, res, u, f, d in zip(
            own["rank"],
            own["residents"],
            own["units"],
            own["nearest_facility"],
            own["nearest_m"],
            strict=True,
        )
    ]
    folium.GeoJson(
        _features(ll, props),
        name=f"{tr('gaps', lang)}: {result.area.catalog[cat_id].name(lang)} ({len(own)})",
        style_function=lambda f: {
            "fill": True,
            "fillColor": "#e31a1c",
            "fillOpacity": 0.05,
            "color": "#b10026",
            "weight": 1.5,
            "dashArray": "4 3",
        },
        on_each_feature=folium.JsCode("lcBindGap"),
        show=False,
    ).add_to(m)


def _decorate(
    m: folium.Map,
    result: PlanResult,
    *,
    lang: str,
    cat_id: str,
    measure: str,
    level: str,
    used_osm: bool,
) -> None:
    """The popups' script and data, the style sheet, the title box and legend, and the
    OpenStreetMap attribution when OSM data was used."""
    js = (resources.files("lifecircle.maps") / "popups.js").read_text(encoding="utf-8")
    lc = json.dumps(_popup_data(result, lang), ensure_ascii=False)
    _root(m).header.add_child(Element(f"<script>var LC = {lc};\n{js}</script>"))
    css = (resources.files("lifecircle.maps") / "map.css").read_text(encoding="utf-8")
    _root(m).header.add_child(Element(f"<style>{css}</style>"))
    legend = _legend(result, lang=lang, cat_id=cat_id, measure=measure, level=level)
    _root(m).html.add_child(Element(_title_box(result, lang, cat_id) + legend))
    if used_osm:
        attribution = tr("osm_attribution", lang)
        text = json.dumps(attribution, ensure_ascii=False)
        m.add_child(_Script(f"__MAP__.attributionControl.addAttribution({text});"))


def _popup_data(result: PlanResult, lang: str) -> dict[str, Any]:
    """What the browser's popups read: the categories, the unit share and the labels."""
    keys = (
        "unit residents no_residents complete_share category coverage median_distance_m missing "
        "missing_none distance_m new_residents cumulative_share street units_gaining units "
        "uncovered_residents nearest_facility"
    )
    labels = {key: tr(key, lang) for key in keys.split()}
    labels["none_in_reach"] = tr("none_in_reach", lang, limit="{limit}")
    labels["nearest_at"] = tr("nearest_at", lang, distance="{distance}")
    labels["proposed_site"] = tr("proposed_site", lang, rank="{rank}")
    labels["gap"] = tr("gap", lang, rank="{rank}")
    return {
        "cats": [
            {
                "id": c.id,
                "name": c.name(lang),
                "required": c.required,
                "limit": float(result.access.limits_m[i]),
            }
            for i, c in enumerate(result.area.catalog)
        ],
        "unitShare": result.coverage.unit_share,
        "t": labels,
    }


def _legend(result: PlanResult, *, lang: str, cat_id: str, measure: str, level: str) -> str:
    """The colour legend of the measure."""
    if measure == "coverage":
        k = result.access.column(cat_id)
        legend_title = tr(
            "legend_title",
            lang,
            category=result.area.catalog[cat_id].name(lang),
            threshold=f"{result.access.thresholds_m[k]:.0f}",
        )
    else:
        legend_title = tr(
            "legend_completeness", lang, level=result.area.catalog.level_name(level, lang)
        )
    swatch = "<div><span class='lc-swatch' style='background:{}'></span>{}</div>"
    stops = "".join(swatch.format(share_colour(v), f"{v:.0%}") for v in (1.0, 0.75, 0.5, 0.25, 0.0))
    stops += swatch.format(NO_DATA, tr("no_residents", lang))
    return f"<div class='lc-legend'><b>{legend_title}</b>{stops}</div>"


def _title_box(result: PlanResult, lang: str, cat_id: str) -> str:
    """The title box: the study's size and the focus category's headline shares."""
    area = result.area
    cat = area.catalog[cat_id]
    total = float(area.demand["residents"].sum())
    area_km2 = float(area.units.area.sum()) / 1e6
    row = result.coverage.overall.set_index("category").loc[cat_id]
    comp_all = result.coverage.completeness_overall.set_index("level")
    complete = _num(comp_all["share_complete"].get("all"), 6)
    source_names = ", ".join(Path(str(s.get("path", ""))).name for s in area.sources)
    title = tr("map_title", lang, catalog=tr("app_title", lang), category=cat.name(lang))
    lines = [
        f"{tr('area_km2', lang)}: {area_km2:.2f} · {tr('residents', lang)}: {total:,.0f}"
        f" · {tr('units', lang)}: {len(area.units)}",
        f"{tr('share_covered', lang)}: <b>{row['share']:.1%}</b>"
        f" · {tr('share_units_covered', lang)}: <b>{row['share_units']:.1%}</b>",
        f"{tr('complete_share', lang)}: {complete or 0.0:.1%}",
    ]
    today = date.today().isoformat()
    small = f"{tr('data_source', lang)}: {source_names} · {tr('date', lang)}: {today}"
    body = "".join(f"<div>{x}</div>" for x in lines)
    head = f"<div class='lc-h'>{title}</div>"
    return f"<div class='lc-title'>{head}{body}<div class='lc-small'>{small}</div></div>"


def tiles_reachable(host: str = "tile.openstreetmap.org", timeout_s: float = 2.0) -> bool:
    """Whether the OpenStreetMap tile server answers (decides ``offline`` when not given)."""
    import socket

    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def map_html(m: folium.Map) -> str:
    """The map as one self-contained HTML page (scripts and styles inlined)."""

    return inline_assets(m.get_root().render())


def save_map(m: folium.Map, path: str | Path) -> None:
    """Write the map as one self-contained HTML file (scripts and styles inlined)."""
    Path(path).write_text(map_html(m), encoding="utf-8")
