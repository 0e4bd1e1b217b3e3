"""The StudyArea: everything a life-circle analysis needs, validated, in one metric CRS."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from lifecircle.geo.catalog import ServiceCatalog
from lifecircle.geo.compounds import Compounds
from lifecircle.i18n import Note

__all__ = ["StudyArea", "facilities_from_osm", "metric_crs_for", "units_at_data_edge"]

log = logging.getLogger(__name__)

FACILITY_COLUMNS = ["facility_id", "category", "name", "source", "capacity", "geometry"]


@dataclass
class StudyArea:
    """Inputs of a study, projected to one metric CRS.

    Attributes
    ----------
    crs
        The metric CRS of every layer (a UTM zone unless the user chose one).
    units
        ``unit_id``, ``name``, ``population`` (known, or missing), polygon.
    demand
        Resident points: ``demand_id``, ``residents``, ``unit_id``, point.
    facilities
        ``facility_id``, ``category``, ``name``, ``source``, ``capacity``; a point, or the
        polygon for categories reached at their edge (parks).
    edges
        The walk network: ``u``, ``v``, ``highway``, ``name``, ``ground``, LineString.
    catalog
        The service catalog.
    extent
        The area the data covers (units plus buffer, or the extract's extent).
    candidates
        Sites for new facilities (``candidate_id``, ``name``, point), or None to generate.
    compounds
        The gated compounds laid on ``edges`` (:mod:`lifecircle.geo.compounds`), or None
        when compounds are open (walked like public streets).
    sources
        Provenance of each input: ``{"role", "path", ...}``.
    notes
        Things a planner should know about the inputs (units at the data edge, ...).
    poi_audit
        For Amap or Baidu POI exports among the facility files: every code seen, its rows
        and the category they went to (:data:`lifecircle.geo.poi.AUDIT_COLUMNS`); else None.
    """

    crs: CRS
    units: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    catalog: ServiceCatalog
    extent: BaseGeometry
    candidates: gpd.GeoDataFrame | None = None
    compounds: Compounds | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    poi_audit: pd.DataFrame | None = None

    @property
    def boundary(self) -> BaseGeometry:
        """The union of the units."""
        return shapely.union_all(self.units.geometry.to_numpy())


def metric_crs_for(geom_wgs84: BaseGeometry) -> CRS:
    """The UTM zone CRS of a WGS84 geometry's centre (e.g. EPSG:32650 for Beijing).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> metric_crs_for(Point(116.35, 39.96)).to_epsg()
    32650
    """
    crs = gpd.GeoSeries([geom_wgs84], crs="EPSG:4326").estimate_utm_crs()
    return CRS.from_user_input(crs)


def facilities_from_osm(
    features: gpd.GeoDataFrame, catalog: ServiceCatalog, crs: CRS
) -> gpd.GeoDataFrame:
    """Service facilities from OSM features, by the catalog's tag rules.

    A feature matching several categories gives one row per category. Facilities of a
    category reached at its edge keep their polygon; others become a point inside the
    feature. ``facility_id`` is the OSM element (``n123``, ``w456``, ``r789``).

    Parameters
    ----------
    features
        OSM features with their tags (WGS84).
    catalog
        The service catalog whose rules say which feature is which category.
    crs
        The study's metric CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id``, ``category``, ``name`` and geometry, in ``crs``.
    """
    matches = catalog.match(features)
    if len(matches) == 0:
        return gpd.GeoDataFrame(
            {c: [] for c in FACILITY_COLUMNS[:-1]}, geometry=gpd.GeoSeries([], crs=crs), crs=crs
        )
    feats = features.loc[matches["feature"].to_numpy()].to_crs(crs)  # the matched only
    cats = matches["category"].to_numpy()
    geoms = feats.geometry.to_numpy()
    big = _big_enough(geoms, cats, catalog)
    feats, cats, geoms = feats.loc[big], cats[big], geoms[big]
    is_poly = shapely.get_type_id(geoms) >= 3
    edge_access = np.array([catalog[c].access == "edge" for c in cats])
    keep_poly = is_poly & edge_access
    points = shapely.point_on_surface(geoms)
    geoms = np.where(keep_poly, geoms, points)
    capacity = [
        _number(t.get(catalog[c].capacity_tag)) if catalog[c].capacity_tag else np.nan
        for t, c in zip(feats["tags"], cats, strict=True)
    ]
    ids = [f"{str(t)[:1]}{int(i)}" for t, i in zip(feats["osm_type"], feats["osm_id"], strict=True)]
    out = gpd.GeoDataFrame(
        {
            "facility_id": ids,
            "category": cats,
            "name": feats["name"].to_numpy(),
            "source": "osm",
            "capacity": np.array(capacity, dtype=float),
        },
        geometry=geoms,
        crs=crs,
    )
    return out.reset_index(drop=True)


def _big_enough(geoms: np.ndarray, cats: np.ndarray, catalog: ServiceCatalog) -> np.ndarray:
    """Whether each feature meets its category's ``min_size_m2`` (points never do)."""
    minimum = np.array([catalog[c].min_size_m2 or 0.0 for c in cats], dtype=float)
    return (minimum <= 0) | (shapely.area(geoms) >= minimum)


def _number(value: Any) -> float:
    if value is None:
        return np.nan
    m = re.search(r"\d+(?:\.\d+)?", str(value))
    return float(m.group()) if m else np.nan


def units_at_data_edge(
    units: gpd.GeoDataFrame, data_area: BaseGeometry, buffer_m: float
) -> list[str]:
    """Units whose walking surroundings reach beyond the data (facilities there are unknown).

    A unit is at the edge when the area within three quarters of ``buffer_m`` of it is not
    inside ``data_area`` (the hull of the streets read): streets never quite reach the
    line the data was cut at, hence the allowance.

    Parameters
    ----------
    units
        The units (``unit_id`` and polygons, metric CRS).
    data_area
        The area the data covers, same CRS.
    buffer_m
        How far residents walk beyond their unit (the longest threshold).

    Returns
    -------
    list of str
        The ids of the units at the edge.
    """
    if data_area.is_empty:
        return units["unit_id"].astype(str).tolist()
    grown = shapely.buffer(units.geometry.to_numpy(), 0.75 * buffer_m)
    inside = shapely.within(grown, data_area.buffer(1.0))
    return units.loc[~inside, "unit_id"].astype(str).tolist()
