"""Make a folium page self-contained: scripts and styles inlined from installed packages.

Leaflet and Leaflet.markercluster come from the XStatic packages on PyPI
(``XStatic-Leaflet``, ``XStatic-Leaflet-MarkerCluster``); their CSS images become data URIs.
folium also links jQuery, Bootstrap, Font Awesome and Leaflet.awesome-markers by default;
lifecircle's maps use none of them (markers are circles and ``DivIcon``s), so those links
are dropped. Any other external script or stylesheet is an error: a page that would fetch
something from the internet must not be written silently.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path

__all__ = ["AssetError", "inline_assets"]

_SCRIPT = re.compile(r"<script\s+src=\"(?P<url>[^\"]+)\"\s*>\s*</script>", re.I)
_LINK = re.compile(r"<link\s+rel=\"stylesheet\"\s+href=\"(?P<url>[^\"]+)\"\s*/?>", re.I)
_UNUSED = re.compile(
    r"(jquery[^/]*\.js|bootstrap[^/]*\.(js|css)|leaflet\.awesome-markers[^/]*\.(js|css)|"
    r"fontawesome[^/]*/css/all(\.min)?\.css|font-awesome[^/]*\.css|bootstrap-glyphicons\.css|"
    r"leaflet\.awesome\.rotate[^/]*\.css)$",
    re.I,
)


class AssetError(RuntimeError):
    """The page needs a script or stylesheet that no installed package ships."""


@cache
def _packages() -> dict[str, Path]:
    import xstatic.pkg.leaflet as leaflet
    import xstatic.pkg.leaflet_markercluster as cluster

    lf = Path(leaflet.BASE_DIR)
    mc = Path(cluster.BASE_DIR)
    return {
        "leaflet.js": lf / "leaflet.js",
        "leaflet.css": lf / "leaflet.css",
        "leaflet.markercluster.js": mc / "leaflet.markercluster.js",
        "markercluster.css": mc / "MarkerCluster.css",
        "markercluster.default.css": mc / "MarkerCluster.Default.css",
    }


def _local(url: str) -> Path | None:
    name = url.rsplit("/", 1)[-1].split("?")[0].lower()
    return _packages().get(name)


def _css_with_images(path: Path) -> str:
    css = path.read_text(encoding="utf-8")

    def repl(match: re.Match[str]) -> str:
        target = match.group(1).strip("'\"")
        if target.startswith("data:"):
            return match.group(0)
        image = (path.parent / target).resolve()
        if not image.is_file():
            return match.group(0)
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\(([^)]+)\)", repl, css)


def inline_assets(html: str) -> str:
    """Inline every script and stylesheet of a rendered folium page.

    Raises
    ------
    AssetError
        When the page links an external script or stylesheet that no installed package
        ships and that lifecircle's maps do not know to be unused.
    """

    def script(match: re.Match[str]) -> str:
        url = match.group("url")
        local = _local(url)
        if local is not None:
            code = local.read_text(encoding="utf-8").replace("</script", "<\\/script")
            return f"<script>/* {local.name} (inlined) */\n{code}\n</script>"
        if _UNUSED.search(url.split("?")[0]):
            return ""
        raise AssetError(f"the map links {url}, which no installed package provides")

    def link(match: re.Match[str]) -> str:
        url = match.group("url")
        local = _local(url)
        if local is not None:
            return f"<style>/* {local.name} (inlined) */\n{_css_with_images(local)}\n</style>"
        if _UNUSED.search(url.split("?")[0]):
            return ""
        raise AssetError(f"the map links {url}, which no installed package provides")

    html = _SCRIPT.sub(script, html)
    return _LINK.sub(link, html)
