"""Coordinate systems of the points users bring, and the metric CRS of a study.

Chinese map services publish coordinates that are not WGS84:

- **GCJ-02** (Amap/Gaode, Tencent): WGS84 shifted by a published nonlinear offset of
  roughly 100-700 m inside China (identity outside);
- **BD-09** (Baidu): GCJ-02 with a further published rotation and offset.

The forward formulas are public; their inverses have no closed form, so
:func:`gcj02_to_wgs84` and :func:`bd09_to_gcj02` invert numerically (fixed-point
iteration to 1e-10 degrees, about 0.01 mm). Any other system is given as an EPSG code or
anything pyproj understands.
"""

from __future__ import annotations

import numpy as np
from pyproj import CRS, Transformer

from lifecircle.errors import InputError, Problem

__all__ = [
    "CHINESE_SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "parse_crs",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

CHINESE_SYSTEMS = ("wgs84", "gcj02", "bd09")
_KRASOVSKY_A = 6378245.0  # semi-major axis used by GCJ-02
_KRASOVSKY_EE = 0.00669342162296594323  # its eccentricity squared
_BD_X_PI = np.pi * 3000.0 / 180.0
_TOL_DEG = 1e-10


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The rough box inside which GCJ-02 applies its offset (it is identity outside)."""
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 shift (degrees) at a WGS84 position."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    waves = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    d_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + waves
    )
    d_lat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + waves
    d_lon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    w = 1.0 - _KRASOVSKY_EE * np.sin(rad) ** 2
    sw = np.sqrt(w)
    d_lat = d_lat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (w * sw) * pi)
    d_lon = d_lon * 180.0 / (_KRASOVSKY_A / sw * np.cos(rad) * pi)
    inside = _in_china(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 to GCJ-02 (the published forward formula).

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> round(float(lon), 8), round(float(lat), 8)
    (116.4102445, 39.91640428)
    """
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    d_lon, d_lat = _gcj_offset(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to WGS84, inverting the forward formula by fixed-point iteration."""
    glon, glat = np.asarray(lon, float), np.asarray(lat, float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(30):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.nanmax(np.abs(np.concatenate([np.ravel(elon), np.ravel(elat)]))) < _TOL_DEG:
            break
    return wlon, wlat


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to BD-09 (the published forward formula).

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> round(float(lon), 8), round(float(lat), 8)
    (116.41036949, 39.92133699)
    """
    x, y = np.asarray(lon, float), np.asarray(lat, float)
    r = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return r * np.cos(theta) + 0.0065, r * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to GCJ-02: the usual closed-form approximation, refined by iteration."""
    blon, blat = np.asarray(lon, float), np.asarray(lat, float)
    x, y = blon - 0.0065, blat - 0.006
    r = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    glon, glat = r * np.cos(theta), r * np.sin(theta)
    for _ in range(30):
        flon, flat = gcj02_to_bd09(glon, glat)
        elon, elat = flon - blon, flat - blat
        glon, glat = glon - elon, glat - elat
        if np.nanmax(np.abs(np.concatenate([np.ravel(elon), np.ravel(elat)]))) < _TOL_DEG:
            break
    return glon, glat


def wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def parse_crs(value: str | int | CRS | None, *, source: str = "input") -> str | CRS:
    """A point input's declared coordinate system: ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or a CRS.

    Accepts ``wgs84``/``gcj02``/``bd09`` in any case (and the Chinese names 高德/火星 for
    GCJ-02, 百度 for BD-09), EPSG codes (``4326``, ``"EPSG:4490"``) and any CRS pyproj knows.
    CGCS2000 (EPSG:4490) is within centimetres of WGS84 and is treated as such by pyproj.

    Examples
    --------
    >>> parse_crs("GCJ-02"), parse_crs(None), parse_crs("百度")
    ('gcj02', 'wgs84', 'bd09')
    >>> parse_crs("EPSG:32650").to_epsg()
    32650
    """
    if value is None:
        return "wgs84"
    if isinstance(value, CRS):
        return value
    text = str(value).strip()
    key = text.lower().replace("-", "").replace("_", "").replace(" ", "")
    aliases = {
        **dict.fromkeys(["wgs84", "epsg4326", "4326", "gps"], "wgs84"),
        **dict.fromkeys(["gcj02", "gcj", "amap", "gaode", "tencent", "高德", "火星"], "gcj02"),
        **dict.fromkeys(["bd09", "bd09ll", "baidu", "百度"], "bd09"),
    }
    if key in aliases:
        return aliases[key]
    try:
        return CRS.from_user_input(int(text) if text.isdigit() else text)
    except Exception:
        raise InputError(Problem.of("unknown_crs", source, crs=text)) from None


def to_wgs84(
    x: np.ndarray, y: np.ndarray, crs: str | int | CRS | None
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude in WGS84 from coordinates in ``crs`` (see :func:`parse_crs`).

    Parameters
    ----------
    x, y
        The coordinates (longitude and latitude for geographic systems).
    crs
        ``"wgs84"``, ``"gcj02"``, ``"bd09"``, an EPSG code or a CRS; ``None`` is WGS84.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Longitudes and latitudes.

    Examples
    --------
    >>> lon, lat = to_wgs84(np.array([116.41024449916938]), np.array([39.91640428150164]), "gcj02")
    >>> round(float(lon[0]), 7), round(float(lat[0]), 7)
    (116.404, 39.915)
    """
    system = parse_crs(crs)
    x, y = np.asarray(x, float), np.asarray(y, float)
    if system == "wgs84":
        return x, y
    if system == "gcj02":
        return gcj02_to_wgs84(x, y)
    if system == "bd09":
        return bd09_to_wgs84(x, y)
    assert isinstance(system, CRS)
    tf = Transformer.from_crs(system, "EPSG:4326", always_xy=True)
    lon, lat = tf.transform(x, y)
    return np.asarray(lon), np.asarray(lat)
