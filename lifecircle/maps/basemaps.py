"""Base maps: OpenStreetMap tiles, none, Chinese commercial tiles, or a user's tile URL.

Chinese commercial tiles are not drawn in WGS84: Amap (Gaode) and Tencent tiles are in
GCJ-02, so when a user picks one the overlays are shifted to GCJ-02 to match (their data
stays in WGS84 in every other output). Baidu tiles use BD-09 *and* Baidu's own tile grid,
which a standard web map cannot line up with anything: that choice is refused, with the
reason. Tianditu tiles are in CGCS2000, within centimetres of WGS84: no shift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from lifecircle.errors import InputError, Problem

__all__ = ["BASEMAPS", "BaseMap", "base_map"]


@dataclass(frozen=True)
class BaseMap:
    """A tile layer and how to draw overlays on it."""

    name: str
    url: str
    attribution: str
    subdomains: str = "abc"
    gcj02: bool = False


BASEMAPS = {
    "osm": BaseMap(
        "OpenStreetMap",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "© OpenStreetMap contributors (ODbL)",
    ),
    "amap": BaseMap(
        "Amap",
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "© 高德地图 AutoNavi",
        subdomains="1234",
        gcj02=True,
    ),
}
_GCJ_HOSTS = re.compile(r"(autonavi|amap|gaode|gtimg|qq\.com|tencent|map\.qq)", re.I)
_BD_HOSTS = re.compile(r"(baidu|bdimg|bdstatic)", re.I)


def base_map(choice: str | None) -> BaseMap | None:
    """The base map a user asked for: ``osm`` (default), ``none``, ``amap``, or a tile URL.

    Raises
    ------
    InputError
        For Baidu tiles (see the module docs) or a choice that is neither a known name nor a
        tile URL with ``{z}``, ``{x}`` and ``{y}``.

    Examples
    --------
    >>> base_map("osm").gcj02, base_map("amap").gcj02, base_map("none")
    (False, True, None)
    >>> base_map("https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&l={z}").gcj02
    False
    """
    if choice is None or str(choice).lower() in {"", "none", "off"}:
        return None
    key = str(choice).lower()
    if key in BASEMAPS:
        return BASEMAPS[key]
    host = urlparse(str(choice)).netloc
    if _BD_HOSTS.search(host):
        raise InputError(Problem.of("tiles_baidu", "tiles"))
    if not all(part in str(choice) for part in ("{z}", "{x}", "{y}")) or not host:
        raise InputError(Problem.of("tiles_unknown", "tiles", tiles=choice))
    url = str(choice)
    # 0{s} and 1{s}-style hosts number their servers; t{s} (Tianditu) counts from 0
    subdomains = "1234" if re.search(r"\d\{s\}", url) else ("01234567" if "t{s}." in url else "abc")
    return BaseMap(
        host, str(choice), host, subdomains=subdomains, gcj02=bool(_GCJ_HOSTS.search(host))
    )
